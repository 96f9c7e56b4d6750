"""The editor: list, search, create, edit, preview, publish, schedule, unpublish and delete posts
and standalone pages. Saving goes through `inkwell.publishing`, like `inkwell import` does.
"""

from __future__ import annotations

import re

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from sqlalchemy import delete, or_, select
from sqlalchemy.exc import IntegrityError

from ..content.files import content_folder
from ..content.slugs import slugify
from ..extensions import db
from ..local_time import from_local, local_datetime, to_local
from ..models import Post, SlugRedirect, utcnow
from ..publishing import (
    RenderedBody,
    TagCache,
    apply_markdown,
    apply_rendered,
    render_body,
    reserved_page_slugs,
    touch,
)
from ..search import index_post, unindex_post
from ..share_cards import cards_for, store_cards
from . import ROW_ID, bp
from .forms import ConfirmForm, PostForm, tag_names

SECTIONS = {"posts": "post", "pages": "page"}
PER_PAGE = 50
STATUSES = ("draft", "scheduled", "published")


def status_of(post: Post) -> str:
    if post.status != "published":
        return "draft"
    return "scheduled" if post.is_scheduled else "published"


@bp.app_template_filter("admin_status")
def _status_filter(post: Post) -> str:
    return status_of(post)


# '2026-12-06 17:30 CET': stored UTC times as the author reads them (the blog's TIME_ZONE).
bp.add_app_template_filter(local_datetime, "local_datetime")


def _section_kind(section: str) -> str:
    return SECTIONS[section]


def get_post(section: str, post_id: int, for_update: bool = False) -> Post:
    """The post or page, or a 404. `for_update` (saving, deleting) locks its row until the
    commit on PostgreSQL (SQLite's writers already queue at BEGIN IMMEDIATE), so two saves, or a
    save and a delete, of one post run one after the other instead of failing half-way; the
    second sees what the first wrote, or a 404 if it was deleted."""
    post = db.session.get(Post, post_id, with_for_update=for_update)
    if post is None or post.kind != _section_kind(section):
        abort(404)
    return post


@bp.get("/", defaults={"section": "posts"}, endpoint="posts")
@bp.get("/pages/", defaults={"section": "pages"}, endpoint="pages")
def post_list(section: str):
    kind = _section_kind(section)
    q = request.args.get("q", "").strip()[:200]
    status = request.args.get("status", "")
    raw_page = request.args.get("page", "1")
    # str.isdigit() accepts "¹" and other digits int() refuses; only ASCII digits here.
    page = max(1, int(raw_page)) if re.fullmatch(r"[0-9]{1,5}", raw_page) else 1
    query = select(Post).where(Post.kind == kind)
    if q:
        query = query.where(
            or_(
                Post.title.icontains(q, autoescape=True),
                Post.slug.icontains(q, autoescape=True),
                Post.body_markdown.icontains(q, autoescape=True),
            )
        )
    now = utcnow()
    if status == "draft":
        query = query.where(Post.status != "published")
    elif status == "scheduled":
        query = query.where(Post.status == "published", Post.published_at > now)
    elif status == "published":
        query = query.where(Post.visible(kind, now))
    else:
        status = ""
    query = query.order_by(Post.published_at.desc(), Post.id.desc())
    rows = db.session.scalars(query.limit(PER_PAGE + 1).offset((page - 1) * PER_PAGE)).all()
    return render_template(
        "admin/posts.html",
        section=section,
        posts=rows[:PER_PAGE],
        has_more=len(rows) > PER_PAGE,
        page=page,
        q=q,
        status=status,
        statuses=STATUSES,
    )


@bp.route("/<any(posts,pages):section>/new", methods=["GET", "POST"])
def new(section: str):
    post = Post(kind=_section_kind(section))
    form = PostForm()
    if request.method == "POST":
        return _save(section, post, form, rendered_body(form), is_new=True)
    return render_template("admin/edit.html", section=section, post=None, form=form)


EDIT_URL = f"/<any(posts,pages):section>/<{ROW_ID}:post_id>"


