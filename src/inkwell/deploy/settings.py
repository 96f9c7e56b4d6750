"""One set of deploy settings, read from the environment (and `.env`), for every rendered file.

Every artifact (nginx site, gunicorn, systemd, uWSGI, compose, .env) is rendered from one
`DeploySettings`, so changing the domain or the upload limit in `.env` changes them all.
"""

from __future__ import annotations

import ipaddress
import os
import sys
import sysconfig
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from ..assets import plotly_dir, plotly_url_prefix
from ..config import (
    PRODUCTION_SESSION_COOKIE,
    ConfigError,
    instance_folder,
    int_setting,
    size_setting,
)
from ..security_headers import origin
from ..storage.s3 import public_base_url

PACKAGE_DIR = Path(__file__).resolve().parent.parent
TEMPLATES = Path(__file__).resolve().parent / "templates"


@dataclass(frozen=True)
class DeploySettings:
    """What the deploy files need to know; `from_env()` builds it, tests `replace()` fields."""

    domain: str
    site_url: str
    upload_limit: int
    cache_valid: int
    app_bind: str  # gunicorn's bind, nginx's upstream: 127.0.0.1:8000 or unix:/path.sock
    app_dir: Path
    venv_bin: Path
    instance_path: Path
    media_root: Path
    env: str = "production"
    site_title: str = "Inkwell"
    user: str = "inkwell"
    web_group: str = "www-data"
    http_listen: tuple[str, ...] = ("80", "[::]:80")
    https_listen: tuple[str, ...] = ("443", "[::]:443")
    tls_cert: str = ""
    tls_key: str = ""
    # Debian nginx's default site serves this folder, so certbot --webroot works before ours.
    acme_webroot: Path = Path("/var/www/html")
    cache_dir: Path = Path("/var/cache/nginx/inkwell")
    uwsgi_socket: Path = Path("/run/inkwell/uwsgi.sock")
    login_rate: str = "10r/m"
    trusted_proxies: int = 1
    s3_public_origin: str = ""
    static_root: Path = field(default=PACKAGE_DIR / "static")
    # Push-to-deploy's shared/static: every release's static files under their content hash
    # (the app's ?v=), so nginx gives a page the file it was rendered with (deploy/releases.py).
    static_store: Path | None = None
    plotly_root: Path = field(default_factory=plotly_dir)
    # When set (compose + MinIO), /media/ is proxied to this bucket URL instead of read from disk.
    media_upstream: str = ""
    # "s3" without media_upstream: /media/<key> goes to the app, which redirects to the bucket.
    media_backend: str = "local"
    # APP_SERVERS: the gunicorns nginx spreads requests over when one box is not enough;
    # empty: the one at app_bind, on this machine.
    app_servers: tuple[str, ...] = ()

    @property
    def upstream_servers(self) -> tuple[str, ...]:
        """Where nginx sends what it does not answer itself."""
        return self.app_servers or (self.app_bind,)

    @property
    def session_cookie(self) -> str:
        """The cookie that marks a logged-in author: the app's SESSION_COOKIE_NAME (config.py)."""
        return PRODUCTION_SESSION_COOKIE if self.env == "production" else "session"

    @property
    def https_port(self) -> int:
        return int(self.https_listen[0].rsplit(":", 1)[-1])

    @property
    def https_origin(self) -> str:
        port = "" if self.https_port == 443 else f":{self.https_port}"
        return f"https://{self.domain}{port}"

    @property
    def plotly_prefix(self) -> str:
        return plotly_url_prefix()


def _listen(raw: str, default: tuple[str, ...]) -> tuple[str, ...]:
    parts = tuple(p.strip() for p in raw.split(",") if p.strip())
    return parts or default


