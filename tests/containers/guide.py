"""The commands of docs/compose.md, run as written: a command the guide does not contain is
refused, so the guide and this test cannot drift apart.

Debian's docker.io (20.10) has no `docker compose` plugin; its `docker-compose` (1.29) takes the
same arguments, so the shell the commands run in sends `docker compose ...` there.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from .engine import DOCKER, DockerEngine

REPO = Path(__file__).resolve().parents[2]
GUIDE = REPO / "docs" / "compose.md"
PRELUDE = (
    "set -e\n"
    "docker() { if [ \"$1\" = compose ]; then shift; command /usr/bin/docker-compose \"$@\";"
    f" else command {DOCKER} \"$@\"; fi; }}\n"
)


def guide_blocks(language: str = "sh") -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", GUIDE.read_text(), re.S)


def guide_commands() -> set[str]:
    """Every command line in the guide's ```sh blocks (continuation lines joined)."""
    text = "\n".join(guide_blocks()).replace("\\\n", " ")
    return {" ".join(line.split()) for line in text.splitlines() if line.strip()}


class Guide:
    """Runs the guide's commands in `project` (a copy of the repository with its own .env)."""

    def __init__(self, engine: DockerEngine, project: Path, env: dict[str, str]) -> None:
        self.engine = engine
        self.project = project
        self.env = {**engine.env, **env}
        self.commands = guide_commands()

    def run(self, command: str, check: bool = True, timeout: float = 900,
            input: str | None = None) -> subprocess.CompletedProcess:
        if " ".join(command.split()) not in self.commands:
            raise AssertionError(f"docs/compose.md does not say `{command}`")
        result = subprocess.run(["bash", "-c", PRELUDE + command], cwd=self.project,
                                env=self.env, text=True, capture_output=True, timeout=timeout,
                                input=input)
        if check and result.returncode != 0:
            raise AssertionError(f"`{command}` exited {result.returncode}:\n"
                                 f"{(result.stdout + result.stderr)[-2500:]}")
        return result

    def run_block(self, first_line: str, timeout: float = 120) -> subprocess.CompletedProcess:
        """The whole ```sh block of the guide that starts with `first_line` (a here-document)."""
        blocks = [b for b in guide_blocks() if b.startswith(first_line)]
        if len(blocks) != 1:
            raise AssertionError(f"docs/compose.md has no block starting `{first_line}`")
        result = subprocess.run(["bash", "-c", PRELUDE + blocks[0]], cwd=self.project,
                                env=self.env, text=True, capture_output=True, timeout=timeout)
        if result.returncode != 0:
            raise AssertionError(f"`{first_line}` exited {result.returncode}:\n"
                                 f"{(result.stdout + result.stderr)[-2500:]}")
        return result

    def compose(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        """docker-compose ARGS in the project, for the test's own housekeeping (not the guide's)."""
        return subprocess.run(["/usr/bin/docker-compose", *args], cwd=self.project,
                              env=self.env, text=True, capture_output=True, timeout=timeout)
