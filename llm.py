"""The chat model: any OpenAI-compatible `/chat/completions` endpoint, streamed token by token.

One `httpx.AsyncClient` lives as long as the app (opened in the lifespan). Every fault of
the provider (unreachable, too slow, a refusal, a broken stream) becomes an `LLMError`
with a sentence fit for the chat; the log says what happened, never with the API key.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import httpx

from settings import Settings

logger = logging.getLogger("fastmango.llm")
ChatMessage = dict[str, str]  # {"role": "system" | "user" | "assistant", "content": ...}


class LLMError(Exception):
    """The provider could not give an answer; `detail` is shown in the chat."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def _refusal(status: int) -> LLMError:
    if status in {401, 403}:
        return LLMError("provider_auth", "The AI provider refused our API key (LLM_API_KEY).")
    if status == 429:
        return LLMError("provider_busy", "The AI provider is busy right now. Try again shortly.")
    if status >= 500:
        return LLMError("provider_error", f"The AI provider failed (HTTP {status}). Try again.")
    return LLMError(
        "provider_refused", f"The AI provider refused the request (HTTP {status}): check LLM_MODEL."
    )


class LLMClient:
    """Streams chat completions; `configured` says whether chat can run at all."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._client: httpx.AsyncClient | None = None

    @property
    def configured(self) -> bool:
        return self.settings.llm_configured

    async def start(self) -> None:
        settings = self.settings
        headers = {"X-Title": settings.site_name}  # OpenRouter names the app in its dashboard
        if settings.llm_api_key and settings.llm_api_key.get_secret_value():
            headers["Authorization"] = f"Bearer {settings.llm_api_key.get_secret_value()}"
        self._client = httpx.AsyncClient(
            base_url=settings.llm_base_url.rstrip("/") + "/",
            headers=headers,
            # Connect, send, and each read: a provider silent for longer is cut off.
            timeout=httpx.Timeout(settings.llm_timeout),
        )

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def stream(self, messages: list[ChatMessage]) -> AsyncGenerator[str]:
        """Yield the answer's text as it arrives; raise LLMError on any provider fault.

        Closing the iterator early (the user left) closes the upstream connection.
        """
        if self._client is None:
            raise RuntimeError("LLMClient.start() was not called (the app's lifespan does it)")
        body = {"model": self.settings.llm_model, "messages": messages, "stream": True}
        try:
            async with self._client.stream("POST", "chat/completions", json=body) as response:
                if response.status_code >= 400:
                    self._log("answered HTTP %s", response.status_code)
                    raise _refusal(response.status_code)
                async for text in self._deltas(response):
                    yield text
        except httpx.TimeoutException as exc:
            self._log("timed out (%s)", type(exc).__name__)
            raise LLMError(
                "provider_timeout",
                f"The AI provider did not answer within {self.settings.llm_timeout:g} s.",
            ) from None
        except httpx.ConnectError as exc:
            self._log("cannot be reached (%s)", type(exc).__name__)
            raise LLMError("provider_unreachable", "The AI provider cannot be reached.") from None
        except httpx.HTTPError as exc:  # the connection broke mid-answer
            self._log("broke the stream (%s)", type(exc).__name__)
            raise LLMError("provider_broken", "The AI provider's answer was cut off.") from None

    async def _deltas(self, response: httpx.Response) -> AsyncIterator[str]:
        finished = False
        async for line in response.aiter_lines():
            # Blank lines end events; ':' lines are keep-alive comments (OpenRouter sends them).
            if not line.startswith("data:"):
                continue
            data = line.removeprefix("data:").strip()
            if data == "[DONE]":
                return
            chunk = self._parse(data)
            for choice in chunk["choices"]:
                delta = choice.get("delta") if isinstance(choice, dict) else None
                content = delta.get("content") if isinstance(delta, dict) else None
                if isinstance(content, str) and content:
                    yield content
                if isinstance(choice, dict) and choice.get("finish_reason"):
                    finished = True
        if not finished:
            self._log("ended the stream early")
            raise LLMError("provider_broken", "The AI provider's answer was cut off.")

    def _parse(self, data: str) -> dict[str, Any]:
        try:
            chunk = json.loads(data)
        except ValueError:
            chunk = None
        if isinstance(chunk, dict) and "error" in chunk:
            error = chunk["error"]
            message = error.get("message") if isinstance(error, dict) else error
            self._log("reported an error mid-stream: %.200s", message)
            raise LLMError("provider_error", "The AI provider failed while answering. Try again.")
        if not isinstance(chunk, dict) or not isinstance(chunk.get("choices"), list):
            self._log("sent a chunk that is not a chat completion: %.100r", data)
            raise LLMError("provider_malformed", "The AI provider sent an answer we cannot read.")
        return chunk

    def _log(self, what: str, *args: object) -> None:
        # The host and model only: URLs and headers can carry credentials.
        host = httpx.URL(self.settings.llm_base_url).host
        logger.warning("LLM provider %s (model %s) " + what, host, self.settings.llm_model, *args)
