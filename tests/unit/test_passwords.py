"""Password rules and hashing: argon2id with OWASP's parameters, length and common-password
checks, no composition rules, nothing truncated."""

from __future__ import annotations

import re

import pytest

from inkwell.admin.passwords import (
    WeakPassword,
    check_password_rules,
    hash_password,
    needs_rehash,
    verify_password,
)


def test_hash_is_argon2id_with_at_least_owasp_parameters():
    encoded = hash_password("a perfectly fine passphrase")
    match = re.match(r"^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$", encoded)
    assert match, encoded
    memory, passes, lanes = map(int, match.groups())
    assert memory >= 19456 and passes >= 2 and lanes >= 1


def test_the_same_password_hashes_differently_each_time_and_verifies():
    first, second = hash_password("correct horse"), hash_password("correct horse")
    assert first != second
    assert verify_password(first, "correct horse") and verify_password(second, "correct horse")
    assert not verify_password(first, "correct horsf")


def test_nothing_is_truncated():
    long = "x" * 500
    encoded = hash_password(long + "A")
    assert verify_password(encoded, long + "A")
    assert not verify_password(encoded, long + "B")
    assert not verify_password(encoded, long)


@pytest.mark.parametrize(
    "password", ["12345678", "password", "Password1", "iloveyou", " qwertyuiop "]
)
def test_common_passwords_are_refused_whatever_their_case(password):
    with pytest.raises(WeakPassword, match="most common passwords"):
        check_password_rules(password)


def test_short_passwords_are_refused():
    with pytest.raises(WeakPassword, match="at least 8 characters"):
        check_password_rules("k7#Qz!p")


@pytest.mark.parametrize(
    "password",
    ["all lowercase words here", "zqxjkvbwpy", "ÄÖÜ ß und mehr", "🙂🙂🙂🙂🙂🙂🙂🙂", "y" * 1024],
)
def test_no_composition_rules(password):
    check_password_rules(password)
    assert verify_password(hash_password(password), password)


def test_absurdly_long_passwords_are_refused():
    with pytest.raises(WeakPassword, match="at most"):
        check_password_rules("z" * 1025)


def test_a_garbled_or_weaker_hash_never_verifies_or_asks_for_rehash():
    assert not verify_password("not a hash", "anything")
    assert needs_rehash("not a hash")
    from argon2 import PasswordHasher

    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash("pw 123456")
    assert verify_password(weak, "pw 123456")
    assert needs_rehash(weak)
    assert not needs_rehash(hash_password("pw 123456"))
