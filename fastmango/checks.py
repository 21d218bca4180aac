"""Django-style system checks: `manage.py check [--deploy]` and the production start-up gate."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import TypeVar

import pydantic
from sqlalchemy.exc import ArgumentError

from fastmango.conf import DEFAULT_SECRET_KEY, BaseSettings

S = TypeVar("S", bound=BaseSettings)

SECRET_KEY_MIN_LENGTH = 50
SECRET_KEY_MIN_UNIQUE_CHARACTERS = 5
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


class Level(IntEnum):
    INFO = 20
    WARNING = 30
    ERROR = 40


@dataclass(frozen=True)
class CheckMessage:
    id: str
    level: Level
    msg: str
    hint: str = ""

    def __str__(self) -> str:
        hint = f"\n\tHINT: {self.hint}" if self.hint else ""
        return f"?: ({self.id}) {self.msg}{hint}"


class ImproperlyConfigured(Exception):
    """Raised at start-up when the settings do not load or are unsafe for the environment.

    The message is the whole story, for every entry point to print as it is: no
    traceback is needed (nor wanted) for a refusal.
    """

    def __init__(self, problems: list[CheckMessage], message: str | None = None) -> None:
        self.problems = problems
        # No tabs (unlike `check`): printed the same by print() and by rich.
        lines = "\n".join(
            f"  - ({p.id}) {p.msg}" + (f"\n    HINT: {p.hint}" if p.hint else "") for p in problems
        )
        super().__init__(message or f"Refusing to start with unsafe settings:\n{lines}")


def settings_error(exc: pydantic.ValidationError | ArgumentError) -> str:
    """Why the settings did not load, naming each bad setting but never its value."""
    if isinstance(exc, ArgumentError):
        return "DATABASE_URL is not a valid database URL."
    # include_input=False: the rejected value may be a URL with a password in it.
    problems = "; ".join(
        f"{'.'.join(map(str, e['loc'])).upper()}: {e['msg']}"
        for e in exc.errors(include_input=False, include_url=False)
    )
    return f"Invalid settings: {problems}"


def _weak_secret_key(settings: BaseSettings) -> bool:
    key = settings.secret_key.get_secret_value()
    return (
        key == DEFAULT_SECRET_KEY
        or key.startswith("insecure")
        or len(key) < SECRET_KEY_MIN_LENGTH
        or len(set(key)) < SECRET_KEY_MIN_UNIQUE_CHARACTERS
    )


def security_errors(settings: BaseSettings) -> list[CheckMessage]:
    """Problems that stop a production start (each one a message of its own)."""
    problems: list[CheckMessage] = []
    if _weak_secret_key(settings):
        problems.append(
            CheckMessage(
                "security.E009",
                Level.ERROR,
                "SECRET_KEY is the default, shorter than "
                f"{SECRET_KEY_MIN_LENGTH} characters or has fewer than "
                f"{SECRET_KEY_MIN_UNIQUE_CHARACTERS} unique characters.",
                'Generate one: python -c "import secrets; print(secrets.token_urlsafe(64))"',
            )
        )
    if settings.debug:
        problems.append(
            CheckMessage(
                "security.E018",
                Level.ERROR,
                "DEBUG is on in production.",
                "Set DEBUG=false.",
            )
        )
    if not settings.allowed_hosts:
        problems.append(
            CheckMessage(
                "security.E020",
                Level.ERROR,
                "ALLOWED_HOSTS is empty in production.",
                "Set ALLOWED_HOSTS to the comma-separated host names the site answers to.",
            )
        )
    return problems


def deploy_checks(settings: BaseSettings) -> list[CheckMessage]:
    """Everything `check --deploy` reports: the start-up gate plus hardening advice."""
    messages = security_errors(settings)
    if not settings.cookie_secure:
        messages.append(
            CheckMessage(
                "security.W012",
                Level.WARNING,
                "Session cookies are not marked Secure.",
                "Set SESSION_COOKIE_SECURE=true (the default in production).",
            )
        )
    if not settings.secure_ssl_redirect:
        messages.append(
            CheckMessage(
                "security.W008",
                Level.WARNING,
                "SECURE_SSL_REDIRECT is off: plain HTTP requests are not redirected to HTTPS.",
                "Set SECURE_SSL_REDIRECT=true unless a proxy already redirects.",
            )
        )
    if settings.secure_hsts_seconds <= 0:
        messages.append(
            CheckMessage(
                "security.W004",
                Level.WARNING,
                "SECURE_HSTS_SECONDS is not set: browsers are not told to use HTTPS only.",
                "Set SECURE_HSTS_SECONDS=31536000 once HTTPS works.",
            )
        )
    if settings.secure_hsts_seconds > 0 and not settings.secure_hsts_include_subdomains:
        messages.append(
            CheckMessage(
                "security.W005",
                Level.WARNING,
                "HSTS does not cover subdomains: a subdomain could still be reached over HTTP.",
                "Set SECURE_HSTS_INCLUDE_SUBDOMAINS=true once every subdomain serves HTTPS.",
            )
        )
    if settings.allowed_hosts and set(settings.allowed_hosts) <= LOCAL_HOSTS:
        messages.append(
            CheckMessage(
                "security.W022",
                Level.WARNING,
                "ALLOWED_HOSTS lists only local addresses: requests for the site's domain get 400.",
                "Add the public host name(s), e.g. ALLOWED_HOSTS=shop.example.com.",
            )
        )
    if "*" in settings.allowed_hosts:
        messages.append(
            CheckMessage(
                "security.W021",
                Level.WARNING,
                "ALLOWED_HOSTS contains '*': any Host header is accepted.",
                "List the host names explicitly.",
            )
        )
    if "*" in settings.forwarded_allow_ips:
        messages.append(
            CheckMessage(
                "security.W023",
                Level.WARNING,
                "FORWARDED_ALLOW_IPS contains '*': any host that reaches the app is believed "
                "about the client's address and scheme.",
                "List the proxy's addresses or network (Fly.io: 172.16.0.0/12 with "
                "CLIENT_IP_HEADER=Fly-Client-IP; Railway: 100.64.0.0/10 with "
                "CLIENT_IP_HEADER=X-Real-IP).",
            )
        )
    if settings.is_sqlite:
        messages.append(
            CheckMessage(
                "database.W001",
                Level.WARNING,
                "The database is SQLite: fine for one instance, not for several.",
                "Set DATABASE_URL to PostgreSQL to run more than one instance.",
            )
        )
    if settings.web_concurrency > 1 and not settings.redis_url:
        messages.append(
            CheckMessage(
                "cache.W001",
                Level.WARNING,
                f"WEB_CONCURRENCY is {settings.web_concurrency} without REDIS_URL: each worker "
                "keeps its own cache and login-throttling counts.",
                "Set REDIS_URL so every worker and instance shares them.",
            )
        )
    if settings.email_backend != "smtp":
        messages.append(
            CheckMessage(
                "email.W001",
                Level.WARNING,
                f"EMAIL_BACKEND is {settings.email_backend!r}: password-reset mail is not sent.",
                "Set EMAIL_BACKEND=smtp and the EMAIL_HOST settings.",
            )
        )
    if settings.environment != "production":
        messages.append(
            CheckMessage(
                "settings.W001",
                Level.WARNING,
                f"ENVIRONMENT is {settings.environment!r}, not 'production'.",
                "Set ENVIRONMENT=production on the deployed app.",
            )
        )
    return messages


def check_startup(settings: BaseSettings) -> None:
    """Refuse to build a production app from unsafe settings."""
    if settings.is_production:
        problems = security_errors(settings)
        if problems:
            raise ImproperlyConfigured(problems)


def startup_settings(get_settings: Callable[[], S]) -> S:
    """The process's settings, as every entry point (the app, the servers, prestart) takes
    them: loaded, and refused by ImproperlyConfigured if invalid or unsafe for production."""
    try:
        settings = get_settings()
    except (pydantic.ValidationError, ArgumentError) as exc:
        message = settings_error(exc)
        raise ImproperlyConfigured(
            [CheckMessage("settings.E001", Level.ERROR, message)], message
        ) from None
    check_startup(settings)
    return settings
