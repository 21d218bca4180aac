"""Signing in and out, registration and password resets, for pages and the API alike."""

from __future__ import annotations

from fastapi_users import exceptions
from fastapi_users.authentication.strategy import DatabaseStrategy, Strategy

from fastmango.accounts.account_service import normalize_email
from fastmango.accounts.auth import UserManager, hash_password_async, validate_password
from fastmango.accounts.models import AccessToken, User
from fastmango.accounts.throttle import LoginThrottle
from fastmango.errors import Conflict, NotAuthenticated, ValidationError
from fastmango.mail import EmailMessage, Mailer
from fastmango.orm import utcnow

INVALID_CREDENTIALS = "Email or password is wrong."


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

    async def login(self, email: str, password: str, ip: str) -> tuple[User, str]:
        """Check the throttle and the credentials; returns the user and a new session token.

        Raises throttle.Throttled (429) or NotAuthenticated with one message for every
        failure, so nobody learns which accounts exist.
        """
        await self.throttle.check(email, ip)
        user = await self.manager.authenticate_email(email, password)
        if user is None or not user.is_active:
            await self.throttle.failed(email, ip)
            raise NotAuthenticated(INVALID_CREDENTIALS)
        await self.throttle.succeeded(email)
        user.last_login = utcnow()
        await user.save()
        token = await self.strategy.write_token(user)
        return user, token

    async def logout(self, token: str, user: User) -> None:
        """Revoke this session or API token (the others of the user stay valid)."""
        await self.strategy.destroy_token(token, user)

    async def register(self, email: str, password: str, full_name: str = "") -> User:
        email = normalize_email(email)
        validate_password(
            password, min_length=self.manager.settings.password_min_length, email=email
        )
        if await User.objects.filter(email=email).exists():
            raise Conflict("An account with this email already exists.")
        return await User.objects.create(
            email=email,
            hashed_password=await hash_password_async(password),
            full_name=full_name.strip()[:255],
        )

    async def request_reset(self, email: str, reset_url: str) -> None:
        """Email a reset link when the address belongs to an active user; silent otherwise."""
        try:
            user = await self.manager.get_by_email(email.strip())
        except exceptions.UserNotExists:
            return
        if not user.is_active:
            return
        token = await self.manager.reset_token(user)
        body = (
            f"Someone asked to reset the password of {user.email}.\n\n"
            f"Choose a new one within the hour: {reset_url}?token={token}\n\n"
            "If it was not you, ignore this message; your password stays as it is.\n"
        )
        await self.mailer.send(
            EmailMessage(to=user.email, subject="Reset your password", body=body)
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
        if isinstance(self.strategy, DatabaseStrategy):
            await AccessToken.objects.filter(user_id=user.id).delete()
        return user

    async def change_password(self, user: User, current: str, new: str) -> User:
        verified = await self.manager.authenticate_email(user.email, current)
        if verified is None:
            raise ValidationError(
                "Your current password is wrong.",
                errors=[{"field": "current_password", "msg": "Wrong password."}],
            )
        return await self._set_password(user, new)

    async def _set_password(self, user: User, password: str) -> User:
        try:
            return await self.manager.set_password(user, password)
        except exceptions.InvalidPasswordException as exc:
            reason = str(exc.reason)
            raise ValidationError(reason, errors=[{"field": "password", "msg": reason}]) from None
