"""Requests from this host to the guest's nginx through QEMU's forwarded ports, named
blog.test as a reader's browser would (SNI and Host), and wrk loads sized to a step."""

from __future__ import annotations

import http.client
import shutil
import signal
import socket
import ssl
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from bench.common import parse_wrk

HOST = "blog.test"


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    certificate: bytes | None  # the server's certificate (DER), over HTTPS


class _Connection(http.client.HTTPSConnection):
    """HTTPS to 127.0.0.1:port with the TLS name blog.test."""

    def connect(self) -> None:
        sock = socket.create_connection(("127.0.0.1", self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=HOST)


def get(port: int, path: str, *, tls: bool = True, ca: Path | None = None,
        headers: dict[str, str] | None = None, timeout: float = 60) -> Answer:
    """GET `path`; over HTTPS verified against `ca` (None: not verified, to read the cert)."""
    if tls:
        context = ssl.create_default_context(cafile=str(ca)) if ca else _unverified()
        conn: http.client.HTTPConnection = _Connection("127.0.0.1", port, timeout=timeout,
                                                       context=context)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Host": HOST, **(headers or {})})
        response = conn.getresponse()
        body = response.read()
        cert = conn.sock.getpeercert(binary_form=True) if tls else None
        return Answer(response.status, {k.lower(): v for k, v in response.getheaders()},
                      body, cert)
    finally:
        conn.close()


def _unverified() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def wait_for(port: int, path: str, ca: Path | None, timeout: float) -> float:
    """Seconds until `path` answers 200 over HTTPS (polled), or TimeoutError."""
    started = time.monotonic()
    last: object = None
    while time.monotonic() - started < timeout:
        try:
            if (answer := get(port, path, ca=ca, timeout=20)).status == 200:
                return time.monotonic() - started
            last = answer.status
        except (OSError, http.client.HTTPException) as e:
            last = e
        time.sleep(1)
    raise TimeoutError(f"{path} did not answer 200 in {timeout:.0f} s (last: {last})")


# Distinct URLs that miss nginx's cache: the search of a new word each time.
DISTINCT_SEARCHES = """
counter = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", "/search?q=vm" .. counter)
end
"""


class Load:
    """wrk against the guest for as long as a step lasts: started before it, stopped (SIGINT,
    wrk then prints its totals) after it, so its length always fits the step."""

    def __init__(self, port: int, path: str = "/", connections: int = 4,
                 headers: tuple[str, ...] = (), script: Path | None = None):
        wrk = shutil.which("wrk")
        if wrk is None:
            raise RuntimeError("wrk is not installed")
        argv = [wrk, "-t1", f"-c{connections}", "-d3600s", "--latency", "--timeout", "60s",
                "-H", f"Host: {HOST}"]
        for header in headers:
            argv += ["-H", header]
        if script is not None:
            argv += ["-s", str(script)]
        self.started = time.monotonic()
        self.process = subprocess.Popen([*argv, f"https://127.0.0.1:{port}{path}"],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True)

    def stop(self) -> dict:
        """wrk's totals: requests, non_2xx (3xx are fine), socket_errors, failed."""
        self.process.send_signal(signal.SIGINT)
        out, err = self.process.communicate(timeout=120)
        result = parse_wrk(out)
        result["failed"] = result["non_2xx"] + result["socket_errors"]
        result["seconds"] = round(time.monotonic() - self.started, 1)
        return result

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def load_summary(result: dict) -> str:
    return (f"{result['requests']} requests in {result['seconds']} s, "
            f"{result['failed']} failed")
