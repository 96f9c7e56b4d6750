"""The sanitizer keeps what posts need and removes anything that could run code."""

import pytest

from inkwell.content.render import render_markdown
from inkwell.content.sanitize import sanitize_html


def test_script_and_style_tags_are_removed_with_their_content():
    out = sanitize_html("<p>hi</p><script>alert(1)</script><style>p{}</style>")
    assert out == "<p>hi</p>"


@pytest.mark.parametrize(
    "markup",
    [
        '<img src="a.png" onerror="alert(1)">',
        '<p onclick="alert(1)">x</p>',
        '<a href="/" onmouseover="alert(1)">x</a>',
        '<p style="background:url(javascript:alert(1))">x</p>',
    ],
)
def test_event_handlers_and_inline_styles_are_removed(markup):
    out = sanitize_html(markup)
    assert "alert" not in out
    assert "style=" not in out


@pytest.mark.parametrize(
    "href",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "&#106;avascript:alert(1)",
        "&#x6A;&#x61;&#x76;&#x61;script:alert(1)",
        "java&#x09;script:alert(1)",
        " javascript:alert(1)",
        "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
        "vbscript:msgbox(1)",
    ],
)
def test_dangerous_link_and_image_urls_are_removed(href):
    out = sanitize_html(f'<a href="{href}">x</a><img src="{href}">')
    assert "href=" not in out
    assert "src=" not in out


def test_dangerous_urls_inside_srcset_remove_the_srcset():
    out = sanitize_html(
        '<img src="a.png" srcset="a.png 1x, JAVASCRIPT:alert(1) 2x">'
        '<picture><source srcset="data:image/png;base64,AAAA" type="image/png"></picture>'
    )
    assert "srcset" not in out
    assert 'type="image/png"' in out


def test_safe_urls_and_responsive_images_are_kept():
    out = sanitize_html(
        '<a href="https://example.com/a">a</a><a href="/about">b</a><a href="#top">c</a>'
        '<a href="mailto:me@example.com">d</a>'
        '<img src="/media/a.jpg" srcset="/media/a.jpg 1x, https://cdn.example.com/a2.jpg 2x"'
        ' alt="A" width="10" height="5" loading="lazy" decoding="async">'
    )
    for kept in (
        'href="https://example.com/a"',
        'href="/about"',
        'href="#top"',
        'href="mailto:me@example.com"',
        'srcset="/media/a.jpg 1x,',
        'loading="lazy"',
    ):
        assert kept in out
    assert 'rel="noopener noreferrer"' in out


def test_embeds_forms_and_inputs_are_removed():
    out = sanitize_html(
        '<iframe src="https://evil.example"></iframe><object data="x"></object><embed src="x">'
        '<form action="/x"><input name="q"><button>Go</button></form><svg><script>1</script></svg>'
    )
    for tag in ("<iframe", "<object", "<embed", "<form", "<input", "<button", "<svg", "<script"):
        assert tag not in out


def test_mathml_survives_and_its_traps_do_not():
    out = sanitize_html(
        '<math xmlns="http://www.w3.org/1998/Math/MathML" display="block"><mrow>'
        '<mo stretchy="true" fence="true" form="prefix">(</mo><mfrac><mi mathvariant="normal">a'
        "</mi><mn>2</mn></mfrac></mrow></math>"
        '<math><maction actiontype="statusline" xlink:href="javascript:alert(1)">x</maction>'
        "<mtext><table><mglyph><style><img src=x onerror=alert(1)></math>"
    )
    assert '<math xmlns="http://www.w3.org/1998/Math/MathML" display="block">' in out
    assert '<mo stretchy="true" fence="true" form="prefix">(</mo>' in out
    assert '<mi mathvariant="normal">a</mi>' in out
    assert "alert" not in out and "maction" not in out and "onerror" not in out


def test_a_rendered_post_keeps_footnotes_anchors_code_classes_and_math():
    out = render_markdown(
        "## Part\n\nNote[^1] and $x^2$.\n\n```python\nx = 1\n```\n\n[^1]: Here.\n"
    ).html
    for kept in (
        '<h2 id="part">',
        'class="header-anchor"',
        'class="footnote-ref"',
        'class="footnotes"',
        'id="fn1"',
        '<span class="n">x</span>',
        "<msup>",
    ):
        assert kept in out


def test_the_chart_div_keeps_its_figure_and_nothing_else():
    out = sanitize_html(
        '<figure class="chart"><div class="plotly-chart" data-plotly="{&quot;data&quot;:[]}"'
        ' data-other="x" onload="alert(1)"></div></figure>'
    )
    assert out == (
        '<figure class="chart"><div class="plotly-chart" data-plotly="{&quot;data&quot;:[]}">'
        "</div></figure>"
    )


def test_raw_html_in_markdown_goes_through_the_sanitizer():
    out = render_markdown(
        'Hi <span onclick="steal()">there</span>\n\n<script>steal()</script>\n'
    ).html
    assert "steal" not in out
    assert "<span>there</span>" in out


def test_html_comments_are_dropped():
    assert sanitize_html("<p>a<!-- secret --></p>") == "<p>a</p>"
