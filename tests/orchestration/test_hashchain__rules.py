"""The audit chain's rules (orchestration.audit.hashchain), without a database: the
seal format is fixed, and a walk finds any single change, deletion or swap."""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from orchestration.audit.hashchain import CONTENT, GENESIS, chain, digest, seal_rows, walk

PARIS_WINTER = timezone(timedelta(hours=1))
ROW = {
    "id": 7, "created_at": datetime(2030, 1, 2, 3, 4, 5, 600000, tzinfo=PARIS_WINTER),
    "kind": "task.completed", "actor_id": 3, "client": "api:ops", "definition_id": 1,
    "version_id": 2, "instance_id": 9, "step": "review", "from_status": "waiting",
    "to_status": "completed", "reason": "ok", "payload": {"b": [1, 2.5, None], "a": "é"},
    "request_id": "r-1", "ip": "192.0.2.1", "seal": "not covered", "dispatched_at": None,
}  # fmt: skip
# The canonical text of ROW: sorted keys, no spaces, UTF-8, the time in UTC.
# Chains sealed by earlier releases verify only while this stays the same.
CANONICAL = (
    '{"actor_id":3,"client":"api:ops","created_at":"2030-01-02T02:04:05.600000+00:00",'
    '"definition_id":1,"from_status":"waiting","id":7,"instance_id":9,"ip":"192.0.2.1",'
    '"kind":"task.completed","payload":{"a":"é","b":[1,2.5,null]},"reason":"ok",'
    '"request_id":"r-1","step":"review","to_status":"completed","version_id":2}'
)


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_the_seal_format_is_fixed() -> None:
    assert digest(ROW) == sha(CANONICAL)
    assert chain(GENESIS, digest(ROW)) == sha(GENESIS + sha(CANONICAL))
    sealed = seal_rows([(7, digest(ROW))], seq=41, previous="f" * 64)
    assert sealed == [(7, 42, sha("f" * 64 + sha(CANONICAL)))]


def test_the_same_moment_in_another_zone_digests_alike(monkeypatch) -> None:
    utc = {**ROW, "created_at": ROW["created_at"].astimezone(UTC)}
    assert digest(utc) == digest(ROW)
    # Whatever the machine's own zone: a sealer abroad writes the same text.
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    try:
        assert digest(ROW) == sha(CANONICAL)
    finally:
        monkeypatch.undo()
        time.tzset()


def test_columns_outside_the_content_do_not_count() -> None:
    assert digest({**ROW, "seal": "other", "dispatched_at": "now"}) == digest(ROW)


# ---- properties ---------------------------------------------------------------------------
TEXT = st.text(max_size=8)
VALUES: dict[str, st.SearchStrategy[Any]] = {
    "created_at": st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    ),
    "payload": st.dictionaries(TEXT, st.integers() | TEXT | st.none(), max_size=3),
    "ip": st.none() | st.sampled_from(["192.0.2.1", "2001:db8::1"]),
    **{name: st.none() | st.integers(1, 10**6)
       for name in ("actor_id", "definition_id", "version_id", "instance_id")},
}  # fmt: skip


@st.composite
def logs(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Rows with distinct ids, sealed one after another from the genesis."""
    ids = draw(st.lists(st.integers(1, 10**9), min_size=1, max_size=8, unique=True))
    rows = [{name: draw(VALUES.get(name, TEXT)) for name in CONTENT} | {"id": i} for i in ids]
    for pk, seq, seal in seal_rows([(r["id"], digest(r)) for r in rows], seq=0, previous=GENESIS):
        row = next(r for r in rows if r["id"] == pk)
        row.update(seal_seq=seq, seal=seal)
    return rows


@given(logs())
def test_an_untouched_chain_holds(rows) -> None:
    assert walk(rows) == (len(rows), "")


@given(logs(), st.data())
def test_any_single_change_is_found_at_its_row(rows, data) -> None:
    at = data.draw(st.integers(0, len(rows) - 1))
    column = data.draw(st.sampled_from(CONTENT))
    new = data.draw(VALUES.get(column, TEXT).filter(lambda v: v != rows[at][column]))
    if column == "id":
        new = data.draw(st.integers(1, 10**9).filter(lambda v: v != rows[at]["id"]))
    tampered = [dict(r) for r in rows]
    tampered[at][column] = new
    assert walk(tampered) == (
        at,
        f"row {tampered[at]['id']} (seal #{at + 1}) does not match its seal: its content"
        " was changed, or rows were reordered or removed before it",
    )


@given(logs().filter(lambda rows: len(rows) > 1), st.data())
def test_a_deleted_row_is_found_where_it_was(rows, data) -> None:
    # Any row but the newest: a cut tail leaves a shorter chain that holds (see
    # docs/security.md: record the head elsewhere to notice a truncation).
    at = data.draw(st.integers(0, len(rows) - 2))
    count, broken = walk(rows[:at] + rows[at + 1 :])
    assert count == at
    assert broken == (
        f"seal #{at + 1} is missing (the row sealed after row sealed #{at} was deleted, or its"
        f" seal removed); next is row {rows[at + 1]['id']} with seal #{at + 2}"
    )


@given(logs().filter(lambda rows: len(rows) > 1), st.data())
def test_two_rows_swapped_are_found_at_the_first(rows, data) -> None:
    # Their content trades places; the sequence numbers and seals stay put.
    at = data.draw(st.integers(0, len(rows) - 2))
    swapped = [dict(r) for r in rows]
    for name in CONTENT:
        swapped[at][name], swapped[at + 1][name] = rows[at + 1][name], rows[at][name]
    count, broken = walk(swapped)
    assert count == at
    assert broken.startswith(f"row {swapped[at]['id']} (seal #{at + 1}) does not match")
