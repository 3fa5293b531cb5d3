"""The audit's common-line path (#14): the reader's one-pass check (``_Reader._common``, with
the generated ``_eventfits`` checks) and the one-step conformance of common events
(``_conformfast``) report exactly what the general paths report, on hostile inputs."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from lifecycle import make_plugin_manager
from lifecycle._audit import _Reader
from lifecycle._auditreport import FileReport
from lifecycle._conformance import Conformance
from lifecycle._eventfits import fits_counter
from lifecycle._events import event_fits
from lifecycle._lines import (
    _counted,
    decode_common,
    decode_hashed,
    encode_hashed,
    is_timestamp,
    is_timestamp_after,
)
from test_speed_audit import _GeneralReader, _rechained, mangled

ROOT = Path(__file__).parent.parent
GOLDEN = Path(__file__).parent / "golden"
KINDS = make_plugin_manager(load_entrypoints=False, environ={}).rule_kinds()
TODAY = dt.date(2030, 1, 1)
Record = dict[str, Any]


@functools.cache
def _bench_history() -> tuple[Record, ...]:
    """The bench's history, 80 events: the engine's prefix to active support under ``core``,
    then notes, fact changes and activities on cadence (records without hashes)."""
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import _gen
    finally:
        sys.path.remove(str(ROOT / "bench"))
    base = _gen.base_records()
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    first_day = dt.date(2018, 1, 1)
    header, *prefix = base
    events = [dict(r) for r in prefix]
    for seq in range(len(prefix) + 1, 81):
        events.append(_gen._event(seq, start, first_day))
    at = "2025-12-01T00:00:00.000000Z"
    header = dict(header, created="2025-01-01T00:00:00.000000Z", engagement="bench")
    for record in events[: len(prefix)]:  # the engine's prefix before the rest
        record["at"] = at
    events[0]["data"] = {**events[0]["data"], "engagement": "bench"}
    return (header, *events)


def _copy(records: Any) -> list[Record]:
    return [json.loads(json.dumps(r)) for r in records]


def _audited(history: bytes, reader: type[_Reader]) -> list[Any]:
    report = FileReport("bench.history.jsonl")
    reader(report, KINDS, TODAY, {}).run([history])
    return [[f.as_json() for f in report.findings], report.overrides, report.due, report.stage]


_VALUES = st.sampled_from(
    [None, True, 0, 2, -1, "", " ", "x", "2026-01-06", "2016-01-01", "2099-01-01", "2026-02-30",
     "active-support", "reflection-retreat", "peer-coaching", "training", "conflict", [], [{}],
     {}, {"conflict": "y"}, {"conflict": None}, {"nope": "y"}, {"consent.parties": "yes"},
     {"rules": [], "roles": []}, {"key": "SHA256:a", "ed25519": "b"}]
)  # fmt: skip
_KEYS = st.sampled_from(
    ["seq", "at", "actor", "type", "v", "data", "prev", "reason", "sig", "x", "text", "facts",
     "activity", "on", "stage", "rules", "note", "override", "params"]
)  # fmt: skip


def _edited(pick: int, how: str, key: str, value: Any) -> list[Record]:
    records = _copy(_bench_history())
    record = records[1 + pick % (len(records) - 1)]
    data = record["data"]
    if how == "top":
        record[key] = value
    elif how == "drop":
        record.pop(key, None)
    elif how == "data":
        data[key] = value
    elif how == "drop-data":
        data.pop(key, None)
    elif how == "type":  # another type, or version, with the same data
        record["type"], record["v"] = {
            "note_added": ("fact_set", 1),
            "fact_set": ("activity_recorded", 1),
        }.get(record["type"], ("activity_recorded", 2))
    return records


@given(
    st.integers(0, 10_000),
    st.sampled_from(["top", "drop", "data", "drop-data", "type"]),
    _KEYS,
    _VALUES,
)
@settings(max_examples=500, deadline=None)
def test_reader_common_path_matches_general_path(pick: int, how: str, key: str, value: Any) -> None:
    """The bench's history with one event changed (a member replaced, dropped or added, in the
    envelope or in data, or another type) and re-chained gets the same findings, overrides,
    due items and stage from the reader with its fast paths as without."""
    history = _rechained(_edited(pick, how, key, value))
    assert _audited(history, _Reader) == _audited(history, _GeneralReader)


def test_clean_bench_history_takes_the_common_path() -> None:
    """Every event of the bench's history after the opened one is a common line (the path the
    bench measures), and it gets the findings of the general path: missed cadences only."""
    history = _rechained(_copy(_bench_history()))
    taken = []

    class Counting(_Reader):
        def _common(self, raw: bytes, seq: int, feed: Any) -> bool:
            taken.append(super()._common(raw, seq, feed))
            return taken[-1]

    assert _audited(history, Counting) == _audited(history, _GeneralReader)
    assert taken[1:] == [True] * (len(taken) - 1) and taken[0] is False
    codes = {f["code"] for f in _audited(history, _Reader)[0]}
    assert "cadence-missed" in codes and codes <= {"cadence-missed", "overdue"}


def _line(record: Record) -> bytes:
    return encode_hashed(record)[0][:-1]


def _rehashed(body: bytes) -> bytes:
    """A line whose hash is right for *body* (a compact JSON object without its hash)."""
    digest = hashlib.sha256(body).hexdigest()
    return body[:-1] + b',"hash":"' + digest.encode() + b'"}'


_SPLICES = st.sampled_from(
    [b' "seq":', b'"text":"dup",', b'"data" :{"text":"a"},', b'"actor":"x",', b'\\u0041',
     b'"a\\ud800":1,', b'"on":"2026-01-01",', b'"facts":{},', b'"rules":[{"a":1,"a":2}],',
     b'"conflict":"z",', b'"reason":"r",', b'"x:y":"',  b' ', b':', b'{', b'}', b'"']
)  # fmt: skip


@given(st.integers(0, 10_000), st.integers(0, 400), _SPLICES)
@settings(max_examples=500, deadline=None)
def test_reader_common_path_matches_on_spliced_bytes(pick: int, at: int, splice: bytes) -> None:
    """A line with bytes spliced in (a member written twice, whitespace before a colon, an
    escape, a lone surrogate, a colon in a text, broken JSON) and re-hashed, the lines after
    it re-chained, gets the same findings from the reader with its fast paths as without."""
    records = _copy(_bench_history())
    index = 1 + pick % (len(records) - 1)
    lines = [_line(r) for r in records[:index]]
    body = _line(records[index])[:-76] + b"}"
    place = 1 + at % (len(body) - 1)
    lines.append(_rehashed(body[:place] + splice + body[place:]))
    prev = hashlib.sha256(lines[-1][:-75] + b"}").hexdigest()
    for record in records[index + 1 :]:
        record["prev"] = prev
        line, prev = encode_hashed(record)
        lines.append(line[:-1])
    history = b"\n".join(lines) + b"\n"
    assert _audited(history, _Reader) == _audited(history, _GeneralReader)


@given(
    st.integers(0, 10_000), st.sampled_from(["top", "drop", "data", "drop-data"]), _KEYS, _VALUES
)
@settings(max_examples=500, deadline=None)
def test_fits_counter_agrees_with_event_fits(pick: int, how: str, key: str, value: Any) -> None:
    """The generated one-pass check fits a record exactly when event_fits does (given the
    envelope the reader checks first: seq a positive integer, prev and at strings, the other
    members every event holds there), and then
    counts no more members than the line codec's duplicate-member proof counts (so a line it
    passes is one the proof passes)."""
    records = _edited(pick, how, key, value)
    record = records[1 + pick % (len(records) - 1)]
    line = encode_hashed(record)[0][:-1]
    decoded = decode_common(line)
    assert decoded == decode_hashed(line)
    assert decoded is not None
    kind, version = record.get("type"), record.get("v")
    if type(kind) is not str or type(version) is not int:
        return
    seq, prev, at = (decoded.get(k) for k in ("seq", "prev", "at"))
    if type(seq) is not int or seq < 1 or type(prev) is not str or type(at) is not str:
        return  # the reader proves these before it asks
    if not {"actor", "data", "type", "v", "hash"} <= set(decoded):
        return  # and that these are there
    fits = fits_counter(kind, version)
    if fits is None:
        return
    members = fits(decoded, decoded.get("actor"), decoded.get("data"))
    assert (members >= 0) == event_fits(decoded, kind, version)
    if members >= 0:
        assert members + str(decoded["at"]).count(":") <= _counted(decoded)


def _state(conformance: Conformance) -> tuple[Any, ...]:
    eng = conformance.engagement
    assert eng is not None
    names = ("reflection-retreat", "peer-coaching", "technical-coaching", "training")
    return (
        conformance.findings,
        conformance.finish(),
        conformance.overrides,
        conformance.due,
        (eng.stage, eng.seq, eng.head, eng.last_at, eng.notes, dict(eng.facts), dict(eng.done)),
        list(eng.activities),
        [(eng.last_occurrence(n), eng.activity_count(n, "active-support")) for n in names],
    )


def _fed(records: list[Record], common: bool) -> tuple[Any, ...]:
    conformance = Conformance(KINDS, TODAY)
    prev = ""
    for record in records[1:]:
        if conformance.broken:
            break  # the reader feeds no more
        record["prev"] = prev
        line, prev = encode_hashed(record)
        decoded = decode_hashed(line[:-1])
        fitting = event_fits(decoded, decoded["type"], decoded["v"])
        if common and fitting:
            args = (decoded[k] for k in ("seq", "type", "actor", "data"))
            conformance.feed_common(decoded, *args)
        elif fitting:
            conformance.feed(decoded)  # the generic path: nothing taken as checked
    return _state(conformance)


_ACTIVITY = st.fixed_dictionaries(
    {
        "activity": st.sampled_from(
            ["reflection-retreat", "peer-coaching", "technical-coaching", "training", "nope"]
        ),
        "on": st.sampled_from(
            ["2016-01-01", "2019-06-30", "2025-11-30", "2025-12-31", "1999-01-01"]
        ),
        "stage": st.sampled_from(["active-support", "induction-briefing"]),
        "rules": st.sampled_from(
            [
                [],
                [{"rule": "x", "kind": "k", "severity": "warn", "outcome": "pass", "message": "m"}],
            ]
        ),
    }
)
_DATA = st.one_of(
    st.builds(lambda t: {"text": t}, st.sampled_from(["x", "a: b"])),
    st.builds(
        lambda f: {"facts": f},
        st.sampled_from([{"conflict": "y"}, {"conflict": None}, {"nope": "y"}, {"level": "zz"}]),
    ),
    _ACTIVITY,
)


@given(
    st.lists(st.tuples(st.integers(0, 200), _DATA, st.sampled_from([None, "why"])), max_size=6),
    st.booleans(),
)
@settings(max_examples=300, deadline=None)
def test_common_conformance_matches_generic_feed(
    edits: list[tuple[int, Record, str | None]], closed: bool
) -> None:
    """Events of the common types put in place of the bench history's (with data that fits
    but breaks engine conditions, cadences, attached rules or the final stage, and reasons)
    give the same findings, overrides, due items, state, activities and index answers through
    the one-step conformance as through the generic feed."""
    records = _copy(_bench_history())
    if closed:  # a move into the final stage, forced, before the last events
        records[60] = dict(
            records[60], type="forced", v=1, reason="closing", data={"to": "closed", "roles": []}
        )
    kinds = {"text": "note_added", "facts": "fact_set"}
    for pick, data, reason in edits:
        record = records[9 + pick % (len(records) - 9)]
        if record["type"] == "forced":
            continue
        record["type"], record["v"], record["data"] = (
            next((kinds[k] for k in data if k in kinds), "activity_recorded"),
            1,
            dict(data),
        )
        record.pop("reason", None)
        if reason is not None:
            record["reason"] = reason
    assert _fed(_copy(records), True) == _fed(_copy(records), False)


_AT_CHARS = st.sampled_from([*"0123456789:-.TZ x", "\u0663", "\uff11", "\u00b2", "\0"])


@given(
    st.lists(st.tuples(st.integers(0, 27), _AT_CHARS, st.sampled_from("rid")), max_size=3),
    st.sampled_from(["2026-11-29T13:12:00.945973Z", "2024-02-29T23:59:59.000000Z"]),
    st.sampled_from(
        ["2026-11-29T13:12:", "2024-02-29T23:59:", "0001-01-01T00:00:", "2026-11-29T13:1\u0663:"]
    ),
)
@settings(max_examples=500, deadline=None)
def test_timestamp_after_a_minute_matches_is_timestamp(
    edits: list[tuple[int, str, str]], at: str, minute: str
) -> None:
    """is_timestamp_after answers what is_timestamp answers, for mangled timestamps in and out
    of the minute given (itself the start of a timestamp, one in Unicode digits included)."""
    assert is_timestamp(minute + "00.000000Z")
    at = mangled(at, edits)
    assert is_timestamp_after(at, minute) == is_timestamp(at)
