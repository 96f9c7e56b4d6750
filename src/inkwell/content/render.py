"""Markdown to sanitized HTML, done once when a post is saved (never on page views)."""

from __future__ import annotations

import contextvars
import functools
import html
import json
import re
import secrets
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from latex2mathml.converter import convert as latex_to_mathml
from markdown_it import MarkdownIt
from markdown_it.common.utils import unescapeAll
from markdown_it.rules_core import StateCore
from markdown_it.token import Token
from mdit_py_plugins.anchors import anchors_plugin
from mdit_py_plugins.anchors.index import slugify as github_slug
from mdit_py_plugins.dollarmath import dollarmath_plugin
from mdit_py_plugins.footnote import footnote_plugin
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexer import Lexer
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

from ..assets import plotly_bundle_for
from .chart_picture import chart_picture
from .sanitize import sanitize_html

WORDS_PER_MINUTE = 220
# Bump whenever rendering or sanitizing changes what a stored post's HTML would be: `inkwell
# rerender` (and every `inkwell setup`) re-renders the posts an older version made.
# 1: pre and table focusable (tabindex), code themes with AA contrast (issue 16).
# 2: a chart names the plotly.js bundle it needs and has a visible fallback line (issue 16).
# 3: code blocks name their language and have a head line for the copy button (issue 16).
# 4: a chart has a static picture (content/chart_picture.py) until plotly.js draws it.
RENDER_VERSION = 4
_LANG_RE = re.compile(r"^[\w#+.-]+$")
_MATH_TOKENS = {"math_inline", "math_inline_double", "math_block", "math_block_label"}


@dataclass(frozen=True)
class Rendered:
    """Everything stored on a post at save time; every *_html field is already sanitized."""

    html: str
    toc_html: str
    summary_html: str
    plain_text: str
    has_math: bool
    has_chart: bool
    reading_minutes: int


def render_markdown(text: str, image_urls: Mapping[str, str] | None = None) -> Rendered:
    """Render a post body; never raises on bad code, math or chart blocks (they show inline).

    `image_urls`: image sources as the page would have them (Markdown images, reference-style
    images, raw <img src>) -> the URL to show instead (a content folder's figures, stored)."""
    md = _markdown()
    env: dict[str, Any] = {"image_urls": image_urls or {}, "chart_pictures": {},
                           "picture_token": secrets.token_hex(8)}
    tokens = md.parse(text, env)
    body = md.renderer.render(tokens, md.options, env)
    plain_text, has_math = _plain_text(tokens)
    words = len(plain_text.split())
    return Rendered(
        html=_put_pictures(sanitize_html(body), env["chart_pictures"]),
        toc_html=sanitize_html(_toc(env.get("headings", []))),
        summary_html=sanitize_html(_summary(md, tokens, env)),
        plain_text=plain_text,
        has_math=has_math,
        has_chart=bool(env.get("has_chart")),
        reading_minutes=max(1, round(words / WORDS_PER_MINUTE)),
    )


def parse(text: str) -> list[Token]:
    """The tokens of a post body, as render_markdown sees them (nothing rendered)."""
    return _markdown().parse(text, {"image_urls": {}})


@functools.cache
def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": True, "linkify": False, "typographer": False})
    md.enable("table").enable("strikethrough")
    footnote_plugin(md)
    # Without the space/digit rules, "costs $5 and $10" would become a formula.
    dollarmath_plugin(md, allow_space=False, allow_digits=False, renderer=_render_math)
    anchors_plugin(
        md,
        min_level=1,
        max_level=4,
        slug_func=_numbered_slug,
        permalink=True,
        permalinkSymbol="#",
    )
    md.core.ruler.before("anchor", "slug_counts", _new_slug_counts)
    md.core.ruler.after("anchor", "heading_index", _index_headings)
    md.core.ruler.push("table_align", _table_align)
    md.core.ruler.push("image_urls", _replace_image_urls)
    md.add_render_rule("fence", _render_fence)
    return md


