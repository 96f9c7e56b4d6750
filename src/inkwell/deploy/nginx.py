"""nginx: the site config (TLS, static/media from disk, microcache, headers, rate limit), its
`nginx -t` check, and doctor checks.

The site file goes in /etc/nginx/sites-enabled/ on a VPS; `make stack` wraps it in a small main
config of its own (`render_main`) so it runs without root and without touching /etc.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

from .. import security_headers
from .render import render_template
from .settings import DeploySettings

SITE_FILE = "inkwell.conf"
UWSGI_SITE_FILE = "inkwell-uwsgi.conf"
UNAVAILABLE_FILE = "unavailable.html"
MIME_TYPES = Path("/etc/nginx/mime.types")
UWSGI_PARAMS = Path("/etc/nginx/uwsgi_params")
TEMP_DIRS = ("body", "proxy", "fastcgi", "uwsgi", "scgi")
# Headers nginx sets on every response; the app's own copies are dropped so there is one of each.
SECURITY_HEADERS = (
    "Strict-Transport-Security",
    "Content-Security-Policy",
    *(name for name, _ in security_headers.COMMON_HEADERS),
)
MEDIA_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"
# How long nginx waits for the app's answer (nginx's own default). Well past gunicorn's TIMEOUT,
# which ends a stuck request itself, because it is also how long a request queued in
# inkwell.socket during a restart may wait: on a small, slow server (one shared vCPU: the new
# release's `inkwell setup` and gunicorn's start took 36 s on the emulated 1 GiB test server)
# it should be answered by the new release, not given a 504.
READ_TIMEOUT = 60


def render_site(settings: DeploySettings, unavailable_page: Path, uwsgi: bool = False) -> str:
    """The server blocks for the site; `uwsgi=True` talks to uWSGI with uwsgi_pass instead."""
    if uwsgi:
        settings = replace(settings, app_bind=f"unix:{settings.uwsgi_socket}", app_servers=())
    # The same values the app sends without nginx (inkwell.security_headers), in SECURITY_HEADERS
    # order; the template swaps in MEDIA_CSP for the policy under /media/.
    csp = security_headers.content_security_policy(settings.s3_public_origin, https=True)
    headers = [
        ("Strict-Transport-Security", security_headers.HSTS),
        ("Content-Security-Policy", csp),
        *security_headers.COMMON_HEADERS,
    ]
    return render_template(
        "nginx-site.conf",
        s=settings,
        uwsgi=uwsgi,
        uwsgi_params=UWSGI_PARAMS,
        headers=headers,
        media_csp=MEDIA_CSP,
        app_security_headers=SECURITY_HEADERS,
        unavailable_page=unavailable_page,
        read_timeout=READ_TIMEOUT,
    )


def render_unavailable_page(settings: DeploySettings) -> str:
    """The styled 502/503/504 page nginx shows when the app does not answer."""
    from html import escape

    return render_template("unavailable.html", title=escape(settings.site_title))


def render_main(
    run_dir: Path,
    site: Path,
    worker_processes: int | str = 1,
    access_log: str | None = None,
    error_log: str | None = None,
    user: str | None = None,
    foreground_in_file: bool = True,
) -> str:
    """A whole nginx.conf that keeps pid, logs and temp files in `run_dir` (make stack, compose).

    The file says `daemon off;` (nginx stays in the foreground under its supervisor);
    `foreground_in_file=False` leaves it out for compose, whose command line sets it with -g.
    """
    # Running as root, nginx would drop to "nobody", who cannot read a private checkout.
    if user is None and os.geteuid() == 0:
        user = _current_user()
    return render_template(
        "nginx-main.conf",
        run_dir=run_dir,
        site=site,
        user=user,
        worker_processes=worker_processes,
        foreground_in_file=foreground_in_file,
        mime_types=MIME_TYPES,
        access_log=access_log or f"{run_dir}/nginx-access.log",
        error_log=error_log or f"{run_dir}/nginx-error.log warn",
    )


def prepare_run_dir(run_dir: Path) -> None:
    for name in TEMP_DIRS:
        (run_dir / "tmp" / name).mkdir(parents=True, exist_ok=True)


def _current_user() -> str:
    import grp
    import pwd

    return f"{pwd.getpwuid(os.geteuid()).pw_name} {grp.getgrgid(os.getegid()).gr_name}"


def nginx_binary() -> str | None:
    debian = "/usr/sbin/nginx"  # not on a normal user's PATH
    return shutil.which("nginx") or (debian if os.path.exists(debian) else None)


def check(main_conf: Path, run_dir: Path, nginx: str | None = None) -> str | None:
    """`nginx -t` on a whole config; the error text, or None when nginx accepts it."""
    nginx = nginx or nginx_binary()
    if nginx is None:
        return "nginx is not installed: apt install nginx"
    result = subprocess.run(
        [nginx, "-t", "-q", "-p", str(run_dir), "-c", str(main_conf)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return None if result.returncode == 0 else (result.stdout + result.stderr).strip()


def doctor(settings: DeploySettings) -> list[str]:
    """What stops the site config from working on this machine."""
    problems = []
    if nginx_binary() is None:
        problems.append("nginx is not installed: apt install nginx")
    for label, path in (("TLS certificate", settings.tls_cert), ("TLS key", settings.tls_key)):
        if not Path(path).exists():
            problems.append(
                f"{label} {path} does not exist: run certbot (docs/vps.md) or set "
                f"{'TLS_CERT' if label.endswith('certificate') else 'TLS_KEY'} in .env"
            )
    if not settings.static_root.is_dir():
        problems.append(f"static folder {settings.static_root} is missing: reinstall inkwell")
    if settings.static_store and not settings.static_store.is_dir():
        problems.append(f"STATIC_STORE {settings.static_store} is not a folder: run "
                        "`inkwell deploy init` for its deploy root (or unset STATIC_STORE)")
    cache_parent = Path(settings.cache_dir).parent
    if not cache_parent.is_dir():  # nginx makes the cache folder itself, not its parents
        problems.append(
            f"{cache_parent} does not exist, so nginx cannot make its cache folder "
            f"{settings.cache_dir}: sudo mkdir -p {cache_parent} (or set NGINX_CACHE_DIR in .env)"
        )
    return problems


def check_site(site: Path) -> str | None:
    """`nginx -t` on a site file, wrapped in a throwaway main config (no root, no /etc)."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="inkwell-nginx-") as tmp:
        run_dir = Path(tmp)
        prepare_run_dir(run_dir)
        main = run_dir / "nginx.conf"
        main.write_text(render_main(run_dir, site.resolve()))
        return check(main, run_dir)
