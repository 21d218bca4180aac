"""Signing in and out, registration and password resets, for pages and the API alike."""

from __future__ import annotations

import asyncio

from fastapi_users import exceptions
from fastapi_users.authentication.strategy import RedisStrategy, Strategy
from fastapi_users_db_sqlalchemy import SQLAlchemyUserDatabase
from redis.asyncio import Redis
from starlette.background import BackgroundTasks
from starlette.requests import Request

from fastmango.accounts.account_service import insert_user, normalize_email, revoke_sessions
from fastmango.accounts.auth import (
    UserManager,
    hash_password_async,
    password_hash,
    validate_password,
)
from fastmango.accounts.models import User
from fastmango.accounts.throttle import LoginThrottle
from fastmango.conf import BaseSettings
from fastmango.db import Database
from fastmango.errors import NotAuthenticated, ValidationError
from fastmango.mail import EmailMessage, Mailer
from fastmango.orm import current_session, utcnow
from fastmango.signals import user_logged_in, user_logged_out

INVALID_CREDENTIALS = "Email or password is wrong."
# Hashed in place of a reset fingerprint for unknown addresses: the same work either way.
_NO_ACCOUNT = "fastmango-no-such-account"


class AuthService:
    """One request's view of accounts: the manager, the token strategy, throttle and mailer."""

    def __init__(
        self,
        manager: UserManager,
        strategy: Strategy[User, int],
        throttle: LoginThrottle,
        mailer: Mailer,
    ) -> None:
        self.manager = manager
        self.strategy = strategy
        self.throttle = throttle
        self.mailer = mailer
        # Sessions live in Redis when the strategy does; revocation must reach them there.
        self.redis: Redis | None = strategy.redis if isinstance(strategy, RedisStrategy) else None

    async def login(
        self, email: str, password: str, ip: str, request: Request | None = None
    ) -> tuple[User, str]:
        """Reserve a throttle slot, check the credentials; returns the user and a new token.

        Raises throttle.Throttled (429) or NotAuthenticated with one message for every
        failure, so nobody learns which accounts exist. The slot is reserved before the
        slow hash, so concurrent guesses are counted as they start, not as they fail.
        Sends user_logged_in (user, request) once the token is issued.
        """
        attempt = await self.throttle.reserve(email, ip)
        user = await self.manager.authenticate_email(email, password)
        if user is None or not user.is_active:
            raise NotAuthenticated(INVALID_CREDENTIALS)  # the reservation stays: a failure
        await self.throttle.succeeded(attempt)
        user.last_login = utcnow()
        await user.save()
        token = await self.strategy.write_token(user)
        await user_logged_in.send(type(user), user=user, request=request)
        return user, token

    async def logout(self, token: str, user: User, request: Request | None = None) -> None:
        """Revoke this session or API token (the others of the user stay valid); then
        send user_logged_out (user, request)."""
        await self.strategy.destroy_token(token, user)
        await user_logged_out.send(type(user), user=user, request=request)

    async def register(self, email: str, password: str, full_name: str = "") -> User:
        """A new active user; Conflict (409) when the email is taken, races included."""
        email = normalize_email(email)
        validate_password(
            password, min_length=self.manager.settings.password_min_length, email=email
        )
        hashed = await hash_password_async(password)
        return await insert_user(email, hashed, full_name=full_name.strip()[:255])

    def request_reset(
        self, email: str, reset_url: str, database: Database, tasks: BackgroundTasks
    ) -> None:
        """Schedule `send_reset_mail` for after the response.

        The request does the same (no) lookup and hashing whether or not the address
        has an account, so its answer and its timing tell nobody which ones exist.
        """
        tasks.add_task(
            send_reset_mail,
            email.strip()[:320],
            reset_url,
            database=database,
            settings=self.manager.settings,
            mailer=self.mailer,
        )

    async def check_reset_token(self, token: str) -> User:
        try:
            return await self.manager.user_for_reset_token(token)
        except exceptions.InvalidResetPasswordToken:
            raise ValidationError("This reset link is invalid or has expired.") from None

    async def reset_password(self, token: str, password: str) -> User:
        """Set the new password and sign the user out everywhere (stolen sessions die too)."""
        user = await self.check_reset_token(token)
        await self._set_password(user, password)
        await revoke_sessions(_pk(user), self.redis)
        return user

    async def change_password(
        self, user: User, current: str, new: str, ip: str
    ) -> tuple[User, str]:
        """Check the current password (throttled like a login), store the new one and
        sign out every session and token of the user; returns a fresh token for the
        session that asked, so it alone stays signed in."""
        attempt = await self.throttle.reserve(user.email, ip)
        verified = await self.manager.authenticate_email(user.email, current)
        if verified is None:
            raise ValidationError(
                "Your current password is wrong.",
                errors=[{"field": "current_password", "msg": "Wrong password."}],
            )
        await self.throttle.succeeded(attempt)
        user = await self._set_password(user, new)
        await revoke_sessions(_pk(user), self.redis)
        return user, await self.strategy.write_token(user)

    async def _set_password(self, user: User, password: str) -> User:
        try:
            return await self.manager.set_password(user, password)
        except exceptions.InvalidPasswordException as exc:
            reason = str(exc.reason)
            raise ValidationError(reason, errors=[{"field": "password", "msg": reason}]) from None


def _pk(user: User) -> int:
    assert user.id is not None  # rows read from the database have their id
    return user.id


async def send_reset_mail(
    email: str, reset_url: str, *, database: Database, settings: BaseSettings, mailer: Mailer
) -> None:
    """Email a reset link when `email` belongs to an active user; for any other address
    do the same lookup and hashing and send nothing.

    Plain values in, its own database session: it runs after the response now and can
    move to a task queue as it is.
    """
    async with database.session():
        manager = UserManager(SQLAlchemyUserDatabase(current_session(), User), settings)
        try:
            user: User | None = await manager.get_by_email(email)
        except exceptions.UserNotExists:
            user = None
        if user is None or not user.is_active:
            await asyncio.to_thread(password_hash.hash, _NO_ACCOUNT)
            return
        token = await manager.reset_token(user)
    body = (
        f"Someone asked to reset the password of {user.email}.\n\n"
        f"Choose a new one within the hour: {reset_url}?token={token}\n\n"
        "If it was not you, ignore this message; your password stays as it is.\n"
    )
    await mailer.send(EmailMessage(to=user.email, subject="Reset your password", body=body))
