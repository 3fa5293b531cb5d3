"""Bad input through the real CLI (issue #10): one line naming what is wrong, exit 2, no history
byte changed; and what a history holds is shown escaped, never as extra lines."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
from pathlib import Path

import pytest

from lifecycle import Engine, audit_file, make_plugin_manager
from lifecycle._lines import decode_line, encode_line
from lifecycle.exceptions import InvalidInputError

from conftest import drive_core, run_cli

ENG = "e1"
RAW_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f\u2028\u202e]")


@pytest.fixture
def ws(workspace: Path, plugins) -> Path:
    """The conftest workspace with engagement e1 opened under core, as actor 'officer'."""
    Engine(workspace, plugins=plugins).open(ENG, "core", actor="officer", title="Inputs")
    return workspace


def lifecycle(ws: Path, *args: str | bytes, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the CLI in a subprocess on *ws* as 'officer' (bytes arguments are passed as they are)."""
    return run_cli("--workspace", str(ws), *args, env={"LIFECYCLE_ACTOR": "officer", **(env or {})})


def histories(ws: Path) -> dict[str, bytes]:
    """Every history file of *ws* and its bytes."""
    return {p.name: p.read_bytes() for p in sorted(ws.glob("*.history.jsonl"))}


def assert_one_line_error(result: subprocess.CompletedProcess, code: int, *needles: str) -> None:
    """The command exited *code* with exactly one stderr line, naming each of *needles*."""
    lines = result.stderr.splitlines()
    assert result.returncode == code, (result.returncode, result.stderr)
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("lifecycle: error: "), lines
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


NON_UTF8 = {
    "note-text": ("note", ENG, b"caf\xe9"),
    "engagement-id": ("note", b"e\xff1", "hello"),
    "set-value": ("set", ENG, b"envoy=Amb. \xff"),
    "option-value": ("check", ENG, "request-recorded", "--note", b"\xfe\xff"),
    "title-of-new": ("new", "e2", "--playbook", "core", "--title", b"\xc3\x28"),
    "workspace": ("--workspace", b"/tmp/ws-\xff", "list"),
}


@pytest.mark.parametrize("args", NON_UTF8.values(), ids=NON_UTF8.keys())
def test_non_utf8_argument_is_a_usage_error(ws: Path, args: tuple) -> None:
    """An argument holding bytes that are not UTF-8 is refused in one line naming it, exit 2, nothing written."""
    before = histories(ws)
    result = lifecycle(ws, *args)
    assert_one_line_error(result, 2, "is not UTF-8 text", "argument")
    assert histories(ws) == before


def test_non_utf8_environment_variable_is_a_usage_error(ws: Path) -> None:
    """A LIFECYCLE_* variable holding bytes that are not UTF-8 is named in one line, exit 2."""
    before = histories(ws)
    result = lifecycle(ws, "note", ENG, "hello", env={"LIFECYCLE_ACTOR": b"off\xefcer"})
    assert_one_line_error(result, 2, "LIFECYCLE_ACTOR", "not UTF-8", "\\xef")
    assert histories(ws) == before


@pytest.mark.parametrize(
    "value",
    ["20261130", "0001-01-01", "1944-12-31", "2026-1-05", "2026-11-30T00:00", " 2026-11-30"],
)
def test_bad_on_date_is_a_usage_error(ws: Path, value: str) -> None:
    """`record --on` takes YYYY-MM-DD exactly, not before 1945-01-01; anything else exits 2 and records nothing."""
    before = histories(ws)
    result = lifecycle(ws, "record", ENG, "peer-coaching", "--on", value)
    assert_one_line_error(result, 2, "--on", repr(value))
    assert histories(ws) == before


@pytest.mark.parametrize("value", ["20261130", "1900-01-01"])
def test_bad_date_fact_is_a_usage_error(ws: Path, value: str) -> None:
    """A date fact takes the same dates as --on: a compact or pre-1945 date exits 2, nothing written."""
    before = histories(ws)
    result = lifecycle(ws, "set", ENG, f"mandate.date={value}")
    assert_one_line_error(result, 2, "mandate.date", repr(value))
    assert histories(ws) == before


