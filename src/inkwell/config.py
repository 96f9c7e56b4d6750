"""Settings, read from the environment (and `.env`), validated when the app starts.

One class per environment; `load_settings()` picks it from INKWELL_ENV and returns a plain dict
that `create_app()` hands to Flask. Everything a deploy artifact needs comes from here too.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

import click
from flask.cli import NoAppException

ENVIRONMENTS = ("development", "testing", "production")

# Values a person might copy from a tutorial; never acceptable in production.
_KNOWN_WEAK_KEYS = {
    "dev", "changeme", "change-me", "secret", "secret-key", "your-secret-key", "test",
}
MIN_SECRET_KEY_LENGTH = 32


class ConfigError(NoAppException, RuntimeError):
    """A setting is missing or unsafe; the message names the variable and the fix.

    A NoAppException too, so that `flask --app inkwell ...` shows it as one line (Flask prints
    any other error raised while loading the app with its traceback)."""

    def show(self, file=None) -> None:
        """One line: not click's usage text for a usage error (nothing was mistyped), so that
        a PaaS release log, for one, shows only what to fix."""
        click.echo(f"Error: {self.format_message()}", file=file, err=True)


def _bool(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


# The admin's session cookie in production: __Host- makes browsers insist on Secure, path=/ and no
# Domain. Elsewhere Flask's default name ("session"). nginx's cache bypass keys on it too.
PRODUCTION_SESSION_COOKIE = "__Host-session"


def instance_folder(base: str | os.PathLike, environ: Mapping[str, str] = os.environ) -> Path:
    """Where the database, media and generated files live: INKWELL_INSTANCE_PATH, else
    `instance/` under `base` (the current folder for the app, the checkout for deploy files),
    or on a PaaS (INKWELL_PAAS, set by the Procfile) a folder in /tmp, the one writable place
    every host promises."""
    if environ.get("INKWELL_INSTANCE_PATH"):
        return Path(environ["INKWELL_INSTANCE_PATH"])
    if _bool(environ.get("INKWELL_PAAS")):
        return Path(tempfile.gettempdir()) / "inkwell"
    return Path(base) / "instance"


def _time_zone(name: str) -> str:
    """A time zone name zoneinfo knows, or a ConfigError that says what to write."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"TIME_ZONE must be a time zone name such as Europe/Berlin or "
                          f"America/New_York, got {name!r}") from None
    return name


def int_setting(
    name: str, default: int, environ: Mapping[str, str] = os.environ, minimum: int | None = None
) -> int:
    raw = environ.get(name, "").strip()
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name} must be {minimum} or more, got {value}")
    return value


def size_setting(name: str, default: int, environ: Mapping[str, str] = os.environ) -> int:
    """A byte count larger than 0, such as 10485760, 10M or 512K."""
    raw = environ.get(name, "").strip()
    if raw == "":
        return default
    units = {"K": 1024, "M": 1024**2, "G": 1024**3}
    try:
        if raw[-1].upper() in units:
            value = int(float(raw[:-1]) * units[raw[-1].upper()])
        else:
            value = int(raw)
    except (ValueError, OverflowError):  # "10MB", "infM", "1e400M"
        raise ConfigError(f"{name} must be a size such as 10M or 10485760, got {raw!r}") from None
    if value <= 0:
        raise ConfigError(f"{name} must be larger than 0, such as 10M, got {raw!r}")
    return value


def _site_url(env: str, given: str | None = None) -> str:
    """The public address; unset, it is where `make run` / `PORT=9000 make run` serves the blog
    (production must set it: check_settings)."""
    raw = (given if given is not None else os.environ.get("SITE_URL", "")).strip().rstrip("/")
    if raw or env == "production":
        return raw
    return f"http://127.0.0.1:{os.environ.get('PORT', '').strip() or '8000'}"


# Loopback names: health checks, the Docker HEALTHCHECK and `make run` ask for these; a redirect
# to them sends nobody anywhere else.
LOOPBACK_HOSTS = ("localhost", "127.0.0.1")


