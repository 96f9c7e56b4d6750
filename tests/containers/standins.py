"""Stand-ins for the Docker Hub images the project's files name (Docker Hub is out of reach here),
built locally under those exact tags from Debian's packages. Recipes: tests/containers/standins/.

debian:bookworm-slim is made as the official one is: `debootstrap --variant=minbase bookworm`
from the Debian mirror apt already uses, then `docker import`. The built images are saved to
CACHE_DIR under a hash of their recipes, so a second run loads them in seconds; a fresh machine
(or a changed recipe) builds them from scratch.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from .engine import DockerEngine, unmount_below

RECIPES = Path(__file__).parent / "standins"
REPO = Path(__file__).resolve().parents[2]
CACHE_DIR = Path(os.environ.get("INKWELL_CONTAINER_CACHE", "/var/cache/inkwell-container-test"))
PROXY_CA_DIR = Path("/usr/local/share/ca-certificates")
DEBIAN = "debian:bookworm-slim"
PEBBLE = "inkwell-test/pebble:latest"
# The tag each image plays; built in this order (each on the ones before it).
IMAGES = {
    "python": "python:3.11-slim-bookworm",
    "postgres": "postgres:16-bookworm",
    "nginx": "nginx:1.27-bookworm",
    "s3": "",  # the tag compose.yaml gives MinIO, read from the file
    "certbot": "",  # the tag compose.yaml gives certbot
    "pebble": PEBBLE,
}


def compose_image(service: str) -> str:
    """The image compose.yaml names for `service`."""
    text = (REPO / "compose.yaml").read_text()
    match = re.search(rf"^  {service}:\n(?:    .*\n|\n)*?    image: (\S+)", text, re.M)
    assert match, f"compose.yaml has no image for {service}"
    return match.group(1)


def tags() -> dict[str, str]:
    return {**IMAGES, "s3": compose_image("minio"), "certbot": compose_image("certbot")}


def moto_version() -> str:
    lock = (REPO / "requirements-dev.lock").read_text()
    return re.search(r"^moto==(\S+)", lock, re.M).group(1)


def mirror() -> str:
    """The Debian mirror apt uses on this machine (deb822 or one-line sources)."""
    for source in [Path("/etc/apt/sources.list.d/debian.sources"), Path("/etc/apt/sources.list")]:
        if source.exists():
            match = re.search(r"(?:URIs:|^deb)\s+(\S+/debian)\b", source.read_text(), re.M)
            if match:
                return match.group(1)
    return "http://deb.debian.org/debian"


def recipes_hash() -> str:
    digest = hashlib.sha256()
    for path in sorted(RECIPES.rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(RECIPES)).encode() + b"\0" + path.read_bytes())
    for ca in sorted(PROXY_CA_DIR.glob("*.crt")):
        digest.update(ca.read_bytes())
    digest.update(f"{mirror()} {moto_version()} {sorted(tags().items())}".encode())
    return digest.hexdigest()[:16]


def ensure_standins(engine: DockerEngine, log) -> str:
    """Every stand-in image in `engine`, loaded from the cache or built; returns how."""
    cached = CACHE_DIR / f"standins-{recipes_hash()}.tar"
    if cached.exists():
        engine.run("load", "-i", str(cached), capture=True)
        return f"loaded from {cached}"
    build_debian(engine, log)
    for name, tag in tags().items():
        log(f"building the {name} stand-in as {tag}")
        build_standin(engine, name, tag)
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    for old in CACHE_DIR.glob("standins-*.tar"):
        old.unlink()
    partial = cached.with_suffix(".partial")
    engine.run("save", "-o", str(partial), DEBIAN, *tags().values(), capture=True)
    partial.rename(cached)
    return f"built from tests/containers/standins/, saved to {cached}"


def build_debian(engine: DockerEngine, log) -> None:
    log(f"debootstrap --variant=minbase bookworm from {mirror()}")
    root = Path(tempfile.mkdtemp(prefix="inkwell-debootstrap-"))
    try:
        subprocess.run(["debootstrap", "--variant=minbase", "bookworm", str(root), mirror()],
                       check=True, capture_output=True, timeout=900)
        # As the official image: no apt caches, no docs, apt told not to keep .debs.
        (root / "etc/apt/apt.conf.d/docker-clean").write_text(
            'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb || true"; };\n'
            'APT::Install-Recommends "false";\n'
        )
        shutil.rmtree(root / "var/lib/apt/lists", ignore_errors=True)
        (root / "var/lib/apt/lists/partial").mkdir(parents=True)
        shutil.rmtree(root / "var/cache/apt/archives", ignore_errors=True)
        (root / "var/cache/apt/archives/partial").mkdir(parents=True)
        tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
        subprocess.run(["/usr/bin/docker", "import", "--change", 'CMD ["bash"]', "-", DEBIAN],
                       stdin=tar.stdout, env=engine.env, check=True, capture_output=True)
        tar.wait()
    finally:
        unmount_below(root)
        shutil.rmtree(root, ignore_errors=True)


def build_standin(engine: DockerEngine, name: str, tag: str) -> None:
    context = Path(tempfile.mkdtemp(prefix=f"inkwell-standin-{name}-"))
    try:
        shutil.copytree(RECIPES / name, context, dirs_exist_ok=True)
        if name == "python":
            (context / "ca").mkdir()
            for ca in PROXY_CA_DIR.glob("*.crt"):
                shutil.copy(ca, context / "ca")
        args = ["--build-arg", f"MOTO_VERSION={moto_version()}"] if name == "s3" else []
        result = engine.run("build", "-q", "-t", tag, *args, str(context), check=False,
                            capture=True, timeout=1200)
        if result.returncode != 0:
            raise RuntimeError(f"building the {name} stand-in failed:\n{result.stderr[-3000:]}")
    finally:
        shutil.rmtree(context, ignore_errors=True)

