"""Sign-in rate limits through real gunicorn: per account, per client IP, and shared between
servers through Redis. Client addresses come from X-Forwarded-For (TRUSTED_PROXIES=1), as they do
behind nginx; the addresses are documentation ones (203.0.113.0/24) and nothing is sent to them."""

from __future__ import annotations

import re
import uuid

import pytest

from ..services import REDIS_URL, gunicorn_server, missing
from .admin_support import ADMIN_EMAIL, ADMIN_PASSWORD, Browser, admin_site, create_admin, site_env

LIMITS = {
    "TRUSTED_PROXIES": "1",
    "LOGIN_RATE_LIMIT_ACCOUNT": "3 per minute",
    "LOGIN_RATE_LIMIT_IP": "4 per minute",
}


def attempt(base: str, ip: str, email: str, password: str = "wrong password, sorry"):
    browser = Browser(base)
    browser.headers["X-Forwarded-For"] = ip
    return browser.login(email, password)


def assert_told_to_wait(response) -> None:
    assert response.status_code == 429
    match = re.search(r"Try again in (\d+) s\.", response.text)
    assert match, response.text
    assert 1 <= int(match.group(1)) <= 60
    assert response.headers["Retry-After"] == match.group(1)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    # One worker: the in-memory counters are per process (REDIS_URL shares them, tested below).
    with admin_site(tmp_path_factory.mktemp("ratelimit"), workers=1, **LIMITS) as site:
        yield site


def test_an_account_is_locked_after_failures_from_many_addresses(site):
    for n in range(3):
        assert attempt(site.url, f"203.0.113.{n + 1}", ADMIN_EMAIL).status_code == 401
    # Even the right password from a fresh address waits: the account is what is guarded.
    assert_told_to_wait(attempt(site.url, "203.0.113.9", ADMIN_EMAIL, ADMIN_PASSWORD))


def test_an_address_is_limited_across_accounts(site):
    for n in range(4):
        assert attempt(site.url, "203.0.113.50", f"user{n}@example.com").status_code == 401
    assert_told_to_wait(attempt(site.url, "203.0.113.50", "another@example.com"))
    # Other addresses are not affected.
    assert attempt(site.url, "203.0.113.51", "another@example.com").status_code == 401


def test_a_successful_sign_in_clears_the_accounts_failures(site):
    made = create_admin(site.env, "typo@example.com", "my long typo-prone passphrase")
    assert made.returncode == 0, made.stderr
    for n in range(2):
        assert attempt(site.url, f"203.0.113.6{n}", "typo@example.com").status_code == 401
    right = attempt(site.url, "203.0.113.70", "typo@example.com", "my long typo-prone passphrase")
    assert right.status_code == 302
    for n in range(2):
        assert attempt(site.url, f"203.0.113.8{n}", "typo@example.com").status_code == 401


def test_limits_are_shared_between_servers_through_redis(tmp_path):
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.RedisError as e:
        missing(f"Redis is not reachable at {REDIS_URL}: {type(e).__name__}")
    prefix = f"inkwell-test-{uuid.uuid4().hex[:12]}"
    env = site_env(tmp_path, REDIS_URL=REDIS_URL, RATELIMIT_KEY_PREFIX=prefix, **LIMITS)
    assert create_admin(env).returncode == 0
    try:
        with gunicorn_server(env, cwd=tmp_path) as one, gunicorn_server(env, cwd=tmp_path) as two:
            assert attempt(one, "203.0.113.1", ADMIN_EMAIL).status_code == 401
            assert attempt(two, "203.0.113.2", ADMIN_EMAIL).status_code == 401
            assert attempt(one, "203.0.113.3", ADMIN_EMAIL).status_code == 401
            assert_told_to_wait(attempt(two, "203.0.113.4", ADMIN_EMAIL, ADMIN_PASSWORD))
            assert_told_to_wait(attempt(one, "203.0.113.5", ADMIN_EMAIL, ADMIN_PASSWORD))
        assert list(client.scan_iter(f"*{prefix}*")), "the counters were not kept in Redis"
    finally:
        for key in client.scan_iter(f"*{prefix}*"):
            client.delete(key)
        client.close()


def test_sign_in_stays_limited_when_redis_is_unreachable(tmp_path):
    from ..services import free_port

    env = site_env(tmp_path, REDIS_URL=f"redis://127.0.0.1:{free_port()}/0", **LIMITS)
    assert create_admin(env).returncode == 0
    # One worker: the fallback counts in each process's memory.
    with gunicorn_server(env, cwd=tmp_path, extra_args=("--workers", "1")) as base:
        for n in range(3):
            assert attempt(base, f"203.0.113.{n + 1}", ADMIN_EMAIL).status_code == 401
        # Counted in the worker's memory instead: the account is still guarded.
        assert_told_to_wait(attempt(base, "203.0.113.9", ADMIN_EMAIL, ADMIN_PASSWORD))
