"""The audit's one-pass reader (#14): the verified fast path reports exactly what the generic
path reports, and the cheap duplicate-member test stays exact."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from lifecycle import make_plugin_manager
from lifecycle._conformance import Conformance
from lifecycle._lines import LineProblem, decode_line, encode_line

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
