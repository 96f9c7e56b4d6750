"""`inkwell deploy ...`: render every deploy file from .env, check them with their real tools,
diagnose this machine, and run the production stack locally (`make stack`).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import click
from flask import current_app
from flask.cli import with_appcontext

from ..config import ConfigError, instance_folder

# The deploy modules are imported by the commands that use them, not here: create_app imports
# this module (through inkwell.cli), and every app start would pay for them.
if TYPE_CHECKING:
    from .settings import DeploySettings


@contextmanager
def _config_errors_as_messages() -> Iterator[None]:
    """A ConfigError names the setting and the fix: show it as a one-line error, no traceback."""
    try:
        yield
    except ConfigError as e:
        raise click.ClickException(str(e)) from None


def _settings() -> DeploySettings:
    from .settings import from_env

    with _config_errors_as_messages():
        return from_env()


@click.group("deploy")
def deploy_group() -> None:
    """Render, check and run the production stack (nginx, gunicorn, systemd, uWSGI, compose)."""


def render_all(settings: DeploySettings, out: Path) -> list[Path]:
    """Write every deploy file into `out`; return their paths."""
    from . import envfile, gunicorn, nginx, systemd, uwsgi

    out = out.resolve()
    unavailable = out / "nginx" / nginx.UNAVAILABLE_FILE
    conf = out / gunicorn.CONF_FILE
    ini = out / "uwsgi" / uwsgi.INI_FILE
    files = {
        unavailable: nginx.render_unavailable_page(settings),
        out / "nginx" / nginx.SITE_FILE: nginx.render_site(settings, unavailable),
        out / "nginx" / nginx.UWSGI_SITE_FILE: nginx.render_site(settings, unavailable, uwsgi=True),
        conf: gunicorn.render_conf(),
        out / "systemd" / systemd.UNIT_FILE: systemd.render_unit(settings, conf),
        out / "systemd" / systemd.SOCKET_FILE: systemd.render_socket(settings),
        ini: uwsgi.render_ini(settings, ini),
        out / "systemd" / uwsgi.UNIT_FILE: uwsgi.render_unit(settings, ini),
    }
    for sub in ("nginx", "systemd", "uwsgi"):  # only once every file rendered
        (out / sub).mkdir(parents=True, exist_ok=True)
    for path, text in files.items():
        path.write_text(text)
    env_path = out / envfile.ENV_FILE
    database_url = os.environ.get("DATABASE_URL", "")
    envfile.write_private(env_path, envfile.render_env(settings, database_url))
    return [*files, env_path]


@deploy_group.command("render")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write the files into (created if missing).")
def render_command(out: Path) -> None:
    """Write the nginx site, gunicorn.conf.py, systemd unit, uWSGI ini and an .env template."""
    settings = _settings()
    with _config_errors_as_messages():  # e.g. an INKWELL_UWSGI_SOCKET uWSGI cannot use
        written = render_all(settings, out)
    for path in written:
        click.echo(f"wrote {path}")
    click.echo(f"All files are for {settings.domain} (upload limit {settings.upload_limit} bytes). "
               "Check them with: inkwell deploy check --out " + str(out))


def check_all(settings: DeploySettings, out: Path) -> dict[str, str | None]:
    """Each rendered file checked by its real tool: name -> problem (None when fine)."""
    from . import gunicorn, nginx, systemd, uwsgi

    out = out.resolve()
    return {
        "nginx site": nginx.check_site(out / "nginx" / nginx.SITE_FILE),
        "nginx site (uWSGI)": nginx.check_site(out / "nginx" / nginx.UWSGI_SITE_FILE),
        "gunicorn.conf.py": gunicorn.check_conf(out / gunicorn.CONF_FILE,
                                                settings.venv_bin / "gunicorn", settings.app_dir),
        "systemd unit": systemd.check(out / "systemd" / systemd.UNIT_FILE),
        "systemd socket": systemd.check(out / "systemd" / systemd.SOCKET_FILE),
        "systemd unit (uWSGI)": systemd.check(out / "systemd" / uwsgi.UNIT_FILE),
        "uWSGI ini": uwsgi.check(out / "uwsgi" / uwsgi.INI_FILE, settings),
    }


@deploy_group.command("check")
@click.option("--out", "out", required=True,
              type=click.Path(exists=True, file_okay=False, path_type=Path))
def check_command(out: Path) -> None:
    """Validate rendered files with nginx -t, systemd-analyze, gunicorn --check-config."""
    failed = False
    for name, problem in check_all(_settings(), out).items():
        if problem:
            failed = True
            click.secho(f"FAIL {name}: {problem}", fg="red")
        else:
            click.secho(f"ok   {name}", fg="green")
    sys.exit(1 if failed else 0)


@deploy_group.command("doctor")
def doctor_command() -> None:
    """What on this machine stops the production stack from working, and how to fix it."""
    from . import envfile, gunicorn, nginx, systemd, uwsgi

    settings = _settings()
    problems = [
        *nginx.doctor(settings), *gunicorn.doctor(settings), *systemd.doctor(settings),
        *envfile.doctor(settings),
    ]
    for problem in problems:
        click.echo(f"- {problem}")
    for note in uwsgi.doctor(settings):
        click.echo(f"(note: {note})")
    if problems:
        raise SystemExit(1)
    click.echo("No problems found.")


@deploy_group.command("stack")
@click.option("--http-port", default=8080, show_default=True, type=click.IntRange(1, 65535))
@click.option("--https-port", default=8443, show_default=True, type=click.IntRange(1, 65535))
@click.option("--run-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Where configs, certificates, cache and logs go [default: instance/stack].")
@click.option("--app-servers", default=1, show_default=True, type=click.IntRange(1, 16),
              help="How many gunicorns nginx spreads requests over (APP_SERVERS), as several "
                   "app servers would be.")
@click.option("--server", default="gunicorn", show_default=True,
              type=click.Choice(["gunicorn", "uwsgi"]),
              help="The app server: gunicorn, or Debian's uWSGI on a unix socket "
                   "(docs/uwsgi.md).")
def stack_command(http_port: int, https_port: int, run_dir: Path | None,
                  app_servers: int, server: str) -> None:
    """Run nginx (TLS, cache) -> gunicorn or uWSGI -> the database on loopback; Ctrl-C stops
    it."""
    from .stack import run_forever

    app_dir = Path.cwd()
    instance = instance_folder(app_dir)
    with _config_errors_as_messages():
        run_forever(app_dir, (run_dir or instance / "stack").resolve(), http_port, https_port,
                    app_servers, server)


def _releases_layout(root: Path):
    from .releases import Layout

    return Layout(root.absolute())


_ROOT_OPTION = click.option(
    "--root", type=click.Path(file_okay=False, path_type=Path), default="/srv/inkwell",
    show_default=True, help="The deploy root: repo.git, releases/, shared/, current.",
)


@contextmanager
def _deploy_errors_as_messages(layout=None) -> Iterator[None]:
    """A failed deploy is one message (no traceback), also kept in shared/deploy.log."""
    from .releases import DeployError, record

    try:
        yield
    except (DeployError, ConfigError) as e:
        # Only as the deploy root's owner: root must not write through the user's files.
        if layout is not None and layout.shared.is_dir() and \
                os.geteuid() == layout.root.stat().st_uid:
            record(layout, f"deploy failed: {e}")
        raise click.ClickException(str(e)) from None


@deploy_group.command("init")
@_ROOT_OPTION
@click.option("--branch", default="main", show_default=True, help="The branch a push deploys.")
@click.option("--site-url", help="e.g. https://blog.example.com: writes shared/.env from it "
              "(with a fresh SECRET_KEY) when there is none yet.")
def init_command(root: Path, branch: str, site_url: str | None) -> None:
    """Prepare push-to-deploy: a bare repository whose pushes deploy, releases/ and shared/."""
    from . import envfile, releases
    from .settings import from_env

    layout = _releases_layout(root)
    env_text = None
    if site_url:
        paths = {
            "SITE_URL": site_url,
            "INKWELL_APP_DIR": str(layout.current),
            "INKWELL_VENV_BIN": str(layout.current / ".venv" / "bin"),
            "INKWELL_INSTANCE_PATH": str(layout.instance),
        }
        with _config_errors_as_messages():
            settings = from_env({k: v for k, v in os.environ.items()
                                 if k not in ("DOMAIN", "MEDIA_ROOT")} | paths)
        env_text = envfile.render_env(settings) + (
            "\n# Push-to-deploy (inkwell deploy init): every file follows the `current` link.\n"
            f"INKWELL_APP_DIR={paths['INKWELL_APP_DIR']}\n"
            f"INKWELL_VENV_BIN={paths['INKWELL_VENV_BIN']}\n"
            "# Every kept release's static files by content: nginx serves a page the ones it\n"
            "# was rendered with, also just after a deploy or a rollback.\n"
            f"STATIC_STORE={layout.static_store}\n"
            "# How a deploy restarts the service (the hook's user needs a sudo rule for it),\n"
            "# and how long the new release has to answer /readyz before it is rolled back.\n"
            f"RESTART_COMMAND={releases.DEFAULT_RESTART}\n"
            "HEALTH_TIMEOUT=60\n"
        )
    with _deploy_errors_as_messages():
        releases.init(layout, branch, env_text, click.echo)
    if not layout.env_file.exists():
        click.echo(f"Now write {layout.env_file} (or run this again with --site-url).")
    click.echo(f"Push to deploy: git push <you>@<this host>:{layout.repo} {branch}")


@deploy_group.command("receive", hidden=True)
@_ROOT_OPTION
@click.option("--branch", default="main", show_default=True)
def receive_command(root: Path, branch: str) -> None:
    """(The pre-receive hook.) Deploy what is pushed to BRANCH; fail to refuse the push."""
    import signal

    from . import releases

    # A pusher whose ssh session drops must not leave a deploy half done: finish it (the
    # outcome is in shared/deploy.log).
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    layout = _releases_layout(root)
    updates = sys.stdin.read().splitlines()
    with _deploy_errors_as_messages(layout):
        releases.check_owner(layout.root)
        releases.receive(layout, branch, updates, releases.journal(layout, click.echo))


@deploy_group.command("release")
@_ROOT_OPTION
@click.argument("commit")
def release_command(root: Path, commit: str) -> None:
    """Deploy COMMIT from the deploy root's repository, as a push would (rolls back on failure)."""
    from . import releases

    layout = _releases_layout(root)
    done = subprocess.run(["git", f"--git-dir={layout.repo}", "rev-parse", "--verify",
                           "--quiet", f"{commit}^{{commit}}"], capture_output=True, text=True)
    if done.returncode != 0:
        raise click.ClickException(f"{commit!r} is not a commit of {layout.repo}")
    with _deploy_errors_as_messages(layout):
        releases.check_owner(layout.root)
        releases.deploy(layout, done.stdout.strip(), releases.journal(layout, click.echo))


