"""SVG figures (matplotlib's default output) made safe to publish: rebuilt from an allowlist.

Why sanitize rather than rely on a sandboxing Content-Security-Policy: media may be served by
S3, MinIO or a CDN, where Inkwell cannot attach a header to the file, and a reader who opens
the figure's URL directly would then run whatever script it carries, on the blog's origin. So
what is stored keeps only drawing: shapes, text, gradients, clip paths, styles without external
URLs. Scripts, event handlers, <foreignObject>, links, external images and references to other
files are dropped. Pages show figures with <img>, where browsers never run scripts either.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
XML_NS = "http://www.w3.org/XML/1998/namespace"  # xml:space, xml:lang

# Static drawing only: no script, foreignObject, a, image, animation, iframe, use of other files.
ELEMENTS = {
    "svg", "g", "defs", "title", "desc", "symbol", "use", "path", "rect", "circle", "ellipse",
    "line", "polyline", "polygon", "text", "tspan", "textPath", "clipPath", "mask", "pattern",
    "linearGradient", "radialGradient", "stop", "marker", "style", "filter", "feBlend",
    "feColorMatrix", "feComposite", "feFlood", "feGaussianBlur", "feMerge", "feMergeNode",
    "feOffset", "feMorphology",
}
_URL = re.compile(r"url\(\s*['\"]?\s*([^'\")\s]*)", re.IGNORECASE)
_EVIL_CSS = re.compile(r"@import|expression\s*\(|javascript:|behavior\s*:", re.IGNORECASE)


class SvgRejected(ValueError):
    """An SVG that cannot be made safe (or is not SVG); the message is for the author."""


def _safe_css(text: str) -> bool:
    """CSS that fetches nothing: every url() points inside the drawing (#id)."""
    if _EVIL_CSS.search(text):
        return False
    return all(target.startswith("#") for target in _URL.findall(text))


def _local(name: str) -> tuple[str, str]:
    """(namespace, local name) of an ElementTree name such as {ns}tag."""
    if name.startswith("{"):
        ns, _, local = name[1:].partition("}")
        return ns, local
    return "", name


def _clean(element: ET.Element) -> None:
    for child in list(element):
        ns, tag = _local(child.tag) if isinstance(child.tag, str) else ("", "")
        if ns != SVG_NS or tag not in ELEMENTS:
            element.remove(child)  # with everything inside it
            continue
        if tag == "style" and not _safe_css(child.text or ""):
            element.remove(child)
            continue
        _clean_attributes(child)
        _clean(child)


def _clean_attributes(element: ET.Element) -> None:
    for name, value in list(element.attrib.items()):
        ns, local = _local(name)
        keep = True
        if local.lower().startswith("on") or ns not in ("", XLINK_NS, XML_NS):
            keep = False
        elif local == "href":  # only references inside this drawing (<use xlink:href="#p1">)
            keep = value.strip().startswith("#")
        elif ns == XLINK_NS:
            keep = False
        elif "url(" in value.lower() or local == "style":
            keep = _safe_css(value)
        elif "javascript:" in value.lower().replace(" ", ""):
            keep = False
        if not keep:
            del element.attrib[name]


def sanitize_svg(data: bytes) -> tuple[bytes, int, int]:
    """The drawing in `data` with nothing that could run or fetch: (bytes, width, height).

    Raises SvgRejected for what is not one well-formed SVG document."""
    head = data[:4096].lower()
    if b"<!entity" in head or b"<!entity" in data.lower():  # entity expansion: refused outright
        raise SvgRejected("the SVG declares XML entities; save it again without them")
    try:
        root = ET.fromstring(data)  # expat fetches no external DTD or entity
    except ET.ParseError as e:
        raise SvgRejected(f"the SVG is not well-formed XML ({e})") from None
    if root.tag != f"{{{SVG_NS}}}svg":
        raise SvgRejected("the file is not an SVG drawing (its root is not <svg>)")
    _clean_attributes(root)
    _clean(root)
    ET.register_namespace("", SVG_NS)
    ET.register_namespace("xlink", XLINK_NS)
    body = ET.tostring(root, encoding="unicode")
    width, height = _size(root)
    return ('<?xml version="1.0" encoding="utf-8"?>\n' + body).encode(), width, height


def _size(root: ET.Element) -> tuple[int, int]:
    """The drawing's size in CSS pixels (pt, as matplotlib writes, is 4/3 px); 0 when unknown."""

    def pixels(value: str | None) -> int:
        match = re.fullmatch(r"\s*([\d.]+)\s*(px|pt)?\s*", value or "")
        if not match:
            return 0
        number = float(match.group(1))
        return round(number * 4 / 3 if match.group(2) == "pt" else number)

    width, height = pixels(root.get("width")), pixels(root.get("height"))
    if not (width and height):
        box = (root.get("viewBox") or "").replace(",", " ").split()
        if len(box) == 4:
            width, height = pixels(box[2]), pixels(box[3])
    return width, height
