"""`inkwell media migrate`: media moves between local disk and S3 (a real S3 API over HTTP) with
no downtime; posts follow; running it again copies only what is missing."""

from __future__ import annotations

import io
import re
import urllib.request

import pytest
from PIL import Image
from sqlalchemy import select

from inkwell.database import write_intent
from inkwell.extensions import db
from inkwell.media import media_markdown, store_upload
from inkwell.models import Post
from inkwell.publishing import apply_markdown
from inkwell.storage import get_store

from ..services import BACKENDS, image_bytes, new_bucket


@pytest.fixture
def bucket(s3_endpoint) -> dict:
    return new_bucket(s3_endpoint)


@pytest.fixture
def settings(settings, bucket) -> dict:
    return {**settings, "MEDIA_BACKEND": "local", **bucket}


def image(size, fmt="JPEG") -> bytes:
    return image_bytes(Image.new("RGB", size, "purple"), fmt)


@pytest.fixture
def post_with_images(app):
    """Two uploads on local disk and a published post that shows both."""
    with app.app_context(), write_intent():
        store = get_store(app)
        photo = store_upload(image((1200, 800)), "photo.jpg", store, alt="A photo")
        chart = store_upload(image((300, 200), "PNG"), "chart.png", store, alt="A chart")
        post = Post(kind="post", slug="pictures", title="Pictures", status="published")
        apply_markdown(post, f"Two:\n\n{media_markdown(photo)}\n\n{media_markdown(chart)}\n")
        db.session.add(post)
        db.session.commit()
        return sorted(store.keys())


def image_urls(app) -> list[str]:
    with app.app_context():
        html = db.session.scalar(select(Post.body_html).where(Post.slug == "pictures"))
    urls = re.findall(r'(?:src|srcset)="([^"]*)"', html)
    return [part.split()[0] for value in urls for part in value.split(",")]


def migrate(runner, *args: str):
    result = runner.invoke(args=["media", "migrate", *args])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("database_url", BACKENDS, indirect=True)
def test_local_to_s3_copies_every_file_and_posts_point_at_the_bucket(
    app, runner, bucket, post_with_images
):
    keys = post_with_images
    assert all(url.startswith("/media/") for url in image_urls(app))

    output = migrate(runner, "--to", "s3")

    assert f"{len(keys)} copied, 0 already there, 0 failed." in output
    assert "set MEDIA_BACKEND=s3" in output
    assert "warning" not in output
    with app.app_context():
        local, s3 = get_store(app, "local"), get_store(app, "s3")
        assert sorted(s3.keys()) == keys
        assert all(s3.read(key) == local.read(key) for key in keys)
        assert sorted(local.keys()) == keys  # nothing was taken away from the source
    urls = image_urls(app)
    bucket_url = f"{bucket['S3_ENDPOINT_URL']}/{bucket['S3_BUCKET']}/"
    assert urls and all(url.startswith(bucket_url) for url in urls)
    with urllib.request.urlopen(urls[0], timeout=10) as response:
        assert response.status == 200
        assert Image.open(io.BytesIO(response.read())).format in ("JPEG", "PNG", "WEBP")


def test_running_again_copies_only_what_is_missing(app, runner, post_with_images):
    total = len(post_with_images)
    migrate(runner, "--to", "s3")
    assert f"0 copied, {total} already there" in migrate(runner, "--to", "s3")
    with app.app_context():
        get_store(app, "s3").delete(post_with_images[0])

    assert f"1 copied, {total - 1} already there" in migrate(runner, "--to", "s3")


def test_and_back_to_local_after_switching(app, runner, post_with_images):
    migrate(runner, "--to", "s3")
    assert not any(url.startswith("/media/") for url in image_urls(app))
    app.config["MEDIA_BACKEND"] = "s3"  # what the printed advice makes the author do
    with app.app_context():
        get_store(app, "local").delete(post_with_images[-1])

    output = migrate(runner, "--to", "local")

    assert f"1 copied, {len(post_with_images) - 1} already there" in output
    assert "set MEDIA_BACKEND=local" in output
    assert all(url.startswith("/media/") for url in image_urls(app))


def test_a_private_bucket_is_flagged(app, runner, s3_endpoint, post_with_images):
    private = new_bucket(s3_endpoint, public=False)
    app.config.update(private)
    app.extensions.pop("inkwell_media_stores", None)

    output = migrate(runner, "--to", "s3")

    assert "warning: visitors cannot load" in output
    assert "HTTP 403" in output


def test_copying_onto_the_same_backend_is_refused(runner):
    result = runner.invoke(args=["media", "migrate", "--to", "local"])

    assert result.exit_code == 2
    assert "already on local" in result.output


def test_list_shows_every_upload(runner, post_with_images):
    result = runner.invoke(args=["media", "list"])

    assert result.exit_code == 0
    assert "A photo" in result.output and "A chart" in result.output
    assert "1200x800" in result.output
