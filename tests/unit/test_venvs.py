"""deploy/venvs.py: a venv copied to another path works there, and the copy and its source
stay independent (real venvs, a real wheel with a console script, real pip)."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from inkwell.deploy import venvs

PROJECT = {
    "pyproject.toml": '[build-system]\nrequires = ["setuptools"]\n'
                      'build-backend = "setuptools.build_meta"\n'
                      '[project]\nname = "hello-venv"\nversion = "1.0"\n'
                      '[project.scripts]\nhello-venv = "hello_venv:main"\n',
    "hello_venv.py": "import sys\n\ndef main():\n    print(sys.prefix)\n",
}


def run(*argv, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, check=True,
                          timeout=300, **kwargs)


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    """A venv with pip and a package whose console script prints the venv it runs in."""
    work = tmp_path_factory.mktemp("venvs")
    project = work / "project"
    project.mkdir()
    for name, text in PROJECT.items():
        (project / name).write_text(text)
    wheels = work / "wheels"
    run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
        "-w", wheels, project)
    venv = work / "made-here"
    run(sys.executable, "-m", "venv", venv)
    run(venv / "bin" / "python", "-m", "pip", "install", "-q", "--no-index",
        *wheels.glob("*.whl"))
    return venv


def test_a_linked_copy_runs_in_its_own_place_and_leaves_the_source_alone(source, tmp_path):
    copy = tmp_path / "elsewhere" / "copy"
    venvs.clone(source, copy, link=True)

    assert run(copy / "bin" / "hello-venv").stdout.strip() == str(copy)
    assert run(copy / "bin" / "python", "-c", "import sys; print(sys.prefix)").stdout.strip() \
        == str(copy)
    for text in ("bin/activate", "pyvenv.cfg"):
        assert str(source) not in (copy / text).read_text(), text
    module = next(copy.glob("lib/python3*/site-packages/hello_venv.py"))
    original = next(source.glob("lib/python3*/site-packages/hello_venv.py"))
    assert module.stat().st_ino == original.stat().st_ino  # the same bytes on disk, linked

    # What a release does to its copy: Inkwell installed again (here: the package removed).
    run(copy / "bin" / "python", "-m", "pip", "uninstall", "-q", "-y", "hello-venv")
    assert not module.exists()
    assert original.exists()
    assert run(source / "bin" / "hello-venv").stdout.strip() == str(source)
    assert (source / "bin" / "hello-venv").read_text() != ""  # its #! line still its own


def test_a_copy_without_links_shares_no_file(source, tmp_path):
    copy = tmp_path / "copy"
    venvs.clone(source, copy, link=False)
    module = next(copy.glob("lib/python3*/site-packages/hello_venv.py"))
    original = next(source.glob("lib/python3*/site-packages/hello_venv.py"))
    assert module.stat().st_ino != original.stat().st_ino
    assert run(copy / "bin" / "hello-venv").stdout.strip() == str(copy)


def test_a_copy_is_not_marked_until_it_is_made_whole_and_never_overwrites(source, tmp_path):
    venvs.mark(source, "k1")
    try:
        copy = tmp_path / "copy"
        venvs.clone(source, copy, link=True)
        assert venvs.marked(copy) is None
        assert venvs.marked(source) == "k1"
        with pytest.raises(FileExistsError):
            venvs.clone(source, copy, link=True)
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(".copy-")]  # no leftovers
    finally:
        (source / venvs.MARK).unlink()


def test_a_failed_copy_leaves_nothing(tmp_path):
    with pytest.raises(OSError):
        venvs.clone(tmp_path / "no-such-venv", tmp_path / "copy", link=True)
    assert list(tmp_path.iterdir()) == []


def test_the_lock_key_follows_the_lock_files(tmp_path):
    (tmp_path / "requirements.lock").write_text("flask==3.0.0\n")
    first = venvs.lock_key(tmp_path)
    (tmp_path / "requirements-build.lock").write_text("setuptools==80.0\n")
    second = venvs.lock_key(tmp_path)
    (tmp_path / "README.md").write_text("not a lock file")
    assert first != second == venvs.lock_key(tmp_path)


def test_only_a_venv_marked_with_the_same_key_is_found(tmp_path):
    made = []
    for name, key in (("a", "other"), ("b", "wanted"), ("c", "wanted")):
        venv = tmp_path / name
        (venv / "bin").mkdir(parents=True)
        (venv / "bin" / "python").symlink_to(sys.executable)
        venvs.mark(venv, key)
        made.append(venv)
    (made[1] / "bin" / "python").unlink()  # incomplete: no interpreter
    assert venvs.find_marked([tmp_path / "missing", *made], "wanted") == made[2]
    assert venvs.find_marked(made, "nothing") is None


def test_the_running_venv_counts_only_with_every_pin(tmp_path):
    flask = metadata.version("flask")
    setuptools = metadata.version("setuptools")
    (tmp_path / "requirements.lock").write_text(
        f"flask=={flask} \\\n    --hash=sha256:00\nmarkupsafe=={metadata.version('markupsafe')}\n")
    (tmp_path / "requirements-build.lock").write_text(f"setuptools=={setuptools}\n")
    base = Path(sys._base_executable)  # the Python this venv was made from
    assert venvs.running_venv_with_pins(tmp_path, base) == Path(sys.prefix)
    assert venvs.running_venv_with_pins(tmp_path, Path("/bin/sh")) is None  # another Python
    (tmp_path / "requirements.lock").write_text("flask==0.0.1\n")
    assert venvs.running_venv_with_pins(tmp_path, base) is None
    (tmp_path / "requirements-build.lock").unlink()
    assert venvs.running_venv_with_pins(tmp_path, base) is None
