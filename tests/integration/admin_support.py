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
import secrets
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests
from sqlalchemy import create_engine

from inkwell.migrations import upgrade

from ..services import BIN, gunicorn_server

ADMIN_EMAIL = "author@example.com"
ADMIN_PASSWORD = "ink and a quiet afternoon"
_TOKEN_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
_META_TOKEN_RE = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


@dataclass
class Site:
    url: str
    env: dict[str, str]
    folder: Path

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
    db_url = f"sqlite:///{folder / 'inkwell.sqlite3'}"
    engine = create_engine(db_url)
    upgrade(engine)
    engine.dispose()
    return {
        "INKWELL_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "DATABASE_URL": db_url,
        "INKWELL_INSTANCE_PATH": str(folder / "instance"),
        "MEDIA_ROOT": str(folder / "media"),
        "SITE_URL": "http://blog.example",
        **more,
    }


@contextmanager
def admin_site(folder: Path, workers: int = 2, **more_env: str) -> Iterator[Site]:
    """gunicorn serving a fresh database that has one admin account."""
    env = site_env(folder, **more_env)
    made = create_admin(env)
    assert made.returncode == 0, made.stderr
    with gunicorn_server(env, cwd=folder, extra_args=("--workers", str(workers))) as url:
        yield Site(url, env, folder)
