"""axe-core in the page under test: its violations, or a skip (a failure under CI) without it.

axe-core is JavaScript from npm, not a Python package: point INKWELL_AXE_JS at its axe.min.js
(`npm install axe-core@4` in a temporary folder gives node_modules/axe-core/axe.min.js)."""

from __future__ import annotations

import os

from ..services import missing

AXE_JS = os.environ.get("INKWELL_AXE_JS", "")


def require_axe() -> str:
    if not AXE_JS or not os.path.isfile(AXE_JS):
        missing("axe-core is not available: set INKWELL_AXE_JS to axe.min.js")
    return AXE_JS


def violations(page) -> list[str]:
    """axe's WCAG 2.1 A/AA and best-practice violations on the page: 'rule: target' lines.
    The browser context needs bypass_csp=True (the site's CSP forbids injected scripts)."""
    page.add_script_tag(path=require_axe())
    found = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations'], runOnly: "
        "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']})).violations"
        ".map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '))"
    )
    return list(found)
