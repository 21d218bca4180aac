"""Accounts: users, passwords, Django-style permissions and the role groups built from them."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from email_validator import EmailNotValidError, validate_email
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from fastmango.accounts.auth import hash_password_async, revoke_redis_tokens, validate_password
from fastmango.accounts.models import (
    AccessToken,
    Group,
    GroupPermissionLink,
    Permission,
    User,
    UserGroupLink,
)
from fastmango.errors import Conflict, NotFound, ValidationError
from fastmango.orm import Model, atomic, current_session

# Codenames are `<model>.<action>` as in Django, four for every model.
PERMISSION_ACTIONS = ("view", "add", "change", "delete")

DEFAULT_PASSWORD_MIN_LENGTH = 10


def permission_models() -> list[type[Model]]:
    """Every table of the project and the framework, as Django makes permissions for each."""
    models = [m.class_ for m in Model._sa_registry.mappers if issubclass(m.class_, Model)]
    return sorted(models, key=lambda model: model.__name__.lower())


def all_codenames() -> list[str]:
    """Every permission codename (`product.view` ...): four per model, in a stable order."""
    return [
        f"{model.__name__.lower()}.{action}"
        for model in permission_models()
        for action in PERMISSION_ACTIONS
    ]


def _pk(row: User | Group) -> int:
    # Rows read from the database always have their id; this narrows `int | None`.
    assert row.id is not None
    return row.id


def normalize_email(email: str) -> str:
    """Check the address's syntax (no DNS lookup) and lowercase it all."""
    try:
        checked = validate_email(email.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValidationError(f"Enter a valid email address: {exc}") from None
    return checked.normalized.lower()


async def revoke_sessions(user_id: int, redis: Redis | None) -> None:
    """Sign the user out everywhere: every browser session and API token, both the rows
    in `access_tokens` and (when the app uses Redis) the keys in Redis.

    The one place that does it, for a password change or reset, an account switched
    off and a staff member demoted (in the admin).
    """
    await AccessToken.objects.filter(user_id=user_id).delete()
    if redis is not None:
        await revoke_redis_tokens(redis, user_id)


async def insert_user(email: str, hashed_password: str, **fields: object) -> User:
    """Insert a user whose `email` is normalised already; a taken email is a Conflict,
    also when a concurrent insert wins the race after our check."""
    message = f"A user with the email {email} already exists."
    if await User.objects.filter(email=email).exists():
        raise Conflict(message)
    try:
        # A savepoint (or its own transaction): a failed insert leaves the caller's
        # transaction usable, which PostgreSQL would otherwise abort.
        async with atomic():
            user: User = await User.objects.create(
                email=email, hashed_password=hashed_password, **fields
            )
    except IntegrityError:
        # `from None`: the original message can carry the statement's parameters,
        # password hash included. Only the unique email is mapped; anything else
        # is a real fault and goes on.
        if await User.objects.filter(email=email).exists():
            raise Conflict(message) from None
        raise
    return user


class AccountService:
    """Creates users and sets passwords under the password rules; keeps roles in shape.

    Writes commit when the method returns (each method is one transaction).
    """

    def __init__(
        self, *, password_min_length: int = DEFAULT_PASSWORD_MIN_LENGTH, redis: Redis | None = None
    ) -> None:
        self.password_min_length = password_min_length
        self.redis = redis  # where sessions live besides the database, to revoke them

    def check_password(self, password: str, email: str = "") -> None:
        """Raise ValidationError naming every password rule `password` breaks."""
        validate_password(password, min_length=self.password_min_length, email=email)

    async def create_user(
        self,
        email: str,
        password: str,
        *,
        full_name: str = "",
        is_staff: bool = False,
        is_superuser: bool = False,
        is_active: bool = True,
        is_verified: bool = False,
        validate: bool = True,
    ) -> User:
        """A new user with an argon2 password hash; an email already taken is a Conflict."""
        email = normalize_email(email)
        if validate:
            self.check_password(password, email)
        return await insert_user(
            email,
            await hash_password_async(password),
            full_name=full_name.strip(),
            is_staff=is_staff,
            is_superuser=is_superuser,
            is_active=is_active,
            is_verified=is_verified,
        )

    async def get_user(self, email: str) -> User:
        """The user with this email (any case); NotFound otherwise."""
        user: User | None = await User.objects.get_or_none(email=email.strip().lower())
        if user is None:
            raise NotFound(f"No user with the email {email.strip()}.")
        return user

    async def set_password(self, email: str, password: str, *, validate: bool = True) -> User:
        """Store a new argon2 hash for the user with this email and sign them out
        everywhere (Redis sessions too when this service was given the client)."""
        user = await self.get_user(email)
        if validate:
            self.check_password(password, user.email)
        user.hashed_password = await hash_password_async(password)
        saved: User = await user.save()
        await revoke_sessions(_pk(saved), self.redis)
        return saved

    async def ensure_permissions(self) -> int:
        """Create the missing permission rows; returns how many were created."""
        present = set(await Permission.objects.values_list("codename", flat=True))
        missing = [
            Permission(codename=codename, name=self._permission_name(codename))
            for codename in all_codenames()
            if codename not in present
        ]
        if missing:
            await Permission.objects.bulk_create(missing)
        return len(missing)

    async def ensure_role_groups(self, roles: Mapping[str, Iterable[str]]) -> int:
        """Create the groups `roles` names and grant each its codenames; returns groups created.

        A group that exists keeps any extra permission an admin gave it; only the
        missing ones of its role are added.
        """
        await self.ensure_permissions()
        created = 0
        session = current_session()
        async with atomic():
            ids: dict[str, int] = dict(await Permission.objects.values_list("codename", "id"))
            for name, codenames in roles.items():
                group, was_created = await Group.objects.get_or_create(name=name)
                created += was_created
                group_id = _pk(group)
                granted = set(
                    await session.scalars(
                        select(col(GroupPermissionLink.permission_id)).where(
                            col(GroupPermissionLink.group_id) == group_id
                        )
                    )
                )
                session.add_all(
                    GroupPermissionLink(group_id=group_id, permission_id=ids[codename])
                    for codename in codenames
                    if ids[codename] not in granted
                )
        return created

    async def add_to_group(self, email: str, group_name: str) -> bool:
        """Make the user a member of the group; False when they already were."""
        user = await self.get_user(email)
        group: Group = await Group.objects.get_or_404(name=group_name)
        session = current_session()
        link = UserGroupLink(user_id=_pk(user), group_id=_pk(group))
        if await session.get(UserGroupLink, (link.user_id, link.group_id)) is not None:
            return False
        async with atomic():
            session.add(link)
        return True

    @staticmethod
    def _permission_name(codename: str) -> str:
        model, action = codename.split(".")
        names = {m.__name__.lower(): m.__name__ for m in permission_models()}
        # Django's verbose name: `WebinarRegistrant` is "webinar registrant".
        words = re.sub(r"(?<!^)(?=[A-Z])", " ", names.get(model, model)).lower()
        return f"Can {action} {words}"