def app_bind_setting(raw: str, name: str = "APP_BIND") -> str:
    """APP_BIND (gunicorn's bind, nginx's upstream, inkwell.socket's ListenStream): unix:/path,
    or an IP address and port. 'localhost' becomes 127.0.0.1: nginx would also try ::1, where
    gunicorn does not listen, and systemd cannot listen on a name."""
    raw = raw.strip()
    if raw.startswith("unix:"):
        if not raw[len("unix:"):].startswith("/"):
            raise ConfigError(f"{name}=unix:PATH needs an absolute path, got {raw!r}")
        return raw
    host, sep, port = raw.rpartition(":")
    example = "127.0.0.1:8000 or unix:/run/inkwell/gunicorn.sock"
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"{name} must be an address and port such as {example}, got {raw!r}")
    host = "127.0.0.1" if host == "localhost" else host
    try:
        address = ipaddress.ip_address(host[1:-1] if host.startswith("[") else host)
    except ValueError:
        why = ("nginx would resolve it once, at start" if name == "APP_SERVERS"
               else "systemd listens on it before any name resolves")
        raise ConfigError(
            f"{name} must name an IP address, not a host name ({why}), e.g. {example}; "
            f"got {raw!r}"
        ) from None
    if address.version == 6 and not host.startswith("["):
        raise ConfigError(f"{name}: an IPv6 address goes in brackets, e.g. [::1]:{port}")
    return f"{host}:{port}"


def on_this_machine(address: str) -> bool:
    """A unix socket or a loopback address: a gunicorn that shares this machine's files."""
    if address.startswith("unix:"):
        return True
    host = address.rpartition(":")[0].strip("[]")
    return ipaddress.ip_address(host).is_loopback


def app_servers_setting(env: Mapping[str, str], media_backend: str) -> tuple[str, ...]:
    """APP_SERVERS: the gunicorns (IP:port or unix:/path, comma-separated) nginx spreads
    requests over. Any of them on another machine must share the database and the media with
    the rest, so a SQLite file or media on local disk is refused then, naming what to use."""
    raw = env.get("APP_SERVERS", "")
    servers: list[str] = []
    for part in raw.split(","):
        if part.strip() and (server := app_bind_setting(part, "APP_SERVERS")) not in servers:
            servers.append(server)
    elsewhere = [s for s in servers if not on_this_machine(s)]
    if not elsewhere:
        return tuple(servers)
    database = env.get("DATABASE_URL", "").strip()
    if not database or database.startswith("sqlite"):
        raise ConfigError(
            f"APP_SERVERS lists {', '.join(elsewhere)} on another machine, but the database is a "
            "SQLite file only this machine has: set DATABASE_URL=postgresql://... (the same on "
            "every app server)"
        )
    if media_backend == "local":
        raise ConfigError(
            f"APP_SERVERS lists {', '.join(elsewhere)} on another machine, but media are kept "
            "on this machine's disk (MEDIA_BACKEND=local), where an upload to another server "
            "would never arrive: set MEDIA_BACKEND=s3 (docs/media-storage.md)"
        )
    return tuple(servers)


