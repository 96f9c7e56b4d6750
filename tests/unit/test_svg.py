"""SVG figures are rebuilt from an allowlist: drawing stays, anything that runs or fetches goes."""

from __future__ import annotations

import pytest

from inkwell.content.svg import SvgRejected, sanitize_svg

HEAD = ('<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
        'width="460.8pt" height="345.6pt" viewBox="0 0 460.8 345.6">')


def clean(body: str) -> str:
    return sanitize_svg(f"{HEAD}{body}</svg>".encode())[0].decode()


def test_a_matplotlib_figure_keeps_its_drawing_and_size():
    out, width, height = sanitize_svg(
        b'<?xml version="1.0" encoding="utf-8" standalone="no"?>\n'
        b'<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" '
        b'"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">\n'
        + f'{HEAD}<defs><style type="text/css">*{{stroke-linejoin: round}}</style>'
          '<path id="m1" d="M 0 0 L 3 3"/></defs><g id="figure_1" clip-path="url(#c1)">'
          '<use xlink:href="#m1" x="1" y="2" style="fill: #1f77b4"/><text x="1">p99</text>'
          '</g></svg>'.encode())
    text = out.decode()
    for kept in ('<path id="m1"', 'xlink:href="#m1"', "stroke-linejoin", 'clip-path="url(#c1)"',
                 ">p99</text>", "fill: #1f77b4"):
        assert kept in text
    assert (width, height) == (614, 461)  # pt -> CSS px


@pytest.mark.parametrize("body, never", [
    ("<script>alert(1)</script>", "alert"),
    ('<g onload="alert(1)"><rect width="1" height="1"/></g>', "onload"),
    ('<foreignObject><div xmlns="http://www.w3.org/1999/xhtml">x</div></foreignObject>', "div"),
    ('<a href="javascript:alert(1)"><text>x</text></a>', "javascript"),
    ('<use xlink:href="https://evil.example/a.svg#x"/>', "evil"),
    ('<use href="data:image/svg+xml;base64,PHN2Zz4="/>', "data:"),
    ('<image href="https://evil.example/track.png"/>', "evil"),
    ('<rect width="1" height="1" style="fill: url(https://evil.example/t)"/>', "evil"),
    ('<rect width="1" height="1" fill="url(https://evil.example/t)"/>', "evil"),
    ("<style>@import url(https://evil.example/x.css);</style>", "evil"),
    ('<set attributeName="href" to="javascript:alert(1)"/>', "javascript"),
    ('<animate attributeName="href" values="javascript:alert(1)"/>', "javascript"),
])
def test_what_could_run_or_fetch_is_dropped(body, never):
    assert never not in clean(body)


def test_entities_and_what_is_not_svg_are_refused():
    with pytest.raises(SvgRejected, match="entities"):
        sanitize_svg(b'<!DOCTYPE svg [<!ENTITY a "aaaa">]><svg xmlns="http://www.w3.org/2000/svg">'
                     b"&a;</svg>")
    with pytest.raises(SvgRejected, match="not well-formed"):
        sanitize_svg(b"<svg")
    with pytest.raises(SvgRejected, match="not an SVG"):
        sanitize_svg(b'<html xmlns="http://www.w3.org/1999/xhtml"/>')
