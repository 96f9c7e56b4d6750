"""`make vm-test`: a fresh 1 GiB, 1 vCPU Debian 12 server booted under QEMU, taken from nothing
to a blog on HTTPS by docs/vps.md's own commands, then pushed to, faulted and rebooted.

Pebble stands in for Let's Encrypt (tests/vm/pebble.py). One line per check, then
`vm-test: N passed, M failed`; exit 1 on a failure. QEMU, Pebble and wrk are stopped by their
ids at the end, also on failure, unless VM_KEEP=1: then the guest and Pebble keep running and
build/vm/state.json says how to reach them; `make vm-stop` (python -m tests.vm stop) stops them.
With INKWELL_REQUIRE_SERVICES=1 a machine that cannot boot the guest fails, never skips.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .image import image
from .machine import Machine
from .pebble import Pebble, stop_pids
from .scenario import Report, Scenario, expect

REPO = Path(__file__).resolve().parents[2]
STATE = REPO / "build" / "vm" / "state.json"
REQUIRE = os.environ.get("INKWELL_REQUIRE_SERVICES") == "1"
NEEDED = ("qemu-system-x86_64", "qemu-img", "debootstrap", "mkfs.ext4", "pebble",
          "pebble-challtestsrv", "wrk", "ssh", "scp", "git", "openssl")


def main(argv: list[str]) -> int:
    if argv == ["stop"]:
        return stop()
    if argv == ["kept"]:
        return kept()
    if argv:
        print("usage: python -m tests.vm [stop | kept]", file=sys.stderr)
        return 2
    return run()


def cannot_run() -> str | None:
    if os.geteuid() != 0:
        return "needs root (debootstrap, the image cache in /var/cache)"
    missing = [name for name in NEEDED if shutil.which(name) is None
               and not Path(f"/usr/sbin/{name}").exists()]
    return f"not installed: {', '.join(missing)}" if missing else None


def run() -> int:
    reason = cannot_run()
    if reason:
        if REQUIRE:
            print(f"vm-test: FAIL: {reason} (INKWELL_REQUIRE_SERVICES=1)")
            print("vm-test: 0 passed, 1 failed")
            return 1
        print(f"vm-test: skipped: {reason}")
        return 0
    if STATE.exists():
        print(f"vm-test: a kept guest is still running ({STATE}): make vm-stop first")
        return 1
    started = time.monotonic()
    report = Report()
    folder = Path(tempfile.mkdtemp(prefix="run-", dir=_build_dir()))
    machine: Machine | None = None
    pebble: Pebble | None = None
    keep = os.environ.get("VM_KEEP") == "1"
    try:
        if not report.check("guest image (cached by its recipe's hash)", lambda: _image(report)):
            return report.finish(started)
        assert report.image is not None
        machine = Machine(report.image, folder / "guest")
        pebble = Pebble(folder / "pebble", http01_port=machine.http_port)
        Scenario(machine, pebble, report, folder).run()
    except KeyboardInterrupt:
        report.fail("interrupted", "Ctrl-C")
        keep = False
    finally:
        if keep and machine is not None and machine.pid and pebble is not None:
            _write_state(machine, pebble)
            print(f"VM_KEEP=1: the guest and Pebble keep running; {STATE}; make vm-stop")
        else:
            if machine is not None:
                machine.stop()
            if pebble is not None:
                pebble.stop()
            shutil.rmtree(folder, ignore_errors=True)
    return report.finish(started)


def _image(report: Report) -> str:
    started = time.monotonic()
    built = image(print)
    report.image = built
    return f"{built.disk.parent} ready in {time.monotonic() - started:.0f} s"


def _build_dir() -> Path:
    folder = REPO / "build" / "vm"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _write_state(machine: Machine, pebble: Pebble) -> None:
    ca = machine.folder.parent / "pebble-root.pem"
    ca.write_text(pebble.root())
    STATE.write_text(json.dumps({
        "ssh_command": machine.ssh_command(),
        "ssh_port": machine.ssh_port,
        "http_port": machine.http_port,
        "https_port": machine.https_port,
        "site_url": "https://blog.test",
        "ca_file": str(ca),
        "acme_directory": pebble.directory,
        "acme_ca_bundle": str(pebble.listener_ca),
        "deploy_remote": f"ssh://inkwell@127.0.0.1:{machine.ssh_port}/srv/inkwell/repo.git",
        "git_ssh_command": machine.git_ssh(),
        "pids": {"qemu": machine.pid, "pebble": list(pebble.pids)},
        "folder": str(machine.folder.parent),
    }, indent=2) + "\n")


def kept() -> int:
    """`make vm-kept` (after `VM_KEEP=1 make vm-test`): what build/vm/state.json says works,
    as someone poking at the kept guest would use it: its ssh command, the site over HTTPS with
    Pebble's root, HTTP's redirect, the git remote, and the pids. One line per check."""
    from .web import get

    if not STATE.exists():
        print(f"vm-kept: FAIL: {STATE} does not exist (run VM_KEEP=1 make vm-test first)")
        return 1
    state = json.loads(STATE.read_text())
    report = Report()
    env = {**os.environ, "GIT_SSH_COMMAND": state["git_ssh_command"]}

    def ssh() -> str:
        done = subprocess.run([*shlex.split(state["ssh_command"]), "systemctl is-active "
                               "inkwell.service nginx"], capture_output=True, text=True,
                              timeout=120)
        expect(done.returncode == 0, f"ssh_command: {done.stdout} {done.stderr}")
        return " ".join(done.stdout.split())

    def https() -> str:
        page = get(state["https_port"], "/", ca=Path(state["ca_file"]))
        expect(page.status == 200, f"/ answered {page.status}")
        return f"{state['site_url']}/ 200, verified with {state['ca_file']}"

    def http() -> str:
        page = get(state["http_port"], "/", tls=False)
        expect(page.status == 308, f"http answered {page.status}")
        return f"308 -> {page.headers.get('location')}"

    def remote() -> str:
        done = subprocess.run(["git", "ls-remote", state["deploy_remote"], "refs/heads/main"],
                              env=env, capture_output=True, text=True, timeout=120)
        expect(done.returncode == 0 and "refs/heads/main" in done.stdout,
               f"git ls-remote: {done.stderr.strip()}")
        return f"main is {done.stdout.split()[0][:10]}"

    def pids() -> str:
        named = [state["pids"]["qemu"], *state["pids"]["pebble"]]
        expect(all(_ours(pid) for pid in named), f"not all running: {named}")
        return f"QEMU and Pebble running: {named}"

    started = time.monotonic()
    for name, step in (("state.json's ssh_command: inkwell and nginx active", ssh),
                       ("https_port with ca_file: the site verifies", https),
                       ("http_port: 308 to HTTPS", http),
                       ("deploy_remote with git_ssh_command: git ls-remote", remote),
                       ("pids: the kept QEMU and Pebble", pids)):
        report.check(name, step)
    print(f"vm-kept: {report.passed} passed, {report.failed} failed "
          f"({time.monotonic() - started:.0f} s)")
    return 1 if report.failed else 0


def stop() -> int:
    if not STATE.exists():
        print(f"vm-stop: nothing kept ({STATE} does not exist)")
        return 0
    state = json.loads(STATE.read_text())
    pids = [state["pids"]["qemu"], *state["pids"]["pebble"]]
    stop_pids([pid for pid in pids if _ours(pid)])
    shutil.rmtree(state["folder"], ignore_errors=True)
    STATE.unlink()
    left = [pid for pid in pids if _ours(pid)]
    print(f"vm-stop: stopped {', '.join(map(str, pids))}"
          + (f"; still running: {left}" if left else ""))
    return 1 if left else 0


def _ours(pid: int) -> bool:
    """Still the QEMU or Pebble we started (a pid may have been reused since)."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]
    except OSError:
        return False
    return Path(command.decode()).name in ("qemu-system-x86_64", "pebble", "pebble-challtestsrv")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
