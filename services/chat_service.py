"""Chat: conversations kept per user, answers streamed from the model and saved as they end.

A turn is two steps so that refusals are proper HTTP answers before any stream starts:
`begin` checks ownership (404) and the rate limit (429), retrieves products, saves the
question and an empty answer, and builds the prompt; `reply` streams the model's tokens
and saves the answer once: complete, failed (with the provider's fault in words) or,
when the client goes away, cut short with what had arrived.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any, Protocol

import anyio

from fastmango.accounts.models import User
from fastmango.accounts.throttle import RateLimiter, Throttled
from fastmango.errors import DomainError, TooManyRequests
from fastmango.orm import Page, atomic
from llm import ChatMessage, LLMClient, LLMError
from models import Conversation, Message, MessageRole, Product
from services.product_service import check_page
from services.search_service import MAX_QUERY_LENGTH

logger = logging.getLogger("fastmango.chat")

DEFAULT_TITLE = "New conversation"
TITLE_LENGTH = 60
RETRIEVED_PRODUCTS = 3
STOPPED = "Stopped before the end."
NOT_CONFIGURED = (
    "Chat is not set up on this server: set LLM_API_KEY (or point LLM_BASE_URL at a "
    "local OpenAI-compatible server) and restart."
)
# Saving an answer (even one cut short) may not hold up the end of a request for long.
SAVE_TIMEOUT_SECONDS = 5


class SearchHit(Protocol):
    @property
    def product(self) -> Product: ...


class Retriever(Protocol):
    """What chat needs of semantic search (services.search_service.SearchService)."""

    async def search(self, q: str, limit: int = 10) -> Sequence[SearchHit]: ...


@dataclass
class Turn:
    """One question on its way to the model; `refusal` when it cannot be asked at all."""

    conversation: Conversation
    question: Message | None = None
    answer: Message | None = None
    prompt: list[ChatMessage] = field(default_factory=list)
    refusal: LLMError | None = None


@dataclass(frozen=True)
class Started:
    turn: Turn


@dataclass(frozen=True)
class Token:
    text: str


@dataclass(frozen=True)
class Finished:
    """The answer was saved: complete, or with `error` (a provider fault)."""

    answer: Message
    code: str = ""


@dataclass(frozen=True)
class Failed:
    """The model could not be asked at all (chat is not configured); nothing was saved."""

    code: str
    detail: str


ChatEvent = Started | Token | Finished | Failed


def sources(message: Message) -> list[dict[str, Any]]:
    """The products retrieved for an answer, with their URL and whether the answer links them."""
    return [
        {
            "id": source["id"],
            "name": source["name"],
            "url": f"/products/{source['id']}",
            "cited": re.search(rf"/products/{source['id']}(?!\d)", message.content) is not None,
        }
        for source in message.sources
    ]


def build_prompt(
    system: str, history: Sequence[Message], question: str, budget: int
) -> list[ChatMessage]:
    """The system prompt, then as much recent history as fits `budget` characters with the
    question (oldest messages drop first), then the question."""
    kept: list[ChatMessage] = []
    used = len(question)
    for message in reversed(history):
        if message.role == MessageRole.SYSTEM or not message.content:
            continue
        used += len(message.content)
        if used > budget:
            break
        kept.append({"role": message.role.value, "content": message.content})
    kept.reverse()
    return [
        {"role": "system", "content": system},
        *kept,
        {"role": "user", "content": question},
    ]


def system_prompt(site_name: str, products: Sequence[Product]) -> str:
    prompt = (
        f"You are the helpful assistant of {site_name}, an online shop. "
        "Answer in Markdown, briefly and plainly."
    )
    if not products:
        return prompt
    lines = [
        f"- [{p.name}](/products/{p.id}): {p.category}, {p.price}, "
        f"{'in stock' if p.in_stock else 'out of stock'}. {p.description[:300]}"
        for p in products
    ]
    return (
        f"{prompt}\nThese products from our catalogue may be relevant. When you mention one, "
        "link it exactly as listed, e.g. [Name](/products/ID); never invent products or "
        "links.\n" + "\n".join(lines)
    )


class ChatService:
    """Conversations and messages of one user, and the turns that ask the model."""

    def __init__(
        self,
        llm: LLMClient,
        limiter: RateLimiter,
        *,
        site_name: str,
        history_budget: int,
        search: Retriever | None = None,
    ) -> None:
        self.llm = llm
        self.limiter = limiter
        self.site_name = site_name
        self.history_budget = history_budget
        self.search = search

    @property
    def configured(self) -> bool:
        return self.llm.configured

    async def conversations(
        self, user: User, *, page: int = 1, per_page: int = 20
    ) -> Page[Conversation]:
        """The user's conversations, the most recently active first."""
        check_page(page, per_page)
        qs = Conversation.objects.filter(user_id=user.id).order_by("-updated_at", "-id")
        return await qs.paginate(page, per_page)

    async def create(self, user: User, title: str | None = None) -> Conversation:
        return await Conversation.objects.create(user_id=user.id, title=title or DEFAULT_TITLE)

    async def start_new(self, user: User) -> Conversation:
        """A conversation to type into: the latest one if it is still empty, else a new one."""
        latest = await Conversation.objects.filter(user_id=user.id).order_by("-id").first()
        if latest is not None and not await self._has_messages(latest):
            return latest
        return await self.create(user)

    async def get(self, user: User, conversation_id: int) -> Conversation:
        """The user's conversation; someone else's is a 404 like a missing one."""
        return await Conversation.objects.get_or_404(id=conversation_id, user_id=user.id)

    async def messages(self, conversation: Conversation) -> list[Message]:
        return await Message.objects.filter(conversation_id=conversation.id).order_by("id")

    async def message(self, user: User, conversation_id: int, message_id: int) -> Message:
        conversation = await self.get(user, conversation_id)
        return await Message.objects.get_or_404(id=message_id, conversation_id=conversation.id)

    async def begin(self, user: User, conversation_id: int, question: str) -> Turn:
        """Check, retrieve and save the question; raises NotFound or TooManyRequests."""
        conversation = await self.get(user, conversation_id)
        if not self.llm.configured:
            return Turn(conversation, refusal=LLMError("not_configured", NOT_CONFIGURED))
        try:
            await self.limiter.hit(f"chat:{user.id}")
        except Throttled as exc:
            raise TooManyRequests(
                f"You are sending messages too fast. Try again in {exc.retry_after} s.",
                retry_after=exc.retry_after,
            ) from None
        history = await self.messages(conversation)
        products = await self._retrieve(question)
        async with atomic():
            asked = await Message.objects.create(
                conversation_id=conversation.id, role=MessageRole.USER, content=question
            )
            answer = await Message.objects.create(
                conversation_id=conversation.id,
                role=MessageRole.ASSISTANT,
                complete=False,
                sources=[{"id": p.id, "name": p.name} for p in products],
            )
            if conversation.title == DEFAULT_TITLE:
                conversation.title = " ".join(question.split())[:TITLE_LENGTH] or DEFAULT_TITLE
            await conversation.save()  # and it moves to the top of the list
        # The transaction is over, so no connection is held while the model answers.
        prompt = build_prompt(
            system_prompt(self.site_name, products), history, question, self.history_budget
        )
        return Turn(conversation, asked, answer, prompt)

    async def reply(self, turn: Turn) -> AsyncGenerator[ChatEvent]:
        """Stream the answer: Started, Token..., then Finished (saved) or Failed."""
        if turn.refusal is not None or turn.answer is None:
            refusal = turn.refusal or LLMError("not_configured", NOT_CONFIGURED)
            yield Failed(refusal.code, refusal.detail)
            return
        answer = turn.answer
        yield Started(turn)
        parts: list[str] = []
        fault: LLMError | None = None
        ended = False
        try:
            try:
                async with aclosing(self.llm.stream(turn.prompt)) as tokens:
                    async for text in tokens:
                        parts.append(text)
                        yield Token(text)
            except LLMError as exc:
                fault = exc
            ended = True
        finally:
            # Not ended: cancelled, because the client left (or pressed stop).
            error = (fault.detail if fault else None) if ended else STOPPED
            await self._save(answer, parts, error)
        yield Finished(answer, fault.code if fault else "")

    async def _save(self, answer: Message, parts: list[str], error: str | None) -> None:
        answer.content = "".join(parts)
        answer.complete = error is None
        answer.error = (error or "")[:500]
        # Shielded: what arrived is kept even while the request is being cancelled.
        with anyio.CancelScope(shield=True):
            with anyio.move_on_after(SAVE_TIMEOUT_SECONDS) as deadline:
                await answer.save()
            if deadline.cancelled_caught:
                logger.warning("Answer %s not saved within %s s", answer.id, SAVE_TIMEOUT_SECONDS)

    async def _retrieve(self, question: str) -> list[Product]:
        if self.search is None:
            return []
        try:
            query = question.strip()[:MAX_QUERY_LENGTH]
            hits = await self.search.search(query, limit=RETRIEVED_PRODUCTS)
        except DomainError as exc:  # the embedding provider is away: answer without products
            logger.warning("Chat answers without products: search failed (%s)", exc.detail)
            return []
        return [hit.product for hit in hits]

    @staticmethod
    async def _has_messages(conversation: Conversation) -> bool:
        return await Message.objects.filter(conversation_id=conversation.id).exists()
