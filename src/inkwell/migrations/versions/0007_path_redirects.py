"""Old addresses of imported posts (issue 17): path_redirects.

path_redirects.path: an old path of a post on the blog it was imported from (a Hugo alias, a
Jekyll permalink), normalized by redirects.normal_path; a request there that would be a 404
answers 301 to the post. Deleting the post deletes its rows (ON DELETE CASCADE).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "path_redirects",
        sa.Column("id", sa.Integer(), primary_key=True),
        # Case matters, as on the old server: a binary collation where the default ignores it.
        sa.Column(
            "path",
            sa.String(500).with_variant(
                sa.String(500, collation="utf8mb4_bin"), "mysql", "mariadb"
            ),
            nullable=False,
        ),
        sa.Column(
            "post_id", sa.Integer(), sa.ForeignKey("posts.id", ondelete="CASCADE"), nullable=False
        ),
        sa.UniqueConstraint("path", name="uq_path_redirects_path"),
    )
    op.create_index("ix_path_redirects_post_id", "path_redirects", ["post_id"])


def downgrade() -> None:
    # The table takes its indexes with it (MariaDB refuses to drop the foreign key's index alone).
    op.drop_table("path_redirects")
