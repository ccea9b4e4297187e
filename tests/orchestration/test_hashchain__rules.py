"""The audit chain's rules (orchestration.audit.hashchain), without a database: the
seal format is fixed, and a walk finds any single change, deletion or swap."""

from __future__ import annotations

import copy
import hashlib
import importlib
import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from orchestration.audit.hashchain import (
    CONTENT,
    ENTRY,
    GENESIS,
    REMOVED,
    chain,
    digest,
    entries_of,
    link_rows,
    removal_of,
    walk,
    without_values,
)

MIGRATION = importlib.import_module("orchestration.migrations.0038_audit_seal_covers_digests")

PARIS_WINTER = timezone(timedelta(hours=1))
ROW = {
    "id": 7, "created_at": datetime(2030, 1, 2, 3, 4, 5, 600000, tzinfo=PARIS_WINTER),
    "kind": "task.completed", "actor_id": 3, "client": "api:ops", "definition_id": 1,
    "version_id": 2, "instance_id": 9, "step": "review", "from_status": "waiting",
    "to_status": "completed", "reason": "ok", "payload": {"b": [1, 2.5, None], "a": "é"},
    "request_id": "r-1", "ip": "192.0.2.1", "seal": "not covered", "dispatched_at": None,
}  # fmt: skip


# The canonical text of ROW: sorted keys, no spaces, UTF-8, the time in UTC,
# each payload key's value, the reason and the address as the sha256 of their
# canonical JSON. Chains sealed by earlier releases verify only while this
# stays the same.
def canonical() -> str:
    return (
        '{"actor_id":3,"client":"api:ops","created_at":"2030-01-02T02:04:05.600000+00:00",'
        '"definition_id":1,"from_status":"waiting","id":7,"instance_id":9,'
        f'"ip":"{sha(chr(34) + "192.0.2.1" + chr(34))}","kind":"task.completed",'
        f'"payload":{{"a":"{sha(chr(34) + "é" + chr(34))}","b":"{sha("[1,2.5,null]")}"}},'
        f'"reason":"{sha(chr(34) + "ok" + chr(34))}",'
        '"request_id":"r-1","step":"review","to_status":"completed","version_id":2}'
    )


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_the_seal_format_is_fixed() -> None:
    assert digest(ROW) == sha(canonical())
    assert chain(GENESIS, digest(ROW)) == sha(GENESIS + sha(canonical()))
    link = sha("f" * 64 + sha(canonical()))
    entries, last = link_rows("f" * 64, [(7, digest(ROW))])
    assert (entries, last) == (ENTRY.pack(7, bytes.fromhex(link[:16])), link)
    assert entries.hex() == "0000000000000007" + link[:16] and entries_of(entries) == [
        (7, link[:16])
    ]


def test_the_same_moment_in_another_zone_digests_alike(monkeypatch) -> None:
    utc = {**ROW, "created_at": ROW["created_at"].astimezone(UTC)}
    assert digest(utc) == digest(ROW)
    # Whatever the machine's own zone: a sealer abroad writes the same text.
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    try:
        assert digest(ROW) == sha(canonical())
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


Log = tuple[list[dict[str, Any]], list[dict[str, Any]]]  # rows in chain order, seals


def seals_of(rows: list[dict[str, Any]], sizes: list[int]) -> list[dict[str, Any]]:
    seals, previous, start = [], GENESIS, 0
    for number, size in enumerate(sizes, 1):
        batch = rows[start : start + size]
        entries, link = link_rows(previous, [(r["id"], digest(r)) for r in batch])
        seals.append({"seq": number, "previous": previous, "link": link, "entries": entries})
        previous, start = link, start + size
    return seals


@st.composite
def logs(draw: st.DrawFn) -> Log:
    """Rows with distinct ids, sealed in batches one after another from the genesis."""
    ids = draw(st.lists(st.integers(1, 10**9), min_size=1, max_size=8, unique=True))
    rows = [{name: draw(VALUES.get(name, TEXT)) for name in CONTENT} | {"id": i} for i in ids]
    sizes, left = [], len(rows)
    while left:
        sizes.append(draw(st.integers(1, left)))
        left -= sizes[-1]
    return rows, seals_of(rows, sizes)


def reader(rows: list[dict[str, Any]]) -> Any:
    by_id = {r["id"]: r for r in rows}
    return lambda ids: {pk: by_id[pk] for pk in ids if pk in by_id}


def where(seals: list[dict[str, Any]], at: int) -> int:
    """The number of the seal that holds the row at place `at` of the chain."""
    for seal in seals:
        at -= len(entries_of(seal["entries"]))
        if at < 0:
            return int(seal["seq"])
    raise AssertionError("no such place")


@given(logs())
def test_an_untouched_chain_holds(log: Log) -> None:
    rows, seals = log
    assert walk(seals, reader(rows)) == (len(rows), "")


@given(logs(), st.data())
def test_any_single_change_is_found_at_its_row(log: Log, data) -> None:
    rows, seals = log
    at = data.draw(st.integers(0, len(rows) - 1))
    column = data.draw(st.sampled_from([c for c in CONTENT if c != "id"]))
    new = data.draw(VALUES.get(column, TEXT).filter(lambda v: v != rows[at][column]))
    tampered = [dict(r) for r in rows]
    tampered[at][column] = new
    assert walk(seals, reader(tampered)) == (
        at,
        f"row {rows[at]['id']} (seal #{where(seals, at)}) does not match its seal: its content"
        " was changed, or rows were reordered or removed before it",
    )


