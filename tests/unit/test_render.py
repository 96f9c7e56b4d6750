"""Rendering a post: what readers see, and what bad input turns into (never an exception)."""

import html
import json
import re

from inkwell.content.render import Rendered, render_markdown


def data_plotly(rendered_html):
    return json.loads(html.unescape(re.search(r'data-plotly="([^"]*)"', rendered_html)[1]))


def test_tables_render_with_their_column_alignment():
    out = render_markdown("| Name | Score |\n|:-----|------:|\n| Ann | 10 |\n").html
    assert "<table tabindex=\"0\">" in out  # focusable: a wide table scrolls
    assert '<th align="left">Name</th>' in out
    assert '<td align="right">10</td>' in out
    assert "style=" not in out


def test_strikethrough_is_shown_struck_out():
    assert "<s>old price</s>" in render_markdown("Now ~~old price~~ free.").html


def test_footnotes_link_to_notes_at_the_end():
    out = render_markdown("A claim.[^src]\n\n[^src]: The source.\n").html
    assert '<sup class="footnote-ref"><a href="#fn1" id="fnref1"' in out
    assert '<section class="footnotes">' in out
    assert '<li id="fn1" class="footnote-item">' in out
    assert 'href="#fnref1" class="footnote-backref"' in out


def test_headings_get_anchors_with_an_accessible_permalink():
    out = render_markdown("## Getting Started\n\ntext\n").html
    assert '<h2 id="getting-started">' in out
    assert 'class="header-anchor" href="#getting-started"' in out
    assert 'aria-label="Link to this section: Getting Started"' in out


def test_repeated_headings_get_distinct_anchors():
    out = render_markdown("## Notes\n\n## Notes\n").html
    assert 'id="notes"' in out and 'id="notes-1"' in out


def test_many_equal_headings_are_numbered_in_order_and_never_collide():
    # Numbered by the renderer (the anchors plugin's own search for a free number is quadratic:
    # 10,000 of these took 24 s), including a heading whose own slug is a generated one.
    ids = re.findall(r'<h2 id="([^"]+)"', render_markdown("## h\n" * 3000 + "## h 5\n").html)
    assert ids[:3000] == ["h"] + [f"h-{i}" for i in range(1, 3000)]
    assert len(set(ids)) == len(ids) == 3001


def test_anchor_numbers_start_again_in_every_document():
    assert 'id="notes"' in render_markdown("## Notes\n").html
    assert 'id="notes"' in render_markdown("## Notes\n").html


def test_the_table_of_contents_lists_h2_and_nests_h3():
    rendered = render_markdown("# Title\n\n## One\n\n### One point one\n\n## Two\n\n#### Deep\n")
    assert rendered.toc_html == (
        '<nav class="toc" aria-label="Contents"><ol>'
        '<li><a href="#one" rel="noopener noreferrer">One</a>'
        '<ol><li><a href="#one-point-one" rel="noopener noreferrer">One point one</a></li></ol>'
        "</li>"
        '<li><a href="#two" rel="noopener noreferrer">Two</a></li>'
        "</ol></nav>"
    )


def test_a_post_with_one_section_has_no_table_of_contents():
    assert render_markdown("## Only one\n\ntext\n").toc_html == ""


def test_python_code_is_highlighted_with_pygments_classes():
    out = render_markdown("```python\ndef greet(name):\n    return 1\n```\n").html
    assert '<pre class="highlight" tabindex="0"><code class="language-python">' in out
    assert '<span class="k">def</span>' in out
    assert "style=" not in out


def test_code_in_an_unknown_language_is_shown_as_escaped_text():
    out = render_markdown("```nosuchlang\n<b>not bold</b> & more\n```\n").html
    assert '<code class="language-nosuchlang">&lt;b&gt;not bold&lt;/b&gt; &amp; more' in out


def test_a_strange_info_string_does_not_break_the_code_block():
    out = render_markdown('```"><script>x\nprint(1)\n```\n').html
    assert "<script" not in out
    assert "print(1)" in out


