"""Notebooks for tests, made with nbformat (as Jupyter writes them): every kind of output."""

from __future__ import annotations

import base64
import io

import nbformat
from nbformat.v4 import (
    new_code_cell,
    new_markdown_cell,
    new_notebook,
    new_output,
    new_raw_cell,
)
from PIL import Image

PLOTLY = {"data": [{"type": "bar", "x": ["a", "b", "c"], "y": [3, 1, 2]}],
          "layout": {"title": {"text": "Bars"}}}
DATAFRAME_HTML = """<div>
<style scoped>
    .dataframe tbody tr th:only-of-type { vertical-align: middle; }
</style>
<table border="1" class="dataframe">
  <thead>
    <tr style="text-align: right;"><th></th><th>name</th><th>mass</th></tr>
  </thead>

  <tbody>
    <tr><th>0</th><td>Ceres</td><td>9.38e20</td></tr>
    <tr><th>1</th><td>Vesta</td><td>2.59e20</td></tr>
  </tbody>
</table>
</div>"""
SVG = ('<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20">'
       '<rect width="40" height="20" fill="teal"/></svg>')
# What a hostile notebook could carry: script in HTML and SVG outputs.
HOSTILE_HTML = ('<p id="html-output">hello</p><script>window.pwned = "html"</script>'
                '<img src="/x" onerror="window.pwned = \'img\'">'
                '<a href="javascript:window.pwned=1">link</a>')
HOSTILE_SVG = ('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10" '
               'onload="window.pwned = \'svg\'"><script>window.pwned = "svg"</script>'
               '<rect width="10" height="10"/></svg>')


def png(color: str = "red", size: tuple[int, int] = (32, 24)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "PNG")
    return buffer.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def every_output_notebook(**metadata) -> str:
    """A notebook with prose, math, code and each output type Inkwell shows; as JSON text."""
    nb = new_notebook(metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
        **metadata,
    })
    nb.cells = [
        new_markdown_cell("# Orbits of small bodies\n\nWe fit $a^3 \\propto T^2$ to data.[^1]"
                          "\n\n[^1]: Kepler's third law."),
        new_code_cell("import numpy as np\nprint('hello from stdout')", outputs=[
            new_output("stream", name="stdout", text="hello from stdout\n"),
            new_output("stream", name="stderr", text="a warning on stderr\n"),
        ]),
        new_code_cell("df", outputs=[new_output(
            "execute_result", execution_count=3,
            data={"text/html": DATAFRAME_HTML, "text/plain": "    name  mass\n0  Ceres ..."},
        )]),
        new_code_cell("plt.plot(x, y)", outputs=[new_output(
            "display_data", data={"image/png": b64(png("red")), "text/plain": "<Figure>"})]),
        new_code_cell("Image('photo.jpg')", outputs=[new_output(
            "display_data", data={"image/jpeg": b64(_jpeg())})]),
        new_code_cell("SVG(s)", outputs=[new_output("display_data", data={"image/svg+xml": SVG})]),
        new_code_cell("fig.show()", outputs=[new_output("display_data", data={
            "application/vnd.plotly.v1+json": PLOTLY,
            "text/html": "<div>plotly needs script</div><script>Plotly.newPlot()</script>",
        })]),
        new_code_cell("Math(r'E = mc^2')", outputs=[new_output(
            "display_data", data={"text/latex": "$\\displaystyle E = mc^2$"})]),
        new_code_cell("Markdown('**bold output**')", outputs=[new_output(
            "display_data", data={"text/markdown": "Some **bold output** text"})]),
        new_code_cell("1 + 1", outputs=[new_output(
            "execute_result", execution_count=9, data={"text/plain": "2"})]),
        new_code_cell("1 / 0", outputs=[new_output(
            "error", ename="ZeroDivisionError", evalue="division by zero",
            traceback=["\x1b[0;31mZeroDivisionError\x1b[0m: division by zero"])]),
        new_code_cell("secret_setup()", metadata={"tags": ["remove-cell"]}),
        new_code_cell("only_the_output()", metadata={"tags": ["remove-input"]}, outputs=[
            new_output("stream", name="stdout", text="output without its code\n")]),
        new_code_cell("noisy()", metadata={"tags": ["remove-output"]}, outputs=[
            new_output("stream", name="stdout", text="noise nobody reads\n")]),
        new_code_cell("folded_code()", metadata={"tags": ["hide-input"]}, outputs=[
            new_output("stream", name="stdout", text="shown output\n")]),
        new_code_cell("long_table()", metadata={"tags": ["hide-output"]}, outputs=[
            new_output("stream", name="stdout", text="folded output\n")]),
    ]
    return nbformat.writes(nb)


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (20, 20), "blue").save(buffer, "JPEG")
    return buffer.getvalue()


def plain_notebook(cells: list, **metadata) -> str:
    """A notebook with `cells` and only the metadata given."""
    return nbformat.writes(new_notebook(cells=cells, metadata=metadata))


def front_matter_cell(text: str):
    return new_raw_cell(text)
