"""Code blocks in a real browser (issue 16): each names its language, and a Copy button puts
exactly the code on the clipboard; the button passes axe in light and dark (the reader pages'
axe test covers the rest of the page)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .axe import require_axe, violations


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_a_code_block_names_its_language_and_copies_its_code(browser, live_server, runner,
                                                             scheme):
    require_axe()
    assert runner.invoke(args=["setup"]).exit_code == 0  # the welcome post has Python in it
    context = browser.new_context(color_scheme=scheme, bypass_csp=True)  # axe runs inline
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    try:
        page = context.new_page()
        with live_server() as base:
            page.goto(base + "/posts/welcome/")
            block = page.locator(".code-block", has=page.locator("code.language-python"))
            expect(block.locator(".code-lang")).to_have_text("Python")
            expect(block.get_by_role("button", name="Copy")).to_be_visible()
            button = block.locator("button.copy-code")  # by class: its name changes to Copied
            button.click()
            expect(button).to_have_text("Copied")
            copied = page.evaluate("navigator.clipboard.readText()")
            assert copied == block.locator("pre").inner_text()
            assert copied.startswith("def ") or "\n" in copied
            assert violations(page) == []
    finally:
        context.close()
