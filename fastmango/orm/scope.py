"""Which AsyncSession a query uses, and Django-style autocommit with `atomic()`.

A request (or `async with db.session():` in a script) opens a *scope*; the
session inside it is created on first use, so a request that never touches the
database never checks out a connection. Writes commit at once (Django's
autocommit) unless they run inside `atomic()`, which commits once at the end and
rolls back on error; nested `atomic()` blocks are savepoints.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fastmango.orm.exceptions import NoSessionError

_ATOMIC_DEPTH = "fastmango_atomic_depth"


class SessionScope:
    """One unit of database work with a lazily created session."""

    def __init__(self, factory: async_sessionmaker[AsyncSession]) -> None:
        self._factory = factory
        self._session: AsyncSession | None = None

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            self._session = self._factory()
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


_current_scope: ContextVar[SessionScope | None] = ContextVar("fastmango_scope", default=None)


def current_session() -> AsyncSession:
    """The session of the innermost open scope; raises NoSessionError outside one."""
    scope = _current_scope.get()
    if scope is None:
        raise NoSessionError()
    return scope.session


@asynccontextmanager
async def session_scope(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[SessionScope]:
    """Open a scope for the current task; its session is closed (rolled back) at exit."""
    scope = SessionScope(factory)
    token = _current_scope.set(scope)
    try:
        yield scope
    finally:
        _current_scope.reset(token)
        await scope.close()


def in_atomic(session: AsyncSession) -> bool:
    return bool(session.info.get(_ATOMIC_DEPTH, 0))


async def finish_write(session: AsyncSession) -> None:
    """After a write: flush inside `atomic()`, else commit."""
    if in_atomic(session):
        await session.flush()
    else:
        await session.commit()


@asynccontextmanager
async def write(session: AsyncSession) -> AsyncIterator[AsyncSession]:
    """Wrap one ORM write: commit after it (outside `atomic()`), roll back if it fails.

    Inside `atomic()` a failure propagates and the atomic block rolls back.
    """
    try:
        yield session
        await finish_write(session)
    except BaseException:
        if not in_atomic(session) and session.in_transaction():
            await session.rollback()
        raise


@asynccontextmanager
async def atomic(session: AsyncSession | None = None) -> AsyncIterator[AsyncSession]:
    """Run a block in one transaction (or a savepoint when nested)."""
    session = session if session is not None else current_session()
    depth: int = session.info.get(_ATOMIC_DEPTH, 0)
    session.info[_ATOMIC_DEPTH] = depth + 1
    try:
        if depth == 0:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise
        else:
            async with session.begin_nested():  # a SAVEPOINT, rolled back on error
                yield session
    finally:
        session.info[_ATOMIC_DEPTH] = depth
