"""The admin in a real browser: the editor and the lists fit the screen, wide and narrow."""

from __future__ import annotations

import pytest

from ..integration.admin_support import ADMIN_EMAIL, ADMIN_PASSWORD, admin_site


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    with admin_site(tmp_path_factory.mktemp("admin-layout")) as site:
        yield site


@pytest.mark.parametrize("width", [1280, 320])
def test_admin_pages_never_scroll_sideways(browser, site, width):
    context = browser.new_context(viewport={"width": width, "height": 800})
    page = context.new_page()
    try:
        page.goto(site.url + "/admin/login")
        page.fill("input[name=email]", ADMIN_EMAIL)
        page.fill("input[name=password]", ADMIN_PASSWORD)
        page.click("input[type=submit], button[type=submit]")
        page.wait_for_url(site.url + "/admin/")  # signed in: the list of posts
        for path in ("/admin/posts/new", "/admin/", "/admin/pages/", "/admin/sessions",
                     "/admin/media/"):
            page.goto(site.url + path)
            assert page.url == site.url + path, page.url  # not sent back to sign in
            wide = page.evaluate("document.documentElement.scrollWidth")
            assert wide <= width, (path, wide)
        page.goto(site.url + "/admin/posts/new")
        assert page.locator("#upload-input").count() == 1  # the hidden input that overflowed
    finally:
        context.close()
