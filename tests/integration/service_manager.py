"""What systemd does for inkwell.socket + inkwell.service, for the push-to-deploy tests (this
machine has no systemd as PID 1).

    python service_manager.py serve ROOT PORT     hold 127.0.0.1:PORT, run nothing yet
    python service_manager.py restart ROOT        what `systemctl restart inkwell` does

`serve` keeps the listening socket open for as long as it lives, as the socket unit does. On
SIGHUP it restarts the service as systemd would: SIGTERM to gunicorn and wait (the graceful stop),
then ExecStartPre (`inkwell setup`: migrate, import the content folder) and ExecStart
(gunicorn, handed the socket as fd 3 with
LISTEN_FDS/LISTEN_PID), both run from ROOT/current with the environment of shared/.env, like
WorkingDirectory= and EnvironmentFile=. `restart` signals it and waits for the outcome, exiting
non-zero when the start failed, as systemctl does. State lives in ROOT/service/.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from inkwell.deploy import envfile
from inkwell.deploy.stack import handed_over, held_socket


def _state_dir(root: Path) -> Path:
    return root / "service"


def _environment(root: Path) -> dict[str, str]:
    base = {k: os.environ[k] for k in ("PATH", "LANG", "HOME") if k in os.environ}
    return base | envfile.values(root / "shared" / ".env")


def serve(root: Path, port: int) -> None:
    state = _state_dir(root)
    state.mkdir(exist_ok=True)
    held = held_socket(port)
    gunicorn: subprocess.Popen | None = None
    generation = 0
    pending = False

    def on_hup(signum, frame) -> None:
        nonlocal pending
        pending = True

    def on_term(signum, frame) -> None:
        if gunicorn is not None and gunicorn.poll() is None:
            gunicorn.send_signal(signal.SIGTERM)
            gunicorn.wait(30)
        sys.exit(0)

    signal.signal(signal.SIGHUP, on_hup)
    signal.signal(signal.SIGTERM, on_term)
    (state / "pid").write_text(str(os.getpid()))
    while True:
        if not pending:
            time.sleep(0.05)
            continue
        pending = False
        if gunicorn is not None and gunicorn.poll() is None:
            gunicorn.send_signal(signal.SIGTERM)
            gunicorn.wait(60)
        try:
            gunicorn, error = _start(root, held)
        except OSError as e:
            gunicorn, error = None, f"could not start: {e}"
        generation += 1
        (state / "result.tmp").write_text(json.dumps({"generation": generation, "error": error}))
        (state / "result.tmp").rename(state / "result")


def _start(root: Path, held) -> tuple[subprocess.Popen | None, str | None]:
    release = (root / "current").resolve()
    env = _environment(root)
    log = (_state_dir(root) / "journal.log").open("ab")
    upgrade = subprocess.run([str(release / ".venv/bin/inkwell"), "setup"], cwd=release,
                             env=env, stdout=log, stderr=subprocess.STDOUT)
    if upgrade.returncode != 0:
        return None, f"ExecStartPre (inkwell setup) exited with {upgrade.returncode}"
    argv, extra = handed_over(held, [str(release / ".venv/bin/gunicorn"), "inkwell.wsgi:app"])
    proc = subprocess.Popen(argv, cwd=release, env=env | extra, pass_fds=(held.fileno(),),
                            stdout=log, stderr=subprocess.STDOUT)
    return proc, None


def restart(root: Path) -> int:
    state = _state_dir(root)
    before = _result(state)
    os.kill(int((state / "pid").read_text()), signal.SIGHUP)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        now = _result(state)
        if now["generation"] != before["generation"]:
            if now["error"]:
                print(f"Job for inkwell.service failed: {now['error']}", file=sys.stderr)
                return 1
            return 0
        time.sleep(0.05)
    print("timed out waiting for the restart", file=sys.stderr)
    return 1


def _result(state: Path) -> dict:
    try:
        return json.loads((state / "result").read_text())
    except FileNotFoundError:
        return {"generation": 0, "error": None}


if __name__ == "__main__":
    command, root = sys.argv[1], Path(sys.argv[2])
    if command == "serve":
        serve(root, int(sys.argv[3]))
    else:
        sys.exit(restart(root))
