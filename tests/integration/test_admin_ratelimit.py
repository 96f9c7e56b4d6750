"""Sign-in rate limits through real gunicorn (throttle.py): device cookies for browsers that
signed in before, limits per address, per account and address, and a slower ceiling per account;
counters shared by every worker (the database) and every server (Redis). Client addresses come
from X-Forwarded-For (TRUSTED_PROXIES=1), as they do behind nginx; the addresses are
documentation ones (203.0.113.0/24) and nothing is sent to them."""

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
    "LOGIN_RATE_LIMIT_ACCOUNT_GLOBAL": "8 per minute",
}


def attempt(base: str | Browser, ip: str, email: str, password: str = "wrong password, sorry"):
    browser = Browser(base) if isinstance(base, str) else base
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
    # Four workers: the counters must be shared by all of them (the database, no Redis).
    with admin_site(tmp_path_factory.mktemp("ratelimit"), workers=4, **LIMITS) as site:
        yield site


def owners_browser(site, email: str, password: str, ip: str) -> Browser:
    """A browser that has signed in to the account once (it holds the device cookie)."""
    browser = site.browser()
    assert attempt(browser, ip, email, password).status_code == 302
    assert browser.post("/admin/logout", data={"csrf_token": browser.token("/admin/")}
                        ).status_code == 302
    return browser


def test_failures_from_many_addresses_never_lock_out_the_owners_browser(site):
    """Issue 15: 18 wrong passwords from spoofed addresses made the owner's correct password
    answer 429 for 15 minutes."""
    email, password = "owner@example.com", "the owner's own long passphrase"
    assert create_admin(site.env, email, password).returncode == 0
    owner = owners_browser(site, email, password, "203.0.113.200")
    answers = [attempt(site.url, f"203.0.113.{n + 1}", email).status_code for n in range(18)]
    # The global ceiling (8): the owner's first sign-in, from a new browser, was one of them.
    assert answers.count(401) == 7 and answers.count(429) == 11
    assert attempt(owner, "203.0.113.200", email, password).status_code == 302
    # A browser that never signed in waits for the ceiling: guesses from everywhere stop there.
    assert_told_to_wait(attempt(site.url, "203.0.113.201", email, password))


def test_an_account_and_address_is_limited_and_other_addresses_are_not(site):
    email = "pair@example.com"
    assert create_admin(site.env, email, "a pair of long passphrases").returncode == 0
    for _ in range(3):
        assert attempt(site.url, "203.0.113.30", email).status_code == 401
    assert_told_to_wait(attempt(site.url, "203.0.113.30", email, "a pair of long passphrases"))
    assert attempt(site.url, "203.0.113.31", email, "a pair of long passphrases"
                   ).status_code == 302


def test_an_address_is_limited_across_accounts(site):
    for n in range(4):
        assert attempt(site.url, "203.0.113.50", f"user{n}@example.com").status_code == 401
    assert_told_to_wait(attempt(site.url, "203.0.113.50", "another@example.com"))
    assert attempt(site.url, "203.0.113.51", "another@example.com").status_code == 401


def test_a_browser_with_a_device_cookie_is_limited_on_its_own(site):
    email, password = "device@example.com", "my device's long passphrase"
    assert create_admin(site.env, email, password).returncode == 0
    mine = owners_browser(site, email, password, "203.0.113.90")
    for n in range(3):
        assert attempt(mine, f"203.0.113.9{n + 1}", email).status_code == 401
    assert_told_to_wait(attempt(mine, "203.0.113.95", email, password))
    # The cookie says nothing for another account: that one is counted as any stranger.
    assert attempt(mine, "203.0.113.96", "someone@example.com").status_code == 401


def test_the_counters_are_shared_by_every_worker(site):
    """Without Redis the database keeps them: 12 tries over 4 workers, still 3 let through."""
    email = "workers@example.com"
    assert create_admin(site.env, email, "four workers, one counter").returncode == 0
    answers = [attempt(site.url, "203.0.113.120", email).status_code for _ in range(12)]
    assert answers.count(401) == 3, answers


def test_a_successful_sign_in_clears_the_browsers_failures(site):
    made = create_admin(site.env, "typo@example.com", "my long typo-prone passphrase")
    assert made.returncode == 0, made.stderr
    browser = site.browser()
    for _ in range(2):
        assert attempt(browser, "203.0.113.60", "typo@example.com").status_code == 401
    right = attempt(browser, "203.0.113.60", "typo@example.com", "my long typo-prone passphrase")
    assert right.status_code == 302
    browser.post("/admin/logout", data={"csrf_token": browser.token("/admin/")})
    for _ in range(3):  # a fresh count, on the device cookie it now holds
        assert attempt(browser, "203.0.113.60", "typo@example.com").status_code == 401


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
            assert attempt(two, "203.0.113.1", ADMIN_EMAIL).status_code == 401
            assert attempt(one, "203.0.113.1", ADMIN_EMAIL).status_code == 401
            assert_told_to_wait(attempt(two, "203.0.113.1", ADMIN_EMAIL, ADMIN_PASSWORD))
            assert_told_to_wait(attempt(one, "203.0.113.1", ADMIN_EMAIL, ADMIN_PASSWORD))
        assert list(client.scan_iter(f"*{prefix}*")), "the counters were not kept in Redis"
    finally:
        for key in client.scan_iter(f"*{prefix}*"):
            client.delete(key)
        client.close()


def test_sign_in_stays_limited_when_redis_is_unreachable(tmp_path):
    from ..services import free_port

    env = site_env(tmp_path, REDIS_URL=f"redis://127.0.0.1:{free_port()}/0", **LIMITS)
    assert create_admin(env).returncode == 0
    with gunicorn_server(env, cwd=tmp_path, extra_args=("--workers", "2")) as base:
        for _ in range(3):
            assert attempt(base, "203.0.113.7", ADMIN_EMAIL).status_code == 401
        # Counted in the database instead, which both workers share: still guarded.
        assert_told_to_wait(attempt(base, "203.0.113.7", ADMIN_EMAIL, ADMIN_PASSWORD))