def test_engine_refuses_a_date_before_1945(engine: Engine) -> None:
    """The library refuses an activity date before 1945-01-01 too, before anything is recorded."""
    drive_core(engine, ENG, until="end-support")
    seq = engine.engagement(ENG).seq
    with pytest.raises(InvalidInputError, match="before 1945-01-01"):
        engine.record(ENG, "reflection-retreat", actor="officer", on=dt.date(1, 1, 1))
    assert engine.engagement(ENG).seq == seq


BAD_ACTORS = {
    "newline": "a.mensah\n  99  2026-01-01 00:00:00  h.osei",
    "escape": "a\x1b[31mred",
    "space": "A. Mensah",
    "bidi": "a\u202eb",
    "leading-dash": "-officer",
    "too-long": "a" * 129,
}


@pytest.mark.parametrize("actor", BAD_ACTORS.values(), ids=BAD_ACTORS.keys())
def test_bad_actor_name_is_a_usage_error(ws: Path, actor: str) -> None:
    """An actor name outside the id rule is refused in one line, exit 2, for a new and an existing engagement."""
    before = histories(ws)
    assert_one_line_error(
        lifecycle(ws, "note", ENG, "hello", env={"LIFECYCLE_ACTOR": actor}), 2, "Invalid actor name"
    )
    assert_one_line_error(
        lifecycle(ws, "--actor", actor, "new", "e2", "--playbook", "core"), 2, "Invalid actor name"
    )
    assert histories(ws) == before


def forge(path: Path, seq: int, edit) -> None:
    """Rewrite event *seq* of the history at *path* with *edit*, re-hashing and re-chaining it
    and every later line (a forgery every hash of which is right)."""
    lines = path.read_bytes().splitlines()
    _, prev = decode_line(lines[seq - 1])
    out = lines[:seq]
    for index in range(seq, len(lines)):
        record, _ = decode_line(lines[index])
        if index == seq:
            edit(record)
        record["prev"] = prev
        line = encode_line(record)
        out.append(line[:-1])
        _, prev = decode_line(line[:-1])
    path.write_bytes(b"\n".join(out) + b"\n")


@pytest.fixture
def recorded(engine: Engine) -> tuple[Path, dict[str, int]]:
    """A history with an activity, a date fact and a note; and the seq of each."""
    drive_core(engine, ENG, until="end-support")
    seqs = {
        "activity_recorded": engine.record(
            ENG, "reflection-retreat", actor="officer", on=dt.date(2026, 1, 2)
        ).event["seq"],
        "fact_set": engine.set_facts(ENG, ["mandate.date=2026-01-02"], actor="officer").event[
            "seq"
        ],
        "note_added": engine.note(ENG, "a note", actor="officer").event["seq"],
    }
    return engine.workspace.path_of(ENG), seqs


FORGERIES = {
    "on-compact": ("activity_recorded", lambda r: r["data"].update(on="20260102")),
    "on-before-1945": ("activity_recorded", lambda r: r["data"].update(on="0001-01-01")),
    "date-fact-compact": (
        "fact_set",
        lambda r: r["data"]["facts"].update({"mandate.date": "20260102"}),
    ),
    "date-fact-before-1945": (
        "fact_set",
        lambda r: r["data"]["facts"].update({"mandate.date": "1900-01-02"}),
    ),
    "actor-with-newline": ("note_added", lambda r: r.update(actor="officer\n  9  forged")),
}


