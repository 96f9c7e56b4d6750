"""What a new user of docs/vps.md does to a fresh server, and what then goes wrong on it, each
as one check: one line each, `ok` or `FAIL` with the reason. Times are printed as measured,
never asserted: the figures go to docs/vps.md "What was tried"."""

from __future__ import annotations

import json
import shlex
import subprocess
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from .guide import commands
from .image import Image
from .machine import GuestError, Machine
from .pebble import Pebble
from .web import DISTINCT_SEARCHES, Load, get, load_summary, wait_for

REPO = Path(__file__).resolve().parents[2]
SITE_URL = "https://blog.test"
EMAIL = "you@blog.test"
SHARED = "/srv/inkwell/shared"
DOCTOR = f"cd {SHARED} && /srv/inkwell/current/.venv/bin/inkwell doctor"
# A cookie nginx never caches for (the production session cookie's name): the app answers
# every such request, as it does for an author.
AUTHOR = "Cookie: __Host-session=vm-test"
LOAD_SECONDS = 60
T = TypeVar("T")


class CheckFailed(AssertionError):
    """A check's condition does not hold; the message says what was seen."""


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


class Report:
    def __init__(self) -> None:
        self.passed = self.failed = 0
        self.numbers: dict[str, object] = {}
        self.image: Image | None = None

    def check(self, name: str, step: Callable[[], T]) -> T | None:
        """Run one check; print its line; its result, or None when it failed."""
        started = time.monotonic()
        try:
            result = step()
        except (CheckFailed, GuestError, TimeoutError) as e:
            self.fail(name, str(e))
            return None
        except Exception as e:  # a check that breaks is a failed check, with its traceback
            self.fail(name, f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=4)}")
            return None
        self.passed += 1
        print(f"ok   {name} [{time.monotonic() - started:.0f} s]: {result}", flush=True)
        return result if result is not None else True  # type: ignore[return-value]

    def fail(self, name: str, why: str) -> None:
        self.failed += 1
        print(f"FAIL {name}: {why}", flush=True)

    def finish(self, started: float) -> int:
        self.numbers["vm_test_seconds"] = round(time.monotonic() - started)
        print(f"numbers: {json.dumps(self.numbers)}")
        print(f"vm-test: {self.passed} passed, {self.failed} failed")
        return 1 if self.failed else 0


