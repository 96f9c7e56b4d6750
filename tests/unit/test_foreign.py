"""Reading other blogs' files: Pelican headers, Hugo TOML, attribute lists, mojibake, guesses."""

from __future__ import annotations

from datetime import datetime

import pytest

from inkwell.content.foreign import (
    date_from_name,
    drop_attribute_lists,
    old_paths,
    read_foreign,
)
from inkwell.content.frontmatter import SourceError

PELICAN = """Title: My super title
Date: 2010-12-03 10:20
Modified: 2010-12-05 19:30
Tags: thats, awesome
Category: yeah
Slug: my-super-post
Author: Alexis Metaireau
Summary: Short version for index and feeds
Status: draft

This is the content of my super blog post.
"""

HUGO_TOML = """+++
title = "Spring in the garden"
date = 2021-04-05T08:00:00+02:00
lastmod = 2021-04-06
draft = false
tags = ["garden", "spring"]
aliases = ["/posts/old-garden/", "/2021/04/garden.html"]
weight = 10
+++
Body of the post.
"""


def test_a_pelican_header_becomes_settings_not_the_first_paragraph():
    source = read_foreign(PELICAN, "p.md")
    meta = source.meta
    assert meta["title"] == "My super title" and meta["slug"] == "my-super-post"
    assert meta["date"] == datetime(2010, 12, 3, 10, 20)
    assert meta["updated"] == datetime(2010, 12, 5, 19, 30)
    assert meta["tags"] == ["thats", "awesome"] and meta["category"] == "yeah"
    assert meta["description"] == "Short version for index and feeds"
    assert meta["author"] == "Alexis Metaireau" and meta["draft"] is True
    assert source.body == "This is the content of my super blog post.\n"
    assert source.guesses == []  # every key is one Pelican uses


def test_text_that_merely_starts_with_a_colon_is_not_a_pelican_header():
    source = read_foreign("Note: this is prose.\n\nMore.\n", "n.md")
    assert source.meta == {} and source.body.startswith("Note: this is prose.")


def test_hugo_toml_front_matter_with_dates_aliases_and_draft():
    source = read_foreign(HUGO_TOML, "h.md")
    meta = source.meta
    assert meta["title"] == "Spring in the garden"
    assert meta["date"] == datetime(2021, 4, 5, 6, 0)  # in UTC
    assert meta["updated"] == datetime(2021, 4, 6)
    assert meta["draft"] is False and meta["tags"] == ["garden", "spring"]
    assert meta["aliases"] == ["/posts/old-garden/", "/2021/04/garden.html"]
    assert source.body == "Body of the post.\n" and source.body_line == 10


def test_bad_toml_names_the_file_and_line():
    with pytest.raises(SourceError) as caught:
        read_foreign('+++\ntitle = "ok"\ndate = = 3\n+++\nBody\n', "bad.md")
    assert str(caught.value).startswith("bad.md:3: The front matter is not valid TOML")


def test_jekyll_keys_are_kept_and_published_false_is_a_draft():
    text = ("---\nlayout: post\ntitle: Hi\ncategories: [a, b]\npermalink: /x/\n"
            "published: false\n---\nBody\n")
    source = read_foreign(text, "j.md")
    assert source.meta["layout"] == "post" and source.meta["permalink"] == "/x/"
    assert source.meta["draft"] is True and source.guesses == []


def test_a_jekyll_file_name_gives_the_date():
    assert date_from_name("2019-07-14-bastille.md") == datetime(2019, 7, 14)
    assert date_from_name("2019-13-45-not-a-date.md") is None
    assert date_from_name("notes.md") is None


def test_unknown_keys_are_kept_with_a_warning_naming_their_line():
    source = read_foreign("---\ntitle: T\nmood: happy\n---\nBody\n", "u.md")
    assert source.meta["mood"] == "happy"
    [guess] = source.guesses
    assert guess.line == 3 and "'mood'" in guess.message


def test_attribute_lists_are_dropped_outside_code_and_kept_inside():
    body = (
        "# Heading {#custom-id .big}\n\n"
        "![A cat](cat.png){.image--center}\n"
        "{: .notice}\n\n"
        "A [link](x){: target=\"_blank\"} and {curly words} stay.\n\n"
        "```\n# Code {#keep}\n```\n"
    )
    out = drop_attribute_lists(body)
    assert "# Heading\n" in out
    assert "![A cat](cat.png)\n" in out
    assert "{: .notice}" not in out and "{:" not in out.split("```")[0]
    assert "{curly words} stay" in out
    assert "# Code {#keep}" in out
    assert out.count("\n") == body.count("\n")  # lines keep their numbers


def test_a_title_from_a_heading_loses_its_attribute_list():
    source = read_foreign("---\ntitle: Local {#id}\n---\nBody\n", "t.md")
    assert source.meta["title"] == "Local"


def test_mojibake_is_repaired_with_a_warning_on_its_line():
    source = read_foreign("---\ntitle: Local â†’ remote\n---\nCafÃ© culture.\n", "m.md")
    assert source.meta["title"] == "Local → remote"
    assert source.body == "Café culture.\n"
    [guess] = source.guesses
    assert guess.line == 2 and "mojibake" in guess.message


def test_templating_left_in_the_text_is_flagged_with_its_line_but_not_in_code():
    body = ("---\ntitle: T\n---\nSee [Part 2]({{ url_for('p2') }}).\n\n```\n{% raw %}\n```\n\n"
            "Jinja writes `{{ name }}` for a value.\n")
    [guess] = read_foreign(body, "t.md").guesses
    assert guess.line == 4 and "{{ url_for('p2') }}" in guess.message


def test_aliases_and_a_literal_permalink_are_old_paths_in_one_form():
    meta = {"aliases": ["/posts/old-garden/", "/2021/04/garden.html", "old/index.html",
                        "https://old.example/caf%C3%A9/?x=1#y", "/2021/04/garden.html/", 7],
            "permalink": "/garden/"}
    paths, guesses = old_paths(meta)
    assert paths == ["/posts/old-garden", "/2021/04/garden.html", "/old", "/café", "/garden"]
    relative, number = guesses
    assert "old/index.html does not start with /" in relative.message and "/old" in relative.message
    assert "7" in number.message and "not kept" in number.message
    assert old_paths({"aliases": "/about-me/"}) == (["/about-me"], [])


@pytest.mark.parametrize("alias", ["/a\x00b", "http://[::1", "", "?only=query"])
def test_an_alias_that_is_no_path_is_not_kept(alias):
    paths, [guess] = old_paths({"aliases": [alias]})
    assert paths == [] and "not kept" in guess.message


@pytest.mark.parametrize("permalink", ["/:categories/:year/:title/", "pretty", "/blog/:slug"])
def test_a_permalink_with_placeholders_is_a_guess_not_a_path(permalink):
    paths, [guess] = old_paths({"permalink": permalink})
    assert paths == [] and "placeholders" in guess.message and "aliases" in guess.message
