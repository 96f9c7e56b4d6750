"""Jupyter notebooks (.ipynb) as posts: a notebook becomes the Markdown body of an ordinary post.

The notebook is read and validated with nbformat; no kernel is started and nothing in it runs:
only the outputs saved in the file are shown. Every cell turns into Markdown that the one
pipeline renders and sanitizes (render_markdown), so a notebook post is stored like any other:
HTML rendered once at import, math, footnotes, anchors, highlighted code, Plotly charts.
Image outputs become figures (figures.py: the upload pipeline, SVG sanitized), linked from the
body by a name made of their content and swapped for the stored copy's URL when rendering.

Cell tags follow Jupyter Book: remove-cell, remove-input, remove-output drop what they name;
hide-cell, hide-input, hide-output fold it into a <details> the reader can open.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .figures import FigureLink, embedded_figure
from .frontmatter import SourceError, normalise_meta, parse_source
from .sanitize import sanitize_html

NOTEBOOK_SUFFIX = ".ipynb"
# Settings a notebook's own metadata may hold (Jupyter keeps kernelspec, language_info, widget
# state and more there too: those are the notebook's, not the post's, and are left out).
_POST_KEYS = ("title", "slug", "date", "updated", "description", "tags", "draft", "toc", "page")
# Which of an output's formats is shown, best first (as nbconvert chooses, charts first).
_SHOWN_FIRST = (
    "application/vnd.plotly.v1+json", "text/html", "text/markdown", "text/latex",
    "image/svg+xml", "image/png", "image/jpeg", "text/plain",
)  # fmt: skip
_IMAGE_SUFFIXES = {"image/png": ".png", "image/jpeg": ".jpg", "image/svg+xml": ".svg"}
_BACKTICKS = re.compile(r"`{3,}")


@dataclass
class NotebookPost:
    """What a notebook holds for a post: settings, a Markdown body, the figures it embeds."""

    meta: dict
    body: str
    figures: list[FigureLink] = field(default_factory=list)


def read_notebook(raw: bytes, path: Path) -> NotebookPost:
    """Read `raw` (the .ipynb file at `path`) into a post; SourceError naming the file when it
    is not a notebook nbformat can read and validate."""
    notebook = _load(raw, str(path))
    cells = notebook.cells
    meta = _metadata_settings(notebook.metadata, str(path))
    first = 1
    if cells and cells[0].cell_type == "raw" and cells[0].source.lstrip().startswith("---"):
        header, _ = parse_source(cells[0].source.lstrip(), f"{path} (cell 1)")
        meta.update(header)
        first = 2  # the front matter is not shown
    builder = _BodyBuilder(str(path), _language(notebook.metadata))
    for number, cell in enumerate(cells[first - 1 :], start=first):
        builder.add_cell(number, cell)
    return NotebookPost(meta, builder.body(), builder.figures)


def _load(raw: bytes, path: str) -> Any:
    # Imported here, not at the top: the app's workers never read notebooks (nbformat and
    # its jsonschema take ~60 ms to import, at every start).
    import nbformat
    from nbformat.warnings import MissingIDFieldWarning

    try:
        with warnings.catch_warnings():  # cells without ids (older Jupyter): nothing to fix
            warnings.simplefilter("ignore", MissingIDFieldWarning)
            notebook = nbformat.reads(raw.decode("utf-8-sig"), as_version=4)
            nbformat.validate(notebook)
    except UnicodeDecodeError:
        raise SourceError(path, None, "is not UTF-8 text, so it is not a notebook") from None
    except nbformat.reader.NotJSONError:
        raise SourceError(path, None, "is not a notebook: it is not valid JSON. Open it in "
                          "Jupyter and save it again") from None
    except nbformat.ValidationError as e:
        raise SourceError(path, None, f"is not a valid notebook ({_first_line(e.message)}). "
                          "Open it in Jupyter and save it again") from None
    except (ValueError, KeyError, TypeError, AttributeError) as e:  # e.g. nbformat version 99
        raise SourceError(path, None, f"is not a notebook Inkwell can read ({e}); save it "
                          "with Jupyter (notebook format 4)") from None
    return notebook


def _first_line(message: str) -> str:
    return message.strip().splitlines()[0] if message.strip() else "schema error"


def _metadata_settings(metadata: Any, path: str) -> dict:
    """The post settings a notebook's metadata holds (title, date, tags ...), checked."""
    found = {key: metadata[key] for key in _POST_KEYS if key in metadata}
    return normalise_meta(found, path)


def _language(metadata: Any) -> str:
    """The kernel's language, for highlighting code cells (Python when the notebook is mute)."""
    kernel = metadata.get("kernelspec") or {}
    info = metadata.get("language_info") or {}
    return str(kernel.get("language") or info.get("name") or "python").lower()


def fence(text: str, info: str = "") -> str:
    """A fenced code block holding `text` as it is (its fence longer than any run inside)."""
    longest = max((len(run) for run in _BACKTICKS.findall(text)), default=2)
    marks = "`" * (longest + 1)
    return f"{marks}{info}\n{text.rstrip(chr(10))}\n{marks}"


def _wrap(markdown: str, classes: str) -> str:
    """Markdown inside a <div>: the blank lines make markdown-it render what is between."""
    return f'<div class="{classes}">\n\n{markdown}\n\n</div>'


