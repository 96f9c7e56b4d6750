"""Migration 0008 on SQLite and PostgreSQL: media.source_hash becomes unique; rows that already
shared a hash (two uploads at once, before) keep their files, and all but the oldest forget the
hash; downgrade goes back to a plain index."""

from __future__ import annotations

import pytest
from sqlalchemy import insert, inspect, select

from inkwell.migrations import downgrade, upgrade
from inkwell.models import Media

from ..services import BACKENDS


def hash_index(engine) -> dict:
    indexes = inspect(engine).get_indexes("media")
    [index] = [i for i in indexes if i["name"] == "ix_media_source_hash"]
    return index


@pytest.mark.parametrize("backend", BACKENDS)
def test_migration_0008_makes_the_hash_unique_and_keeps_every_item(backend, empty_engine):
    engine = empty_engine
    media = Media.__table__
    upgrade(engine, "0007")
    with engine.begin() as connection:
        for key, digest in (("a", "same"), ("b", "same"), ("c", "other"), ("d", None)):
            connection.execute(insert(media).values(
                key=key, content_type="image/png", width=1, height=1, size=1, alt="",
                variants={"original": f"{key}.png"}, source_hash=digest))
    upgrade(engine)
    assert hash_index(engine)["unique"]
    with engine.connect() as connection:
        rows = dict(connection.execute(select(media.c.key, media.c.source_hash)).all())
    assert rows == {"a": "same", "b": None, "c": "other", "d": None}

    downgrade(engine, "0007")
    assert not hash_index(engine)["unique"]
    upgrade(engine)
    assert hash_index(engine)["unique"]
