"""Front matter: what an author writes at the top of a post, and the errors they see."""

from datetime import datetime

import pytest

from inkwell.content.frontmatter import (
    SourceError,
    dump_source,
    parse_source,
    slugify,
    title_from_body,
)

GOOD = """\
---
title: Hello, world
slug: Hello World!
date: 2024-05-01 09:30:00
updated: 2024-05-02T10:00:00+02:00
description: A first post.
tags: python, flask, python, ,
draft: "no"
toc: yes
series: {name: Getting started, part: 1}
published_on: 2024-04-30
---

# Body text
"""


def parse(text):
    return parse_source(text, "posts/hello.md")


def error_for(text):
    with pytest.raises(SourceError) as caught:
        parse(text)
    return caught.value


def test_a_complete_front_matter_is_split_from_the_body_and_normalised():
    meta, body = parse(GOOD)
    assert meta == {
        "title": "Hello, world",
        "slug": "hello-world",
        "date": datetime(2024, 5, 1, 9, 30),
        "updated": datetime(2024, 5, 2, 8, 0),
        "description": "A first post.",
        "tags": ["python", "flask"],
        "draft": False,
        "toc": True,
        "series": {"name": "Getting started", "part": 1},
        "published_on": "2024-04-30",
    }
    assert body == "# Body text\n"


def test_a_document_without_front_matter_is_all_body():
    text = "# Just Markdown\n\n---\n\nA rule above.\n"
    assert parse(text) == ({}, text)


def test_a_plain_date_means_midnight_and_a_string_date_is_accepted():
    meta, _ = parse("---\ndate: 2024-05-01\nupdated: '2024-06-01T12:00:00Z'\n---\n")
    assert meta["date"] == datetime(2024, 5, 1)
    assert meta["updated"] == datetime(2024, 6, 1, 12, 0)


def test_tags_may_be_a_list_and_numbers_become_text():
    meta, _ = parse("---\ntags: [ python , 3.12, '', python]\n---\n")
    assert meta["tags"] == ["python", "3.12"]


def test_a_numeric_title_becomes_text():
    meta, _ = parse("---\ntitle: 1984\n---\n")
    assert meta["title"] == "1984"


def test_the_front_matter_may_end_with_three_dots():
    assert parse("---\ntitle: Dots\n...\nBody\n") == ({"title": "Dots"}, "Body\n")


def test_an_unclosed_front_matter_is_reported_on_line_1():
    error = error_for("---\ntitle: Never closed\n\nSome text\n")
    assert error.line == 1
    assert "never closed" in error.message
    assert str(error).startswith("posts/hello.md:1: ")


def test_a_yaml_syntax_error_reports_the_line_in_the_file():
    text = "---\ntitle: Fine\ndescription: fine too\nsummary: this: breaks\n---\n"
    error = error_for(text)
    assert error.line == 4
    assert "not valid YAML" in error.message


def test_an_unclosed_quote_points_at_the_line_that_opened_it():
    error = error_for('---\ntitle: Fine\ndescription: "oops\ndraft: true\n---\n')
    assert error.line == 3
    assert "never closed" in error.message


def test_an_impossible_date_is_reported_on_its_line():
    error = error_for("---\ntitle: Leap\n\ndate: 2023-02-29\n---\n")
    assert error.line == 4


