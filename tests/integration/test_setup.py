"""`inkwell deploy setup` on this very machine, up to the step before nginx and systemd (this
machine has no systemd as PID 1): packages, a system user, its ssh key, the sudo rule, Inkwell
installed for that user, the deploy root, and every file rendered and accepted by nginx -t.

It creates a user and writes /etc/sudoers.d, so it runs only where .ci/run says so
(INKWELL_SYSTEM_TESTS=1, as root on a throwaway machine); everyone else skips it.
"""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

from inkwell.deploy.nginx import check_site
from inkwell.deploy.setup import RENDERED, SUDOERS

from ..services import BIN

REPO = Path(__file__).resolve().parents[2]
# /etc/inkwell and /etc/sudoers.d are one per machine: one worker runs these tests one at a
# time (make test: --dist loadfile).
pytestmark = pytest.mark.skipif(
    os.environ.get("INKWELL_SYSTEM_TESTS") != "1" or os.geteuid() != 0,
    reason="changes the machine (a user, /etc/sudoers.d): only in CI (INKWELL_SYSTEM_TESTS=1)",
)


@pytest.fixture
def server():
    base = Path(tempfile.mkdtemp(prefix="inkwell-setup-"))
    base.chmod(0o755)  # the new user must reach its home below it
    user = f"inkw{uuid.uuid4().hex[:8]}"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "me@laptop",
                    "-f", str(base / "key")], check=True)
    saved = SUDOERS.read_bytes() if SUDOERS.exists() else None
    assert not RENDERED.exists(), f"{RENDERED} exists on this machine: not a throwaway one?"
    yield base / "srv", user, base / "key.pub"
    subprocess.run(["/usr/sbin/userdel", user], capture_output=True)
    if saved is None:
        SUDOERS.unlink(missing_ok=True)
    else:
        SUDOERS.write_bytes(saved)
    shutil.rmtree(RENDERED, ignore_errors=True)
    shutil.rmtree(base, ignore_errors=True)


def _setup(root: Path, user: str, *more: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "inkwell"), "deploy", "setup", "--site-url", "https://blog.example.com",
         "--no-certificate", "--root", str(root), "--user", user, "--source", str(REPO), *more],
        capture_output=True, text=True, timeout=900,
    )


def test_setup_prepares_the_server_and_can_run_again(server):
    root, user, key = server
    done = _setup(root, user, "--ssh-key", str(key), "--until", "files")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "[7/12] files" in done.stdout and "nginx -t accepts the site" in done.stdout
    # The tools install is a copy of the venv running setup when that venv has every pin of
    # the lock files and the server's python3 (the guide's; tests/vm runs that path); this
    # one was made from another Python, so pip installs the pins.
    system = Path(shutil.which("python3", path="/usr/local/bin:/usr/bin:/bin")).resolve()
    how = f"copied from {BIN.parent}" if Path(sys._base_executable).resolve() == system else "pip"
    assert f"installed in {root / 'tools'} ({how}" in done.stdout, done.stdout

    entry = pwd.getpwnam(user)
    assert entry.pw_dir == str(root) and entry.pw_shell == "/usr/bin/git-shell"
    keys = root / ".ssh" / "authorized_keys"
    assert keys.read_text().strip() == key.read_text().strip()
    assert stat.S_IMODE(keys.stat().st_mode) == 0o600 and keys.stat().st_uid == entry.pw_uid

    assert SUDOERS.read_text() == (
        f"{user} ALL=(root) NOPASSWD: /usr/bin/systemctl restart inkwell.service\n")
    assert stat.S_IMODE(SUDOERS.stat().st_mode) == 0o440
    allowed = subprocess.run(["sudo", "-l", "-U", user], capture_output=True, text=True).stdout
    assert "(root) NOPASSWD: /usr/bin/systemctl restart inkwell.service" in allowed

    runs = subprocess.run(["/usr/sbin/runuser", "-u", user, "--", str(root / "tools/bin/inkwell"),
                           "deploy", "--help"], capture_output=True, text=True, cwd=root)
    assert runs.returncode == 0, runs.stderr
    hook = (root / "repo.git" / "hooks" / "pre-receive").read_text()
    assert str(root / "tools/bin/inkwell") in hook

    assert stat.S_IMODE(root.stat().st_mode) == 0o755  # nginx reaches static files and media

    env_file = root / "shared" / ".env"
    assert env_file.stat().st_uid == entry.pw_uid  # edited as the user, still its own
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert "TLS_CERT=/etc/ssl/certs/ssl-cert-snakeoil.pem" in env_file.read_text()
    assert f"INKWELL_USER={user}" in env_file.read_text()
    # What root's nginx and systemd load is root's: the site's user cannot change it.
    site = RENDERED / "nginx" / "inkwell.conf"
    assert site.stat().st_uid == 0 and RENDERED.stat().st_uid == 0
    assert check_site(site) is None
    # nginx reads static files of whichever release `current` names
    assert f"alias {root}/current/.venv/lib/python" in site.read_text()
    unit = (RENDERED / "systemd" / "inkwell.service").read_text()
    assert f"WorkingDirectory={root}/current" in unit and f"User={user}\n" in unit

    again = _setup(root, user, "--ssh-key", str(key), "--until", "files")
    assert again.returncode == 0, again.stdout + again.stderr
    for step in ("packages", "user", "ssh-key", "sudo", "tools"):
        line = again.stdout.split(f"] {step}\n", 1)[1].splitlines()[0]
        assert "already" in line, (step, line)
    assert keys.read_text().count("me@laptop") == 1


