"""deploy setup's ACME options refuse what cannot work, in one line, before anything runs."""

from __future__ import annotations

from click.testing import CliRunner

from inkwell.deploy.cli import deploy_group


def setup(*args: str):
    return CliRunner().invoke(deploy_group, ["setup", "--site-url", "https://blog.example.com",
                                             *args])


def test_an_acme_server_must_be_https():
    done = setup("--email", "you@example.com", "--acme-server", "http://acme.example/dir")
    assert done.exit_code == 2 and "an https:// ACME directory URL" in done.output
    assert done.exception is None or isinstance(done.exception, SystemExit)


def test_acme_options_are_refused_without_a_certificate(tmp_path):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("not used")
    for extra in (["--acme-server", "https://acme.example/dir"], ["--acme-ca-bundle", str(bundle)]):
        done = setup("--no-certificate", *extra)
        assert done.exit_code == 2 and "not with --no-certificate" in done.output


def test_a_missing_ca_bundle_is_named(tmp_path):
    done = setup("--email", "you@example.com", "--acme-ca-bundle", str(tmp_path / "nope.pem"))
    assert done.exit_code == 2 and "nope.pem" in done.output