# Headings seen so far in the document being rendered, by slug (one dict per render and thread).
_slug_counts: contextvars.ContextVar[dict[str, int]] = contextvars.ContextVar("slug_counts")


def _new_slug_counts(state: StateCore) -> None:
    _slug_counts.set({})


def _numbered_slug(title: str) -> str:
    """GitHub's slug, numbered from the second heading of the same name on ("intro", "intro-1").

    The anchors plugin makes a slug unique by trying "-1", "-2", ... until one is free, which is
    quadratic in the number of equal headings (10,000 "## h" lines took 24 s); handing it the
    next free number makes each heading one step, with the same ids as before.
    """
    slug = github_slug(title) or "section"
    counts = _slug_counts.get()
    seen = counts.get(slug, 0)
    counts[slug] = seen + 1
    return f"{slug}-{seen}" if seen else slug


def _render_math(latex: str, options: dict[str, Any]) -> str:
    try:
        return latex_to_mathml(latex, display="block" if options["display_mode"] else "inline")
    except Exception:  # latex2mathml raises many unrelated types on malformed input
        return (
            '<code class="math-error" title="This formula could not be read">'
            f"{html.escape(latex)}</code>"
        )


def _index_headings(state: StateCore) -> None:
    """Label each permalink for screen readers and record headings for the table of contents."""
    headings: list[tuple[int, str, str]] = []
    tokens = state.tokens
    for idx, token in enumerate(tokens):
        if token.type != "heading_open" or not token.attrGet("id"):
            continue
        children = tokens[idx + 1].children or []
        title_parts = []
        for child in children:
            if child.type == "link_open" and child.attrGet("class") == "header-anchor":
                break
            if child.type in ("text", "code_inline"):
                title_parts.append(child.content)
        title = "".join(title_parts).strip()
        for child in children:
            if child.type == "link_open" and child.attrGet("class") == "header-anchor":
                child.attrSet("aria-label", f"Link to this section: {title}".rstrip(": "))
        headings.append((int(token.tag[1]), str(token.attrGet("id")), title))
    state.env["headings"] = headings


# <img ... src="x"> in raw HTML: the value (quoted or not) of its src attribute.
_RAW_IMG_SRC = re.compile(
    r"""(<img\b[^>]*?\ssrc\s*=\s*)(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""", re.IGNORECASE
)


def image_sources(tokens: Sequence[Token]) -> Iterator[tuple[str, Token]]:
    """(src, the block token it is in) for every image of a parsed document: Markdown and
    reference-style images (src as markdown-it normalised it), and raw HTML <img src>."""
    for token in tokens:
        if token.type == "html_block":
            for match in _RAW_IMG_SRC.finditer(token.content):
                yield html.unescape(_raw_value(match)), token
        elif token.type == "inline":
            for child in token.children or []:
                if child.type == "image":
                    yield str(child.attrGet("src") or ""), token
                elif child.type == "html_inline":
                    for match in _RAW_IMG_SRC.finditer(child.content):
                        yield html.unescape(_raw_value(match)), token


def _raw_value(match: re.Match) -> str:
    return next(v for v in match.groups()[1:] if v is not None)


def _replace_image_urls(state: StateCore) -> None:
    urls: Mapping[str, str] = state.env.get("image_urls") or {}
    if not urls:
        return

    def raw(content: str) -> str:
        def swap(match: re.Match) -> str:
            url = urls.get(html.unescape(_raw_value(match)))
            return match.group(0) if url is None else f'{match.group(1)}"{html.escape(url)}"'

        return _RAW_IMG_SRC.sub(swap, content)

    for token in state.tokens:
        if token.type == "html_block":
            token.content = raw(token.content)
        for child in token.children or []:
            if child.type == "image" and child.attrGet("src") in urls:
                child.attrSet("src", urls[str(child.attrGet("src"))])
            elif child.type == "html_inline":
                child.content = raw(child.content)


