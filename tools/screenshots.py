"""The README's screenshots, taken from a running Inkwell in Debian's Chromium (Playwright).

    make run                                  # another terminal: the blog on :8000
    printf '%s\\n' "$PASSWORD" | .venv/bin/python tools/screenshots.py \\
        http://127.0.0.1:8000 you@example.com --password-stdin

Writes docs/img/{home,post,editor}-{phone,desktop}.png: the home page, the welcome post around
its chart (its static picture on the phone, plotly.js's chart on the desktop) and the editor with a draft, at 375 and 1280 px wide. Nothing is saved on the
site: the draft is typed, previewed and left (its autosave is blocked in the browser).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

OUT = Path(__file__).resolve().parents[1] / "docs" / "img"
SIZES = {"phone": (375, 812), "desktop": (1280, 800)}
DRAFT_TITLE = "Notes on tail latency"
DRAFT_BODY = """Requests wait in **queues**; the slowest one in a hundred decides how a page feels.

$$p_{99} = \\min\\{t : P(T \\le t) \\ge 0.99\\}$$

```python
def p99(samples):
    return sorted(samples)[int(len(samples) * 0.99)]
```
"""


def shoot(base: str, email: str, password: str, chromium: str) -> list[Path]:
    written = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True,
                                    args=["--no-sandbox", "--disable-gpu"])
        try:
            for name, (width, height) in SIZES.items():
                context = browser.new_context(viewport={"width": width, "height": height},
                                              device_scale_factor=1)
                page = context.new_page()
                page.route("**/autosave", lambda route: route.abort())  # leave nothing saved
                page.goto(base + "/")
                written.append(_save(page, f"home-{name}.png"))
                page.goto(base + "/posts/welcome/")
                chart = page.locator(".plotly-chart").first
                if chart.count():  # the screen around the chart
                    chart.evaluate("el => el.scrollIntoView({block: 'center'})")
                    if name == "desktop":  # the pointer on it: plotly.js's chart; a phone
                        chart.hover()      # shows the static picture a reader sees first
                        page.wait_for_selector(".plotly-chart .main-svg", timeout=30_000)
                        page.mouse.move(0, 0)  # no tooltip in the picture
                written.append(_save(page, f"post-{name}.png"))
                page.goto(base + "/admin/login")
                page.fill("input[name=email]", email)
                page.fill("input[name=password]", password)
                page.click("button[type=submit], input[type=submit]")
                page.wait_for_url(base + "/admin/")
                page.goto(base + "/admin/posts/new")
                page.fill("#title", DRAFT_TITLE)
                page.fill("#body", DRAFT_BODY)
                page.dispatch_event("#body", "input")
                page.wait_for_selector("#preview pre", state="attached", timeout=10_000)
                written.append(_save(page, f"editor-{name}.png"))
                context.close()
        finally:
            browser.close()
    return written


def _save(page, name: str) -> Path:
    path = OUT / name
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(path))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", help="the running blog, e.g. http://127.0.0.1:8000")
    parser.add_argument("email", help="an admin account's email")
    parser.add_argument("--password-stdin", action="store_true", required=True,
                        help="read the account's password from standard input")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    password = sys.stdin.readline().rstrip("\n")
    for path in shoot(args.url.rstrip("/"), args.email, password, args.chromium):
        print(f"wrote {path.relative_to(OUT.parents[1])}")


if __name__ == "__main__":
    main()