def from_env(environ: Mapping[str, str] | None = None) -> DeploySettings:
    """Build the settings from `environ` (default os.environ: `inkwell` has already read .env)."""
    env = os.environ if environ is None else environ
    upload_limit = size_setting("MAX_UPLOAD_SIZE", 10 * 1024 * 1024, env)
    cache_valid = int_setting("CACHE_MAX_AGE", 60, env)
    trusted = int_setting("TRUSTED_PROXIES", 1, env)

    site_url = env.get("SITE_URL", "").rstrip("/")
    domain = env.get("DOMAIN", "") or (urlsplit(site_url).hostname or "")
    # As certbot names its folder (live/<domain>/): lower case, no trailing dot.
    domain = domain.strip().lower().rstrip(".")
    if ":" in domain and not domain.startswith("["):  # an IPv6 address: [2001:db8::1] in URLs
        domain = f"[{domain}]"
    if not domain:
        raise ConfigError(
            "DOMAIN is not set: put DOMAIN=blog.example.com (or SITE_URL=https://blog.example.com) "
            "in .env, then run the command again"
        )
    if any(c in domain for c in " ;{}/\\'\"$"):
        raise ConfigError(f"DOMAIN must be a host name such as blog.example.com, got {domain!r}")
    if upload_limit <= 0:
        raise ConfigError("MAX_UPLOAD_SIZE must be larger than 0, e.g. 10M")
    if cache_valid < 0:
        raise ConfigError("CACHE_MAX_AGE must be 0 or more seconds")

    # Not resolved: with push-to-deploy, INKWELL_APP_DIR is the `current` link, and every file
    # must follow the link to whichever release it names, not stay with today's.
    app_dir = Path(os.path.abspath(env.get("INKWELL_APP_DIR") or os.getcwd()))
    instance = instance_folder(app_dir, env)
    venv_bin = Path(env.get("INKWELL_VENV_BIN") or Path(sys.executable).parent)
    live = Path("/etc/letsencrypt/live") / domain
    s3_public = public_base_url(env)  # the app's own CSP allows the same origin
    return DeploySettings(
        domain=domain,
        site_url=site_url or f"https://{domain}",
        upload_limit=upload_limit,
        cache_valid=cache_valid,
        app_bind=app_bind_setting(env.get("APP_BIND") or "127.0.0.1:8000"),
        app_dir=app_dir,
        venv_bin=venv_bin,
        instance_path=instance,
        media_root=Path(env.get("MEDIA_ROOT") or instance / "media"),
        env=env.get("INKWELL_ENV", "production"),
        site_title=env.get("SITE_TITLE", "Inkwell"),
        user=env.get("INKWELL_USER", "inkwell"),
        tls_cert=env.get("TLS_CERT") or str(live / "fullchain.pem"),
        tls_key=env.get("TLS_KEY") or str(live / "privkey.pem"),
        trusted_proxies=trusted,
        cache_dir=Path(env.get("NGINX_CACHE_DIR") or "/var/cache/nginx/inkwell"),
        # Not UWSGI_SOCKET: uWSGI reads every UWSGI_* variable as one of its own options.
        uwsgi_socket=Path(env.get("INKWELL_UWSGI_SOCKET") or "/run/inkwell/uwsgi.sock"),
        # e.g. NGINX_HTTP_LISTEN=80 on a server without IPv6
        http_listen=_listen(env.get("NGINX_HTTP_LISTEN", ""), ("80", "[::]:80")),
        https_listen=_listen(env.get("NGINX_HTTPS_LISTEN", ""), ("443", "[::]:443")),
        s3_public_origin=origin(s3_public),
        media_backend=env.get("MEDIA_BACKEND") or "local",
        app_servers=app_servers_setting(env, env.get("MEDIA_BACKEND") or "local"),
        static_root=in_venv(venv_bin, PACKAGE_DIR / "static"),
        static_store=Path(env["STATIC_STORE"]) if env.get("STATIC_STORE") else None,
        plotly_root=in_venv(venv_bin, plotly_dir()),
    )


def in_venv(venv_bin: Path, path: Path) -> Path:
    """`path`, a file of an installed package, in the venv that `venv_bin` names.

    With push-to-deploy, INKWELL_VENV_BIN is /srv/inkwell/current/.venv/bin, so nginx reads
    the static files of whichever release `current` names, not of the venv that rendered the
    file (a release's own; the tools install before the first release; root's checkout when
    `deploy setup` renders). An editable install rendering for its own venv (a checkout,
    `make stack`) keeps its path."""
    prefix = Path(sys.prefix).resolve()
    named = venv_bin.parent
    if path.is_relative_to(prefix):  # installed here: the same place in the named venv
        return named / path.relative_to(prefix)
    if named.resolve() == prefix or not path.is_relative_to(PACKAGE_DIR.parent):
        return path
    # This checkout's files, for another venv: where that venv's own installed copy lives.
    site = sysconfig.get_path("purelib", vars={"base": str(named), "platbase": str(named)})
    return Path(site) / path.relative_to(PACKAGE_DIR.parent)
