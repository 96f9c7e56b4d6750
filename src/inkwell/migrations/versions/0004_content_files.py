"""Posts owned by files in the content folder, and figures stored once per content.

posts.source_path: the post's file, relative to the content folder (NULL: written in the
browser, which no push touches). posts.source_removed: its file was removed, so a push
unpublished it. media.source_hash: SHA-256 of a figure's file, so the same bytes pushed again
(or linked by two posts) are one media item.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTER TABLE (no batch copy): SQLite's full-text triggers on posts stay as they are.
    op.add_column("posts", sa.Column("source_path", sa.String(500), nullable=True))
    op.add_column("posts", sa.Column("source_removed", sa.Boolean(), nullable=False,
                                     server_default=sa.false()))
    op.add_column("media", sa.Column("source_hash", sa.String(64), nullable=True))
    op.create_index("ix_media_source_hash", "media", ["source_hash"])


def downgrade() -> None:
    op.drop_index("ix_media_source_hash", table_name="media")
    op.drop_column("media", "source_hash")
    op.drop_column("posts", "source_removed")
    op.drop_column("posts", "source_path")