def _fold(markdown: str, label: str) -> str:
    """A hidden part of a cell (hide-input, hide-output): one click shows it."""
    return (f'<details class="notebook-hidden"><summary>{label}</summary>\n\n{markdown}\n\n'
            "</details>")


def _text(value: Any) -> str:
    """nbformat keeps multi-line text as one string or as a list of lines."""
    return "".join(value) if isinstance(value, list) else str(value)


class _BodyBuilder:
    """Collects the Markdown of the cells, and the figures their outputs embed."""

    def __init__(self, path: str, language: str) -> None:
        self.path, self.language = path, language
        self.parts: list[str] = []
        self.figures: list[FigureLink] = []

    def body(self) -> str:
        return "\n\n".join(part for part in self.parts if part.strip()) + "\n"

    def add_cell(self, number: int, cell: Any) -> None:
        tags = set(cell.get("metadata", {}).get("tags", []))
        if "remove-cell" in tags:
            return
        if cell.cell_type == "markdown":
            self.parts.append(self._markdown_cell(number, cell))
        elif cell.cell_type == "code":
            self.parts.append(self._code_cell(number, cell, tags))
        # Raw cells are for other converters (LaTeX, reST): not shown.

    def _markdown_cell(self, number: int, cell: Any) -> str:
        """The cell's Markdown; images it carries as attachments become figures."""
        source = cell.source
        for name, bundle in (cell.get("attachments") or {}).items():
            link = self._image(number, bundle)
            if link is not None:
                source = source.replace(f"attachment:{name}", link.src)
        return source

    def _code_cell(self, number: int, cell: Any, tags: set[str]) -> str:
        code = ""
        if cell.source.strip() and "remove-input" not in tags:
            code = fence(cell.source, self.language)
            if "hide-input" in tags:
                code = _fold(code, "Show code")
        outputs = ""
        if "remove-output" not in tags:
            shown = [self._output(number, output) for output in cell.get("outputs", [])]
            outputs = "\n\n".join(part for part in shown if part)
            if outputs and "hide-output" in tags:
                outputs = _fold(outputs, "Show output")
        both = "\n\n".join(part for part in (code, outputs) if part)
        return _fold(both, "Show code cell") if both and "hide-cell" in tags else both

    def _output(self, number: int, output: Any) -> str:
        kind = output.output_type
        if kind == "stream":
            text = _no_escapes(_text(output.get("text", "")))
            name = "notebook-stderr" if output.get("name") == "stderr" else "notebook-stream"
            return _wrap(fence(text), f"notebook-output {name}") if text.strip() else ""
        if kind == "error":
            trace = _no_escapes("\n".join(output.get("traceback", [])))
            text = trace or f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"
            return _wrap(fence(text), "notebook-output notebook-error")
        return self._rich(number, output.get("data", {}))

    def _rich(self, number: int, data: Any) -> str:
        """An execute_result or display_data: its best format that Inkwell can show."""
        mime = next((m for m in _SHOWN_FIRST if m in data), None)
        if mime is None:  # widgets, JavaScript: nothing a static page can show safely
            return ""
        value = data[mime]
        if mime == "application/vnd.plotly.v1+json":
            return fence(json.dumps(value, allow_nan=True), "plotly")
        if mime == "text/html":
            return _wrap(_html_block(_text(value)), "notebook-output notebook-html")
        if mime == "text/markdown":
            return _wrap(_text(value), "notebook-output")
        if mime == "text/latex":
            return _latex(_text(value))
        if mime in _IMAGE_SUFFIXES:
            link = self._image(number, {mime: value})
            if link is None:
                return ""
            return f"![Figure {len(self.figures)} (cell {number})]({link.src})"
        return _wrap(fence(_text(value)), "notebook-output")

    def _image(self, number: int, bundle: Any) -> FigureLink | None:
        """The first image in a MIME bundle, as an embedded figure (None: none there)."""
        mime = next((m for m in _IMAGE_SUFFIXES if m in bundle), None)
        if mime is None:
            return None
        value = _text(bundle[mime])
        where = f"{self.path} (cell {number})"
        if mime == "image/svg+xml":
            data = value.encode("utf-8")
        else:
            try:
                data = base64.b64decode(value, validate=False)
            except (binascii.Error, ValueError):
                raise SourceError(where, None, f"its {mime} output is not base64 data; run "
                                  "the cell again and save the notebook") from None
        # The body links it by a name; render_markdown swaps it for the stored copy's URL.
        link = embedded_figure(data, _IMAGE_SUFFIXES[mime], where)
        self.figures.append(link)
        return link


def _html_block(html: str) -> str:
    """An HTML output as one raw HTML block: sanitized first (the renderer sanitizes again), then
    without blank lines, which would end the block and turn the rest into Markdown text."""
    clean = sanitize_html(html)
    return "\n".join(line for line in clean.splitlines() if line.strip())


def _latex(latex: str) -> str:
    """A text/latex output as display math, as Jupyter shows it ($...$ or $$...$$ around it
    or not)."""
    latex = latex.strip().removeprefix("$$").removesuffix("$$").strip("$").strip()
    return f"$$\n{latex}\n$$" if latex else ""


def _no_escapes(text: str) -> str:
    """ANSI colour and cursor codes out (a traceback's colours, a progress bar's)."""
    from ftfy.fixes import remove_terminal_escapes  # only while importing: see _load

    return remove_terminal_escapes(text)
