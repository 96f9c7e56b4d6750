"""Render version, editor revisions, share links, tag order and media names (issue 16).

posts.render_version: the RENDER_VERSION a post's stored HTML was made with (0: before this
migration), so `inkwell rerender` and `inkwell setup` find posts an older renderer made.
posts.image_urls: the figure links a post was rendered with (relative path -> stored URL), so a
re-render needs no file (NULL: rendered before this migration, not known).
posts.revision: counts saves, so an old editor tab cannot overwrite a newer save.
posts.share_nonce: part of a draft's share link; a new one (or NULL) revokes the old links.
post_tags.position: the order the author gave the tags in (0 for every tag before this).
media.name: the uploaded file's name, shown in the media library.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTER TABLE (no batch copy): SQLite's full-text triggers on posts stay as they are.
    op.add_column("posts", sa.Column("render_version", sa.Integer(), nullable=False,
                                     server_default="0"))
    op.add_column("posts", sa.Column("image_urls", sa.JSON(), nullable=True))
    op.add_column("posts", sa.Column("revision", sa.Integer(), nullable=False,
                                     server_default="1"))
    op.add_column("posts", sa.Column("share_nonce", sa.String(32), nullable=True))
    op.create_index("ix_posts_render_version", "posts", ["render_version"])
    op.add_column("post_tags", sa.Column("position", sa.Integer(), nullable=False,
                                         server_default="0"))
    op.add_column("media", sa.Column("name", sa.String(255), nullable=False, server_default=""))


def downgrade() -> None:
    op.drop_column("media", "name")
    op.drop_column("post_tags", "position")
    op.drop_index("ix_posts_render_version", table_name="posts")
    op.drop_column("posts", "share_nonce")
    op.drop_column("posts", "revision")
    op.drop_column("posts", "image_urls")
    op.drop_column("posts", "render_version")
