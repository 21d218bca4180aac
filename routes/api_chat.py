"""JSON API for chat: a user's conversations, and answers streamed as server-sent events.

The stream of `POST .../messages` (also used by the /chat page):

    event: start   data: {"conversation_id", "title", "question_id", "message_id", "sources"}
    event: token   data: {"text"}                         (many: append them in order)
    event: done    data: {"message_id", "complete": true, "content", "html", "sources"}
    event: error   data: {"code", "detail", "message_id", "complete": false, "content", "html"}

`error` replaces `done` when the provider fails (unreachable, timeout, refusal, a broken
stream) or chat is not configured (`message_id` null then); whatever arrived is saved,
marked incomplete. Refusals before any answer are plain JSON errors (404, 429, ...).
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import aclosing
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from sse_starlette import EventSourceResponse, ServerSentEvent

from deps import ChatServiceDep, IdPath
from fastmango.accounts.auth import CurrentUser
from fastmango.web.api import Paged, cached_get, errors, etag_json, json_created, strict_query
from markdown_html import render_markdown
from models import Message
from schemas import (
    ChatSource,
    ConversationCreate,
    ConversationDetail,
    ConversationPublic,
    MessageCreate,
    MessagePublic,
)
from services.chat_service import ChatEvent, Failed, Finished, Started, Token, sources

router = APIRouter(prefix="/api/v1/chat", tags=["chat"])
Page = Annotated[int, Query(ge=1, le=1_000_000)]
PerPage = Annotated[int, Query(ge=1, le=100)]
SEP = "\n"  # the SSE line ending (the spec allows \r\n too; one is simpler for clients)
PING_SECONDS = 15  # a comment line now and then keeps proxies from closing a quiet stream

STREAM_EXAMPLE = (
    'event: start\ndata: {"conversation_id": 1, "title": "Hello", "question_id": 7, '
    '"message_id": 8, "sources": []}\n\nevent: token\ndata: {"text": "Hel"}\n\nevent: token\n'
    'data: {"text": "lo"}\n\nevent: done\ndata: {"message_id": 8, "complete": true, '
    '"content": "Hello", "html": "<p>Hello</p>\\n", "sources": []}\n\n'
)
_SOURCE = {
    "type": "object",
    "required": ["id", "name", "url"],
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "url": {"type": "string"},
        "cited": {"type": "boolean", "description": "The answer links this product"},
    },
}
_ANSWER = {
    "message_id": {"type": ["integer", "null"]},
    "content": {"type": "string", "description": "The answer's Markdown (partial on error)"},
    "html": {"type": "string", "description": "The answer rendered and sanitised"},
    "sources": {"type": "array", "items": _SOURCE},
}
EVENT_DATA: dict[str, dict[str, Any]] = {
    "start": {
        "required": ["conversation_id", "title", "question_id", "message_id", "sources"],
        "properties": {
            "conversation_id": {"type": "integer"},
            "title": {"type": "string"},
            "question_id": {"type": "integer"},
            "message_id": {"type": "integer"},
            "sources": {"type": "array", "items": _SOURCE},
        },
    },
    "token": {"required": ["text"], "properties": {"text": {"type": "string"}}},
    "done": {
        "required": ["message_id", "complete", "content", "html", "sources"],
        "properties": _ANSWER | {"complete": {"const": True}},
    },
    "error": {
        "required": ["code", "detail", "message_id", "complete", "content", "html"],
        "properties": _ANSWER
        | {
            "code": {"type": "string", "description": "provider_timeout, not_configured ..."},
            "detail": {"type": "string", "description": "A sentence for the user"},
            "complete": {"const": False},
        },
    },
}
# One schema per event, as OpenAPI 3.2's `itemSchema` puts it: `data` is JSON text.
EVENT_SCHEMA = {
    "oneOf": [
        {
            "type": "object",
            "required": ["event", "data"],
            "properties": {
                "event": {"const": name},
                "data": {
                    "type": "string",
                    "contentMediaType": "application/json",
                    "contentSchema": {"type": "object"} | data,
                },
            },
        }
        for name, data in EVENT_DATA.items()
    ]
}
STREAM_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Server-sent events: `start`, `token`..., then `done` or `error` "
        "(each `data` is JSON; the schema describes one event)",
        "content": {"text/event-stream": {"schema": EVENT_SCHEMA, "example": STREAM_EXAMPLE}},
    }
}


def message_public(message: Message) -> MessagePublic:
    return MessagePublic(
        id=message.id or 0,
        role=message.role,
        content=message.content,
        html=str(render_markdown(message.content)),
        complete=message.complete,
        error=message.error,
        sources=[ChatSource(**source) for source in sources(message)],
        created_at=message.created_at,
    )


def _event(name: str, data: dict[str, Any]) -> ServerSentEvent:
    return ServerSentEvent(json.dumps(data, ensure_ascii=False), event=name, sep=SEP)


async def sse_events(
    events: AsyncGenerator[ChatEvent], fragment: Callable[[Message], str] | None = None
) -> AsyncIterator[ServerSentEvent]:
    """The chat service's events as SSE; `fragment` adds the page's HTML for the answer."""
    async with aclosing(events):
        async for event in events:
            if isinstance(event, Token):
                yield _event("token", {"text": event.text})
            elif isinstance(event, Started):
                turn = event.turn
                assert turn.question is not None
                assert turn.answer is not None
                yield _event(
                    "start",
                    {
                        "conversation_id": turn.conversation.id,
                        "title": turn.conversation.title,
                        "question_id": turn.question.id,
                        "message_id": turn.answer.id,
                        "sources": sources(turn.answer),
                    },
                )
            elif isinstance(event, Finished):
                answer = message_public(event.answer)
                data: dict[str, Any] = {
                    "message_id": answer.id,
                    "complete": answer.complete,
                    "content": answer.content,
                    "html": answer.html,
                    "sources": [source.model_dump() for source in answer.sources],
                }
                if not answer.complete:
                    data = {"code": event.code, "detail": answer.error} | data
                if fragment is not None:
                    data["fragment"] = fragment(event.answer)
                yield _event("done" if answer.complete else "error", data)
            elif isinstance(event, Failed):
                data = {"code": event.code, "detail": event.detail, "message_id": None}
                yield _event("error", data | {"complete": False, "content": "", "html": ""})


def event_stream(events: AsyncIterator[ServerSentEvent]) -> EventSourceResponse:
    return EventSourceResponse(events, sep=SEP, ping=PING_SECONDS)


@router.post(
    "/conversations",
    status_code=201,
    response_model=ConversationPublic,
    responses=errors(400, 401, 413, 422),
    summary="Start a conversation (the title defaults to the first question)",
)
async def create_conversation(
    user: CurrentUser,
    chat: ChatServiceDep,
    data: Annotated[ConversationCreate | None, Body()] = None,
) -> Response:
    conversation = await chat.create(user, data.title if data else None)
    return json_created(ConversationPublic.model_validate(conversation))


@router.get(
    "/conversations",
    response_model=Paged[ConversationPublic],
    responses=cached_get(400, 401, 422),
    dependencies=[Depends(strict_query(("page", "per_page")))],
    summary="Your conversations, the most recently active first",
)
async def list_conversations(
    request: Request,
    user: CurrentUser,
    chat: ChatServiceDep,
    page: Page = 1,
    per_page: PerPage = 20,
) -> Response:
    result = await chat.conversations(user, page=page, per_page=per_page)
    items = [ConversationPublic.model_validate(c) for c in result.items]
    return etag_json(request, Paged[ConversationPublic].of(result, items))


@router.get(
    "/conversations/{conversation_id}",
    response_model=ConversationDetail,
    responses=cached_get(400, 401, 404, 422),
    dependencies=[Depends(strict_query(()))],
    summary="One of your conversations with its messages, oldest first",
)
async def read_conversation(
    request: Request, conversation_id: IdPath, user: CurrentUser, chat: ChatServiceDep
) -> Response:
    conversation = await chat.get(user, conversation_id)
    messages = [message_public(m) for m in await chat.messages(conversation)]
    detail = ConversationDetail(
        **ConversationPublic.model_validate(conversation).model_dump(), messages=messages
    )
    return etag_json(request, detail)


@router.post(
    "/conversations/{conversation_id}/messages",
    response_class=EventSourceResponse,
    responses=STREAM_RESPONSE | errors(400, 401, 404, 413, 422, 429),
    summary="Ask a question: the answer streams back as server-sent events",
)
async def create_message(
    conversation_id: IdPath, data: MessageCreate, user: CurrentUser, chat: ChatServiceDep
) -> EventSourceResponse:
    turn = await chat.begin(user, conversation_id, data.content)
    return event_stream(sse_events(chat.reply(turn)))
