"""uWSGI: an ini for those who prefer it to gunicorn, on a unix socket shared with nginx
(`uwsgi_pass`, see nginx.render_site(uwsgi=True)), and the checks we can make on it.

uWSGI itself is not a dependency; when the `uwsgi` binary is present `check` also asks it to
load the file, otherwise the ini is parsed and its values compared with the settings.
"""

from __future__ import annotations

import configparser
import shutil
from pathlib import Path

from . import gunicorn
from .render import render_template
from .settings import DeploySettings

INI_FILE = "inkwell.ini"
REQUIRED = ("module", "master", "processes", "socket", "chmod-socket", "die-on-term", "need-app")


def render_ini(settings: DeploySettings, ini_path: Path) -> str:
    return render_template(
        INI_FILE,
        s=settings,
        ini=ini_path,
        workers=gunicorn.workers_from_env(),
        threads=gunicorn.THREADS,
        timeout=gunicorn.TIMEOUT,
        max_requests=gunicorn.MAX_REQUESTS,
        max_requests_jitter=gunicorn.MAX_REQUESTS_JITTER,
    )


def read_ini(path: Path) -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.read_string(path.read_text(), source=str(path))
    return dict(parser["uwsgi"])


def check(path: Path, settings: DeploySettings) -> str | None:
    """Problems with the ini: unparsable, missing options, or out of step with the settings."""
    try:
        values = read_ini(path)
    except (configparser.Error, KeyError) as e:
        return f"{path} is not a valid uWSGI ini: {e}"
    problems = [f"missing option {name}" for name in REQUIRED if name not in values]
    if values.get("socket") != str(settings.uwsgi_socket):
        problems.append(f"socket {values.get('socket')} is not {settings.uwsgi_socket} (nginx)")
    if values.get("limit-post") != str(settings.upload_limit):
        problems.append("limit-post differs from MAX_UPLOAD_SIZE")
    if values.get("module") != "inkwell.wsgi:app":
        problems.append("module is not inkwell.wsgi:app")
    if not values.get("processes", "").isdigit():
        problems.append("processes is not a number")
    return "; ".join(problems) or None


def doctor(settings: DeploySettings) -> list[str]:
    if shutil.which("uwsgi") is None and not (settings.venv_bin / "uwsgi").exists():
        return ["uwsgi is not installed (only needed for the uWSGI variant): pip install uwsgi"]
    return []
