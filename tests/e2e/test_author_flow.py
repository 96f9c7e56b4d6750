"""The author's whole way, in one run of a real Chromium against gunicorn (issue 16): sign in,
write, autosave, drag-and-drop an image (its description asked and inserted), the leave guard,
save a draft, the full-page preview, schedule, publish, then a slug change whose old address
answers 301. Each step is what a reader or the author then sees, not what the page's script
says it did; axe runs on the editor and on the published page."""

from __future__ import annotations

import base64
import re

import pytest
from playwright.sync_api import expect

from ..integration.admin_support import admin_site
from .axe import require_axe, violations
from .test_editor import png, sign_in

STATUS = "#editor-status"
# A file dropped on the text box: the DataTransfer a desktop's drag carries, built in the page.
DROP = """(data) => {
  const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
  const transfer = new DataTransfer();
  transfer.items.add(new File([bytes], "harbour.png", { type: "image/png" }));
  return transfer;
}"""


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    with admin_site(tmp_path_factory.mktemp("author-flow")) as site:
        yield site


def test_write_drop_an_image_preview_schedule_publish_and_rename(browser, site):
    require_axe()
    # bypass_csp: axe is injected as an inline script, which the site's CSP rightly refuses.
    context = browser.new_context(viewport={"width": 1280, "height": 800}, bypass_csp=True)
    reader = browser.new_context(bypass_csp=True)  # no session: what the public sees
    try:
        page = context.new_page()
        dialogs: list[str] = []

        def on_dialog(dialog):
            dialogs.append(dialog.type)
            if dialog.type == "prompt":
                dialog.accept("The harbour at dawn")
            else:
                dialog.dismiss()  # the leave guard: "stay on the page"

        page.on("dialog", on_dialog)
        sign_in(page, site)

        # Write: the first autosave makes the draft (the address becomes its edit page).
        page.goto(site.url + "/admin/posts/new")
        page.fill("#title", "A morning at the harbour")
        page.click("#body")
        page.keyboard.type("Boats, gulls and a cold wind.\n\n")
        expect(page.locator(STATUS)).to_contain_text("Draft saved automatically", timeout=10_000)
        edit_url = page.url
        assert re.search(r"/admin/posts/\d+$", edit_url)
        assert violations(page) == []

        # Drag and drop an image onto the text: it asks for a description and inserts it.
        transfer = page.evaluate_handle(DROP, base64.b64encode(png()).decode())
        page.dispatch_event("#body", "dragover", {"dataTransfer": transfer})
        page.dispatch_event("#body", "drop", {"dataTransfer": transfer})
        expect(page.locator(STATUS)).to_have_text("Uploaded harbour.png.")
        assert dialogs == ["prompt"]
        body = page.input_value("#body")
        assert re.search(r"!\[The harbour at dawn\]\(/media/[^)]+\)", body), body
        expect(page.locator("#preview img[alt='The harbour at dawn']")).to_be_visible()

        # Leaving with edits not yet saved asks first; staying keeps the text.
        page.click("#body")
        page.keyboard.press("End")
        page.keyboard.type(" More to come.")
        page.click("header nav >> text=Pages")
        page.wait_for_timeout(300)
        assert dialogs == ["prompt", "beforeunload"]
        assert page.url == edit_url and "More to come." in page.input_value("#body")

        page.click("text=Save draft")
        expect(page.locator(".status")).to_have_text("Draft")
        slug = page.input_value("#slug")
        public = site.url + f"/posts/{slug}/"
        assert reader.request.get(public).status == 404  # a draft is nobody's business

        # The full-page preview is the reader's page, image included.
        page.click("text=Full-page preview")
        expect(page.locator("main h1")).to_have_text("A morning at the harbour")
        expect(page.locator(".e-content img[alt='The harbour at dawn']")).to_be_visible()
        page.click("text=Back to the editor")

        # Scheduled for later: still not public.
        page.fill("#publish_at", "2099-06-01T08:30")
        page.click("input[name=schedule], button[name=schedule]")
        expect(page.locator(".flash")).to_contain_text("Scheduled for 2099-06-01 08:30")
        assert reader.request.get(public).status == 404

        # Published now: the reader gets the page with the picture.
        page.click("input[name=publish], button[name=publish]")
        expect(page.locator(".flash")).to_contain_text("Published.")
        seen = reader.new_page()
        assert seen.goto(public).status == 200
        expect(seen.locator("main h1")).to_have_text("A morning at the harbour")
        image = seen.locator(".e-content img[alt='The harbour at dawn']")
        expect(image).to_be_visible()
        assert seen.evaluate("(img) => img.naturalWidth", image.element_handle()) > 0
        assert violations(seen) == []

        # A new slug: the old address answers 301 to the new one, which serves the post.
        page.fill("#slug", "harbour-morning")
        page.click("input[name=save], button[name=save]")
        expect(page.locator(".flash")).to_contain_text("Saved")
        old = reader.request.get(public, max_redirects=0)
        assert old.status == 301
        assert old.headers["location"].endswith("/posts/harbour-morning/")
        assert seen.goto(public).url == site.url + "/posts/harbour-morning/"
        expect(seen.locator("main h1")).to_have_text("A morning at the harbour")
    finally:
        reader.close()
        context.close()
