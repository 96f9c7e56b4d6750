"""Jupyter notebooks as posts: `inkwell import` and the content folder read .ipynb files, store
their image outputs as media, and the post page shows every output, checked over HTTP."""

from __future__ import annotations

import json
import re
import warnings
from datetime import datetime

from nbformat.v4 import new_code_cell, new_markdown_cell, new_output
from nbformat.warnings import MissingIDFieldWarning
from sqlalchemy import select

from inkwell.content.files import import_content, import_path
from inkwell.database import write_intent
from inkwell.extensions import db
from inkwell.models import Media, Post
from inkwell.publishing import render_body

from ..notebook_fixtures import (
    HOSTILE_HTML,
    HOSTILE_SVG,
    b64,
    every_output_notebook,
    front_matter_cell,
    plain_notebook,
    png,
)


def the_post(app, slug: str) -> Post:
    with app.app_context():
        post = db.session.scalar(select(Post).where(Post.slug == slug))
        db.session.expunge(post)
        return post


def media_types(app) -> list[str]:
    with app.app_context():
        return sorted(m.content_type for m in db.session.scalars(select(Media)))


def test_a_notebook_becomes_a_post_with_every_output_shown(app, client, import_posts):
    report = import_posts({"orbits.ipynb": every_output_notebook(
        title="Orbits", date="2024-03-01", tags=["astro"], description="Small bodies")})
    assert report.created and not report.errors
    post = the_post(app, "orbits")
    assert (post.title, post.published_at) == ("Orbits", datetime(2024, 3, 1))
    assert post.has_math and post.has_chart
    # The PNG, the JPEG and the SVG went through the figure pipeline: stored media.
    assert media_types(app) == ["image/jpeg", "image/png", "image/svg+xml"]

    page = client.get("/posts/orbits/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert '<code class="language-python">' in html  # code cells in the kernel's language
    assert "hello from stdout" in html and "a warning on stderr" in html
    assert '<table class="dataframe"' in html and "<td>Ceres</td>" in html
    assert "vertical-align" not in html  # the DataFrame's <style> is dropped, its table kept
    assert html.count("<picture>") == 2 and 'srcset="/media/' in html  # PNG and JPEG
    assert re.search(r'<img src="/media/[0-9a-f]+\.svg"', html)
    assert 'class="plotly-chart"' in html and "Plotly.newPlot" not in html
    assert "<math" in html and "<strong>bold output</strong>" in html
    assert "ZeroDivisionError: division by zero" in html and "\x1b[" not in html
    assert "secret_setup" not in html  # remove-cell
    assert "output without its code" in html and "only_the_output" not in html  # remove-input
    assert "noise nobody reads" not in html  # remove-output
    # hide-input, hide-output: folded (code blocks sit in render.py's code-block wrapper)
    assert re.search(r"<summary>Show code</summary>\s*<div class=\"code-block\">.{0,200}<pre", html)
    assert re.search(r"<summary>Show output</summary>(<div[^>]*>|</div>|\s)*<pre", html)
    assert 'id="fn1"' in html  # footnotes from a Markdown cell


def test_a_notebook_without_metadata_takes_its_title_from_the_first_heading(
    app, client, import_posts
):
    cells = [new_markdown_cell("# Fitting a line\n\nWe fit a line."),
             new_code_cell("fit()", outputs=[new_output("stream", name="stdout", text="ok\n")])]
    report = import_posts({"2023-05-06-fit.ipynb": plain_notebook(cells)})
    assert report.created and not report.errors
    post = the_post(app, "fit")
    assert post.title == "Fitting a line"
    assert post.published_at == datetime(2023, 5, 6)  # from the file name, as Jekyll's
    assert "<h1" not in post.body_html  # the heading became the title
    # No kernel named: code is highlighted as Python, Jupyter's default.
    assert '<code class="language-python">' in post.body_html
    assert client.get("/posts/fit/").status_code == 200


def test_front_matter_in_a_first_raw_cell_sets_the_post_and_is_not_shown(app, import_posts):
    cells = [front_matter_cell("---\ntitle: From the raw cell\nslug: raw\ndraft: true\n"
                               "date: 2022-02-02\n---\n"),
             new_markdown_cell("Text.")]
    report = import_posts({"x.ipynb": plain_notebook(cells, title="From metadata")})
    assert report.created and not report.errors
    post = the_post(app, "raw")
    assert post.title == "From the raw cell" and post.status == "draft"
    assert "title:" not in post.body_html


def test_a_notebook_in_another_language_is_highlighted_in_it(app, import_posts):
    cells = [new_markdown_cell("# R"), new_code_cell("x <- c(1, 2)")]
    import_posts({"r.ipynb": plain_notebook(cells, kernelspec={
        "name": "ir", "display_name": "R", "language": "R"})})
    assert '<code class="language-r">' in the_post(app, "r").body_html


def test_reimporting_an_unchanged_notebook_writes_nothing_and_stores_no_figure_twice(
    app, import_posts
):
    text = every_output_notebook(title="Twice")
    first = import_posts({"twice.ipynb": text})
    again = import_posts({"twice.ipynb": text})
    assert first.created and again.unchanged and not again.updated
    assert len(media_types(app)) == 3


def test_the_same_image_in_two_outputs_is_one_media_item(app, import_posts):
    image = {"image/png": b64(png("green"))}
    cells = [new_code_cell("a", outputs=[new_output("display_data", data=image)]),
             new_code_cell("b", outputs=[new_output("display_data", data=image)])]
    import_posts({"same.ipynb": plain_notebook(cells, title="Same")})
    assert media_types(app) == ["image/png"]


def test_notebooks_in_the_content_folder_are_posts_and_checkpoints_are_not(app, write_posts):
    folder = write_posts({
        "posts/analysis.ipynb": every_output_notebook(title="Analysis", date="2024-01-02"),
        "posts/.ipynb_checkpoints/analysis-checkpoint.ipynb": every_output_notebook(
            title="Checkpoint"),
    })
    with app.app_context(), write_intent():
        report = import_content(folder, app.config["IMPORT_MAX_FILE_SIZE"])
    assert not report.errors and len(report.created) == 1
    assert the_post(app, "analysis").source_path == "posts/analysis.ipynb"


def test_a_figure_beside_the_notebook_is_linked_like_a_posts(app, write_posts):
    folder = write_posts({"nb.ipynb": plain_notebook(
        [new_markdown_cell("# Beside\n\n![map](map.png)")]), "map.png": png("yellow")})
    with app.app_context(), write_intent():
        report = import_path(folder, app.config["IMPORT_MAX_FILE_SIZE"])
    assert not report.errors
    assert "map.png" not in the_post(app, "nb").body_html
    assert media_types(app) == ["image/png"]


def bad_notebooks() -> dict[str, str | bytes]:
    good = json.loads(plain_notebook([new_markdown_cell("# Hi")]))
    future = {**good, "nbformat": 99}
    missing_key = {**good, "cells": [{"cell_type": "markdown", "source": "x"}]}  # no metadata
    return {"json.ipynb": b'{"cells": [', "future.ipynb": json.dumps(future),
            "schema.ipynb": json.dumps(missing_key)}


def test_invalid_notebooks_are_one_clear_error_each_naming_the_file(app, import_posts):
    report = import_posts({**bad_notebooks(), "fine.md": "# Fine\n"})
    assert len(report.created) == 1
    errors = sorted(report.errors)
    assert len(errors) == 3
    assert "future.ipynb" in errors[0] and "version 99" in errors[0]
    assert "json.ipynb" in errors[1] and "not valid JSON" in errors[1]
    assert "schema.ipynb" in errors[2] and "not a valid notebook" in errors[2]
    assert all("Traceback" not in e for e in errors)


def test_a_notebook_over_the_size_limit_is_refused_naming_the_file_and_the_setting(
    app, write_posts
):
    filler = "x" * (1024 * 1024)
    cells = [new_code_cell("big", outputs=[new_output("stream", name="stdout", text=filler)])
             for _ in range(50)]
    folder = write_posts({"huge.ipynb": plain_notebook(cells, title="Huge")})
    with app.app_context(), write_intent():
        report = import_path(folder, app.config["IMPORT_MAX_FILE_SIZE"])
        assert db.session.scalar(select(Post)) is None
    [error] = report.errors
    assert error.startswith(f"{folder / 'huge.ipynb'}: file is 52.") and "limit is 31 MB" in error
    assert "IMPORT_MAX_NOTEBOOK_SIZE" in error


def test_an_image_output_that_is_not_an_image_names_the_notebook_and_cell(app, import_posts):
    cells = [new_code_cell("a", outputs=[new_output(
        "display_data", data={"image/png": b64(b"not a png at all")})])]
    report = import_posts({"broken.ipynb": plain_notebook(cells, title="Broken")})
    [error] = report.errors
    assert "broken.ipynb (cell 1)" in error and "the figure" in error
    assert media_types(app) == []


def test_hostile_html_and_svg_outputs_are_stored_without_anything_that_runs(
    app, client, import_posts
):
    cells = [new_code_cell("HTML(h)", outputs=[new_output("display_data", data={
                 "text/html": HOSTILE_HTML})]),
             new_code_cell("SVG(s)", outputs=[new_output("display_data", data={
                 "image/svg+xml": HOSTILE_SVG})])]
    report = import_posts({"hostile.ipynb": plain_notebook(cells, title="Hostile")})
    assert not report.errors
    html = client.get("/posts/hostile/").get_data(as_text=True)
    assert '<p id="html-output">hello</p>' in html
    for trap in ("pwned", "onerror", "javascript:"):
        assert trap not in html
    svg_url = re.search(r'<img src="(/media/[0-9a-f]+\.svg)"', html).group(1)
    svg = client.get(svg_url)
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    assert b"<rect" in svg.data and b"pwned" not in svg.data
    assert "sandbox" in svg.headers["Content-Security-Policy"]


def test_an_image_attached_to_a_markdown_cell_is_a_figure(app, import_posts):
    cell = new_markdown_cell("# Attached\n\n![a diagram](attachment:diagram.png)")
    cell.attachments = {"diagram.png": {"image/png": b64(png("navy"))}}
    report = import_posts({"attached.ipynb": plain_notebook([cell], date="2024-01-01")})
    assert not report.errors and not report.warnings
    html = the_post(app, "attached").body_html
    assert "attachment:" not in html and 'srcset="/media/' in html
    assert media_types(app) == ["image/png"]


def test_the_stored_markdown_links_the_stored_figures_so_it_renders_again_alone(
    app, import_posts
):
    import_posts({"orbits.ipynb": every_output_notebook(title="Orbits", date="2024-03-01")})
    post = the_post(app, "orbits")
    assert "embedded-figure-" not in post.body_markdown
    assert re.search(r"!\[Figure 1 \(cell 4\)\]\(/media/[0-9a-f]+\.png\)", post.body_markdown)
    with app.app_context():  # as the editor or `inkwell rerender` does: the Markdown alone
        again = render_body(post.body_markdown)
    assert again.rendered.html.count("<picture>") == 2
    assert re.search(r'<img src="/media/[0-9a-f]+\.svg"', again.rendered.html)


def test_older_notebooks_import_without_a_warning_to_fix_them(app, import_posts):
    """Cells without ids (notebook format 4.5 from an older Jupyter) and format 3 files are
    read as they are; nbformat's advice to normalize them is for developers, not authors."""
    no_ids = {"nbformat": 4, "nbformat_minor": 5, "metadata": {},
              "cells": [{"cell_type": "markdown", "metadata": {}, "source": "# No ids"}]}
    version3 = {"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": [
        {"cells": [{"cell_type": "markdown", "metadata": {}, "source": "# Version 3"}]}]}
    with warnings.catch_warnings():
        warnings.simplefilter("error", MissingIDFieldWarning)
        report = import_posts({"a.ipynb": json.dumps(no_ids), "b.ipynb": json.dumps(version3)})
    assert len(report.created) == 2 and not report.errors
    assert the_post(app, "b").title == "Version 3"
