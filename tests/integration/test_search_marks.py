"""Search results mark the words that matched (issue 16), on SQLite's FTS5 and PostgreSQL's
full-text search alike, and a post's own text stays escaped around the marks."""

from __future__ import annotations

import re

import pytest

from inkwell.database import write_intent
from inkwell.extensions import db
from inkwell.models import Post
from inkwell.publishing import apply_markdown
from inkwell.search import index_post

POSTS = {
    "kettles": "A copper kettle sings. Kettles say 1 < 2 & tea: the kettle wins.",
    "other": "Nothing about that here.",
}


def publish(app, slug: str, body: str) -> None:
    """A published post saved as the editor saves one."""
    with app.app_context(), write_intent():
        post = Post(kind="post", slug=slug, title=slug.title(), status="published")
        apply_markdown(post, body)
        db.session.add(post)
        db.session.flush()
        index_post(post)
        db.session.commit()


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_matched_words_are_marked_and_the_text_stays_escaped(app, client):
    for slug, body in POSTS.items():
        publish(app, slug, body)
    page = client.get("/search?q=kettle").text
    results = re.search(r'<ol class="results">.*</ol>', page, re.S)[0]
    marked = re.findall(r"<mark>([^<]*)</mark>", results)
    assert marked and all(word.lower().startswith("kettle") for word in marked), marked
    assert "1 &lt; 2 &amp; tea" in results
    assert "\ue000" not in page and "\ue001" not in page
    assert "Other" not in results
