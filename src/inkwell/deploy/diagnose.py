"""`inkwell doctor`: why the site answers 502 (or 503), looked at from where nginx stands.

nginx says 502 when it gets no answer from gunicorn, and the app says 503 when gunicorn runs but
the database (or media storage) does not. The reason is in one of four places; each is checked:

1. nginx's site file: where its upstream points (the truth, whatever .env says), and whether that
   is still APP_BIND (an .env changed without rendering again);
2. that address: does anything listen, do /healthz and /readyz answer, how fast;
3. a unix socket's owner and mode: can nginx's group connect;
4. nginx's error log: the last upstream errors, each kind explained with its usual fix;

and with push-to-deploy (deploy/releases.py), which release `current` names, whether gunicorn
runs that one, and how the last deploy ended.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import socket
import stat
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from .settings import DeploySettings

PROBE_TIMEOUT = 5.0
LOG_LINES = 2000
LOG_MINUTES = 15


@dataclass(frozen=True)
class Finding:
    ok: bool
    what: str
    fix: str = ""


# --- 1. where nginx connects -------------------------------------------------------------------


def upstreams_of(site: Path) -> list[str]:
    """The servers of the `inkwell_app` upstream in an nginx site file, each once, in order
    (comments aside)."""
    text = re.sub(r"#[^\n]*", "", site.read_text(encoding="utf-8", errors="replace"))
    block = re.search(r"upstream\s+inkwell_app\s*\{([^}]*)\}", text)
    servers = re.findall(r"\bserver\s+([^\s;]+)", block.group(1)) if block else []
    return list(dict.fromkeys(servers))


def check_upstream(site: Path | None, expected: tuple[str, ...],
                   setting: str = "APP_BIND") -> tuple[list[str], list[Finding]]:
    """(the addresses to probe, findings): the site's upstream servers when there is a site
    file; `expected` is what `setting` (APP_SERVERS or APP_BIND) says."""
    named = ", ".join(expected)
    if site is None:
        return list(expected), [
            Finding(True, f"no nginx site file found; probing {setting} {named}")]
    upstreams = upstreams_of(site)
    if not upstreams:
        return list(expected), [Finding(False, f"{site} has no `upstream inkwell_app` block",
                                        "render it again: inkwell deploy render --out deploy")]
    if set(upstreams) != set(expected):
        return upstreams, [Finding(
            False,
            f"nginx connects to {', '.join(upstreams)} ({site}) but {setting} is {named}: "
            f"{'uWSGI' if 'UWSGI' in setting else 'gunicorn'} listens where nginx does not "
            "look",
            f"render the site again (inkwell deploy render --out deploy) and reload nginx, "
            f"or set {setting} back",
        )]
    return upstreams, [Finding(True, f"nginx's upstream ({site}) is {setting}: "
                                     f"{', '.join(upstreams)}")]


# --- 2. the app at that address ----------------------------------------------------------------


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float):
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self._path)


def connection(address: str, timeout: float) -> http.client.HTTPConnection:
    """An HTTP connection to a gunicorn bind address: host:port, [v6]:port or unix:/path."""
    if address.startswith("unix:"):
        return _UnixConnection(address[len("unix:"):], timeout)
    host, _, port = address.rpartition(":")
    if not port.isdigit() or not host:
        raise ValueError(f"{address!r} is not host:port or unix:/path")
    return http.client.HTTPConnection(host.strip("[]"), int(port), timeout=timeout)


def _ascii_host(host: str) -> str:
    """An internationalised domain as it goes in a Host header (punycode)."""
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return "localhost"


def get(address: str, path: str, host: str, timeout: float) -> tuple[int, bytes, float]:
    """(status, body, seconds) of GET `path` sent as nginx sends it."""
    conn = connection(address, timeout)
    started = time.monotonic()
    try:
        conn.request("GET", path, headers={"Host": _ascii_host(host),
                                           "X-Forwarded-Proto": "https"})
        response = conn.getresponse()
        return response.status, response.read(), time.monotonic() - started
    finally:
        conn.close()


def probe_app(address: str, host: str, timeout: float = PROBE_TIMEOUT,
              others: bool = False) -> list[Finding]:
    """/healthz at `address`; `others`: nginx has other app servers to send requests to."""
    try:
        status, _, seconds = get(address, "/healthz", host, timeout)
    except (ConnectionRefusedError, FileNotFoundError):
        meanwhile = ("nginx sends its requests to the other app servers meanwhile" if others
                     else "so nginx answers 502 to every page it has no copy of")
        return [Finding(
            False,
            f"nothing listens at {address}: gunicorn is not running (or listens elsewhere), "
            f"{meanwhile}",
            "sudo systemctl status inkwell; sudo journalctl -u inkwell -n 50 (a settings "
            "error is one line there); make stack prints gunicorn's output in its terminal",
        )]
    except PermissionError:
        return [Finding(False, f"this user may not connect to {address}",
                        "run `inkwell doctor` as the service's user or with sudo")]
    except TimeoutError:
        return [Finding(
            False,
            f"{address} accepted the connection but /healthz did not answer in {timeout:.0f} s: "
            "every gunicorn worker is busy or stuck, or (with inkwell.socket, which accepts for "
            "gunicorn) gunicorn is not running or still starting; nginx gives up after its "
            "read timeout and answers 504",
            "sudo systemctl status inkwell (running? starting?); then look for slow requests "
            "in gunicorn's access log (the last field is the time taken) and 'WORKER "
            "TIMEOUT' in its log; add workers (WEB_CONCURRENCY) if memory allows",
        )]
    except (OSError, http.client.HTTPException) as e:
        return [Finding(
            False,
            f"{address} broke the connection ({type(e).__name__}: {e}): something other than "
            "gunicorn listens there, or it is crashing while answering",
            "sudo ss -ltnpx | grep -F the address; sudo journalctl -u inkwell -n 50",
        )]
    if status != 200:
        return [Finding(False, f"/healthz at {address} answered {status}, not 200",
                        "is Inkwell the app listening there? check APP_BIND")]
    findings = [Finding(True, f"gunicorn answers at {address} (/healthz in "
                              f"{seconds * 1000:.0f} ms)")]
    try:
        status, body, seconds = get(address, "/readyz", host, timeout)
    except (OSError, http.client.HTTPException) as e:
        return [*findings, Finding(False, f"/readyz failed: {type(e).__name__}: {e}",
                                   "sudo journalctl -u inkwell -n 50")]
    if status == 200:
        return [*findings, Finding(True, "/readyz: the database answers, its schema is "
                                         "current, media storage is writable")]
    try:
        checks = json.loads(body).get("checks", {})
    except (ValueError, AttributeError):
        checks = {}
    if not isinstance(checks, dict):
        checks = {}
    failing = {str(name): why for name, why in checks.items() if why != "ok"}
    for name, why in failing.items() or {"app": f"status {status}"}.items():
        findings.append(Finding(
            False,
            f"/readyz: {name}: {why}. Pages that need it answer 503 (\"back in a moment\"); "
            "nginx keeps serving the copies it has",
            _READY_FIXES.get(name, "sudo journalctl -u inkwell -n 50"),
        ))
    return findings


_READY_FIXES = {
    "database": "is the database server running and DATABASE_URL right? "
                "(sudo systemctl status postgresql); a schema behind the code needs "
                "`inkwell db upgrade`",
    "media": "the media folder must exist and be writable by the service's user "
             "(MEDIA_ROOT), or the S3 bucket reachable with the configured keys",
}


# --- 3. a unix socket's permissions ------------------------------------------------------------


def check_socket(address: str, web_group: str) -> list[Finding]:
    if not address.startswith("unix:"):
        return []
    path = Path(address[len("unix:"):])
    try:
        info = path.stat()
    except FileNotFoundError:
        return [Finding(False, f"{path} does not exist: nginx fails with 'No such file'",
                        "start the socket: sudo systemctl enable --now inkwell.socket")]
    except PermissionError:
        return [Finding(False, f"this user may not look into {path.parent}",
                        "run `sudo inkwell doctor` (nginx's group www-data may; you may not)")]
    except OSError as e:
        return [Finding(False, f"{path}: {e.strerror or e}", "APP_BIND must name a socket path")]
    if not stat.S_ISSOCK(info.st_mode):
        return [Finding(False, f"{path} is not a socket", "remove it; restart inkwell.socket")]
    try:
        import grp

        group = grp.getgrgid(info.st_gid).gr_name
    except KeyError:
        group = str(info.st_gid)
    if group != web_group or not info.st_mode & stat.S_IRGRP or not info.st_mode & stat.S_IWGRP:
        return [Finding(
            False,
            f"{path} is group {group}, mode {stat.S_IMODE(info.st_mode):o}: nginx "
            f"({web_group}) gets 'Permission denied'",
            f"inkwell.socket sets SocketGroup={web_group} and SocketMode=0660: install the "
            "rendered one and restart it",
        )]
    return [Finding(True, f"{path}: group {group}, mode {stat.S_IMODE(info.st_mode):o}")]


# --- 4. nginx's error log ----------------------------------------------------------------------


# (pattern, what it means, the usual fix), in the order nginx's messages are most telling.
_LOG_KINDS = [
    (r"connect\(\) (?:to \S+ )?failed \(111: Connection refused\)",
     "nothing listened at the upstream address (gunicorn stopped, restarting without "
     "inkwell.socket, or listening elsewhere)",
     "see the probe above; journalctl -u inkwell says why gunicorn stopped"),
    (r"connect\(\) to unix:\S+ failed \(2: No such file or directory\)",
     "the unix socket did not exist",
     "sudo systemctl enable --now inkwell.socket; APP_BIND and the site must name one path"),
    (r"connect\(\) to unix:\S+ failed \(13: Permission denied\)",
     "nginx's user could not use the unix socket",
     "the socket must be group www-data, mode 660 (inkwell.socket does this)"),
    (r"upstream timed out \(110: Connection timed out\)",
     "gunicorn took longer than nginx's read timeout (busy or stuck workers)",
     "find the slow requests in gunicorn's access log; WORKER TIMEOUT lines show workers "
     "killed by gunicorn's own timeout"),
    (r"upstream prematurely closed connection",
     "a worker went away in the middle of a request (killed for memory, by gunicorn's "
     "timeout, or crashed)",
     "sudo dmesg | grep -i -e oom -e killed; sudo journalctl -u inkwell | grep -e 'WORKER "
     "TIMEOUT' -e 'Worker exiting'; fewer workers on a small machine"),
    (r"\(104: Connection reset by peer\) while reading response header",
     "a worker went away in the middle of a request",
     "as for 'prematurely closed': memory (dmesg), timeouts and crashes (journalctl)"),
    (r"upstream sent too big header",
     "the app's response headers were larger than nginx's buffer",
     "usually huge cookies from another app on the same domain; clear them"),
    (r"no live upstreams",
     "nginx had marked the app down after repeated errors (it retries after a few seconds)",
     "fix the first error above; this one follows from it"),
]
_TIME = re.compile(r"^(\d{4}/\d\d/\d\d \d\d:\d\d:\d\d)")


def _tail(path: Path, lines: int) -> list[str]:
    with path.open("rb") as f:
        f.seek(0, os.SEEK_END)
        f.seek(max(0, f.tell() - lines * 400))
        return f.read().decode("utf-8", errors="replace").splitlines()[-lines:]


def _recent(lines: list[str], since: datetime) -> list[str]:
    """The lines logged at or after `since` (nginx writes local time); undated lines count as
    recent when a recent dated line came before them."""
    kept, recent = [], False
    for line in lines:
        stamp = _TIME.match(line)
        if stamp:
            try:
                recent = datetime.strptime(stamp.group(1), "%Y/%m/%d %H:%M:%S") >= since
            except ValueError:
                recent = False
        if recent:
            kept.append(line)
    return kept


def explain_error_log(path: Path | None, lines: int = LOG_LINES,
                      minutes: int = LOG_MINUTES, now: datetime | None = None,
                      kinds: list[tuple[str, str, str]] | None = None) -> list[Finding]:
    """Upstream errors among the last `lines` lines of nginx's error log, from the last
    `minutes` minutes only (an error fixed yesterday is not today's 502)."""
    if path is None:
        return [Finding(True, "no nginx error log found (pass --error-log PATH)")]
    try:
        tail = _tail(path, lines)
    except PermissionError:
        return [Finding(False, f"cannot read {path}", "run `sudo inkwell doctor`")]
    except OSError as e:
        return [Finding(False, f"cannot read {path}: {e}")]
    recent = _recent(tail, (now or datetime.now()) - timedelta(minutes=minutes))
    findings = []
    for pattern, meaning, fix in kinds or _LOG_KINDS:
        hits = [line for line in recent if re.search(pattern, line)]
        if hits:
            when = _TIME.match(hits[-1])
            findings.append(Finding(
                False,
                f"{path}: {len(hits)} x {meaning}; last at {when.group(1) if when else '?'}",
                fix,
            ))
    if not findings:
        findings.append(Finding(True, f"{path}: no upstream errors in the last {minutes} "
                                      "minutes"))
    return findings


# --- uWSGI: a site that passes to it with uwsgi_pass, over its unix socket ---------------------

UWSGI_INI_PATHS = (Path("/etc/inkwell/uwsgi/inkwell.ini"),)
_UWSGI_FIXES = ("sudo systemctl restart inkwell-uwsgi; sudo journalctl -u inkwell-uwsgi -n 50 "
                "says why it stopped (make stack STACK_SERVER=uwsgi: instance/stack/uwsgi.log)")
# nginx's messages are the same as for gunicorn; their usual fixes are uWSGI's.
_UWSGI_LOG_KINDS = [
    (r"connect\(\) to unix:\S+ failed \(2: No such file or directory\)",
     "the uWSGI socket did not exist (uWSGI stopped, or binds another path than the site's)",
     "see the socket findings above: start uWSGI, or render the ini and the site from one .env"),
    (r"connect\(\) to unix:\S+ failed \(111: Connection refused\)",
     "nothing accepted on the uWSGI socket (left behind by a uWSGI that stopped)",
     _UWSGI_FIXES),
    (r"connect\(\) to unix:\S+ failed \(13: Permission denied\)",
     "nginx's user could not use the uWSGI socket",
     "the ini's chown-socket must name nginx's group and chmod-socket be 660; the folders "
     "above it must let that group pass; render again and restart uWSGI"),
    (r"connect\(\) to unix:\S+ failed \(11: Resource temporarily unavailable\)",
     "uWSGI's listen queue was full: more connections waited than the ini's `listen`",
     "every worker was busy for long: find the slow requests in uWSGI's log; add workers "
     "(WEB_CONCURRENCY) if memory allows, then render the ini again"),
    *((pattern, meaning.replace("gunicorn", "uWSGI"), fix.replace("gunicorn", "uWSGI"))
      for pattern, meaning, fix in _LOG_KINDS[3:]),
]


def speaks_uwsgi(site: Path | None) -> bool:
    """Does nginx's site pass requests on with uwsgi_pass (comments aside)?"""
    if site is None:
        return False
    text = re.sub(r"#[^\n]*", "", site.read_text(encoding="utf-8", errors="replace"))
    return re.search(r"^\s*uwsgi_pass\s", text, re.M) is not None


def uwsgi_ini_for(site: Path) -> Path | None:
    """The ini rendered with the site: beside it (make stack), in ../uwsgi/ (deploy render),
    or /etc/inkwell/uwsgi/."""
    real = site.resolve()
    return first_existing([real.parent / "inkwell.ini", real.parent.parent / "uwsgi" /
                           "inkwell.ini", *UWSGI_INI_PATHS])


def nginx_worker_user(site: Path) -> tuple[str, int, set[int]] | None:
    """(name, uid, group ids) of the user nginx's workers run as, from the `user` line of the
    main config beside the site (make stack) or /etc/nginx/nginx.conf; None if unsaid."""
    import grp
    import pwd

    for conf in (site.resolve().parent / "nginx.conf", Path("/etc/nginx/nginx.conf")):
        if not conf.is_file():
            continue
        text = re.sub(r"#[^\n]*", "", conf.read_text(encoding="utf-8", errors="replace"))
        match = re.search(r"^\s*user\s+([^\s;]+)(?:\s+([^\s;]+))?\s*;", text, re.M)
        if not match:
            continue
        try:
            user = pwd.getpwnam(match.group(1))
            groups = {user.pw_gid, *(g.gr_gid for g in grp.getgrall()
                                     if user.pw_name in g.gr_mem)}
            if match.group(2):
                groups.add(grp.getgrnam(match.group(2)).gr_gid)
        except KeyError:
            return None
        return user.pw_name, user.pw_uid, groups
    return None


def _may(info: os.stat_result, uid: int, gids: set[int], bit: int) -> bool:
    """May `uid` (with groups `gids`) read/write/pass (bit 4/2/1) by these permissions?"""
    if uid == 0:
        return True
    if info.st_uid == uid:
        return bool(info.st_mode & (bit << 6))
    if info.st_gid in gids:
        return bool(info.st_mode & (bit << 3))
    return bool(info.st_mode & bit)


def _owner(info: os.stat_result) -> str:
    import grp
    import pwd

    try:
        return f"{pwd.getpwuid(info.st_uid).pw_name}:{grp.getgrgid(info.st_gid).gr_name}"
    except KeyError:
        return f"{info.st_uid}:{info.st_gid}"


def nginx_may_connect(path: Path, site: Path) -> Finding | None:
    """Why nginx's workers may not connect to the socket (a failed finding), or None."""
    who = nginx_worker_user(site)
    if who is None:
        return None
    name, uid, gids = who
    for folder in reversed(path.parents):
        if not _may(folder.stat(), uid, gids, 1):
            return Finding(False, f"nginx's user {name} may not pass through {folder}, so it "
                                  f"cannot reach {path}: every uncached page is a 502 "
                                  "(Permission denied)",
                           f"put the socket where {name} may go (INKWELL_UWSGI_SOCKET, default "
                           "/run/inkwell/uwsgi.sock), render again and restart uWSGI")
    info = path.stat()
    if not _may(info, uid, gids, 2):
        mode = stat.S_IMODE(info.st_mode)
        return Finding(False, f"{path} is {_owner(info)}, mode {mode:o}: "
                              f"nginx's user {name} may not connect, so every uncached page is "
                              "a 502 (Permission denied)",
                       "the ini says chown-socket = <user>:<nginx's group> and chmod-socket = "
                       "660: render it again (inkwell deploy render) and restart uWSGI, which "
                       "sets both when it makes the socket")
    return None


def check_uwsgi(site: Path, address: str, host: str) -> list[Finding]:
    """The 502s of a uWSGI site: the socket missing, the site and the ini naming different
    sockets, a socket nginx may not open, uWSGI not running; then /healthz and /readyz."""
    from . import uwsgi

    path = Path(address[len("unix:"):])
    ini = uwsgi_ini_for(site)
    findings: list[Finding] = []
    if ini is None:
        findings.append(Finding(False, f"nginx passes to uWSGI at {path} but no uWSGI ini was "
                                       f"found (beside {site} or in /etc/inkwell/uwsgi/)",
                                "inkwell deploy render --out deploy, then install "
                                "deploy/uwsgi/inkwell.ini (docs/uwsgi.md)"))
    else:
        bound = uwsgi.read_ini(ini).get("socket", "")
        if bound != str(path):
            return [Finding(False, f"nginx connects to {path} ({site}) but uWSGI binds {bound} "
                                   f"({ini}): nginx finds no socket where it looks, so every "
                                   "uncached page is a 502",
                            "render the site and the ini from one .env (inkwell deploy render "
                            "--out deploy), install both, reload nginx and restart uWSGI")]
        findings.append(Finding(True, f"nginx's site and uWSGI's ini ({ini}) name one socket: "
                                      f"{path}"))
    pids = uwsgi.running(ini) if ini else []
    if not path.exists():
        if pids:
            return [*findings, Finding(
                False, f"uWSGI runs (pid {min(pids)}) but its socket {path} is gone: deleted "
                       "under it (a cleaner of /tmp or /run, or another uWSGI's vacuum), so "
                       "every uncached page is a 502",
                "restart uWSGI, which makes its socket at start: sudo systemctl restart "
                "inkwell-uwsgi")]
        return [*findings, Finding(
            False, f"uWSGI is not running: its socket {path} does not exist (uWSGI removes it "
                   "when it stops), so every uncached page is a 502", _UWSGI_FIXES)]
    if not stat.S_ISSOCK(path.stat().st_mode):
        return [*findings, Finding(False, f"{path} is not a socket",
                                   f"remove it and restart uWSGI ({_UWSGI_FIXES})")]
    denied = nginx_may_connect(path, site)
    if denied:
        return [*findings, denied]
    try:
        status, _, seconds = uwsgi.get(str(path), "/healthz", host, PROBE_TIMEOUT)
    except ConnectionRefusedError:
        return [*findings, Finding(
            False, f"uWSGI is not running: nothing accepts on {path}, left behind by a uWSGI "
                   "that was killed (or stopped after a reload: uWSGI 2.0 then leaves its "
                   "socket), so every uncached page is a 502", _UWSGI_FIXES)]
    except PermissionError:
        return [*findings, Finding(False, f"this user may not connect to {path}",
                                   "run `sudo inkwell doctor`")]
    except TimeoutError:
        return [*findings, Finding(
            False, f"uWSGI accepted on {path} but /healthz did not answer in "
                   f"{PROBE_TIMEOUT:.0f} s: every worker is busy or stuck; nginx answers 504",
            "look for 'HARAKIRI' and slow requests in uWSGI's log; add workers "
            "(WEB_CONCURRENCY, then render again) if memory allows")]
    if status != 200:
        return [*findings, Finding(False, f"/healthz over {path} answered {status}, not 200",
                                   "is Inkwell the app uWSGI loads? check the ini's module")]
    findings.append(Finding(True, f"uWSGI answers on {path} (/healthz in "
                                  f"{seconds * 1000:.0f} ms; socket usable by nginx)"))
    status, body, _ = uwsgi.get(str(path), "/readyz", host, PROBE_TIMEOUT)
    if status != 200:
        why = body[:300].decode(errors="replace")
        findings.append(Finding(False, f"/readyz answered {status}: {why}",
                                _READY_FIXES["database"]))
    return findings


# --- all of it ---------------------------------------------------------------------------------


# --- 5. push-to-deploy releases ----------------------------------------------------------------


def check_releases(app_dir: Path, address: str, host: str) -> list[Finding]:
    """With push-to-deploy (APP_DIR is the deploy root's `current` link): a release to run,
    gunicorn running it, and the last deploy's outcome from shared/deploy.log."""
    root = app_dir.parent
    if app_dir.name != "current" or not (root / "releases").is_dir():
        return []
    log = root / "shared" / "deploy.log"
    last = _tail(log, 1) if log.is_file() else []
    findings = [Finding(True, f"last deploy: {last[-1].strip()}")] if last else []
    if not app_dir.is_dir():
        return [*findings, Finding(
            False, f"{app_dir} names no release: none has been deployed yet, or the first one "
                   "failed", f"push again (the push prints why), or see {log}")]
    name = app_dir.resolve().name
    try:
        status, body, _ = get(address, "/healthz", host, PROBE_TIMEOUT)
        running = json.loads(body).get("release") if status == 200 else None
    except (OSError, ValueError, AttributeError, http.client.HTTPException):
        return [*findings, Finding(True, f"current release: {name}")]
    if running is None or running == name:
        return [*findings, Finding(True, f"current release: {name}, and gunicorn runs it")]
    return [*findings, Finding(
        False, f"gunicorn runs release {running} but {app_dir} names {name}: a deploy was cut "
               "short between its switch and its restart",
        "sudo systemctl restart inkwell (to run the one current names), or "
        "inkwell deploy rollback")]


# --- 6. the machine: its services and its firewall -----------------------------------------

WEB_PORTS = (80, 443)
UNIT_FIXES = {
    "nginx.service": ("nginx is not running: every request is refused before it reaches Inkwell",
                      "sudo nginx -t && sudo systemctl start nginx"),
    "inkwell.socket": ("inkwell.socket is stopped: nothing accepts nginx's connections for "
                       "gunicorn, so pages nginx has no copy of answer 502",
                       "sudo systemctl start inkwell.socket inkwell.service"),
    "inkwell.service": ("inkwell.service (gunicorn) is stopped",
                        "sudo systemctl start inkwell.socket inkwell.service"),
}


def check_units(units: Iterable[str] = tuple(UNIT_FIXES)) -> list[Finding]:
    """With systemd: each installed unit of the site that is not running, named with its fix
    (a service stopped by hand, or failed). Silent where systemd is not PID 1 (make stack)."""
    if not Path("/run/systemd/system").is_dir() or shutil.which("systemctl") is None:
        return []
    findings = []
    for unit in units:
        state = _ask(["systemctl", "is-active", unit])
        if state in ("active", "activating", "reloading"):
            continue
        loaded = _ask(["systemctl", "show", "-p", "LoadState", "--value", unit])
        if loaded != "loaded":
            continue  # not installed here: another setup (make stack, uWSGI)
        what, fix = UNIT_FIXES[unit]
        if state == "failed":
            fix = f"sudo journalctl -u {unit} -n 50 says why; then {fix}"
        findings.append(Finding(False, f"{what} (systemd: {unit} {state})", fix))
    return findings


def check_firewall(ports: tuple[int, ...] = WEB_PORTS) -> list[Finding]:
    """ufw, when it is active here: does it let readers reach nginx? (A cloud provider's
    security list is outside this machine: nothing here can see it.)"""
    ufw = shutil.which("ufw") or "/usr/sbin/ufw"
    if not Path(ufw).exists() or os.geteuid() != 0:
        return []
    status = _ask([ufw, "status", "verbose"])
    if "Status: active" not in status or re.search(r"Default: allow \(incoming\)", status):
        return []
    allowed = ufw_allowed_ports(status, lambda name: _ufw_app_ports(ufw, name))
    blocked = [port for port in ports if port not in allowed]
    if not blocked:
        return [Finding(True, f"ufw allows {', '.join(map(str, ports))}")]
    return [Finding(
        False,
        f"the firewall (ufw) blocks port {', '.join(map(str, blocked))}: readers time out "
        "before they reach nginx",
        " && ".join(f"sudo ufw allow {port}/tcp" for port in blocked))]


def ufw_allowed_ports(status: str, app_ports) -> set[int]:
    """The TCP ports `ufw status` allows in from anywhere; `app_ports(name)` gives an
    application profile's ports (e.g. "Nginx Full")."""
    allowed: set[int] = set()
    for line in status.splitlines():
        rule = re.match(r"(?P<to>.+?)\s{2,}ALLOW(?: IN)?\s{2,}(?P<source>.+)$", line.strip())
        if not rule or not rule["source"].startswith("Anywhere"):
            continue
        to = rule["to"].removesuffix(" (v6)").strip()
        specs = [to] if re.fullmatch(r"[\d,:]+(/tcp)?", to) else app_ports(to)
        for spec in specs:
            allowed |= _ports(spec)
    return allowed


def _ports(spec: str) -> set[int]:
    """80,443/tcp or 8000:8100 as ports (a /udp rule opens none for TCP)."""
    if spec.endswith("/udp"):
        return set()
    ports: set[int] = set()
    for part in spec.removesuffix("/tcp").split(","):
        low, _, high = part.partition(":")
        if low.isdigit() and (not high or high.isdigit()):
            ports |= set(range(int(low), int(high or low) + 1))
    return ports


def _ufw_app_ports(ufw: str, name: str) -> list[str]:
    info = _ask([ufw, "app", "info", name])
    ports = info.split("Ports:", 1)[1] if "Ports:" in info else ""
    return [line.strip() for line in ports.splitlines() if line.strip()]


def _ask(argv: list[str]) -> str:
    """A command's output ("" when it cannot run or hangs: the check then finds nothing)."""
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def first_existing(candidates: Iterable[Path]) -> Path | None:
    return next((path for path in candidates if path.is_file()), None)


def _guarded(label: str, step, *args) -> list[Finding]:
    """A step's findings; a check that cannot run is a finding too, never a traceback."""
    try:
        return step(*args)
    except (OSError, ValueError, UnicodeError, http.client.HTTPException) as e:
        return [Finding(False, f"could not check {label}: {type(e).__name__}: {e}")]


def diagnose(settings: DeploySettings, site: Path | None, error_log: Path | None,
             minutes: int = LOG_MINUTES) -> list[Finding]:
    try:
        uwsgi_site = speaks_uwsgi(site)
    except OSError:
        uwsgi_site = False  # check_upstream below says the site cannot be read
    expected, setting = settings.upstream_servers, (
        "APP_SERVERS" if settings.app_servers else "APP_BIND")
    if uwsgi_site:
        expected, setting = (f"unix:{settings.uwsgi_socket}",), "INKWELL_UWSGI_SOCKET"
    try:
        addresses, findings = check_upstream(site, expected, setting)
    except (OSError, ValueError) as e:
        addresses, findings = list(settings.upstream_servers), [
            Finding(False, f"could not read nginx's site file {site}: {e}",
                    "pass the enabled site with --site")]
    for address in addresses:  # several with APP_SERVERS: each may be the one that fails
        if uwsgi_site and address.startswith("unix:"):
            findings += _guarded("uWSGI", check_uwsgi, site, address, settings.domain)
            continue
        findings += _guarded("the socket", check_socket, address, settings.web_group)
        findings += _guarded(f"the app at {address}", probe_app, address, settings.domain,
                             PROBE_TIMEOUT, len(addresses) > 1)
    findings += _guarded("nginx's error log", explain_error_log, error_log, LOG_LINES, minutes,
                         None, _UWSGI_LOG_KINDS if uwsgi_site else None)
    findings += _guarded("the services", check_units)
    findings += _guarded("the firewall", check_firewall)
    if not settings.app_servers:  # the releases of this machine's gunicorn
        findings += _guarded("the releases", check_releases, settings.app_dir, addresses[0],
                             settings.domain)
    return findings
