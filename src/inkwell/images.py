"""Image files in, clean image files out: decode with every check, resize, re-encode.

Only PNG, JPEG, WebP and GIF are decoded (Pillow is told so; the name and Content-Type are never
asked). A file must be one well-formed image and nothing else: data hidden after the image's end
(a polyglot, such as a GIF with a ZIP or a script appended) is refused. Re-encoding from pixels
drops EXIF, GPS, XMP, comments and ICC profiles (colours are converted to sRGB first).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from io import BytesIO

from PIL import Image, ImageCms, ImageOps, ImageSequence

from .image_rules import WIDTHS, ImageRejected

Frames = list[tuple[Image.Image, int]]  # (frame, duration in ms); one entry for a still image

OPENERS = ["PNG", "JPEG", "WEBP", "GIF"]
ACCEPTED = {"PNG", "JPEG", "MPO", "WEBP", "GIF"}  # MPO: a camera JPEG with extra pictures
ENCODE_OPTIONS: dict[str, dict] = {
    "JPEG": {"quality": 82, "optimize": True, "progressive": True},
    "PNG": {"compress_level": 6},
    "WEBP": {"quality": 80, "method": 4},
    "GIF": {},
}
NOT_AN_IMAGE = "That file is not a PNG, JPEG, WebP or GIF image."
DAMAGED = "The image is damaged or incomplete and could not be read; save it again and retry."
HIDDEN_DATA = (
    "The file has extra data hidden after the image, so it was refused; "
    "save it again as a plain image and upload that."
)
_PADDING = b"\x00\r\n\t "
# More frames than this is not a figure or a reaction GIF; each costs a decode and several encodes.
DEFAULT_MAX_FRAMES = 1000
# Pillow format -> (extension, Content-Type, format written back).
FORMATS = {
    "PNG": ("png", "image/png", "PNG"),
    "JPEG": ("jpg", "image/jpeg", "JPEG"),
    "MPO": ("jpg", "image/jpeg", "JPEG"),
    "WEBP": ("webp", "image/webp", "WEBP"),
    "GIF": ("gif", "image/gif", "GIF"),
}
NOT_PROCESSED = "The image could not be processed; save it again as a plain image and retry."


@dataclass
class Processed:
    """An upload made into the files to store: `files` maps a variant name ("original", "480",
    "480.webp", "original.webp") to (key suffix such as "-480.webp", Content-Type, bytes)."""

    content_type: str
    width: int
    height: int
    files: dict[str, tuple[str, str, bytes]] = field(default_factory=dict)


def make_variants(data: bytes, filename: str, max_pixels: int,
                  max_frames: int = DEFAULT_MAX_FRAMES) -> Processed:
    """Verify, clean and resize an upload into every variant; ImageRejected when it cannot be
    (any error from Pillow while decoding, resizing or encoding means a bad file, not a 500)."""
    fmt, frames, loop = decode_image(data, filename, max_pixels, max_frames)
    ext, content_type, out_format = FORMATS[fmt]
    width, height = frames[0][0].size
    done = Processed(content_type, width, height)
    try:
        done.files["original"] = (f".{ext}", content_type, encode(frames, out_format, loop))
        current = frames
        for w in sorted((w for w in WIDTHS if w < width), reverse=True):
            current = resize(current, w)  # each width from the next larger one: fast, sharp
            done.files[str(w)] = (f"-{w}.{ext}", content_type, encode(current, out_format, loop))
            webp = encode(current, "WEBP", loop) if out_format != "WEBP" else None
            done.files[f"{w}.webp"] = (f"-{w}.webp", "image/webp", webp)
        if width <= WIDTHS[-1]:
            webp = encode(frames, "WEBP", loop) if out_format != "WEBP" else None
            done.files["original.webp"] = (".webp", "image/webp", webp)
    except MemoryError:
        raise ImageRejected("The image is too large to process.") from None
    except Exception:  # e.g. summed frame durations too long for GIF (OverflowError)
        raise ImageRejected(NOT_PROCESSED) from None
    return done


def decode_image(data: bytes, filename: str, max_pixels: int,
                 max_frames: int = DEFAULT_MAX_FRAMES) -> tuple[str, Frames, int]:
    """Verify and decode `data`: (Pillow format, clean frames, GIF loop count)."""
    if not data:
        raise ImageRejected("The file is empty.")
    head = data[:512].lstrip().lower()
    if filename.lower().endswith((".svg", ".svgz")) or head.startswith((b"<svg", b"<?xml")):
        raise ImageRejected(
            "SVG images are not accepted (they can carry scripts); "
            "export it as PNG and upload that."
        )
    too_large = f"The image is too large to process (over {max_pixels / 1e6:g} megapixels)."
    with warnings.catch_warnings():
        # Pillow only warns between its limit and twice it; any bomb is an error here.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            return _decode(data, max_pixels, max_frames, too_large)
        except ImageRejected:
            raise
        except MemoryError:
            raise ImageRejected(too_large) from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise ImageRejected(too_large) from None
        except Image.UnidentifiedImageError:
            raise ImageRejected(NOT_AN_IMAGE) from None
        except Exception:  # Pillow raises many kinds of error on hostile input; all mean "bad file"
            raise ImageRejected(DAMAGED) from None


def _decode(data: bytes, max_pixels: int, max_frames: int, too_large: str
            ) -> tuple[str, Frames, int]:
    probe = Image.open(BytesIO(data), formats=OPENERS)
    fmt = probe.format or ""
    if fmt not in ACCEPTED:
        raise ImageRejected(NOT_AN_IMAGE)
    if probe.width * probe.height > max_pixels:
        raise ImageRejected(too_large)
    probe.verify()
    check_container(data, fmt)
    image = Image.open(BytesIO(data), formats=OPENERS)
    # A GIF's frames are counted from its blocks: Pillow's n_frames parses every frame first.
    frame_count = (_gif_walk(data)[1] if fmt == "GIF"
                   else getattr(image, "n_frames", 1) if fmt == "WEBP" else 1)
    if frame_count > max_frames:
        raise ImageRejected(
            f"The animation has {frame_count} frames; the limit is {max_frames}."
        )
    if frame_count * image.width * image.height > max_pixels:
        raise ImageRejected(
            f"The animation is too large to process ({frame_count} frames of "
            f"{image.width}×{image.height} is over {max_pixels / 1e6:g} megapixels)."
        )
    loop = int(image.info.get("loop", 0) or 0)
    if frame_count > 1:
        frames = [
            (_clean(frame.convert("RGBA")), int(frame.info.get("duration") or 100))
            for frame in ImageSequence.Iterator(image)
        ]
    else:
        image.load()
        frames = [(_clean(_to_srgb(ImageOps.exif_transpose(image))), 0)]
    return fmt, frames, loop


_srgb_profile: ImageCms.ImageCmsProfile | None = None


def _to_srgb(img: Image.Image) -> Image.Image:
    """Convert pixels to sRGB so that dropping the embedded ICC profile keeps the colours."""
    global _srgb_profile
    icc = img.info.get("icc_profile")
    if not icc or img.mode not in ("RGB", "RGBA", "CMYK"):
        return img
    try:
        if _srgb_profile is None:
            _srgb_profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
        source = ImageCms.ImageCmsProfile(BytesIO(icc))
        mode = "RGBA" if img.mode == "RGBA" else "RGB"
        return ImageCms.profileToProfile(img, source, _srgb_profile, outputMode=mode) or img
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return img


def _clean(img: Image.Image) -> Image.Image:
    """A plain RGB/RGBA/L copy with no metadata left to write back out."""
    if img.mode in ("RGB", "RGBA", "L"):
        out = img.copy()
    elif img.mode in ("LA", "PA", "La", "RGBa") or "transparency" in img.info:
        out = img.convert("RGBA")
    else:
        out = img.convert("RGB")
    out.info = {}
    return out


def resize(frames: Frames, width: int) -> Frames:
    w0, h0 = frames[0][0].size
    size = (width, max(1, round(h0 * width / w0)))
    return [
        (frame.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0), duration)
        for frame, duration in frames
    ]


def encode(frames: Frames, fmt: str, loop: int = 0) -> bytes:
    """Write `frames` as `fmt` (JPEG, PNG, WEBP or GIF) with no metadata."""
    if fmt == "JPEG":
        frames = [(f if f.mode in ("RGB", "L") else f.convert("RGB"), d) for f, d in frames]
    options = dict(ENCODE_OPTIONS[fmt])
    if len(frames) > 1:
        options.update(
            save_all=True,
            append_images=[frame for frame, _ in frames[1:]],
            duration=[d for _, d in frames],
            loop=loop,
        )
    first = frames[0][0]
    first.info = {}
    buffer = BytesIO()
    first.save(buffer, fmt, **options)
    return buffer.getvalue()


# --- one image and nothing else -----------------------------------------------------------------


def check_container(data: bytes, fmt: str) -> None:
    """Refuse a file whose image ends before the file does (anything but padding after it)."""
    end = image_end(data, fmt)
    if _only_padding(data, end):
        return
    if fmt == "MPO" and data[end:end + 2] == b"\xff\xd8":
        return  # the camera's further pictures, declared in the first one's MP index
    raise ImageRejected(HIDDEN_DATA)


def image_end(data: bytes, fmt: str) -> int:
    """Where the image of format `fmt` (Pillow's name) ends in `data`, from its own blocks;
    ImageRejected when it does not end."""
    return {"PNG": _png_end, "GIF": _gif_end, "WEBP": _webp_end}.get(fmt, _jpeg_end)(data)


def _only_padding(data: bytes, start: int, step: int = 1 << 20) -> bool:
    """Whether everything after `start` is padding; read a MiB at a time (`data` may be a
    memory map of a large file: a slice is a copy)."""
    return all(not data[i:i + step].strip(_PADDING) for i in range(start, len(data), step))


def _png_end(data: bytes) -> int:
    pos = 8
    while pos + 12 <= len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        chunk = data[pos + 4 : pos + 8]
        pos += 12 + length
        if chunk == b"IEND":
            return pos
    raise ImageRejected(DAMAGED)


def _webp_end(data: bytes) -> int:
    size = int.from_bytes(data[4:8], "little")
    end = 8 + size + (size & 1)
    if end > len(data) + 1:
        raise ImageRejected(DAMAGED)
    return end


def _gif_end(data: bytes) -> int:
    return _gif_walk(data)[0]


def _gif_walk(data: bytes) -> tuple[int, int]:
    """(where the GIF ends, how many images it holds), from its blocks."""
    n = len(data)
    if n < 13:
        raise ImageRejected(DAMAGED)
    pos = 13 + (3 << ((data[10] & 7) + 1) if data[10] & 0x80 else 0)
    frames = 0
    while pos < n:
        block = data[pos]
        if block == 0x3B:  # trailer
            return pos + 1, frames
        if block == 0x21:  # extension: introducer, label, sub-blocks
            pos += 2
        elif block == 0x2C:  # image: descriptor, local colour table, LZW code size, sub-blocks
            if pos + 10 > n:
                break
            frames += 1
            flags = data[pos + 9]
            pos += 10 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0) + 1
        else:
            raise ImageRejected(DAMAGED)
        while pos < n and data[pos]:
            pos += 1 + data[pos]
        pos += 1
    raise ImageRejected(DAMAGED)


def _jpeg_end(data: bytes) -> int:
    n = len(data)
    pos = 2
    while pos + 1 < n:
        if data[pos] != 0xFF:
            raise ImageRejected(DAMAGED)
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xD9:  # end of image
            return pos + 2
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            pos += 2
            continue
        pos += 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
        if marker == 0xDA:  # entropy-coded scan data runs until the next real marker
            while True:
                pos = data.find(b"\xff", pos)
                if pos == -1 or pos + 1 >= n:
                    raise ImageRejected(DAMAGED)
                following = data[pos + 1]
                if following == 0x00 or 0xD0 <= following <= 0xD7:
                    pos += 2
                elif following == 0xFF:
                    pos += 1
                else:
                    break
    raise ImageRejected(DAMAGED)
