"""Writing in the browser, through real gunicorn: drafts, publishing, scheduling, unpublishing,
slug changes that keep old links working, pages, deleting, and a preview identical to the post."""

from __future__ import annotations

import re
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from .admin_support import admin_site, csrf_token

MATH_CODE_CHART = """Euler: $e^{i\\pi} + 1 = 0$

$$\\int_0^1 x^2 \\, dx$$

```python
def greet(name):
    return f"hello {name}"
```

```plotly
{"data": [{"type": "bar", "x": ["a", "b"], "y": [1, 2]}]}
```
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    with admin_site(tmp_path_factory.mktemp("editor")) as site:
        yield site


def unique(word: str) -> str:
    return f"{word}-{uuid.uuid4().hex[:8]}"


def save(author, path: str, button: str, **fields):
    """Submit the editor form at `path` by pressing `button`; return the response."""
    data = {"title": "", "slug": "", "description": "", "tags": "", "body": "", **fields}
    data[button] = "1"
    return author.submit(path, data)


def create(author, button: str = "publish", section: str = "posts", **fields) -> tuple[int, str]:
    slug = fields.setdefault("slug", unique("post"))
    fields.setdefault("title", slug.replace("-", " ").title())
    response = save(author, f"/admin/{section}/new", button, **fields)
    assert response.status_code == 302, response.text
    post_id = int(re.search(r"/(\d+)$", response.headers["Location"]).group(1))
    return post_id, slug


def public(site, path: str):
    """A reader's GET (no cookies, redirects not followed)."""
    return site.browser().get(path)