def test_front_matter_that_is_a_list_is_rejected():
    error = error_for("---\n- title\n- date\n---\n")
    assert "name: value" in error.message


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("tags: {python: 1}", "'tags' must be a list"),
        ("date: last tuesday", "'date' is not a date"),
        ("date: 2024", "'date' must be a date"),
        ("draft: maybe", "'draft' must be true or false"),
        ("title: [a, b]", "'title' must be text"),
        ("title: yes", "Put the value in quotes"),
        ("page: maybe", "'page' must be true or false"),
        ("date: 0001-01-01T00:00:00+01:00", "'date' is out of range once converted to UTC"),
        ("updated: 9999-12-31T23:00:00-05:00", "'updated' is out of range"),
        # The editor's limits (a longer value could be imported but never saved again there).
        ("title: " + "t" * 301, "'title' is 301 characters long; the limit is 300"),
        ("description: " + "d" * 1001, "'description' is 1001 characters long; the limit is 1000"),
        ("tags: [" + ", ".join(f"t{i}" for i in range(21)) + "]",
         "lists more than 20 tags; the limit is 20"),
        ("tags: [ok, " + "x" * 101 + "]", "has a tag of 101 characters; the limit is 100"),
    ],
)
def test_a_wrong_type_names_the_key_and_its_line(line, expected):
    error = error_for(f"---\n# a comment\n{line}\n---\n")
    assert expected in error.message
    assert error.line == 3
    assert str(error) == f"posts/hello.md:3: {error.message}"


def test_unknown_keys_are_kept():
    meta, _ = parse("---\ncover: /img/a.png\nrating: 4.5\nauthors: [Ann, Bo]\n---\n")
    assert meta == {"cover": "/img/a.png", "rating": 4.5, "authors": ["Ann", "Bo"]}


@pytest.mark.parametrize(
    ("value", "reads_as"),
    [("!!set {a, b}", "a set"), ("!!binary aGVsbG8=", "binary"), (".nan", "not .nan")],
)
def test_a_value_that_cannot_be_stored_is_rejected_with_key_and_line(value, reads_as):
    error = error_for(f"---\ntitle: Fine\nweird: {value}\n---\n")
    assert error.line == 3
    assert "'weird'" in error.message
    assert reads_as in error.message


def test_a_self_referencing_value_is_rejected_instead_of_looping():
    error = error_for("---\nloop: &a [*a]\n---\n")
    assert "'loop'" in error.message


def test_source_error_without_a_line_names_only_the_file():
    assert str(SourceError("a.md", None, "Too big.")) == "a.md: Too big."


@pytest.mark.parametrize(
    "title",
    [
        "Plain",
        "Colons: \"quotes\" and 'apostrophes'",
        "Ünïcödé — 日本語 ✓",
        "yes",
        "2024-05-01",
        "#1",
    ],
)
def test_export_then_import_gives_back_the_same_post(title):
    meta = {
        "tags": ["a b", "ç"],
        "title": title,
        "custom": {"nested": [1, 2.5, None, "x: y"]},
        "date": datetime(2024, 5, 1, 9, 30),
        "slug": "plain",
        "draft": True,
    }
    body = "First line\n\n---\n\nAfter a rule.\n"
    assert parse_source(dump_source(meta, body), "export.md") == (meta, body)


def test_export_writes_known_keys_first_and_dates_in_iso_form():
    text = dump_source(
        {"custom": 1, "toc": False, "date": datetime(2024, 5, 1, 9, 30), "title": "T"}, "Body"
    )
    assert text == "---\ntitle: T\ndate: 2024-05-01T09:30:00\ntoc: false\ncustom: 1\n---\n\nBody"


def test_the_title_comes_from_the_first_heading_which_leaves_the_body():
    body = "Intro line.\n\n# The *Big* `Idea`\n\nText.\n"
    assert title_from_body(body) == ("The Big Idea", "Intro line.\n\n\nText.\n")


def test_without_a_heading_the_first_line_of_text_is_the_title():
    body = "```\n# a shell comment\n```\n\n**Bold** _opening_ line\nmore\n"
    assert title_from_body(body) == ("Bold opening line", body)


def test_an_empty_body_is_untitled():
    assert title_from_body("\n\n") == ("Untitled", "\n\n")


def test_slugify_turns_unicode_into_ascii_words():
    assert slugify("  Crème Brûlée: a Recipe!  ") == "creme-brulee-a-recipe"
    assert slugify("日本語") == ""
    assert slugify("") == ""
    assert len(slugify("word " * 100)) <= 200
    assert not slugify("word " * 100).endswith("-")


