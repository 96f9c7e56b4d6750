"""YAML front matter: split it from the Markdown body, check it, and write it back."""

from __future__ import annotations

import functools
import itertools
import math
import re
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time
from typing import Any

import yaml
from markdown_it import MarkdownIt

from .limits import (
    MAX_DESCRIPTION_LENGTH,
    MAX_FRONT_MATTER,
    MAX_TAG_LENGTH,
    MAX_TAGS,
    MAX_TITLE_LENGTH,
)
from .slugs import slugify

_OPENING = "---"
_CLOSINGS = ("---", "...")
_KEY_ORDER = ("title", "slug", "date", "updated", "description", "tags", "draft", "toc")
_TEXT_KEYS = ("title", "slug", "description")
_DATE_KEYS = ("date", "updated")
_BOOL_KEYS = ("draft", "toc", "page")
_BOOL_WORDS = {"true": True, "yes": True, "false": False, "no": False}
_QUOTE_HINT = "Put the value in quotes."
# What the editor allows too (a longer imported title could not be saved again in the editor).
_MAX_TEXT = {"title": MAX_TITLE_LENGTH, "description": MAX_DESCRIPTION_LENGTH}
_MAX_DEPTH = 20
_MAX_VALUES = 10_000
# Dates a post may carry: outside them HTTP dates, feeds and sitemaps go wrong (year 9999 sent as
# Last-Modified, year 1 written "1-01-01"), and no blog post is from then.
EARLIEST_DATE = datetime(1900, 1, 1)
LATEST_DATE = datetime(2100, 12, 31, 23, 59, 59, 999_999)

_Fail = Callable[[str], "SourceError"]

# libyaml's parser when PyYAML was built with it (the wheels are): the same safe constructor,
# several times faster than the pure-Python parser, which an import of many posts feels.
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class SourceError(ValueError):
    """A problem in a post's source file that its author has to fix."""

    def __init__(self, path: str, line: int | None, message: str) -> None:
        self.path = path
        self.line = line
        self.message = message
        where = path if line is None else f"{path}:{line}"
        super().__init__(f"{where}: {message}")


def parse_source(text: str, path: str,
                 adapt: Callable[[dict], dict] | None = None) -> tuple[dict, str]:
    """Split a document into (front matter, Markdown body); ({}, text) when it has none.
    `adapt`: applied to the settings as read, before they are checked (foreign.py)."""
    lines = text.removeprefix("\ufeff").splitlines(keepends=True)
    if not lines or lines[0].rstrip() != _OPENING:
        return {}, text
    end = next((i for i in range(1, len(lines)) if lines[i].rstrip() in _CLOSINGS), None)
    if end is None:
        raise SourceError(
            path,
            1,
            "The front matter that starts here is never closed: add a line with only ---"
            " after the last setting (title, date, ...) and before the text of the post.",
        )
    header = lines[1:end]
    body = "".join(lines[end + 1 :])
    # dump_source writes one blank line after the closing ---; drop it so round trips are exact.
    body = body[2:] if body.startswith("\r\n") else body.removeprefix("\n")
    source = "".join(header)
    check_front_matter_size(source, path)
    try:
        data = yaml.load(source, Loader=_SafeLoader)  # noqa: S506 (a safe loader)
    except yaml.YAMLError as exc:
        raise _yaml_error(path, exc, len(header)) from None
    except ValueError as exc:  # PyYAML's own ValueError for impossible dates like 2024-02-30
        raise SourceError(
            path,
            _bad_scalar_line(source),
            f"This value cannot be read ({exc}); if it is a date, check that the day exists.",
        ) from None
    if data is None:
        return {}, body
    if not isinstance(data, dict):
        raise SourceError(
            path,
            2,
            "The front matter must be settings, one 'name: value' per line,"
            f" but it reads as {_describe(data)}.",
        )
    return _normalise(adapt(data) if adapt else data, header, path), body


def check_front_matter_size(source: str, path: str) -> None:
    """SourceError for settings longer than MAX_FRONT_MATTER, before anything parses them."""
    size = len(source.encode("utf-8", "surrogatepass"))
    if size > MAX_FRONT_MATTER:
        raise SourceError(path, 1, f"The front matter is {size // 1024} KB; the limit is "
                          f"{MAX_FRONT_MATTER // 1024} KB. It holds a post's settings (title, "
                          "date, tags, ...): put long text in the post itself.")


def normalise_meta(data: dict, path: str) -> dict:
    """Check settings that came from elsewhere than a YAML header (a notebook's metadata, a
    Pelican or TOML header) by the same rules; errors name the file and the setting."""
    return _normalise(data, [], path)


