"""Both media backends pass the same tests: local disk, and S3 through a real S3 API over HTTP
(moto in server mode on a loopback port)."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

from inkwell.storage import InvalidKey, get_store
from inkwell.storage.local import LocalStore
from inkwell.storage.s3 import S3Store

from ..services import new_bucket


@pytest.fixture(params=["local", "s3"])
def backend(request) -> str:
    return request.param


@pytest.fixture
def settings(settings, backend, request) -> dict:
    if backend == "s3":
        endpoint = request.getfixturevalue("s3_endpoint")
        return {**settings, "MEDIA_BACKEND": "s3", **new_bucket(endpoint)}
    return {**settings, "MEDIA_BACKEND": "local"}


@pytest.fixture
def store(app):
    return get_store(app)


def fetch(app, url: str) -> tuple[int, bytes, dict]:
    """GET a media URL the way a browser would: app paths through the app, others over HTTP."""
    if url.startswith("/"):
        response = app.test_client().get(url)
        return response.status_code, response.data, {k.lower(): v for k, v in response.headers}
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            headers = {k.lower(): v for k, v in response.headers.items()}
            return response.status, response.read(), headers
    except urllib.error.HTTPError as e:
        return e.code, b"", {}


PNG_BYTES = b"\x89PNG\r\n\x1a\n" + b"pretend pixels" * 50


def test_saved_file_reads_back_exists_and_is_listed(store):
    store.save("a1b2.png", PNG_BYTES, "image/png")
    store.save("a1b2-480.webp", b"RIFF small", "image/webp")

    assert store.read("a1b2.png") == PNG_BYTES
    assert store.size("a1b2.png") == len(PNG_BYTES)
    assert store.exists("a1b2.png") and store.exists("a1b2-480.webp")
    assert not store.exists("a1b2-960.webp")
    assert sorted(store.keys()) == ["a1b2-480.webp", "a1b2.png"]


def test_saving_again_replaces_the_content(store):
    store.save("same.gif", b"GIF89a first", "image/gif")
    store.save("same.gif", b"GIF89a second version", "image/gif")

    assert store.read("same.gif") == b"GIF89a second version"
    assert list(store.keys()) == ["same.gif"]


def test_keys_may_sit_in_folders(store):
    store.save("2024/05/cat.jpg", b"\xff\xd8 jpeg", "image/jpeg")

    assert list(store.keys()) == ["2024/05/cat.jpg"]
    assert store.read("2024/05/cat.jpg") == b"\xff\xd8 jpeg"


def test_the_public_url_serves_the_file_with_its_type(app, store):
    store.save("c3d4.png", PNG_BYTES, "image/png")

    status, body, headers = fetch(app, store.url("c3d4.png"))

    assert (status, body, headers["content-type"]) == (200, PNG_BYTES, "image/png")
    assert "max-age=31536000" in headers["cache-control"]


def test_delete_removes_the_file_and_tolerates_missing_ones(store):
    store.save("gone.jpg", b"\xff\xd8", "image/jpeg")

    store.delete("gone.jpg")
    store.delete("never-there.jpg")

    assert not store.exists("gone.jpg")
    assert list(store.keys()) == []
    with pytest.raises(FileNotFoundError):
        store.read("gone.jpg")
    with pytest.raises(FileNotFoundError):
        store.size("gone.jpg")


BAD_KEYS = [
    "../escaped.png", "a/../../escaped.png", "/etc/passwd", "..", ".", "", ".hidden.png",
    "a//b.png", "a/./b.png", "back\\slash.png", "nul\x00.png", "new\nline.png", "sp ace.png",
    "x" * 300,
]  # fmt: skip


def test_keys_that_could_leave_the_store_are_refused(store, tmp_path):
    for key in BAD_KEYS:
        with pytest.raises(InvalidKey):
            store.save(key, b"data", "image/png")
        for operation in (store.read, store.exists, store.delete, store.url, store.size):
            with pytest.raises(InvalidKey):
                operation(key)
    assert list(store.keys()) == []
    assert not (tmp_path / "escaped.png").exists()


def test_storage_reports_itself_writable(store):
    assert store.check_writable() is None


def test_readyz_checks_the_configured_backend(app):
    response = app.test_client().get("/readyz")

    assert response.status_code == 200
    assert response.get_json()["checks"]["media"] == "ok"


def test_broken_storage_says_what_is_wrong(app, backend, tmp_path):
    if backend == "local":
        blocker = tmp_path / "a-file"
        blocker.write_text("not a folder")
        broken = LocalStore(blocker / "media")
        expected = "is not writable"
    else:
        broken = S3Store.from_settings({**app.config, "S3_BUCKET": "no-such-bucket-here"})
        expected = "NoSuchBucket"

    problem = broken.check_writable()

    assert problem and expected in problem


def test_one_store_per_app_and_backend(app, settings, backend, tmp_path, monkeypatch):
    from inkwell import create_app

    assert get_store(app) is get_store(app)
    assert (get_store(app, "local") is get_store(app)) == (backend == "local")
    monkeypatch.setenv("INKWELL_INSTANCE_PATH", str(tmp_path / "other"))
    assert get_store(create_app(settings)) is not get_store(app)


# --- /media/<key> in the app ------------------------------------------------------------------


def test_media_route_serves_or_redirects(app, store, backend):
    store.save("e5f6.jpg", b"\xff\xd8\xff jpeg bytes", "image/jpeg")

    response = app.test_client().get("/media/e5f6.jpg")

    if backend == "local":
        assert response.status_code == 200
        assert response.data == b"\xff\xd8\xff jpeg bytes"
        assert response.mimetype == "image/jpeg"
        assert "immutable" in response.headers["Cache-Control"]
        assert "max-age=31536000" in response.headers["Cache-Control"]
    else:
        assert response.status_code == 302
        assert response.headers["Location"] == store.url("e5f6.jpg")
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    "path",
    ["/media/%2e%2e/inkwell.sqlite3", "/media/.readyz-x", "/media/a.html", "/media/a/../b.png"],
)
def test_media_route_answers_404_for_what_is_not_media(app, path):
    assert app.test_client().get(path).status_code == 404


def test_unknown_media_is_404_locally_and_left_to_the_bucket_on_s3(app, backend):
    response = app.test_client().get("/media/missing.jpg")

    # On s3 the redirect is answered without a round trip to the bucket; the bucket says 404.
    assert response.status_code == {"local": 404, "s3": 302}[backend]


def test_urls_follow_media_url_and_the_cdn_base(settings, backend, tmp_path, monkeypatch):
    from inkwell import create_app

    monkeypatch.setenv("INKWELL_INSTANCE_PATH", str(tmp_path / "cdn"))
    app = create_app(
        {**settings, "S3_PUBLIC_URL": "https://cdn.example/media", "MEDIA_URL": "/files/"}
    )
    store = get_store(app)
    store.save("abc.webp", b"RIFF webp", "image/webp")

    expected = {"local": "/files/abc.webp", "s3": "https://cdn.example/media/abc.webp"}
    assert store.url("abc.webp") == expected[backend]
    response = app.test_client().get("/files/abc.webp")
    if backend == "local":
        assert response.data == b"RIFF webp"
    else:
        assert response.headers["Location"] == expected["s3"]
