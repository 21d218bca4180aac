"""A small OpenAI-compatible HTTP server for the tests: real HTTP on 127.0.0.1, in a thread.

    with FakeOpenAI() as server:          # or the session fixture `fake_openai`
        settings = make_settings(url, embedding_provider="openai",
                                 embedding_base_url=server.base_url,
                                 embedding_api_key=FAKE_API_KEY)
        with server.fault("429"): ...     # every answer is a 429 inside the block

Routes live in `ROUTES` ("METHOD /path" -> handler); add more there. Each handler gets
the server and the JSON body and returns (status, body); a `Stream` body is sent as it is
produced (chunked), pausing where it says, and notices when the client hangs up
(`client_left` is set), as a provider does.

`/v1/embeddings` is deterministic: every word (lowercase letters and digits, minus a few
stop words) adds 1 to one of 384 slots picked by a hash of the word, and the sum is
scaled to length 1, so texts that share words are close and texts that share none are
orthogonal. A wrong or missing API key is a 401, as with the real thing.
`/v1/chat/completions` answers `chat_tokens` (joined, or one SSE chunk each with
`stream: true`, `token_delay` seconds apart, then `data: [DONE]`).
Faults: "slow" (answers after `slow_seconds`), "401", "429", "500", "garbage" (not JSON);
for a streamed chat answer also "stall" (silent after `stall_after` tokens until the client
leaves or `slow_seconds` pass), "bad_chunk" (a data line that is not JSON), "cut" (ends
without finishing) and "drop" (the connection breaks mid-answer).
With `api_key=None` no key is needed (a local server such as Ollama).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import re
import select
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FAKE_API_KEY = "fake-openai-key-for-tests"
DIMENSIONS = 384
STOP_WORDS = frozenset(
    ["a", "an", "and", "the", "of", "for", "with", "in", "on", "to", "by", "is", "it", "this"]
)

Body = dict[str, Any]


@dataclass
class Stream:
    """A streamed answer: bytes are sent as they come, a float pauses that many seconds,
    DROP breaks the connection."""

    parts: Iterator[bytes | float | object]
    content_type: str = "text/event-stream"


DROP = object()
Handler = Callable[["FakeOpenAI", Body], tuple[int, "Body | Stream"]]


def bag_of_words(text: str, dimensions: int = DIMENSIONS) -> list[float]:
    """The fake model: a unit vector of hashed word counts (all zeros without words)."""
    vector = [0.0] * dimensions
    for word in re.findall(r"[a-z0-9]+", text.lower()):
        if word not in STOP_WORDS:
            digest = hashlib.blake2b(word.encode(), digest_size=4).digest()
            vector[int.from_bytes(digest, "little") % dimensions] += 1.0
    norm = math.sqrt(sum(x * x for x in vector)) or 1.0
    return [x / norm for x in vector]


def embeddings(server: FakeOpenAI, body: Body) -> tuple[int, Body]:
    texts = body.get("input")
    if isinstance(texts, str):
        texts = [texts]
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        return 400, {"error": {"message": "input must be a string or a list of strings"}}
    dimensions = int(body.get("dimensions") or DIMENSIONS)
    data = [
        {"object": "embedding", "index": i, "embedding": bag_of_words(t, dimensions)}
        for i, t in enumerate(texts)
    ]
    usage = {"prompt_tokens": sum(len(t.split()) for t in texts)}
    return 200, {"object": "list", "data": data, "model": body.get("model"), "usage": usage}


def chat_completions(server: FakeOpenAI, body: Body) -> tuple[int, Body | Stream]:
    if not isinstance(body.get("messages"), list) or not body["messages"]:
        return 400, {"error": {"message": "messages must be a non-empty list"}}
    model, tokens = body.get("model"), list(server.chat_tokens)
    if not body.get("stream"):
        message = {"role": "assistant", "content": "".join(tokens)}
        choice = {"index": 0, "message": message, "finish_reason": "stop"}
        return 200, {"id": "chatcmpl-fake", "object": "chat.completion", "model": model,
                     "choices": [choice]}  # fmt: skip
    return 200, Stream(_chat_chunks(server, tokens, model, server._fault))


def _chat_chunks(
    server: FakeOpenAI, tokens: list[str], model: Any, fault: str | None
) -> Iterator[bytes | float | object]:
    def chunk(delta: Body, finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        data = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "model": model,
                "choices": [choice]}  # fmt: skip
        return b"data: " + json.dumps(data).encode() + b"\n\n"

    yield b": keep-alive comment, as OpenRouter sends\n\n"
    yield chunk({"role": "assistant", "content": ""})
    for i, token in enumerate(tokens):
        if i == server.stall_after and fault in {"stall", "bad_chunk", "drop"}:
            if fault == "stall":
                yield server.slow_seconds
            yield b"data: {not json\n\n" if fault == "bad_chunk" else DROP
            return
        yield chunk({"content": token})
        if server.token_delay:
            yield server.token_delay
    if fault == "cut":
        return
    yield chunk({}, "stop")
    yield b"data: [DONE]\n\n"


ROUTES: dict[str, Handler] = {
    "POST /v1/embeddings": embeddings,
    "POST /v1/chat/completions": chat_completions,
}


@dataclass
class Seen:
    """One request the server received (for assertions)."""

    path: str
    body: Body
    authorization: str | None


@dataclass
class FakeOpenAI:
    api_key: str | None = FAKE_API_KEY
    slow_seconds: float = 3.0
    requests: list[Seen] = field(default_factory=list)
    # The chat answer, token by token; streamed `token_delay` seconds apart.
    chat_tokens: list[str] = field(default_factory=lambda: ["Hello", ", ", "world", "!"])
    token_delay: float = 0.0
    stall_after: int = 2
    # Set when a client hung up before a streamed answer was complete.
    client_left: threading.Event = field(default_factory=threading.Event)
    _fault: str | None = None
    _httpd: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None
    _wake: threading.Event = field(default_factory=threading.Event)

    @property
    def base_url(self) -> str:
        """What EMBEDDING_BASE_URL / LLM_BASE_URL take: `http://127.0.0.1:PORT/v1`."""
        assert self._httpd is not None, "start the server first"
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def __enter__(self) -> FakeOpenAI:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._wake.set()  # slow answers stop waiting
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    @contextmanager
    def fault(self, kind: str) -> Iterator[None]:
        """Every request inside the block fails the `kind` way (see the module doc)."""
        self._fault = kind
        self._wake.clear()
        try:
            yield
        finally:
            self._fault = None
            self._wake.set()

    def answer(
        self, method: str, path: str, body: Body, authorization: str | None
    ) -> tuple[int, Any]:
        self.requests.append(Seen(path, body, authorization))
        fault = self._fault
        if fault == "slow":
            self._wake.wait(self.slow_seconds)
        elif fault in {"401", "429", "500"}:
            return int(fault), {"error": {"message": f"fault {fault}", "code": fault}}
        elif fault == "garbage":
            return 200, "<html>not json</html>"
        if self.api_key is not None and authorization != f"Bearer {self.api_key}":
            return 401, {"error": {"message": "Incorrect API key provided", "code": "401"}}
        handler = ROUTES.get(f"{method} {path}")
        if handler is None:
            return 404, {"error": {"message": f"no route {method} {path}"}}
        return handler(self, body)


def _handler_for(server: FakeOpenAI) -> type[BaseHTTPRequestHandler]:
    class RequestHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
            except ValueError:
                body = {}
            status, answer = server.answer(
                "POST", self.path, body, self.headers.get("Authorization")
            )
            if isinstance(answer, Stream):
                self._stream(status, answer)
                return
            raw = answer.encode() if isinstance(answer, str) else json.dumps(answer).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test): nothing to answer

        def handle(self) -> None:
            # A client may hang up between two requests (after a refusal, say): not an error.
            with contextlib.suppress(ConnectionError):
                super().handle()

        def _stream(self, status: int, stream: Stream) -> None:
            self.send_response(status)
            self.send_header("Content-Type", stream.content_type)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            try:
                for part in stream.parts:
                    if isinstance(part, float | int):
                        if not self._pause(part):
                            server.client_left.set()
                            return
                    elif part is DROP:
                        self.close_connection = True
                        self.connection.shutdown(socket.SHUT_RDWR)
                        return
                    elif isinstance(part, bytes):
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                        self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                server.client_left.set()
                self.close_connection = True

        def _pause(self, seconds: float) -> bool:
            """Wait `seconds`; False as soon as the client hangs up (its socket reads EOF)."""
            deadline = time.monotonic() + seconds
            while (left := deadline - time.monotonic()) > 0:
                readable, _, _ = select.select([self.connection], [], [], min(left, 0.02))
                if readable and not self.connection.recv(1, socket.MSG_PEEK):
                    self.close_connection = True
                    return False
            return True

        def log_message(self, format: str, *args: Any) -> None:
            return

    return RequestHandler
