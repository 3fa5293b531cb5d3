"""The forger's review of lessons and the track record (#15): re-chained histories the engine
could never have written around the `lesson` event, the cites of `item_checked` v2 and the
indicator and lesson keys of an embedded playbook are each an audit error; a report leaves out,
and names, every history that does not audit clean; its appendix cannot be made to vouch for a
changed source, nor can a history's text add a checkpoint to it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from lifecycle import Engine, audit_file
from lifecycle._audit import read_checkpoints
from lifecycle._lessonaudit import cite_findings
from lifecycle._lines import decode_line
from lifecycle._playbooks import canonical_json
from lifecycle.cli import run
from test_lessons_audit import errors_at, forged
from test_tamper import split

Edit = Callable[[dict], None]
Archive = tuple[Path, int, int]


def _set(key: str, value: object) -> Edit:
    return lambda r: r["data"].update({key: value})


def together(workspace: Path, engine: Engine) -> dict[str, list[tuple[str, int | None]]]:
    """The error findings of 'old' and 'new' audited together (cites judged across both)."""
    reports = [
        audit_file(
            workspace / f"{eid}.history.jsonl", kinds=engine.rule_kinds, today=engine.today()
        )
        for eid in ("old", "new")
    ]
    cite_findings(reports)
    return {
        str(r.engagement): [(f.code, f.seq) for f in r.findings if f.severity == "error"]
        for r in reports
    }


LESSONS = [
    ("reason-on-a-lesson", lambda r: r.update(reason="Overrides nothing at all, ever")),
    ("huge-text", _set("text", "x" * 20_001)),
    ("huge-section", _set("sections", {"context": "x" * 20_001})),
    ("control-in-a-section", _set("sections", {"context": "a\x1b[2Jb"})),
    ("next-line-in-title", _set("title", "a\x85b")),
    ("bidi-override-in-title", _set("title", "a\u202eb")),
    ("carriage-return-in-text", _set("text", "a\rb")),
    ("twenty-one-themes", _set("themes", [f"t{i}" for i in range(21)])),
    ("theme-with-an-accent", _set("themes", ["genré"])),
    ("theme-upper-case-twin", _set("themes", ["gender", "Gender"])),
    ("final-stage-claimed", _set("stage", "closed")),
    ("day-after-it-was-recorded", lambda r: r["data"].update(on="2999-12-31")),
]


@pytest.mark.parametrize(("name", "edit"), LESSONS, ids=[x[0] for x in LESSONS])
def test_forged_lesson_members_are_errors(
    archive: Archive, engine: Engine, name: str, edit: Edit
) -> None:
    """Each forged lesson, re-chained, is a `not-allowed` error at its seq."""
    workspace, lesson, _ = archive
    path = workspace / "old.history.jsonl"
    forged(path, lesson, edit)
    assert "not-allowed" in errors_at(engine, path, lesson)


def test_empty_on_is_a_bad_event(archive: Archive, engine: Engine) -> None:
    """An `on` written as "" (the engine writes a day or nothing) does not fit the schema."""
    workspace, lesson, _ = archive
    path = workspace / "old.history.jsonl"
    forged(path, lesson, _set("on", ""))
    assert "bad-event" in errors_at(engine, path, lesson)


def test_lesson_drawn_before_the_opening_is_the_engines_own(engine: Engine) -> None:
    """A lesson dated before its engagement was opened is what `lesson --on` writes (like
    `record --on`, for an engagement entered late): it audits clean, on its own day."""
    import datetime as dt

    engine.open("late", "core", actor="officer", title="Entered late")
    seq = engine.lesson("late", title="T", text="t", on=dt.date(1990, 5, 1), actor="officer").event[
        "seq"
    ]
    path = engine.workspace.path_of("late")
    report = audit_file(path, kinds=engine.rule_kinds, today=engine.today())
    assert report.ok and seq in [lesson_seq for lesson_seq, _ in report.lessons]
    assert engine.engagement("late").lessons[0].day == "1990-05-01"


def _tick_v1(record: dict) -> None:
    record["v"] = 1


CITES = [
    ("leading-zero-seq", lambda r: r["data"].update(cites=[f"old:0{r['data']['cites'][0][4:]}"])),
    ("seq-zero", _set("cites", ["old:0"])),
    ("space-in-cite", _set("cites", ["old: 5"])),
    ("id-that-is-no-engagement-id", _set("cites", ["-old:5"])),
    ("own-engagement", _set("cites", ["new:1"])),
    ("twice", lambda r: r["data"].update(cites=r["data"]["cites"] * 2)),
    ("on-an-item-not-marked-lessons", _set("item", "briefing-pack")),
]


@pytest.mark.parametrize(("name", "edit"), CITES, ids=[x[0] for x in CITES])
def test_forged_cites_are_errors(archive: Archive, engine: Engine, name: str, edit: Edit) -> None:
    """Each forged citing tick, re-chained, is a `not-allowed` error at its seq."""
    workspace, _, tick = archive
    path = workspace / "new.history.jsonl"
    forged(path, tick, edit)
    assert "not-allowed" in errors_at(engine, path, tick)


STRAY = [
    ("lesson-member-the-engine-never-writes", "old", "lesson", _set("html", "<b>x</b>")),
    ("cites-on-a-lesson", "old", "lesson", _set("cites", ["new:3"])),
    ("v2-tick-with-a-stray-member", "new", "tick", _set("lessons", ["old:1"])),
    ("v1-tick-keeping-its-cites", "new", "tick", _tick_v1),
]


@pytest.mark.parametrize(("name", "eid", "which", "edit"), STRAY, ids=[x[0] for x in STRAY])
def test_stray_members_are_bad_events(
    archive: Archive, engine: Engine, name: str, eid: str, which: str, edit: Edit
) -> None:
    """A lesson or citing tick holding a member the engine never writes does not fit its
    schema: a `bad-event` at its seq (one mechanism for every event type)."""
    workspace, lesson, tick = archive
    path = workspace / f"{eid}.history.jsonl"
    seq = lesson if which == "lesson" else tick
    forged(path, seq, edit)
    assert "bad-event" in errors_at(engine, path, seq)


def test_v1_tick_carrying_cites_on_any_item(archive: Archive, engine: Engine) -> None:
    """A plain v1 tick (the request item, seq 3) given a `cites` member is a `bad-event`:
    only v2 carries cites, and the engine writes v2 whenever a tick cites."""
    workspace, lesson, _ = archive
    path = workspace / "new.history.jsonl"
    forged(path, 3, _set("cites", [f"old:{lesson}"]))
    assert "bad-event" in errors_at(engine, path, 3)


@pytest.mark.parametrize("target", ["old:1", "old:999999999999", "old:2"])
def test_cite_of_no_lesson_or_beyond_the_history(
    archive: Archive, engine: Engine, target: str
) -> None:
    """A cite of an event that is no lesson, or of a seq beyond the cited history, is
    `cite-unknown` at the tick when the cited history is audited with it."""
    workspace, _, tick = archive
    forged(workspace / "new.history.jsonl", tick, _set("cites", [target]))
    assert together(workspace, engine) == {"old": [], "new": [("cite-unknown", tick)]}


def _resha(edit: Callable[[dict], None]) -> Edit:
    """An edit of the embedded playbook, with its `playbook_sha256` recomputed to match."""

    def apply(record: dict) -> None:
        playbook = record["data"]["playbook"]
        edit(playbook)
        record["data"]["playbook_sha256"] = hashlib.sha256(canonical_json(playbook)).hexdigest()

    return apply


def _item(playbook: dict, item: str) -> dict:
    for stage in playbook["stages"]:
        for entry in (*stage.get("checklist", ()), *(stage.get("entry_checklist") or ())):
            if entry["id"] == item:
                return entry
    raise KeyError(item)


def _fact(playbook: dict, fact: str) -> dict:
    return next(f for f in playbook["facts"] if f["id"] == fact)


PLAYBOOKS = [
    ("indicator-markup", lambda p: _item(p, "women-candidates").update(indicator="<svg onload=x>")),
    ("indicator-upper-case", lambda p: _item(p, "women-candidates").update(indicator="Women")),
    ("indicator-too-long", lambda p: _item(p, "women-candidates").update(indicator="a" * 65)),
    ("indicator-not-text", lambda p: _item(p, "women-candidates").update(indicator=7)),
    ("indicator-on-a-text-fact", lambda p: _fact(p, "envoy").update(indicator="envoys")),
    ("lessons-not-a-bool", lambda p: _item(p, "lessons-pack").update(lessons="yes")),
    ("heading-markup", lambda p: p["lessons"]["headings"][0].update(id="<b>ctx</b>")),
    ("heading-twice", lambda p: p["lessons"]["headings"].append(p["lessons"]["headings"][0])),
    ("heading-without-title", lambda p: p["lessons"]["headings"][0].update(title=" ")),
]


@pytest.mark.parametrize(("name", "edit"), PLAYBOOKS, ids=[x[0] for x in PLAYBOOKS])
def test_forged_embedded_playbook_keys_are_errors(
    archive: Archive, engine: Engine, name: str, edit: Callable[[dict], None]
) -> None:
    """An embedded playbook whose indicator or lesson keys break the schema, with its sha256
    recomputed and the history re-chained, is an error at the opening event: its history
    cannot be replayed, so it is never counted either."""
    workspace, _, _ = archive
    path = workspace / "old.history.jsonl"
    forged(path, 1, _resha(edit))
    assert set(errors_at(engine, path, 1)) & {"replay", "bad-event"}


# ------------------------------------------------------------------------- the report


@pytest.fixture
def report_cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., tuple[int, str, str]]:
    """Run `lifecycle --workspace WS ARGS` in-process; (code, stdout, stderr)."""
    monkeypatch.setenv("LIFECYCLE_LOAD_PLUGINS", "")
    monkeypatch.setenv("LIFECYCLE_ACTOR", "officer")

    def invoke(workspace: Path, *args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = run(["--workspace", str(workspace), *args])
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


def test_report_leaves_out_a_history_that_does_not_audit_clean(
    archive: Archive, report_cli: Callable[..., tuple[int, str, str]]
) -> None:
    """A forged lesson (a title with a control character) keeps its history out of every
    figure: it is named in `failed_audit` with its error, on stderr, and on the page, and the
    clean history is still counted; its checkpoint is not in the appendix."""
    workspace, lesson, _ = archive
    code, out, _ = report_cli(workspace, "report", "--format", "json")
    assert code == 0 and json.loads(out)["totals"]["lessons"] == 1
    forged(workspace / "old.history.jsonl", lesson, _set("title", "<b>forged</b>\x1b"))
    code, out, err = report_cli(workspace, "report", "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["totals"]["lessons"] == 0
    assert [e["engagement"] for e in data["engagements"]] == ["new"]
    assert [f["engagement"] for f in data["files"]] == ["new"]
    [failed] = data["failed_audit"]
    assert failed["engagement"] == "old" and failed["errors"][0]["code"] == "not-allowed"
    assert failed["errors"][0]["seq"] == lesson
    assert err.startswith("warning: old: not in the report: it does not audit clean")
    assert err.count("\n") == 1 and "not-allowed at seq" in err
    page = report_cli(workspace, "report")[1]
    assert 'id="failed-audit"' in page and "1 history(ies) left out" in page
    assert "<b>forged</b>" not in page
    text = report_cli(workspace, "report", "--format", "md")[1]
    assert "## Histories that do not audit clean" in text and "- old: 1 error(s)" in text


def test_report_judges_cites_across_the_workspace(
    archive: Archive, report_cli: Callable[..., tuple[int, str, str]]
) -> None:
    """A cite of an event that is no lesson is the `cite-unknown` error the archive's audit
    finds: the citing history is left out of the report, the cited one is still counted."""
    workspace, _, tick = archive
    forged(workspace / "new.history.jsonl", tick, _set("cites", ["old:1"]))
    data = json.loads(report_cli(workspace, "report", "--format", "json")[1])
    assert [f["engagement"] for f in data["failed_audit"]] == ["new"]
    assert data["failed_audit"][0]["errors"] == [
        {
            "code": "cite-unknown",
            "seq": tick,
            "message": data["failed_audit"][0]["errors"][0]["message"],
        }
    ]
    assert [e["engagement"] for e in data["engagements"]] == ["old"]


@pytest.mark.parametrize("fmt", ["html", "md", "json"])
def test_appendix_does_not_vouch_for_a_rewritten_source(
    archive: Archive, report_cli: Callable[..., tuple[int, str, str]], tmp_path: Path, fmt: str
) -> None:
    """After a report is saved, a history rewritten from an early event on (re-chained, so it
    verifies and even audits clean) no longer extends the checkpoint the report holds:
    `audit --against REPORT` fails it as `checkpoint-mismatch`; appending is fine."""
    workspace, lesson, _ = archive
    out = tmp_path / f"report.{fmt}"
    assert report_cli(workspace, "report", "--format", fmt, "--out", str(out))[0] == 0
    code, stdout, _ = report_cli(workspace, "audit", str(workspace), "--against", str(out))
    assert code == 0, stdout
    forged(workspace / "old.history.jsonl", lesson, _set("title", "A better title"))
    code, stdout, _ = report_cli(workspace, "audit", str(workspace), "--no-cache")
    assert code == 0, stdout  # the rewrite itself is a history the engine could have written
    code, stdout, _ = report_cli(workspace, "audit", str(workspace), "--against", str(out))
    assert code == 1 and "checkpoint-mismatch" in stdout


def test_text_of_a_history_adds_no_checkpoint_to_a_report(
    engine: Engine, report_cli: Callable[..., tuple[int, str, str]]
) -> None:
    """Texts that reach the page (an override reason, a forced move's reason, a lesson title)
    written as checkpoint lines never read as checkpoints: the checkpoints `audit --against`
    takes from the HTML and the Markdown are exactly the appendix of the JSON."""
    fake = f"checkpoint victim 1 {'0' * 64}"
    engine.open("e1", "core", actor="officer", title=fake)
    engine.force("e1", "active-support", actor="head", reason=f"Moved on\n{fake}\nfor sure")
    engine.lesson("e1", title=fake, text=f"x\n{fake}\n", actor="officer")
    workspace = engine.workspace.path_of("e1").parent
    forms = {fmt: report_cli(workspace, "report", "--format", fmt)[1] for fmt in ("html", "md")}
    data = json.loads(report_cli(workspace, "report", "--format", "json")[1])
    expected = {f["engagement"]: (f["events"], f["head"]) for f in data["files"]}
    assert list(expected) == ["e1"]
    for fmt, text in forms.items():
        found = {k: (c.events, c.head) for k, c in read_checkpoints(text).items()}
        assert found == expected, fmt


def test_lines_of_a_report_are_those_the_engine_read(
    archive: Archive, engine: Engine, report_cli: Callable[..., tuple[int, str, str]]
) -> None:
    """Each appendix checkpoint is the last line of its history as it is on disk: its seq and
    the hash the line carries."""
    workspace, _, _ = archive
    data = json.loads(report_cli(workspace, "report", "--format", "json")[1])
    for entry in data["files"]:
        last = split((workspace / f"{entry['engagement']}.history.jsonl").read_bytes())[-1]
        record, digest = decode_line(last.rstrip(b"\n"))
        assert (entry["events"], entry["head"]) == (record["seq"], digest)