@bp.route(EDIT_URL, methods=["GET", "POST"])
def edit(section: str, post_id: int):
    if request.method == "POST":
        form = PostForm()
        rendered = rendered_body(form)  # before the database: see rendered_body
        post = get_post(section, post_id, for_update=True)
        if post.source_path:
            return _owned_by_file(section, post, form, "Nothing was saved", "edit that file")
        return _save(section, post, form, rendered, is_new=False)
    post = get_post(section, post_id)
    return render_template("admin/edit.html", section=section, post=post, form=_form_of(post),
                           content_dir=content_folder()[0].as_posix())


def _form_of(post: Post) -> PostForm:
    return PostForm(
        data={
            "title": post.title,
            "slug": post.slug,
            "description": post.description,
            "tags": ", ".join(t.name for t in post.tags),
            "body": post.body_markdown,
            "toc": post.show_toc,
            "publish_at": to_local(post.published_at) if post.status == "published" else None,
            "revision": str(post.revision),
        }
    )


def _owned_by_file(section: str, post: Post, form: PostForm, refused: str, instead: str):
    """A file-owned post is changed by its file and a push, never here: the next push would
    silently overwrite a browser edit (or bring a deleted post back), so the change is refused
    (409) and the page says what to do instead."""
    db.session.rollback()
    flash(f"{refused}: this comes from {content_folder()[0].as_posix()}/{post.source_path}; "
          f"{instead} and push.", "error")
    return render_template("admin/edit.html", section=section, post=post, form=form,
                           content_dir=content_folder()[0].as_posix()), 409


def check_slug(form: PostForm, post: Post) -> str | None:
    slug = form.slug.data or slugify(form.title.data or "")
    if not slug:
        form.slug.errors = [*form.slug.errors, "Give it a slug made of letters, digits and -."]
        return None
    if post.kind == "page" and slug in reserved_page_slugs():
        message = f'"{slug}" is used by the site itself; pick another.'
        form.slug.errors = [*form.slug.errors, message]
        return None
    taken = db.session.scalar(
        select(Post).where(Post.kind == post.kind, Post.slug == slug, Post.id != post.id)
        if post.id
        else select(Post).where(Post.kind == post.kind, Post.slug == slug)
    )
    if taken is not None:
        form.slug.errors = [*form.slug.errors, f'"{taken.title}" already uses this slug.']
        return None
    return slug


def _apply_action(form: PostForm, post: Post, is_new: bool) -> str | None:
    """Set status and date from the button pressed; return the message for the author."""
    now = utcnow().replace(microsecond=0)
    when = from_local(form.publish_at.data) if form.publish_at.data else None
    if form.unpublish.data:
        post.status = "draft"
        return "Unpublished: it is a draft again."
    if form.schedule.data:
        if when is None or when <= now:
            form.publish_at.errors = [
                *form.publish_at.errors, "To schedule, pick a date and time in the future."
            ]
            return None
        post.status, post.published_at = "published", when
        return f"Scheduled for {local_datetime(when)}."
    if form.publish.data:
        post.status = "published"
        post.published_at = when if when is not None and when <= now else now
        return "Published."
    if is_new or post.status != "published":
        post.status = "draft"
        if is_new:
            post.published_at = now
        return "Saved as a draft."
    if when is not None:
        post.published_at = when
    if post.published_at > now:
        return f"Saved; it appears on {local_datetime(post.published_at)}."
    return "Saved."


def _keep_old_url(post: Post, old_slug: str) -> None:
    """The published post moved: its old address answers with a 301 from now on."""
    existing = db.session.scalar(
        select(SlugRedirect).where(
            SlugRedirect.kind == post.kind, SlugRedirect.old_slug == old_slug
        )
    )
    if existing is None:
        db.session.add(SlugRedirect(kind=post.kind, old_slug=old_slug, post_id=post.id))
    else:
        existing.post_id = post.id


def rendered_body(form: PostForm) -> RenderedBody | None:
    """The submitted form checked and its Markdown rendered, or None when the form is invalid.

    Called before the view's first database statement: on SQLite a writing request's
    transaction holds the database's only write lock until the end of the request, and
    rendering a long post can take a while, during which nobody else could save or sign in.
    """
    if not form.validate():
        return None
    body = (form.body.data or "").replace("\r\n", "\n")
    limit = current_app.config["IMPORT_MAX_FILE_SIZE"]
    if len(body.encode()) > limit:
        form.body.errors = [f"The text is longer than the limit of {limit // 1024 // 1024} MB."]
        return None
    return render_body(body)


