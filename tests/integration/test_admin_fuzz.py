"""Every admin form and API fed arbitrary input (hypothesis) through the Flask test client: the
answer is always a page or a clear 4xx, never a 500. TESTING mode re-raises any exception, so a
crash fails the test with its traceback."""

from __future__ import annotations

import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from ..conftest import make_app
from ..services import image_bytes, migrated
from .admin_support import add_admin, client_sign_in, csrf_token

FUZZ = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
# Any text a browser can send (lone surrogates cannot be encoded in a form at all).
text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=300)
markdown_bits = st.sampled_from([
    "# ", "## ", "$", "$$", "\n", "```", "```plotly\n", "```python\n", "{", "}", "[", "](", ")",
    "![", "<script>", "<img src=x onerror=alert(1)>", "|", "---", "> ", "* ", "1. ", "[^1]", "\\",
    "javascript:", '"data": [', "NaN", "\x00", "\u202e", "😀",
])
markdown = st.lists(st.one_of(markdown_bits, text), max_size=20).map("".join)
BUTTONS = st.sampled_from(["save", "publish", "schedule", "unpublish", "", "bogus"])
dates = st.one_of(
    text, st.datetimes().map(lambda d: d.strftime("%Y-%m-%dT%H:%M")),
    st.just("2999-12-31T23:59"), st.just("0000-00-00T00:00"),
)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz")
    with make_app(
        folder,
        SQLALCHEMY_DATABASE_URI=migrated(f"sqlite:///{folder / 'inkwell.sqlite3'}"),
        MEDIA_ROOT=str(folder / "media"),
        MAX_CONTENT_LENGTH=256 * 1024,
        # Fuzzed sign-ins would soon hit the limit; 429 is a fine answer but says less.
        LOGIN_RATE_LIMIT_IP="10000 per minute", LOGIN_RATE_LIMIT_ACCOUNT="10000 per minute",
    ) as app:
        add_admin(app)
        yield app


def token_of(client, path: str) -> str:
    return csrf_token(client.get(path).get_data(as_text=True))


@pytest.fixture(scope="module")
def author(app):
    client = app.test_client()
    response = client_sign_in(client)
    assert response.status_code == 302
    return client


@pytest.fixture(scope="module")
def token(author):
    return token_of(author, "/admin/")


@pytest.fixture(scope="module")
def existing_post(author, token) -> int:
    response = author.post("/admin/posts/new", data={
        "csrf_token": token, "title": "Fuzz target", "body": "x", "publish": "1",
    })
    return int(response.headers["Location"].rsplit("/", 1)[1])


def assert_handled(response, allowed: set[int]) -> None:
    assert response.status_code in allowed, (response.status_code, response.get_data()[:500])


@FUZZ
@given(email=text, password=text, next_url=text)
def test_login_form(app, email, password, next_url):
    response = client_sign_in(app.test_client(), email, password, query_string={"next": next_url})
    assert_handled(response, {302, 400, 401})
    if response.status_code == 302:
        assert response.headers["Location"].startswith("/admin")


@FUZZ
@given(
    section=st.sampled_from(["posts", "pages"]), title=text, slug=text, description=text,
    tags=text, body=markdown, publish_at=dates, toc=st.sampled_from(["", "y", "on", "\x7f"]),
    button=BUTTONS,
)
def test_editor_form_new(author, token, section, title, slug, description, tags, body,
                         publish_at, toc, button):
    data = {"csrf_token": token, "title": title, "slug": slug, "description": description,
            "tags": tags, "body": body, "publish_at": publish_at, "toc": toc}
    if button:
        data[button] = "1"
    response = author.post(f"/admin/{section}/new", data=data)
    assert_handled(response, {302, 400})


@FUZZ
@given(title=text, slug=text, body=markdown, publish_at=dates, button=BUTTONS,
       extra=st.dictionaries(text, text, max_size=3))
def test_editor_form_edit(author, token, existing_post, title, slug, body, publish_at, button,
                          extra):
    data = {**extra, "csrf_token": token, "title": title, "slug": slug, "body": body,
            "publish_at": publish_at}
    if button:
        data[button] = "1"
    response = author.post(f"/admin/posts/{existing_post}", data=data)
    assert_handled(response, {302, 400})


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=10,
)


@FUZZ
@given(payload=st.one_of(
    json_values.map(lambda v: {"json": v}),
    markdown.map(lambda m: {"json": {"markdown": m}}),
    st.binary(max_size=200).map(lambda b: {"data": b, "content_type": "application/json"}),
))
def test_preview_api(author, token, payload):
    response = author.post("/admin/preview", headers={"X-CSRFToken": token}, **payload)
    assert_handled(response, {200, 400})


TINY_PNG = image_bytes(Image.new("RGB", (3, 2), "red"), "PNG")


@FUZZ
@given(
    data=st.one_of(
        st.binary(max_size=2000),
        st.binary(max_size=200).map(lambda b: TINY_PNG[: len(b) % 80] + b),
        st.binary(max_size=200).map(lambda b: TINY_PNG + b),
    ),
    filename=text, alt=text, accept=st.sampled_from(["application/json", "text/html"]),
)
def test_upload(author, token, data, filename, alt, accept):
    response = author.post(
        "/admin/media/upload", headers={"Accept": accept},
        data={"csrf_token": token, "alt": alt, "file": (io.BytesIO(data), filename or "f")},
        content_type="multipart/form-data",
    )
    assert_handled(response, {201, 303, 400})


@FUZZ
@given(kind=st.sampled_from(["posts/%s/delete", "pages/%s/delete", "media/%s/delete"]),
       number=st.integers(min_value=0, max_value=2**63), confirm=text)
def test_delete_forms(author, token, kind, number, confirm):
    response = author.post("/admin/" + kind % number, data={"csrf_token": token,
                                                             "confirm": confirm})
    assert_handled(response, {302, 303, 400, 404})


@FUZZ
@given(q=text, status=text, page=text, path=st.sampled_from(["/admin/", "/admin/pages/"]))
def test_list_filters(author, q, status, page, path):
    response = author.get(path, query_string={"q": q, "status": status, "page": page})
    assert_handled(response, {200, 400})


@FUZZ
@given(field=text, value=text)
def test_session_form(author, token, field, value):
    response = author.post("/admin/sessions/end-others", data={"csrf_token": token, field: value})
    assert_handled(response, {302, 400})
