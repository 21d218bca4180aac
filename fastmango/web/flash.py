"""Django-style messages: set before a redirect, shown once on the next page."""

from __future__ import annotations

from typing import Literal, TypedDict

from starlette.requests import Request

Level = Literal["success", "info", "warning", "error"]
# Not "_messages": sqladmin keeps its own flash messages under that key.
SESSION_KEY = "fastmango_messages"


class Message(TypedDict):
    level: Level
    text: str


def flash(request: Request, level: Level, text: str) -> None:
    messages: list[Message] = request.session.setdefault(SESSION_KEY, [])
    messages.append({"level": level, "text": text})
    request.session[SESSION_KEY] = messages


def pop_messages(request: Request) -> list[Message]:
    if "session" not in request.scope:
        return []
    messages: list[Message] = request.session.pop(SESSION_KEY, [])
    return messages
