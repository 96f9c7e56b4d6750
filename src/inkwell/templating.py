"""The Jinja environment Inkwell's templates render in."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from flask.templating import Environment


class TemplateEnvironment(Environment):
    """Flask's environment, with each template's globals kept as one plain dict.

    Jinja keeps them as a ChainMap over the environment's globals and turns that into a dict on
    every render, and again for every `{% from ... import %}`: 190k of the 810k instructions it
    took to render a post page (callgrind). Every global is set while create_app() runs, before
    any template is loaded, and Jinja asks that they not change after that, so a snapshot taken
    when a template loads holds the same values.
    """

    def make_globals(self, d: MutableMapping[str, Any] | None) -> MutableMapping[str, Any]:
        return {**self.globals, **(d or {})}
