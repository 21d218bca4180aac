"""Chat: streamed answers from a real OpenAI-compatible server (tests/fake_openai.py), the page
and the API, history trimming, every provider fault, cancellation, sanitising, ownership,
rate limits (memory and Redis) and answers that cite products found by semantic search."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import jsonschema_rs
import pytest
import uvicorn
from fastapi import FastAPI
from markupsafe import escape

from fastmango.accounts.models import User
from fastmango.db import Database
from main import create_app
from markdown_html import render_markdown
from models import Conversation, Message, MessageRole
from services.chat_service import NOT_CONFIGURED, STOPPED
from services.embedding_service import EmbeddingService
from settings import Settings
from tests.fake_openai import FAKE_API_KEY, FakeOpenAI
from tests.utils import bearer, csrf_token, login, make_product, make_user, serve

SSE = {"Accept": "text/event-stream, application/json"}
LLM_TIMEOUT = 1.5  # seconds: small, so faults end fast, yet roomy on a busy machine
CEILING = 60.0  # seconds before a hung test fails; no answer is expected to take that long
Event = tuple[str, dict[str, Any]]


@pytest.fixture
def llm_server() -> Iterator[FakeOpenAI]:
    """A fake provider of our own per test: its answer, delays and faults are ours to set."""
    # Slow and stalled answers stay silent until the test ends (or the app hangs up): only
    # the app's own LLM_TIMEOUT can end them, whatever the machine's speed.
    with FakeOpenAI(slow_seconds=CEILING) as server:
        yield server


@pytest.fixture
async def settings(settings: Settings, llm_server: FakeOpenAI) -> Settings:
    """The database settings of conftest, with chat pointed at the fake provider."""
    return changed(
        settings,
        llm_base_url=llm_server.base_url,
        llm_api_key=FAKE_API_KEY,
        llm_model="fake/model",
        llm_timeout=LLM_TIMEOUT,
        chat_rate_limit=100,
    )


def changed(settings: Settings, **overrides: Any) -> Settings:
    """`settings` with some values changed, validated again."""
    return Settings(_env_file=None, **(settings.model_dump() | overrides))


@asynccontextmanager
async def app_client(settings: Settings, **overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
    """Another app on the same database with some settings changed, and its client."""
    async with serve(create_app(changed(settings, **overrides))) as client:
        yield client


def parse_events(text: str) -> list[Event]:
    events: list[Event] = []
    for block in text.replace("\r\n", "\n").strip().split("\n\n"):
        lines = [line for line in block.splitlines() if not line.startswith(":")]
        name = next((line[6:].strip() for line in lines if line.startswith("event:")), "message")
        data = "\n".join(line[5:].strip() for line in lines if line.startswith("data:"))
        if data:
            events.append((name, json.loads(data)))
    return events


async def signed_in(client: httpx.AsyncClient) -> tuple[User, str]:
    """A user logged in on `client`, and the CSRF token of its session."""
    user = await make_user()
    await login(client, user.email)
    return user, await csrf_token(client, "/account")


async def ask_page(
    client: httpx.AsyncClient, conversation_id: int, token: str, content: str
) -> httpx.Response:
    return await client.post(
        f"/chat/{conversation_id}/messages",
        data={"content": content},
        headers=SSE | {"X-CSRF-Token": token},
    )


async def ask_api(
    client: httpx.AsyncClient, conversation_id: int, auth: dict[str, str], content: str
) -> httpx.Response:
    return await client.post(
        f"/api/v1/chat/conversations/{conversation_id}/messages",
        json={"content": content},
        headers=auth,
    )


async def new_conversation(user: User) -> int:
    conversation = await Conversation.objects.create(user_id=user.id, title="New conversation")
    assert conversation.id is not None
    return conversation.id


async def saved_messages(database: Database, conversation_id: int) -> list[Message]:
    """Read with a fresh session: the app saved them on its own engine."""
    async with database.session():
        return await Message.objects.filter(conversation_id=conversation_id).order_by("id")


# -- streaming end to end ----------------------------------------------------------------------


async def test_page_streams_an_answer_token_by_token(
    client: httpx.AsyncClient, database: Database, session: Any, llm_server: FakeOpenAI
) -> None:
    _user, token = await signed_in(client)
    created = await client.post("/chat/new", data={"csrf_token": token})
    assert created.status_code == 303
    conversation_id = int(created.headers["location"].rstrip("/").rsplit("/", 1)[1])
    # "New conversation" again while this one is still empty: the same one, not a pile.
    again = await client.post("/chat/new", data={"csrf_token": token})
    assert again.headers["location"] == created.headers["location"]
    page = await client.get(f"/chat/{conversation_id}")
    assert page.status_code == 200
    assert 'x-data="chat"' in page.text
    assert 'data-testid="chat-not-configured"' not in page.text

    response = await ask_page(client, conversation_id, token, "Do you sell   lamps?")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = parse_events(response.text)
    names = [name for name, _ in events]
    assert names == ["start", "token", "token", "token", "token", "done"]
    assert [data["text"] for name, data in events if name == "token"] == llm_server.chat_tokens
    start, done = events[0][1], events[-1][1]
    assert start["conversation_id"] == conversation_id
    assert start["title"] == "Do you sell lamps?"  # the page renames the conversation
    assert done["message_id"] == start["message_id"]
    assert done["complete"] is True
    assert done["content"] == "Hello, world!"
    assert done["html"] == "<p>Hello, world!</p>\n"
    assert f'id="message-{done["message_id"]}"' in done["fragment"]
    assert "<p>Hello, world!</p>" in done["fragment"]

    question, answer = await saved_messages(database, conversation_id)
    assert (question.role, question.content) == (MessageRole.USER, "Do you sell   lamps?")
    assert (answer.role, answer.content, answer.complete) == (
        MessageRole.ASSISTANT,
        "Hello, world!",
        True,
    )
    # The provider got the model, the stream flag, our key, and the question last.
    sent = llm_server.requests[-1]
    assert sent.authorization == f"Bearer {FAKE_API_KEY}"
    assert sent.body["model"] == "fake/model"
    assert sent.body["stream"] is True
    assert sent.body["messages"][0]["role"] == "system"
    assert sent.body["messages"][-1] == {"role": "user", "content": "Do you sell   lamps?"}

    # The page fetches a stopped answer's saved version this way.
    saved = await client.get(f"/chat/{conversation_id}/messages/{done['message_id']}")
    assert saved.status_code == 200
    assert 'data-pending="false"' in saved.text
    assert "<p>Hello, world!</p>" in saved.text

    page = await client.get(f"/chat/{conversation_id}")
    assert "Do you sell lamps?" in page.text  # the title, from the first question
    assert "<p>Hello, world!</p>" in page.text
    assert 'data-testid="nav-chat"' in page.text
    # The /chat entry point opens the latest conversation.
    latest = await client.get("/chat")
    assert latest.status_code == 303
    assert latest.headers["location"].endswith(f"/chat/{conversation_id}")


async def test_api_conversations_and_streamed_messages(
    client: httpx.AsyncClient, session: Any, llm_server: FakeOpenAI
) -> None:
    user = await make_user()
    auth = await bearer(client, user.email)
    created = await client.post("/api/v1/chat/conversations", json={}, headers=auth)
    assert created.status_code == 201, created.text
    conversation = created.json()
    assert conversation["title"] == "New conversation"
    titled = await client.post("/api/v1/chat/conversations", json={"title": "Lamps"}, headers=auth)
    assert titled.json()["title"] == "Lamps"

    response = await ask_api(client, conversation["id"], auth, "Hello?")
    assert response.status_code == 200
    events = parse_events(response.text)
    assert [name for name, _ in events] == ["start", "token", "token", "token", "token", "done"]
    done = events[-1][1]
    assert "fragment" not in done  # the page's HTML is for the page only
    assert done["content"] == "Hello, world!"

    listed = await client.get("/api/v1/chat/conversations?per_page=1", headers=auth)
    assert listed.status_code == 200
    body = listed.json()
    assert (body["total"], body["pages"], body["per_page"]) == (2, 2, 1)
    # The conversation just asked in is the most recently active.
    assert body["items"][0]["id"] == conversation["id"]
    assert body["items"][0]["title"] == "Hello?"
    again = await client.get(
        "/api/v1/chat/conversations?per_page=1",
        headers=auth | {"If-None-Match": listed.headers["etag"]},
    )
    assert again.status_code == 304

    detail = await client.get(f"/api/v1/chat/conversations/{conversation['id']}", headers=auth)
    assert detail.status_code == 200
    messages = detail.json()["messages"]
    assert [(m["role"], m["content"], m["complete"]) for m in messages] == [
        ("user", "Hello?", True),
        ("assistant", "Hello, world!", True),
    ]
    assert messages[1]["html"] == "<p>Hello, world!</p>\n"

    bad_query = await client.get("/api/v1/chat/conversations?sort=x", headers=auth)
    assert bad_query.status_code == 400
    assert bad_query.json()["code"] == "invalid_field"
    assert "sort" in bad_query.json()["detail"]
    for bad in ({"content": ""}, {"content": "   "}, {"content": "x", "extra": 1}, {}):
        refused = await client.post(
            f"/api/v1/chat/conversations/{conversation['id']}/messages", json=bad, headers=auth
        )
        assert refused.status_code == 422, bad
        assert refused.json()["code"] == "invalid"
    too_long = await ask_api(client, conversation["id"], auth, "x" * 8001)
    assert too_long.status_code == 422


def assert_documented(events: list[Event], schema: dict[str, Any]) -> None:
    """Each event matches its branch of the documented event schema (data included)."""
    branches = {b["properties"]["event"]["const"]: b for b in schema["oneOf"]}
    for name, data in events:
        branch = branches[name]
        jsonschema_rs.validate(branch, {"event": name, "data": json.dumps(data)})
        jsonschema_rs.validate(branch["properties"]["data"]["contentSchema"], data)


async def test_openapi_documents_the_chat_api_and_its_events(
    client: httpx.AsyncClient, session: Any, llm_server: FakeOpenAI
) -> None:
    schema = (await client.get("/openapi.json")).json()
    paths = schema["paths"]
    stream = paths["/api/v1/chat/conversations/{conversation_id}/messages"]["post"]
    assert {"401", "404", "422", "429"} <= set(stream["responses"])
    assert {"get", "post"} <= set(paths["/api/v1/chat/conversations"])
    assert "get" in paths["/api/v1/chat/conversations/{conversation_id}"]
    event_schema = stream["responses"]["200"]["content"]["text/event-stream"]["schema"]

    user = await make_user()
    auth = await bearer(client, user.email)
    conversation_id = await new_conversation(user)
    answered = parse_events((await ask_api(client, conversation_id, auth, "Hi")).text)
    with llm_server.fault("stall"):
        failed = parse_events((await ask_api(client, conversation_id, auth, "Hi")).text)
    assert [answered[-1][0], failed[-1][0]] == ["done", "error"]
    assert_documented(answered + failed, event_schema)


async def test_without_javascript_the_form_posts_and_the_page_shows_the_answer(
    client: httpx.AsyncClient, database: Database, session: Any
) -> None:
    user, token = await signed_in(client)
    conversation_id = await new_conversation(user)
    response = await client.post(
        f"/chat/{conversation_id}/messages", data={"content": "Hi", "csrf_token": token}
    )
    assert response.status_code == 303
    page = await client.get(response.headers["location"])
    assert "<p>Hello, world!</p>" in page.text
    assert [m.complete for m in await saved_messages(database, conversation_id)] == [True, True]


# -- history ----------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_history_is_sent_and_trimmed_to_the_budget(
    settings: Settings, session: Any, llm_server: FakeOpenAI
) -> None:
    llm_server.chat_tokens = ["Answer ", "number."]  # 14 characters
    async with app_client(settings, chat_history_budget=100) as client:
        user = await make_user()
        auth = await bearer(client, user.email)
        conversation_id = await new_conversation(user)
        questions = [f"Question {n}: " + "x" * 20 for n in range(1, 5)]  # 33 characters each
        for question in questions:
            events = parse_events((await ask_api(client, conversation_id, auth, question)).text)
            assert events[-1][0] == "done"

    first, second, last = (r.body["messages"] for r in (llm_server.requests[i] for i in (0, 1, -1)))
    assert [m["role"] for m in first] == ["system", "user"]
    assert [m["content"] for m in second[1:]] == [questions[0], "Answer number.", questions[1]]
    # The last turn: the question (32 characters) and, newest first, what fits in 100 with it:
    # 14 + 32 + 14 = 92; the question before (32 more) does not, so it and all older drop.
    assert last[0]["role"] == "system"
    history = last[1:]
    assert [m["content"] for m in history] == [
        "Answer number.",
        questions[2],
        "Answer number.",
        questions[3],
    ]
    assert [m["role"] for m in history] == ["assistant", "user", "assistant", "user"]
    assert sum(len(m["content"]) for m in history) <= 100


# -- provider faults ---------------------------------------------------------------------------

FAULTS = [
    # fault, the code of the error event, what was saved of the answer
    ("slow", "provider_timeout", ""),
    ("stall", "provider_timeout", "Hello, "),
    ("401", "provider_auth", ""),
    ("429", "provider_busy", ""),
    ("500", "provider_error", ""),
    ("garbage", "provider_broken", ""),
    ("bad_chunk", "provider_malformed", "Hello, "),
    ("cut", "provider_broken", "Hello, world!"),
    ("drop", "provider_broken", "Hello, "),
]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize(("fault", "code", "partial"), FAULTS)
async def test_provider_faults_end_the_stream_with_a_clear_error(
    client: httpx.AsyncClient,
    database: Database,
    session: Any,
    llm_server: FakeOpenAI,
    caplog: pytest.LogCaptureFixture,
    fault: str,
    code: str,
    partial: str,
) -> None:
    user, token = await signed_in(client)
    conversation_id = await new_conversation(user)
    # The timeout bounds every fault (a slow or stalled provider is cut): no hang, no 500.
    # CEILING only stops a hung test; how long the cut takes is not assumed.
    with llm_server.fault(fault):
        async with asyncio.timeout(CEILING):
            response = await ask_page(client, conversation_id, token, "Anything?")
    assert response.status_code == 200
    name, error = parse_events(response.text)[-1]
    assert name == "error"
    assert error["code"] == code
    assert error["detail"].startswith("The AI provider")
    assert error["complete"] is False
    assert error["content"] == partial
    assert str(escape(error["detail"])) in error["fragment"]  # shown under the answer
    _question, answer = await saved_messages(database, conversation_id)
    assert (answer.content, answer.complete, answer.error) == (partial, False, error["detail"])
    # Logged for the operator, never with the key.
    assert any(r.name == "fastmango.llm" for r in caplog.records)
    assert FAKE_API_KEY not in caplog.text


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_an_unreachable_provider_is_a_clear_error(
    settings: Settings, session: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with FakeOpenAI() as gone:
        closed_url = gone.base_url  # nothing listens there any more
    async with app_client(settings, llm_base_url=closed_url) as client:
        user = await make_user()
        auth = await bearer(client, user.email)
        response = await ask_api(client, await new_conversation(user), auth, "Hello?")
    name, error = parse_events(response.text)[-1]
    assert (name, error["code"]) == ("error", "provider_unreachable")
    assert error["detail"] == "The AI provider cannot be reached."
    assert FAKE_API_KEY not in caplog.text


# -- cancellation ----------------------------------------------------------------------------


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[str]:
    """The app behind a real uvicorn on 127.0.0.1 (disconnects are real TCP closes)."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="off", log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 (uvicorn offers no event to wait on)
        await asyncio.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def test_a_client_that_leaves_cancels_the_provider_and_keeps_the_partial_answer(
    app: FastAPI, database: Database, session: Any, llm_server: FakeOpenAI
) -> None:
    # A minute of answer (a token every 0.1 s, never a silence the LLM timeout would cut):
    # the client leaves after three tokens, long before the end, however busy the machine.
    llm_server.chat_tokens = [f"word{n} " for n in range(600)]
    llm_server.token_delay = 0.1
    user = await make_user()
    conversation_id = await new_conversation(user)
    async with serving(app) as url, httpx.AsyncClient(base_url=url) as client:
        auth = await bearer(client, user.email)
        received: list[str] = []
        async with client.stream(
            "POST",
            f"/api/v1/chat/conversations/{conversation_id}/messages",
            json={"content": "Tell me a long story"},
            headers=auth,
        ) as response:
            async for line in response.aiter_lines():
                if line.startswith("data:") and '"text"' in line:
                    received.append(json.loads(line[5:])["text"])
                    if len(received) == 3:
                        break  # the stop button: the connection closes here

        # The server noticed, closed its request to the provider and saved what it had.
        assert await asyncio.to_thread(llm_server.client_left.wait, CEILING)
        async with asyncio.timeout(CEILING):  # the answer is saved as the stream ends
            while True:
                answer = (await saved_messages(database, conversation_id))[-1]
                if answer.error:
                    break
                await asyncio.sleep(0.05)
    assert answer.error == STOPPED
    assert answer.complete is False
    assert answer.content.startswith("".join(received))
    assert len(answer.content) < len("".join(llm_server.chat_tokens))


