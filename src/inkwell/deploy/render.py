"""Template rendering shared by every deploy module (Jinja, strict: a missing value is an error)."""

from __future__ import annotations

from functools import cache

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from .settings import TEMPLATES


@cache
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,  # config files, not HTML; values are validated in settings.py
    )


def render_template(name: str, **context) -> str:
    return _environment().get_template(name).render(**context)
