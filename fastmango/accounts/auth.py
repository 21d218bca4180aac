"""Accounts: password hashing and rules, fastapi-users wiring, who is asking, what they may do.

Hashing is argon2 (pwdlib); bcrypt hashes still verify and are upgraded on the next
login. Hashing takes tens of milliseconds of CPU, so it always runs in a worker
thread, never on the event loop.

Sessions and API tokens are fastapi-users strategies: rows in `access_tokens`
(only a digest stored) or keys in Redis when REDIS_URL is set, with a per-user
index so that all of a user's tokens can be revoked at once. Both are revoked
on logout, unlike a bare JWT.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from collections.abc import Callable, Coroutine
from typing import Annotated, Any, Literal

import jwt
from fastapi import Depends, Request
from fastapi_users import BaseUserManager, IntegerIDMixin, exceptions
from fastapi_users.authentication.strategy import DatabaseStrategy, RedisStrategy, Strategy
from fastapi_users.authentication.strategy.db import AccessTokenDatabase
from fastapi_users.jwt import decode_jwt, generate_jwt
from fastapi_users.password import PasswordHelper
from fastapi_users_db_sqlalchemy import SQLAlchemyUserDatabase
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from pwdlib.hashers.bcrypt import BcryptHasher
from redis.asyncio import Redis
from sqlalchemy import select, union
from sqlmodel import col

from fastmango.accounts.models import (
    AccessToken,
    GroupPermissionLink,
    Permission,
    User,
    UserGroupLink,
    UserPermissionLink,
)
from fastmango.accounts.passwords import COMMON_PASSWORDS
from fastmango.conf import BaseSettings
from fastmango.db import SessionDep
from fastmango.errors import NotAuthenticated, PermissionDenied, ValidationError
from fastmango.orm import current_session, instance_info
from fastmango.web.cookies import SESSION_COOKIE

password_hash = PasswordHash((Argon2Hasher(), BcryptHasher()))
TOKEN_KEY_PREFIX = "fastmango:token:"  # noqa: S105 (a Redis key prefix)
# A sorted set per user: its live tokens, scored by when each expires.
USER_TOKENS_PREFIX = "fastmango:user-tokens:"
# Verified against for unknown emails, so a miss takes as long as a wrong password.
_DUMMY_HASH = password_hash.hash("fastmango-timing-equaliser")


def hash_password(password: str) -> str:
    return password_hash.hash(password)


async def hash_password_async(password: str) -> str:
    return await asyncio.to_thread(password_hash.hash, password)


def verify_password(password: str, hashed: str) -> tuple[bool, str | None]:
    """(matches, new hash to store when the old one uses an outdated scheme)."""
    return password_hash.verify_and_update(password, hashed)


def validate_password(password: str, *, min_length: int, email: str = "") -> None:
    """Raise ValidationError listing every rule the password breaks."""
    problems: list[str] = []
    if len(password) < min_length:
        problems.append(f"This password is too short: use at least {min_length} characters.")
    if password.lower() in COMMON_PASSWORDS:
        problems.append("This password is too common.")
    if password.isdigit():
        problems.append("This password is entirely numeric.")
    local_part = email.split("@")[0].lower()
    if len(local_part) >= 3 and local_part in password.lower():
        problems.append("This password is too similar to the email address.")
    if problems:
        errors = [{"field": "password", "msg": problem} for problem in problems]
        raise ValidationError(" ".join(problems), errors=errors)


# -- fastapi-users -----------------------------------------------------------------------


class UserManager(IntegerIDMixin, BaseUserManager[User, int]):
    """fastapi-users' manager with hashing moved off the event loop and our password rules."""

    def __init__(self, user_db: SQLAlchemyUserDatabase[User, int], settings: BaseSettings) -> None:
        super().__init__(user_db, PasswordHelper(password_hash))
        self.settings = settings
        self.reset_password_token_secret = settings.secret_key.get_secret_value()
        self.verification_token_secret = settings.secret_key.get_secret_value()
        self.reset_password_token_lifetime_seconds = 3600

    async def validate_password(self, password: str, user: Any) -> None:
        email = getattr(user, "email", "")
        try:
            validate_password(password, min_length=self.settings.password_min_length, email=email)
        except ValidationError as exc:
            raise exceptions.InvalidPasswordException(reason=exc.detail) from None

    async def authenticate_email(self, email: str, password: str) -> User | None:
        """The active-or-not user with these credentials, upgrading an old hash; else None."""
        try:
            user = await self.get_by_email(email.strip())
        except exceptions.UserNotExists:
            await asyncio.to_thread(password_hash.verify, password, _DUMMY_HASH)
            return None
        verified, new_hash = await asyncio.to_thread(
            password_hash.verify_and_update, password, user.hashed_password
        )
        if not verified:
            return None
        if new_hash is not None:
            await self.user_db.update(user, {"hashed_password": new_hash})
        return user

    async def set_password(self, user: User, password: str) -> User:
        """Check the rules, hash in a thread, store."""
        await self.validate_password(password, user)
        hashed = await hash_password_async(password)
        updated: User = await self.user_db.update(user, {"hashed_password": hashed})
        return updated

    async def reset_token(self, user: User) -> str:
        """A signed, one-hour reset token, void once the password changes."""
        fingerprint = await asyncio.to_thread(password_hash.hash, user.hashed_password)
        payload = {
            "sub": str(user.id),
            "password_fgpt": fingerprint,
            "aud": self.reset_password_token_audience,
        }
        return generate_jwt(
            payload, self.reset_password_token_secret, self.reset_password_token_lifetime_seconds
        )

    async def user_for_reset_token(self, token: str) -> User:
        """The user a valid reset token names; raises InvalidResetPasswordToken otherwise."""
        try:
            data = decode_jwt(
                token, self.reset_password_token_secret, [self.reset_password_token_audience]
            )
            user = await self.get(self.parse_id(data["sub"]))
            fingerprint = str(data["password_fgpt"])
        except (jwt.PyJWTError, KeyError, exceptions.InvalidID, exceptions.UserNotExists):
            raise exceptions.InvalidResetPasswordToken() from None
        matches = await asyncio.to_thread(password_hash.verify, user.hashed_password, fingerprint)
        if not matches or not user.is_active:
            raise exceptions.InvalidResetPasswordToken()
        return user


