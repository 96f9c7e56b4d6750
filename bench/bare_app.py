"""The bare Flask reference: one route rendering a precompiled Jinja template, nothing else.

`BENCH_BARE_PAGE` names an HTML file (the real post page, saved by app_vs_bare); it becomes the
template text verbatim, so both sides of the ratio send the same bytes. Run it with
`gunicorn bench.bare_app:app`.
"""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask, render_template
from jinja2 import DictLoader

_page = Path(os.environ["BENCH_BARE_PAGE"]).read_text(encoding="utf-8")
if "{% endraw %}" in _page:
    raise SystemExit("the page contains '{% endraw %}', so it cannot be used as a raw template")

app = Flask(__name__)
app.jinja_loader = DictLoader({"page.html": "{% raw %}" + _page + "{% endraw %}"})
app.jinja_env.auto_reload = False
with app.app_context():
    app.jinja_env.get_template("page.html")  # compile once at start, as a real app's cache would


@app.get("/")
def page() -> str:
    return render_template("page.html")
