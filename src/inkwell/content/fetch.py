"""Remote images copied into the media store (`inkwell import --fetch-images`), so an imported
post keeps its pictures under the site's own Content-Security-Policy.

An import must not become a way to read the server's own network (a post linking
http://169.254.169.254/ or http://localhost:5432/): only public addresses are fetched. The host
is resolved once and every address it has must be public; the connection goes to that checked
address (a second lookup could answer differently), and each redirect is checked the same way.
Size and time are limited, and only content Pillow recognises as an image (or an SVG, which the
figure pipeline sanitizes) is kept.
"""

from __future__ import annotations

import http.client
import io
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from .figures import FigureLink, embedded_figure
from .foreign import Guess

_REDIRECTS = {301, 302, 303, 307, 308}
_SUFFIXES = {"image/png": ".png", "image/jpeg": ".jpg", "image/gif": ".gif",
             "image/webp": ".webp", "image/svg+xml": ".svg"}
_CHUNK = 64 * 1024


class FetchRefused(Exception):
    """Why a remote image was not copied, in words for the import's warning."""


@dataclass(frozen=True)
class FetchLimits:
    max_bytes: int
    seconds: float = 10.0
    max_redirects: int = 5
    allow_loopback: bool = False  # tests only (a server on 127.0.0.1); never from settings


@dataclass(frozen=True)
class FetchedImage:
    data: bytes
    suffix: str  # .png, .jpg ...: how the figure pipeline treats it


def fetch_image(url: str, limits: FetchLimits) -> FetchedImage:
    """GET `url` (http or https, redirects followed) from a public address; FetchRefused
    when anything is not as it must be."""
    deadline = time.monotonic() + limits.seconds
    for _ in range(limits.max_redirects + 1):
        parts = urlsplit("https:" + url if url.startswith("//") else url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise FetchRefused(f"only http and https addresses are fetched, not {url}")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        address = public_address(parts.hostname, port, limits.allow_loopback)
        status, headers, data = _get(parts, address, port, deadline, limits.max_bytes)
        if status in _REDIRECTS and headers.get("location"):
            url = urljoin(parts.geturl(), headers["location"])
            continue
        if status != 200:
            raise FetchRefused(f"the server answered {status}")
        return FetchedImage(data, _image_suffix(headers.get("content-type", ""), data))
    raise FetchRefused(f"more than {limits.max_redirects} redirects")


def public_address(host: str, port: int, allow_loopback: bool = False) -> str:
    """The address to connect to for `host`: every address it resolves to must be public
    (not loopback, private, link-local, multicast, reserved or otherwise special)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as e:
        raise FetchRefused(f"{host} could not be resolved ({e})") from None
    addresses = [info[4][0] for info in infos]
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        if not (ip.is_global and not ip.is_multicast) and not (allow_loopback and ip.is_loopback):
            raise FetchRefused(f"{host} is at {ip}, which is not a public address")
    return addresses[0]


class _PinnedHTTP(http.client.HTTPConnection):
    """An HTTP connection to the address checked, whatever the name resolves to now."""

    def __init__(self, host: str, address: str, port: int, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """The same for HTTPS: the certificate is still checked against the host name."""

    def __init__(self, host: str, address: str, port: int, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self.address = address

    def connect(self) -> None:
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def _get(parts, address: str, port: int, deadline: float,
         max_bytes: int) -> tuple[int, dict[str, str], bytes]:
    left = deadline - time.monotonic()
    if left <= 0:
        raise FetchRefused("it took too long")
    pinned = _PinnedHTTPS if parts.scheme == "https" else _PinnedHTTP
    connection = pinned(parts.hostname, address, port, timeout=left)
    path = parts.path or "/"
    try:
        connection.request("GET", path + (f"?{parts.query}" if parts.query else ""),
                           headers={"User-Agent": "Inkwell import", "Accept": "image/*"})
        response = connection.getresponse()
        headers = {name.lower(): value for name, value in response.getheaders()}
        data = b"" if response.status != 200 else _read(response, deadline, max_bytes)
        return response.status, headers, data
    except (OSError, http.client.HTTPException) as e:
        raise FetchRefused(f"the download failed ({type(e).__name__}: {e})") from None
    finally:
        connection.close()


def _read(response: http.client.HTTPResponse, deadline: float, max_bytes: int) -> bytes:
    """The body, refused past `max_bytes` or the deadline (a slow drip counts too)."""
    chunks: list[bytes] = []
    size = 0
    while chunk := response.read1(_CHUNK):
        size += len(chunk)
        if size > max_bytes:
            raise FetchRefused(f"it is larger than {max_bytes / 1e6:.0f} MB")
        if time.monotonic() > deadline:
            raise FetchRefused("it took too long")
        chunks.append(chunk)
    return b"".join(chunks)


def _image_suffix(content_type: str, data: bytes) -> str:
    """The file suffix of an image, or FetchRefused when the content is not one."""
    declared = content_type.split(";")[0].strip().lower()
    if declared == "image/svg+xml" or data.lstrip()[:5] in (b"<svg ", b"<?xml"):
        return ".svg"  # the figure pipeline sanitizes it, or refuses it
    # Pillow here, not at the top: this module is imported at every worker's start (~12 ms).
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            kind = Image.MIME.get(image.format or "", "")
            image.verify()  # the structure only: pixels are decoded by the image worker
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise FetchRefused(f"it is not an image (sent as {declared or 'no type'})") from None
    if kind not in _SUFFIXES:
        raise FetchRefused(f"{kind or 'this image type'} is not one the site stores")
    return _SUFFIXES[kind]


def copy_remote_images(remote: list[tuple[str, int]], post_file: str, limits: FetchLimits
                       ) -> tuple[list[FigureLink], list[Guess]]:
    """Fetch a post's remote images (src, line) as figures; what could not be fetched stays a
    link, with a warning saying why."""
    figures: list[FigureLink] = []
    guesses: list[Guess] = []
    for src, line in remote:
        try:
            image = fetch_image(src, limits)
        except FetchRefused as e:
            guesses.append(Guess(line, f"the image {src} was not copied ({e}); it stays a "
                                 "link, which this site's Content-Security-Policy blocks"))
            continue
        figures.append(embedded_figure(image.data, image.suffix, f"{post_file}:{line}", src))
    return figures, guesses
