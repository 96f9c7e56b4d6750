"""The same bytes are one media item, also when two uploads of them arrive at once.

media.source_hash becomes unique (NULL, for items from before 0004, may repeat). The upload
looks for the hash before it stores anything; two uploads of one image at the same moment both
missed it and made two items. Now the second commit is refused by the index and the upload
answers with the first item (admin/media_views.py). Rows that already share a hash keep their
files: all but the oldest forget the hash (they stay in the library as they were).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The derived table (AS oldest) lets MariaDB read the table it updates.
    op.execute(sa.text(
        "UPDATE media SET source_hash = NULL WHERE source_hash IS NOT NULL AND id NOT IN "
        "(SELECT id FROM (SELECT MIN(id) AS id FROM media WHERE source_hash IS NOT NULL "
        "GROUP BY source_hash) AS oldest)"
    ))
    op.drop_index("ix_media_source_hash", table_name="media")
    op.create_index("ix_media_source_hash", "media", ["source_hash"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_media_source_hash", table_name="media")
    op.create_index("ix_media_source_hash", "media", ["source_hash"])
