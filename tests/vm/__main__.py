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
import shutil
import sys
import tempfile
import time
from pathlib import Path

from .image import image
from .machine import Machine
from .pebble import Pebble, stop_pids
from .scenario import Report, Scenario

REPO = Path(__file__).resolve().parents[2]
STATE = REPO / "build" / "vm" / "state.json"
REQUIRE = os.environ.get("INKWELL_REQUIRE_SERVICES") == "1"
NEEDED = ("qemu-system-x86_64", "qemu-img", "debootstrap", "mkfs.ext4", "pebble",
          "pebble-challtestsrv", "wrk", "ssh", "scp", "git", "openssl")


def main(argv: list[str]) -> int:
    if argv == ["stop"]:
        return stop()
    if argv:
        print("usage: python -m tests.vm [stop]", file=sys.stderr)
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


def stop() -> int:
    if not STATE.exists():
        print(f"vm-stop: nothing kept ({STATE} does not exist)")
        return 0
    state = json.loads(STATE.read_text())
    pids = [state["pids"]["qemu"], *state["pids"]["pebble"]]
    stop_pids([pid for pid in pids if _ours(pid)])
    shutil.rmtree(state["folder"], ignore_errors=True)
    STATE.unlink()
    print(f"vm-stop: stopped {', '.join(map(str, pids))}")
    return 0


def _ours(pid: int) -> bool:
    """Still the QEMU or Pebble we started (a pid may have been reused since)."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]
    except OSError:
        return False
    return Path(command.decode()).name in ("qemu-system-x86_64", "pebble", "pebble-challtestsrv")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
