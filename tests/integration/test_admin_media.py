"""Uploading images from the admin through real gunicorn, on both storage backends (local disk,
and S3 through moto's real S3 API on a loopback port): the editor's fetch upload, the media
library's form, refusals that leave nothing stored, the size limit, and deleting every size."""

from __future__ import annotations

import io
import re

import pytest
import requests
from PIL import Image

from inkwell.storage.local import LocalStore
from inkwell.storage.s3 import S3Store

from ..services import image_bytes, new_bucket
from .admin_support import admin_site, csrf_token

LIMIT = 1024 * 1024
XHR = {"Accept": "application/json"}


@pytest.fixture(scope="module", params=["local", "s3"])
def site(request, tmp_path_factory):
    env = {"MEDIA_BACKEND": request.param, "MAX_UPLOAD_SIZE": str(LIMIT)}
    if request.param == "s3":
        env.update(new_bucket(request.getfixturevalue("s3_endpoint")))
    with admin_site(tmp_path_factory.mktemp(f"media-{request.param}"), **env) as site:
        yield site


def stored_keys(site) -> set[str]:
    env = site.env
    if env["MEDIA_BACKEND"] == "local":
        return set(LocalStore(env["MEDIA_ROOT"], "/media/").keys())
    return set(S3Store.from_settings(env).keys())


def photo(width=1200, height=800, fmt="JPEG", gps=True) -> bytes:
    image = Image.new("RGB", (width, height), (200, 120, 40))
    exif = Image.Exif()
    if gps:
        exif[0x8825] = {1: "N", 2: (48.0, 51.0, 24.0), 3: "E", 4: (2.0, 21.0, 3.0)}
    return image_bytes(image, fmt, exif=exif.tobytes() if gps else b"")


def upload(author, data: bytes, name: str, headers=XHR, alt: str = ""):
    token = csrf_token(author.get("/admin/media/").text)
    return author.post(
        "/admin/media/upload", files={"file": (name, data)}, data={"alt": alt},
        headers={"X-CSRFToken": token, **headers},
    )


def fetch(site, path: str) -> requests.Response:
    """A reader's GET: through the site, following a redirect to the bucket."""
    return site.browser().get(path, follow=True)


def test_editor_upload_returns_markdown_for_a_clean_stored_image(site, author):
    before = stored_keys(site)
    response = upload(author, photo(), "holiday.jpg", alt="A sunny square")
    assert response.status_code == 201
    markdown = response.json()["markdown"]
    match = re.fullmatch(r"!\[A sunny square\]\(/media/([0-9a-f]+)\.jpg\)", markdown)
    assert match, markdown
    new_keys = stored_keys(site) - before
    assert f"{match.group(1)}.jpg" in new_keys
    assert any(k.endswith("-480.webp") for k in new_keys)  # responsive sizes were made
    assert not any("holiday" in k for k in new_keys)  # the client's name is never used

    served = fetch(site, f"/media/{match.group(1)}.jpg")
    assert served.status_code == 200
    image = Image.open(io.BytesIO(served.content))
    assert image.size == (1200, 800)
    assert 0x8825 not in image.getexif()  # the GPS position is gone


def test_library_upload_form_lists_the_image(site, author):
    response = upload(author, photo(300, 200, "PNG", gps=False), "chart.png", headers={})
    assert response.status_code == 303
    library = author.get("/admin/media/")
    assert "Uploaded. Paste this into a post" in library.text
    assert re.search(r"!\[\]\(/media/[0-9a-f]+\.png\)", library.text)


def test_an_uploaded_image_shows_in_a_published_post(site, author):
    markdown = upload(author, photo(gps=False), "x.jpg").json()["markdown"]
    stem = re.search(r"/media/([0-9a-f]+)\.", markdown).group(1)
    token = csrf_token(author.get("/admin/posts/new").text)
    response = author.post("/admin/posts/new", data={
        "csrf_token": token, "title": f"Pictures {stem}", "body": markdown, "publish": "1",
    })
    assert response.status_code == 302
    page = fetch(site, f"/posts/pictures-{stem}/")
    assert page.status_code == 200 and stem in page.text
    img = re.search(rf'<img[^>]*{stem}[^>]*>', page.text).group(0)
    assert "srcset=" in img and 'loading="lazy"' in img and "sizes=" in img
    assert '<source type="image/webp"' in page.text


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("notes.png", b"just some text, not pixels", "not a PNG, JPEG, WebP or GIF"),
        ("cut.jpg", photo(gps=False)[:2000], "damaged or incomplete"),
        ("logo.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>1</script></svg>', "SVG"),
        ("../../etc/passwd.png", b"root:x:0:0", "not a PNG, JPEG, WebP or GIF"),
        ("polyglot.gif", photo(10, 10, "GIF", gps=False) + b"PK\x03\x04" + b"zip" * 50,
         "extra data hidden"),
    ],
)
def test_bad_files_are_refused_with_a_message_and_nothing_is_stored(site, author, name, data,
                                                                     message):
    before = stored_keys(site)
    response = upload(author, data, name)
    assert response.status_code == 400
    assert message in response.json()["message"]
    assert stored_keys(site) == before