# -- sanitising ------------------------------------------------------------------------------

HOSTILE = [
    "<script>alert(1)</script>",
    "[click](javascript:alert(1))",
    '<img src=x onerror="alert(1)">',
    '<a href="https://evil.example" onclick="steal()">raw html</a>',
    "[data](data:text/html;base64,PHNjcmlwdD4=)",
    "![pixel](https://tracker.example/p.gif)",
    "[ok](https://example.com/a) and [product](/products/7) and [mail](mailto:a@example.com)",
]


def assert_harmless(html: str) -> None:
    """Only allowed tags, no event handler attributes, links to safe places only."""
    for tag in re.findall(r"<[a-zA-Z][^>]*>", html):
        name = re.match(r"<([a-zA-Z0-9]+)", tag)
        assert name
        assert name.group(1).lower() not in {"script", "img", "iframe", "style", "object"}, tag
        assert not re.search(r"\son\w+\s*=", tag), tag
        assert "style=" not in tag, tag
    for href in re.findall(r'<a [^>]*href="([^"]*)"', html):
        assert href.startswith(("https://", "http://", "/", "mailto:")), href
        assert not href.startswith("//"), href


def test_markdown_is_rendered_and_sanitised() -> None:
    html = str(render_markdown("\n\n".join(HOSTILE) + "\n\n**bold** `code`\n\n- one\n- two"))
    assert_harmless(html)
    assert 'href="javascript' not in html
    assert 'href="data:' not in html
    assert "&lt;script&gt;" in html  # raw HTML is shown as text
    assert '<a href="https://example.com/a" rel="noopener nofollow">ok</a>' in html
    assert '<a href="/products/7" rel="noopener nofollow">product</a>' in html
    assert '<a href="mailto:a@example.com" rel="noopener nofollow">mail</a>' in html
    assert "<strong>bold</strong> <code>code</code>" in html
    assert "<ul>\n<li>one</li>" in html
    for href in re.findall(r'href="([^"]*)"', html):
        assert href.startswith(("https://", "/products/", "mailto:"))


