"""A draft seen as readers will see it, in a real browser (issue 16): the author's full-page
preview, and a share link a reader opens without signing in, until it is revoked; axe finds
nothing on the preview, light and dark."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from ..integration.admin_support import admin_site
from .axe import require_axe, violations
from .test_editor import sign_in


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    with admin_site(tmp_path_factory.mktemp("preview")) as site:
        yield site


def test_preview_and_share_a_draft_then_revoke_the_link(browser, site):
    require_axe()
    author_context = browser.new_context(viewport={"width": 1280, "height": 800},
                                         bypass_csp=True)
    reader_context = browser.new_context(viewport={"width": 375, "height": 800},
                                         color_scheme="dark", bypass_csp=True)
    try:
        author = author_context.new_page()
        sign_in(author, site)
        author.goto(site.url + "/admin/posts/new")
        author.fill("#title", "Not yet public")
        author.fill("#body", "Draft words.\n\n```python\nprint('hi')\n```\n")
        author.click("text=Save draft")
        author.wait_for_url(re.compile(r"/admin/posts/\d+$"))

        author.click("text=Full-page preview")
        expect(author.locator("main h1")).to_have_text("Not yet public")
        expect(author.locator(".preview-banner")).to_contain_text("readers cannot see this yet")
        expect(author.locator(".e-content pre")).to_contain_text("print('hi')")
        assert violations(author) == []
        author.click("text=Back to the editor")

        author.select_option("#days", "1")
        author.click("text=Make a share link")
        link = author.input_value("#share-link")
        assert violations(author) == []
        reader = reader_context.new_page()
        answer = reader.goto(link.replace("http://blog.example", site.url))
        assert answer.status == 200
        expect(reader.locator("main h1")).to_have_text("Not yet public")
        assert violations(reader) == []
        wide = reader.evaluate("[document.documentElement.scrollWidth, innerWidth]")
        assert wide[0] <= wide[1], wide  # nothing scrolls sideways on a phone
        assert "noindex" in reader.locator('meta[name="robots"]').get_attribute("content")

        author.click("text=Revoke every share link")
        expect(author.locator(".flash")).to_contain_text("stopped working")
        gone = reader.goto(link.replace("http://blog.example", site.url))
        assert gone.status == 404
        expect(reader.locator("body")).not_to_contain_text("Draft words")
    finally:
        author_context.close()
        reader_context.close()