def utc_in(seconds: float) -> str:
    moment = datetime.now(UTC) + timedelta(seconds=seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def test_a_draft_is_listed_in_the_admin_but_not_public(site, author):
    post_id, slug = create(author, "save", body="Not ready yet.")
    assert public(site, f"/posts/{slug}/").status_code == 404
    listing = author.get("/admin/?status=draft").text
    assert f"/admin/posts/{post_id}" in listing and "Draft" in listing
    assert f"/admin/posts/{post_id}" not in author.get("/admin/?status=published").text


def test_publishing_makes_the_post_public_and_searchable(site, author):
    word = uuid.uuid4().hex[:10]
    post_id, slug = create(author, "save", body=f"A post about {word}.", tags="Notes, Python")
    assert save(
        author, f"/admin/posts/{post_id}", "publish", title="Now public", slug=slug,
        body=f"A post about {word}.", tags="Notes, Python",
    ).status_code == 302
    page = public(site, f"/posts/{slug}/")
    assert page.status_code == 200
    assert "Now public" in page.text and word in page.text
    assert "/tags/python/" in page.text
    assert f"/posts/{slug}/" in public(site, "/").text
    assert f"/posts/{slug}/" in public(site, f"/search?q={word}").text


def test_tags_that_differ_only_in_case_are_saved_once(site, author):
    post_id, slug = create(author, tags="Python, python, PYTHON")
    page = public(site, f"/posts/{slug}/")
    assert page.status_code == 200
    assert page.text.count('href="/tags/python/"') == 1


def test_editing_a_published_post_changes_what_readers_see(site, author):
    post_id, slug = create(author, body="First version.")
    save(author, f"/admin/posts/{post_id}", "save", title="Edited", slug=slug,
         body="Second **version**.")
    page = public(site, f"/posts/{slug}/").text
    assert "<strong>version</strong>" in page and "First version" not in page


def test_a_scheduled_post_appears_at_its_time_without_any_job(site, author):
    post_id, slug = create(author, "schedule", publish_at=utc_in(3), body="From the future.")
    assert "Scheduled" in author.get(f"/admin/posts/{post_id}").text
    assert public(site, f"/posts/{slug}/").status_code == 404
    assert f"/posts/{slug}/" not in public(site, "/").text
    time.sleep(4)
    assert public(site, f"/posts/{slug}/").status_code == 200
    assert f"/posts/{slug}/" in public(site, "/").text


def test_scheduling_needs_a_time_in_the_future(site, author):
    response = save(author, "/admin/posts/new", "schedule", title="Too late",
                    publish_at="2001-01-01T09:00")
    assert response.status_code == 400
    assert "pick a date and time in the future" in response.text


def test_unpublishing_hides_the_post_again(site, author):
    post_id, slug = create(author, body="Here for a moment.")
    assert public(site, f"/posts/{slug}/").status_code == 200
    save(author, f"/admin/posts/{post_id}", "unpublish", title="Gone", slug=slug)
    assert public(site, f"/posts/{slug}/").status_code == 404
    assert "Draft" in author.get(f"/admin/posts/{post_id}").text


def test_old_addresses_of_a_published_post_redirect_to_the_new_one(site, author):
    post_id, first = create(author, body="Moving around.")
    second, third = unique("second"), unique("third")
    for slug in (second, third):
        assert save(author, f"/admin/posts/{post_id}", "save", title="Mover", slug=slug,
                    body="Moving around.").status_code == 302
    for old in (first, second):
        response = public(site, f"/posts/{old}/")
        assert response.status_code == 301
        assert response.headers["Location"].endswith(f"/posts/{third}/")
    # Going back to an earlier slug works and it is the post again, not a redirect.
    save(author, f"/admin/posts/{post_id}", "save", title="Mover", slug=first, body="Back.")
    assert public(site, f"/posts/{first}/").status_code == 200
    assert public(site, f"/posts/{third}/").headers["Location"].endswith(f"/posts/{first}/")


def test_renaming_a_draft_leaves_no_redirect(site, author):
    post_id, first = create(author, "save")
    save(author, f"/admin/posts/{post_id}", "save", title="Renamed draft", slug=unique("renamed"))
    assert public(site, f"/posts/{first}/").status_code == 404


def test_a_slug_in_use_is_refused_with_a_message(site, author):
    _, slug = create(author, "save", title="Original holder")
    response = save(author, "/admin/posts/new", "save", title="Copycat", slug=slug)
    assert response.status_code == 400
    assert "Original holder" in response.text and "already uses this slug" in response.text


def test_a_bad_slug_is_refused_with_a_suggestion(site, author):
    response = save(author, "/admin/posts/new", "save", title="x", slug="Hello World!")
    assert response.status_code == 400
    assert "hello-world" in response.text


def test_pages_are_written_the_same_way(site, author):
    page_id, slug = create(author, section="pages", body="About this *blog*.")
    assert "<em>blog</em>" in public(site, f"/{slug}/").text
    assert f"/admin/pages/{page_id}" in author.get("/admin/pages/").text
    assert f"/admin/pages/{page_id}" not in author.get("/admin/").text
    new_slug = unique("page")
    save(author, f"/admin/pages/{page_id}", "save", title="Renamed page", slug=new_slug)
    assert public(site, f"/{slug}/").headers["Location"].endswith(f"/{new_slug}/")
    # A page id is not a post id: the post editor does not open it.
    assert author.get(f"/admin/posts/{page_id}").status_code == 404


def test_a_page_cannot_take_an_address_the_site_uses(site, author):
    for slug in ("admin", "tags", "media"):
        response = save(author, "/admin/pages/new", "publish", title="Clash", slug=slug)
        assert response.status_code == 400
        assert "used by the site itself" in response.text


def test_deleting_asks_first_then_removes_the_post_for_good(site, author):
    post_id, slug = create(author, title="Doomed post")
    confirm = author.get(f"/admin/posts/{post_id}/delete")
    assert confirm.status_code == 200 and "Doomed post" in confirm.text
    assert public(site, f"/posts/{slug}/").status_code == 200  # asking deleted nothing
    response = author.post(
        f"/admin/posts/{post_id}/delete", data={"csrf_token": csrf_token(confirm.text)}
    )
    assert response.status_code == 302
    assert public(site, f"/posts/{slug}/").status_code == 404
    assert author.get(f"/admin/posts/{post_id}").status_code == 404


def test_the_admin_list_can_be_searched(site, author):
    word = uuid.uuid4().hex[:10]
    post_id, _ = create(author, "save", title=f"Needle {word}")
    create(author, "save", title="Haystack")
    found = author.get(f"/admin/?q={word}").text
    assert f"/admin/posts/{post_id}" in found and "Haystack" not in found
    assert "Nothing matches" in author.get("/admin/?q=%25_nothing_like_this").text


def test_preview_is_exactly_what_the_published_post_shows(site, author):
    token = csrf_token(author.get("/admin/posts/new").text)
    preview = author.post(
        "/admin/preview", json={"markdown": MATH_CODE_CHART},
        headers={"X-CSRFToken": token, "Accept": "application/json"},
    )
    assert preview.status_code == 200
    result = preview.json()
    assert "<math" in result["html"] and 'class="highlight"' in result["html"]
    assert 'class="plotly-chart"' in result["html"]
    assert result["has_math"] and result["has_chart"]
    _, slug = create(author, body=MATH_CODE_CHART)
    assert result["html"].strip() in public(site, f"/posts/{slug}/").text


def test_preview_refuses_what_is_not_markdown(site, author):
    token = csrf_token(author.get("/admin/posts/new").text)
    headers = {"X-CSRFToken": token, "Accept": "application/json"}
    for body in ({"markdown": 42}, ["markdown"], "not json"):
        kwargs = {"data": body} if isinstance(body, str) else {"json": body}
        response = author.post("/admin/preview", headers=headers, **kwargs)
        assert response.status_code == 400
        assert "markdown" in response.json()["message"]
    # JSON may carry a lone surrogate, which is not text at all.
    as_json = {**headers, "Content-Type": "application/json"}
    response = author.post("/admin/preview", headers=as_json, data='{"markdown": "a\\ud800b"}')
    assert response.status_code == 400 and "invalid character" in response.json()["message"]


def test_every_admin_response_is_private(site, author):
    for path in ("/admin/", "/admin/pages/", "/admin/posts/new", "/admin/media/",
                 "/admin/sessions"):
        assert author.get(path).headers["Cache-Control"] == "private, no-store"
