"""gunicorn on the listening socket that systemd holds (the rendered inkwell.socket): restarting
gunicorn, as a deploy does, queues requests instead of refusing them.

systemd is not PID 1 on this machine, so the test does what systemd does for a socket unit: it
keeps the listening socket open itself and starts gunicorn (with the project's gunicorn.conf.py)
on it, as file descriptor 3 with LISTEN_FDS=1 and LISTEN_PID set to gunicorn's own pid.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from inkwell.deploy.diagnose import connection
from inkwell.deploy.stack import handed_over, held_socket

from ..services import BIN, free_port, migrated, production_env

REPO = Path(__file__).resolve().parents[2]


def start_on(held: socket.socket, env: dict[str, str], log: Path) -> subprocess.Popen:
    argv, extra = handed_over(held, [str(BIN / "gunicorn"), "--config",
                                     str(REPO / "gunicorn.conf.py")])
    with log.open("ab") as out:
        return subprocess.Popen(argv, cwd=REPO, env={**env, **extra}, pass_fds=(held.fileno(),),
                                stdout=out, stderr=subprocess.STDOUT)


def get(address: str) -> tuple[int | str, float]:
    """(status or the error's name, seconds) of one GET / on a new connection."""
    started = time.monotonic()
    conn = connection(address, timeout=30)
    try:
        conn.request("GET", "/")
        response = conn.getresponse()
        response.read()
        return response.status, time.monotonic() - started
    except OSError as e:
        return type(e).__name__, time.monotonic() - started
    finally:
        conn.close()


def wait_until_served(address: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()
        if get(address)[0] == 200:
            return
        time.sleep(0.05)
    raise AssertionError(log.read_text())


def listening(kind: str, folder: Path) -> tuple[socket.socket, str]:
    """A listening socket held by the test, as systemd holds inkwell.socket's, and its address."""
    if kind == "tcp":
        held = held_socket(0)
        return held, f"127.0.0.1:{held.getsockname()[1]}"
    path = folder / "gunicorn.sock"
    held = socket.socket(socket.AF_UNIX)
    held.bind(str(path))
    held.listen(2048)
    return held, f"unix:{path}"


@pytest.mark.parametrize("kind", ["tcp", "unix"])
def test_a_restart_behind_the_held_socket_refuses_no_request(tmp_path, kind):
    database = migrated(f"sqlite:///{tmp_path / 'inkwell.sqlite3'}")
    unused = free_port()  # gunicorn must not bind APP_BIND when it is handed a socket
    env = {**os.environ, **production_env(tmp_path, database, WEB_CONCURRENCY="2",
                                          APP_BIND=f"127.0.0.1:{unused}")}
    log = tmp_path / "gunicorn.log"
    held, address = listening(kind, tmp_path)

    first = start_on(held, env, log)
    second = None
    try:
        wait_until_served(address, first, log)
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", unused)) != 0

        answers: list[tuple[int | str, float]] = []
        stop = threading.Event()

        def load() -> None:
            while not stop.is_set():
                answers.append(get(address))

        readers = [threading.Thread(target=load) for _ in range(4)]
        for reader in readers:
            reader.start()
        time.sleep(0.5)
        first.send_signal(signal.SIGTERM)  # systemctl restart: stop ...
        first.wait(30)
        gap_started = time.monotonic()
        time.sleep(0.5)  # ... (migrations would run here) ...
        second = start_on(held, env, log)  # ... start
        wait_until_served(address, second, log)
        gap = time.monotonic() - gap_started
        time.sleep(0.5)
        stop.set()
        for reader in readers:
            reader.join(60)
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                proc.wait(30)
        held.close()

    failed = [answer for answer in answers if answer[0] != 200]
    assert not failed, (failed[:5], log.read_text()[-3000:])
    waited = [seconds for _, seconds in answers if seconds > gap / 2]
    assert waited, f"no request was waiting while gunicorn restarted ({gap:.1f} s)"
    assert len(answers) > 20
