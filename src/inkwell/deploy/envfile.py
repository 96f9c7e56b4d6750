"""The `.env` template: every setting the rendered files read, with the current values and a
fresh SECRET_KEY, plus doctor checks on an existing `.env`.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from dotenv import dotenv_values

from ..config import new_secret_key
from .render import render_template
from .settings import DeploySettings

ENV_FILE = "env.example"


def render_env(settings: DeploySettings, database_url: str = "") -> str:
    return render_template(
        ENV_FILE, s=settings, secret_key=new_secret_key(), database_url=database_url
    )


def values(path: Path) -> dict[str, str]:
    """The KEY=value settings of a .env file (a bare KEY without a value left out; none for a
    missing file)."""
    return {k: v for k, v in dotenv_values(path).items() if v is not None}


def write_private(path: Path, text: str) -> None:
    """Create the file readable by its owner only (it holds a secret)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    path.chmod(0o600)


def doctor(settings: DeploySettings) -> list[str]:
    path = settings.app_dir / ".env"
    if not path.exists():
        return []
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        return [f"{path} is readable by other users (mode {mode:o}): chmod 600 {path}"]
    return []
