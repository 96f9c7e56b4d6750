"""Autosave of drafts in a real browser (issue 16): a new post becomes a draft as the author
writes; an old tab cannot overwrite a newer save (it says so, and keeps its text); a lost
connection or an ended session keeps the text in the page and says so."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from ..integration.admin_support import admin_site
from .test_editor import sign_in

STATUS = "#editor-status"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    with admin_site(tmp_path_factory.mktemp("autosave")) as site:
        yield site


@pytest.fixture
def context(browser, site):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    sign_in(context.new_page(), site)
    yield context
    context.close()


def new_draft(page, site, title: str, text: str) -> str:
    """Write a new post and wait for its first autosave; its edit URL."""
    page.goto(site.url + "/admin/posts/new")
    page.fill("#title", title)
    page.click("#body")
    page.keyboard.type(text)
    expect(page.locator(STATUS)).to_contain_text("Draft saved automatically", timeout=10_000)
    assert re.search(r"/admin/posts/\d+$", page.url)
    return page.url


def test_a_new_post_saves_itself_as_a_draft_and_leaving_then_asks_nothing(context, site):
    page = context.pages[0]
    asked: list[str] = []
    page.on("dialog", lambda d: (asked.append(d.type), d.dismiss()))
    url = new_draft(page, site, "Autosaved words", "Written, never saved by hand.")
    page.goto(site.url + "/admin/")
    assert asked == []  # autosaved: nothing to lose
    page.goto(url)
    assert page.input_value("#body") == "Written, never saved by hand."
    expect(page.locator(".status")).to_have_text("Draft")


def test_an_old_tab_cannot_overwrite_a_newer_save_and_says_so(context, site):
    old = context.pages[0]
    url = new_draft(old, site, "Two tabs", "First words.")
    new = context.new_page()
    new.goto(url)
    new.click("#body")
    new.keyboard.press("End")
    new.keyboard.type(" Newer words.")
    expect(new.locator(STATUS)).to_contain_text("Draft saved automatically", timeout=10_000)

    old.click("#body")
    old.keyboard.press("End")
    old.keyboard.type(" Old tab words.")
    expect(old.locator(STATUS)).to_contain_text("was saved elsewhere", timeout=10_000)
    assert old.input_value("#body") == "First words. Old tab words."  # kept in the page
    # Save by hand is refused the same way, and the text stays in the form.
    old.on("dialog", lambda d: d.accept())
    old.click("text=Save draft")
    expect(old.locator(".field-error")).to_contain_text("was saved elsewhere")
    assert old.input_value("#body") == "First words. Old tab words."
    check = context.new_page()
    check.goto(url)
    assert check.input_value("#body") == "First words. Newer words."


def test_a_lost_connection_keeps_the_text_and_saves_it_when_back(context, site):
    page = context.pages[0]
    url = new_draft(page, site, "Offline", "Before.")
    context.set_offline(True)
    page.keyboard.type(" While offline.")
    expect(page.locator(STATUS)).to_contain_text("the server cannot be reached",
                                                 timeout=10_000)
    expect(page.locator(STATUS)).to_contain_text("Your text is still here")
    context.set_offline(False)
    expect(page.locator(STATUS)).to_contain_text("Draft saved automatically", timeout=10_000)
    check = context.new_page()
    check.goto(url)
    assert check.input_value("#body") == "Before. While offline."


def test_an_ended_session_keeps_the_text_says_so_and_the_leave_guard_stays(context, site):
    page = context.pages[0]
    new_draft(page, site, "Signed out", "Before.")
    other = context.new_page()
    other.goto(site.url + "/admin/")
    other.click("text=Sign out")  # in another tab: this page's session is over
    other.wait_for_url(re.compile(r"/admin/login"))
    page.click("#body")
    page.keyboard.press("End")
    page.keyboard.type(" After sign-out.")
    status = page.locator(STATUS)
    expect(status).to_contain_text("Not saved", timeout=10_000)
    expect(status).to_contain_text("Your text is still here")
    assert page.input_value("#body") == "Before. After sign-out."
    asked: list[str] = []
    page.on("dialog", lambda d: (asked.append(d.type), d.dismiss()))
    page.click("header nav >> text=Pages")
    page.wait_for_timeout(500)
    assert asked == ["beforeunload"]


def test_save_pressed_while_the_first_autosave_is_under_way_makes_one_post(context, site):
    page = context.pages[0]
    held = []
    page.route("**/posts/new/autosave", lambda route: held.append(route))
    page.goto(site.url + "/admin/posts/new")
    page.fill("#title", "Only once")
    page.click("#body")
    page.keyboard.type("Saved by hand during an autosave.")
    for _ in range(100):  # the autosave request, held on its way to the server
        if held:
            break
        page.wait_for_timeout(100)
    assert held
    page.click("text=Save draft")  # the held autosave then finds its slug taken: refused
    held[0].continue_()
    page.wait_for_url(re.compile(r"/admin/posts/\d+$"))
    expect(page.locator(".flash")).to_contain_text("Saved as a draft.")
    listing = page.goto(site.url + "/admin/?q=Only+once")
    assert listing.ok
    assert page.locator("tbody tr").count() == 1
