"""Uploading images (from the editor by fetch, or the media library's form) and deleting them.

The size limit is Flask's MAX_CONTENT_LENGTH (a 413 before anything is read); the image itself is
checked, cleaned and stored by `inkwell.media`. A refused file leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import sys

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import RequestEntityTooLarge

from ..errors import error_response, wants_json
from ..extensions import db
from ..media import ImageRejected, delete_media, media_markdown, store_upload
from ..models import Media, Post, xml_safe
from ..storage import get_store
from . import ROW_ID, bp
from .auth import client_ip
from .forms import ConfirmForm, UploadForm
from .sessions import log

PER_PAGE = 60


def _thumbnail(media: Media) -> str:
    variants = media.variants or {}
    return get_store().url(variants.get("480") or variants["original"])


@bp.get("/media/")
def media_library():
    items = db.session.scalars(
        select(Media).order_by(Media.created_at.desc(), Media.id.desc()).limit(PER_PAGE)
    ).all()
    return render_template(
        "admin/media.html",
        items=[(m, _thumbnail(m), media_markdown(m)) for m in items],
        form=UploadForm(),
    )


def _is_storage_error(e: Exception) -> bool:
    if isinstance(e, OSError):
        return True
    # botocore is only imported when the s3 backend is in use.
    boto = sys.modules.get("botocore.exceptions")
    return boto is not None and isinstance(e, (boto.BotoCoreError, boto.ClientError))


def _refuse(message: str):
    if wants_json():
        return {"error": "Bad request", "message": message}, 400
    flash(message, "error")
    return redirect(url_for("admin.media_library")), 303


def size_limit_text() -> str:
    """MAX_CONTENT_LENGTH for people: '10 MB', '1.5 MB', '512 KB'."""
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    if limit < 1024 * 1024:
        return f"{limit / 1024:.0f} KB"
    return f"{limit / (1024 * 1024):.1f}".removesuffix(".0") + " MB"


@bp.errorhandler(RequestEntityTooLarge)
def too_large(_e: RequestEntityTooLarge):
    # Werkzeug's own words ("The data value transmitted exceeds the capacity limit.") name no limit.
    what = "file" if request.endpoint == "admin.upload" else "request"
    return error_response(413, f"The {what} is too large (max {size_limit_text()}).")


@bp.post("/media/upload")
def upload():
    form = UploadForm()
    if not form.validate():
        errors = [e for field_errors in form.errors.values() for e in field_errors]
        return _refuse(" ".join(str(e) for e in errors) or "The upload could not be read.")
    upload_file = form.file.data
    data = upload_file.read()
    alt = form.alt.data or ""
    digest = hashlib.sha256(data).hexdigest()
    # The same bytes again (a second drop of one image): the same media item, no new copies.
    same = db.session.scalar(select(Media).where(Media.source_hash == digest).limit(1))
    if same is not None:
        if alt and not same.alt:
            same.alt = alt
        db.session.commit()
        return _uploaded(same, alt, created=False)
    # End the lookup's transaction before the slow part: on SQLite a request that writes holds
    # the database's write lock from its first statement, and resizing must not hold it.
    db.session.rollback()
    try:
        media = store_upload(data, upload_file.filename, get_store(), alt=alt)
    except ImageRejected as e:
        db.session.rollback()
        return _refuse(e.message)
    except Exception as e:
        db.session.rollback()
        if not _is_storage_error(e):
            raise
        log.error("upload from %s failed: media storage: %s", client_ip(), e)
        return error_response(503, "Media storage is not answering; nothing was saved. Try again.")
    media.source_hash = digest
    media.name = upload_name(upload_file.filename)
    variants = dict(media.variants)
    try:
        db.session.commit()
    except IntegrityError:
        # The same bytes arrived at the same moment in another request, which committed first
        # (the unique hash): its item is the answer, and this one's files go.
        db.session.rollback()
        store = get_store()
        for key in sorted(set(variants.values())):
            with contextlib.suppress(Exception):
                store.delete(key)
        same = db.session.scalar(select(Media).where(Media.source_hash == digest))
        if same is None:
            raise
        if alt and not same.alt:
            same.alt = alt
        db.session.commit()
        return _uploaded(same, alt, created=False)
    log.info("upload %s (%d bytes) from %s", media.key, len(data), client_ip())
    return _uploaded(media, alt, created=True)


def upload_name(filename: str | None) -> str:
    """The name the author's file had (no folders), for the media library; never a path."""
    name = xml_safe((filename or "").replace("\\", "/").rsplit("/", 1)[-1]).strip()
    return name[:255]


def _uploaded(media: Media, alt: str, created: bool):
    markdown = media_markdown(media, alt or None)
    if wants_json():
        return {"id": media.id, "markdown": markdown, "url": _thumbnail(media),
                "existing": not created}, 201 if created else 200
    flash(("Uploaded" if created else "This image was uploaded before; it is the same item")
          + ". Paste this into a post: " + markdown)
    return redirect(url_for("admin.media_library"), 303)


@bp.route(f"/media/<{ROW_ID}:media_id>/delete", methods=["GET", "POST"])
def delete_upload(media_id: int):
    media = db.session.get(Media, media_id)
    if media is None:
        abort(404)
    if request.method == "GET":
        # Posts that show the image would lose it; tell the author before they decide.
        used_in = db.session.scalars(
            select(Post).where(Post.body_markdown.contains(media.key, autoescape=True)).limit(20)
        ).all()
        return render_template(
            "admin/media_delete.html", media=media, thumbnail=_thumbnail(media),
            used_in=used_in, form=ConfirmForm(),
        )
    delete_media(media, get_store())
    db.session.commit()
    log.info("deleted media %s from %s", media.key, client_ip())
    flash("Deleted the image and all its sizes.")
    return redirect(url_for("admin.media_library"), 303)
