"""Talking to the stack the way a reader's browser would, from the host: HTTPS to nginx's
loopback port with the site's name in SNI and Host (no /etc/hosts entry needed), the
certificate nginx presents, and a stream of GETs to count failures under a restart."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from dataclasses import dataclass, field

import requests
import urllib3
from requests.adapters import HTTPAdapter

# Unverified on purpose (see Reader); the warning would repeat for every GET of the load.
urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)


class _SiteNameAdapter(HTTPAdapter):
    """Connects to 127.0.0.1:port but says `domain` in TLS's SNI (as a browser would)."""

    def __init__(self, domain: str) -> None:
        self.domain = domain
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["server_hostname"] = self.domain
        super().init_poolmanager(*args, **kwargs)


class Reader(requests.Session):
    """A browser for https://<domain>/ that reaches nginx at 127.0.0.1:<port>.

    The certificate is not verified here (the first one is self-signed by design); which one
    nginx presents is checked on its own with `certificate()`."""

    def __init__(self, domain: str, https_port: int) -> None:
        super().__init__()
        self.domain = domain
        self.base = f"https://127.0.0.1:{https_port}"
        self.mount("https://", _SiteNameAdapter(domain))
        self.verify = False
        self.trust_env = False  # else REQUESTS_CA_BUNDLE from the environment wins over verify
        self.headers["Host"] = domain
        # What a browser sends with a form it got from the site (CSRF checks the referrer).
        self.headers["Referer"] = f"https://{domain}/admin/"

    def request(self, method, url, *args, **kwargs):
        # A redirect is part of what is checked: followed only when asked to.
        kwargs["allow_redirects"] = kwargs.pop("follow", False)
        kwargs.setdefault("timeout", 30)
        if url.startswith("/"):
            url = self.base + url
        return super().request(method, url, *args, **kwargs)


def certificate(domain: str, https_port: int):
    """The leaf certificate nginx presents for `domain` (a cryptography x509 object)."""
    from cryptography import x509

    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", https_port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname=domain) as tls:
            der = tls.getpeercert(binary_form=True)
    return x509.load_der_x509_certificate(der)


def issuer(cert) -> str:
    return cert.issuer.rfc4514_string()


@dataclass
class Load:
    """GETs of `paths` from `threads` readers until stopped; counts what did not answer 200."""

    domain: str
    https_port: int
    paths: list[str]
    threads: int = 4
    # A new connection per request: nginx's reload closes idle keep-alive connections, and a
    # GET sent on one at that instant is an error to this client, where a browser sends it again
    # on a new connection (tests/vm's renewal check does the same).
    close: bool = False
    sent: int = 0
    failed: int = 0
    failures: list[str] = field(default_factory=list)

    def __enter__(self) -> Load:
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._workers = [threading.Thread(target=self._read, args=(i,), daemon=True)
                         for i in range(self.threads)]
        for worker in self._workers:
            worker.start()
        return self

    def _read(self, offset: int) -> None:
        reader = Reader(self.domain, self.https_port)
        i = offset
        while not self._stop.is_set():
            path = self.paths[i % len(self.paths)]
            i += 1
            try:
                headers = {"Connection": "close"} if self.close else None
                status = reader.get(path, timeout=15, headers=headers).status_code
                error = None if status == 200 else f"{path}: {status}"
            except requests.RequestException as e:
                error = f"{path}: {type(e).__name__}"
            with self._lock:
                self.sent += 1
                if error:
                    self.failed += 1
                    self.failures.append(error)
            time.sleep(0.02)

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join(timeout=30)

    def summary(self) -> str:
        return f"{self.sent} GETs, {self.failed} failed" + (
            f" (first: {self.failures[:3]})" if self.failures else "")
