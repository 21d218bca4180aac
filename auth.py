"""Accounts: password hashing and password rules.

Hashing is argon2 (pwdlib); bcrypt hashes from older systems still verify and are
upgraded on the next successful login (`verify_and_update`).
"""

from __future__ import annotations

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from pwdlib.hashers.bcrypt import BcryptHasher

from errors import ValidationError

password_hash = PasswordHash((Argon2Hasher(), BcryptHasher()))

# The most common passwords of public breach lists; a long list belongs in a file
# when the accounts issue lands, this keeps the obvious ones out meanwhile.
COMMON_PASSWORDS = frozenset(
    {
        "password",
        "password1",
        "password123",
        "123456789",
        "1234567890",
        "12345678910",
        "qwertyuiop",
        "1q2w3e4r5t",
        "iloveyou123",
        "letmein123",
        "welcome123",
        "admin12345",
        "administrator",
        "changeme123",
        "passw0rd123",
        "qwerty123456",
        "football123",
        "monkey12345",
        "abc1234567",
        "sunshine123",
    }
)


def hash_password(password: str) -> str:
    return password_hash.hash(password)


def verify_password(password: str, hashed: str) -> tuple[bool, str | None]:
    """(matches, new hash to store when the old one uses an outdated scheme)."""
    return password_hash.verify_and_update(password, hashed)


def validate_password(password: str, *, min_length: int, email: str = "") -> None:
    """Raise ValidationError listing every rule the password breaks."""
    problems: list[str] = []
    if len(password) < min_length:
        problems.append(
            f"This password is too short: it must have at least {min_length} characters."
        )
    if password.lower() in COMMON_PASSWORDS:
        problems.append("This password is too common.")
    if password.isdigit():
        problems.append("This password is entirely numeric.")
    local_part = email.split("@")[0].lower()
    if local_part and len(local_part) >= 3 and local_part in password.lower():
        problems.append("This password is too similar to the email address.")
    if problems:
        raise ValidationError(
            " ".join(problems), errors=[{"field": "password", "msg": p} for p in problems]
        )