def trusted_hosts(site_url: str, extra: str = "") -> list[str]:
    """The Host names the app answers (Flask's TRUSTED_HOSTS, a 400 for any other): SITE_URL's,
    loopback's, and TRUSTED_HOSTS (comma-separated, e.g. a PaaS's own app name)."""
    names = [urlsplit(site_url).hostname or "", *LOOPBACK_HOSTS]
    names += [name.strip().lower() for name in extra.split(",")]
    return list(dict.fromkeys(name for name in names if name))


def _nav_pages(raw: str) -> list[tuple[str, str]]:
    pages = []
    for item in filter(None, (part.strip() for part in raw.split(","))):
        slug, _, label = item.partition(":")
        pages.append((slug.strip(), label.strip() or slug.strip().title()))
    return pages


def _sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def normalise_database_url(url: str) -> str:
    """Accept the URLs PaaS hosts hand out (postgres://) and pick psycopg 3 as the driver."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def engine_options(url: str) -> dict:
    """A server connection can die between requests (restart, failover, idle timeout), so the pool
    tests it before use; a SQLite file cannot, and the test would cost a query per request."""
    return {} if url.startswith("sqlite") else {"pool_pre_ping": True}


def load_settings(instance_path: str, overrides: dict | None = None) -> dict:
    """Read settings for INKWELL_ENV from the environment; raise ConfigError when unsafe."""
    overrides = overrides or {}
    env = overrides.get("INKWELL_ENV") or os.environ.get("INKWELL_ENV", "production")
    if env not in ENVIRONMENTS:
        raise ConfigError(
            f"INKWELL_ENV must be one of {', '.join(ENVIRONMENTS)}, got {env!r}"
        )
    instance = Path(instance_path)
    secret_key = os.environ.get("SECRET_KEY", "")
    if env == "testing" and not secret_key:
        secret_key = secrets.token_urlsafe(32)

    settings = {
        "INKWELL_ENV": env,
        "DEBUG": _bool(os.environ.get("FLASK_DEBUG")) or _bool(os.environ.get("DEBUG")),
        "TESTING": env == "testing",
        "SECRET_KEY": secret_key,
        "SQLALCHEMY_DATABASE_URI": normalise_database_url(
            os.environ.get("DATABASE_URL") or _sqlite_url(instance / "inkwell.sqlite3")
        ),
        "SITE_TITLE": os.environ.get("SITE_TITLE", "Inkwell"),
        "SITE_DESCRIPTION": os.environ.get("SITE_DESCRIPTION", "A blog written in Markdown."),
        "SITE_AUTHOR": os.environ.get("SITE_AUTHOR", ""),
        "SITE_URL": _site_url(env, overrides.get("SITE_URL")),
        "SITE_LANGUAGE": os.environ.get("SITE_LANGUAGE", "en"),
        # The blog's time zone (IANA name): dates shown and entered in it; stored as UTC.
        "TIME_ZONE": _time_zone(os.environ.get("TIME_ZONE", "") or "UTC"),
        # Standalone pages linked from the header: "about" or "about:About me,now:Now".
        "NAV_PAGES": _nav_pages(os.environ.get("NAV_PAGES", "about:About")),
        "POSTS_PER_PAGE": int_setting("POSTS_PER_PAGE", 10, minimum=1),
        # Shared caches (nginx) may keep anonymous pages this long; browsers revalidate with ETag.
        "CACHE_MAX_AGE": int_setting("CACHE_MAX_AGE", 60, minimum=0),
        "MEDIA_BACKEND": os.environ.get("MEDIA_BACKEND", "local"),
        "MEDIA_ROOT": os.environ.get("MEDIA_ROOT") or str(instance / "media"),
        "MEDIA_URL": os.environ.get("MEDIA_URL", "/media/"),
        "MAX_CONTENT_LENGTH": size_setting("MAX_UPLOAD_SIZE", 10 * 1024 * 1024),
        "MEDIA_MAX_PIXELS": int_setting("MEDIA_MAX_PIXELS", 50_000_000, minimum=1),
        # One upload's budget, enforced on the child process that decodes it (image_worker).
        "MEDIA_MAX_FRAMES": int_setting("MEDIA_MAX_FRAMES", 1000, minimum=1),
        "MEDIA_PROCESS_MEMORY": size_setting("MEDIA_PROCESS_MEMORY", 1024**3),
        "MEDIA_PROCESS_SECONDS": int_setting("MEDIA_PROCESS_SECONDS", 30, minimum=1),
        # What `inkwell restore` reads at most: one file of the backup, and all of them.
        "BACKUP_MAX_FILE_SIZE": size_setting("BACKUP_MAX_FILE_SIZE", 256 * 1024**2),
        "BACKUP_MAX_SIZE": size_setting("BACKUP_MAX_SIZE", 16 * 1024**3),
        "IMPORT_MAX_FILE_SIZE": size_setting("IMPORT_MAX_FILE_SIZE", 5 * 1024 * 1024),
        # A notebook carries its figures and charts inside: larger than a Markdown file.
        "IMPORT_MAX_NOTEBOOK_SIZE": size_setting("IMPORT_MAX_NOTEBOOK_SIZE", 30 * 1024 * 1024),
        "S3_BUCKET": os.environ.get("S3_BUCKET", ""),
        "S3_ENDPOINT_URL": os.environ.get("S3_ENDPOINT_URL", ""),
        "S3_REGION": os.environ.get("S3_REGION", "us-east-1"),
        "S3_ACCESS_KEY_ID": os.environ.get("S3_ACCESS_KEY_ID", ""),
        "S3_SECRET_ACCESS_KEY": os.environ.get("S3_SECRET_ACCESS_KEY", ""),
        "S3_PUBLIC_URL": os.environ.get("S3_PUBLIC_URL", ""),
        "REDIS_URL": os.environ.get("REDIS_URL", ""),
        # How many reverse proxies in front of the app set X-Forwarded-* (0: exposed directly).
        "TRUSTED_PROXIES": int_setting("TRUSTED_PROXIES", 0, minimum=0),
        # Run by a PaaS (the Procfile sets INKWELL_PAAS=1): its router serves HTTPS, its disks
        # are thrown away.
        "PAAS": _bool(os.environ.get("INKWELL_PAAS")),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": env == "production",
        # Admin sessions end after this long without a request, and this long after login.
        "SESSION_IDLE_TIMEOUT": int_setting("SESSION_IDLE_TIMEOUT", 3600, minimum=1),
        "SESSION_MAX_AGE": int_setting("SESSION_MAX_AGE", 12 * 3600, minimum=1),
        # Failed sign-ins allowed per client IP and per account ("N per M minutes").
        "LOGIN_RATE_LIMIT_IP": os.environ.get("LOGIN_RATE_LIMIT_IP", "20 per 15 minutes"),
        "LOGIN_RATE_LIMIT_ACCOUNT": os.environ.get("LOGIN_RATE_LIMIT_ACCOUNT", "5 per 15 minutes"),
        # Failed sign-ins per account from browsers it never signed in on, all addresses
        # together: slower, and never applied to a browser with the account's device cookie.
        "LOGIN_RATE_LIMIT_ACCOUNT_GLOBAL": os.environ.get(
            "LOGIN_RATE_LIMIT_ACCOUNT_GLOBAL", "50 per hour"),
        # Keeps counters apart when several sites share one Redis.
        "RATELIMIT_KEY_PREFIX": os.environ.get("RATELIMIT_KEY_PREFIX", "inkwell"),
        # The token lives as long as the session: a long writing session must not lose its save.
        "WTF_CSRF_TIME_LIMIT": None,
        # Checked by extensions.check_csrf_on_writes instead, which skips GET/HEAD up front.
        "WTF_CSRF_CHECK_DEFAULT": False,
    }
    # Not the app's, but gunicorn reads it while it imports and stops with a traceback on
    # anything but a number; `inkwell db upgrade` runs before gunicorn everywhere, so say it here.
    int_setting("WEB_CONCURRENCY", 1, minimum=1)
    settings["TRUSTED_HOSTS"] = trusted_hosts(settings["SITE_URL"],
                                              os.environ.get("TRUSTED_HOSTS", ""))
    settings["PERMANENT_SESSION_LIFETIME"] = settings["SESSION_MAX_AGE"]
    if env == "production":
        settings["SESSION_COOKIE_NAME"] = PRODUCTION_SESSION_COOKIE
    settings.update(overrides)
    settings.setdefault(
        "SQLALCHEMY_ENGINE_OPTIONS", engine_options(settings["SQLALCHEMY_DATABASE_URI"])
    )
    if settings["TESTING"] and not settings["SECRET_KEY"]:
        settings["SECRET_KEY"] = secrets.token_urlsafe(32)
    check_settings(settings)
    return settings


def check_settings(settings: dict) -> None:
    """Refuse to start on settings that are unsafe for the chosen environment."""
    env = settings["INKWELL_ENV"]
    key = settings.get("SECRET_KEY") or ""
    if settings["MEDIA_BACKEND"] not in {"local", "s3"}:
        raise ConfigError(f"MEDIA_BACKEND must be local or s3, got {settings['MEDIA_BACKEND']!r}")
    if settings["MEDIA_BACKEND"] == "s3" and not settings["S3_BUCKET"]:
        raise ConfigError(
            "MEDIA_BACKEND is s3 but S3_BUCKET is not set: put S3_BUCKET=<bucket> in .env"
        )
    site_url = settings.get("SITE_URL") or ""
    parts = urlsplit(site_url)
    if site_url and (parts.scheme not in ("http", "https") or not parts.netloc):
        raise ConfigError(
            f"SITE_URL must be an address such as https://blog.example.com, got {site_url!r}"
        )
    if env == "development" and not key:
        raise ConfigError(
            'SECRET_KEY is not set: run "inkwell secret" and put the value in .env '
            "(make run does this for you)"
        )
    if env != "production":
        return
    if not key:
        raise ConfigError(
            'SECRET_KEY is not set: run "inkwell secret" and put SECRET_KEY=<value> in .env '
            "or the service environment"
        )
    if len(key) < MIN_SECRET_KEY_LENGTH or key.lower() in _KNOWN_WEAK_KEYS or len(set(key)) < 10:
        raise ConfigError(
            f"SECRET_KEY is too weak (needs {MIN_SECRET_KEY_LENGTH}+ random characters): "
            'run "inkwell secret" and replace it in .env or the service environment'
        )
    if settings.get("DEBUG"):
        raise ConfigError(
            "DEBUG is on in production: unset FLASK_DEBUG/DEBUG, or set INKWELL_ENV=development "
            "on a machine nobody else can reach"
        )
    if not site_url:
        # Canonical links, the feed and the sitemap would all point at loopback.
        raise ConfigError(
            "SITE_URL is not set: put the blog's public address in .env or the service "
            "environment, e.g. SITE_URL=https://blog.example.com"
        )
    if settings.get("PAAS"):
        check_paas_settings(settings)


def check_paas_settings(settings: dict) -> None:
    """What a PaaS needs beyond production: its release step fails on these, so the host keeps
    the previous release running."""
    if urlsplit(settings["SITE_URL"]).scheme != "https":
        raise ConfigError(
            "SITE_URL must be an https:// address on a PaaS (the host's router serves HTTPS "
            f"and the sign-in cookie is Secure), got {settings['SITE_URL']!r}"
        )
    if settings["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        raise ConfigError(
            "DATABASE_URL must be a database server on a PaaS, such as the postgres:// URL of "
            "the host's PostgreSQL (a SQLite file is lost with the disk on every deploy)"
        )
    # Local media in the dyno's temporary folder (where the instance folder is on a PaaS): the
    # release step's figures never reach the web processes, and uploads are lost at the next
    # restart. A MEDIA_ROOT elsewhere (a volume the host keeps, as Dokku or Fly mount one) is
    # the author's call.
    temporary = Path(tempfile.gettempdir()).resolve()
    if (settings["MEDIA_BACKEND"] == "local"
            and Path(settings["MEDIA_ROOT"]).resolve().is_relative_to(temporary)):
        raise ConfigError(
            "MEDIA_BACKEND must be s3 on a PaaS, with S3_BUCKET and its keys (figures and "
            "uploads on the host's disk are lost at every deploy and restart), or MEDIA_ROOT "
            "a volume the host keeps"
        )


def new_secret_key() -> str:
    return secrets.token_urlsafe(48)
