"""The `inkwell` command (a Flask CLI group); `flask --app inkwell ...` runs the same commands."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext

from .admin.cli import create_admin
from .config import new_secret_key
from .database import write_intent
from .deploy.cli import deploy_group, site_doctor_command
from .media_cli import media_group


def _progress(label: str):
    """A progress bar on a terminal; silent otherwise."""

    def wrap(items):
        items = list(items)
        if not sys.stderr.isatty() or len(items) < 2:
            return items
        return click.progressbar(items, label=label, file=sys.stderr)

    return wrap


def _iterate(wrapped):
    if hasattr(wrapped, "__enter__"):
        with wrapped as bar:
            yield from bar
    else:
        yield from wrapped


@click.group("db")
def db_group() -> None:
    """Database migrations."""


@db_group.command("upgrade")
@with_appcontext
def db_upgrade() -> None:
    """Apply every pending migration."""
    from .extensions import db
    from .migrations import current_revision, known_revisions, upgrade

    before = current_revision(db.engine)
    if before is not None and before not in known_revisions():
        # Several app servers share one database: a newer release on another server migrated
        # it, and this one (not deployed there yet, or restarting) runs against the newer
        # schema until it is. /readyz says so meanwhile.
        click.echo(f"The database is at revision {before}, which this release does not know "
                   "(a newer release migrated it): "
                   "left as it is (deploy the newer release here too).")
        return
    with write_intent():
        upgrade(db.engine)
    after = current_revision(db.engine)
    if before == after:
        click.echo(f"Database is up to date (revision {after}).")
    else:
        click.echo(f"Database upgraded from revision {before or '(empty)'} to {after}.")


@db_group.command("downgrade")
@click.argument("revision")
@with_appcontext
def db_downgrade(revision: str) -> None:
    """Migrate the database down to REVISION (a rollback to an older release does this)."""
    from .extensions import db
    from .migrations import current_revision, downgrade, known_revisions

    if revision not in known_revisions():
        raise click.ClickException(f"{revision!r} is not a revision this release knows")
    from alembic.util import CommandError

    before = current_revision(db.engine)
    try:
        with write_intent():
            downgrade(db.engine, revision)
    except CommandError as e:  # e.g. a revision above the database's: one line, no traceback
        raise click.ClickException(f"cannot migrate down to {revision}: {e}") from None
    click.echo(f"Database migrated from revision {before or '(empty)'} down to {revision}.")


@db_group.command("status")
@with_appcontext
def db_status() -> None:
    """Show the database's migration revision and the newest one this code has."""
    from .extensions import db
    from .migrations import current_revision, head_revision

    current, head = current_revision(db.engine), head_revision()
    click.echo(f"database: {current or 'empty (no migrations applied)'}\ncode:     {head}")
    if current != head:
        click.echo('Run "inkwell db upgrade" to apply the missing migrations.')
        sys.exit(1)


def _import(path: Path, strict: bool = False, fetch_images: bool = False,
            jekyll_permalink: str | None = None) -> int:
    from .content.files import import_path

    bar = _progress(f"Importing {path}")
    report = import_path(
        path,
        current_app.config["IMPORT_MAX_FILE_SIZE"],
        progress=lambda files: _iterate(bar(files)),
        strict=strict,
        fetch_images=fetch_images,
        jekyll_permalink=jekyll_permalink,
    )
    for warning in report.warnings:
        click.secho(f"warning: {warning}", fg="yellow", err=True)
    for error in report.errors:
        click.secho(f"error: {error}", fg="red", err=True)
    imported = len(report.created) + len(report.updated)
    click.echo(
        f"{imported} imported, {len(report.warnings)} warnings ({len(report.created)} created, "
        f"{len(report.updated)} updated, {len(report.unchanged)} unchanged, "
        f"{len(report.errors)} failed)."
    )
    return 1 if report.errors else 0