def newer_save(form: PostForm, post: Post) -> str | None:
    """Why this form may not overwrite the post: it was loaded before a newer save (another
    tab, another author). None when it may."""
    loaded = form.loaded_revision()
    if loaded is None or post.id is None or loaded == post.revision:
        return None
    return (f"This {post.kind} was saved elsewhere (another tab or device) after this page "
            "loaded it. Nothing was saved here, so the newer text is not overwritten: copy what "
            "you wrote, then reload the page to see the newer version.")


def store_fields(form: PostForm, post: Post, slug: str, rendered: RenderedBody) -> None:
    """Write the form's fields and rendered text on the post (touch: one more revision)."""
    post.title = form.title.data
    post.slug = slug
    post.description = form.description.data or ""
    post.show_toc = bool(form.toc.data)
    post.tags = TagCache().all_of(tag_names(form.tags.data or ""))
    apply_rendered(post, rendered)
    touch(post)


def _save(
    section: str, post: Post, form: PostForm, rendered: RenderedBody | None, is_new: bool
):
    def invalid(code: int = 400):
        db.session.rollback()
        return render_template(
            "admin/edit.html", section=section, post=None if is_new else post, form=form
        ), code

    if rendered is None:
        return invalid()
    conflict = newer_save(form, post)
    if conflict:
        form.body.errors = [*form.body.errors, conflict]
        return invalid(409)
    slug = check_slug(form, post)
    was_public = not is_new and post.is_published
    old_slug = post.slug
    message = _apply_action(form, post, is_new) if slug else None
    if slug is None or message is None:
        return invalid()
    store_fields(form, post, slug, rendered)
    db.session.add(post)
    try:
        db.session.flush()
    except IntegrityError:
        form.slug.errors = ["Another post took this slug a moment ago; pick another."]
        return invalid()
    if old_slug != slug:
        if was_public:
            _keep_old_url(post, old_slug)
        # A redirect from the new slug, left by an earlier rename, is obsolete now.
        db.session.execute(
            delete(SlugRedirect).where(
                SlugRedirect.kind == post.kind, SlugRedirect.old_slug == slug
            )
        )
    index_post(post)
    post_id = post.id  # read before the commit expires it (it may be deleted right after)
    cards = cards_for([post])
    db.session.commit()
    store_cards(cards)
    flash(message)
    return redirect(url_for("admin.edit", section=section, post_id=post_id))


@bp.route(EDIT_URL + "/delete", methods=["GET", "POST"])
def delete_post(section: str, post_id: int):
    post = get_post(section, post_id, for_update=request.method == "POST")
    if request.method == "GET":
        return render_template(
            "admin/confirm_delete.html", section=section, post=post, form=ConfirmForm()
        )
    if post.source_path:
        return _owned_by_file(section, post, _form_of(post), "Not deleted",
                              "remove that file (its post is unpublished, never deleted)")
    title = post.title
    unindex_post(post.id)
    db.session.delete(post)
    db.session.commit()
    flash(f'Deleted "{title}".')
    return redirect(url_for("admin." + section))


@bp.post("/preview")
def preview():
    """The Markdown rendered exactly as a saved post would be (sanitized HTML, as JSON)."""
    data = request.get_json(silent=True)
    markdown = data.get("markdown") if isinstance(data, dict) else None
    if not isinstance(markdown, str):
        return {"error": "Bad request", "message": 'Send JSON like {"markdown": "..."}.'}, 400
    try:
        size = len(markdown.encode())
    except UnicodeEncodeError:  # JSON can carry "\ud800", which no UTF-8 text can
        return {"error": "Bad request", "message": "The text has an invalid character."}, 400
    limit = current_app.config["IMPORT_MAX_FILE_SIZE"]
    if size > limit:
        return {"error": "Too large", "message": "The text is too long to preview."}, 413
    # A throwaway post through the very function that saving uses, so nothing can differ.
    draft = Post()
    apply_markdown(draft, markdown.replace("\r\n", "\n"))
    return {
        "html": draft.body_html,
        "toc_html": draft.toc_html,
        "has_math": draft.has_math,
        "has_chart": draft.has_chart,
        "reading_minutes": draft.reading_minutes,
    }