def test_the_key_goes_on_a_line_of_its_own(server):
    root, user, key = server
    done = _setup(root, user, "--until", "user")
    assert done.returncode == 0, done.stdout + done.stderr
    keys = root / ".ssh" / "authorized_keys"
    subprocess.run(["/usr/sbin/runuser", "-u", user, "--", "sh", "-c",
                    f"mkdir -p {keys.parent} && printf 'ssh-ed25519 AAAAold old@laptop' > {keys}"],
                   check=True)  # an earlier key, no newline at its end
    done = _setup(root, user, "--ssh-key", str(key), "--until", "ssh-key")
    assert done.returncode == 0, done.stdout + done.stderr
    assert keys.read_text().splitlines() == ["ssh-ed25519 AAAAold old@laptop",
                                             key.read_text().strip()]


def _served_by_stand_in(root: Path, user: str, port: int) -> subprocess.Popen:
    """After `deploy setup --until files`: the stand-in for systemd (service_manager.py) holding
    port `port` as the site's user, and shared/.env pointing deploys at it; returns it running."""
    entry = pwd.getpwnam(user)
    manager = root / "service_manager.py"
    shutil.copy(Path(__file__).with_name("service_manager.py"), manager)
    os.chown(manager, entry.pw_uid, entry.pw_gid)
    python = str(root / "tools" / "bin" / "python")
    env_file = root / "shared" / ".env"
    env_file.write_text(env_file.read_text() + "\n".join([
        f"APP_BIND=127.0.0.1:{port}", "WEB_CONCURRENCY=1", "HEALTH_TIMEOUT=60",
        f"RESTART_COMMAND={python} {manager} restart {root}", ""]))
    return subprocess.Popen(["/usr/sbin/runuser", "-u", user, "--", python, str(manager),
                             "serve", str(root), str(port)], cwd=root)


