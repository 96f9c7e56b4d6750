"""Slow clients against gunicorn facing them directly, and against nginx in front (make stack):
N connections each send a request's header lines one every few seconds, then 10 readers ask for
/healthz with a 5 s timeout; the figure is how many of the 10 were answered.

    .venv/bin/python -m bench.slow_clients            # 40 slow connections, a line every 2 s

Issue 15 saw 8 of 10 readers starved by 20 such connections with gunicorn bound wider than
loopback; here (4 gthread workers of 4 threads) 40 left 5 of 10 unanswered, 80 left 7, and
behind nginx none. gunicorn gives a
connection a worker thread until its request has arrived; nginx reads the whole request first
(client_header_timeout 60 s) and opens a connection to gunicorn only then, so this is why every
production path puts it (or a PaaS's router) in front. Everything runs on loopback, in a
throwaway instance.
"""

from __future__ import annotations

import argparse
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from inkwell.deploy.stack import Stack

from .common import BIN, ROOT, clean_env, free_port, inkwell, instance_env, stop, wait_ready


def _slow_client(port: int, use_tls: ssl.SSLContext | None, every: float, until: float,
                 opened: list) -> None:
    try:
        raw = socket.create_connection(("127.0.0.1", port), timeout=30)
        conn = use_tls.wrap_socket(raw, server_hostname="127.0.0.1") if use_tls else raw
        opened.append(conn)
        conn.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        n = 0
        while time.monotonic() < until:
            time.sleep(every)
            n += 1
            conn.sendall(f"X-Slow-{n}: x\r\n".encode())
    except OSError:
        pass  # the server closed it: then it holds nothing either


def _readers(url: str, context: ssl.SSLContext | None, count: int = 10) -> int:
    answered = []

    def read() -> None:
        try:
            with urllib.request.urlopen(url, timeout=5, context=context) as response:
                answered.append(response.status)
        except OSError:
            pass

    threads = [threading.Thread(target=read) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(answered)


def attack(port: int, url: str, context: ssl.SSLContext | None, slow: int, every: float) -> int:
    """Readers answered (of 10) while `slow` connections trickle their headers to `port`."""
    until = time.monotonic() + 3 + 10 + every
    opened: list = []
    clients = [threading.Thread(target=_slow_client, args=(port, context, every, until, opened),
                                daemon=True) for _ in range(slow)]
    for client in clients:
        client.start()
    try:
        time.sleep(3)  # every slow connection open and trickling
        return _readers(url, context)
    finally:
        for conn in opened:
            conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slow", type=int, default=40, help="slow connections (40)")
    parser.add_argument("--every", type=float, default=2.0, help="seconds between lines (2)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="inkwell-slow-clients-") as tmp:
        folder = Path(tmp)
        env = {**instance_env(folder), "SITE_URL": "http://127.0.0.1"}
        inkwell(["setup"], env, folder)
        port = free_port()
        log = folder / "gunicorn.log"
        with log.open("wb") as out:  # the production config (gunicorn.conf.py), as make run
            proc = subprocess.Popen(
                [str(BIN / "gunicorn"), "-c", str(ROOT / "gunicorn.conf.py"), "--bind",
                 f"127.0.0.1:{port}", "inkwell.wsgi:app"],
                cwd=folder, env=clean_env(env), stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_ready(f"http://127.0.0.1:{port}/healthz", proc, log)
            direct = attack(port, f"http://127.0.0.1:{port}/healthz", None, args.slow,
                            args.every)
        finally:
            stop(proc)
        stack_folder = folder / "stack"
        stack_folder.mkdir()
        stack_env = clean_env({**instance_env(stack_folder),
                               "MEDIA_ROOT": str(stack_folder / "media")})
        with Stack(app_dir=stack_folder, run_dir=stack_folder / "run", http_port=free_port(),
                   https_port=free_port(), log_to_files=True, base_env=stack_env) as stack:
            tls = ssl.create_default_context(cafile=str(stack.ca_file))
            behind = attack(stack.https_port, stack.https_url + "/healthz", tls, args.slow,
                            args.every)
    print(f"{args.slow} slow connections, a header line every {args.every:g} s:")
    print(f"  gunicorn facing them      {direct:>2} of 10 readers answered")
    print(f"  nginx in front (stack)    {behind:>2} of 10 readers answered")


if __name__ == "__main__":
    main()