def dump_source(meta: dict, body: str) -> str:
    """The inverse of parse_source: front matter in a stable key order, a blank line, the body."""
    ordered = {key: meta[key] for key in _KEY_ORDER if key in meta}
    ordered.update((key, value) for key, value in meta.items() if key not in ordered)
    header = yaml.dump(
        ordered,
        Dumper=_Dumper,
        allow_unicode=True,
        sort_keys=False,
        default_flow_style=False,
    )
    return f"---\n{header}---\n\n{body}"


def title_from_body(body: str) -> tuple[str, str]:
    """A title for a file without front matter, and the body without the heading it came from."""
    md = _title_parser()
    tokens = md.parse(body)
    for idx, token in enumerate(tokens):
        if token.type == "heading_open" and token.tag == "h1" and token.map:
            title = _inline_text(tokens[idx + 1].children or [])
            if title:
                lines = body.splitlines(keepends=True)
                start, stop = token.map
                return title, "".join(lines[:start] + lines[stop:])
    # Otherwise the first line of text (not of a code block), without its Markdown.
    for token in tokens:
        if token.type == "inline" and token.content.strip():
            first_line = token.content.strip().splitlines()[0]
            title = _inline_text(md.parseInline(first_line)[0].children or [])
            if title:
                return title, body
    return "Untitled", body


class _Dumper(yaml.SafeDumper):
    """SafeDumper that writes datetimes as ISO 8601 with a 'T', e.g. 2024-05-01T09:30:00."""


_Dumper.add_representer(
    datetime,
    lambda dumper, value: dumper.represent_scalar("tag:yaml.org,2002:timestamp", value.isoformat()),
)


@functools.cache
def _title_parser() -> MarkdownIt:
    return MarkdownIt("commonmark")


def _inline_text(children: list) -> str:
    text = "".join(c.content for c in children if c.type in ("text", "code_inline"))
    return " ".join(text.split())


def _yaml_error(path: str, exc: yaml.YAMLError, header_lines: int) -> SourceError:
    mark = getattr(exc, "problem_mark", None)
    context = getattr(exc, "context_mark", None)
    # An unclosed quote or bracket is only noticed at the end; point at where it was opened.
    if context is not None and (mark is None or mark.line >= header_lines):
        mark = context
    # The mark counts from 0 within the front matter, which starts on file line 2.
    line = mark.line + 2 if mark is not None else 1
    problem = getattr(exc, "problem", None) or "the settings could not be read"
    if "stream end" in problem or "end of stream" in problem:
        advice = "A quote or bracket opened on this line is never closed."
    elif "'\\t'" in problem:
        advice = "Indent with spaces, not tabs."
    else:
        advice = (
            "Check the indentation, and put quotes around values that contain ': ' or ' #',"
            " or that start with a character such as [ { * & ! | > ' \" % @ or `."
        )
    return SourceError(path, line, f"The front matter is not valid YAML ({problem}). {advice}")


def _bad_scalar_line(source: str) -> int | None:
    """The file line of the first value PyYAML can parse but not construct."""
    stack = [yaml.compose(source, Loader=yaml.SafeLoader)]
    while stack:
        node = stack.pop()
        if isinstance(node, yaml.ScalarNode):
            try:
                yaml.SafeLoader("").construct_object(node)
            except ValueError:
                return node.start_mark.line + 2
        elif isinstance(node, yaml.MappingNode):
            stack.extend(reversed([part for pair in node.value for part in pair]))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(reversed(node.value))
    return None


def _normalise(data: dict, header: list[str], path: str) -> dict:
    meta: dict[str, Any] = {}
    for key, value in data.items():
        if not isinstance(key, str):
            raise _key_error(
                path, header, str(key), "is not a valid setting name: put the name in quotes."
            )
        fail = functools.partial(_key_error, path, header, key)
        if key in _TEXT_KEYS:
            meta[key] = _text(key, value, fail)
        elif key in _DATE_KEYS:
            meta[key] = _datetime(value, fail)
        elif key == "tags":
            meta[key] = _tags(value, fail)
        elif key in _BOOL_KEYS:
            meta[key] = _bool(value, fail)
        else:
            meta[key] = _plain(value, fail)
    return meta


def _key_error(path: str, header: list[str], key: str, problem: str) -> SourceError:
    return SourceError(path, _key_line(key, header), f"'{key}' {problem}")


