"""Highlighted code is readable: every token colour in code.css meets WCAG AA (4.5:1) on the
code background it is shown on, light and dark, and the file is what the tool generates."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CODE_CSS = ROOT / "src/inkwell/static/css/code.css"


def _tool():
    spec = importlib.util.spec_from_file_location("make_code_css", ROOT / "tools/make_code_css.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_code_css_is_what_make_code_css_writes():
    assert CODE_CSS.read_text(encoding="utf-8") == _tool().build_css()


def test_every_token_colour_meets_wcag_aa_on_its_background_light_and_dark():
    tool = _tool()
    css = CODE_CSS.read_text(encoding="utf-8")
    light, dark = re.findall(r"@media[^{]*\{\n(.*?)\n\}", css, re.DOTALL)
    checked = 0
    for block, page_background in ((light, tool.LIGHT_CODE_BG), (dark, tool.DARK_CODE_BG)):
        for selectors, body in re.findall(r"^([^{]+)\{([^}]*)\}$", block, re.MULTILINE):
            colour = re.search(r"(?:^|;)color:(#[0-9a-fA-F]{3,6})", body)
            if not colour:
                continue
            background = re.search(r"background-color:(#[0-9a-fA-F]{3,6})", body)
            ratio = tool.contrast(colour[1], background[1] if background else page_background)
            assert ratio >= 4.5, (selectors, colour[1], round(ratio, 2))
            checked += 1
    assert checked > 40  # the two themes' token rules were all read


def test_the_site_css_code_background_is_the_one_the_tool_checks_against():
    site_css = (ROOT / "src/inkwell/static/css/site.css").read_text(encoding="utf-8")
    tool = _tool()
    backgrounds = re.findall(r"--code-bg:\s*(#[0-9a-fA-F]{6})", site_css)
    assert backgrounds == [tool.LIGHT_CODE_BG, tool.DARK_CODE_BG]
