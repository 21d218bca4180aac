"""Settings the framework reads: `BaseSettings`, which a project's `Settings` subclasses.

A project adds its own keys in its `settings.py`:

    class Settings(fastmango.conf.BaseSettings):
        base_dir: Path = BASE_DIR
        llm_model: str = "gpt-4o-mini"

Values come from the environment and `.env`, read once; nothing else in the framework
reads the environment. `configure()` names the project's class for the command line.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings as PydanticBaseSettings
from pydantic_settings import NoDecode, SettingsConfigDict

# The key shipped for development. Production refuses it (see fastmango.checks).
DEFAULT_SECRET_KEY = "insecure-dev-key-change-me"  # noqa: S105 (refused in production)

# The framework's own apps, which every project installs first.
DEFAULT_APPS = ("fastmango.accounts.apps.AccountsConfig", "fastmango.admin.apps.AdminConfig")

Environment = Literal["development", "test", "production"]
CommaList = Annotated[list[str], NoDecode]


class BaseSettings(PydanticBaseSettings):
    """Every setting the framework reads; `example.env` documents each key."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
        # Errors name the setting but never echo its value (URLs carry passwords).
        hide_input_in_errors=True,
    )

    # The project's folder: templates/, static/, alembic/ and var/ live under it.
    base_dir: Path = Field(default_factory=Path.cwd)

    # Django's INSTALLED_APPS: AppConfig classes (or packages), loaded in order at start-up.
    installed_apps: CommaList = Field(default_factory=lambda: list(DEFAULT_APPS))
    # Modules whose tables, enums and exports `manage.py shell` starts with.
    shell_imports: CommaList = Field(
        default_factory=lambda: ["fastmango.accounts.models", "models", "services"]
    )

    # Core
    environment: Environment = "development"
    debug: bool = False
    secret_key: SecretStr = SecretStr(DEFAULT_SECRET_KEY)
    site_name: str = "fastmango"
    allowed_hosts: CommaList = Field(default_factory=lambda: ["127.0.0.1", "localhost"])
    cors_origins: CommaList = Field(default_factory=list)
    log_level: str = "INFO"
    # json: one JSON object a line (log shippers); text: readable. None: json in production.
    log_format: Literal["json", "text"] | None = None

    # Database and cache
    # Empty: a SQLite file `db.sqlite3` in base_dir.
    database_url: str = ""
    # PostgreSQL connections per worker (plus 10 overflow); below the requests in flight,
    # waiters queue unfairly (bench/results.md). SQLite uses a fixed pool of 5.
    database_pool_size: int = Field(default=20, ge=1, le=100)
    database_echo: bool = False
    # Fail fast when PostgreSQL is away: seconds to connect, to wait for a pooled connection,
    # and for one statement (none for migrations, see migrations.py).
    database_connect_timeout: float = Field(default=5.0, gt=0)
    database_pool_timeout: float = Field(default=10.0, gt=0)
    database_command_timeout: float | None = Field(default=30.0, gt=0)
    # None means: migrate at startup in development on SQLite only.
    migrate_on_startup: bool | None = None
    redis_url: str | None = None

    # Accounts
    registration_enabled: bool = True
    session_cookie_secure: bool | None = None  # None: secure in production only
    session_lifetime_seconds: int = Field(default=14 * 24 * 3600, ge=60)
    password_min_length: int = Field(default=10, ge=8)
    superuser_email: str | None = None
    superuser_password: SecretStr | None = None

    # HTTPS and security headers (security_headers.py; check --deploy reports them)
    secure_ssl_redirect: bool = False
    secure_hsts_seconds: int = Field(default=0, ge=0)
    secure_hsts_include_subdomains: bool = False
    secure_hsts_preload: bool = False

    # Production server (`manage.py runserver --prod`)
    port: int = Field(default=8000, ge=1, le=65535)  # PORT, as hosting platforms set it
    web_concurrency: int = Field(default=1, ge=1, le=64)  # worker processes
    # Proxies whose X-Forwarded-For/-Proto are believed (IPs or networks; "*": any peer,
    # which check --deploy warns about). request_guard.ProxyHeadersMiddleware reads them.
    forwarded_allow_ips: CommaList = Field(default_factory=lambda: ["127.0.0.1"])
    # A header those proxies set to the client's address, replacing any the client sent
    # (Fly.io: Fly-Client-IP; Railway: X-Real-IP); None: X-Forwarded-For's last hop that
    # is not a trusted proxy.
    client_ip_header: str | None = None
    # Seconds a client gets to send a request's line and headers, and in all to send its
    # body; then the connection is closed (408). Slow clients hold no connection forever.
    request_header_timeout: float = Field(default=10.0, gt=0, le=300)
    request_body_timeout: float = Field(default=60.0, gt=0, le=3600)
    # Seconds in-flight requests get to finish after SIGTERM.
    graceful_shutdown_seconds: int = Field(default=20, ge=0)

    # Email
    email_backend: Literal["console", "file", "smtp", "memory"] = "file"
    email_file_path: Path = Path("var/mail")  # relative paths are under base_dir
    email_host: str = "localhost"
    email_port: int = 25
    email_host_user: str | None = None
    email_host_password: SecretStr | None = None
    email_use_tls: bool = False
    default_from_email: str = "fastmango <noreply@localhost>"

    # Media and storage
    storage_backend: Literal["local", "s3"] = "local"
    media_root: Path = Path("var/media")  # relative paths are under base_dir
    media_url: str = "/media/"
    max_upload_size: int = Field(default=5 * 1024 * 1024, ge=1024)
    s3_bucket: str | None = None
    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"
    s3_access_key_id: str | None = None
    s3_secret_access_key: SecretStr | None = None
    # Public base URL of the objects (a CDN or bucket domain); default: endpoint/bucket.
    s3_public_url: str | None = None

    @field_validator(
        "allowed_hosts",
        "cors_origins",
        "forwarded_allow_ips",
        "shell_imports",
        "installed_apps",
        mode="before",
    )
    @classmethod
    def _split_commas(cls, value: object) -> object:
        # Env vars are comma-separated ("a.example,b.example"); code may pass a list.
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _check_proxies(cls, value: list[str]) -> list[str]:
        for entry in value:
            if entry != "*":
                try:
                    ipaddress.ip_network(entry, strict=False)
                except ValueError:
                    raise ValueError(f"{entry!r} is not an IP address or network, nor *") from None
        return value

    @field_validator("client_ip_header", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        # CLIENT_IP_HEADER= (empty) in an env file means "none".
        return value.strip() or None if isinstance(value, str) else value

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        if not value:
            return value  # filled from base_dir below
        # Imported here: reading settings (`manage.py --help`) need not load SQLAlchemy.
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            url = make_url(value)
        except (ArgumentError, ValueError):
            # SQLAlchemy's message repeats the URL, password included.
            raise ValueError("DATABASE_URL is not a valid database URL") from None
        if url.get_backend_name() not in {"sqlite", "postgresql"}:
            raise ValueError("DATABASE_URL must be a sqlite or postgresql URL")
        # Accept the URLs hosting platforms hand out and pick our async drivers.
        if url.get_backend_name() == "postgresql" and url.get_driver_name() != "asyncpg":
            url = url.set(drivername="postgresql+asyncpg")
        if url.get_backend_name() == "sqlite" and url.get_driver_name() != "aiosqlite":
            url = url.set(drivername="sqlite+aiosqlite")
        return url.render_as_string(hide_password=False)

    @model_validator(mode="after")
    def _under_base_dir(self) -> BaseSettings:
        # Settings are frozen: the derived defaults are set once, here.
        derived: dict[str, object] = {}
        if not self.database_url:
            derived["database_url"] = f"sqlite+aiosqlite:///{self.base_dir / 'db.sqlite3'}"
        for name in ("email_file_path", "media_root"):
            path: Path = getattr(self, name)
            if not path.is_absolute():
                derived[name] = self.base_dir / path
        for name, value in derived.items():
            object.__setattr__(self, name, value)
        return self

    @model_validator(mode="after")
    def _check_storage(self) -> BaseSettings:
        # Caught at start-up, not at the first upload.
        if self.storage_backend == "s3" and not self.s3_bucket:
            raise ValueError("STORAGE_BACKEND=s3 needs S3_BUCKET (the bucket's name)")
        return self

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def cookie_secure(self) -> bool:
        if self.session_cookie_secure is None:
            return self.is_production
        return self.session_cookie_secure

    @property
    def should_migrate_on_startup(self) -> bool:
        if self.migrate_on_startup is not None:
            return self.migrate_on_startup
        return self.environment == "development" and self.is_sqlite

    @property
    def json_logs(self) -> bool:
        if self.log_format is None:
            return self.is_production
        return self.log_format == "json"

    @property
    def safe_database_url(self) -> str:
        """The database URL with its password masked, for logs and messages."""
        from sqlalchemy.engine import make_url

        return make_url(self.database_url).render_as_string(hide_password=True)


@lru_cache
def _framework_settings() -> BaseSettings:
    return BaseSettings()


_factory: Callable[[], BaseSettings] = _framework_settings


def configure(get_settings: Callable[[], BaseSettings]) -> None:
    """Name the project's settings (manage.py does), as Django's DJANGO_SETTINGS_MODULE.

    `get_settings` returns the project's one Settings object (read once, cached).
    """
    global _factory
    _factory = get_settings


def get_settings() -> BaseSettings:
    """The project's settings (those of `configure`), read from the environment once."""
    return _factory()
