"""Forgeries the engine could never have written (issue: the forger's review): each re-chained
history is an audit error at the forged event, and every other reading command answers it in
one line, never with a traceback or an internal error."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from lifecycle import Engine, audit_file
from lifecycle._lines import decode_line, encode_line
from test_tamper import rechain, split

from conftest import drive_core, run_cli

ENG = "eng-1"
Edit = Callable[[dict], None]


def escaped_line(record: dict) -> bytes:
    """*record* as a hashed line with every non-ASCII character as a ``\\u`` escape (how a forger
    writes text a UTF-8 encoder refuses, a lone surrogate)."""
    body = json.dumps(record, ensure_ascii=True, separators=(",", ":")).encode("ascii")
    return body[:-1] + b',"hash":"' + hashlib.sha256(body).hexdigest().encode() + b'"}\n'


def raw_line(body: bytes) -> bytes:
    """The hashed line of serialized record *body* (without hash), as the bytes are."""
    return body[:-1] + b',"hash":"' + hashlib.sha256(body).hexdigest().encode() + b'"}\n'


def reforge(lines: list[bytes], seq: int, line: bytes) -> bytes:
    """The history with event *seq* replaced by *line* and every later line re-chained."""
    out = [*lines[:seq], line]
    prev = line[-68:-4].decode()  # the forged line's own hash, from its suffix
    for later in lines[seq + 1 :]:
        record, _ = decode_line(later.rstrip(b"\n"))
        record["prev"] = prev
        out.append(encode_line(record))
        prev = out[-1][-68:-4].decode()
    return b"".join(out)


def errors_at(path: Path, engine: Engine, seq: int) -> list[str]:
    """The codes of the audit's error findings at *seq*."""
    report = audit_file(path, kinds=engine.rule_kinds, today=engine.today())
    return [f.code for f in report.findings if f.severity == "error" and f.seq == seq]


@pytest.fixture
def history(engine: Engine) -> Path:
    """eng-1 driven under core into active support (a stage with cadences), then a note."""
    drive_core(engine, ENG, until="end-support")
    engine.note(ENG, "A plain note", actor="officer")
    return engine.workspace.path_of(ENG)


def test_clean_history_audits_clean(history: Path, engine: Engine) -> None:
    """The untouched history has no error finding (so each error below is the forgery's)."""
    report = audit_file(history, kinds=engine.rule_kinds, today=engine.today())
    assert [f.code for f in report.findings if f.severity == "error"] == []


@pytest.mark.parametrize(
    ("seq_of", "edit"),
    [
        (lambda n: n, lambda r: r["data"].update(text="x\ud800y")),
        (lambda n: 1, lambda r: r["data"].update(title="T\udfff")),
        (lambda n: n, lambda r: r.update(actor="a\ud800")),
        (lambda n: n, lambda r: r.update(type="fact_set", data={"facts": {"env\ud800oy": "x"}})),
        (lambda n: n, lambda r: r.update(type="fact_set", data={"facts": {"envoy": "J\ud800"}})),
        (lambda n: n, lambda r: r.update(reason="The envoy resigned \ud800 without notice")),
    ],
    ids=["note", "title", "actor", "fact-key", "fact-value", "reason"],
)
def test_lone_surrogate_is_bad_event(history: Path, engine: Engine, seq_of, edit: Edit) -> None:
    """Text holding a lone surrogate (a ``\\u`` escape UTF-8 cannot encode) is a bad event."""
    lines = split(history.read_bytes())
    seq = seq_of(len(lines) - 1)
    record, _ = decode_line(lines[seq].rstrip(b"\n"))
    edit(record)
    history.write_bytes(reforge(lines, seq, escaped_line(record)))
    assert "bad-event" in errors_at(history, engine, seq)


def test_surrogate_is_one_line_for_every_reader(history: Path, workspace: Path) -> None:
    """status and history refuse a surrogate title in one line (exit 1); list --json names the
    problem in the engagement's row; audit reports it."""
    lines = split(history.read_bytes())
    record, _ = decode_line(lines[1].rstrip(b"\n"))
    record["data"]["title"] = "T\udfff"
    history.write_bytes(reforge(lines, 1, escaped_line(record)))
    env = {"LIFECYCLE_WORKSPACE": str(workspace), "LIFECYCLE_ACTOR": "officer"}
    for args in (["status", ENG], ["history", ENG], ["history", ENG, "--json"]):
        done = run_cli(*args, env=env)
        assert done.returncode == 1, (args, done.stderr)
        assert "internal error" not in done.stderr and len(done.stderr.splitlines()) == 1, args
        assert "cannot encode" in done.stderr
    done = run_cli("list", "--json", env=env)
    assert done.returncode == 0 and done.stderr == ""
    assert "cannot encode" in json.dumps(json.loads(done.stdout))
    done = run_cli("audit", str(history), env=env)
    assert done.returncode == 1 and "internal error" not in done.stderr + done.stdout
    assert "bad-event" in done.stdout


