"""Sign-in rate limits that keep brute force out without handing attackers a lockout.

The design is OWASP's device cookies ("Slow Down Online Guessing Attacks with Device Cookies"):
a browser that signed in to an account before carries a signed cookie for it (`DEVICE_COOKIE`),
and its attempts are counted on that device alone (LOGIN_RATE_LIMIT_ACCOUNT). Every other
attempt is counted three ways: per client address (LOGIN_RATE_LIMIT_IP), per account and address
(LOGIN_RATE_LIMIT_ACCOUNT), and per account from all untrusted clients together, a slower
ceiling (LOGIN_RATE_LIMIT_ACCOUNT_GLOBAL) that stops guessing spread over many addresses. So
failures from elsewhere, however many and from however many addresses, never lock out the owner's
own browser; and they lock out a new browser only by the global ceiling, not after 5 tries.
(A per-account counter alone, as before, let 18 wrong passwords from spoofed addresses answer the
owner's correct one with 429 for 15 minutes.)

The counters are shared by every worker and server: in Redis when REDIS_URL is set, otherwise in
the database every worker already uses (table sign_in_attempts; also the fallback while Redis
is unreachable). No counter lives in one process's memory. Each attempt is counted before the
password is checked, and counted first, checked after, so parallel guesses cannot slip past.
"""

from __future__ import annotations

import hashlib
import math
import secrets
import time
from datetime import timedelta

from flask import Flask, Response, current_app, request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from limits import RateLimitItem, parse
from limits.errors import ConfigurationError
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy import Column, DateTime, Integer, String, Table, delete, func, insert, select

from ..config import ConfigError
from ..extensions import db
from ..models import utcnow

DEVICE_COOKIE = "inkwell_device"
DEVICE_MAX_AGE = 365 * 24 * 3600
LIMIT_SETTINGS = ("LOGIN_RATE_LIMIT_IP", "LOGIN_RATE_LIMIT_ACCOUNT",
                  "LOGIN_RATE_LIMIT_ACCOUNT_GLOBAL")

# Created by migration 0005; left out of backups (backup.SKIPPED_TABLES).
sign_in_attempts = Table(
    "sign_in_attempts", db.metadata,
    Column("id", Integer, primary_key=True),
    Column("key", String(64), nullable=False),
    Column("at", DateTime, nullable=False),
)


def init_app(app: Flask) -> None:
    """Check the limits and open their storage (a Redis client connects on first use)."""
    for name in LIMIT_SETTINGS:
        try:
            parse(app.config[name])
        except ValueError:
            raise ConfigError(
                f"{name} must read like '5 per 15 minutes', got {app.config[name]!r}"
            ) from None
    limiter = DatabaseLimiter()
    if app.config["REDIS_URL"]:
        try:
            limiter = MovingWindowRateLimiter(storage_from_string(app.config["REDIS_URL"]))
        except ConfigurationError as e:
            raise ConfigError(
                f"REDIS_URL is not a Redis address ({e}); e.g. redis://127.0.0.1:6379/0"
            ) from None
    app.extensions["inkwell_sign_in_limits"] = limiter


class DatabaseLimiter:
    """A moving window over rows of sign_in_attempts; the limits strategy methods we use."""

    @staticmethod
    def _key(item: RateLimitItem, identifiers: tuple[str, ...]) -> str:
        return hashlib.sha256(item.key_for(*identifiers).encode()).hexdigest()

    def _since(self, item: RateLimitItem):
        return utcnow() - timedelta(seconds=item.get_expiry())

    def _count(self, key: str, item: RateLimitItem) -> int:
        return db.session.scalar(select(func.count()).select_from(sign_in_attempts).where(
            sign_in_attempts.c.key == key, sign_in_attempts.c.at > self._since(item)))

    def test(self, item: RateLimitItem, *identifiers: str) -> bool:
        allowed = self._count(self._key(item, identifiers), item) < item.amount
        db.session.commit()
        return allowed

    def hit(self, item: RateLimitItem, *identifiers: str) -> bool:
        key = self._key(item, identifiers)
        db.session.execute(delete(sign_in_attempts).where(  # older than a day: forgotten
            sign_in_attempts.c.at < utcnow() - timedelta(days=1)))
        db.session.execute(insert(sign_in_attempts).values(key=key, at=utcnow()))
        db.session.commit()  # counted first, then checked: at most `amount` ever get through
        allowed = self._count(key, item) <= item.amount
        db.session.commit()
        return allowed

    def get_window_stats(self, item: RateLimitItem, *identifiers: str):
        oldest = db.session.scalar(select(func.min(sign_in_attempts.c.at)).where(
            sign_in_attempts.c.key == self._key(item, identifiers),
            sign_in_attempts.c.at > self._since(item)))
        db.session.commit()
        reset = time.time() + (0 if oldest is None else
                               item.get_expiry() - (utcnow() - oldest).total_seconds())
        return reset, 0

    def clear(self, item: RateLimitItem, *identifiers: str) -> None:
        db.session.execute(delete(sign_in_attempts).where(
            sign_in_attempts.c.key == self._key(item, identifiers)))
        db.session.commit()


