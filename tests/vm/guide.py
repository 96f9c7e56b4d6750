"""docs/vps.md's "One command" block, as the test runs it in the guest: the guide's own lines,
with the example names swapped for the test's (the clone URL for a bundle of this checkout,
blog.example.com for blog.test). A change to the guide changes what the test runs."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "vps.md"
SETUP_LINE = ".venv/bin/inkwell deploy setup"
CLONE_URL = "https://example.com/you/inkwell.git"


def one_command_block() -> list[str]:
    """The block's commands, one per line (backslash continuations joined)."""
    text = GUIDE.read_text()
    section = text[text.index("## One command"):]
    block = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    if block is None:
        raise ValueError(f"{GUIDE}: no sh block under 'One command'")
    joined = re.sub(r"\\\n\s*", "", block.group(1))
    return [line.strip() for line in joined.splitlines() if line.strip()]


def commands(bundle: str, site_url: str, email: str, key: str) -> tuple[str, str]:
    """(what prepares the checkout, the setup command): the guide's, with the test's names."""
    lines = [line.replace(CLONE_URL, bundle).replace("https://blog.example.com", site_url)
             .replace("you@example.com", email).replace("/root/your-key.pub", key)
             for line in one_command_block()]
    setup = [line for line in lines if line.startswith(SETUP_LINE)]
    if len(setup) != 1 or lines[-1] != setup[0]:
        raise ValueError(f"{GUIDE}: the block should end with one `{SETUP_LINE}` line")
    for name in (bundle, site_url, email, key):
        if name not in "\n".join(lines):
            raise ValueError(f"{GUIDE}: the block no longer names what the test swaps for "
                             f"{shlex.quote(name)}")
    return "set -e\n" + "\n".join(lines[:-1]), setup[0]
