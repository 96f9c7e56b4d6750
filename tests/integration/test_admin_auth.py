"""Signing in and out of the admin through real gunicorn: cookies, replay after logout, CSRF,
what anonymous visitors get, and where a sign-in may send the author afterwards."""

from __future__ import annotations

import pytest

from .admin_support import ADMIN_EMAIL, ADMIN_PASSWORD, admin_site, create_admin

# Every admin URL, with the method that reaches it.
ADMIN_URLS = [
    ("GET", "/admin/"),
    ("GET", "/admin/pages/"),
    ("GET", "/admin/posts/new"),
    ("GET", "/admin/pages/new"),
    ("GET", "/admin/posts/1"),
    ("GET", "/admin/posts/1/delete"),
    ("GET", "/admin/media/"),
    ("GET", "/admin/media/1/delete"),
    ("GET", "/admin/sessions"),
]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    with admin_site(tmp_path_factory.mktemp("admin-auth")) as site:
        yield site


def test_sign_in_sets_a_hardened_session_cookie_and_opens_the_admin(site):
    browser = site.browser()
    response = browser.login()
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/admin/")
    cookies = {c.split("=", 1)[0]: c for c in response.raw.headers.getlist("Set-Cookie")}
    cookie = cookies["__Host-session"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Path=/" in cookie and "Domain" not in cookie
    # The device cookie (throttle.py): only ever sent back to the sign-in form.
    device = cookies["inkwell_device"]
    assert "Secure" in device and "HttpOnly" in device and "SameSite=Strict" in device
    assert "Path=/admin/login" in device and "Domain" not in device

    page = browser.get("/admin/")
    assert page.status_code == 200
    assert "Sign out" in page.text
    assert page.headers["Cache-Control"] == "private, no-store"


def test_wrong_password_or_unknown_email_gets_the_same_answer_and_no_session(site):
    wrong = site.browser().login(password="not the password at all")
    unknown = site.browser().login(email="nobody@example.com")
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert "The email or the password is not right." in response.text
    browser = site.browser()
    browser.login(password="still not the password")
    assert browser.get("/admin/").status_code == 302


def test_a_cookie_replayed_after_logout_no_longer_works(site):
    browser = site.browser()
    browser.login()
    stolen = browser.cookies.get("__Host-session")
    assert browser.get("/admin/").status_code == 200

    logout = browser.submit("/admin/logout", {}, form_page="/admin/")
    assert logout.status_code == 302
    assert logout.headers["Location"].endswith("/admin/login")

    replay = site.browser().get("/admin/", cookies={"__Host-session": stolen})
    assert replay.status_code == 302
    assert "/admin/login" in replay.headers["Location"]


def test_logout_is_not_possible_with_a_get(site):
    browser = site.browser()
    browser.login()
    assert browser.get("/admin/logout").status_code == 405
    assert browser.get("/admin/").status_code == 200


@pytest.mark.parametrize(("method", "path"), ADMIN_URLS)
def test_anonymous_visitors_are_sent_to_sign_in(site, method, path):
    response = site.browser().request(method, path)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/admin/login?next={path}"
    assert ADMIN_EMAIL not in response.text


def test_anonymous_json_and_xhr_requests_get_401(site):
    for headers in ({"Accept": "application/json"}, {"X-Requested-With": "XMLHttpRequest"}):
        response = site.browser().get("/admin/", headers=headers, follow=True)
        assert response.status_code == 401
        assert response.json()["login_url"] == "/admin/login"


def test_anonymous_api_calls_with_a_valid_token_still_get_401(site):
    browser = site.browser()
    token = browser.token("/admin/login")
    headers = {"X-CSRFToken": token, "Accept": "application/json"}
    preview = browser.post("/admin/preview", json={"markdown": "# hi"}, headers=headers)
    upload = browser.post("/admin/media/upload", files={"file": ("a.png", b"x")}, headers=headers)
    assert preview.status_code == upload.status_code == 401


def test_missing_or_wrong_csrf_token_is_a_400_page(site):
    browser = site.browser()
    browser.login()
    missing = browser.post("/admin/posts/new", data={"title": "No token", "publish": "1"})
    wrong = browser.post(
        "/admin/posts/new", data={"title": "Bad token", "csrf_token": "forged", "publish": "1"}
    )
    for response in (missing, wrong):
        assert response.status_code == 400
        assert "did not come from this site" in response.text
    missing_login = site.browser().post(
        "/admin/login", data={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    )
    assert missing_login.status_code == 400
    listing = browser.get("/admin/").text
    assert "No token" not in listing and "Bad token" not in listing


def test_token_from_another_session_is_refused(site):
    mine, theirs = site.browser(), site.browser()
    mine.login()
    their_token = theirs.token("/admin/login")
    response = mine.post("/admin/posts/new", data={"csrf_token": their_token, "title": "x"})
    assert response.status_code == 400


def test_sign_in_returns_to_the_page_asked_for_but_never_off_site(site):
    response = site.browser().login(params={"next": "/admin/media/"})
    assert response.headers["Location"] == "/admin/media/"

    for target in ("//evil.example/admin/", "https://evil.example/admin", "/\\evil.example"):
        response = site.browser().login(params={"next": target})
        assert response.status_code == 302
        assert response.headers["Location"] == "/admin/"


def test_email_is_matched_without_regard_to_case_or_spaces(site):
    assert site.browser().login(email="  Author@Example.COM ").status_code == 302


def test_a_second_admin_can_be_added_and_signs_in(site):
    made = create_admin(site.env, "second@example.com", "another long passphrase here")
    assert made.returncode == 0, made.stderr
    second = site.browser().login("second@example.com", "another long passphrase here")
    assert second.status_code == 302


def test_ending_other_sessions_signs_out_the_other_browsers_only(site):
    here, elsewhere = site.browser(), site.browser()
    here.login()
    elsewhere.login()
    sessions_page = here.get("/admin/sessions")
    assert "this browser" in sessions_page.text
    response = here.submit("/admin/sessions/end-others", {}, form_page="/admin/sessions")
    assert response.status_code == 302
    assert here.get("/admin/").status_code == 200
    assert elsewhere.get("/admin/").status_code == 302


def test_public_pages_set_no_cookie_for_anonymous_readers(site):
    response = site.browser().get("/", follow=True)
    assert "Set-Cookie" not in response.headers