def _table_align(state: StateCore) -> None:
    # The sanitizer drops style attributes, so keep column alignment as align=.
    for token in state.tokens:
        if token.type in ("th_open", "td_open"):
            style = token.attrs.pop("style", None)
            if isinstance(style, str) and style.startswith("text-align:"):
                token.attrSet("align", style.removeprefix("text-align:"))


def _render_fence(
    self: Any, tokens: Sequence[Token], idx: int, options: Any, env: dict[str, Any]
) -> str:
    token = tokens[idx]
    lang = _fence_lang(token).lower()
    if lang == "plotly":
        return _render_chart(token.content, env)
    code = html.escape(token.content)
    if not _LANG_RE.match(lang):
        return _code_block(f'<pre class="highlight"><code>{code}</code></pre>', "")
    lexer = _lexer(lang)
    if lexer is not None:
        try:
            code = highlight(token.content, lexer, _formatter())
        except Exception:  # a lexer bug must not stop a post from saving; show it unhighlighted
            pass
    named = lexer.name if lexer is not None else _fence_lang(token)
    pre = f'<pre class="highlight"><code class="language-{lang}">{code}</code></pre>'
    return _code_block(pre, named)


def _code_block(pre: str, language: str) -> str:
    """A code block with a head line naming its language (Pygments' name, "Python"; as written
    when Pygments has none); static/js/code.js puts a copy button in the head."""
    label = f'<span class="code-lang">{html.escape(language)}</span>' if language else ""
    return f'<div class="code-block"><div class="code-head">{label}</div>{pre}</div>\n'


def _fence_lang(token: Token) -> str:
    info = unescapeAll(token.info).strip()
    return info.split(maxsplit=1)[0] if info else ""


@functools.lru_cache(maxsize=256)
def _lexer(name: str) -> Lexer | None:
    try:
        return get_lexer_by_name(name, stripnl=False, ensurenl=True)
    except ClassNotFound:
        return None


@functools.cache
def _formatter() -> HtmlFormatter:
    return HtmlFormatter(nowrap=True)


def _render_chart(source: str, env: dict[str, Any]) -> str:
    try:
        figure = json.loads(source)
    except json.JSONDecodeError as exc:
        return _chart_error(
            f"This chart is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."
        )
    except RecursionError:
        return _chart_error("This chart is nested too deeply to read.")
    if not isinstance(figure, dict) or not isinstance(figure.get("data"), list):
        return _chart_error('A chart must be a JSON object with a "data" list.')
    if not isinstance(figure.get("layout", {}), dict):
        return _chart_error('A chart\'s "layout" must be a JSON object.')
    try:
        compact = json.dumps(figure, separators=(",", ":"), allow_nan=False)
    except RecursionError:
        return _chart_error("This chart is nested too deeply to read.")
    except ValueError:
        return _chart_error("A chart cannot contain NaN or Infinity; use null for missing values.")
    env["has_chart"] = True
    # Until js/charts.js draws the chart (or forever, with no JavaScript or in a feed reader),
    # the figure says what it is and links to itself: in the feed the link (xml:base) is the post.
    anchor = _numbered_slug("chart")
    title = _chart_title(figure)
    picture = chart_picture(figure, title)
    slot = ""
    if picture is not None:
        # Our own markup (inline SVG, style attributes) that the sanitizer would drop: it goes
        # in after sanitizing, in the place of a slot whose id nobody could have written.
        slot_id = f"picture-{env['picture_token']}-{len(env['chart_pictures'])}"
        env["chart_pictures"][_slot(slot_id)] = picture
        slot = _slot(slot_id)
    return (
        f'<figure class="chart{" has-picture" if picture else ""}" id="{anchor}">'
        f'<div class="plotly-chart" data-plotly-bundle="{plotly_bundle_for(figure)}" '
        f'data-plotly="{html.escape(compact, quote=True)}">{slot}</div>'
        f'<figcaption class="chart-fallback">Interactive chart{": " if title else ""}'
        f"{html.escape(title)} (<a href=\"#{anchor}\">drawn on the post's page</a>"
        " with JavaScript)</figcaption></figure>\n"
    )


