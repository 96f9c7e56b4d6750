"""Helpers for the admin's integration tests: a real gunicorn site with an admin account, and a
`requests` session that behaves like a browser (cookies, CSRF tokens scraped from forms).

The servers run with INKWELL_ENV=production, so the session cookie is `__Host-session` and
`Secure`. The tests talk plain http to loopback; a browser would only send a Secure cookie over
https, so the test browser sends Secure cookies back over http too (what a TLS proxy
in front would make possible). Everything else about the cookie is the production one.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests
from flask import Flask
from flask.testing import FlaskClient

from inkwell.admin.passwords import hash_password
from inkwell.database import write_intent
from inkwell.extensions import db
from inkwell.models import User

from ..services import BIN, gunicorn_server, migrated, production_env

ADMIN_EMAIL = "author@example.com"
ADMIN_PASSWORD = "ink and a quiet afternoon"
_TOKEN_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
_META_TOKEN_RE = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


@dataclass
class Site:
    url: str
    env: dict[str, str]

    def browser(self) -> Browser:
        return Browser(self.url)


class Browser(requests.Session):
    """A cookie-keeping client for one site; paths are relative to the site's URL."""

    def __init__(self, base: str) -> None:
        super().__init__()
        self.base = base

    def request(self, method, url, *args, **kwargs):
        # Redirects are part of what the tests check: follow one only when asked to.
        kwargs["allow_redirects"] = kwargs.pop("follow", False)
        kwargs.setdefault("timeout", 30)
        if url.startswith("/"):
            url = self.base + url
        response = super().request(method, url, *args, **kwargs)
        for cookie in self.cookies:
            cookie.secure = False  # kept, but sent back over loopback http (see above)
        return response

    def token(self, path: str) -> str:
        """The CSRF token of the form on the page at `path`."""
        page = self.get(path)
        assert page.status_code == 200, (path, page.status_code)
        return csrf_token(page.text)

    def login(self, email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD, **kwargs):
        token = self.token("/admin/login")
        return self.post(
            "/admin/login", data={"csrf_token": token, "email": email, "password": password},
            **kwargs,
        )

    def submit(self, path: str, data: dict, form_page: str | None = None, **kwargs):
        """POST `data` with the CSRF token scraped from `form_page` (default: `path`)."""
        token = self.token(form_page or path)
        return self.post(path, data={"csrf_token": token, **data}, **kwargs)


def csrf_token(html: str) -> str:
    match = _TOKEN_RE.search(html) or _META_TOKEN_RE.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def create_admin(env: dict[str, str], email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD):
    """Make the account the way a person does: `inkwell create-admin --password-stdin`."""
    return subprocess.run(
        [str(BIN / "inkwell"), "create-admin", email, "--password-stdin"],
        input=password + "\n", env={**os.environ, **env}, capture_output=True, text=True,
        timeout=60,
    )


def site_env(folder: Path, **more: str) -> dict[str, str]:
    folder.mkdir(parents=True, exist_ok=True)
    defaults = {"MEDIA_ROOT": str(folder / "media"), "SITE_URL": "http://blog.example"}
    return production_env(
        folder, migrated(f"sqlite:///{folder / 'inkwell.sqlite3'}"), **{**defaults, **more}
    )


@contextmanager
def admin_site(folder: Path, workers: int = 2, **more_env: str) -> Iterator[Site]:
    """gunicorn serving a fresh database that has one admin account."""
    env = site_env(folder, **more_env)
    made = create_admin(env)
    assert made.returncode == 0, made.stderr
    with gunicorn_server(env, cwd=folder, extra_args=("--workers", str(workers))) as url:
        yield Site(url, env)


def add_admin(app: Flask, email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD) -> None:
    """An admin account straight in the app's database (in-process tests)."""
    with app.app_context(), write_intent():
        db.session.add(User(email=email, password_hash=hash_password(password)))
        db.session.commit()


def client_sign_in(client: FlaskClient, email: str = ADMIN_EMAIL,
                   password: str = ADMIN_PASSWORD, **kwargs):
    """Sign in through the Flask test client with the login form's CSRF token; `kwargs` go to
    the POST (query_string=..., environ_base=...). Returns the POST's response."""
    token = csrf_token(client.get("/admin/login").text)
    return client.post(
        "/admin/login", data={"csrf_token": token, "email": email, "password": password},
        **kwargs,
    )