@deploy_group.command("rollback")
@_ROOT_OPTION
def rollback_command(root: Path) -> None:
    """Go back to the release before the current one (database migrated down first)."""
    from . import releases

    layout = _releases_layout(root)
    with _deploy_errors_as_messages(layout):
        releases.check_owner(layout.root)
        release = releases.rollback(layout, releases.journal(layout, click.echo))
    click.echo(f"Rolled back to {release.name}.")


@deploy_group.command("releases")
@_ROOT_OPTION
def releases_command(root: Path) -> None:
    """List the releases on disk, the running one marked."""
    layout = _releases_layout(root)
    current = layout.current_release()
    for release in layout.all_releases():
        click.echo(("* " if release == current else "  ") + release.name)


@deploy_group.command("setup")
@click.option("--site-url", required=True, help="The blog's address, e.g. https://blog.example.com")
@click.option("--email", help="For Let's Encrypt (certbot): expiry notices go there.")
@click.option("--no-certificate", is_flag=True,
              help="Keep a self-signed certificate (e.g. behind a proxy that has the real one).")
@click.option("--acme-server", metavar="URL",
              help="Another ACME directory for certbot (e.g. Let's Encrypt's staging server, "
                   "https://acme-staging-v02.api.letsencrypt.org/directory) [default: Let's "
                   "Encrypt].")
