"""Events outside rules the engine could never have written (the forger's review, item 3): a
second `opened`, a `forced` event from another stage, a `repaired` event with insane members,
and refusals with the wrong stage, move or reasons. Each re-chained forgery is an error at its
seq."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from lifecycle import Engine
from lifecycle.exceptions import RefusedError
from test_forgery import ENG, errors_at
from test_tamper import rechain, split

from conftest import drive_core

Edit = Callable[[dict], None]


@pytest.fixture
def history(engine: Engine) -> Path:
    """eng-1 in active support, with a refused move (a trigger that cannot fire there), a
    forced move back into active support, and a note."""
    drive_core(engine, ENG, until="end-support")
    with pytest.raises(RefusedError):
        engine.advance(ENG, "start-support", actor="officer")
    engine.force(ENG, "active-support", actor="head", reason="Staying in support after review")
    engine.note(ENG, "A plain note", actor="officer")
    return engine.workspace.path_of(ENG)


def _seq_of(path: Path, kind: str) -> int:
    lines = split(path.read_bytes())
    return max(i for i, line in enumerate(lines) if i and json.loads(line)["type"] == kind)


def _data(**members: object) -> Edit:
    return lambda r: r["data"].update(members)


def test_the_fixture_audits_clean(history: Path, engine: Engine) -> None:
    """The refusal and the force as the engine writes them give no error (the probes below
    are the forgeries')."""
    assert errors_at(history, engine, _seq_of(history, "refused")) == []
    assert errors_at(history, engine, _seq_of(history, "forced")) == []


def test_second_opened_event_is_an_error(history: Path, engine: Engine) -> None:
    """An `opened` event after event 1 (the note turned into a copy of the opening) is an error."""
    lines = split(history.read_bytes())
    opened = json.loads(lines[1])
    seq = len(lines) - 1

    def reopen(record: dict) -> None:
        record.update(type="opened", v=opened["v"], data=opened["data"])

    history.write_bytes(b"".join(rechain(lines, seq, reopen)))
    assert "not-allowed" in errors_at(history, engine, seq)


def test_forced_from_another_stage_is_an_error(history: Path, engine: Engine) -> None:
    """A `forced` event whose `from` is not the stage the engagement was in is an error."""
    seq = _seq_of(history, "forced")
    history.write_bytes(
        b"".join(rechain(split(history.read_bytes()), seq, _data(**{"from": "closed"})))
    )
    assert "not-allowed" in errors_at(history, engine, seq)


REPAIRED = [
    ("negative-cut", {"cut_bytes": -5}),
    ("zero-cut", {"cut_bytes": 0}),
    ("saved-elsewhere", {"saved_to": "../../etc/passwd"}),
    ("saved-as-another-history", {"saved_to": "other.history.jsonl.torn-20261201T000000Z"}),
    ("sha-not-hex", {"sha256": "not a digest"}),
]


@pytest.mark.parametrize(("name", "members"), REPAIRED, ids=[r[0] for r in REPAIRED])
def test_insane_repaired_event_is_an_error(
    history: Path, engine: Engine, name: str, members: dict
) -> None:
    """A `repaired` event (the note turned into one) with members no repair writes is an error."""
    lines = split(history.read_bytes())
    seq = len(lines) - 1
    sane = {
        "cut_bytes": 12,
        "saved_to": f"{ENG}.history.jsonl.torn-20261201T000000Z",
        "sha256": "a" * 64,
    }

    def repaired(record: dict) -> None:
        record.update(type="repaired", v=1, data={**sane, **members})

    history.write_bytes(b"".join(rechain(lines, seq, repaired)))
    assert "not-allowed" in errors_at(history, engine, seq)


REFUSALS = [
    ("wrong-stage", _data(stage="closed")),
    ("wrong-from", _data(**{"from": "closed"})),
    ("wrong-to", _data(to="closed")),
    ("empty-why", _data(why=[])),
    ("blank-why", _data(why=["  "])),
    (
        "decisions-let-it-pass",
        lambda r: r["data"].update(
            to=None,
            why=[f"{d['rule']}: {d['message']}" for d in r["data"]["rules"][:1]],
            rules=[{**d, "outcome": "pass"} for d in r["data"]["rules"][:1]],
        ),
    ),
]


@pytest.mark.parametrize(("name", "edit"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_forged_refusal_is_an_error(history: Path, engine: Engine, name: str, edit: Edit) -> None:
    """A refusal with the wrong stage, from or to, no reason, or decisions that let the action
    pass is an error at its seq."""
    seq = _seq_of(history, "refused")
    history.write_bytes(b"".join(rechain(split(history.read_bytes()), seq, edit)))
    assert "not-allowed" in errors_at(history, engine, seq)


def test_advance_on_a_day_before_the_opening_audits_clean(engine: Engine) -> None:
    """`advance --on` a day before the engagement was opened (entered late) is the engine's own
    and audits clean, on that day (documented as honest in history-format.md)."""
    import datetime as dt

    from lifecycle import audit_file

    engine.open("late", "core", actor="officer", title="Entered late")
    for item in ("request-recorded", "entry-point-identified"):
        engine.check("late", item, actor="officer")
    event = engine.advance("late", "accept-request", actor="officer", on=dt.date(2000, 3, 1)).event
    assert event["data"]["on"] == "2000-03-01" and event["at"][:10] > "2000-03-01"
    report = audit_file(
        engine.workspace.path_of("late"), kinds=engine.rule_kinds, today=engine.today()
    )
    assert [f.code for f in report.findings if f.severity == "error"] == []
