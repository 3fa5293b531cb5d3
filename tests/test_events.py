"""Event schemas: hostile files that verify (every hash right, content wrong) are refused by every
reader with one line, and are `bad-event` errors in the audit; every event the engine writes fits."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lifecycle import Engine, audit_file
from lifecycle._events import EVENT_MODELS, event_problem, header_problem, structure_event
from lifecycle._lines import decode_line, encode_line
from lifecycle.exceptions import RefusedError
from test_tamper import rechain, split

from conftest import GOLDEN, run_cli

ENG = "eng-h"

Edit = Callable[[dict[str, Any]], None]


def _drop(key: str) -> Edit:
    return lambda record: record.pop(key)


def _data(**changes: object) -> Edit:
    return lambda record: record["data"].update(changes)


def _data_drop(key: str) -> Edit:
    return lambda record: record["data"].pop(key)


def _first_rule(**changes: object) -> Edit:
    return lambda record: record["data"]["rules"][0].update(changes)


# (name, type of the event forged, the edit): each leaves every hash right after a re-chain.
FORGERIES: list[tuple[str, str, Edit]] = [
    ("note without text", "note_added", _data_drop("text")),
    ("note text an object", "note_added", _data(text={"a": 1})),
    ("event without actor", "note_added", _drop("actor")),
    ("empty actor", "note_added", lambda r: r.update(actor=" ")),
    ("actor a number", "item_checked", lambda r: r.update(actor=7)),
    ("reason an array", "note_added", lambda r: r.update(reason=["x"])),
    ("data an array", "fact_set", lambda r: r.update(data=[])),
    ("unhashable item", "item_checked", _data(item={"a": 1})),
    ("item without stage", "item_checked", _data_drop("stage")),
    ("fact value an object", "fact_set", _data(facts={"envoy": {"x": 1}})),
    ("fact value a number", "fact_set", _data(facts={"envoy": 5})),
    ("facts an array", "fact_set", _data(facts=["envoy"])),
    ("trigger a number", "advanced", _data(trigger=3)),
    ("advanced without to", "advanced", _data_drop("to")),
    ("rules an object", "advanced", _data(rules={})),
    ("unknown outcome word", "advanced", _first_rule(outcome="fine")),
    ("severity unknown", "advanced", _first_rule(severity="maybe")),
    ("message a number", "advanced", _first_rule(message=1)),
    ("unchecked a string", "advanced", _first_rule(unchecked="yes")),
    ("override without roles", "advanced", _data(override={"rules": ["x"]})),
    ("refused why a string", "refused", _data(why="because")),
    ("refused action unknown", "refused", _data(action="delete")),
    ("activity on not a date", "activity_recorded", _data(on="2026-02-30")),
    ("activity on a number", "activity_recorded", _data(on=20260101)),
    ("opened title an object", "opened", _data(title={})),
    ("opened playbook a string", "opened", _data(playbook="core")),
]


def build(engine: Engine) -> Path:
    """An engagement with an event of each kind the forgeries edit; return its history file."""
    engine.open(ENG, "core", actor="officer", title="Hostile target")
    engine.check(ENG, "request-recorded", actor="officer")
    engine.check(ENG, "entry-point-identified", actor="officer")
    engine.advance(ENG, "accept-request", actor="officer")
    engine.set_facts(ENG, ["envoy=Amb. X"], actor="officer")
    with pytest.raises(RefusedError):
        engine.advance(ENG, "complete-analysis", actor="officer")
    engine.force(ENG, "active-support", actor="head", reason="The board decided to skip ahead now.")
    engine.record(ENG, "reflection-retreat", actor="officer")
    engine.note(ENG, "A note for the forgers.", actor="officer")
    return engine.workspace.path_of(ENG)


@pytest.fixture
def hostile(engine: Engine, workspace: Path) -> Callable[[str, Edit], tuple[int, bytes]]:
    """A function forging the first event of a type with an edit, re-chained; returns its seq
    and the forged bytes (written to the history)."""
    path = build(engine)
    original = path.read_bytes()

    def forge(kind: str, edit: Edit) -> tuple[int, bytes]:
        lines = split(original)
        seq = next(
            i for i, line in enumerate(lines) if i and decode_line(line[:-1])[0]["type"] == kind
        )
        data = b"".join(rechain(lines, seq, edit))
        path.write_bytes(data)
        return seq, data

    return forge


class TestSchemas:
    def test_every_event_the_engine_writes_fits(self, engine: Engine):
        """Every event of a history using every event type, and of the golden files, fits its model."""
        path = build(engine)
        files = [path, *GOLDEN.glob("*.history.jsonl")]
        kinds = set()
        for file in files:
            header, *events = split(file.read_bytes())
            assert header_problem(decode_line(header[:-1])[0]) == ""
            for line in events:
                record, digest = decode_line(line[:-1])
                record["hash"] = digest
                assert event_problem(record) == "", record
                assert structure_event(record).seq == record["seq"]
                kinds.add(record["type"])
        practice = {
            "person_added",
            "person_left",
            "handed_over",
            "linked",
            "unlinked",
        }  # test_practice
        practice |= {"lesson"}  # test_lessons: every lesson event the engine writes fits
        assert (
            kinds >= {kind for kind, _ in EVENT_MODELS} - {"repaired", "item_unchecked"} - practice
        )

    @pytest.mark.parametrize(("name", "kind", "edit"), FORGERIES, ids=[f[0] for f in FORGERIES])
    def test_forged_event_is_bad_event_at_its_seq(self, hostile, engine: Engine, name, kind, edit):
        """The audit reports each forgery as a `bad-event` error at the forged event."""
        seq, _ = hostile(kind, edit)
        report = audit_file(
            engine.workspace.path_of(ENG), kinds=engine.rule_kinds, today=engine.today()
        )
        errors = [(f.code, f.seq) for f in report.findings if f.severity == "error"]
        assert ("bad-event", seq) in errors, report.findings
        print(f"tamper probe {name}: caught at seq {seq}")

    def test_bad_header_is_bad_event(self, engine: Engine):
        """A header whose `created` is not a string (re-hashed, chain re-linked) is a bad-event."""
        path = build(engine)
        lines = split(path.read_bytes())
        header, _ = decode_line(lines[0][:-1])
        header["created"] = 5
        forged = [encode_line(header), *lines[1:]]
        path.write_bytes(b"".join(rechain(forged, 1)))
        report = audit_file(path, kinds=engine.rule_kinds, today=engine.today())
        assert ("bad-event", 0) in [(f.code, f.seq) for f in report.findings]

    def test_structure_event_refuses_what_does_not_fit(self):
        """structure_event gives typed models, and refuses a record its check refuses."""
        record = {"seq": 2, "at": "x", "actor": "a", "type": "advanced", "v": 1, "prev": "p"}
        event = structure_event(
            {**record, "data": {"trigger": "t", "from": "a", "to": "b", "rules": []}}
        )
        assert (event.data.from_, event.data.rules) == ("a", ())
        with pytest.raises(ValueError, match=r"data\.from: missing"):
            structure_event({**record, "data": {"trigger": "t", "to": "b", "rules": []}})


READERS = [
    ("status", ["status", ENG]),
    ("history", ["history", ENG]),
    ("history-json", ["history", "--json", ENG]),
    ("history-at", ["history", "--at", "{seq}", ENG]),
    ("note", ["note", ENG, "must not land"]),
    ("audit", ["audit", "{path}"]),
    ("list", ["list"]),
    ("due", ["due"]),
]
SAMPLE = [
    f
    for f in FORGERIES
    if f[0]
    in (
        "note without text",
        "event without actor",
        "unhashable item",
        "fact value an object",
        "activity on not a date",
    )
]


@pytest.mark.parametrize(("name", "kind", "edit"), SAMPLE, ids=[f[0] for f in SAMPLE])
def test_every_reader_refuses_in_one_line(hostile, workspace: Path, name, kind, edit):
    """status, history (--json, --at), note, audit, list and due each give one line naming the file
    and the seq, never a traceback or an internal error, and change no byte of the history."""
    seq, data = hostile(kind, edit)
    path = workspace / f"{ENG}.history.jsonl"
    for reader, template in READERS:
        args = [a.format(seq=seq, path=path) for a in template]
        result = run_cli("--workspace", str(workspace), *args, env={"LIFECYCLE_ACTOR": "officer"})
        said = result.stderr + result.stdout
        assert "Traceback" not in said and "internal error" not in said, (reader, said)
        assert path.read_bytes() == data, reader
        if reader in ("list", "due"):  # a workspace listing names the unreadable engagement
            assert result.returncode == 0, (reader, said)
            assert f"bad event at seq {seq}" in said, (reader, said)
            continue
        assert result.returncode == 1, (reader, said)
        if reader == "audit":
            assert "bad-event" in result.stdout, said
            continue
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, (reader, said)
        assert str(path) in lines[0] and f"bad event at seq {seq}" in lines[0], (reader, said)


def test_history_at_an_unreplayable_event_is_one_line(engine: Engine, workspace: Path):
    """An event that fits its schema but cannot be replayed makes `history --at` exit 1 in one line."""
    path = build(engine)
    lines = split(path.read_bytes())
    seq = next(i for i, line in enumerate(lines) if b'"type":"advanced"' in line)
    path.write_bytes(b"".join(rechain(lines, seq, _data(**{"from": "closed"}))))
    result = run_cli(
        "--workspace",
        str(workspace),
        "history",
        "--at",
        str(seq),
        ENG,
        env={"LIFECYCLE_ACTOR": "officer"},
    )
    assert result.returncode == 1, result.stderr
    assert "cannot replay" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    earlier = run_cli(
        "--workspace",
        str(workspace),
        "history",
        "--at",
        str(seq - 1),
        ENG,
        env={"LIFECYCLE_ACTOR": "officer"},
    )
    assert earlier.returncode == 0, earlier.stderr
