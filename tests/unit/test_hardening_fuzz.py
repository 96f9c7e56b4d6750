"""Property-based fuzzing (hypothesis) of what issue 15's attack fed the blog: a restore's
manifest and rows, and uploads. Whatever comes in, the answer is the module's own refusal
(BackupError, ImageRejected) or a value the next step takes: never another exception."""

from __future__ import annotations

import io
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from sqlalchemy import create_engine, insert

from inkwell.backup import MANIFEST, BackupError, _manifest, _read_rows, _tables
from inkwell.extensions import db
from inkwell.image_rules import ImageRejected
from inkwell.images import make_variants

FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
PATH = Path("fuzzed.tar.gz")

# --- restore: the manifest ----------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=12,
)
file_entries = st.dictionaries(
    st.sampled_from(["database.jsonl", "media/" + "a" * 32 + ".png", "x", ""]) | st.text(),
    st.fixed_dictionaries({"size": json_values | st.integers(), "sha256": json_values}) |
    json_values, max_size=3)
manifests = st.fixed_dictionaries(
    {}, optional={"format": st.just(1) | json_values, "created_at": st.text() | json_values,
                  "revision": st.sampled_from(["0001", "0004", "9999"]) | json_values,
                  "files": file_entries | json_values, "database": json_values})


@FUZZ
@given(manifest=manifests | json_values, mangle=st.sampled_from(["json", "cut", "deep", "dup"]))
def test_any_manifest_is_read_or_refused_with_a_backup_error(manifest, mangle):
    data = json.dumps(manifest).encode()
    if mangle == "cut":
        data = data[: len(data) // 2]
    elif mangle == "deep":
        data = b"[" * 50_000 + data + b"]" * 50_000
    elif mangle == "dup" and data.startswith(b"{") and len(data) > 2:
        data = b'{"format": 1, "format": 1, ' + data[1:]
    try:
        read = _manifest(PATH, data)
    except BackupError as e:
        assert MANIFEST in str(e) or "format" in str(e) or "newer Inkwell" in str(e)
        return
    assert isinstance(read, dict) and read["format"] == 1


# --- restore: the rows --------------------------------------------------------------------------

TABLES = {t.name: t for t in _tables()}
anything = st.characters(codec=None)  # lone surrogates and NUL included
moments = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30))
offsets = st.none() | st.integers(-23, 23).map(lambda h: timezone(timedelta(hours=h)))
cell_values = (
    st.none() | st.booleans() | st.integers(min_value=-2**70, max_value=2**70) | st.floats()
    | st.text(alphabet=anything, max_size=40) | st.text(max_size=400)
    | st.builds(lambda m, tz: m.replace(tzinfo=tz).isoformat(), moments, offsets)
    | st.recursive(st.text(alphabet=anything, max_size=5) | st.integers() | st.floats(),
                   lambda inner: st.lists(inner, max_size=3)
                   | st.dictionaries(st.text(alphabet=anything, max_size=5), inner, max_size=3),
                   max_leaves=40)
)


@st.composite
def backup_rows(draw):
    table = TABLES[draw(st.sampled_from(sorted(TABLES)))]
    row = {c.name: draw(cell_values) for c in table.columns
           if draw(st.integers(0, 9))}  # mostly every column, sometimes one left out
    return table.name, row


@pytest.fixture(scope="module")
def scratch_db(tmp_path_factory):
    engine = create_engine(f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'rows.sqlite3'}")
    db.metadata.create_all(engine)
    yield engine
    engine.dispose()


@FUZZ
@given(entry=backup_rows())
def test_rows_that_pass_the_checks_go_into_the_database(scratch_db, entry):
    """What _read_rows accepts, the database takes: no UnicodeEncodeError, OverflowError,
    RecursionError or integrity error half-way through a restore's writes."""
    name, row = entry
    line = json.dumps({"table": name, "row": row}).encode()  # escapes surrogates, as attackers do
    try:
        rows = _read_rows(PATH, line + b"\n")
    except BackupError:
        return
    with scratch_db.connect() as conn, conn.begin() as transaction:
        conn.execute(insert(TABLES[name]), rows[name])
        transaction.rollback()


def test_rows_nested_past_the_recursion_limit_are_refused():
    line = b'{"table": "posts", "row": {"extra": ' + b"[" * 200_000 + b"]" * 200_000 + b"}}"
    with pytest.raises(BackupError, match="nested too deeply"):
        _read_rows(PATH, line + b"\n")


# --- uploads ------------------------------------------------------------------------------------


def _image(fmt: str, size=(40, 30), frames: int = 1) -> bytes:
    buffer = io.BytesIO()
    images = [Image.new("RGB", size, (40 * i, 90, 200)) for i in range(frames)]
    extra = {"save_all": True, "append_images": images[1:]} if frames > 1 else {}
    images[0].save(buffer, fmt, **extra)
    return buffer.getvalue()


SEEDS = [_image("PNG"), _image("JPEG"), _image("WEBP"), _image("GIF", frames=3),
         _image("WEBP", frames=2)]


@st.composite
def mangled_uploads(draw):
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(0, 6))):
        how = draw(st.sampled_from(["flip", "cut", "append", "insert", "word"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if how == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif how == "cut":
            del data[at:]
        elif how == "append":
            data += draw(st.binary(max_size=64))
        elif how == "insert":
            data[at:at] = draw(st.binary(max_size=16))
        elif how == "word" and len(data) > at + 2:  # sizes, durations, counts
            data[at:at + 2] = draw(st.sampled_from([b"\xff\xff", b"\x00\x00", b"\x7f\xff"]))
    return bytes(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=mangled_uploads() | st.binary(max_size=512))
def test_any_upload_is_made_into_variants_or_refused_with_a_message(data):
    try:
        done = make_variants(data, "fuzzed.bin", max_pixels=4_000_000, max_frames=50)
    except ImageRejected as e:
        assert e.message and "\n" not in e.message
        return
    assert done.files["original"][2]