def test_year_9999_in_a_cadence_stage_is_no_crash(history: Path, workspace: Path) -> None:
    """An entry into a cadence stage dated 9999-12-31: status, history --at and due answer (the
    due date is capped)."""
    lines = split(history.read_bytes())
    seq = len(lines) - 2  # the start-support move into active support
    forged = rechain(lines, seq, lambda r: r.update(at="9999-12-31T23:59:59.999999Z"))
    # The note after it must not go back in time either.
    forged = rechain(forged, seq + 1, lambda r: r.update(at="9999-12-31T23:59:59.999999Z"))
    history.write_bytes(b"".join(forged))
    env = {"LIFECYCLE_WORKSPACE": str(workspace), "LIFECYCLE_ACTOR": "officer"}
    for args in (["status", ENG], ["history", ENG, "--at", str(seq)], ["due"], ["due", "--json"]):
        done = run_cli(*args, env=env)
        assert done.returncode == 0, (args, done.stderr)
        assert "internal error" not in done.stderr


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b'"type":"note_added"', b'"type":"fact_set","type":"note_added"'),
        (b'"actor":"officer"', b'"actor":"head","actor":"officer"'),
        (b'"data":{', b'"data":{"text":"first wins",'),
        (b'"seq":', b'"seq":99,"seq":'),
    ],
    ids=["type", "actor", "data-member", "seq"],
)
def test_duplicate_member_is_an_error(
    history: Path, engine: Engine, workspace: Path, old: bytes, new: bytes
) -> None:
    """A member written twice in one object (first-wins readers see another history) is a
    `duplicate-key` error at its event, and the strict readers refuse it in one line."""
    lines = split(history.read_bytes())
    seq = len(lines) - 1
    body = lines[seq].rstrip(b"\n")[:-75] + b"}"
    assert old in body
    history.write_bytes(reforge(lines, seq, raw_line(body.replace(old, new, 1))))
    assert "duplicate-key" in errors_at(history, engine, seq)
    env = {"LIFECYCLE_WORKSPACE": str(workspace), "LIFECYCLE_ACTOR": "officer"}
    done = run_cli("status", ENG, env=env)
    assert done.returncode == 1 and len(done.stderr.splitlines()) == 1
    assert "twice" in done.stderr


def test_duplicate_member_deep_in_the_playbook_is_an_error(history: Path, engine: Engine) -> None:
    """A duplicate member nested in the embedded playbook (where the cheap count does not look)
    is still found."""
    lines = split(history.read_bytes())
    body = lines[1].rstrip(b"\n")[:-75] + b"}"
    forged = body.replace(b'"title":', b'"title":"Other","title":', 2)  # one inside the playbook
    forged = forged.replace(b'"title":"Other","title":', b'"title":', 1)
    assert forged != body
    history.write_bytes(reforge(lines, 1, raw_line(forged)))
    assert "duplicate-key" in errors_at(history, engine, 1)


@pytest.mark.parametrize(
    "at",
    ["2026-01-05T25:61:61.000000Z", "2026-02-30T10:00:00.000000Z", "2026-13-01T10:00:00.000000Z"],
)
def test_impossible_moment_is_a_time_error(history: Path, engine: Engine, at: str) -> None:
    """An `at` with no such moment (hour 25, February 30, month 13) is a `time` error."""
    lines = split(history.read_bytes())
    seq = len(lines) - 1
    history.write_bytes(b"".join(rechain(lines, seq, lambda r: r.update(at=at))))
    assert "time" in errors_at(history, engine, seq)


def test_future_at_is_a_time_error(history: Path, engine: Engine) -> None:
    """An event recorded after the audit's day (the engine never writes the future) is a `time`
    error."""
    lines = split(history.read_bytes())
    seq = len(lines) - 1
    history.write_bytes(
        b"".join(rechain(lines, seq, lambda r: r.update(at="9999-12-31T23:59:59.999999Z")))
    )
    assert "time" in errors_at(history, engine, seq)


def forge_header(lines: list[bytes], created: str) -> bytes:
    """The history with the header's `created` replaced and every event re-chained."""
    header, _ = decode_line(lines[0].rstrip(b"\n"))
    header["created"] = created
    return b"".join(rechain([encode_line(header), *lines[1:]], 1))


def test_header_created_not_a_timestamp_is_bad_event(history: Path, engine: Engine) -> None:
    """A header `created` that is not in the engine's timestamp form is a bad event at seq 0."""
    history.write_bytes(forge_header(split(history.read_bytes()), "yesterday"))
    assert "bad-event" in errors_at(history, engine, 0)


def test_header_created_after_event_one_is_a_time_error(history: Path, engine: Engine) -> None:
    """A file created after its first event was recorded is a `time` error at event 1."""
    lines = split(history.read_bytes())
    opened, _ = decode_line(lines[1].rstrip(b"\n"))
    later = f"{int(opened['at'][:4]) + 1}{opened['at'][4:]}"
    history.write_bytes(forge_header(lines, later))
    assert "time" in errors_at(history, engine, 1)


def test_future_at_verdict_is_not_cached(history: Path, engine: Engine, tmp_path: Path) -> None:
    """A `time` error for an event after the audit's day is not kept in the audit cache: on the
    day the event's `at` is reached, the cached audit no longer reports it."""
    from lifecycle._auditcache import AuditCache, audit_cached

    lines = split(history.read_bytes())
    at = "2999-01-01T00:00:00.000000Z"
    history.write_bytes(b"".join(rechain(lines, len(lines) - 1, lambda r: r.update(at=at))))
    cache = AuditCache(tmp_path / "cache", ["probe"])

    def time_errors(today: dt.date) -> list[str]:
        report = audit_cached(
            history, kinds=engine.rule_kinds, today=today, against={}, cache=cache
        )
        return [f.code for f in report.findings if f.code == "time"]

    assert time_errors(engine.today()) == ["time"]
    assert time_errors(dt.date(2999, 1, 1)) == []
