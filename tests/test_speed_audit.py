"""The audit's one-pass reader (#14): the verified fast path reports exactly what the generic
path reports, and the cheap duplicate-member test stays exact."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lifecycle import make_plugin_manager
from lifecycle._audit import _Reader
from lifecycle._auditreport import FileReport
from lifecycle._conformance import Conformance
from lifecycle._events import event_fits, event_problem
from lifecycle._lines import (
    AT_FORMAT,
    LineProblem,
    decode_line,
    encode_hashed,
    encode_line,
    is_timestamp,
    real_day,
)

GOLDEN = Path(__file__).parent / "golden"
KINDS = make_plugin_manager(load_entrypoints=False, environ={}).rule_kinds()
TODAY = dt.date(2030, 1, 1)


def _events(path: Path) -> list[dict[str, Any]]:
    records = []
    for raw in path.read_bytes().splitlines()[1:]:
        record, digest = decode_line(raw)
        record["hash"] = digest
        records.append(record)
    return records


def _fed(records: list[dict[str, Any]], verified: bool) -> tuple[Any, ...]:
    conformance = Conformance(KINDS, TODAY)
    for record in records:
        conformance.feed(dict(record), verified=verified)
    final = conformance.finish()
    eng = conformance.engagement
    assert eng is not None
    return (
        conformance.findings,
        final,
        conformance.overrides,
        conformance.due,
        (eng.stage, eng.seq, eng.head, eng.last_at, eng.notes, dict(eng.facts), dict(eng.done)),
    )


def _forged(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records with a decision's outcome and an actor's name changed, and a note
    recorded after closing: each a finding for both paths."""
    out = [json.loads(json.dumps(r)) for r in records]
    for record in out:
        rules = record["data"].get("rules") or []
        if rules:
            rules[0]["outcome"] = "pass" if rules[0]["outcome"] != "pass" else "block"
            break
    out[2]["actor"] = "A. Mensah"
    extra = dict(out[-1], seq=out[-1]["seq"] + 1, type="fact_set", v=1)
    extra["data"] = {"facts": {"no-such-fact": "x"}}
    return [*out, extra]


@pytest.mark.parametrize("name", ["core-closed", "signed"])
def test_verified_path_matches_generic_path(name: str) -> None:
    """Feeding a golden history with the reader's verified envelope gives the same findings,
    overrides, due items and state as the generic path."""
    records = _events(GOLDEN / f"{name}.history.jsonl")
    assert _fed(records, True) == _fed(records, False)


def test_verified_path_matches_generic_path_on_forged_events() -> None:
    """On forged events (a changed outcome, a free-text actor, an unknown fact after closing)
    both paths give the same, non-empty, findings."""
    records = _forged(_events(GOLDEN / "core-closed.history.jsonl"))
    verified, generic = _fed(records, True), _fed(records, False)
    assert verified == generic
    codes = {f.code for f in verified[0]}
    assert {"decision-mismatch", "actor-name", "not-allowed"} <= codes


def _rehashed(body: bytes) -> bytes:
    """A line whose hash is right for *body* (a compact JSON object without its hash)."""
    digest = hashlib.sha256(body).hexdigest()
    return body[:-1] + b',"hash":"' + digest.encode() + b'"}'


def test_duplicate_member_in_data_is_caught() -> None:
    """A member written twice inside ``data`` of a plain line (no escapes) is refused."""
    body = (
        b'{"seq":2,"at":"2026-01-01T00:00:00.000000Z","actor":"a","type":"note_added","v":1,'
        b'"data":{"text":"one","text":"two"},"prev":"' + b"0" * 64 + b'"}'
    )
    with pytest.raises(LineProblem) as caught:
        decode_line(_rehashed(body))
    assert caught.value.code == "duplicate-key"


def test_duplicate_top_level_member_with_spaces_is_caught() -> None:
    """A duplicate hidden behind whitespace before its colon is refused too."""
    body = (
        b'{"seq":2,"at":"2026-01-01T00:00:00.000000Z","actor" :"a","actor":"b",'
        b'"type":"note_added","v":1,"data":{"text":"x"},"prev":"' + b"0" * 64 + b'"}'
    )
    with pytest.raises(LineProblem) as caught:
        decode_line(_rehashed(body))
    assert caught.value.code == "duplicate-key"


