"""A notebook's HTML and SVG outputs never run script, proven in a real Chromium: the post page
and the stored SVG opened on its own (as a reader can, from its URL)."""

from __future__ import annotations

import re
from pathlib import Path

from nbformat.v4 import new_code_cell, new_markdown_cell, new_output
from sqlalchemy import select

from inkwell.extensions import db
from inkwell.models import Media, Post

from ..notebook_fixtures import HOSTILE_HTML, HOSTILE_SVG, plain_notebook


def hostile_notebook() -> str:
    return plain_notebook([
        new_markdown_cell("# Hostile outputs\n\nA notebook someone else wrote."),
        new_code_cell("HTML(h)", outputs=[new_output("display_data", data={
            "text/html": HOSTILE_HTML})]),
        new_code_cell("SVG(s)", outputs=[new_output("display_data", data={
            "image/svg+xml": HOSTILE_SVG})]),
        new_code_cell("Markdown(m)", outputs=[new_output("display_data", data={
            "text/markdown": '<img src=/x onerror="window.pwned = \'markdown\'">'})]),
    ], title="Hostile", date="2024-01-01")


def test_html_and_svg_outputs_run_no_script_in_chromium(page, live_server, runner, tmp_path):
    folder = tmp_path / "import"
    folder.mkdir()
    (folder / "hostile.ipynb").write_text(hostile_notebook(), encoding="utf-8")
    result = runner.invoke(args=["import", str(folder)])
    assert result.exit_code == 0, result.output
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    with live_server() as base:
        page.goto(base + "/posts/hostile/")
        page.wait_for_load_state("networkidle")
        assert page.locator("#html-output").inner_text() == "hello"  # the output is shown
        svg_src = page.locator("img[src$='.svg']").get_attribute("src")
        assert page.evaluate("window.pwned") is None
        assert re.fullmatch(r"/media/[0-9a-f]+\.svg", svg_src or "")
        page.goto(base + svg_src)  # the SVG as a document of its own
        page.wait_for_load_state("networkidle")
        assert page.evaluate("window.pwned") is None
        assert page.locator("rect").count() == 1  # the drawing is kept
    assert dialogs == []


def test_the_stored_html_and_svg_run_no_script_even_without_the_sites_csp(page, app, runner,
                                                                         tmp_path):
    """The page's Content-Security-Policy would stop inline script by itself: here the stored
    post and SVG are opened where no policy applies, so only the sanitizers stand in the way."""
    folder = tmp_path / "import"
    folder.mkdir()
    (folder / "hostile.ipynb").write_text(hostile_notebook(), encoding="utf-8")
    assert runner.invoke(args=["import", str(folder)]).exit_code == 0
    with app.app_context():
        post = db.session.scalar(select(Post).where(Post.slug == "hostile"))
        svg = db.session.scalar(select(Media).where(Media.content_type == "image/svg+xml"))
        stored_html = post.body_html
        stored_svg = (Path(app.config["MEDIA_ROOT"]) / svg.variants["original"]).read_text()
    page.set_content(f"<!doctype html><body>{stored_html}</body>")
    page.wait_for_timeout(300)  # an onerror of a broken <img> fires after the load
    assert page.locator("#html-output").inner_text() == "hello"
    assert page.evaluate("window.pwned") is None
    page.set_content(stored_svg)
    page.wait_for_timeout(300)
    assert page.evaluate("window.pwned") is None
    # The same check sees script that does run: the test can fail.
    page.set_content('<img src="/x" onerror="window.pwned = 1">')
    page.wait_for_function("window.pwned === 1")