def _key_line(key: str, header: list[str]) -> int | None:
    pattern = re.compile(rf"^(['\"]?){re.escape(key)}\1\s*:")
    for number, line in enumerate(header, start=2):
        if pattern.match(line):
            return number
    return None


def _text(key: str, value: Any, fail: _Fail) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if value is None:
        raise fail("is empty: write a value after the colon, or remove the line.")
    if not isinstance(value, str):
        hint = _QUOTE_HINT if isinstance(value, bool | date) else ""
        raise fail(f"must be text, but it reads as {_describe(value)}. {hint}".rstrip())
    value = value.strip()
    limit = _MAX_TEXT.get(key)
    if limit and len(value) > limit:
        raise fail(f"is {len(value)} characters long; the limit is {limit}.")
    if key == "slug":
        value = slugify(value)
        if not value:
            raise fail("needs at least one letter or digit, e.g. slug: my-first-post")
    return value


def _datetime(value: Any, fail: _Fail) -> datetime:
    moment = _as_datetime(value, fail)
    if not EARLIEST_DATE <= moment <= LATEST_DATE:
        raise fail(f"is {moment.isoformat()}; a date must be between "
                   f"{EARLIEST_DATE:%Y-%m-%d} and {LATEST_DATE:%Y-%m-%d}.")
    return moment


def _as_datetime(value: Any, fail: _Fail) -> datetime:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise fail(
                f"is not a date: {value!r}. Write it like 2024-05-01 or 2024-05-01T09:30:00."
            ) from None
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            try:
                value = value.astimezone(UTC).replace(tzinfo=None)
            except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00 is before year 1 in UTC
                raise fail(f"is out of range once converted to UTC: {value.isoformat()}.") from None
        return value
    if isinstance(value, date):
        return datetime.combine(value, time())
    raise fail(f"must be a date like 2024-05-01 or 2024-05-01T09:30:00, not {_describe(value)}.")


def _tags(value: Any, fail: _Fail) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list):
        raise fail(f"must be a list of tags, e.g. tags: [python, flask], not {_describe(value)}.")
    tags: dict[str, None] = {}  # ordered and de-duplicated in one pass
    for item in value:
        if item is None:
            continue
        if isinstance(item, int | float) and not isinstance(item, bool):
            item = str(item)
        if not isinstance(item, str):
            raise fail(f"must contain only words, but one tag reads as {_describe(item)}.")
        item = item.strip()
        if len(item) > MAX_TAG_LENGTH:
            raise fail(f"has a tag of {len(item)} characters; the limit is {MAX_TAG_LENGTH}.")
        if item:
            tags[item] = None
        if len(tags) > MAX_TAGS:  # before reading on: a list can hold 200,000 of them
            raise fail(f"lists more than {MAX_TAGS} tags; the limit is {MAX_TAGS}.")
    return list(tags)


def _bool(value: Any, fail: _Fail) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _BOOL_WORDS:
        return _BOOL_WORDS[value.strip().lower()]
    raise fail(f"must be true or false, not {_describe(value)}.")


def _plain(value: Any, fail: _Fail, depth: int = 0, seen: Iterator[int] | None = None) -> Any:
    """Check a custom setting can be stored as JSON; dates become ISO 8601 text."""
    seen = seen if seen is not None else itertools.count()
    # YAML aliases can make a value refer to itself (&a [*a]) or blow up ("billion laughs").
    if depth > _MAX_DEPTH or next(seen) > _MAX_VALUES:
        raise fail("is too large or nested too deeply to store; simplify it.")
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise fail("cannot be stored: use a number, not .nan or .inf.")
        return value
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return [_plain(item, fail, depth + 1, seen) for item in value]
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise fail("cannot be stored: put every name inside it in quotes.")
        return {k: _plain(v, fail, depth + 1, seen) for k, v in value.items()}
    raise fail(
        f"cannot be stored: it reads as {_describe(value)}. Use text, numbers, true/false,"
        " lists or 'name: value' groups."
    )


def _describe(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return f"yes/no ({str(value).lower()})"
    if isinstance(value, datetime):
        return f"a date and time ({value.isoformat()})"
    if isinstance(value, date):
        return f"a date ({value.isoformat()})"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, str):
        return f"text ({value!r})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a group of 'name: value' settings"
    if isinstance(value, set):
        return "a set (a '?' item or !!set)"
    if isinstance(value, bytes):
        return "binary data (!!binary)"
    if isinstance(value, tuple):
        return "an ordered list of pairs (!!omap or !!pairs)"
    return f"an unsupported YAML value ({type(value).__name__})"