class HashedAccessTokenDatabase(AccessTokenDatabase[AccessToken]):
    """Access tokens for fastapi-users' DatabaseStrategy, stored as SHA-256 digests."""

    @staticmethod
    def digest(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    async def get_by_token(self, token: str, max_age: Any = None) -> AccessToken | None:
        qs = AccessToken.objects.filter(token=self.digest(token))
        if max_age is not None:
            qs = qs.filter(created_at__gte=max_age)
        row: AccessToken | None = await qs.first()
        return row

    async def create(self, create_dict: dict[str, Any]) -> AccessToken:
        raw = str(create_dict["token"])
        await AccessToken.objects.create(token=self.digest(raw), user_id=create_dict["user_id"])
        # The strategy hands `.token` to the client: the raw value, never stored.
        return AccessToken(token=raw, user_id=create_dict["user_id"])

    async def update(self, access_token: AccessToken, update_dict: dict[str, Any]) -> AccessToken:
        raise NotImplementedError("access tokens are never updated")

    async def delete(self, access_token: AccessToken) -> None:
        await AccessToken.objects.filter(token=access_token.token).delete()


class IndexedRedisStrategy(RedisStrategy[User, int]):
    """fastapi-users' RedisStrategy that also lists each user's tokens in a sorted set,
    written in the same transaction as the token, so `revoke_redis_tokens` finds them all."""

    def __init__(self, redis: Redis, lifetime_seconds: int) -> None:
        super().__init__(redis, lifetime_seconds, key_prefix=TOKEN_KEY_PREFIX)
        self.lifetime = lifetime_seconds

    async def write_token(self, user: User) -> str:
        token = secrets.token_urlsafe()
        index = f"{USER_TOKENS_PREFIX}{user.id}"
        now = time.time()
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(f"{TOKEN_KEY_PREFIX}{token}", str(user.id), ex=self.lifetime)
            pipe.zremrangebyscore(index, "-inf", now)  # tokens that expired by themselves
            pipe.zadd(index, {token: now + self.lifetime})
            pipe.expire(index, self.lifetime)  # the newest token outlives the others
            await pipe.execute()
        return token

    async def destroy_token(self, token: str, user: User) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(f"{TOKEN_KEY_PREFIX}{token}")
            pipe.zrem(f"{USER_TOKENS_PREFIX}{user.id}", token)
            await pipe.execute()


# One script, so a token written while the set is read cannot escape the revocation.
_REVOKE_ALL = """
local tokens = redis.call('ZRANGE', KEYS[1], 0, -1)
for _, token in ipairs(tokens) do
    redis.call('DEL', ARGV[1] .. token)
end
redis.call('DEL', KEYS[1])
return #tokens
"""


async def revoke_redis_tokens(redis: Redis, user_id: int) -> int:
    """Delete every token IndexedRedisStrategy issued to the user; returns how many."""
    revoke = redis.register_script(_REVOKE_ALL)
    count: int = await revoke(keys=[f"{USER_TOKENS_PREFIX}{user_id}"], args=[TOKEN_KEY_PREFIX])
    return count


async def get_user_db(session: SessionDep) -> SQLAlchemyUserDatabase[User, int]:
    return SQLAlchemyUserDatabase(session, User)


UserDbDep = Annotated[SQLAlchemyUserDatabase[User, int], Depends(get_user_db)]


async def get_user_manager(request: Request, user_db: UserDbDep) -> UserManager:
    return UserManager(user_db, request.app.state.settings)


UserManagerDep = Annotated[UserManager, Depends(get_user_manager)]


async def get_strategy(request: Request) -> Strategy[User, int]:
    settings: BaseSettings = request.app.state.settings
    redis = request.app.state.redis
    if redis is not None:
        return IndexedRedisStrategy(redis, settings.session_lifetime_seconds)
    return DatabaseStrategy(HashedAccessTokenDatabase(), settings.session_lifetime_seconds)


StrategyDep = Annotated[Strategy[User, int], Depends(get_strategy)]


def request_token(request: Request) -> tuple[str | None, Literal["bearer", "cookie"] | None]:
    """The credential a request carries: a Bearer header wins over the session cookie."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip(), "bearer"
    cookie = request.cookies.get(SESSION_COOKIE)
    return (cookie, "cookie") if cookie else (None, None)


# -- permissions ---------------------------------------------------------------------------


async def load_permissions(user: User) -> set[str]:
    """Read the user's codenames (through groups and direct grants) in one query."""
    via_groups = (
        select(col(Permission.codename))
        .join(GroupPermissionLink, col(GroupPermissionLink.permission_id) == col(Permission.id))
        .join(UserGroupLink, col(UserGroupLink.group_id) == col(GroupPermissionLink.group_id))
        .where(col(UserGroupLink.user_id) == user.id)
    )
    direct = (
        select(col(Permission.codename))
        .join(UserPermissionLink, col(UserPermissionLink.permission_id) == col(Permission.id))
        .where(col(UserPermissionLink.user_id) == user.id)
    )
    rows = await current_session().execute(union(via_groups, direct))
    permissions = set(rows.scalars())
    instance_info(user)["permissions"] = permissions
    return permissions


def user_permissions(user: User) -> set[str]:
    """Codenames loaded by `load_permissions` (empty if they were not loaded)."""
    permissions: set[str] = instance_info(user).get("permissions", set())
    return permissions


# -- dependencies --------------------------------------------------------------------------


async def get_optional_user(
    request: Request, strategy: StrategyDep, manager: UserManagerDep
) -> User | None:
    """The signed-in, active user, with permissions loaded; None for anonymous requests."""
    if hasattr(request.state, "user"):
        cached: User | None = request.state.user
        return cached
    token, _kind = request_token(request)
    user = await strategy.read_token(token, manager) if token else None
    if user is not None and not user.is_active:
        user = None
    if user is not None:
        await load_permissions(user)
    request.state.user = user
    return user


OptionalUser = Annotated[User | None, Depends(get_optional_user)]


async def get_current_user(user: OptionalUser) -> User:
    if user is None:
        raise NotAuthenticated("Sign in to continue.")
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


async def get_staff_user(user: CurrentUser) -> User:
    if not (user.is_staff or user.is_superuser):
        raise PermissionDenied("Staff only.")
    return user


StaffUser = Annotated[User, Depends(get_staff_user)]


async def get_superuser(user: CurrentUser) -> User:
    if not user.is_superuser:
        raise PermissionDenied("Superusers only.")
    return user


SuperUser = Annotated[User, Depends(get_superuser)]


def require_perm(*codenames: str) -> Callable[[User], Coroutine[Any, Any, User]]:
    """A dependency: the current user if they hold every codename, else 403 (401 if anonymous).

    `user: Annotated[User, Depends(require_perm("product.change"))]`
    """

    async def dependency(user: CurrentUser) -> User:
        missing = [codename for codename in codenames if not user.has_perm(codename)]
        if missing:
            raise PermissionDenied(f"You need the permission {', '.join(missing)}.")
        return user

    return dependency