@click.option("--acme-ca-bundle", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The CA of that ACME server's own HTTPS certificate, when it is not a public "
                   "one (a test server such as Pebble); kept for renewals.")
@click.option("--ssh-key", "ssh_key", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Your public key (e.g. ~/.ssh/id_ed25519.pub): you push with it.")
@_ROOT_OPTION
@click.option("--user", default="inkwell", show_default=True, help="The site's system user.")
@click.option("--branch", default="main", show_default=True, help="The branch a push deploys.")
@click.option("--source", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="The Inkwell checkout to install and deploy first [default: this one].")
@click.option("--until", default="certificate", show_default=True,
              help="Stop after this step (e.g. files: everything before nginx and systemd).")
def setup_command(site_url: str, email: str | None, no_certificate: bool,
                  acme_server: str | None, acme_ca_bundle: Path | None, ssh_key: Path | None,
                  root: Path, user: str, branch: str, source: Path | None, until: str) -> None:
    """Set up this server (as root): packages, a user, nginx, a certificate, systemd, and the
    first release; then `git push` deploys. Safe to run again. Steps: docs/vps.md."""
    from .setup import STEPS, Options, SetupError, default_source, run

    if bool(email) == no_certificate:
        raise click.UsageError("give --email (for the certificate) or --no-certificate")
    if (acme_server or acme_ca_bundle) and no_certificate:
        raise click.UsageError("--acme-server and --acme-ca-bundle are for the certificate: "
                               "not with --no-certificate")
    if acme_server and not acme_server.startswith("https://"):
        raise click.UsageError(f"--acme-server {acme_server}: an https:// ACME directory URL")
    source = source or default_source()
    if source is None:
        raise click.UsageError("run it from a checkout of Inkwell, or give --source")
    key = ssh_key.read_text().strip() if ssh_key else None
    one_key = key and "\n" not in key and key.startswith(("ssh-", "ecdsa-", "sk-"))
    if key is not None and not one_key:
        raise click.UsageError(f"{ssh_key} is not one public key (ssh-ed25519 AAAA... you@host)")
    options = Options(site_url=site_url, source=source.resolve(), root=root.absolute(),
                      user=user, branch=branch, email=email, ssh_key=key,
                      acme_server=acme_server,
                      acme_ca_bundle=acme_ca_bundle.resolve() if acme_ca_bundle else None)
    try:
        run(options, until, click.echo)
    except SetupError as e:
        raise click.ClickException(str(e)) from None
    if until == STEPS[-1]:
        click.echo(f"Done. From your checkout: git remote add production "
                   f"{user}@<this server>:{options.layout.repo} && git push production {branch}")
@deploy_group.command("compose-setup")
@click.argument("target", type=click.Path(file_okay=False, path_type=Path))
@click.option("--certs", type=click.Path(file_okay=False, path_type=Path),
              help="The certs volume: a self-signed certificate goes there if it has none.")
@with_appcontext
def compose_setup_command(target: Path, certs: Path | None) -> None:
    """(Run by compose.yaml's setup container.) Migrate (`inkwell setup`), create the bucket,
    write nginx's files and a first certificate."""
    from ..cli import setup_command
    from . import compose

    config = current_app.config
    # The bucket first: `inkwell setup` stores the figures of the posts in content/ there.
    if config["MEDIA_BACKEND"] == "s3" and config["S3_ENDPOINT_URL"]:
        click.echo(f"Bucket {compose.create_public_bucket(config)} is ready.")
    click.get_current_context().invoke(setup_command)
    settings = _settings()
    compose.write_nginx_files(settings, target)
    click.echo(f"nginx files written to {target}.")
    if certs is not None and compose.ensure_certificate(certs, settings.domain):
        click.echo(f"A self-signed certificate for {settings.domain} is in {certs} until "
                   "certbot gets one.")


@deploy_group.command("audit")
@click.option("--work-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Scanner install, stack and reports [default: instance/audit].")
@click.option("--only", type=click.Choice(["https", "lighthouse"]),
              help="One part: https (Observatory and testssl.sh, ports 80/443) or lighthouse "
                   "(page scores, free high ports) [default: both].")
@click.option("--target", "targets", multiple=True, type=click.Choice(["run", "stack"]),
              help="Lighthouse on make run's gunicorn, make stack's nginx, or both [default].")
@click.option("--page", "pages", multiple=True,
              help="Lighthouse on these page types only (home, post, tag, search, archive, "
                   "chart, '3 charts', login, admin, editor) [default: all].")
def audit_command(work_dir: Path | None, only: str | None, targets: tuple[str, ...],
                  pages: tuple[str, ...]) -> None:
    """Grade the stack's HTTPS (Mozilla HTTP Observatory, testssl.sh; needs ports 80/443) and
    score every page type with Lighthouse, mobile and desktop, under make run and make stack."""
    from . import lighthouse
    from .audit import run_audit

    app_dir = Path.cwd()
    work = (work_dir or instance_folder(app_dir) / "audit").resolve()
    unknown = set(pages) - {p.name for p in lighthouse.PAGES}
    if unknown:
        raise click.BadParameter(f"no page type {', '.join(sorted(unknown))}", param_hint="--page")
    passed = True
    if only != "lighthouse":
        with _config_errors_as_messages():
            result = run_audit(app_dir, work)
        click.echo(f"Mozilla HTTP Observatory grade: {result.grade} (score {result.score})")
        for name in result.failed_tests:
            click.echo(f"  failed: {name}")
        summary = ", ".join(f"{k} {v}" for k, v in sorted(result.testssl_counts.items()))
        click.echo(f"testssl.sh findings: {summary}")
        for line in result.testssl_bad:
            click.secho(f"  {line}", fg="red")
        passed = result.passed
    if only != "https":
        echo = click.echo if sys.stdout.isatty() else (lambda line: None)
        with _config_errors_as_messages():
            cli = lighthouse.install()
            scores = lighthouse.measure(app_dir, work / "lighthouse",
                                        targets or tuple(lighthouse.TARGETS), pages or None, echo)
        click.echo(f"\nLighthouse {lighthouse.version(cli)}; goals: performance >= 95, the "
                   "rest 100 ('!' below goal; the admin pages: accessibility, best practices)")
        click.echo(lighthouse.format_table(scores))
        for score in scores:
            for line in score.shortfalls:
                click.secho(f"  {score.target} {score.page} {score.form_factor}: {line}",
                            fg="yellow")
        click.echo(f"Reports: {work / 'lighthouse' / 'reports'}")
        passed = passed and all(score.passed for score in scores)
    click.echo("PASS" if passed else "FAIL: wanted grade A+, no HIGH/CRITICAL finding and every "
                                     "Lighthouse score at its goal")
    sys.exit(0 if passed else 1)


ETC_SITE = Path("/etc/nginx/sites-enabled") / "inkwell.conf"
ETC_ERROR_LOG = Path("/var/log/nginx/error.log")


@click.command("doctor")
@click.option("--site", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help=f"nginx's site file [default: {ETC_SITE}, else make stack's].")
@click.option("--error-log", type=click.Path(dir_okay=False, path_type=Path),
              help=f"nginx's error log [default: {ETC_ERROR_LOG} with the first, "
                   "instance/stack/nginx-error.log with make stack's].")
@click.option("--minutes", default=15, show_default=True, type=click.IntRange(1),
              help="How far back nginx's error log counts.")
def site_doctor_command(site: Path | None, error_log: Path | None, minutes: int) -> None:
    """Why the running site answers 502 or 503: nginx's upstream, gunicorn, the database, the
    socket, nginx's error log; each problem with its usual fix. Exit 1 when there is one."""
    from . import diagnose, nginx
    from .settings import from_env

    stack_dir = instance_folder(Path.cwd()) / "stack"
    stack_site = stack_dir / nginx.SITE_FILE
    if site is None:
        site = diagnose.first_existing([ETC_SITE, stack_site])
    if error_log is None:
        error_log = diagnose.first_existing(
            [stack_dir / "nginx-error.log"] if site == stack_site else [ETC_ERROR_LOG])
    if site == stack_site:
        # make stack serves 127.0.0.1 and gives gunicorn a free port of its own: its site file
        # is the truth, whatever .env says.
        with _config_errors_as_messages():
            settings = from_env({"DOMAIN": "127.0.0.1", **os.environ})
        upstreams = diagnose.upstreams_of(site)
        settings = replace(settings, app_bind=upstreams[0] if upstreams else settings.app_bind,
                           app_servers=tuple(upstreams) if len(upstreams) > 1 else ())
        if upstreams and upstreams[0].startswith("unix:"):  # STACK_SERVER=uwsgi's socket
            settings = replace(settings, uwsgi_socket=Path(upstreams[0][len("unix:"):]))
    else:
        settings = _settings()
    findings = diagnose.diagnose(settings, site, error_log, minutes)
    for finding in findings:
        click.secho(f"{'ok  ' if finding.ok else 'FAIL'} {finding.what}",
                    fg="green" if finding.ok else "red")
        if finding.fix:
            click.echo(f"     -> {finding.fix}")
    if any(not finding.ok for finding in findings):
        raise SystemExit(1)
    click.echo("No reason for a 502 found. `inkwell deploy doctor` checks the files on disk.")
