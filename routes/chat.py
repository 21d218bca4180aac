"""The chat page: conversations on the side, answers streamed into the thread.

static/js/app.js (`chat`) posts a question with fetch and reads the answer's server-sent
events from the response body, so its Stop button can abort the request; the server
notices and saves what had arrived. Without JavaScript the same form posts normally and
the page comes back with the whole answer.
"""

from __future__ import annotations

from contextlib import aclosing
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from deps import ChatServiceDep, IdPath, TemplatesDep
from fastmango.accounts.auth import CurrentUser, get_optional_user
from fastmango.accounts.models import User
from markdown_html import render_markdown
from models import Conversation, Message
from routes.api_chat import event_stream, sse_events
from schemas import VISIBLE
from services.chat_service import STOPPED, ChatService, sources

router = APIRouter(
    prefix="/chat",
    tags=["chat"],
    default_response_class=HTMLResponse,
    include_in_schema=False,
    dependencies=[Depends(get_optional_user)],
)
SIDEBAR_SIZE = 50  # the most recent conversations; older ones stay in the API's pages
Question = Annotated[str, Form(min_length=1, max_length=8000, pattern=VISIBLE)]
# What _message.html needs besides the message itself.
MESSAGE_HELPERS: dict[str, Any] = {
    "markdown": render_markdown,
    "sources": sources,
    "stopped": STOPPED,
}


@router.get("", name="chat")
async def read_chat(
    request: Request, user: CurrentUser, chat: ChatServiceDep, templates: TemplatesDep
) -> Response:
    recent = await chat.conversations(user, per_page=1)
    if recent.items:
        url = request.url_for("chat_conversation", conversation_id=recent.items[0].id)
        return RedirectResponse(url, status_code=303)
    return await _page(request, templates, chat, user, None)


@router.post("/new", name="chat_new")
async def create_conversation(
    request: Request, user: CurrentUser, chat: ChatServiceDep
) -> Response:
    conversation = await chat.start_new(user)
    url = request.url_for("chat_conversation", conversation_id=conversation.id)
    return RedirectResponse(url, status_code=303)


@router.get("/{conversation_id}", name="chat_conversation")
async def read_conversation(
    request: Request,
    conversation_id: IdPath,
    user: CurrentUser,
    chat: ChatServiceDep,
    templates: TemplatesDep,
) -> Response:
    conversation = await chat.get(user, conversation_id)
    return await _page(request, templates, chat, user, conversation)


@router.post("/{conversation_id}/messages", name="chat_send")
async def create_message(
    request: Request,
    conversation_id: IdPath,
    content: Question,
    user: CurrentUser,
    chat: ChatServiceDep,
    templates: TemplatesDep,
) -> Response:
    turn = await chat.begin(user, conversation_id, content)
    if "text/event-stream" not in request.headers.get("accept", ""):
        # A plain form post (no JavaScript): wait for the whole answer, then show it.
        async with aclosing(chat.reply(turn)) as events:
            async for _event in events:
                pass
        url = request.url_for("chat_conversation", conversation_id=conversation_id)
        return RedirectResponse(f"{url}#chat-end", status_code=303)
    template = templates.get_template("chat/_message.html")

    def fragment(message: Message) -> str:
        return template.render(m=message, **MESSAGE_HELPERS)

    return event_stream(sse_events(chat.reply(turn), fragment))


@router.get("/{conversation_id}/messages/{message_id}", name="chat_message")
async def read_message(
    request: Request,
    conversation_id: IdPath,
    message_id: IdPath,
    user: CurrentUser,
    chat: ChatServiceDep,
    templates: TemplatesDep,
) -> Response:
    """One message as HTML (the page fetches an answer it stopped, once it is saved)."""
    message = await chat.message(user, conversation_id, message_id)
    context = {"m": message, **MESSAGE_HELPERS}
    return templates.TemplateResponse(request, "chat/_message.html", context)


async def _page(
    request: Request,
    templates: TemplatesDep,
    chat: ChatService,
    user: User,
    conversation: Conversation | None,
) -> Response:
    recent = await chat.conversations(user, per_page=SIDEBAR_SIZE)
    context = {
        "conversation": conversation,
        "conversations": recent.items,
        "thread": await chat.messages(conversation) if conversation else [],
        "configured": chat.configured,
        **MESSAGE_HELPERS,
    }
    return templates.TemplateResponse(request, "chat/page.html", context)
