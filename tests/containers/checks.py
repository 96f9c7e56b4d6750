"""One line per check, and the tally `container-test: N passed, M failed` at the end."""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable


class Stop(Exception):
    """A check whose failure leaves nothing for the checks after it to look at."""


class Checks:
    def __init__(self) -> None:
        self.passed = 0
        self.failed = 0
        self.started = time.monotonic()

    def run(self, name: str, check: Callable[[], str | None], needed: bool = False) -> bool:
        """Run `check` (it raises on failure, may return a detail); print one line.
        A failed `needed` check raises Stop: the section cannot go on."""
        began = time.monotonic()
        try:
            detail = check()
        except Exception as e:  # every failure is reported as one line, never a traceback
            self.failed += 1
            reason = str(e).strip() or traceback.format_exc(limit=2).strip()
            print(f"FAIL {name}: {_one_block(reason)}", flush=True)
            if needed:
                raise Stop(name) from e
            return False
        self.passed += 1
        took = time.monotonic() - began
        print(f"ok   {name}" + (f" ({detail})" if detail else "") + f" [{took:.1f} s]", flush=True)
        return True

    def fail(self, name: str, reason: str) -> None:
        self.failed += 1
        print(f"FAIL {name}: {_one_block(reason)}", flush=True)

    def note(self, text: str) -> None:
        print(f"     {text}", flush=True)

    def summary(self) -> str:
        return f"container-test: {self.passed} passed, {self.failed} failed"


def _one_block(reason: str) -> str:
    """The first line on the check's line; what follows (a log tail) indented under it."""
    lines = reason.splitlines()
    return "\n".join([lines[0], *("       " + line for line in lines[1:30])])
