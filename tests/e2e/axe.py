"""axe-core in the page under test: its violations, or a skip (a failure under CI) without it.

axe-core is JavaScript from npm, not a Python package: `make test` installs the version pinned in
tests/e2e/package-lock.json into tests/e2e/node_modules; INKWELL_AXE_JS names another axe.min.js."""

from __future__ import annotations

import os
from pathlib import Path

from ..services import missing

PINNED = Path(__file__).parent / "node_modules" / "axe-core" / "axe.min.js"
AXE_JS = os.environ.get("INKWELL_AXE_JS", "") or str(PINNED)


def require_axe() -> str:
    if not AXE_JS or not os.path.isfile(AXE_JS):
        missing("axe-core is not available: `make test` installs it with npm (or set "
                "INKWELL_AXE_JS to an axe.min.js)")
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