def _jekyll_permalink(_ctx: click.Context, _param: click.Parameter,
                      value: str | None) -> str | None:
    """--jekyll-permalink: a style Jekyll has, or a template of placeholders Inkwell fills."""
    from .content.foreign import jekyll_template, jekyll_unknown

    if value is None:
        return None
    unknown = jekyll_unknown(jekyll_template(value))
    if not value.strip() or unknown:
        why = f":{unknown[0]} is not a placeholder it knows" if unknown else "it is empty"
        raise click.BadParameter(
            f"{value!r} is not a Jekyll permalink style (date, pretty, ordinal, weekdate, none) "
            f"or a template Inkwell can fill ({why})")
    return value


@click.command("import")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--strict", is_flag=True,
              help="A file that needs a warning (a guessed date, a remote image...) fails.")
@click.option("--fetch-images", is_flag=True,
              help="Copy images linked from other sites into the media store (public "
                   "addresses only, size and time limited).")
@click.option("--jekyll-permalink", metavar="STYLE_OR_TEMPLATE", callback=_jekyll_permalink,
              help="The old Jekyll site's permalink (date, pretty, ordinal, weekdate, none, or "
                   "a template such as /:year/:title/), for its posts' old addresses; default: "
                   "its _config.yml's, else date.")
@with_appcontext
def import_command(path: Path, strict: bool, fetch_images: bool,
                   jekyll_permalink: str | None) -> None:
    """Import posts from a folder (or one file): Markdown, also from Pelican, Jekyll or Hugo,
    and Jupyter notebooks; re-running updates them in place."""
    with write_intent():
        sys.exit(_import(path, strict, fetch_images, jekyll_permalink))


@click.command("export")
@click.argument("path", type=click.Path(file_okay=False, path_type=Path))
@click.option("--overwrite", is_flag=True,
              help="Replace files in PATH that differ from the posts (edited since, or others).")
@with_appcontext
def export_command(path: Path, overwrite: bool) -> None:
    """Write every post and page back out as Markdown with front matter."""
    from .content.files import ExportConflict, export_posts

    try:
        count = export_posts(path, overwrite=overwrite)
    except ExportConflict as e:
        shown = "\n".join(f"  {p}" for p in e.paths[:20])
        more = f"\n  ... and {len(e.paths) - 20} more" if len(e.paths) > 20 else ""
        raise click.ClickException(
            f"{len(e.paths)} file(s) in {path} differ from the posts that would replace them:\n"
            f"{shown}{more}\nNothing was written. Move them away, or run again with --overwrite."
        ) from None
    click.echo(f"Exported {count} posts and pages to {path}.")


@click.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--overwrite", is_flag=True, help="Replace FILE if it exists.")
@with_appcontext
def backup_command(file: Path, overwrite: bool) -> None:
    """Write the whole blog (every row, every media file) to one file, e.g. blog.tar.gz."""
    from .backup import BackupError, create

    if not file.parent.is_dir():
        raise click.ClickException(f"{file.parent} is not a folder")
    if file.exists() and not overwrite:
        raise click.ClickException(f"{file} exists: choose another name, or pass --overwrite")
    try:
        manifest = create(file)
    except BackupError as e:
        raise click.ClickException(str(e)) from None
    media = sum(1 for name in manifest["files"] if name.startswith("media/"))
    size = file.stat().st_size
    click.echo(f"Wrote {file} ({size:,} bytes: the database at revision {manifest['revision']} "
               f"and {media} media files). Restore it with: inkwell restore {file}")


@click.command("restore")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True,
              help="Replace the posts, pages, users and media records this database holds.")
@with_appcontext
def restore_command(file: Path, force: bool) -> None:
    """Restore a backup into this blog's database and media storage. The whole file is checked
    first: a damaged one is refused before anything is touched."""
    from .backup import BackupError, restore

    try:
        checked = restore(file, force=force)
    except BackupError as e:
        raise click.ClickException(str(e)) from None
    posts = len(checked.rows.get("posts", []))
    click.echo(f"Restored {posts} posts and pages and {len(checked.media)} media files from "
               f"{file} (made {checked.manifest['created_at'][:19]}).")


@click.command("setup")
@click.option("--check", is_flag=True,
              help="Import the content folder and undo it: say what is wrong, write nothing "
                   "(a push runs this before it switches to a new release).")
