"""The least a page read from the database can cost on Inkwell's parts: Flask, one SELECT on a
connection from SQLAlchemy's pool (a raw DBAPI cursor, as inkwell/blog/prepared.py reads), one
precompiled Jinja template with the post's stored HTML as its one variable. Nothing else: no
sessions, no validators, no security headers, no tags or dates.

`BENCH_BARE_PAGE` names the real post page (saved by app_vs_bare) and `BENCH_FLOOR_DATABASE`
the SQLite file of the instance that served it; the template is that page with the post's
body_html cut out, so the answer is the same bytes. Run it with
`gunicorn bench.floor_page_app:app`; the URL is the post's.
"""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask, render_template
from jinja2 import DictLoader
from sqlalchemy import create_engine

_SQL = "SELECT body_html FROM posts WHERE slug = ?"
engine = create_engine(f"sqlite:///{os.environ['BENCH_FLOOR_DATABASE']}")
_page = Path(os.environ["BENCH_BARE_PAGE"]).read_text(encoding="utf-8")


def _read_body(slug: str) -> str | None:
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        cursor.execute(_SQL, (slug,))
        row = cursor.fetchone()
        cursor.close()
        return row[0] if row else None
    finally:
        connection.close()


def _template() -> str:
    body = _read_body("welcome")
    if not body or _page.count(body) != 1 or "{% endraw %}" in _page:
        raise SystemExit("the post's body_html is not in the page once: cannot cut it out")
    before, after = _page.split(body)
    return "{% raw %}" + before + "{% endraw %}{{ body|safe }}{% raw %}" + after + "{% endraw %}"


app = Flask(__name__)
app.jinja_loader = DictLoader({"post.html": _template()})
app.jinja_env.auto_reload = False
with app.app_context():
    app.jinja_env.get_template("post.html")  # compiled once at start


@app.get("/posts/<slug>/")
def post(slug: str):
    body = _read_body(slug)
    if body is None:
        return "not found", 404
    return render_template("post.html", body=body)
