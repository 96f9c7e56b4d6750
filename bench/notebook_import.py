"""Notebook import (issue 17): `inkwell import` of one 10 MB notebook with 20 PNG outputs and 3
Plotly figures, and the weight of the post page it makes, plotly.js left out.

The notebook is generated: prose and code cells, 20 PNG outputs of 1000x600 px (a plot area of
random pixels, so PNG cannot shrink them: about 350 kB each, as detailed high-DPI figures are),
3 Plotly scatter figures of 6,000 points each, stdout and a DataFrame-like HTML table. Measured:
the `inkwell import` subprocess on a fresh migrated SQLite instance (interpreter and app start,
nbformat validation, 20 images through the image worker, render, commit), the median of 3 runs
(1 with --quick), and the re-import of the unchanged file. Side by side, the same post's prose
and code as a plain Markdown file, so the ratio shows what the outputs cost.

Page weight (the post served by gunicorn): HTML, CSS and JS except plotly.js (raw and gzip), and
the images a desktop browser at 1x picks (the WebP candidate of at least 700 px wide per picture).
1 kB = 1000 bytes.

Run: `.venv/bin/python -m bench.notebook_import [--quick]`; it writes
bench/results/notebook_import.json.
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import os
import random
import re
import sys
from pathlib import Path
from urllib.parse import urljoin

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from PIL import Image

from .chart_weight import chart_script
from .common import (
    BIN,
    BenchError,
    fetch,
    figure,
    gunicorn,
    inkwell,
    instance_env,
    is_quick,
    median,
    scratch,
    timed,
    write_result,
)
from .page_weight import page_resources

PNGS = 20
CHARTS = 3
POINTS = 6000
SLUG = "big-notebook"
PICKED_WIDTH = 700  # a 42rem column at 1x: the browser takes the first candidate this wide


def _png(rng: random.Random) -> bytes:
    canvas = Image.new("RGB", (1000, 600), "white")
    plot = Image.frombytes("RGB", (410, 285), rng.randbytes(410 * 285 * 3))
    canvas.paste(plot, (300, 160))
    out = io.BytesIO()
    canvas.save(out, "PNG")
    return out.getvalue()


def _chart(rng: random.Random, n: int) -> dict:
    xs = [round(rng.uniform(0, 100), 3) for _ in range(POINTS)]
    ys = [round(x * 0.5 + rng.gauss(0, 8), 3) for x in xs]
    return {"data": [{"type": "scatter", "mode": "markers", "x": xs, "y": ys}],
            "layout": {"title": {"text": f"Chart {n}"}}}


def _prose(rng: random.Random, n: int) -> str:
    words = ["orbit", "period", "mass", "fit", "residual", "sample", "noise", "model", "data"]
    text = " ".join(rng.choice(words) for _ in range(120))
    return f"## Section {n}\n\n{text.capitalize()}, with $a^3 \\propto T^2$.\n"


def make_notebook(rng: random.Random) -> nbformat.NotebookNode:
    cells = [new_markdown_cell("# A big notebook\n\nTwenty figures and three charts.")]
    for n in range(PNGS):
        cells.append(new_markdown_cell(_prose(rng, n)))
        png = base64.b64encode(_png(rng)).decode("ascii")
        cells.append(new_code_cell(f"fig, ax = plt.subplots()\nax.plot(x{n}, y{n})", outputs=[
            new_output("stream", name="stdout", text=f"fitted {n}: slope 0.5\n"),
            new_output("display_data", data={"image/png": png, "text/plain": "<Figure>"}),
        ]))
        if n % 7 == 3 and n // 7 < CHARTS:
            cells.append(new_code_cell("px.scatter(df, x='x', y='y')", outputs=[new_output(
                "display_data", data={"application/vnd.plotly.v1+json": _chart(rng, n)})]))
    cells.append(new_code_cell("df.head()", outputs=[new_output("execute_result", data={
        "text/html": "<table><tr><th>x</th><th>y</th></tr><tr><td>1</td><td>2</td></tr></table>",
        "text/plain": "x y"}, execution_count=1)]))
    return new_notebook(cells=cells, metadata={
        "title": "A big notebook", "date": "2026-01-02", "slug": SLUG,
        "kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"}})


def as_markdown(nb: nbformat.NotebookNode) -> str:
    """The same post without outputs: its prose and code as a Markdown file."""
    parts = ["---\ntitle: Plain\nslug: plain\ndate: 2026-01-02\n---\n"]
    for cell in nb.cells:
        code = f"```python\n{cell.source}\n```"
        parts.append(cell.source if cell.cell_type == "markdown" else code)
    return "\n\n".join(parts) + "\n"


def _import_seconds(tmp: Path, source: Path, round_: int) -> tuple[float, float, str]:
    """(first import s, unchanged re-import s, output) on a fresh instance."""
    folder = tmp / f"round-{round_}-{source.stem}"
    folder.mkdir()
    env = instance_env(folder)
    inkwell(["db", "upgrade"], env, folder)
    first, output = timed([str(BIN / "inkwell"), "import", str(source)], env, folder)
    if "1 imported" not in output:
        raise BenchError(f"the import did not create the post: {output}")
    again, _ = timed([str(BIN / "inkwell"), "import", str(source)], env, folder)
    return first, again, output


def _picked_images(base: str, html: str) -> int:
    """Bytes of the image a desktop browser at 1x loads per <picture> (WebP, >= 700 px)."""
    total = 0
    for srcset in re.findall(r'<source type="image/webp" srcset="([^"]+)"', html):
        candidates = [(int(w), url) for url, w in re.findall(r"(\S+) (\d+)w", srcset)]
        wide = [c for c in sorted(candidates) if c[0] >= PICKED_WIDTH] or sorted(candidates)[-1:]
        status, _, body = fetch(urljoin(base, wide[0][1]))
        if status != 200:
            raise BenchError(f"{wide[0][1]} answered {status}")
        total += len(body)
    return total


def _plotly_gzip(base: str, html: str) -> int:
    """plotly.js's gzip size: the bundle charts.js fetches when a chart nears view."""
    url = chart_script(base, html)
    status, _, body = fetch(url)
    if status != 200:
        raise BenchError(f"{url} answered {status}")
    return len(gzip.compress(body, 6))