def test_refusals_on_the_library_form_are_shown_on_the_page(site, author):
    response = upload(author, b"plain text", "a.png", headers={})
    assert response.status_code == 303
    assert "not a PNG, JPEG, WebP or GIF" in author.get("/admin/media/").text


def test_an_upload_without_a_file_is_a_400(site, author):
    token = csrf_token(author.get("/admin/media/").text)
    response = author.post(
        "/admin/media/upload", data={"alt": "x"}, headers={"X-CSRFToken": token, **XHR}
    )
    assert response.status_code == 400
    assert "Choose an image file" in response.json()["message"]


def test_an_oversize_upload_is_a_413_and_nothing_is_stored(site, author):
    before = stored_keys(site)
    response = upload(author, b"\xff\xd8\xff" + b"\0" * (LIMIT + 1000), "big.jpg")
    assert response.status_code == 413
    assert response.json()["error"] == "Too large"
    page = upload(author, b"\xff\xd8\xff" + b"\0" * (LIMIT + 1000), "big.jpg", headers={})
    assert page.status_code == 413 and "Too large" in page.text
    assert stored_keys(site) == before


def test_deleting_an_image_removes_every_size(site, author):
    markdown = upload(author, photo(2000, 1000, gps=False), "wide.jpg").json()["markdown"]
    stem = re.search(r"/media/([0-9a-f]+)\.", markdown).group(1)
    sizes = {k for k in stored_keys(site) if k.startswith(stem)}
    assert len(sizes) >= 6  # the original and 480/960/1600 px, each also as WebP

    library = author.get("/admin/media/").text
    delete_links = re.findall(r"/admin/media/(\d+)/delete", library)
    media_id = max(int(i) for i in delete_links)  # the newest upload
    confirm = author.get(f"/admin/media/{media_id}/delete")
    assert confirm.status_code == 200 and "Delete this image?" in confirm.text
    assert {k for k in stored_keys(site) if k.startswith(stem)} == sizes  # asking kept it
    response = author.post(
        f"/admin/media/{media_id}/delete", data={"csrf_token": csrf_token(confirm.text)}
    )
    assert response.status_code == 303
    assert not {k for k in stored_keys(site) if k.startswith(stem)}
    assert fetch(site, f"/media/{stem}.jpg").status_code == 404
    assert author.get(f"/admin/media/{media_id}/delete").status_code == 404


def test_the_delete_page_names_posts_that_still_show_the_image(site, author):
    markdown = upload(author, photo(gps=False), "used.jpg").json()["markdown"]
    token = csrf_token(author.get("/admin/posts/new").text)
    author.post("/admin/posts/new", data={
        "csrf_token": token, "title": "Uses the picture", "body": markdown, "save": "1",
    })
    media_id = max(int(i) for i in re.findall(r"/admin/media/(\d+)/delete",
                                              author.get("/admin/media/").text))
    assert "Uses the picture" in author.get(f"/admin/media/{media_id}/delete").text


def test_the_same_image_uploaded_twice_at_once_is_one_item_and_one_set_of_files(site, author):
    """Both requests look for the image's hash before either has stored it (resizing takes
    a while); the unique hash makes the later commit fail, and that request answers with the
    first one's item and removes its own files (migration 0008)."""
    import threading

    data = photo(1600, 1000, gps=False)  # bytes no other test uploads
    before = stored_keys(site)
    answers: list = []
    start = threading.Barrier(3)
    token = csrf_token(author.get("/admin/media/").text)

    def send():
        start.wait()
        answers.append(author.post("/admin/media/upload", files={"file": ("twin.jpg", data)},
                                   headers={"X-CSRFToken": token, **XHR}))

    threads = [threading.Thread(target=send) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(a.status_code for a in answers) == [200, 200, 201], [a.text for a in answers]
    assert len({a.json()["markdown"] for a in answers}) == 1  # one item, whoever was first
    originals = {k for k in stored_keys(site) - before if re.fullmatch(r"[0-9a-f]+\.jpg", k)}
    assert len(originals) == 1, originals  # the others' files were removed