class Scenario:
    def __init__(self, machine: Machine, pebble: Pebble, report: Report, folder: Path):
        self.vm, self.pebble, self.report, self.folder = machine, pebble, report, folder
        self.root_ca = folder / "pebble-root.pem"
        self.setup_command = ""
        self.setup_output = ""
        self.work = folder / "work"  # the host's clone, pushed from

    def run(self) -> None:
        r = self.report
        if not (r.check("Pebble and its DNS stub on free loopback ports", self.start_pebble)
                and r.check("guest boots (1 GiB, 1 vCPU, ssh answers)", self.boot)):
            return
        r.check("guest as handed over: ufw active with ssh allowed, no nginx", self.handed_over)
        if not r.check("checkout cloned in the guest and its venv made (the guide's lines)",
                       self.checkout):
            return
        r.check("bad input: blog.test points elsewhere: setup names the certificate step, "
                "the site is up on the self-signed certificate", self.refused_setup)
        if not r.check("deploy setup after the fix: HTTPS with a certificate from Pebble",
                       self.setup):
            return
        r.check("HTTP answers 308 to HTTPS", self.redirect)
        r.check("HTTPS verifies with Pebble's root: pages, static files, media via nginx",
                self.pages)
        r.check("setup opened 80 and 443 in ufw and said so", self.firewall_opened)
        r.check("kill -9 of gunicorn's master: systemd starts it again, 0 failed GETs",
                self.kill_master)
        r.check("inkwell stopped: doctor names it and the fix", self.service_stopped)
        r.check("nginx stopped: doctor names it", self.nginx_stopped)
        r.check("certbot renew --force-renewal: the new certificate served, 0 failed",
                self.renew)
        r.check("reboot: the site answers over HTTPS again, nobody touching it", self.reboot)
        if r.check("git push over ssh under load: the change live, 0 failed", self.push):
            r.check("a release that cannot start: push refused, old one serves, 0 failed",
                    self.push_broken)
        r.check("1 GiB: workers gunicorn.conf.py picked", self.workers)
        r.check(f"1 GiB: {LOAD_SECONDS} s of cache-missing load: no OOM kill, 0 failed, "
                "PSS of nginx + gunicorn <= 50 % of memory", self.memory_load)
        r.check("gunicorn bound wide (0.0.0.0) is not reachable from the host", self.bound_wide)
        r.check("ufw blocking 80/443: doctor names it and the command that opens them",
                self.firewall_closed)

    # --- the machine ---------------------------------------------------------------------------

    def start_pebble(self) -> str:
        self.pebble.start()
        return f"ACME directory {self.pebble.directory} (pids {self.pebble.pids})"

    def boot(self) -> str:
        seconds = self.vm.boot(lambda line: None)
        self.report.numbers["boot_to_ssh_s"] = round(seconds)
        self.report.numbers["accel"] = self.vm.accel
        return f"ssh after {seconds:.0f} s ({self.vm.accel}, QEMU pid {self.vm.pid})"

    def handed_over(self) -> str:
        ufw = self.vm.ssh("ufw status").stdout
        expect("Status: active" in ufw and "OpenSSH" in ufw, f"ufw status:\n{ufw}")
        nginx = self.vm.ssh("command -v nginx", check=False).returncode
        expect(nginx != 0, "nginx is already installed")
        return "ufw active, OpenSSH allowed"

    def checkout(self) -> str:
        bundle = self.folder / "inkwell.bundle"
        commit = _git("rev-parse", "--short", "HEAD").strip()
        _git("bundle", "create", str(bundle), "HEAD", "main")
        self.vm.copy_in(bundle, "/root/inkwell.bundle")
        self.vm.copy_in(self.vm.image.key.with_suffix(".pub"), "/root/your-key.pub")
        self.vm.copy_in(self.pebble.listener_ca, "/root/pebble-ca.pem")
        prepare, setup = commands("/root/inkwell.bundle", SITE_URL, EMAIL, "/root/your-key.pub")
        self.setup_command = (f"cd /root/inkwell && {setup} --acme-server "
                              f"{self.pebble.directory} --acme-ca-bundle /root/pebble-ca.pem")
        started = time.monotonic()
        self.vm.ssh(f"export DEBIAN_FRONTEND=noninteractive; cd /root && {prepare}",
                    timeout=3600)
        self.report.numbers["guide_prepare_s"] = round(time.monotonic() - started)
        return f"commit {commit}, by scp of a git bundle, in {time.monotonic() - started:.0f} s"

    # --- 1. setup --------------------------------------------------------------------------

    def refused_setup(self) -> str:
        # Pebble resolves blog.test to an address where nothing answers: its validation fails
        # and it refuses the order, as Let's Encrypt does for a name that is not this server's.
        self.pebble.point_name("blog.test", "127.0.0.2")
        try:
            started = time.monotonic()
            done = self.vm.ssh(self.setup_command, timeout=5400, check=False)
            seconds = time.monotonic() - started
        finally:
            self.pebble.point_name("blog.test", None)
        self.report.numbers["setup_first_run_s"] = round(seconds)
        output = done.stdout + done.stderr
        self.setup_output = output
        expect(done.returncode != 0, f"setup succeeded against a refusing ACME server:\n{output}")
        expect("[12/12] certificate" in output and "certbot got no certificate" in output
               and "self-signed" in output, f"setup did not name the step and why:\n{output}")
        expect("Traceback" not in output, f"a traceback:\n{output}")
        answer = get(self.vm.https_port, "/", ca=None)
        expect(answer.status == 200, f"the site does not answer on HTTPS: {answer.status}")
        expect(_subject(answer.certificate) != "" and "Pebble" not in _issuer(answer.certificate),
               "the certificate served is not the self-signed one")
        last = [line for line in output.splitlines() if "certbot got no" in line][0]
        return f"exit {done.returncode} after {seconds:.0f} s; {last.strip()}"

    def setup(self) -> str:
        started = time.monotonic()
        done = self.vm.ssh(self.setup_command, timeout=3600, check=False)
        seconds = time.monotonic() - started
        self.setup_output += done.stdout
        expect(done.returncode == 0, f"setup failed:\n{_tail(done.stdout + done.stderr, 30)}")
        self.root_ca.write_text(self.pebble.root())
        answer = get(self.vm.https_port, "/", ca=self.root_ca)
        expect(answer.status == 200, f"HTTPS / answered {answer.status}")
        self.report.numbers["setup_second_run_s"] = round(seconds)
        total = self.report.numbers.get("setup_first_run_s", 0) + round(seconds)
        self.report.numbers["setup_fresh_to_https_s"] = total
        return f"second run {seconds:.0f} s; fresh guest to HTTPS: {total} s of setup"

    def redirect(self) -> str:
        answer = get(self.vm.http_port, "/tags/?x=1", tls=False)
        location = answer.headers.get("location", "")
        expect(answer.status == 308 and location.startswith(f"{SITE_URL}/tags/?x=1"),
               f"{answer.status} {location}")
        return f"308 -> {location}"

    def pages(self) -> str:
        home = get(self.vm.https_port, "/", ca=self.root_ca)
        expect(home.status == 200 and b"<html" in home.body.lower(), f"/ {home.status}")
        css = _first_static(home.body.decode(errors="replace"))
        static = get(self.vm.https_port, css, ca=self.root_ca)
        expect(static.status == 200 and "css" in static.headers.get("content-type", ""),
               f"{css}: {static.status} {static.headers.get('content-type')}")
        # nginx serves image types only from /media/ (and nothing else the store may hold).
        picture = self.folder / "vm-test.png"
        picture.write_bytes(_png())
        self.vm.copy_in(picture, "/tmp/vm-test.png")
        self.vm.ssh("install -o inkwell -g inkwell -m 644 /tmp/vm-test.png "
                    "/srv/inkwell/shared/instance/media/vm-test.png")
        file = get(self.vm.https_port, "/media/vm-test.png", ca=self.root_ca)
        expect(file.status == 200 and file.body == picture.read_bytes()
               and file.headers.get("content-type") == "image/png",
               f"/media/vm-test.png: {file.status} {file.headers.get('content-type')}")
        server = home.headers.get("server", "")
        return f"/ 200, {css} 200 ({server or 'nginx'}), /media/vm-test.png 200 image/png"

    def firewall_opened(self) -> str:
        said = [line.strip() for line in self.setup_output.splitlines() if "ufw: allowed" in line]
        expect(bool(said), "setup did not say it opened the ports")
        ufw = self.vm.ssh("ufw status").stdout
        expect("80/tcp" in ufw and "443/tcp" in ufw, f"ufw status:\n{ufw}")
        return said[0]

    # --- 3. faults -------------------------------------------------------------------------

    def kill_master(self) -> str:
        load = Load(self.vm.https_port, "/")
        try:
            time.sleep(3)  # readers are on the site before the kill
            out = self.vm.ssh(_KILL_AND_WAIT, timeout=600).stdout.split()
        finally:
            result = load.stop()
        old, new, millis = out[-3:]
        seconds = int(millis) / 1000
        self.report.numbers["serve_again_after_kill9_s"] = round(seconds, 1)
        expect(result["failed"] == 0, f"{load_summary(result)}: {result}")
        expect(result["requests"] > 0, "wrk made no request")
        return (f"master {old} killed, {new} serving after {seconds:.1f} s; "
                f"{load_summary(result)}")

    def service_stopped(self) -> str:
        said = self._doctor_while_stopped("inkwell.socket inkwell.service")
        expect("inkwell" in said and "systemctl start inkwell" in said,
               f"doctor does not name the stopped service and its fix:\n{said}")
        return _finding_line(said, "systemctl start inkwell")

    def nginx_stopped(self) -> str:
        said = self._doctor_while_stopped("nginx")
        expect("systemctl start nginx" in said, f"doctor does not name nginx:\n{said}")
        return _finding_line(said, "systemctl start nginx")

    def _doctor_while_stopped(self, units: str) -> str:
        """What `inkwell doctor` says (exit 1: it found something) while `units` are stopped;
        they are started again after."""
        self.vm.ssh(f"systemctl stop {units}")
        try:
            done = self.vm.ssh(DOCTOR, check=False, timeout=300)
        finally:
            self.vm.ssh(f"systemctl start {units}")
        said = done.stdout + done.stderr
        expect(done.returncode == 1, f"doctor exit {done.returncode}:\n{said}")
        return said

    def renew(self) -> str:
        before = get(self.vm.https_port, "/", ca=self.root_ca).certificate
        # A new connection per request: nginx's reload closes idle keep-alive connections, and
        # a request wrk sends on one at that instant is a read error to wrk, where a browser
        # sends the GET again on a new connection (seen: 4 of 385,277 with keep-alive).
        load = Load(self.vm.https_port, "/", headers=("Connection: close",))
        try:
            # Without a terminal certbot first sleeps up to 8 minutes (spreading the load on
            # Let's Encrypt); the timer's runs do, not this one.
            self.vm.ssh("REQUESTS_CA_BUNDLE=/etc/inkwell/acme-ca.pem certbot renew "
                        "--force-renewal --no-random-sleep-on-renew -q", timeout=900)
            deadline = time.monotonic() + 120
            after = before
            while after == before and time.monotonic() < deadline:  # nginx reloads
                time.sleep(1)
                after = get(self.vm.https_port, "/", ca=self.root_ca).certificate
        finally:
            result = load.stop()
        expect(after != before, "the same certificate is still served")
        expect(result["failed"] == 0, f"{load_summary(result)}: {result}")
        return f"new certificate {_serial(after)} (was {_serial(before)}); {load_summary(result)}"

    def reboot(self) -> str:
        started = time.monotonic()
        self.vm.ssh("systemctl reboot", check=False, timeout=30)
        time.sleep(5)  # not an assertion: the old system is going down meanwhile
        # /healthz is never cached: gunicorn answers it, through nginx.
        wait_for(self.vm.https_port, "/healthz", self.root_ca, timeout=900)
        total = time.monotonic() - started
        self.vm.wait_for_ssh(300)
        self.report.numbers["serve_again_after_reboot_s"] = round(total)
        page = get(self.vm.https_port, "/", ca=self.root_ca)
        expect(page.status == 200, f"/ answered {page.status}")
        return f"HTTPS /healthz and / 200 {total:.0f} s after `systemctl reboot`"

    # --- 2. push ---------------------------------------------------------------------------

    def push(self) -> str:
        env = {"GIT_SSH_COMMAND": shlex.join(["ssh", *_without_port(self.vm.ssh_options())])}
        remote = f"ssh://inkwell@127.0.0.1:{self.vm.ssh_port}/srv/inkwell/repo.git"
        _git("clone", "-q", str(self.folder / "inkwell.bundle"), str(self.work), cwd=self.folder)
        _git("remote", "add", "production", remote, cwd=self.work)
        marker = f"vm-test change {int(time.time())}"
        base = self.work / "src/inkwell/templates/base.html"
        base.write_text(base.read_text().replace("</body>", f"<!-- {marker} -->\n</body>"))
        _commit(self.work, "A visible change: a comment in every page")
        self.push_env = env
        load = Load(self.vm.https_port, "/", connections=2, headers=(AUTHOR,))
        try:
            started = time.monotonic()
            done = _push(self.work, env)
            seconds = time.monotonic() - started
        finally:
            result = load.stop()
        self.report.numbers["push_deploy_s"] = round(seconds)
        expect(done.returncode == 0, f"push failed:\n{_tail(done.stdout + done.stderr, 25)}")
        page = get(self.vm.https_port, "/", ca=self.root_ca, headers={"Cookie": AUTHOR[8:]})
        expect(marker.encode() in page.body, "the change is not in the page")
        expect(result["failed"] == 0, f"{load_summary(result)}: {result}")
        return f"deployed in {seconds:.0f} s; the change is live; {load_summary(result)}"

    def push_broken(self) -> str:
        init = self.work / "src/inkwell/__init__.py"
        init.write_text(init.read_text() + '\nraise RuntimeError("vm-test: cannot start")\n')
        _commit(self.work, "A release that cannot start")
        load = Load(self.vm.https_port, "/", connections=2, headers=(AUTHOR,))
        try:
            done = _push(self.work, self.push_env)
        finally:
            result = load.stop()
        said = done.stdout + done.stderr
        expect(done.returncode != 0, f"the push was accepted:\n{_tail(said, 20)}")
        expect("vm-test: cannot start" in said, f"the push did not say why:\n{_tail(said, 20)}")
        page = get(self.vm.https_port, "/", ca=self.root_ca, headers={"Cookie": AUTHOR[8:]})
        expect(page.status == 200, f"after the refused push / answers {page.status}")
        expect(result["failed"] == 0, f"{load_summary(result)}: {result}")
        _git("reset", "-q", "--hard", "HEAD~1", cwd=self.work)
        return f"refused ({_finding_line(said, 'refused')}); {load_summary(result)}"

    # --- 4. the 1 GiB box ------------------------------------------------------------------

    def workers(self) -> str:
        out = self.vm.ssh("main=$(systemctl show -p MainPID --value inkwell.service); "
                          "pgrep -c -P $main; grep MemTotal /proc/meminfo; nproc").stdout.split()
        workers = int(out[0])
        self.report.numbers["workers"] = workers
        self.report.numbers["guest_memtotal_kb"] = int(out[2])
        expect(workers >= 1, "no worker")
        return f"{workers} workers (MemTotal {int(out[2]) // 1024} MB, {out[4]} CPU)"

    def memory_load(self) -> str:
        script = self.folder / "distinct.lua"
        script.write_text(DISTINCT_SEARCHES)
        self.vm.ssh("dmesg --clear")
        load = Load(self.vm.https_port, "/", connections=4, script=script)
        samples = []
        try:
            deadline = time.monotonic() + LOAD_SECONDS
            while time.monotonic() < deadline:
                time.sleep(min(10, max(0, deadline - time.monotonic())))
                samples.append(self._pss_kb())
        finally:
            result = load.stop()
        total = self.report.numbers["guest_memtotal_kb"]
        oom = self.vm.ssh("dmesg | grep -ciE 'out of memory|oom-kill|invoked oom-killer' || true")
        peak = max(samples)
        self.report.numbers["pss_peak_mb"] = round(peak / 1024, 1)
        self.report.numbers["memory_load"] = load_summary(result)
        expect(oom.stdout.strip() == "0", f"the kernel's log names OOM kills: {oom.stdout}")
        expect(result["failed"] == 0, f"{load_summary(result)}: {result}")
        expect(peak <= total / 2, f"PSS {peak // 1024} MB > 50 % of {total // 1024} MB")
        return (f"peak PSS of nginx + gunicorn {peak / 1024:.1f} MB of {total // 1024} MB "
                f"({100 * peak / total:.0f} %); {load_summary(result)}; no OOM kill")

    def _pss_kb(self) -> int:
        out = self.vm.ssh(_PSS).stdout.split()
        return int(out[-1])

    # --- 5. the firewall -------------------------------------------------------------------

    def bound_wide(self) -> str:
        self._app_bind("0.0.0.0:8000")
        try:
            listening = self.vm.ssh("ss -Hltn 'sport = :8000'").stdout
            expect("0.0.0.0:8000" in listening, f"not bound wide: {listening}")
            inside = self.vm.ssh(f"{GUEST_GET} http://$(hostname -I | cut -d' ' -f1):8000/healthz",
                                 check=False).stdout.strip()
            expect(inside == "200", f"gunicorn does not answer on the guest's address: {inside}")
            try:
                answer = get(self.vm.app_port, "/healthz", tls=False, timeout=15)
                raise CheckFailed(f"the host reached gunicorn: {answer.status}")
            except OSError as e:
                refused = f"{type(e).__name__}"
        finally:
            self._app_bind("127.0.0.1:8000")
        return f"bound 0.0.0.0:8000, answers inside; from the host: {refused}"

    def _app_bind(self, address: str) -> None:
        self.vm.ssh(f"runuser -u inkwell -- sed -i 's/^APP_BIND=.*/APP_BIND={address}/' "
                    f"{SHARED}/.env && (grep -q ^APP_BIND= {SHARED}/.env || echo "
                    f"APP_BIND={address} | runuser -u inkwell -- tee -a {SHARED}/.env)")
        self.vm.ssh(self.setup_command, timeout=1800)  # the guide: run setup again after .env
        self.vm.ssh("systemctl stop inkwell.service inkwell.socket && "
                    "systemctl start inkwell.socket inkwell.service")
        wait_for(self.vm.https_port, "/healthz", self.root_ca, timeout=300)

    def firewall_closed(self) -> str:
        self.vm.ssh("ufw delete allow 80/tcp && ufw delete allow 443/tcp")
        done = self.vm.ssh(DOCTOR, check=False, timeout=300)
        said = done.stdout + done.stderr
        fix = "ufw allow 80/tcp"
        fixed = self.vm.ssh("ufw allow 80/tcp && ufw allow 443/tcp")  # the fix it names
        expect(done.returncode == 1 and "ufw" in said and fix in said,
               f"doctor exit {done.returncode}, no firewall finding:\n{said}")
        expect(fixed.returncode == 0, "ufw allow failed")
        return _finding_line(said, "ufw")