@with_appcontext
def setup_command(check: bool) -> None:
    """Migrate the database, then import the content folder (CONTENT_DIR, default `content`)
    when there is one: all or nothing, each error as `file:line: what is wrong`. The service
    runs this at every start (deploy/templates/inkwell.service)."""
    from .content.files import content_folder
    from .extensions import db
    from .migrations import upgrade
    from .rerender import forget_stale_file_renders

    if check:
        sys.exit(_check_content())
    with write_intent():
        upgrade(db.engine)
        folder, named = content_folder()
        if folder.is_dir():
            forget_stale_file_renders()  # their files render them again in this import
            if _import_content(folder):
                sys.exit(1)
        elif named:
            raise click.ClickException(f"CONTENT_DIR is {folder}, which is not a folder")
        else:
            click.echo(f"No content folder ({folder}): no posts imported from files.")
        if _rerender():
            sys.exit(1)
    _store_missing_cards()
    click.echo("Database is ready.")
    _compress_static()


def _compress_static() -> None:
    """gzip copies of the static files for WhiteNoise (`make run`, a PaaS: no nginx in front)."""
    from .assets import compress_static

    try:
        written = compress_static()
    except OSError as e:  # a read-only install (the server's service): nginx compresses there
        click.echo(f"Static files: no .gz copies written ({e.strerror}: {e.filename}); without "
                   "nginx in front they go out uncompressed.")
        return
    if written:
        click.echo(f"Compressed {len(written)} static files.")


@click.command("rerender")
@with_appcontext
def rerender_command() -> None:
    """Render again, from their stored Markdown, the posts an older renderer made (their HTML
    is stored at save time; `inkwell setup` runs this on every deploy)."""
    with write_intent():
        sys.exit(_rerender())


def _rerender() -> int:
    """Re-render stale posts, say what was done; 1 when a batch failed."""
    from .content.render import RENDER_VERSION
    from .rerender import rerender_stale

    bar = _progress("Re-rendering posts")
    report = rerender_stale(progress=lambda batches: _iterate(bar(batches)))
    for label in report.need_file:
        click.secho(f"warning: {label} links images by relative path and was rendered before "
                    "its figure links were kept: import its file again to re-render it",
                    fg="yellow", err=True)
    for error in report.errors:
        click.secho(f"error: {error}", fg="red", err=True)
    if report.rerendered or report.need_file or report.errors:
        click.echo(f"Re-rendered {len(report.rerendered)} posts and pages with render version "
                   f"{RENDER_VERSION}" + (f"; {len(report.need_file)} left for their files"
                                          if report.need_file else "") + ".")
    else:
        click.echo(f"Every post is rendered with the current version ({RENDER_VERSION}).")
    return 1 if report.errors else 0


def _store_missing_cards() -> None:
    """Cards for posts that have none (share_cards.store_missing_cards): after the write
    lock, since drawing takes ~50 ms a card and needs no lock."""
    from .share_cards import store_missing_cards

    checked = store_missing_cards()
    if checked is None:
        return
    cards, failed = checked
    if failed:
        click.secho(f"warning: {failed} of {cards} share cards could not be stored (see the "
                    "log); the next start, or `inkwell media cards`, tries again",
                    fg="yellow", err=True)
    else:
        click.echo(f"Share cards checked: {cards}.")


def _check_content() -> int:
    """`inkwell setup --check`: the content folder imported and undone; 1 when refused."""
    from .content.files import content_folder
    from .extensions import db
    from .migrations import current_revision, head_revision

    now, head = current_revision(db.engine), head_revision()
    if now != head:
        raise click.ClickException(f"the database is at schema revision {now or '(none)'}, not "
                                   f"{head}: the content can only be checked once it is")
    folder, named = content_folder()
    if not folder.is_dir():
        if named:
            raise click.ClickException(f"CONTENT_DIR is {folder}, which is not a folder")
        click.echo(f"No content folder ({folder}): nothing to check.")
        return 0
    with write_intent():
        return _import_content(folder, check_only=True)


