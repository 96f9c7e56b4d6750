"""A Docker engine of our own: dockerd with its own data root, exec root, pidfile, socket and
bridge in a temporary folder, stopped by its PID at the end, with what it changed on the host
(iptables chains and rules, the FORWARD policy, ip_forward, bridges) put back as it was.

There is no systemd here (and CI machines are throwaway), so we never touch a system dockerd:
the CLI talks to ours through DOCKER_HOST.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

# Debian's docker.io: /usr/local/bin/docker (first on PATH here) is a newer client than this engine.
DOCKER = "/usr/bin/docker"
DOCKERD = "/usr/sbin/dockerd"
TMPFS_SIZE = "8g"  # a cold run peaks at about 4 GB: stand-ins, the image's layers, volumes
SYSCTLS = ("/proc/sys/net/ipv4/ip_forward", "/proc/sys/net/bridge/bridge-nf-call-iptables",
           "/proc/sys/net/bridge/bridge-nf-call-ip6tables")


class EngineUnavailable(RuntimeError):
    """dockerd is installed but does not come up on this machine."""


def engine_missing() -> str | None:
    """Why no engine can run here, or None."""
    for tool in (DOCKER, DOCKERD, "/usr/bin/docker-compose"):
        if not os.path.exists(tool):
            return f"{tool} is not installed (Debian: apt install docker.io docker-compose)"
    if os.geteuid() != 0:
        return "dockerd needs root"
    if not shutil.which("iptables"):
        return "iptables is not installed"
    return None


class HostState:
    """What dockerd changes on the host, recorded before it starts and put back after it stops."""

    def __init__(self) -> None:
        self.sysctls = {path: _read(path) for path in SYSCTLS}
        self.rules = {table: _iptables_rules(table) for table in ("filter", "nat")}
        self.links = _links()

    def restore(self) -> list[str]:
        """Undo dockerd's changes; returns what was undone (for the log)."""
        undone: list[str] = []
        for table, before in self.rules.items():
            now = _iptables_rules(table)
            # Rules first (they may jump to DOCKER chains), then the chains, then policies.
            for rule in now:
                if rule.startswith("-A ") and rule not in before and _docker_made(rule):
                    _iptables(table, "-D", *rule[3:].split())
                    undone.append(f"{table}: {rule}")
            for rule in now:
                if rule.startswith("-N ") and rule not in before:
                    chain = rule.split()[1]
                    _iptables(table, "-F", chain)
            for rule in now:
                if rule.startswith("-N ") and rule not in before:
                    chain = rule.split()[1]
                    _iptables(table, "-X", chain)
                    undone.append(f"{table}: chain {chain}")
            for rule in before:
                if rule.startswith("-P ") and rule not in now:
                    _iptables(table, *rule.split())
                    undone.append(f"{table}: policy {rule}")
        for link in _links() - self.links:
            if link.startswith(("br-", "veth", "inkct")) or link == "docker0":
                subprocess.run(["ip", "link", "delete", link], capture_output=True)
                undone.append(f"link {link}")
        for path, value in self.sysctls.items():
            # bridge-nf-call-* appear when dockerd loads br_netfilter (on, by default): with no
            # such module before, bridged traffic skipped iptables, which "0" restores.
            value = "0\n" if value is None and _read(path) is not None else value
            if value is not None and _read(path) != value:
                Path(path).write_text(value)
                undone.append(f"{path}={value.strip()}")
        return undone


