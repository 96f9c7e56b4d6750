"""The pieces of push-to-deploy that need no build (tests/integration/test_push_deploy.py runs
the whole thing): settings from shared/.env, which refs deploy, which folders count as releases,
deploy files that follow the `current` link, and /healthz naming the release."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from inkwell import ops
from inkwell.deploy.cli import deploy_group
from inkwell.deploy.releases import DEFAULT_RESTART, DeployError, Layout, Target, build, receive
from inkwell.deploy.settings import PACKAGE_DIR, from_env, in_venv


def _layout(tmp_path: Path, env: str | None = "APP_BIND=127.0.0.1:8123\n") -> Layout:
    layout = Layout(tmp_path)
    layout.shared.mkdir(parents=True)
    if env is not None:
        layout.env_file.write_text(env)
    return layout


def test_target_reads_shared_env(tmp_path):
    layout = _layout(tmp_path, "APP_BIND=localhost:8123\nDOMAIN=blog.example.com\n")
    target = Target.from_env_file(layout.env_file)
    assert target.app_bind == "127.0.0.1:8123" and target.host == "blog.example.com"
    assert target.restart == DEFAULT_RESTART.split() and target.health_timeout == 60


@pytest.mark.parametrize("env, says", [
    (None, "does not exist"),
    ("APP_BIND=8000\n", "APP_BIND"),
    ("HEALTH_TIMEOUT=soon\n", "HEALTH_TIMEOUT"),
    ("RESTART_COMMAND=' '\n", "RESTART_COMMAND"),
])
def test_target_refuses_bad_settings_by_name(tmp_path, env, says):
    layout = _layout(tmp_path, env)
    with pytest.raises(DeployError, match=says):
        Target.from_env_file(layout.env_file)


def test_receive_deploys_only_the_branch_and_refuses_to_delete_it(tmp_path):
    layout = _layout(tmp_path, None)  # a deploy would fail at once: no shared/.env
    receive(layout, "main", ["0" * 40 + " " + "a" * 40 + " refs/heads/feature",
                             "junk", "a" * 40 + " " + "b" * 40 + " refs/tags/v1"], print)
    with pytest.raises(DeployError, match="refusing to delete main"):
        receive(layout, "main", ["a" * 40 + " " + "0" * 40 + " refs/heads/main"], print)
    with pytest.raises(DeployError, match="does not exist"):
        receive(layout, "main", ["a" * 40 + " " + "b" * 40 + " refs/heads/main"], print)


def test_build_refuses_what_is_not_a_commit_id(tmp_path):
    with pytest.raises(DeployError, match="not a commit id"):
        build(_layout(tmp_path), "main; rm -rf /", print)


def test_only_complete_releases_count(tmp_path):
    layout = _layout(tmp_path)
    layout.releases.mkdir()
    for name, complete in [("20261129-100000-abcdef1234", True),
                           ("20261129-110000-abcdef5678", False),  # a build cut short
                           ("notes", True)]:
        (layout.releases / name).mkdir()
        if complete:
            (layout.releases / name / "REVISION").write_text(name)
    assert [p.name for p in layout.all_releases()] == ["20261129-100000-abcdef1234"]
    assert layout.current_release() is None
    layout.current.symlink_to("releases/20261129-100000-abcdef1234")
    assert layout.current_release() == layout.releases / "20261129-100000-abcdef1234"


def test_releases_command_marks_the_running_one(tmp_path):
    layout = _layout(tmp_path)
    for name in ("20261129-100000-abcdef1234", "20261129-120000-abcdef9999"):
        (layout.releases / name).mkdir(parents=True)
        (layout.releases / name / "REVISION").write_text(name)
    layout.current.symlink_to("releases/20261129-100000-abcdef1234")
    out = CliRunner().invoke(deploy_group, ["releases", "--root", str(tmp_path)]).output
    assert out == "* 20261129-100000-abcdef1234\n  20261129-120000-abcdef9999\n"


def test_rollback_without_an_earlier_release_is_a_message(tmp_path):
    _layout(tmp_path)
    result = CliRunner().invoke(deploy_group, ["rollback", "--root", str(tmp_path)])
    assert result.exit_code == 1 and "no earlier release" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_deploy_files_follow_the_venv_they_name(tmp_path, monkeypatch):
    release_venv = tmp_path / "releases" / "r1" / ".venv"
    static = release_venv / "lib" / "site-packages" / "inkwell" / "static"
    static.mkdir(parents=True)
    (tmp_path / "current").symlink_to("releases/r1")
    current = tmp_path / "current"
    monkeypatch.setattr("sys.prefix", str(current / ".venv"))  # running from the release
    named = current / ".venv" / "bin"
    assert in_venv(named, static) == current / ".venv" / "lib" / "site-packages" / "inkwell" / \
        "static"
    # From another venv (deploy init's, before the first release): the same place in the named one
    monkeypatch.setattr("sys.prefix", str(tmp_path / "tools"))
    tools_static = tmp_path / "tools" / "lib" / "site-packages" / "inkwell" / "static"
    tools_static.mkdir(parents=True)
    assert in_venv(named, tools_static) == current / ".venv" / "lib" / "site-packages" / \
        "inkwell" / "static"
    assert in_venv(named, Path("/usr/share/x")) == Path("/usr/share/x")  # no package's
    # This checkout (an editable install) rendering for its own venv: as it is ...
    checkout_static = PACKAGE_DIR / "static"
    monkeypatch.setattr("sys.prefix", str(named.parent))
    assert in_venv(named, checkout_static) == checkout_static
    # ... and for another venv (deploy setup, as root from its checkout): that venv's copy.
    monkeypatch.setattr("sys.prefix", str(tmp_path / "tools"))
    found = in_venv(named, checkout_static)
    assert found.is_relative_to(current / ".venv" / "lib") and found.parts[-2:] == (
        "inkwell", "static") and "site-packages" in found.parts
    settings = from_env({"SITE_URL": "https://blog.example.com", "INKWELL_APP_DIR": str(current),
                         "INKWELL_VENV_BIN": str(named)})
    assert settings.app_dir == current  # not resolved to today's release


def test_healthz_names_the_release_of_its_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ops.release.cache_clear()
    try:
        assert ops.release() is None
        ops.release.cache_clear()
        (tmp_path / "REVISION").write_text("20261129-100000-abcdef1234\n")
        assert ops.release() == "20261129-100000-abcdef1234"
    finally:
        ops.release.cache_clear()


def test_deploys_run_as_the_owner_of_the_deploy_root(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("giving a folder to another user needs root")
    layout = _layout(tmp_path)
    os.chown(tmp_path, 65534, 65534)  # e.g. inkwell's, while root runs the command
    try:
        result = CliRunner().invoke(deploy_group, ["rollback", "--root", str(tmp_path)])
    finally:
        os.chown(tmp_path, os.getuid(), os.getgid())
    assert result.exit_code == 1 and "run this as that user (sudo -u" in result.output
    assert not (layout.root / "deploy.lock").exists()  # refused before anything was written


def _release_with_static(layout: Layout, name: str, files: dict[str, str]) -> Path:
    """A complete release folder whose venv's Inkwell has these static files."""
    release = layout.releases / name
    static = release / ".venv" / "lib" / "python3.11" / "site-packages" / "inkwell" / "static"
    for path, text in files.items():
        (static / path).parent.mkdir(parents=True, exist_ok=True)
        (static / path).write_text(text)
    (release / "REVISION").write_text(name + "\n")
    return release