def test_plain_and_colon_lines_decode() -> None:
    """Lines the engine writes, with and without colons in their text, decode to their record."""
    for text in ("plain", 'a "quoted": colon: here'):
        record = {"seq": 2, "at": "2026-01-01T00:00:00.000000Z", "data": {"text": text}}
        line = encode_line(record)
        decoded, digest = decode_line(line[:-1])
        assert decoded == record
        assert digest == hashlib.sha256(line[:-76] + b"}").hexdigest()


# ---------------------------------------------------------------- the shortcuts vs the checks
#
# Each shortcut of the audit's hot path answers for a longer check; over hostile inputs the
# two must give the same verdict (the shortcut never passes what the check would refuse).

_CLEAN_AT = "2026-11-29T13:12:00.945973Z"


def mangled(at: str, edits: list[tuple[int, str, str]]) -> str:
    """*at* with each edit made: (index, character, r(eplace) / i(nsert) / d(elete))."""
    for index, char, how in edits:
        if how == "r":
            at = at[:index] + char + at[index + 1 :]
        elif how == "i":
            at = at[:index] + char + at[index:]
        else:
            at = at[:index] + at[index + 1 :]
    return at
_AT_CHARS = st.sampled_from([*"0123456789:-.TZ x", "\u0663", "\uff11", "\u00b2"])


@given(
    st.lists(st.tuples(st.integers(0, 27), _AT_CHARS, st.sampled_from("rid")), max_size=3),
    st.sampled_from([_CLEAN_AT, "2024-02-29T23:59:59.000000Z", "2026-02-29T00:00:00.000000Z"]),
)
@settings(max_examples=400, deadline=None)
def test_timestamp_lookup_matches_the_regex(edits: list[tuple[int, str, str]], at: str) -> None:
    """is_timestamp answers what AT_FORMAT and the calendar answer, for mangled timestamps
    (Unicode digits, a 24th hour, February 29th, a character too many or too few)."""
    at = mangled(at, edits)
    assert is_timestamp(at) == (AT_FORMAT.match(at) is not None and real_day(at[:10]))


_HOSTILE = st.sampled_from(
    [None, True, False, 0, -1, 1, "", " ", "x", "2026-01-06", [], [{}], {}, {"key": "a"},
     {"key": "a", "ed25519": "b"}, {"key": 1, "ed25519": "b"}, {"a": "b"}]
)  # fmt: skip


def _records() -> list[dict[str, Any]]:
    return _events(GOLDEN / "core-closed.history.jsonl") + _events(GOLDEN / "signed.history.jsonl")


@given(
    st.integers(0, 10_000),
    st.sampled_from(["top", "data", "drop", "drop-data", "extra"]),
    st.sampled_from(["seq", "at", "actor", "type", "v", "data", "prev", "reason", "sig", "x"]),
    _HOSTILE,
)
@settings(max_examples=600, deadline=None)
def test_event_fits_agrees_with_event_problem(pick: int, how: str, key: str, value: Any) -> None:
    """The reader's one-call schema verdict (event_fits) is the one event_problem gives, for
    events with a member replaced by a hostile value, dropped, or added."""
    records = _records()
    record = json.loads(json.dumps(records[pick % len(records)]))
    data = record["data"]
    if how == "top":
        record[key] = value
    elif how == "drop":
        record.pop(key, None)
    elif how == "extra":
        record[f"{key}-extra"] = value
    elif data and how == "data":
        data[sorted(data)[pick % len(data)]] = value
    elif data:
        data.pop(sorted(data)[pick % len(data)])
    kind, version = record.get("type"), record.get("v")
    if type(kind) is str and type(version) is int:
        assert event_fits(record, kind, version) == (event_problem(record) == "")


