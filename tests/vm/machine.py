"""The guest under QEMU: 1 GiB, 1 vCPU, booted with its own kernel and initrd from a
copy-on-write overlay of the cached image; user-mode networking with host forwards bound to
127.0.0.1 on free ports (ssh, 80, 443, and gunicorn's 8000 for the firewall check).

KVM is used when it can boot the guest's kernel (a nested /dev/kvm may not: the guest hangs in
its first second); otherwise QEMU emulates (TCG), several times slower.
"""

from __future__ import annotations

import shlex
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from .image import Image
from .pebble import free_port, stop_pids

MEMORY_MB = 1024
KERNEL_STARTED = "Run /init as init process"  # the kernel is up, in the initrd


class GuestError(RuntimeError):
    """The guest did not come up, or a command in it failed; the message says which."""


@dataclass
class Machine:
    image: Image
    folder: Path
    ssh_port: int = field(default_factory=free_port)
    http_port: int = field(default_factory=free_port)
    https_port: int = field(default_factory=free_port)
    app_port: int = field(default_factory=free_port)  # the guest's 8000, behind its firewall
    accel: str = "tcg"
    pid: int | None = None

    @property
    def console(self) -> Path:
        return self.folder / "console.log"

    def argv(self, accel: str) -> list[str]:
        forwards = ",".join(f"hostfwd=tcp:127.0.0.1:{host}-:{guest}" for host, guest in (
            (self.ssh_port, 22), (self.http_port, 80), (self.https_port, 443),
            (self.app_port, 8000)))
        speed = (["-accel", "kvm", "-cpu", "host"] if accel == "kvm"
                 else ["-accel", "tcg,tb-size=512", "-cpu", "max"])
        return ["qemu-system-x86_64", *speed, "-m", str(MEMORY_MB), "-smp", "1",
                "-kernel", str(self.image.kernel), "-initrd", str(self.image.initrd),
                "-append", "root=/dev/vda rw console=ttyS0 net.ifnames=1",
                "-drive", f"file={self.folder / 'overlay.qcow2'},if=virtio,format=qcow2",
                "-netdev", f"user,id=net0,{forwards}", "-device", "virtio-net-pci,netdev=net0",
                "-display", "none", "-serial", f"file:{self.console}", "-monitor", "none"]

    def boot(self, log, timeout: float = 900) -> float:
        """Start QEMU on a fresh overlay; return the seconds from its (last) start until ssh
        answered."""
        self.folder.mkdir(parents=True, exist_ok=True)
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b",
                        str(self.image.disk), str(self.folder / "overlay.qcow2")], check=True)
        if _kvm_usable():
            self._start("kvm")
            if not self._kernel_started(30):  # a nested module that hangs or fails the kernel
                stop_pids([self.pid])
                self._start("tcg")
        else:
            self._start("tcg")
        log(f"accel: {self.accel} (QEMU pid {self.pid})")
        self.wait_for_ssh(timeout)
        return time.monotonic() - self._started

    def _start(self, accel: str) -> None:
        self.console.write_text("")
        self._started = time.monotonic()
        self.accel = accel
        process = subprocess.Popen(self.argv(accel), stdout=subprocess.DEVNULL,
                                   stderr=open(self.folder / "qemu.log", "a"),
                                   start_new_session=True)  # outlives us with VM_KEEP=1
        self.pid = process.pid

    def _kernel_started(self, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and self.pid is not None and _running(self.pid):
            if KERNEL_STARTED in self.console.read_text(errors="replace"):
                return True
            time.sleep(0.5)
        return False

    def wait_for_ssh(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.pid is not None and not _running(self.pid):
                raise GuestError(f"QEMU exited: {(self.folder / 'qemu.log').read_text()[-500:]}")
            if self.ssh("true", timeout=30, check=False).returncode == 0:
                return
            time.sleep(2)
        raise GuestError(f"no ssh after {timeout:.0f} s; console: {self.console}")

    # --- talking to it -----------------------------------------------------------------------

    def ssh_options(self) -> list[str]:
        return ["-i", str(self.image.key), "-p", str(self.ssh_port), "-o", "BatchMode=yes",
                "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=20"]

    def ssh_command(self, user: str = "root") -> str:
        return shlex.join(["ssh", *self.ssh_options(), f"{user}@127.0.0.1"])

    def ssh(self, script: str, timeout: float = 1800, check: bool = True,
            input: str | None = None) -> subprocess.CompletedProcess:
        """Run `script` (sh) as root in the guest."""
        try:
            done = subprocess.run(["ssh", *self.ssh_options(), "root@127.0.0.1", script],
                                  capture_output=True, text=True, timeout=timeout, input=input)
        except subprocess.TimeoutExpired:
            if check:
                raise GuestError(f"timed out after {timeout:.0f} s: {script}") from None
            return subprocess.CompletedProcess([], 124, "", f"timed out: {script}")
        if check and done.returncode != 0:
            tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-20:])
            raise GuestError(f"`{script}` failed ({done.returncode}):\n{tail}")
        return done

    def copy_in(self, local: Path, remote: str) -> None:
        scp = ["scp", *self.ssh_options(), str(local), f"root@127.0.0.1:{remote}"]
        scp[scp.index("-p")] = "-P"  # scp spells the port -P
        subprocess.run(scp, check=True, capture_output=True, timeout=300)

    def git_ssh(self) -> str:
        """GIT_SSH_COMMAND for pushes to the guest (same key, the site's user)."""
        return shlex.join(["ssh", *self.ssh_options()])

    def stop(self) -> None:
        if self.pid is not None:
            stop_pids([self.pid])


def _running(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and ") Z " not in stat.read_text()


def _kvm_usable() -> bool:
    kvm = Path("/dev/kvm")
    try:
        with open(kvm, "rb+"):
            return True
    except OSError:
        return False