@given(logs(), st.data())
def test_a_deleted_or_renumbered_row_is_found_where_it_was(log: Log, data) -> None:
    # The newest row too: its seal still names it.
    rows, seals = log
    at = data.draw(st.integers(0, len(rows) - 1))
    left = rows[:at] + rows[at + 1 :]
    if data.draw(st.booleans()):  # its id changed instead
        left = [*left, {**rows[at], "id": -rows[at]["id"]}]
    assert walk(seals, reader(left)) == (
        at,
        f"row {rows[at]['id']} (seal #{where(seals, at)}) is missing: it was deleted, or its id"
        " changed",
    )


@given(logs().filter(lambda log: len(log[0]) > 1), st.data())
def test_two_rows_swapped_in_the_chain_are_found_at_the_first(log: Log, data) -> None:
    rows, _ = log
    at = data.draw(st.integers(0, len(rows) - 2))
    swapped = [*rows[:at], rows[at + 1], rows[at], *rows[at + 2 :]]
    # The seals keep their links, but list the two rows the other way round.
    seals = seals_of(rows, [len(rows)])
    entries = entries_of(seals[0]["entries"])
    entries[at], entries[at + 1] = entries[at + 1], entries[at]
    seals[0]["entries"] = b"".join(ENTRY.pack(pk, bytes.fromhex(s)) for pk, s in entries)
    count, broken = walk(seals, reader(rows))
    assert count == at
    assert broken.startswith(f"row {swapped[at]['id']} (seal #1) does not match")


@given(logs().filter(lambda log: len(log[1]) > 1), st.data())
def test_a_missing_or_altered_seal_is_named(log: Log, data) -> None:
    rows, seals = log
    at = data.draw(st.integers(0, len(seals) - 2))
    before = sum(len(entries_of(s["entries"])) for s in seals[:at])
    missing = f"seal #{at + 1} is missing (deleted, or renumbered); the next one is seal #{at + 2}"
    assert walk(seals[:at] + seals[at + 1 :], reader(rows)) == (before, missing)
    altered = [dict(s) for s in seals]
    altered[at]["link"] = "f" * 64
    count, broken = walk(altered, reader(rows))
    assert broken == f"seal #{at + 1} does not match its rows' links: the seal was altered"
    assert count == before + len(entries_of(seals[at]["entries"]))


@given(logs().filter(lambda log: len(log[1]) > 1), st.data())
def test_a_seal_that_does_not_follow_the_one_before_is_named(log: Log, data) -> None:
    rows, seals = log
    at = data.draw(st.integers(1, len(seals) - 1))
    relinked = [dict(s) for s in seals]
    relinked[at]["previous"] = "e" * 64
    count, broken = walk(relinked, reader(rows))
    assert broken == f"seal #{at + 1} does not follow seal #{at}: the seal was altered"
    assert count == sum(len(entries_of(s["entries"])) for s in seals[:at])


# ---- values removed (retention, erasure) -------------------------------------------------
def vouch_all(by: int) -> Any:
    return lambda pairs: next((f"unvouched {pk}" for pk, b in pairs if b != by), "")


def removed(
    row: dict[str, Any], keys: list[str], columns: list[str], by: int = 99
) -> dict[str, Any]:
    return {**row, **without_values(row, keys, columns, by=by)}


def test_removing_values_keeps_the_digest_and_the_values_are_gone() -> None:
    row = {**ROW, "payload": {"a": "é", "b": [1, 2.5, None], "outcome": "approve"}}
    after = removed(row, ["a", "b"], ["reason", "ip"])
    assert digest(after) == digest(row)
    assert after["payload"]["outcome"] == "approve" and "a" not in after["payload"]
    assert (after["reason"], after["ip"]) == ("", None)
    assert "é" not in str(after) and "192.0.2.1" not in str(after) and "2.5" not in str(after)
    assert removal_of(after) == 99 and removal_of(row) is None
    # Removing again (an erasure after a retention) adds to the marker.
    again = removed(after, ["outcome"], [], by=100)
    assert digest(again) == digest(row) and removal_of(again) == 100
    assert set(again["payload"]) == {REMOVED}


def test_a_changed_or_dropped_digest_still_breaks_the_chain() -> None:
    row = {**ROW, "payload": {"a": "é", "b": 1}}
    after = removed(row, ["a"], ["reason"])
    seals = seals_of([row], [1])
    assert walk(seals, reader([after]), vouch_all(99)) == (1, "")
    changed = copy.deepcopy(after)
    changed["payload"][REMOVED]["keys"]["a"] = "0" * 64
    dropped = copy.deepcopy(after)
    del dropped["payload"][REMOVED]["keys"]["a"]
    no_reason = copy.deepcopy(after)
    del no_reason["payload"][REMOVED]["reason"]
    for tampered in (changed, dropped, no_reason):
        count, broken = walk(seals, reader([tampered]), vouch_all(99))
        assert count == 0 and broken.startswith("row 7 (seal #1) does not match its seal")


def test_a_removal_no_record_vouches_for_is_named() -> None:
    row = {**ROW, "payload": {"a": "é"}}
    after = removed(row, ["a"], [], by=42)
    assert walk(seals_of([row], [1]), reader([after]), vouch_all(99)) == (0, "unvouched 7")


def test_a_removed_key_that_is_not_a_marker_is_ordinary_content() -> None:
    row = {**ROW, "payload": {REMOVED: "just a value"}}
    assert digest({**row, "payload": {REMOVED: "another"}}) != digest(row)
    assert removal_of(row) is None


@given(logs())
def test_the_reseal_migration_digests_as_the_chain_does(log: Log) -> None:
    # Migration 0038 carries a copy of the rule (migrations do not import the
    # code they migrate): the two must agree on every row.
    rows, _ = log
    assert [MIGRATION.parts_digest(r) for r in rows] == [digest(r) for r in rows]
