"""The least memory the stack Inkwell is built on can take: a Flask app that has loaded the
SQLAlchemy ORM (as any Flask + SQLAlchemy 2 app does) and answers one route with "ok".

bench/stack.py runs it under gunicorn with Inkwell's memory settings (preloaded, gthread,
2 workers) beside the real stack, so the RSS goal can be read against what no app on these
parts can go below. Run it with `gunicorn bench.floor_app:app`.
"""

from __future__ import annotations

import sqlalchemy.orm  # noqa: F401  (loaded for its memory, as the app under test loads it)
from flask import Flask

app = Flask(__name__)


@app.get("/")
def index() -> str:
    return "ok"
