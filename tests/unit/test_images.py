"""Uploads: only real PNG/JPEG/WebP/GIF get in, cleaned of metadata, in every responsive width;
and published HTML shows them with srcset, WebP and lazy loading."""

from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib

import pytest
from PIL import ExifTags, Image, ImageCms
from sqlalchemy import event, func, select

from inkwell.content.render import render_markdown
from inkwell.content.sanitize import sanitize_html
from inkwell.extensions import db
from inkwell.media import (
    ImageRejected,
    delete_media,
    media_markdown,
    responsive_images,
    store_upload,
)
from inkwell.models import Media
from inkwell.storage import get_store
from inkwell.storage.local import LocalStore

from ..services import BACKENDS, image_bytes


def photo(size=(2000, 1000), fmt="JPEG", mode="RGB", **options) -> bytes:
    img = Image.new(mode, size, (30, 120, 200, 255)[: len(mode)])
    img.paste((250, 200, 0, 255)[: len(mode)], (0, 0, size[0] // 3, size[1] // 3))
    return image_bytes(img, fmt, **options)


def animated_gif(size=(600, 300), frames=3) -> bytes:
    images = [Image.new("RGB", size, (80 * i, 40, 200 - 60 * i)) for i in range(frames)]
    return image_bytes(
        images[0], "GIF", save_all=True, append_images=images[1:], duration=120, loop=0
    )


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(width=100_000, height=100_000) -> bytes:
    """A PNG of a few dozen bytes that claims to be ten gigapixels."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 1024))
        + png_chunk(b"IEND", b"")
    )


def zip_archive() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("evil.html", "<script>alert(document.cookie)</script>")
    return buffer.getvalue()


def gps_photo() -> bytes:
    img = Image.new("RGB", (1200, 800), "teal")
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "SecretCam"
    exif[ExifTags.Base.Artist] = "Jane Private"
    exif[ExifTags.IFD.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "N",
        ExifTags.GPS.GPSLatitude: (48.0, 51.0, 29.0),
        ExifTags.GPS.GPSLongitudeRef: "E",
        ExifTags.GPS.GPSLongitude: (2.0, 17.0, 40.0),
    }
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF>SecretXMP</rdf:RDF></x:xmpmeta>'
    return image_bytes(img, "JPEG", exif=exif, icc_profile=icc, xmp=xmp, comment=b"SecretComment")


@pytest.fixture
def store(app):
    with app.app_context():
        yield get_store(app)


def stored(store) -> dict[str, Image.Image]:
    return {key: Image.open(io.BytesIO(store.read(key))) for key in store.keys()}


def media_count() -> int:
    return db.session.scalar(select(func.count(Media.id)))


# --- what gets in ----------------------------------------------------------------------------


def test_a_photo_gets_every_responsive_width_in_jpeg_and_webp(store):
    media = store_upload(photo((2000, 1000)), "holiday.jpg", store, alt="The beach")
    db.session.commit()

    assert (media.width, media.height, media.content_type) == (2000, 1000, "image/jpeg")
    assert set(media.variants) == {
        "original", "480", "480.webp", "960", "960.webp", "1600", "1600.webp",
    }  # fmt: skip
    files = stored(store)
    assert set(files) == set(media.variants.values())
    for name, (fmt, width) in {
        "original": ("JPEG", 2000),
        "480": ("JPEG", 480), "960": ("JPEG", 960), "1600": ("JPEG", 1600),
        "480.webp": ("WEBP", 480), "960.webp": ("WEBP", 960), "1600.webp": ("WEBP", 1600),
    }.items():  # fmt: skip
        img = files[media.variants[name]]
        assert (img.format, img.width, img.height) == (fmt, width, width // 2), name
    assert "holiday" not in " ".join(files)  # the client's name is never used
    assert media_count() == 1


def test_only_widths_smaller_than_the_original_are_made(store):
    media = store_upload(photo((700, 350), "PNG"), "small.png", store)

    assert set(media.variants) == {"original", "480", "480.webp", "original.webp"}
    files = stored(store)
    assert files[media.variants["original"]].format == "PNG"
    assert files[media.variants["original.webp"]].size == (700, 350)


def test_gps_exif_xmp_icc_and_comments_are_gone(store):
    upload = gps_photo()
    assert Image.open(io.BytesIO(upload)).getexif().get_ifd(ExifTags.IFD.GPSInfo)  # really there

    media = store_upload(upload, "IMG_0001.jpg", store)

    for key in media.variants.values():
        raw = store.read(key)
        img = Image.open(io.BytesIO(raw))
        assert not img.getexif(), key
        assert not {"exif", "icc_profile", "xmp", "comment"} & set(img.info), key
        for secret in (b"SecretCam", b"Jane Private", b"SecretXMP", b"SecretComment", b"GPS"):
            assert secret not in raw, (key, secret)


def test_exif_orientation_is_applied_before_it_is_dropped(store):
    img = Image.new("RGB", (300, 100), "navy")
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6  # "rotate 90° clockwise to display"
    media = store_upload(image_bytes(img, "JPEG", exif=exif), "phone.jpg", store)

    assert (media.width, media.height) == (100, 300)
    assert Image.open(io.BytesIO(store.read(media.variants["original"]))).size == (100, 300)


def test_transparent_png_stays_transparent(store):
    img = Image.new("RGBA", (1000, 500), (255, 0, 0, 0))
    img.paste((0, 0, 255, 255), (0, 0, 500, 500))
    media = store_upload(image_bytes(img, "PNG"), "logo.png", store)

    for name in ("original", "960", "960.webp"):
        variant = Image.open(io.BytesIO(store.read(media.variants[name]))).convert("RGBA")
        assert variant.getpixel((variant.width - 1, 0))[3] == 0, name
        assert variant.getpixel((0, 0))[3] == 255, name


def test_webp_upload_is_accepted(store):
    media = store_upload(photo((1000, 800), "WEBP"), "pic.webp", store)

    assert media.content_type == "image/webp"
    assert media.variants["960"] == media.variants["960.webp"]
    assert Image.open(io.BytesIO(store.read(media.variants["960"]))).format == "WEBP"


def test_animated_gif_stays_animated_in_every_variant(store):
    media = store_upload(animated_gif((600, 300), frames=3), "dance.gif", store)

    assert media.content_type == "image/gif"
    for name, fmt in (("original", "GIF"), ("480", "GIF"), ("480.webp", "WEBP")):
        img = Image.open(io.BytesIO(store.read(media.variants[name])))
        assert (img.format, getattr(img, "n_frames", 1)) == (fmt, 3), name


def test_a_still_gif_is_accepted(store):
    media = store_upload(photo((300, 200), "GIF", mode="RGB"), "still.gif", store)
    assert set(media.variants) == {"original", "original.webp"}


CAMERA_JPEGS = {
    "progressive": lambda img: image_bytes(img, "JPEG", progressive=True),
    "cmyk": lambda img: image_bytes(img.convert("CMYK"), "JPEG"),
    "mpo": lambda img: image_bytes(img, "MPO", save_all=True, append_images=[img.rotate(90)]),
}


@pytest.mark.parametrize("kind", CAMERA_JPEGS)
def test_jpeg_flavours_cameras_write_are_accepted_as_plain_jpeg(store, kind):
    data = CAMERA_JPEGS[kind](Image.new("RGB", (800, 600), "orange"))

    media = store_upload(data, "camera.jpg", store)

    original = Image.open(io.BytesIO(store.read(media.variants["original"])))
    assert (media.content_type, original.format, original.mode) == ("image/jpeg", "JPEG", "RGB")
    assert original.size == (800, 600)


# --- what stays out --------------------------------------------------------------------------

SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
JPEG = photo((800, 600))
GIF = photo((200, 100), "GIF")
PNG = photo((200, 100), "PNG")

REFUSED = {
    "svg": (SVG, "drawing.svg", "SVG"),
    "svg-named-png": (b'<?xml version="1.0"?>\n' + SVG, "drawing.png", "SVG"),
    "text": (b"just some notes\n" * 20, "notes.jpg", "not a PNG, JPEG, WebP or GIF"),
    "html": (b"<!doctype html><script>alert(1)</script>", "page.png", "not a PNG"),
    "empty": (b"", "empty.png", "empty"),
    "truncated-jpeg": (JPEG[: len(JPEG) // 2], "cut.jpg", "damaged or incomplete"),
    "truncated-png": (PNG[:-30], "cut.png", "damaged or incomplete"),
    "gif-plus-zip": (GIF + zip_archive(), "gifar.gif", "extra data hidden"),
    "png-plus-html": (PNG + b"<html><script>alert(1)</script></html>", "x.png", "extra data"),
    "jpeg-plus-zip": (JPEG + zip_archive(), "x.jpg", "extra data hidden"),
    "gif-header-script": (b"GIF89a/*\x00\x00\x00\x00*/=alert(1);//", "x.gif", "not a PNG"),
    "tiff": (photo((50, 50), "TIFF"), "scan.png", "not a PNG, JPEG, WebP or GIF"),
    "bmp": (photo((50, 50), "BMP"), "old.gif", "not a PNG, JPEG, WebP or GIF"),
    "png-bomb": (png_bomb(), "bomb.png", "too large to process"),
}


@pytest.mark.parametrize("case", REFUSED, ids=list(REFUSED))
def test_refused_uploads_explain_why_and_store_nothing(store, case):
    data, filename, message = REFUSED[case]

    with pytest.raises(ImageRejected) as refused:
        store_upload(data, filename, store)

    assert message in refused.value.message
    assert refused.value.message.endswith(".")
    assert list(store.keys()) == []
    assert not db.session.new
    assert media_count() == 0


def test_pixel_limit_comes_from_settings(app, store):
    app.config["MEDIA_MAX_PIXELS"] = 1_000_000

    with pytest.raises(ImageRejected, match="over 1 megapixels"):
        store_upload(photo((1200, 1000)), "big.jpg", store)
    assert list(store.keys()) == []

    assert store_upload(photo((1000, 1000)), "ok.jpg", store).width == 1000


def test_long_animations_count_every_frame_against_the_limit(app, store):
    app.config["MEDIA_MAX_PIXELS"] = 500_000

    with pytest.raises(ImageRejected, match="animation is too large"):
        store_upload(animated_gif((600, 300), frames=3), "long.gif", store)
    assert list(store.keys()) == []


class DiskFullStore(LocalStore):
    """A real local store whose disk fills up after `room` files."""

    def __init__(self, root, room: int) -> None:
        super().__init__(root)
        self.room = room

    def save(self, key, data, content_type):
        if self.room == 0:
            raise OSError(28, "No space left on device")
        self.room -= 1
        super().save(key, data, content_type)


def test_a_storage_failure_midway_leaves_nothing_behind(app, tmp_path):
    store = DiskFullStore(tmp_path / "full", room=3)
    with app.app_context():
        with pytest.raises(OSError, match="No space left"):
            store_upload(photo((2000, 1000)), "a.jpg", store)
        assert list(store.keys()) == []
        assert media_count() == 0


# --- deleting and inserting --------------------------------------------------------------------


@pytest.mark.parametrize("database_url", BACKENDS, indirect=True)
def test_deleting_media_removes_every_variant_and_the_row(store):
    keep = store_upload(photo((800, 400)), "keep.jpg", store)
    media = store_upload(photo((2000, 1000)), "gone.jpg", store)
    db.session.commit()

    delete_media(media, store)
    db.session.commit()

    assert set(store.keys()) == set(keep.variants.values())
    assert db.session.scalars(select(Media.key)).all() == [keep.key]


def test_the_editor_inserts_markdown_that_renders_the_image(store):
    media = store_upload(photo((600, 300)), "x.jpg", store, alt="A [very] nice\nview")
    markdown = media_markdown(media)

    assert markdown == f"![A \\[very\\] nice view](/media/{media.key}.jpg)"
    html = render_markdown(markdown).html
    assert f'src="/media/{media.key}.jpg"' in html
    assert 'alt="A [very] nice view"' in html


# --- published HTML ----------------------------------------------------------------------------


def test_published_html_gets_srcset_webp_and_lazy_loading(store):
    media = store_upload(photo((2000, 1000)), "x.jpg", store, alt="Stored alt")
    db.session.commit()
    html = render_markdown(f"Look:\n\n{media_markdown(media)}\n").html

    out = responsive_images(html)

    stem = media.key
    assert out.count("<picture>") == 1
    assert (
        f'<source type="image/webp" srcset="/media/{stem}-480.webp 480w, '
        f'/media/{stem}-960.webp 960w, /media/{stem}-1600.webp 1600w"'
    ) in out
    img = re.search(r"<img [^>]*>", out).group(0)
    assert f'src="/media/{stem}-960.jpg"' in img
    assert (
        f'srcset="/media/{stem}-480.jpg 480w, /media/{stem}-960.jpg 960w, '
        f'/media/{stem}-1600.jpg 1600w"'
    ) in img
    for attribute in ('width="2000"', 'height="1000"', 'loading="lazy"', 'decoding="async"',
                      'sizes="(max-width: 42rem) 100vw, 42rem"', 'alt="Stored alt"'):
        assert attribute in img
    assert out.startswith("<p>Look:</p>")


def test_small_images_list_their_own_size_in_srcset(store):
    media = store_upload(photo((700, 350), "PNG"), "x.png", store)
    db.session.commit()

    out = responsive_images(f'<p><img src="/media/{media.key}.png" alt="Chart"></p>')

    stem = media.key
    assert f'srcset="/media/{stem}-480.png 480w, /media/{stem}.png 700w"' in out
    assert f'srcset="/media/{stem}-480.webp 480w, /media/{stem}.webp 700w"' in out
    assert f'src="/media/{stem}.png"' in out
    assert 'alt="Chart"' in out  # the author's alt text wins over the stored one


def test_other_images_are_left_alone(store):
    media = store_upload(photo((800, 400)), "x.jpg", store)
    db.session.commit()
    ours = f"/media/{media.key}.jpg"
    html = (
        '<p><img src="https://example.com/cat.png" alt="cat"></p>\n'
        '<p><img src="/media/0123456789abcdef0123456789abcdef.jpg" alt="unknown"></p>\n'
        f'<p><img src="/media/{media.key}-480.jpg" alt="a variant, not an original"></p>\n'
        f'<p><a title="&lt;img src=&quot;{ours}&quot;&gt;" href="/x">text about {ours}</a></p>\n'
        f"<pre><code>&lt;img src=\"{ours}\"&gt;</code></pre>\n"
    )

    assert responsive_images(html) == html


@pytest.mark.parametrize("database_url", BACKENDS, indirect=True)
def test_one_query_for_all_images_and_a_second_pass_changes_nothing(app, store):
    uploads = [store_upload(photo((900, 450)), f"{i}.jpg", store) for i in range(5)]
    db.session.commit()
    html = render_markdown("\n\n".join(media_markdown(m) for m in uploads)).html
    statements = []

    def count(*_args):
        statements.append(1)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        out = responsive_images(html)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)

    assert len(statements) == 1
    assert out.count("<picture>") == 5
    assert responsive_images(out) == out


def test_alt_text_cannot_break_out_of_the_markup(store):
    media = store_upload(photo((600, 300)), "x.jpg", store, alt='"><script>alert(1)</script>')
    db.session.commit()

    out = responsive_images(f'<p><img src="/media/{media.key}.jpg"></p>')

    assert "<script" not in out
    assert 'alt="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in out
    assert sanitize_html(out).count("<source") == 1
    assert sanitize_html(out).count("srcset=") == 2