# --- which counters an attempt goes on -----------------------------------------------------------


def _account(email: str) -> str:
    # Hashed so that odd input never ends up in a storage key, and no address is stored.
    return hashlib.sha256(email.encode()).hexdigest()[:32]


def _checks(ip: str, email: str, device: str | None) -> list[tuple[RateLimitItem, tuple]]:
    config = current_app.config
    prefix, account = config["RATELIMIT_KEY_PREFIX"], _account(email)
    per_account = parse(config["LOGIN_RATE_LIMIT_ACCOUNT"])
    if device:  # a browser that signed in to this account before: its own counter only
        return [(per_account, (prefix, "login-device", device))]
    return [
        (parse(config["LOGIN_RATE_LIMIT_IP"]), (prefix, "login-ip", ip)),
        (per_account, (prefix, "login-account-ip", account, ip)),
        (parse(config["LOGIN_RATE_LIMIT_ACCOUNT_GLOBAL"]), (prefix, "login-account", account)),
    ]


def _run(operation):
    limiter = current_app.extensions["inkwell_sign_in_limits"]
    try:
        return operation(limiter)
    except Exception as e:
        if isinstance(limiter, DatabaseLimiter):
            raise  # the database is down: sign-in cannot work anyway (a 503 page)
        # Redis unreachable: the database's counters, shared too, rather than none.
        current_app.logger.error("rate limit storage failed, counting in the database: %s", e)
        return operation(DatabaseLimiter())


def count_attempt(ip: str, email: str, device: str | None = None) -> int:
    """Count a sign-in attempt: 0 when it may go ahead, else the seconds until one may.
    `device`: trusted_device()'s answer for this browser and account."""

    def attempt(strategy) -> int:
        checks = _checks(ip, email, device)
        for item, key in checks:
            if not strategy.test(item, *key):
                return _wait(strategy, item, key)
        for item, key in checks:
            if not strategy.hit(item, *key):
                return _wait(strategy, item, key)
        return 0

    return _run(attempt)


def _wait(strategy, item: RateLimitItem, key: tuple[str, ...]) -> int:
    reset = strategy.get_window_stats(item, *key)[0]
    return max(1, math.ceil(reset - time.time()))


def clear_account(ip: str, email: str, device: str | None = None) -> None:
    """After a successful sign-in: this browser's own failures are forgotten (neither its
    address's nor the global ceiling's: other clients' guesses still count there)."""
    item, key = _checks(ip, email, device)[0 if device else 1]
    _run(lambda strategy: strategy.clear(item, *key))


# --- device cookies ------------------------------------------------------------------------------


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="inkwell-device")


def trusted_device(email: str) -> str | None:
    """The id of this browser's device cookie when it was issued for `email`'s account."""
    raw = request.cookies.get(DEVICE_COOKIE)
    if not raw:
        return None
    try:
        value = _serializer().loads(raw, max_age=DEVICE_MAX_AGE)
    except BadSignature:
        return None
    if not isinstance(value, dict) or value.get("account") != _account(email):
        return None
    device = value.get("device")
    return device if isinstance(device, str) else None


def remember_device(response: Response, email: str) -> None:
    """Give the browser that just signed in a device cookie for the account."""
    value = _serializer().dumps({"account": _account(email), "device": secrets.token_hex(16)})
    response.set_cookie(
        DEVICE_COOKIE, value, max_age=DEVICE_MAX_AGE, path="/admin/login", httponly=True,
        secure=current_app.config["SESSION_COOKIE_SECURE"], samesite="Strict",
    )