# A GET from inside the guest (a fresh Debian has no curl: its python3, which ufw needs);
# prints the status, exits non-zero when there is no answer.
GUEST_GET = ("python3 -c 'import sys, urllib.request as u; print(u.urlopen(u.Request(sys.argv[1], "
             "headers={\"Host\": \"blog.test\"}), timeout=60).status)'")

# kill -9 of the master, then until systemd's new master answers /healthz (through the socket
# systemd holds): prints old pid, new pid, milliseconds.
_KILL_AND_WAIT = r"""
old=$(systemctl show -p MainPID --value inkwell.service)
start=$(date +%s%N)
kill -9 "$old"
for i in $(seq 1 1200); do
  new=$(systemctl show -p MainPID --value inkwell.service)
  if [ "$new" != 0 ] && [ "$new" != "$old" ] && GUEST_GET http://127.0.0.1:8000/healthz; then
    echo "$old $new $(( ($(date +%s%N) - start) / 1000000 ))"; exit 0
  fi
  sleep 0.2
done
exit 1
""".replace("GUEST_GET", GUEST_GET)

# PSS (kB) of every nginx process and of gunicorn's master and workers, summed.
_PSS = r"""
main=$(systemctl show -p MainPID --value inkwell.service)
for pid in $(pgrep -x nginx) $main $(pgrep -P "$main"); do
  awk '/^Pss:/ {print $2}' /proc/$pid/smaps_rollup 2>/dev/null
done | awk '{s += $1} END {print s}'
"""


