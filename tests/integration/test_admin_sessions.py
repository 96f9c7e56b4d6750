"""Session expiry through real gunicorn, with the timeouts set to seconds: a session ends when
idle too long and, however busy, when it is too old; the server decides, not the cookie."""

from __future__ import annotations

import time

import pytest

from .admin_support import admin_site

IDLE, MAX_AGE = 2, 5


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    with admin_site(
        tmp_path_factory.mktemp("expiry"),
        SESSION_IDLE_TIMEOUT=str(IDLE), SESSION_MAX_AGE=str(MAX_AGE),
    ) as site:
        yield site


def signed_in(site, cookie: str) -> bool:
    response = site.browser().get("/admin/", cookies={"__Host-session": cookie})
    return response.status_code == 200


def test_an_idle_session_ends(site):
    browser = site.browser()
    browser.login()
    cookie = browser.cookies["__Host-session"]
    assert signed_in(site, cookie)
    time.sleep(IDLE + 1)
    assert not signed_in(site, cookie)
    assert "/admin/login" in browser.get("/admin/").headers["Location"]


def test_activity_keeps_a_session_alive_until_its_maximum_age(site):
    browser = site.browser()
    browser.login()
    started = time.monotonic()
    while time.monotonic() - started < IDLE + 1.5:
        assert browser.get("/admin/").status_code == 200
        time.sleep(0.4)
    alive_past_idle_timeout = browser.get("/admin/").status_code == 200
    cookie = browser.cookies["__Host-session"]
    while time.monotonic() - started < MAX_AGE + 1:
        time.sleep(0.4)
        browser.get("/admin/")
    assert alive_past_idle_timeout
    assert not signed_in(site, cookie)  # replaying the cookie does not help either