async def test_hostile_answers_are_sanitised_in_the_stream_and_the_page(
    client: httpx.AsyncClient, session: Any, llm_server: FakeOpenAI
) -> None:
    llm_server.chat_tokens = [part + "\n\n" for part in HOSTILE]
    user, token = await signed_in(client)
    conversation_id = await new_conversation(user)
    done = parse_events((await ask_page(client, conversation_id, token, "Hi")).text)[-1][1]
    page = await client.get(f"/chat/{conversation_id}")
    thread = page.text.split('data-testid="chat-thread"', 1)[1]
    for html in (done["html"], done["fragment"], thread.split("</main>")[0]):
        assert_harmless(html)
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # shown as text


# -- who may see what -------------------------------------------------------------------------


async def test_other_users_conversations_are_not_found(
    client: httpx.AsyncClient, session: Any
) -> None:
    owner = await make_user()
    theirs = await new_conversation(owner)
    message = await Message.objects.create(
        conversation_id=theirs, role=MessageRole.USER, content="secret"
    )
    _me, token = await signed_in(client)
    assert (await client.get(f"/chat/{theirs}")).status_code == 404
    assert (await ask_page(client, theirs, token, "Hi")).status_code == 404
    assert (await client.get(f"/chat/{theirs}/messages/{message.id}")).status_code == 404
    assert "secret" not in (await client.get("/chat")).text

    other = httpx.AsyncClient(transport=client._transport, base_url="http://testserver")
    async with other:
        me = await make_user()
        auth = await bearer(other, me.email)
        detail = await other.get(f"/api/v1/chat/conversations/{theirs}", headers=auth)
        assert detail.status_code == 404
        assert detail.json()["code"] == "not_found"
        assert (await ask_api(other, theirs, auth, "Hi")).status_code == 404
        listed = await other.get("/api/v1/chat/conversations", headers=auth)
        assert listed.json()["total"] == 0
    assert await Message.objects.filter(conversation_id=theirs).count() == 1