def test_inline_and_block_math_become_mathml():
    rendered = render_markdown("Euler: $e^{i\\pi} + 1 = 0$\n\n$$\n\\frac{a}{b}\n$$\n")
    assert '<math xmlns="http://www.w3.org/1998/Math/MathML" display="inline">' in rendered.html
    assert '<math xmlns="http://www.w3.org/1998/Math/MathML" display="block">' in rendered.html
    assert "<mfrac>" in rendered.html
    assert rendered.has_math


def test_prices_in_dollars_are_not_mistaken_for_math():
    rendered = render_markdown("It costs $5 or $10.")
    assert "<math" not in rendered.html
    assert not rendered.has_math


def test_bad_latex_is_shown_as_its_source_instead_of_failing():
    out = render_markdown("Broken: $\\frac{$ and $\\begin{matrix$\n").html
    assert out.count('<code class="math-error"') == 2
    assert "\\frac{</code>" in out


def test_math_cannot_smuggle_html_in():
    out = render_markdown("$\\text{<script>alert(1)</script>}$").html
    assert "<script" not in out and "alert" not in out


def test_a_plotly_block_becomes_a_chart_with_its_figure():
    figure = {"data": [{"x": [1, 2], "y": [3, 4], "name": "<b>\"q'</b>"}], "layout": {"title": "T"}}
    rendered = render_markdown(f"```plotly\n{json.dumps(figure, indent=2)}\n```\n")
    assert '<div class="plotly-chart" data-plotly-bundle="basic" data-plotly="' in rendered.html
    assert data_plotly(rendered.html) == figure
    assert rendered.has_chart


def test_invalid_chart_json_is_shown_as_a_visible_error():
    rendered = render_markdown('```plotly\n{"data": [1,\n```\n')
    assert '<pre class="chart-error" tabindex="0">This chart is not valid JSON' in rendered.html
    assert "line 2" in rendered.html
    assert not rendered.has_chart


def test_a_chart_without_a_data_list_is_an_error():
    rendered = render_markdown('```plotly\n{"layout": {}}\n```\n')
    assert 'must be a JSON object with a "data" list' in rendered.html
    assert not rendered.has_chart


def test_a_post_without_charts_or_math_says_so():
    rendered = render_markdown("Just words.")
    assert not rendered.has_chart and not rendered.has_math


def test_the_summary_is_the_first_paragraph_without_footnote_markers():
    rendered = render_markdown("# Title\n\nFirst *paragraph*.[^1]\n\nSecond.\n\n[^1]: Note.\n")
    assert rendered.summary_html == "<p>First <em>paragraph</em>.</p>"


def test_a_post_without_paragraphs_has_no_summary():
    assert render_markdown("## Heading only\n").summary_html == ""


def test_plain_text_has_no_markup_and_no_permalink_symbols():
    rendered = render_markdown("## Intro\n\nSome **bold**\nand `code` <em>raw</em>.\n")
    assert rendered.plain_text == "Intro Some bold and code raw."


def test_reading_time_is_words_over_220_and_at_least_one_minute():
    assert render_markdown("Short.").reading_minutes == 1
    assert render_markdown("word " * 1100).reading_minutes == 5


def test_raw_html_is_allowed_but_sanitized():
    out = render_markdown(
        '<details><summary>More</summary>Hidden</details>\n\n<img src=x onerror="alert(1)">'
    ).html
    assert "<details><summary>More</summary>Hidden</details>" in out
    assert "onerror" not in out


def test_a_markdown_javascript_link_is_not_a_link():
    out = render_markdown("[click](javascript:alert(1)) and [ok](https://example.com)").html
    assert 'href="javascript' not in out
    assert 'href="https://example.com"' in out


def test_render_markdown_returns_a_frozen_result():
    rendered = render_markdown("x")
    assert isinstance(rendered, Rendered)
    try:
        rendered.html = "changed"
    except AttributeError:
        pass
    assert rendered.html != "changed"


def test_a_chart_nested_too_deeply_is_a_visible_error_not_a_crash():
    rendered = render_markdown("```plotly\n" + "[" * 100_000 + "\n```\n")
    assert "chart-error" in rendered.html and "nested too deeply" in rendered.html
    assert not rendered.has_chart
