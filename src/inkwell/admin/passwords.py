"""Password hashing (argon2id) and the password rules: long enough and not a common one.

Parameters are OWASP's minimum for argon2id (19 MiB, 2 passes, 1 lane). There are no composition
rules and no maximum length: argon2 hashes the whole password, so nothing is truncated.
"""

from __future__ import annotations

import functools
from importlib import resources

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 8
# The form refuses anything longer: hashing megabytes of "password" would be a cheap DoS.
MAX_LENGTH = 1024

_hasher = PasswordHasher(
    time_cost=2, memory_cost=19456, parallelism=1, hash_len=32, salt_len=16, type=Type.ID
)


class WeakPassword(ValueError):
    """The password breaks a rule; the message tells the person what to change."""


def check_password_rules(password: str) -> None:
    """Raise WeakPassword when `password` is too short, too long or a common password."""
    if len(password) < MIN_LENGTH:
        raise WeakPassword(
            f"The password must be at least {MIN_LENGTH} characters long; "
            "a few unrelated words make a good one."
        )
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"The password may be at most {MAX_LENGTH} characters long.")
    if password.strip().lower() in common_passwords():
        raise WeakPassword(
            "This password is one of the most common passwords, so attackers try it first. "
            "Choose another one."
        )


@functools.cache
def common_passwords() -> frozenset[str]:
    text = resources.files(__package__).joinpath("common-passwords.txt").read_text("utf-8")
    return frozenset(
        line for line in text.splitlines() if line and not line.startswith("# ")
    )


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with weaker parameters than today's."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


@functools.cache
def dummy_hash() -> str:
    """Verified against when the email is unknown, so both answers take as long."""
    return _hasher.hash("not-a-real-account-password")
