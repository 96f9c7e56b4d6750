"""`inkwell media ...`: list uploaded media, move it between storage backends, make share cards.

`migrate` copies, never moves: the source keeps every file, so the site serves images from
either backend while the switch happens, and running it again only copies what is missing.
"""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import with_appcontext

from .database import write_intent
from .storage import BACKENDS, MediaStore, content_type_for, get_store

RENDER_BATCH = 100


@click.group("media")
def media_group() -> None:
    """Uploaded images: list them, move them between local disk and S3."""


@media_group.command("migrate")
@click.option("--to", "target_name", type=click.Choice(BACKENDS), required=True,
              help="Backend to copy media to.")
@click.option("--from", "source_name", type=click.Choice(BACKENDS), default=None,
              help="Backend to copy from (default: MEDIA_BACKEND).")
@with_appcontext
def migrate_command(target_name: str, source_name: str | None) -> None:
    """Copy every media file to another backend and point posts at it.

    Idempotent and resumable: files already at the target with the same size are skipped.
    Nothing is deleted from the source.
    """
    from .cli import _iterate, _progress

    source_name = source_name or current_app.config["MEDIA_BACKEND"]
    if source_name == target_name:
        raise click.UsageError(
            f"media is already on {target_name}; pass --from to copy from the other backend"
        )
    source = get_store(backend=source_name)
    target = get_store(backend=target_name)
    problem = target.check_writable()
    if problem:
        click.secho(f"error: {problem}", fg="red", err=True)
        sys.exit(1)

    copied = skipped = 0
    failed: list[str] = []
    bar = _progress(f"Copying media from {source_name} to {target_name}")
    # Sizes come with the listing: no request per file to the source (an S3 HEAD each).
    for key, expected in _iterate(bar(source.sizes())):
        try:
            if target.size(key) == expected:
                skipped += 1
                continue
        except FileNotFoundError:
            pass
        target.save(key, source.read(key), content_type_for(key))
        if target.size(key) != expected:
            failed.append(key)
            continue
        copied += 1
    click.echo(f"{copied} copied, {skipped} already there, {len(failed)} failed.")
    for key in failed:
        click.secho(f"error: {key} has a different size on {target_name}", fg="red", err=True)
    if failed:
        sys.exit(1)

    sample = next(iter(target.keys()), None)
    unreadable = sample and _not_public(target.url(sample))
    if unreadable:
        click.secho(
            f"warning: visitors cannot load {target.url(sample)} ({unreadable}): allow public "
            "reads (s3:GetObject) on the bucket, or set S3_PUBLIC_URL to a CDN in front of it.",
            fg="yellow",
            err=True,
        )
    posts = _rerender_posts(target)
    click.echo(f"Posts and pages re-rendered to load images from {target_name}: {posts}.")
    current = current_app.config["MEDIA_BACKEND"]
    if current != target_name:
        click.echo(
            f"Next: set MEDIA_BACKEND={target_name} in .env (or the service environment) and "
            "restart the app. Run this command again with "
            f"--from {source_name} --to {target_name} afterwards to copy uploads made meanwhile."
        )


def _not_public(url: str) -> str | None:
    """Why a visitor could not load `url`, or None when they can (app paths are served by us)."""
    import urllib.error
    import urllib.request

    if not url.startswith(("http://", "https://")):
        return None
    try:
        # A one-byte GET rather than HEAD: some S3-compatible services authorise HEAD differently.
        request = urllib.request.Request(url, headers={"Range": "bytes=0-0"})
        with urllib.request.urlopen(request, timeout=10):
            return None
    except urllib.error.HTTPError as e:
        return f"HTTP {e.code}"
    except OSError as e:
        return str(getattr(e, "reason", e))


def _rerender_posts(store: MediaStore) -> int:
    """Re-render posts that show uploaded images so their stored HTML uses `store`'s URLs."""
    from sqlalchemy import select

    from .extensions import db
    from .models import Post
    from .publishing import apply_markdown

    count = 0
    with write_intent():
        ids = db.session.scalars(
            select(Post.id).where(
                Post.body_markdown.contains(current_app.config["MEDIA_URL"], autoescape=True)
            )
        ).all()
        for start in range(0, len(ids), RENDER_BATCH):
            batch = ids[start : start + RENDER_BATCH]
            # Locked (PostgreSQL) so an author saving the same post meanwhile is not undone.
            rows = (
                select(Post)
                .where(Post.id.in_(batch))
                .with_for_update()
                .execution_options(populate_existing=True)
            )
            for post in db.session.scalars(rows):
                apply_markdown(post, post.body_markdown, store)
                count += 1
            db.session.commit()
    return count


@media_group.command("list")
@with_appcontext
def list_command() -> None:
    """Show every uploaded image: key, size in pixels and bytes, alt text, URL."""
    from sqlalchemy import select

    from .extensions import db
    from .models import Media

    store = get_store()
    count = 0
    for media in db.session.scalars(select(Media).order_by(Media.created_at, Media.id)):
        count += 1
        click.echo(
            f"{media.variants['original']}\t{media.width}x{media.height}\t"
            f"{media.size} bytes\t{store.url(media.variants['original'])}\t{media.alt}"
        )
    items = "1 media item" if count == 1 else f"{count} media items"
    click.echo(f"{items} on {current_app.config['MEDIA_BACKEND']}.", err=True)


@media_group.command("cards")
@with_appcontext
def cards_command() -> None:
    """Store the share card of every published post that needs one and has none yet: posts
    published before cards existed, after SITE_TITLE or TIME_ZONE changed, or after
    `media migrate` (cards are not media items, so migrate does not copy them)."""
    from .share_cards import cards_of_published_posts, store_cards

    cards = cards_of_published_posts()
    failed = store_cards(cards)
    backend = current_app.config["MEDIA_BACKEND"]
    if failed:
        raise click.ClickException(f"{failed} of {len(cards)} share cards could not be stored "
                                   f"on {backend} (see the log); run this again when it answers.")
    click.echo(f"Share cards checked: {len(cards)}, all stored on {backend}.")
