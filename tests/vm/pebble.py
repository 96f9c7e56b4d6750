"""Pebble (Let's Encrypt's test ACME server, Debian's package) and pebble-challtestsrv (its DNS
stub) on this host: the stand-in for Let's Encrypt, which the guest cannot reach.

The guest reaches Pebble at 10.0.2.2 (QEMU's user network maps it to this host's loopback).
Every name resolves to 127.0.0.1, and Pebble's HTTP-01 port is this host's forward of the
guest's port 80, so Pebble's validation reaches the guest's nginx as Let's Encrypt would reach a
server. Pebble ships no listener certificate: one is made here with openssl, for a CA file the
guest trusts (REQUESTS_CA_BUNDLE). Pebble's own root (what issued the site's certificate) is new
at every start; `root()` fetches it from Pebble's management port.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

GUEST_HOST = "10.0.2.2"


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port free on 127.0.0.1 for TCP and UDP (challtestsrv's DNS answers on UDP)."""
    while True:
        with socket.socket(type=kind) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        other = socket.SOCK_DGRAM if kind == socket.SOCK_STREAM else socket.SOCK_STREAM
        with socket.socket(type=other) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port


@dataclass
class Pebble:
    folder: Path
    http01_port: int  # where Pebble validates HTTP-01: the host forward of the guest's port 80
    acme_port: int = 0
    management_port: int = 0
    dns_port: int = 0
    challtest_port: int = 0
    pids: tuple[int, ...] = ()

    @property
    def directory(self) -> str:
        """The ACME directory URL as the guest sees it."""
        return f"https://{GUEST_HOST}:{self.acme_port}/dir"

    @property
    def listener_ca(self) -> Path:
        return self.folder / "listener-ca.pem"

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._listener_certificate()
        self.acme_port, self.management_port = free_port(), free_port()
        self.dns_port, self.challtest_port = free_port(), free_port()
        config = self.folder / "pebble-config.json"
        config.write_text(json.dumps({"pebble": {
            "listenAddress": f"127.0.0.1:{self.acme_port}",
            "managementListenAddress": f"127.0.0.1:{self.management_port}",
            "certificate": str(self.folder / "listener.pem"),
            "privateKey": str(self.folder / "listener.key"),
            "httpPort": self.http01_port, "tlsPort": free_port(),
            "ocspResponderURL": "", "externalAccountBindingRequired": False,
        }}))
        dns = subprocess.Popen(
            ["pebble-challtestsrv", "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "",
             "-dns01", f"127.0.0.1:{self.dns_port}", "-http01", "", "-https01", "",
             "-tlsalpn01", "", "-management", f"127.0.0.1:{self.challtest_port}"],
            stdout=open(self.folder / "challtestsrv.log", "w"), stderr=subprocess.STDOUT,
            start_new_session=True)
        self.pids = (dns.pid,)
        # No random sleeps before validation, no rejected nonces: the test is about the
        # server's setup, not certbot's retries.
        env = {**os.environ, "PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0"}
        acme = subprocess.Popen(
            ["pebble", "-config", str(config), "-dnsserver", f"127.0.0.1:{self.dns_port}"],
            stdout=open(self.folder / "pebble.log", "w"), stderr=subprocess.STDOUT, env=env,
            start_new_session=True)
        self.pids = (dns.pid, acme.pid)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if dns.poll() is not None or acme.poll() is not None:
                break
            try:
                self.root()
                self._challtest("/clear-a", {"host": "blog.test"})
                return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"Pebble or challtestsrv did not answer in 60 s: see {self.folder}")

    def root(self) -> str:
        """Pebble's root certificate (PEM): what the site's certificate chains to."""
        tls = ssl.create_default_context(cafile=str(self.listener_ca))
        url = f"https://127.0.0.1:{self.management_port}/roots/0"
        with urllib.request.urlopen(url, context=tls, timeout=10) as answer:
            return answer.read().decode()

    def point_name(self, host: str, address: str | None) -> None:
        """Make `host` resolve to `address` for Pebble (None: back to 127.0.0.1, the guest)."""
        if address is None:
            self._challtest("/clear-a", {"host": host})
        else:
            self._challtest("/add-a", {"host": host, "addresses": [address]})

    def _challtest(self, path: str, body: dict) -> None:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.challtest_port}{path}", data=json.dumps(body).encode(),
            method="POST")
        with urllib.request.urlopen(request, timeout=10):
            pass

    def _listener_certificate(self) -> None:
        key, cert = self.folder / "listener-ca.key", self.listener_ca
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-days", "7", "-subj",
                        "/CN=vm-test Pebble listener CA", "-keyout", str(key), "-out", str(cert)],
                       check=True, capture_output=True)
        names = f"subjectAltName=IP:{GUEST_HOST},IP:127.0.0.1,DNS:localhost"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-days", "7", "-subj", "/CN=pebble",
                        "-CA", str(cert), "-CAkey", str(key), "-addext", names,
                        "-addext", "extendedKeyUsage=serverAuth",
                        "-keyout", str(self.folder / "listener.key"),
                        "-out", str(self.folder / "listener.pem")],
                       check=True, capture_output=True)

    def stop(self) -> None:
        stop_pids(self.pids)


def stop_pids(pids: tuple[int, ...] | list[int], wait: float = 20) -> None:
    """TERM each process (by its id), then KILL what is left after `wait` seconds."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + wait
    for pid in pids:
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.2)
        if _alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _alive(pid: int) -> bool:
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)  # our child: reap it
        if done:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").exists() and " Z " not in Path(
        f"/proc/{pid}/stat").read_text()