def main(results_dir: Path) -> dict:
    rng = random.Random(17)
    rounds = 1 if is_quick() else 3
    with scratch("notebook-import") as tmp:
        nb = make_notebook(rng)
        notebook = tmp / "posts" / "big.ipynb"
        notebook.parent.mkdir()
        notebook.write_text(nbformat.writes(nb), encoding="utf-8")
        markdown = tmp / "plain" / "plain.md"
        markdown.parent.mkdir()
        markdown.write_text(as_markdown(nb), encoding="utf-8")
        size = notebook.stat().st_size
        runs = [_import_seconds(tmp, notebook, r) for r in range(rounds)]
        plain = [_import_seconds(tmp, markdown, r)[0] for r in range(rounds)]
        env = instance_env(tmp / f"round-0-{notebook.stem}")
        with gunicorn("inkwell.wsgi:app", env, tmp / f"round-0-{notebook.stem}") as server:
            page, resources = page_resources(server.url, f"/posts/{SLUG}/")
            _, _, body = fetch(f"{server.url}/posts/{SLUG}/")
            html = body.decode("utf-8")
            images = _picked_images(server.url, html)
            plotly = _plotly_gzip(server.url, html)
        counted = [page] + [r for r in resources if r.kind != "image" and not r.is_plotly]
    first = median([r[0] for r in runs])
    ratios = {
        "notebook size": figure(round(size / 1e6, 2), unit="MB",
                                note=f"{PNGS} PNG outputs, {CHARTS} Plotly figures"),
        "inkwell import of the notebook": figure(round(first, 2), unit="s",
                                                 note=f"median of {rounds}, fresh instance"),
        "re-import, unchanged": figure(round(median([r[1] for r in runs]), 2), unit="s"),
        "same prose and code as Markdown": figure(round(median(plain), 2), unit="s"),
        "notebook / Markdown import time": figure(round(first / median(plain), 1)),
        "post page without plotly.js: HTML+CSS+JS": figure(
            round(sum(r.bytes for r in counted) / 1000, 1), unit="kB"),
        "post page without plotly.js: gzip": figure(
            round(sum(r.gzip_bytes for r in counted) / 1000, 1), unit="kB"),
        "post page: HTML alone": figure(round(page.bytes / 1000, 1), unit="kB",
                                        note="chart data inline, 3 x 6,000 points"),
        "images a 1x desktop browser loads": figure(round(images / 1000, 1), unit="kB",
                                                    note=f"{PNGS} WebP, lazy-loaded"),
        "plotly.js (loaded when a chart nears view)": figure(
            round(plotly / 1000, 1), unit="kB gzip"),
    }
    result = {"name": "notebook_import", "ratios": ratios,
              "raw": {"runs": runs, "plain": plain, "bytes": size,
                      "resources": [r.__dict__ for r in [page, *resources]]}}
    write_result(results_dir, "notebook_import", result)
    return result


if __name__ == "__main__":
    from .common import QUICK_ENV, RESULTS_DIR

    if "--quick" in sys.argv:
        os.environ[QUICK_ENV] = "1"
    outcome = main(RESULTS_DIR)
    print(json.dumps(outcome["ratios"], indent=2))
