"""The author in a real browser (issue 16): leaving with unsaved edits asks first, a save turns
that off; an upload asks for the image's description and inserts it; a too-large file is
refused with the limit in words; the admin passes axe in light and dark and its list fits 375 px."""

from __future__ import annotations

import re
from io import BytesIO

import pytest
from PIL import Image
from playwright.sync_api import expect

from ..integration.admin_support import ADMIN_EMAIL, ADMIN_PASSWORD, admin_site
from .axe import require_axe, violations


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    with admin_site(tmp_path_factory.mktemp("editor")) as site:
        yield site


def sign_in(page, site) -> None:
    page.goto(site.url + "/admin/login")
    page.fill("input[name=email]", ADMIN_EMAIL)
    page.fill("input[name=password]", ADMIN_PASSWORD)
    page.click("input[type=submit], button[type=submit]")
    page.wait_for_url(site.url + "/admin/")


def png() -> bytes:
    out = BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def author(browser, site):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    sign_in(page, site)
    yield page
    context.close()


def test_the_text_box_comes_right_after_the_title_above_the_fold(author, site):
    author.goto(site.url + "/admin/posts/new")
    title = author.locator("#title").bounding_box()
    text = author.locator("#body").bounding_box()
    slug = author.locator("#slug").bounding_box()
    assert title["y"] < text["y"] < slug["y"]
    assert text["y"] < 800 / 2  # at 1280x800, most of the screen is for writing


def test_leaving_with_unsaved_edits_asks_and_a_save_turns_the_question_off(author, site):
    asked: list[str] = []

    def on_dialog(dialog):
        asked.append(dialog.type)
        dialog.dismiss()  # "stay on the page"

    author.on("dialog", on_dialog)
    author.goto(site.url + "/admin/posts/new")
    author.click("#title")
    author.keyboard.type("Words worth keeping")
    author.click("#body")
    author.keyboard.type("A paragraph I would hate to lose.")
    author.click("header nav >> text=Pages")
    author.wait_for_timeout(500)
    assert asked == ["beforeunload"]
    assert author.url == site.url + "/admin/posts/new"  # still here, text intact
    assert author.input_value("#body") == "A paragraph I would hate to lose."

    author.click("text=Save draft")
    author.wait_for_url(re.compile(r"/admin/posts/\d+$"))
    assert author.input_value("#body") == "A paragraph I would hate to lose."
    author.click("header nav >> text=Pages")
    author.wait_for_url(site.url + "/admin/pages/")
    assert asked == ["beforeunload"]  # saved: no second question


def test_an_upload_asks_for_the_description_and_inserts_it(author, site):
    prompts: list[str] = []

    def describe(dialog):
        prompts.append(dialog.type)
        dialog.accept("A red rectangle")

    author.on("dialog", describe)
    author.goto(site.url + "/admin/posts/new")
    author.set_input_files("#upload-input", files=[
        {"name": "red.png", "mimeType": "image/png", "buffer": png()}])
    expect(author.locator("#editor-status")).to_have_text("Uploaded red.png.")
    assert prompts == ["prompt"]
    assert author.input_value("#body").startswith("![A red rectangle](/media/")


def test_a_file_over_the_limit_is_refused_with_the_limit_in_words(author, site):
    author.on("dialog", lambda d: pytest.fail(f"asked {d.type} for a file that cannot be sent"))
    author.goto(site.url + "/admin/posts/new")
    twelve_mb = b"\xff\xd8\xff" + bytes(12 << 20)
    author.set_input_files("#upload-input", files=[
        {"name": "huge.jpg", "mimeType": "image/jpeg", "buffer": twelve_mb}])
    expect(author.locator("#editor-status")).to_have_text(
        "huge.jpg: the file is too large (12 MB; max 10 MB).")
    assert author.input_value("#body") == ""


@pytest.mark.parametrize("width", [375, 1280])  # 1280: the preview beside the text scrolls
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_no_violation_in_the_admin_and_the_list_fits_a_phone(browser, site, scheme,
                                                                       width):
    require_axe()
    context = browser.new_context(viewport={"width": width, "height": 800}, color_scheme=scheme,
                                  bypass_csp=True)
    page = context.new_page()
    try:
        page.goto(site.url + "/admin/login")
        assert violations(page) == []
        sign_in(page, site)
        page.goto(site.url + "/admin/posts/new")
        page.fill("#title", f"An axe check in {scheme} at {width} px")
        long_text = "\n\n".join(f"Paragraph {n}." for n in range(80))  # a preview that scrolls
        page.fill("#body", long_text + "\n\n```python\nprint('code')\n```\n")
        page.click("text=Save draft")
        page.wait_for_url(re.compile(r"/admin/posts/\d+$"))
        edit_url = page.url
        found = {}
        for url in (site.url + "/admin/", edit_url, site.url + "/admin/media/",
                    site.url + "/admin/sessions"):
            page.goto(url)
            found[url] = violations(page)
            wide = page.evaluate("[document.documentElement.scrollWidth, innerWidth]")
            assert wide[0] <= wide[1], (url, wide)
        assert found == {url: [] for url in found}
        page.goto(edit_url)
        assert page.locator("a.danger", has_text="Delete").count() == 1  # the link axe checked
    finally:
        context.close()


def test_on_a_phone_write_and_preview_are_tabs(browser, site):
    context = browser.new_context(viewport={"width": 375, "height": 800})
    page = context.new_page()
    try:
        sign_in(page, site)
        page.goto(site.url + "/admin/posts/new")
        expect(page.locator("#tab-write")).to_be_visible()
        expect(page.locator("#body")).to_be_visible()
        expect(page.locator("#preview")).to_be_hidden()
        page.fill("#body", "Seen in *the* preview tab.")
        page.click("#tab-preview")
        expect(page.locator("#preview")).to_contain_text("Seen in the preview tab.")
        expect(page.locator("#body")).to_be_hidden()
        # The preview starts near the top of the screen, not below the whole form.
        assert page.locator("#preview").bounding_box()["y"] < 800
        page.keyboard.press("ArrowRight")  # the keys move between the tabs too
        expect(page.locator("#tab-write")).to_have_attribute("aria-selected", "true")
        expect(page.locator("#body")).to_be_visible()
        page.set_viewport_size({"width": 1280, "height": 800})  # wide: both, side by side
        expect(page.locator("#tab-write")).to_be_hidden()
        expect(page.locator("#preview")).to_be_visible()
    finally:
        context.close()


def test_beside_the_text_the_preview_follows_it(author, site):
    author.goto(site.url + "/admin/posts/new")
    paragraphs = "\n\n".join(f"Paragraph {n} of a long draft." for n in range(150))
    author.fill("#body", paragraphs + "\n\nThe last words.")
    expect(author.locator("#preview")).to_contain_text("The last words.")
    assert author.evaluate(preview_scrolled("== 0"))
    author.evaluate("() => { document.getElementById('body').scrollTop = 1e9; }")  # text's end
    author.wait_for_function(preview_scrolled("> 0.95"))  # the preview's end, with it
    author.evaluate("() => { document.getElementById('body').scrollTop = 0; }")
    author.wait_for_function(preview_scrolled("< 0.05"))


def preview_scrolled(comparison: str) -> str:
    """A page function: is the preview's scrolled share (0 top .. 1 end) `comparison`? (A
    function, not an expression: the page's CSP forbids evaluating strings.)"""
    return ("() => { const box = document.querySelector('.editor-preview');"
            f" return box.scrollTop / (box.scrollHeight - box.clientHeight) {comparison}; }}")
