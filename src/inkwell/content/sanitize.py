"""The one HTML sanitizer every rendered post goes through (an nh3 allowlist)."""

from __future__ import annotations

import re

import nh3

_TEXT_TAGS = {
    "p", "h1", "h2", "h3", "h4", "h5", "h6", "a", "em", "strong", "b", "i", "u", "del", "ins",
    "s", "code", "pre", "blockquote", "q", "cite", "small", "samp", "var", "time", "abbr", "kbd",
    "mark", "sup", "sub", "span", "br", "wbr", "hr",
}  # fmt: skip
_STRUCTURE_TAGS = {
    "div", "section", "nav", "figure", "figcaption", "details", "summary",
    "ul", "ol", "li", "dl", "dt", "dd", "img", "picture", "source",
    "table", "caption", "colgroup", "col", "thead", "tbody", "tfoot", "tr", "th", "td",
}  # fmt: skip
# What latex2mathml emits; annotation-xml and maction stay out (known XSS vectors).
_MATHML_TAGS = {
    "math", "mrow", "mi", "mn", "mo", "ms", "mtext", "mspace", "msup", "msub", "msubsup",
    "mfrac", "msqrt", "mroot", "mtable", "mtr", "mtd", "mover", "munder", "munderover",
    "mstyle", "mpadded", "mphantom", "menclose", "semantics", "annotation", "mfenced",
}  # fmt: skip
_MATHML_ATTRIBUTES = {
    "display", "xmlns", "mathvariant", "mathsize", "mathcolor", "mathbackground", "stretchy",
    "fence", "separator", "separators", "open", "close", "form", "lspace", "rspace", "largeop",
    "movablelimits", "accent", "accentunder", "symmetric", "minsize", "maxsize", "width",
    "height", "depth", "voffset", "linethickness", "displaystyle", "scriptlevel", "notation",
    "columnalign", "columnspacing", "columnlines", "rowalign", "rowspacing", "rowlines",
    "columnspan", "rowspan", "linebreak", "encoding",
}  # fmt: skip

_TAGS = _TEXT_TAGS | _STRUCTURE_TAGS | _MATHML_TAGS
_ATTRIBUTES = {
    "*": {"class", "id", "title", "lang", "dir"},
    "a": {"href", "aria-label"},
    "img": {"src", "alt", "width", "height", "loading", "srcset", "sizes", "decoding"},
    "source": {"srcset", "sizes", "type", "media"},
    "td": {"colspan", "rowspan", "align"},
    "th": {"colspan", "rowspan", "align", "scope"},
    "ol": {"start", "reversed"},
    "div": {"data-plotly", "data-plotly-bundle"},
    "nav": {"aria-label"},
    "details": {"open"},
    "time": {"datetime"},
    "del": {"datetime"},
    "ins": {"datetime"},
    **{tag: _MATHML_ATTRIBUTES for tag in _MATHML_TAGS},
}
# Dropped with everything inside them, rather than leaving their text behind.
_CLEAN_CONTENT_TAGS = {
    "script", "style", "template", "iframe", "noscript", "object", "embed", "svg", "textarea",
    "select", "title", "xmp", "noembed", "noframes",
}  # fmt: skip

_URL_SCHEMES = {"http", "https", "mailto"}
_SCHEME_RE = re.compile(r"^([a-z][a-z0-9+.-]*):")


def _check_srcset(tag: str, attribute: str, value: str) -> str | None:
    """nh3 checks href and src itself but not srcset, so its candidate URLs are checked here."""
    if attribute != "srcset":
        return value
    for candidate in value.split(","):
        url = candidate.split()[0].lower() if candidate.strip() else ""
        scheme = _SCHEME_RE.match(url)
        if scheme and scheme.group(1) not in ("http", "https"):
            return None
    return value


_OPTIONS: dict = {
    "tags": _TAGS,
    "clean_content_tags": _CLEAN_CONTENT_TAGS,
    "attributes": _ATTRIBUTES,
    "url_schemes": _URL_SCHEMES,
    "link_rel": "noopener noreferrer",
    "strip_comments": True,
    # Code blocks and tables scroll sideways when wide: a keyboard must be able to focus them.
    "set_tag_attribute_values": {"pre": {"tabindex": "0"}, "table": {"tabindex": "0"}},
}
_cleaner = nh3.Cleaner(**_OPTIONS)
# The filter is a Python call per attribute (a third of the cost), so only pay it for srcset.
_srcset_cleaner = nh3.Cleaner(**_OPTIONS, attribute_filter=_check_srcset)


def sanitize_html(html: str) -> str:
    """Keep only allowlisted tags, attributes and URL schemes (http, https, mailto, relative)."""
    cleaner = _srcset_cleaner if "srcset" in html.lower() else _cleaner
    return cleaner.clean(html)
