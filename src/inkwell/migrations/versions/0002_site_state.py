"""site_state: when the public content last changed, for Last-Modified.

A page's Last-Modified used to be the newest date among the posts it shows, which goes back in
time when the newest post is deleted, unpublished or backdated (a client asking If-Modified-Since
would then be told, wrongly, that nothing changed). Every write to posts or tags now moves this
one row's time forward, and pages send the later of the two.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "site_state",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("content_changed_at", sa.DateTime(), nullable=False),
    )
    now = datetime.now(UTC).replace(tzinfo=None)
    op.bulk_insert(table, [{"id": 1, "content_changed_at": now}])


def downgrade() -> None:
    op.drop_table("site_state")