def _png() -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 120, 40)).save(buffer, "PNG")
    return buffer.getvalue()


def _git(*args: str, cwd: Path = REPO) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise CheckFailed(f"git {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def _commit(work: Path, message: str) -> None:
    _git("-c", "user.name=vm-test", "-c", "user.email=vm-test@blog.test", "commit", "-qam",
         message, cwd=work)


def _push(work: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    import os

    return subprocess.run(["git", "push", "production", "HEAD:main"], cwd=work,
                          env={**os.environ, **env}, capture_output=True, text=True,
                          timeout=3600)


def _without_port(options: list[str]) -> list[str]:
    i = options.index("-p")
    return options[:i] + options[i + 2:]


def _tail(text: str, lines: int) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _finding_line(text: str, word: str) -> str:
    """The first failed finding (or line) that names `word`, and the fix under it."""
    lines = [line.strip() for line in text.splitlines()]
    for i, line in enumerate(lines):
        if line.startswith("FAIL") and word in line + " ".join(lines[i + 1:i + 2]):
            fix = lines[i + 1] if i + 1 < len(lines) and lines[i + 1].startswith("->") else ""
            return f"{line} {fix}".strip()
    named = [line for line in lines if word in line]
    return named[0] if named else _tail(text, 1)


def _first_static(html: str) -> str:
    import re

    found = re.search(r'href="(/static/[^"]+\.css[^"]*)"', html)
    if not found:
        raise CheckFailed("no stylesheet link in /")
    return found.group(1).replace("&amp;", "&")


def _cert(der: bytes | None):
    from cryptography import x509

    if der is None:
        raise CheckFailed("no certificate")
    return x509.load_der_x509_certificate(der)


def _subject(der: bytes | None) -> str:
    return _cert(der).subject.rfc4514_string()


def _issuer(der: bytes | None) -> str:
    return _cert(der).issuer.rfc4514_string()


def _serial(der: bytes | None) -> str:
    return f"{_cert(der).serial_number:x}"[:12]