def _slot(slot_id: str) -> str:
    return f'<div id="{slot_id}"></div>'


def _put_pictures(sanitized: str, pictures: dict[str, str]) -> str:
    """The sanitized body with each chart's slot replaced by its picture."""
    for slot, picture in pictures.items():
        sanitized = sanitized.replace(slot, picture, 1)
    return sanitized


_PLOTLY_MARKUP_RE = re.compile(r"<[^>]*>")


def _chart_title(figure: dict[str, Any]) -> str:
    """A figure's title as plain text (plotly's title may be a string or {"text": ...} and may
    hold plotly's own <b>, <br> markup); "" when it has none."""
    title = figure.get("layout", {}).get("title")
    if isinstance(title, dict):
        title = title.get("text")
    if not isinstance(title, str):
        return ""
    return " ".join(html.unescape(_PLOTLY_MARKUP_RE.sub(" ", title)).split())


def _chart_error(message: str) -> str:
    return f'<pre class="chart-error">{html.escape(message)}</pre>\n'


def _plain_text(tokens: Sequence[Token]) -> tuple[str, bool]:
    """Words a reader sees (code included, formulas and raw HTML left out), and whether any math."""
    parts: list[str] = []
    has_math = False
    for token in tokens:
        if token.type in _MATH_TOKENS:
            has_math = True
        elif token.type == "inline":
            in_permalink = False
            for child in token.children or []:
                if child.type in _MATH_TOKENS:
                    has_math = True
                elif child.type == "link_open" and child.attrGet("class") == "header-anchor":
                    in_permalink = True
                elif child.type == "link_close":
                    in_permalink = False
                elif child.type in ("text", "code_inline") and not in_permalink:
                    parts.append(child.content)
                elif child.type in ("softbreak", "hardbreak"):
                    parts.append(" ")
            parts.append(" ")
        elif token.type == "code_block" or (
            token.type == "fence" and _fence_lang(token).lower() != "plotly"
        ):
            parts.append(f" {token.content} ")
    return " ".join("".join(parts).split()), has_math


def _summary(md: MarkdownIt, tokens: Sequence[Token], env: dict[str, Any]) -> str:
    """The first top-level paragraph, without footnote markers (their notes are not shown)."""
    start = next(
        (i for i, t in enumerate(tokens) if t.type == "paragraph_open" and t.level == 0), None
    )
    if start is None:
        return ""
    inline = tokens[start + 1]
    children = [c for c in inline.children or [] if c.type != "footnote_ref"]
    paragraph = [tokens[start], inline.copy(children=children), tokens[start + 2]]
    return md.renderer.render(paragraph, md.options, env).strip()


def _toc(headings: list[tuple[int, str, str]]) -> str:
    entries = [h for h in headings if h[0] in (2, 3)]
    if len(entries) < 2:
        return ""
    top = min(level for level, _, _ in entries)
    parts = ['<nav class="toc" aria-label="Contents"><ol>']
    in_sublist = False
    for position, (level, anchor, title) in enumerate(entries):
        link = f'<a href="#{html.escape(anchor)}">{html.escape(title)}</a>'
        if level > top and position > 0:
            if not in_sublist:
                parts.append("<ol>")
                in_sublist = True
            parts.append(f"<li>{link}</li>")
            continue
        if in_sublist:
            parts.append("</ol>")
            in_sublist = False
        if position > 0:
            parts.append("</li>")
        parts.append(f"<li>{link}")
    parts.append("</ol></li></ol></nav>" if in_sublist else "</li></ol></nav>")
    return "".join(parts)