def test_tags_without_ascii_letters_stay_apart():
    from inkwell.content.slugs import tag_slug

    slugs = {tag_slug(name) for name in ("日本語", "中文", "Ελληνικά", "!!!")}
    assert len(slugs) == 4 and all(s.startswith("tag-") for s in slugs)
    assert tag_slug("ΕΛΛΗΝΙΚΆ") == tag_slug("ελληνικά")  # a tag's case never makes it new
    assert tag_slug("ＰＹＴＨＯＮ") == tag_slug("Python") == "python"


@pytest.mark.parametrize(
    ("value", "is_page"), [("true", True), ('"no"', False), ("'false'", False)]
)
def test_page_is_true_or_false_like_draft(value, is_page):
    meta, _ = parse(f"---\ntitle: About\npage: {value}\n---\n")
    assert meta["page"] is is_page


def test_values_at_the_limits_are_accepted():
    meta, _ = parse(
        "---\ntitle: " + "t" * 300 + "\ndescription: " + "d" * 1000
        + "\ntags: [" + ", ".join(["y" * 100] + [f"t{i}" for i in range(19)]) + "]\n---\n"
    )
    assert len(meta["title"]) == 300 and len(meta["tags"]) == 20


# --- bounds (issue 15) --------------------------------------------------------------------------


@pytest.mark.parametrize("line", ["updated: 9999-12-31", "date: 0001-01-01",
                                  "date: 1899-12-31T23:59:59", "date: 2101-01-01"])
def test_dates_outside_the_sane_range_are_refused_with_the_range(line):
    error = error_for(f"---\ntitle: T\n{line}\n---\nBody\n")
    assert error.line == 3
    assert "between 1900-01-01 and 2100-12-31" in error.message


def test_dates_at_the_edges_of_the_range_are_kept():
    meta, _ = parse("---\ndate: 1900-01-01\nupdated: 2100-12-31T23:59:59\n---\n")
    assert meta["date"] == datetime(1900, 1, 1)
    assert meta["updated"] == datetime(2100, 12, 31, 23, 59, 59)


def test_tags_past_the_limit_are_refused_before_the_rest_is_read():
    from inkwell.content.frontmatter import _tags

    class CountingList(list):
        read = 0

        def __iter__(self):
            for item in super().__iter__():
                CountingList.read += 1
                yield item

    many = CountingList(f"tag{n}" for n in range(200_000))

    def fail(message):
        return SourceError("p.md", 2, message)

    with pytest.raises(SourceError, match="more than 20 tags"):
        _tags(many, fail)
    assert CountingList.read <= 21


def test_repeated_tags_still_count_once():
    meta, _ = parse("---\ntags: [" + ", ".join(["a", "b"] * 5_000) + "]\n---\n")
    assert meta["tags"] == ["a", "b"]


@pytest.mark.parametrize("fence, close", [("---", "---"), ("+++", "+++")])
def test_front_matter_past_its_size_limit_is_refused_before_it_is_parsed(fence, close,
                                                                         monkeypatch):
    """200,000 tags (about 2 MB, under the 5 MB file limit) kept the YAML parser busy 2.7 s:
    the size is checked first, and the parser never sees them."""
    import yaml

    from inkwell.content import foreign

    def never(*args, **kwargs):
        raise AssertionError("the parser was called")

    monkeypatch.setattr(yaml, "load", never)
    monkeypatch.setattr(foreign.tomllib, "loads", never)
    tags = ", ".join(f'"tag{n}"' for n in range(200_000))
    settings = "title: t\ntags: [" if fence == "---" else 'title = "t"\ntags = ['
    text = f"{fence}\n{settings}{tags}]\n{close}\nBody\n"
    with pytest.raises(SourceError, match=r"front matter is 2\d{3} KB; the limit is 64 KB"):
        if fence == "---":
            parse(text)
        else:
            foreign._toml(text, "p.md")