class _Reevaluating(Conformance):
    """Conformance without the no-rule shortcut: every activity re-evaluated."""

    def _unruled(self, record: dict[str, Any]) -> bool:
        return False


def _activity_findings(records: list[dict[str, Any]], shortcut: bool) -> list[Any]:
    conformance = (Conformance if shortcut else _Reevaluating)(KINDS, TODAY)
    for record in records:
        conformance.feed(json.loads(json.dumps(record)))
    return [conformance.findings, conformance.overrides, conformance.finish()]


@given(
    st.sampled_from(["gender-inclusion-briefing", "training-conflict-party", "nope", 5]),
    st.sampled_from([[], [{"rule": "x", "kind": "k", "severity": "block", "outcome": "pass"}]]),
    st.sampled_from([None, {"rules": [], "roles": []}, {"rules": ["x"], "roles": ["a"]}, 5]),
    st.sampled_from([None, "", "because", 5]),
)
@settings(max_examples=150, deadline=None)
def test_unruled_activity_shortcut_matches_reevaluation(
    activity: Any, rules: list[Any], override: Any, reason: Any
) -> None:
    """An activity skipped by the no-rule shortcut gets the findings and overrides a full
    re-evaluation gives it, whatever activity, outcomes, override and reason it records."""
    records = _events(GOLDEN / "core-closed.history.jsonl")
    index = next(i for i, r in enumerate(records) if r["type"] == "activity_recorded")
    event = json.loads(json.dumps(records[index]))
    event["data"].update(activity=activity, rules=rules)
    if override is not None:
        event["data"]["override"] = override
    if reason is not None:
        event["reason"] = reason
    forged = [*records[:index], event, *records[index + 1 :]]
    assert _activity_findings(forged, True) == _activity_findings(forged, False)


class _GeneralReader(_Reader):
    """The audit's reader without its fast paths: every line read by the general path, every
    record worded by event_problem and fed to conformance unverified."""

    def _common(self, raw: bytes, seq: int, feed: Any) -> bool:
        return False

    def _checked(
        self, record: dict[str, Any], digest: str, seq: int, number: int
    ) -> dict[str, Any] | None:
        self.verified = False
        return super()._checked(record, digest, seq, number)


def _rechained(records: list[dict[str, Any]]) -> bytes:
    """*records* (without hashes) as history lines, each ``prev`` the line before's hash."""
    out, prev = [], ""
    for number, record in enumerate(records):
        if number:
            record["prev"] = prev
        line, prev = encode_hashed(record)
        out.append(line)
    return b"".join(out)


def _audited(history: bytes, reader: type[_Reader]) -> list[dict[str, Any]]:
    report = FileReport("core-closed.history.jsonl")
    reader(report, KINDS, TODAY, {}).run([history])
    return [f.as_json() for f in report.findings]


@given(
    st.integers(1, 10_000),
    st.sampled_from(["top", "data", "drop", "at"]),
    st.sampled_from(["seq", "at", "actor", "type", "v", "data", "prev", "reason", "sig", "x"]),
    _HOSTILE,
    st.integers(0, 26),
)
@settings(max_examples=300, deadline=None)
def test_reader_fast_path_matches_general_path_on_rehashed_lines(
    pick: int, how: str, key: str, value: Any, index: int
) -> None:
    """A golden history with one event changed (a member replaced, dropped, or its ``at``
    mangled) and every line re-hashed and re-chained gets the same findings from the reader's
    fast path as from its general path."""
    records = [
        json.loads(line)
        for line in (GOLDEN / "core-closed.history.jsonl").read_bytes().splitlines()
    ]
    for record in records:
        del record["hash"]
    record = records[1 + pick % (len(records) - 1)]
    if how == "top":
        record[key] = value
    elif how == "drop":
        record.pop(key, None)
    elif how == "at":
        record["at"] = record["at"][:index] + "\u0663" + record["at"][index + 1 :]
    elif record["data"]:
        record["data"][sorted(record["data"])[pick % len(record["data"])]] = value
    history = _rechained(records)
    assert _audited(history, _Reader) == _audited(history, _GeneralReader)
