"""The Jinja environment Inkwell's templates render in, and where compiled templates are kept."""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from typing import Any

from flask.templating import Environment
from jinja2 import FileSystemBytecodeCache
from jinja2.bccache import Bucket


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


class CompiledTemplates(FileSystemBytecodeCache):
    """Jinja's own cache of compiled templates (each entry keyed by its template's source), so a
    new process renders its first page without compiling them again: ~20-40 ms of a cold start.
    Only a cache: a full or read-only disk never fails a page."""

    def load_bytecode(self, bucket: Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except Exception:  # unreadable, or cut short (a crash, a partial restore): not an error
            bucket.reset()  # compiled from the source instead, and written again

    def dump_bytecode(self, bucket: Bucket) -> None:
        try:
            super().dump_bytecode(bucket)
        except OSError:
            pass


def compiled_templates(instance_path: str) -> CompiledTemplates | None:
    folder = os.path.join(instance_path, "compiled-templates")
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError:
        return None
    return CompiledTemplates(folder) if os.access(folder, os.W_OK) else None
