"""The admin's forms (Flask-WTF: every one carries the CSRF token)."""

from __future__ import annotations

import re

from flask import current_app
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    HiddenField,
    PasswordField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from ..content.frontmatter import EARLIEST_DATE, LATEST_DATE
from ..content.limits import (
    MAX_DESCRIPTION_LENGTH,
    MAX_SLUG_LENGTH,
    MAX_TAG_LENGTH,
    MAX_TAGS,
    MAX_TITLE_LENGTH,
)
from ..content.slugs import slugify, tag_slug
from ..share_links import LIFETIMES_DAYS
from .passwords import MAX_LENGTH as MAX_PASSWORD_LENGTH


def _strip(value):
    return value.strip() if isinstance(value, str) else value


class LoginForm(FlaskForm):
    email = StringField(
        "Email", validators=[DataRequired("Enter your email."), Length(max=254)], filters=[_strip]
    )
    password = PasswordField(
        "Password",
        validators=[InputRequired("Enter your password."), Length(max=MAX_PASSWORD_LENGTH)],
    )


class PostForm(FlaskForm):
    title = StringField(
        "Title",
        validators=[DataRequired("Give it a title."), Length(max=MAX_TITLE_LENGTH)],
        filters=[_strip],
    )
    slug = StringField(
        "Slug",
        validators=[Optional(), Length(max=MAX_SLUG_LENGTH)],
        filters=[_strip],
        description="The last part of the address; made from the title when left empty.",
    )
    description = TextAreaField(
        "Description", validators=[Length(max=MAX_DESCRIPTION_LENGTH)], filters=[_strip],
        description="Shown in search results and link previews.",
    )
    tags = StringField(
        "Tags", validators=[Length(max=2000)], filters=[_strip],
        description="Separated by commas.",
    )
    body = TextAreaField("Text (Markdown)")
    publish_at = DateTimeLocalField(
        "Publish date",
        format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"],
        validators=[Optional()],
        description="In the blog's time zone. When to publish with Schedule; on a published "
                    "post, Save moves its date.",
    )
    toc = BooleanField("Show a table of contents")
    # The post's revision when this page was loaded: a save from an older one is refused.
    revision = HiddenField()
    save = SubmitField("Save")
    publish = SubmitField("Publish now")
    schedule = SubmitField("Schedule")
    unpublish = SubmitField("Unpublish")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # The zone the author enters times in, named where they enter them.
        self.publish_at.label.text = f"Publish date ({current_app.config['TIME_ZONE']})"

    def validate_publish_at(self, field) -> None:
        if field.data and not EARLIEST_DATE <= field.data <= LATEST_DATE:  # as imports (issue 15)
            raise ValidationError(f"Pick a date between {EARLIEST_DATE:%Y-%m-%d} and "
                                  f"{LATEST_DATE:%Y-%m-%d}.")

    def validate_revision(self, field) -> None:
        if field.data and not re.fullmatch(r"[0-9]{1,9}", field.data):
            raise ValidationError("The page sent a broken revision number; reload it.")

    def loaded_revision(self) -> int | None:
        """The revision the page was loaded at (None: the form did not say)."""
        return int(self.revision.data) if self.revision.data else None

    def validate_slug(self, field) -> None:
        if field.data and slugify(field.data) != field.data:
            suggestion = slugify(field.data)
            hint = f' such as "{suggestion}"' if suggestion else ""
            raise ValidationError(f"Use lowercase letters, digits and hyphens only{hint}.")

    def validate_tags(self, field) -> None:
        names = tag_names(field.data or "")
        if len(names) > MAX_TAGS:
            raise ValidationError(f"Use at most {MAX_TAGS} tags.")
        if any(len(name) > MAX_TAG_LENGTH for name in names):
            raise ValidationError(f"A tag may be at most {MAX_TAG_LENGTH} characters long.")


def tag_names(raw: str) -> list[str]:
    """Comma-separated tags, trimmed, without empties or repeats (same slug = same tag)."""
    names: list[str] = []
    seen: set[str] = set()
    for name in (part.strip() for part in raw.split(",")):
        key = tag_slug(name)
        if name and key not in seen:
            seen.add(key)
            names.append(name)
    return names


class UploadForm(FlaskForm):
    file = FileField(
        "Image",
        validators=[FileRequired("Choose an image file (PNG, JPEG, WebP or GIF) to upload.")],
    )
    alt = StringField(
        "Description for screen readers (alt text)", validators=[Length(max=300)],
        filters=[_strip],
    )


class ConfirmForm(FlaskForm):
    """A button and the CSRF token: deleting and signing out are POSTs."""

    confirm = SubmitField("Yes, delete")


class ShareForm(FlaskForm):
    """Make a share link for a draft or scheduled post."""

    days = SelectField(
        "Link works for", coerce=int, default=7,
        choices=[SelectChoice(days, f"{days} day{'s' if days > 1 else ''}")
                 for days in LIFETIMES_DAYS],
    )
    share = SubmitField("Make a share link")


class RevokeForm(FlaskForm):
    revoke = SubmitField("Revoke every share link")
