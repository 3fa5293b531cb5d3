"""Members and envelope values the engine never writes (the forger's review, items 1 and 2):
each re-chained forgery is a `bad-event` error at its seq, through the library and the CLI,
and never an internal error."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from lifecycle import Engine
from test_forgery import ENG, errors_at
from test_tamper import rechain, split

from conftest import drive_core, run_cli

Edit = Callable[[dict], None]


@pytest.fixture
def history(engine: Engine) -> Path:
    """eng-1 driven under core into active support, then a note (the last event)."""
    drive_core(engine, ENG, until="end-support")
    engine.note(ENG, "A plain note", actor="officer")
    return engine.workspace.path_of(ENG)


def _kind_seq(path: Path, kind: str) -> int:
    """The seq of the last event of type *kind* in *path*."""
    import json

    lines = split(path.read_bytes())
    return max(i for i, line in enumerate(lines) if i and json.loads(line)["type"] == kind)


def _data(**members: object) -> Edit:
    return lambda r: r["data"].update(members)


def _first_rule(**members: object) -> Edit:
    return lambda r: r["data"]["rules"][0].update(members)


MEMBERS = [
    ("note", "note_added", _data(html="<b>x</b>")),
    ("opened", "opened", _data(secret="x")),
    ("opened-v1-entry", "opened", _data(entry="request")),
    ("fact_set", "fact_set", _data(extra={})),
    ("item_checked", "item_checked", _data(by="someone")),
    ("advanced", "advanced", _data(approved=True)),
    ("advanced-v1-round", "advanced", _data(round=2)),
    ("decision", "advanced", _first_rule(approved_by="head")),
    ("envelope", "note_added", lambda r: r.update(approved=True)),
    ("envelope-sig-shape", "note_added", lambda r: r.update(sig={"key": 1})),
]


@pytest.mark.parametrize(("name", "kind", "edit"), MEMBERS, ids=[m[0] for m in MEMBERS])
def test_member_the_engine_never_writes_is_bad_event(
    history: Path, engine: Engine, name: str, kind: str, edit: Edit
) -> None:
    """A member no model of its type and version names is a `bad-event` at its seq."""
    seq = _kind_seq(history, kind)
    history.write_bytes(b"".join(rechain(split(history.read_bytes()), seq, edit)))
    assert "bad-event" in errors_at(history, engine, seq)


ENVELOPE = [
    ("v-zero", lambda r: r.update(v=0)),
    ("v-negative", lambda r: r.update(v=-1)),
    ("v-bool", lambda r: r.update(v=True)),
    ("seq-bool", lambda r: r.update(seq=True)),
    ("actor-number", lambda r: r.update(actor=7)),
    ("reason-array", lambda r: r.update(reason=["x"])),
    ("data-array", lambda r: r.update(data=[])),
    ("at-number", lambda r: r.update(at=20261126)),
]


@pytest.mark.parametrize(("name", "edit"), ENVELOPE, ids=[e[0] for e in ENVELOPE])
def test_envelope_of_the_wrong_type_is_an_error(
    history: Path, engine: Engine, name: str, edit: Edit
) -> None:
    """`v` below 1, `seq: true` (a bool is an int in Python) and other envelope members of the
    wrong JSON type are errors at the event (seq 1 for the bool seq, which equals 1)."""
    lines = split(history.read_bytes())
    seq = 1 if name == "seq-bool" else len(lines) - 1
    history.write_bytes(b"".join(rechain(lines, seq, edit)))
    assert set(errors_at(history, engine, seq)) & {"bad-event", "time", "seq"}


def test_seq_true_at_seq_one_is_bad_event(history: Path, engine: Engine) -> None:
    """`seq: true` on event 1 (equal to 1 in Python) is a `bad-event`, not a silent pass."""
    history.write_bytes(
        b"".join(rechain(split(history.read_bytes()), 1, lambda r: r.update(seq=True)))
    )
    assert "bad-event" in errors_at(history, engine, 1)


def test_stray_member_is_one_line_for_every_reader(history: Path, workspace: Path) -> None:
    """status refuses a stray member in one line naming it (exit 1); audit reports it."""
    lines = split(history.read_bytes())
    history.write_bytes(b"".join(rechain(lines, len(lines) - 1, _data(html="<b>x</b>"))))
    env = {"LIFECYCLE_WORKSPACE": str(workspace), "LIFECYCLE_ACTOR": "officer"}
    done = run_cli("status", ENG, env=env)
    assert done.returncode == 1 and len(done.stderr.splitlines()) == 1, done.stderr
    assert "html: a member the engine never writes" in done.stderr
    done = run_cli("audit", str(history), env=env)
    assert done.returncode == 1 and "bad-event" in done.stdout
    assert "internal error" not in done.stdout + done.stderr
