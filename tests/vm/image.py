"""The guest: a fresh Debian 12 server as a provider hands it over (ssh with your key for root,
ufw enabled with ssh allowed, nothing else), built by debootstrap into a sparse ext4 image.

The image is cached under CACHE by a hash of its recipe (the package list, this file, the
host's proxy CA and apt settings copied in): a change to any of them builds a new one. Each run
boots a copy-on-write overlay of it, so the cached image never changes.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

CACHE = Path(os.environ.get("INKWELL_VM_CACHE", "/var/cache/inkwell-vm-test"))
SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"  # the host's apt mirror (a snapshot, via its proxy)
PACKAGES = ("systemd-sysv", "linux-image-cloud-amd64", "openssh-server", "ca-certificates",
            "sudo", "dbus", "libpam-systemd", "iproute2", "ufw")
DISK_SIZE = "8G"
# What the guest needs from this host to reach the mirror and PyPI through the host's proxy:
# its CA and the snapshot mirror's apt settings (Valid-Until and Date checks off).
HOST_CAS = sorted(Path("/usr/local/share/ca-certificates").glob("*.crt"))
HOST_APT = [p for p in (Path("/etc/apt/apt.conf.d/99artifact-registry"),) if p.exists()]
HOST_SOURCES = Path("/etc/apt/sources.list.d/debian.sources")

NETWORK = """[Match]
Name=en* eth*

[Network]
DHCP=yes
"""
# QEMU's user-mode network forwards DNS at 10.0.2.3.
RESOLV = "nameserver 10.0.2.3\n"


class ImageError(RuntimeError):
    """The image could not be built; the message says which command failed."""


@dataclass(frozen=True)
class Image:
    disk: Path  # raw ext4, the root filesystem
    kernel: Path
    initrd: Path
    key: Path  # root's ssh key (private; .pub beside it)


def recipe_hash() -> str:
    h = hashlib.sha256()
    h.update(Path(__file__).read_bytes())
    for path in [*HOST_CAS, *HOST_APT, HOST_SOURCES]:
        h.update(path.name.encode())
        h.update(path.read_bytes() if path.exists() else b"-")
    return h.hexdigest()[:16]


def image(log) -> Image:
    """The cached image for this recipe, built first on a miss."""
    folder = CACHE / recipe_hash()
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / ".lock", "w") as lock:  # two runs at once build it once
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / "disk.img").exists():
            log(f"building the guest image (cache miss: {folder})")
            _build(folder)
    return Image(folder / "disk.img", folder / "vmlinuz", folder / "initrd.img",
                 folder / "id_ed25519")


def _run(argv: list[str], timeout: int = 1800, **kwargs) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kwargs)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise ImageError(f"{' '.join(argv[:4])}... failed ({done.returncode}):\n{tail}")


def _build(folder: Path) -> None:
    work = Path(tempfile.mkdtemp(prefix="build-", dir=CACHE))
    try:
        root = work / "root"
        _run(["debootstrap", f"--include={','.join(PACKAGES)}", "--components=main", SUITE,
              str(root), MIRROR])
        _configure(root, work)
        _run(["truncate", "-s", DISK_SIZE, str(work / "disk.img")])
        _run(["mkfs.ext4", "-q", "-L", "root", "-d", str(root), str(work / "disk.img")])
        boot = root / "boot"
        shutil.copyfile(next(boot.glob("vmlinuz-*")), work / "vmlinuz")
        shutil.copyfile(next(boot.glob("initrd.img-*")), work / "initrd.img")
        shutil.rmtree(root)
        work.rename(folder)
    finally:
        if work.exists():
            subprocess.run(["rm", "-rf", "--one-file-system", str(work)])


def _configure(root: Path, work: Path) -> None:
    def write(path: str, text: str, mode: int = 0o644) -> None:
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        target.chmod(mode)

    _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "vm-test",
          "-f", str(work / "id_ed25519")])
    write("/root/.ssh/authorized_keys", (work / "id_ed25519.pub").read_text(), 0o600)
    (root / "root/.ssh").chmod(0o700)
    write("/etc/hostname", "blog\n")
    write("/etc/hosts", "127.0.0.1 localhost\n127.0.1.1 blog\n")
    write("/etc/fstab", "/dev/vda / ext4 errors=remount-ro 0 1\n")
    write("/etc/systemd/network/20-wired.network", NETWORK)
    (root / "etc/resolv.conf").unlink(missing_ok=True)
    write("/etc/resolv.conf", RESOLV)
    for ca in HOST_CAS:
        shutil.copyfile(ca, root / "usr/local/share/ca-certificates" / ca.name)
    for conf in HOST_APT:
        shutil.copyfile(conf, root / "etc/apt/apt.conf.d" / conf.name)
    if HOST_SOURCES.exists():
        shutil.copyfile(HOST_SOURCES, root / "etc/apt/sources.list.d/debian.sources")
        (root / "etc/apt/sources.list").unlink(missing_ok=True)
    chroot = ["chroot", str(root)]
    _run([*chroot, "update-ca-certificates"])
    _run([*chroot, "systemctl", "enable", "systemd-networkd", "ssh"])
    # ufw on with ssh allowed, as on the DigitalOcean server of the stories. `ufw enable`
    # needs the kernel's netfilter, so the chroot writes what it would: the rule and ENABLED.
    _run([*chroot, "ufw", "allow", "OpenSSH"])
    conf = root / "etc/ufw/ufw.conf"
    conf.write_text(conf.read_text().replace("ENABLED=no", "ENABLED=yes"))
    _run([*chroot, "systemctl", "enable", "ufw"])
    _run([*chroot, "apt-get", "clean"])
