"""The one async engine and session factory, made at start-up, and the request session."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends
from sqlalchemy import event, text
from sqlalchemy.engine.interfaces import DBAPIConnection, Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry
from starlette.types import ASGIApp, Receive, Scope, Send

from fastmango.conf import BaseSettings
from fastmango.orm import Model, current_session, session_scope

SQLITE_POOL_SIZE = 5  # one writer at a time anyway; each connection is an aiosqlite thread

__all__ = [
    "DBSessionMiddleware",
    "Database",
    "DatabaseUnavailable",
    "Model",
    "SessionDep",
    "get_session",
    "is_unavailable",
]


def _sqlite_connect(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    # Let SQLAlchemy (not the sqlite3 module) open transactions, so SAVEPOINT and
    # transactional DDL work (SQLAlchemy's documented pysqlite/aiosqlite recipe).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    for pragma in (
        "PRAGMA foreign_keys = ON",  # constraints in the database, not only in Python
        "PRAGMA journal_mode = WAL",  # readers do not block the writer
        "PRAGMA synchronous = NORMAL",
        "PRAGMA busy_timeout = 5000",
        "PRAGMA case_sensitive_like = ON",  # `contains` is case-sensitive, as on PostgreSQL
    ):
        cursor.execute(pragma)
    cursor.close()


_READ_ONLY = "fastmango_sqlite_read_only"
_SQLITE_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


def _sqlite_begin(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN")
    connection.info[_READ_ONLY] = True


def _sqlite_before_write(connection: Any, cursor: Any, statement: str, *_args: Any) -> None:
    # A transaction that has only read keeps the snapshot of its first read, and its
    # first write fails at once ("database is locked": SQLITE_BUSY_SNAPSHOT, which the
    # busy timeout cannot help) when another connection wrote since, e.g. the embedding
    # queue. So the reads end there and the write lock is taken afresh, waiting for it as
    # long as the busy timeout allows: reads before a transaction's first write see the
    # data as of then, as with Django's autocommit. Not once a savepoint exists.
    if not connection.info.get(_READ_ONLY):
        return
    head = statement.lstrip()[:9].upper()
    if head.startswith(("SAVEPOINT", *_SQLITE_WRITES)):
        connection.info[_READ_ONLY] = False
    if head.startswith(_SQLITE_WRITES):
        cursor.execute("COMMIT")
        cursor.execute("BEGIN IMMEDIATE")


class DatabaseUnavailable(ConnectionError):
    """The database server cannot be reached (down, restarting, or too slow to answer).

    Raised instead of the driver's own error when a connection cannot be opened, so the
    handlers can answer 503 for it and nothing else. An OSError, so code that already
    catches those keeps working.
    """


# SQLSTATEs that say "no database just now" rather than "bad query": connection exceptions
# (class 08, e.g. asyncpg's "connection was closed in the middle of operation"), no
# connection slot left (53300), and the server shutting down, crashed or starting up
# (57P01, 57P02, 57P03: "the database system is starting up").
_UNAVAILABLE_SQLSTATES = ("08", "53300", "57P01", "57P02", "57P03")


def _unavailable_sqlstate(exc: BaseException) -> bool:
    sqlstate = getattr(exc, "sqlstate", None)
    return isinstance(sqlstate, str) and sqlstate.startswith(_UNAVAILABLE_SQLSTATES)


def is_unavailable(exc: BaseException) -> bool:
    """Whether `exc`, or an error it wraps, means the database is away for now (a 503).

    True for a connection that could not be opened, a pool or statement timeout, a
    connection SQLAlchemy found dead, and the driver's connection and shutdown/startup
    errors, wherever they surface: a query, a commit, or closing the session.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, BaseExceptionGroup):
            return all(is_unavailable(inner) for inner in current.exceptions)
        if isinstance(current, DatabaseUnavailable | TimeoutError | PoolTimeoutError):
            return True
        if isinstance(current, DBAPIError) and current.connection_invalidated:
            return True
        if _unavailable_sqlstate(current):
            return True
        # SQLAlchemy keeps the driver's error in .orig; the asyncpg adapter chains it.
        wrapped = current.orig if isinstance(current, DBAPIError) else None
        current = wrapped or current.__cause__
    return False


def _connect(
    dialect: Dialect, _record: ConnectionPoolEntry, cargs: Any, cparams: dict[str, Any]
) -> DBAPIConnection:
    try:
        connection: DBAPIConnection = dialect.connect(*cargs, **cparams)
    except Exception as exc:
        # Refused, no socket, timed out (OSErrors), or a server that is shutting down or
        # starting up: asyncpg raises those raw here, outside SQLAlchemy's wrapping.
        if isinstance(exc, OSError) or _unavailable_sqlstate(exc):
            # The class name only: the driver's message can name the host.
            reason = type(exc).__name__
            raise DatabaseUnavailable(f"The database does not answer ({reason}).") from exc
        raise
    return connection


class Database:
    """Owns the engine and the session factory; one per app, disposed at shutdown."""

    def __init__(self, settings: BaseSettings) -> None:
        options: dict[str, Any] = {
            "echo": settings.database_echo,
            # A dropped server connection is noticed before use (a file needs no ping).
            "pool_pre_ping": not settings.is_sqlite,
            # Errors and logs never carry bound values (password hashes, emails...).
            "hide_parameters": True,
        }
        if settings.is_sqlite:
            # A fixed set of connections: aiosqlite runs a thread per connection, and
            # overflow connections (closed on return) would start and stop threads.
            options |= {"pool_size": SQLITE_POOL_SIZE, "max_overflow": 0}
        else:
            options |= {
                "pool_size": settings.database_pool_size,
                "max_overflow": 10,
                # With the server away, a request gets an error in seconds instead of
                # hanging: connect, wait for a pooled connection, and run a statement
                # (the pool's pre-ping included) each have a limit.
                "pool_timeout": settings.database_pool_timeout,
                "connect_args": {
                    "timeout": settings.database_connect_timeout,
                    "command_timeout": settings.database_command_timeout,
                },
            }
        self.engine: AsyncEngine = create_async_engine(settings.database_url, **options)
        event.listen(self.engine.sync_engine, "do_connect", _connect)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine.sync_engine, "connect", _sqlite_connect)
            event.listen(self.engine.sync_engine, "begin", _sqlite_begin)
            event.listen(self.engine.sync_engine, "before_cursor_execute", _sqlite_before_write)
        self.session_factory = async_sessionmaker(self.engine, expire_on_commit=False)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session scope for scripts and tasks: `Model.objects` uses it inside the block."""
        async with session_scope(self.session_factory) as scope:
            yield scope.session

    async def ping(self) -> None:
        """Run `SELECT 1`; raises if the database cannot be reached."""
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()


class DBSessionMiddleware:
    """Opens a session scope around every HTTP request (the session itself is lazy)."""

    def __init__(self, app: ASGIApp, database: Database) -> None:
        self.app = app
        self.database = database

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        async with session_scope(self.database.session_factory):
            await self.app(scope, receive, send)


async def get_session() -> AsyncSession:
    """The request's session (opened by DBSessionMiddleware)."""
    return current_session()


SessionDep = Annotated[AsyncSession, Depends(get_session)]