async def test_anonymous_visitors_are_sent_to_log_in(client: httpx.AsyncClient) -> None:
    page = await client.get("/chat")
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=%2Fchat"
    assert 'data-testid="nav-chat"' not in (await client.get("/")).text
    for method, path in (
        ("GET", "/api/v1/chat/conversations"),
        ("POST", "/api/v1/chat/conversations"),
        ("POST", "/api/v1/chat/conversations/1/messages"),
    ):
        response = await client.request(method, path, json={"content": "Hi"})
        assert response.status_code == 401, path
        assert response.json()["code"] == "not_authenticated"


# -- rate limits -------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_messages_are_rate_limited_per_user(
    settings: Settings, database: Database, session: Any
) -> None:
    async with app_client(settings, chat_rate_limit=2) as client:
        user, token = await signed_in(client)
        conversation_id = await new_conversation(user)
        for _ in range(2):
            assert (await ask_page(client, conversation_id, token, "Hi")).status_code == 200
        refused = await ask_page(client, conversation_id, token, "Hi")
        assert refused.status_code == 429
        assert refused.json()["code"] == "throttled"
        assert refused.json()["detail"].startswith("You are sending messages too fast.")
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        # Someone else still may.
        client.cookies.clear()
        other = await make_user()
        auth = await bearer(client, other.email)
        assert (await ask_api(client, await new_conversation(other), auth, "Hi")).is_success
    # The refused question was not saved.
    assert len(await saved_messages(database, conversation_id)) == 4


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_the_rate_limit_is_shared_through_redis(
    settings: Settings, session: Any, redis_url: str
) -> None:
    user = await make_user()
    conversation_id = await new_conversation(user)
    async with (
        app_client(settings, chat_rate_limit=2, redis_url=redis_url) as first,
        app_client(settings, chat_rate_limit=2, redis_url=redis_url) as second,
    ):
        auth = await bearer(first, user.email)
        assert (await ask_api(first, conversation_id, auth, "one")).status_code == 200
        assert (await ask_api(second, conversation_id, auth, "two")).status_code == 200
        refused = await ask_api(first, conversation_id, auth, "three")
        assert refused.status_code == 429
        assert refused.json()["code"] == "throttled"
        assert "retry-after" in refused.headers