def _import_content(folder: Path, check_only: bool = False) -> int:
    """Import the content folder all or nothing; 1 (and every error) when refused."""
    from .content.files import import_content

    bar = _progress(f"{'Checking' if check_only else 'Importing'} {folder}")
    report = import_content(folder, current_app.config["IMPORT_MAX_FILE_SIZE"],
                            progress=lambda files: _iterate(bar(files)), check_only=check_only)
    for warning in report.warnings:
        click.secho(f"warning: {warning}", fg="yellow", err=True)
    for error in report.errors:
        click.secho(f"error: {error}", fg="red", err=True)
    if report.errors:
        click.secho(f"{folder} was not imported: nothing changed. Fix the files above and run "
                    "again.", fg="red", err=True)
        return 1
    done = "Checked (nothing written)" if check_only else "Imported"
    click.echo(f"{done} {folder}: {len(report.created)} created, {len(report.updated)} "
               f"updated, {len(report.unchanged)} unchanged, {len(report.unpublished)} "
               f"unpublished (their file is gone), {len(report.warnings)} warnings.")
    return 0


@click.group("assets")
def assets_group() -> None:
    """Static files."""


@assets_group.command("compress")
def assets_compress() -> None:
    """Write .gz copies of the static files (run at build time, e.g. in the Dockerfile)."""
    from .assets import compress_static

    written = compress_static()
    click.echo(f"Wrote {len(written)} compressed files.")


@click.command("stats")
@click.option("--log", "logs", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="nginx's access log (its rotated copies beside it are read too); repeat for "
                   "several [default: make stack's when there is one, else "
                   "/var/log/nginx/access.log].")
@click.option("--days", default=30, show_default=True, type=click.IntRange(1, 3660),
              help="How many days back, today included.")
@click.option("--top", default=10, show_default=True, type=click.IntRange(1, 1000),
              help="How many pages and referring sites to list.")
def stats_command(logs: tuple[Path, ...], days: int, top: int) -> None:
    """Who read what: page views, visitors, feed fetches and referring sites, counted from
    nginx's access log (readers served from its cache never reach the app). No cookie, no
    script, nothing stored."""
    import os
    from urllib.parse import urlsplit

    from .config import instance_folder
    from .visits import DEFAULT_LOG, count, log_files, read_lines, render

    if not logs:
        stack_log = instance_folder(Path.cwd()) / "stack" / "nginx-access.log"
        logs = (stack_log if stack_log.exists() else DEFAULT_LOG,)
    files = [f for log in logs for f in log_files(log)]
    if not files:
        raise click.ClickException(f"no access log at {', '.join(map(str, logs))}: "
                                   "pass nginx's with --log")
    site_host = urlsplit(os.environ.get("SITE_URL", "")).hostname or ""  # not "came from"
    try:
        report = count(read_lines(files), days, site_host, top)
    except (OSError, EOFError) as e:  # unreadable (permissions), a truncated .gz
        raise click.ClickException(f"cannot read the log: {e}") from None
    click.echo(render(report))


@click.command("secret")
def secret_command() -> None:
    """Print a new random SECRET_KEY."""
    click.echo(new_secret_key())


COMMANDS = [db_group, import_command, export_command, setup_command, secret_command, create_admin,
            media_group, deploy_group, assets_group, site_doctor_command, backup_command,
            restore_command, stats_command, rerender_command]


def register_commands(app) -> None:
    for command in COMMANDS:
        app.cli.add_command(command)


def _create_app():
    from . import create_app

    # A ConfigError is a NoAppException, shown as one line (Flask prints others with a traceback).
    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_version_option=False)
def cli() -> None:
    """Inkwell: a Markdown blog with its production stack."""


# On the group itself, so `inkwell --help` lists every command even before .env exists (each
# loads the app when run; secret, deploy and assets never need it).
for _command in COMMANDS:
    cli.add_command(_command)


def main() -> None:
    from sqlalchemy.exc import OperationalError

    from .config import ConfigError

    try:
        cli(prog_name="inkwell")
    except ConfigError as e:
        click.secho(f"error: {e}", fg="red", err=True)
        sys.exit(2)
    except OperationalError as e:  # e.g. DATABASE_URL names a server that does not answer
        reason = str(e.orig or e).strip().splitlines()[0]
        click.secho(f"error: the database in DATABASE_URL failed: {reason}", fg="red", err=True)
        sys.exit(1)
