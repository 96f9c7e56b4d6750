"""Two authors (or two tabs) writing the same post at once, through real gunicorn (several
workers, so the requests really overlap): one waits for the other, and every answer is a
redirect or a 404, never a 500 (StaleDataError / ObjectDeletedError), on SQLite and on
PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from ..services import BACKENDS, gunicorn_server, production_env
from .admin_support import Site, create_admin, csrf_token

pytestmark = pytest.mark.parametrize("database_url", BACKENDS, indirect=True)
SAVES = 20
AUTHORS = 4


@pytest.fixture
def site(database_url, tmp_path):
    env = production_env(tmp_path, database_url, MEDIA_ROOT=str(tmp_path / "media"),
                         SITE_URL="http://blog.example")
    assert create_admin(env).returncode == 0
    with gunicorn_server(env, cwd=tmp_path, extra_args=("--workers", "4")) as url:
        yield Site(url, env)


def _author(site: Site):
    browser = site.browser()
    assert browser.login().status_code == 302
    return browser


def _form(browser, tags: str) -> dict:
    token = csrf_token(browser.get("/admin/posts/new").text)
    return {"csrf_token": token, "title": "Shared", "slug": "shared", "description": "",
            "tags": tags, "body": f"Tagged {tags}.", "save": "1"}


def _new_post(site: Site) -> str:
    author = _author(site)
    created = author.post("/admin/posts/new", data=_form(author, "start"))
    assert created.status_code == 302, created.text[-500:]
    return created.headers["Location"].replace(site.url, "")


def test_authors_saving_one_post_at_once(site):
    path = _new_post(site)

    def saves(n: int) -> list[int]:
        author = _author(site)
        form = _form(author, f"t{n}a, t{n}b")
        return [author.post(path, data=form).status_code for _ in range(SAVES)]

    with ThreadPoolExecutor(AUTHORS) as pool:
        results = list(pool.map(saves, range(AUTHORS)))
    assert all(status == 302 for statuses in results for status in statuses), results


def test_saving_while_another_author_deletes(site):
    for _ in range(3):
        path = _new_post(site)
        saver, deleter = _author(site), _author(site)
        form = _form(saver, "kept")
        token = csrf_token(deleter.get(path + "/delete").text)
        with ThreadPoolExecutor(4) as pool:
            saved = [pool.submit(saver.post, path, data=form) for _ in range(6)]
            deleted = pool.submit(deleter.post, path + "/delete", data={"csrf_token": token})
            statuses = [f.result().status_code for f in saved]
        assert deleted.result().status_code in (302, 404)
        assert set(statuses) <= {302, 404}, statuses
