"""The golden history (tests/golden/core-closed.history.jsonl, written once by make_core_closed.py) is
replayed and verified on every run, by lifecycle and by an independent verifier."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from pathlib import Path

import pytest

from lifecycle import FileHistoryStore, audit_file
from lifecycle._replay import replay

from conftest import GOLDEN

PATH = GOLDEN / "core-closed.history.jsonl"
CHECKPOINT = (
    "checkpoint core-closed 32 9b416033e5ab1a6b6992346b724500f9b7bb7065faad0ab3ea3a57b0f8161367"
)
OVERRIDE = "The council decision is delayed; the envoy must be appointed before the summit."


def verify_independently(data: bytes) -> tuple[str, int, str]:
    """Verify a history with hashlib and json only, as docs/history-format.md describes; return
    (engagement, events, head hash). Raises AssertionError on any problem."""
    assert data.endswith(b"\n"), "torn tail"
    assert not data.startswith(b"\xef\xbb\xbf"), "byte-order mark"
    lines = data[:-1].split(b"\n")
    suffix = re.compile(rb',"hash":"([0-9a-f]{64})"\}$')
    hashes, records = [], []
    for number, raw in enumerate(lines, start=1):
        match = suffix.search(raw)
        assert match is not None, f"line {number}: no hash suffix"
        body = raw[: match.start()] + b"}"
        digest = match.group(1).decode("ascii")
        assert hashlib.sha256(body).hexdigest() == digest, f"line {number}: hash mismatch"
        record = json.loads(raw.decode("utf-8"))
        assert isinstance(record, dict) and record["hash"] == digest
        assert list(record)[-1] == "hash"
        hashes.append(digest)
        records.append(record)
    header, events = records[0], records[1:]
    assert header["format"] == "lifecycle-history" and header["version"] == 1
    assert "prev" not in header
    last_at = ""
    for seq, (event, prev) in enumerate(zip(events, hashes, strict=False), start=1):
        assert event["seq"] == seq, f"seq gap at line {seq + 1}"
        assert event["prev"] == prev, f"chain broken at seq {seq}"
        assert event["at"] >= last_at, f"time goes backwards at seq {seq}"
        last_at = event["at"]
    return header["engagement"], len(events), hashes[-1]


@pytest.fixture
def data() -> bytes:
    """The golden bytes."""
    return PATH.read_bytes()


def test_independent_verifier_accepts_it(data: bytes) -> None:
    """A verifier written from the format document alone accepts the file and agrees on its checkpoint."""
    engagement, events, head = verify_independently(data)
    assert f"checkpoint {engagement} {events} {head}" == CHECKPOINT


def test_independent_verifier_rejects_a_flipped_byte(data: bytes) -> None:
    """The independent verifier is not vacuous: one changed byte makes it fail."""
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0x04
    with pytest.raises(AssertionError):
        verify_independently(bytes(flipped))


def test_embedded_playbook_digest_recomputes(data: bytes) -> None:
    """The embedded playbook's sha256 is that of its canonical JSON (sorted keys, compact, UTF-8)."""
    opened = json.loads(data.split(b"\n")[1])
    canonical = json.dumps(
        opened["data"]["playbook"], sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")
    assert hashlib.sha256(canonical).hexdigest() == opened["data"]["playbook_sha256"]


def test_audit_finds_nothing_and_prints_the_exact_checkpoint(plugins) -> None:
    """lifecycle's audit finds nothing at all and gives the exact recorded checkpoint."""
    report = audit_file(PATH, kinds=plugins.rule_kinds(), today=dt.date(2026, 2, 1))
    assert report.findings == []
    assert report.checkpoint is not None and report.checkpoint.line() == CHECKPOINT
    assert report.stage == "closed"
    assert report.overrides == [
        {
            "seq": 15,
            "actor": "head",
            "roles": ["officer", "head-of-unit"],
            "rules": ["mandate-before-appointment"],
            "reason": OVERRIDE,
        }
    ]


def test_replay_reaches_closed() -> None:
    """Replaying the verified events ends in `closed`, through every stage of the core path."""
    records = FileHistoryStore(PATH).read()
    engagement = replay(records)
    assert engagement.stage == "closed" and engagement.final
    assert engagement.seq == 32 and engagement.head == CHECKPOINT.split()[-1]
    assert [e.stage for e in engagement.entries] == [
        "support-request",
        "conflict-analysis",
        "selection-advice",
        "induction-briefing",
        "thematic-briefings",
        "active-support",
        "debriefing",
        "lessons-learned",
        "closed",
    ]
    kinds = [r["type"] for r in records]
    assert kinds.count("refused") == 1 and records[13]["type"] == "refused"
    assert records[14]["data"]["override"]["rules"] == ["mandate-before-appointment"]
    assert records[14]["reason"] == OVERRIDE


def test_cli_audit_against_the_recorded_checkpoint(tmp_path: Path, cli) -> None:
    """`lifecycle audit` passes the golden file, prints its checkpoint, and it extends that checkpoint."""
    code, out, _ = cli("audit", str(PATH))
    assert code == 0
    assert CHECKPOINT in out
    saved = tmp_path / "checkpoints.txt"
    saved.write_text(CHECKPOINT + "\n", encoding="utf-8")
    code, out, _ = cli("audit", "--against", str(saved), str(PATH))
    assert code == 0, out