def test_static_files_are_kept_by_content_and_pruned_with_their_releases(tmp_path):
    from inkwell.assets import file_hash
    from inkwell.deploy.releases import prune_static, publish_static

    layout = _layout(tmp_path)  # no shared/static yet: a root made before the store
    old = _release_with_static(layout, "20261101-000000-aaaaaaaaaa",
                               {"css/site.css": "old", "js/charts.js": "same"})
    new = _release_with_static(layout, "20261102-000000-bbbbbbbbbb",
                               {"css/site.css": "new", "js/charts.js": "same",
                                "css/site.css.gz": "WhiteNoise's"})
    os.umask(0o077)  # a push's umask must not hide the files from nginx
    try:
        assert publish_static(layout, old) == 2
        assert publish_static(layout, new) == 1  # charts.js did not change
        assert publish_static(layout, new) == 0
    finally:
        os.umask(0o022)
    site_css = new / ".venv/lib/python3.11/site-packages/inkwell/static/css/site.css"
    by_hash = layout.static_store / file_hash(site_css) / "css" / "site.css"
    assert by_hash.read_text() == "new"
    assert oct(by_hash.stat().st_mode & 0o777) == "0o644"
    assert oct(by_hash.parent.stat().st_mode & 0o777) == "0o755"
    assert oct(by_hash.parent.parent.stat().st_mode & 0o777) == "0o755"
    folders = sorted(p.name for p in layout.static_store.iterdir())
    assert len(folders) == 3 and not list(layout.static_store.rglob("*.gz"))
    assert not list(layout.static_store.rglob(".*"))  # no partial copy left behind
    # The old release goes: its site.css goes with it, what the new one shares stays.
    import shutil

    shutil.rmtree(old)
    said: list[str] = []
    prune_static(layout, said.append)
    left = {p.relative_to(layout.static_store).as_posix()
            for p in layout.static_store.rglob("*") if p.is_file()}
    assert {path.split("/", 1)[1] for path in left} == {"css/site.css", "js/charts.js"}
    assert by_hash.read_text() == "new" and len(said) == 1


def test_init_makes_the_store_and_names_it_in_the_settings(tmp_path):
    runner = CliRunner()
    done = runner.invoke(deploy_group, ["init", "--root", str(tmp_path / "srv"),
                                        "--site-url", "https://blog.example.com"])
    assert done.exit_code == 0, done.output
    layout = Layout(tmp_path / "srv")
    assert layout.static_store.is_dir()
    settings = from_env(dict(
        line.split("=", 1) for line in layout.env_file.read_text().splitlines()
        if line and not line.startswith("#")))
    assert settings.static_store == layout.static_store


def test_going_back_leaves_a_schema_another_app_server_migrated(tmp_path, monkeypatch):
    """A failed deploy goes back to the release before, migrating the database down with the
    failed release's scripts, unless the database was at the failed release's schema before
    the deploy began: another app server sharing it migrated it and runs it."""
    from inkwell.deploy import releases

    old, new = tmp_path / "old", tmp_path / "new"
    schemas = {old: ("0002", frozenset({"0001", "0002"})),
               new: ("0003", frozenset({"0001", "0002", "0003"}))}
    monkeypatch.setattr(releases, "_schema", schemas.__getitem__)
    ran: list[list[str]] = []
    monkeypatch.setattr(releases, "_step", lambda argv, *a, **k: ran.append(argv[1:]) or "")
    said: list[str] = []
    releases._schema_for(old, leaving=new, log=said.append, database_was="0002")
    assert ran == [["db", "downgrade", "0002"]]  # this deploy migrated it: undo that
    ran.clear()
    releases._schema_for(old, leaving=new, log=said.append, database_was="0003")
    assert ran == [] and "migrated by another app server" in said[-1]