# -- configuration --------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_without_a_key_the_page_says_how_to_set_one(
    settings: Settings, database: Database, session: Any
) -> None:
    remote = {"llm_base_url": "https://openrouter.ai/api/v1", "llm_api_key": None}
    async with app_client(settings, **remote) as client:
        user, _token = await signed_in(client)
        conversation_id = await new_conversation(user)
        page = await client.get(f"/chat/{conversation_id}")
        assert 'data-testid="chat-not-configured"' in page.text
        assert "LLM_API_KEY" in page.text
        assert re.search(r'<textarea[^>]*data-testid="chat-input"[^>]*disabled', page.text, re.S)
        client.cookies.clear()  # an API client: a bearer token, no session
        auth = await bearer(client, user.email)
        events = parse_events((await ask_api(client, conversation_id, auth, "Hi")).text)
    assert events == [
        (
            "error",
            {
                "code": "not_configured",
                "detail": NOT_CONFIGURED,
                "message_id": None,
                "complete": False,
                "content": "",
                "html": "",
            },
        )
    ]
    assert await saved_messages(database, conversation_id) == []


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_a_local_server_needs_no_key(
    settings: Settings, session: Any, llm_server: FakeOpenAI
) -> None:
    llm_server.api_key = None
    async with app_client(settings, llm_api_key=None) as client:
        user = await make_user()
        auth = await bearer(client, user.email)
        response = await ask_api(client, await new_conversation(user), auth, "Hi")
    assert parse_events(response.text)[-1][0] == "done"
    assert llm_server.requests[-1].authorization is None


