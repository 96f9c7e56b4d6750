"""tests/vm runs docs/vps.md's "One command" block: the test's names swapped in, nothing else."""

from __future__ import annotations

from tests.vm.guide import commands, one_command_block


def test_the_block_ends_with_the_setup_command_and_the_names_are_swapped():
    prepare, setup = commands("/root/inkwell.bundle", "https://blog.test", "you@blog.test",
                              "/root/key.pub")
    assert setup.startswith(".venv/bin/inkwell deploy setup --site-url https://blog.test")
    assert "--email you@blog.test" in setup and "--ssh-key /root/key.pub" in setup
    assert "git clone /root/inkwell.bundle" in prepare and "example.com" not in prepare
    # every other line of the guide's block is run as written
    for line in one_command_block()[:-1]:
        if "git clone" not in line:
            assert line in prepare
