"""Sign-in rate limits: attempts counted per client IP and per account.

Counters live in a `limits` storage (memory by default, Redis when REDIS_URL is set, so every
worker and server shares them), counted with its moving-window strategy. Each attempt is counted
before the password is checked, in one atomic step, so parallel guesses cannot slip past the
limit; a successful sign-in clears the account's counter, so an author is not held back by their
own earlier typos.
"""

from __future__ import annotations

import hashlib
import math
import time

from flask import Flask, current_app
from limits import RateLimitItem, parse
from limits.errors import ConfigurationError
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import MovingWindowRateLimiter, RateLimiter

from ..config import ConfigError

# Used only while the shared storage is unreachable, so sign-in stays limited (per process).
_fallback = MovingWindowRateLimiter(MemoryStorage())


def init_app(app: Flask) -> None:
    """Check the limits and open their storage (a Redis client connects on first use)."""
    _check_limit_settings(app)
    try:
        storage = storage_from_string(app.config["RATELIMIT_STORAGE_URI"])
    except ConfigurationError as e:
        raise ConfigError(
            f"REDIS_URL is not a Redis address ({e}); e.g. redis://127.0.0.1:6379/0"
        ) from None
    app.extensions["inkwell_sign_in_limits"] = MovingWindowRateLimiter(storage)


def _check_limit_settings(app: Flask) -> None:
    for name in ("LOGIN_RATE_LIMIT_IP", "LOGIN_RATE_LIMIT_ACCOUNT"):
        try:
            parse(app.config[name])
        except ValueError:
            raise ConfigError(
                f"{name} must read like '5 per 15 minutes', got {app.config[name]!r}"
            ) from None


def _checks(ip: str, email: str) -> list[tuple[RateLimitItem, tuple[str, ...]]]:
    config = current_app.config
    prefix = config["RATELIMIT_KEY_PREFIX"]
    # Hashed so that odd input never ends up in a storage key, and no address is stored.
    account = hashlib.sha256(email.encode()).hexdigest()[:32]
    return [
        (parse(config["LOGIN_RATE_LIMIT_IP"]), (prefix, "login-ip", ip)),
        (parse(config["LOGIN_RATE_LIMIT_ACCOUNT"]), (prefix, "login-account", account)),
    ]


def _run(operation):
    try:
        return operation(current_app.extensions["inkwell_sign_in_limits"])
    except Exception as e:  # any storage failure: keep limiting in this process rather than stop
        current_app.logger.error("rate limit storage failed, limiting in memory: %s", e)
        return operation(_fallback)


def count_attempt(ip: str, email: str) -> int:
    """Count a sign-in attempt: 0 when it may go ahead, else the seconds until one may."""

    def attempt(strategy: RateLimiter) -> int:
        checks = _checks(ip, email)
        for item, key in checks:
            if not strategy.test(item, *key):
                return _wait(strategy, item, key)
        for item, key in checks:
            if not strategy.hit(item, *key):
                return _wait(strategy, item, key)
        return 0

    return _run(attempt)


def _wait(strategy: RateLimiter, item: RateLimitItem, key: tuple[str, ...]) -> int:
    reset = strategy.get_window_stats(item, *key).reset_time
    return max(1, math.ceil(reset - time.time()))


def clear_account(ip: str, email: str) -> None:
    item, key = _checks(ip, email)[1]
    _run(lambda strategy: strategy.clear(item, *key))