def test_chat_is_configured_with_a_key_or_a_local_server() -> None:
    def configured(**values: Any) -> bool:
        return Settings(_env_file=None, **values).llm_configured

    assert not configured()
    assert not configured(llm_api_key="")
    assert configured(llm_api_key="sk-or-1")
    assert configured(llm_base_url="http://127.0.0.1:11434/v1")
    assert configured(llm_base_url="http://localhost:8080/v1")
    assert not configured(llm_base_url="http://10.0.0.5:11434/v1")
    assert not configured(llm_base_url="")


async def test_the_provider_client_lives_with_the_app(settings: Settings) -> None:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        assert application.state.llm._client is not None
    assert application.state.llm._client is None


# -- retrieval-augmented answers --------------------------------------------------------------


async def test_answers_cite_products_found_by_semantic_search(
    settings: Settings, session: Any, llm_server: FakeOpenAI
) -> None:
    search = {
        "embedding_provider": "openai",
        "embedding_base_url": llm_server.base_url,
        "embedding_api_key": FAKE_API_KEY,
    }
    lamp = await make_product(name="Brass desk lamp", description="A warm reading lamp")
    hose = await make_product(name="Garden hose", description="Twenty metres of green hose")
    await make_product(name="Oak desk", description="A solid desk for the study")
    llm_server.chat_tokens = ["Try our ", f"[Brass desk lamp](/products/{lamp.id})", "."]
    async with app_client(settings, **search) as client:
        transport = client._transport
        assert isinstance(transport, httpx.ASGITransport)
        embedder = transport.app.state.embeddings.embedder  # type: ignore[attr-defined]
        await EmbeddingService(embedder).embed_products([lamp, hose])
        user, token = await signed_in(client)
        conversation_id = await new_conversation(user)
        response = await ask_page(client, conversation_id, token, "Which desk lamp is good?")
        page = await client.get(f"/chat/{conversation_id}")

    events = parse_events(response.text)
    start, done = events[0][1], events[-1][1]
    assert start["sources"][0]["id"] == lamp.id
    # The products went to the model in the system prompt, as links to cite.
    system = llm_server.requests[-1].body["messages"][0]
    assert system["role"] == "system"
    assert f"[Brass desk lamp](/products/{lamp.id})" in system["content"]
    assert done["sources"][0] == {
        "id": lamp.id,
        "name": "Brass desk lamp",
        "url": f"/products/{lamp.id}",
        "cited": True,
    }
    assert (
        f'<a href="/products/{lamp.id}" rel="noopener nofollow">Brass desk lamp</a>'
        in (done["html"])
    )
    for html in (done["fragment"], page.text):
        sources = html.split('data-testid="chat-sources"', 1)[1]
        assert "Products mentioned" in sources
        assert f'href="/products/{lamp.id}"' in sources
        assert f'href="/products/{hose.id}"' not in sources  # retrieved, not cited


async def test_answers_come_without_products_when_search_fails(
    settings: Settings, session: Any, llm_server: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    with FakeOpenAI() as embeddings_down:
        search = {
            "embedding_provider": "openai",
            "embedding_base_url": embeddings_down.base_url,
            "embedding_api_key": FAKE_API_KEY,
        }
        async with app_client(settings, **search) as client:
            user = await make_user()
            auth = await bearer(client, user.email)
            with embeddings_down.fault("500"):
                response = await ask_api(client, await new_conversation(user), auth, "A lamp?")
    events = parse_events(response.text)
    assert events[0][1]["sources"] == []
    assert events[-1][0] == "done"
    assert "search failed" in caplog.text