class DockerEngine:
    """`with DockerEngine() as engine:` runs dockerd until the block ends, however it ends."""

    def __init__(self, bridge_subnet: str = "10.213.0.1/24",
                 address_pool: str = "10.214.0.0/16") -> None:
        self.root = Path(tempfile.mkdtemp(prefix="inkwell-dockerd-"))
        self.socket = self.root / "docker.sock"
        # Our own bridge, so everything the engine makes is clearly ours (and removed after).
        self.bridge = f"inkct{os.getpid() % 100000}"
        self.bridge_subnet = bridge_subnet
        self.address_pool = address_pool
        self.env = {**os.environ, "DOCKER_HOST": f"unix://{self.socket}",
                    "DOCKER_BUILDKIT": "0", "COMPOSE_DOCKER_CLI_BUILD": "0"}
        self.env.pop("DOCKER_CONTEXT", None)
        self.process: subprocess.Popen | None = None
        self.host: HostState | None = None
        self.log = self.root / "dockerd.log"
        self.mounted = False

    def __enter__(self) -> DockerEngine:
        self.host = HostState()
        try:
            self._start()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _start(self) -> None:
        # Images and containers in memory: removing ~100,000 files from this disk (discard on
        # delete) took minutes; unmounting takes no time.
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE},mode=0700", "tmpfs",
                        str(self.root)], check=True)
        self.mounted = True
        subprocess.run(["ip", "link", "add", self.bridge, "type", "bridge"], check=True)
        subprocess.run(["ip", "addr", "add", self.bridge_subnet, "dev", self.bridge], check=True)
        subprocess.run(["ip", "link", "set", self.bridge, "up"], check=True)
        command = [
            DOCKERD,
            f"--data-root={self.root / 'data'}", f"--exec-root={self.root / 'exec'}",
            f"--pidfile={self.root / 'dockerd.pid'}", f"--host=unix://{self.socket}",
            f"--bridge={self.bridge}",
            f"--default-address-pool=base={self.address_pool},size=24",
            # The uplink's MTU (1400 on some clouds): with 1500 inside, TLS to PyPI stalls.
            f"--mtu={uplink_mtu()}",
        ]
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise EngineUnavailable(
                    f"dockerd exited {self.process.returncode}:\n{self.log_tail()}")
            if self.run("info", check=False, capture=True).returncode == 0:
                return
            time.sleep(0.5)
        raise EngineUnavailable(f"dockerd did not answer `docker info` in 60 s:\n{self.log_tail()}")

    def __exit__(self, *exc_info: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # dockerd stops its containers (10 s each at most) and exits
            try:
                self.process.wait(timeout=90)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._stop_leftover_shims()
        subprocess.run(["ip", "link", "delete", self.bridge], capture_output=True)
        if self.host is not None:
            self.host.restore()
        unmount_below(self.root)
        if self.mounted:
            subprocess.run(["umount", "-l", str(self.root)], capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)

    def _stop_leftover_shims(self) -> None:
        """containerd and its shims are dockerd's children; one left behind is stopped by PID."""
        for pidfile in self.root.glob("exec/**/*.pid"):
            try:
                pid = int(pidfile.read_text().strip())
                os.kill(pid, 15)
            except (ValueError, OSError):
                pass

    def run(self, *args: str, check: bool = True, capture: bool = False, timeout: float = 600,
            input: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
        """`docker ARGS` against this engine."""
        return subprocess.run([DOCKER, *args], env=self.env, check=check, text=True,
                              capture_output=capture, timeout=timeout, input=input, cwd=cwd)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def uplink_mtu() -> int:
    route = subprocess.run(["ip", "route", "show", "default"], capture_output=True, text=True)
    match = re.search(r"\bdev (\S+)", route.stdout)
    return int(_read(f"/sys/class/net/{match.group(1)}/mtu") or 1500) if match else 1500


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text()
    except OSError:
        return None


def _iptables_rules(table: str) -> list[str]:
    result = subprocess.run(["iptables", "-t", table, "-S"], capture_output=True, text=True)
    return result.stdout.splitlines()


def _iptables(table: str, *args: str) -> None:
    subprocess.run(["iptables", "-t", table, *args], capture_output=True)


def _docker_made(rule: str) -> bool:
    return bool(re.search(r"DOCKER|docker0|br-[0-9a-f]+|inkct\d+|10\.21[34]\.", rule))


def _links() -> set[str]:
    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
    return {line.split(":")[1].strip().split("@")[0] for line in out.splitlines() if ":" in line}


def unmount_below(root: Path) -> None:
    """Mounts left under `root`: dockerd's overlays and netns, debootstrap's /proc and /sys."""
    mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    for mount in sorted((m for m in mounts if m.startswith(f"{root}/")), reverse=True):
        subprocess.run(["umount", "-l", mount], capture_output=True)