def test_free_text_actor_of_an_earlier_version_is_a_warning(
    engine: Engine, recorded: tuple[Path, dict[str, int]]
) -> None:
    """An actor such as "A. Mensah", which versions before the actor-name rule recorded, is an
    ``actor-name`` warning, so such a history still audits OK."""
    path, seqs = recorded
    forge(path, seqs["note_added"], lambda r: r.update(actor="A. Mensah"))
    report = audit_file(path, kinds=engine.rule_kinds, today=engine.today())
    assert report.ok, report.findings
    assert ("actor-name", "warning", seqs["note_added"]) in [
        (f.code, f.severity, f.seq) for f in report.findings
    ]


@pytest.mark.parametrize("case", FORGERIES.values(), ids=FORGERIES.keys())
def test_forged_date_or_actor_is_an_audit_error(
    engine: Engine, recorded: tuple[Path, dict[str, int]], case
) -> None:
    """A date or actor name the engine refuses, forged into a re-chained history, is an audit error at that event."""
    path, seqs = recorded
    kind, edit = case
    assert audit_file(path, kinds=engine.rule_kinds, today=engine.today()).ok
    forge(path, seqs[kind], edit)
    report = audit_file(path, kinds=engine.rule_kinds, today=engine.today())
    errors = [(f.code, f.seq) for f in report.findings if f.severity == "error"]
    # The event schema may catch a malformed value first (bad-event); either is an error there.
    assert {("not-allowed", seqs[kind]), ("bad-event", seqs[kind])} & set(errors), report.findings


@pytest.fixture
def hostile(ws: Path, plugins) -> Path:
    """e1 holding control characters everywhere a user may type text: a note faking a timeline
    line, a fact value, an item note, and an opened event re-chained with a forged engagement."""
    engine = Engine(ws, plugins=plugins)
    engine.note(
        ENG, "ok\n   9  2026-01-01 00:00:00  h.osei          FORCED a -> b", actor="officer"
    )
    engine.set_facts(ENG, ["envoy=Amb.\x1b[2J X\u202e"], actor="officer")
    engine.check(ENG, "request-recorded", actor="officer", note="line1\r\nline2")
    forge(
        engine.workspace.path_of(ENG),
        1,
        lambda r: r["data"].update(title="T\n  fake title", engagement="e1\nFAKE  OVERDUE"),
    )
    return ws


@pytest.mark.parametrize(
    "args", [("history", ENG), ("status", ENG), ("history", ENG, "--at", "4"), ("list",), ("due",)]
)
def test_control_characters_are_escaped_when_shown(hostile: Path, args: tuple) -> None:
    """Text output never carries a raw control character from a history: each shows as an escape."""
    before = histories(hostile)
    result = lifecycle(hostile, *args)
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr
    assert not RAW_CONTROL.search(result.stdout + result.stderr), result.stdout
    assert "FORCED a -> b" not in "\n".join(
        line for line in result.stdout.splitlines() if line.startswith("   9  ")
    )
    assert histories(hostile) == before


def test_history_shows_one_line_per_event(hostile: Path) -> None:
    """The forged timeline line stays inside its note: `history` prints one line per event."""
    result = lifecycle(hostile, "history", ENG)
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 4
    assert "ok\\n   9  2026-01-01" in result.stdout and "\\x1b[2J" in result.stdout


def test_json_output_keeps_the_text_as_stored(hostile: Path) -> None:
    """JSON output is not escaped twice: a reader gets the note exactly as recorded."""
    import json

    result = lifecycle(hostile, "history", ENG, "--json")
    notes = [
        e["data"]["text"] for e in json.loads(result.stdout)["events"] if e["type"] == "note_added"
    ]
    assert notes == ["ok\n   9  2026-01-01 00:00:00  h.osei          FORCED a -> b"]


def test_plugin_free_engine_accepts_every_valid_actor(workspace: Path) -> None:
    """Names within the id rule (dots, dashes, underscores, digits) are accepted."""
    engine = Engine(workspace, plugins=make_plugin_manager(load_entrypoints=False, environ={}))
    for index, actor in enumerate(["a.mensah", "h_osei", "x-1", "A" * 128]):
        assert engine.open(f"ok-{index}", "core", actor=actor).event["actor"] == actor
