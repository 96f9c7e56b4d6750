"""systemd: the units that run gunicorn on a VPS, their `systemd-analyze verify` check and
doctor checks.

The service restarts gunicorn on failure, runs it as a non-root user in a sandbox, reloads it with
HUP (new workers and gunicorn.conf.py; new *code* needs a restart, the app being preloaded) and
gives it longer to stop than gunicorn's graceful timeout. The socket unit holds gunicorn's
listening socket, so a restart (a deploy) queues requests instead of refusing them.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from . import gunicorn
from .render import render_template
from .settings import DeploySettings, on_this_machine

UNIT_FILE = "inkwell.service"
SOCKET_FILE = "inkwell.socket"
STOP_MARGIN = 15


def stop_timeout() -> int:
    return gunicorn.GRACEFUL_TIMEOUT + STOP_MARGIN


def render_unit(settings: DeploySettings, gunicorn_conf: Path) -> str:
    writable = sorted({str(settings.instance_path), str(settings.media_root)})
    return render_template(
        UNIT_FILE,
        s=settings,
        conf=gunicorn_conf,
        graceful=gunicorn.GRACEFUL_TIMEOUT,
        stop_timeout=stop_timeout(),
        writable=writable,
    )


def listen_stream(app_bind: str) -> str:
    """The socket unit's ListenStream= for gunicorn's bind: a path for unix:PATH, else host:port."""
    return app_bind[len("unix:"):] if app_bind.startswith("unix:") else app_bind


def render_socket(settings: DeploySettings) -> str:
    return render_template(
        SOCKET_FILE,
        s=settings,
        listen=listen_stream(settings.app_bind),
        unix=settings.app_bind.startswith("unix:"),
        free_bind=not on_this_machine(settings.app_bind),
    )


def check(unit: Path) -> str | None:
    """`systemd-analyze verify`; the complaints about this unit, or None when it is clean."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        return "systemd-analyze is not installed (Debian: apt install systemd)"
    result = subprocess.run(
        [analyze, "verify", "--man=no", str(unit)], capture_output=True, text=True, timeout=60
    )
    mine = [line for line in (result.stdout + result.stderr).splitlines() if unit.name in line]
    return "\n".join(mine) if result.returncode != 0 or mine else None


INSTALLED = Path("/etc/systemd/system")


def doctor(settings: DeploySettings, installed: Path = INSTALLED) -> list[str]:
    problems = []
    service, socket_unit = installed / UNIT_FILE, installed / SOCKET_FILE
    if service.exists() and not socket_unit.exists():
        needs = "Requires=inkwell.socket" in service.read_text(errors="replace")
        problems.append(
            f"{service} is installed but {socket_unit} is not"
            + (": the service requires it and will not start" if needs else
               ": restarts refuse requests meanwhile")
            + "; render again, copy deploy/systemd/inkwell.socket (and inkwell.service) there, "
            "then: sudo systemctl daemon-reload && sudo systemctl enable --now inkwell.socket"
        )
    if not (settings.app_dir / ".env").exists():
        problems.append(f"{settings.app_dir}/.env does not exist: run `inkwell deploy render` "
                        "and copy env.example to it")
    if not (settings.venv_bin / "gunicorn").exists():
        problems.append(f"{settings.venv_bin}/gunicorn is missing: install inkwell into that venv")
    for path in sorted({Path(settings.instance_path), Path(settings.media_root)}):
        if not path.is_dir():  # systemd refuses to start a unit whose ReadWritePaths are missing
            problems.append(
                f"{path} does not exist, and the service may write only there: "
                f"mkdir -p {path} (owned by the service's user, group www-data)"
            )
    return problems