def test_the_first_release_step_deploys_this_checkout_as_the_user(server):
    """Step 11 on its own (steps 8-10 need systemd): the checkout handed over as a bundle,
    pushed as the site's user, built by the hook with the tools install and started by a
    stand-in for systemd that runs as that user too."""
    from inkwell.deploy.diagnose import get
    from inkwell.deploy.setup import Options, _first_release

    from ..services import free_port

    root, user, key = server
    done = _setup(root, user, "--until", "files")
    assert done.returncode == 0, done.stdout + done.stderr
    entry = pwd.getpwnam(user)
    port = free_port()
    service = _served_by_stand_in(root, user, port)
    try:
        lines: list[str] = []
        _first_release(Options(site_url="https://blog.example.com", source=REPO, root=root,
                               user=user), lines.append)
        assert any("is live" in line for line in lines), lines
        assert any("copied the virtualenv tools (same lock files)" in line for line in lines), \
            lines
        release = os.readlink(root / "current").rsplit("/", 1)[-1]
        status, body, _ = get(f"127.0.0.1:{port}", "/healthz", "blog.example.com", 10)
        assert status == 200 and release.encode() in body
        assert (root / "releases" / release).stat().st_uid == entry.pw_uid  # made by the user
        head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True,
                              text=True).stdout.strip()
        assert release.endswith(head[:10])
    finally:
        service.terminate()
        service.wait(60)


def test_setup_refuses_what_it_cannot_do_here_before_changing_anything(server):
    root, user, _ = server
    if Path("/run/systemd/system").is_dir():
        pytest.skip("this machine runs systemd")
    done = _setup(root, user)
    assert done.returncode == 1 and "systemd is not running" in done.stderr
    assert "Traceback" not in done.stderr
    assert not root.exists()
    with pytest.raises(KeyError):
        pwd.getpwnam(user)


def test_a_push_over_ssh_through_git_shell_deploys_as_the_user(server, tmp_path):
    """What a person does after `deploy setup`: `git push` over ssh with their key. sshd (Debian's,
    its defaults: PAM on) runs on a loopback port; the user's login shell is git-shell, so the
    push is the one thing that key may do; the hook builds and switches the release as that user
    and the stand-in for systemd restarts it."""
    from inkwell.deploy.diagnose import get

    from ..services import free_port, need_binary

    need_binary("sshd")
    root, user, key = server
    done = _setup(root, user, "--ssh-key", str(key), "--until", "files")
    assert done.returncode == 0, done.stdout + done.stderr
    entry = pwd.getpwnam(user)
    app_port, ssh_port = free_port(), free_port()

    host_key = tmp_path / "host_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(host_key)],
                   check=True)
    config = tmp_path / "sshd_config"
    config.write_text("\n".join([
        f"Port {ssh_port}", "ListenAddress 127.0.0.1", f"HostKey {host_key}",
        f"PidFile {tmp_path / 'sshd.pid'}", "UsePAM yes", "PasswordAuthentication no",
        "KbdInteractiveAuthentication no", f"AllowUsers {user}", ""]))
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation folder
    sshd = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", str(config)],
                            stderr=subprocess.PIPE, text=True)
    service = _served_by_stand_in(root, user, app_port)
    try:
        private_key = key.with_suffix("")
        ssh = (f"ssh -i {private_key} -p {ssh_port} -o BatchMode=yes -o IdentitiesOnly=yes "
               "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null")
        env = {**os.environ, "GIT_SSH_COMMAND": ssh}
        # The key opens no shell: git-shell refuses anything but git's own commands.
        shell = subprocess.run([*ssh.split(), f"{user}@127.0.0.1", "id"], capture_output=True,
                               text=True, timeout=60)
        assert shell.returncode != 0 and "uid=" not in shell.stdout, shell.stdout + shell.stderr
        work = tmp_path / "work"
        subprocess.run(["git", "clone", "-q", str(REPO), str(work)], check=True)
        pushed = subprocess.run(
            ["git", "-C", str(work), "push", f"ssh://{user}@127.0.0.1{root}/repo.git",
             "HEAD:main"], env=env, capture_output=True, text=True, timeout=900)
        assert pushed.returncode == 0, pushed.stdout + pushed.stderr
        assert "is live" in pushed.stderr
        release = os.readlink(root / "current").rsplit("/", 1)[-1]
        status, body, _ = get(f"127.0.0.1:{app_port}", "/healthz", "blog.example.com", 10)
        assert status == 200 and release.encode() in body
        assert (root / "releases" / release).stat().st_uid == entry.pw_uid
    finally:
        service.terminate()
        service.wait(60)
        sshd.terminate()
        sshd.wait(30)
