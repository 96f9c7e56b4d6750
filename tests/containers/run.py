"""`make container-test`: our own dockerd, the stand-in base images, then the image alone and the
compose stack as docs/compose.md runs them. Everything started is stopped, also on failure."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from ..services import free_port
from . import compose_stack, image_alone
from .checks import Checks, Stop
from .engine import DockerEngine, EngineUnavailable, HostState, engine_missing
from .guide import Guide
from .standins import REPO, ensure_standins

REQUIRE = os.environ.get("INKWELL_REQUIRE_SERVICES") == "1"


def main() -> int:
    checks = Checks()
    reason = engine_missing()
    if reason:
        if REQUIRE:
            checks.fail("a working Docker engine (INKWELL_REQUIRE_SERVICES=1)", reason)
        else:
            print(f"skip: {reason}")
        print(checks.summary())
        return 1 if checks.failed else 0
    # CI's timeout or Ctrl-C: unwind through every `finally` below, so nothing is left running.
    signal.signal(signal.SIGTERM, _interrupt)
    before = HostState()
    measures: dict[str, object] = {}
    try:
        run_all(checks, measures)
    except EngineUnavailable as e:
        if REQUIRE:
            checks.fail("a working Docker engine (INKWELL_REQUIRE_SERVICES=1)", str(e))
        else:
            print(f"skip: {e}")
    except (Stop, KeyboardInterrupt) as e:
        if isinstance(e, KeyboardInterrupt):
            checks.fail("container-test", "interrupted")
    except Exception as e:  # a failure outside any check: still one line, still cleaned up
        checks.fail("container-test", f"{type(e).__name__}: {e}")
    checks.run("the host is as before (iptables, FORWARD policy, ip_forward, bridges)",
               lambda: _host_as_before(before))
    measures["wall time s"] = round(time.monotonic() - checks.started, 1)
    for name, value in measures.items():
        print(f"     measured: {name} = {value}")
    print(checks.summary())
    return 1 if checks.failed else 0


def run_all(checks: Checks, measures: dict) -> None:
    project = copy_repository()
    try:
        with DockerEngine() as engine:
            checks.note(f"dockerd {engine.root} (bridge {engine.bridge})")
            checks.run("stand-in base images (tests/containers/standins/)",
                       lambda: ensure_standins(engine, checks.note), needed=True)
            http_port, https_port, app_port = free_port(), free_port(), free_port()
            guide = Guide(engine, project, {"COMPOSE_PROJECT_NAME": project.name.lower(),
                                            "PORT": str(app_port),
                                            "PATH": "/usr/bin:/bin:/usr/sbin:/sbin"})
            checks.run("the guide's .env block writes every setting",
                       lambda: compose_stack.write_env(guide, http_port, https_port),
                       needed=True)
            compose_stack.write_pebble_files(project)
            image_alone.build_image(checks, guide, measures)
            try:
                image_alone.image_alone(checks, guide, app_port, measures)
            except Stop:
                pass
            finally:
                image_alone.cleanup(guide)
            stack = compose_stack.Stack(guide, http_port, https_port)
            try:
                compose_stack.compose_stack(checks, guide, stack, measures)
            finally:
                compose_stack.cleanup(guide)
    finally:
        shutil.rmtree(project, ignore_errors=True)


def copy_repository() -> Path:
    """The working tree's files (tracked and new, not ignored) in a temporary folder: the
    build context and compose project, with its own .env, never the checkout's."""
    project = Path(tempfile.mkdtemp(prefix="inkwellct"))
    names = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO,
                           capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, names):
        source = REPO / name
        if source.is_file() and name != ".env":
            (project / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, project / name)
    return project


def _host_as_before(before: HostState) -> str:
    after = HostState()
    changed = [path for path in before.sysctls if after.sysctls[path] != before.sysctls[path]
               and before.sysctls[path] is not None]
    for table in before.rules:
        policies = {r for r in before.rules[table] if r.startswith("-P ")}
        changed += sorted(policies ^ {r for r in after.rules[table] if r.startswith("-P ")})
        changed += [r for r in after.rules[table] if "DOCKER" in r or "inkct" in r]
    changed += sorted(link for link in after.links - before.links
                      if link.startswith(("inkct", "br-", "veth", "docker0")))
    assert not changed, f"left on the host: {changed}"
    return "nothing of dockerd's left"


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
