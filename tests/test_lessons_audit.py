"""The audit of lessons (#15): a tamper probe per new field of the `lesson` event and of the
cites of `item_checked` v2, each re-chained so only the audit's checks can catch it; and the
archive's check that each cite names a lesson of a history audited with it."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from lifecycle import Engine, PostgresStore, audit_file, testing
from lifecycle._lines import decode_line, format_at, parse_at
from test_tamper import rechain, split

from conftest import drive_core, run_cli

Edit = Callable[[dict], None]


def _set(key: str, value: object) -> Edit:
    return lambda r: r["data"].update({key: value})


def _drop(key: str) -> Edit:
    return lambda r: r["data"].pop(key)


def forged(path: Path, seq: int, edit: Edit) -> None:
    """Rewrite event *seq* of *path* with *edit*, re-chaining every later line."""
    path.write_bytes(b"".join(rechain(split(path.read_bytes()), seq, edit)))


def errors_at(engine: Engine, path: Path, seq: int) -> list[str]:
    """The codes of the audit's error findings at *seq* of one file."""
    report = audit_file(path, kinds=engine.rule_kinds, today=engine.today())
    return [f.code for f in report.findings if f.severity == "error" and f.seq == seq]


def test_clean_archive_audits_clean(archive: tuple[Path, int, int], engine: Engine) -> None:
    """Untouched, both histories audit without an error (so each error below is the forgery's)."""
    workspace, _, _ = archive
    for eid in ("old", "new"):
        report = audit_file(
            workspace / f"{eid}.history.jsonl", kinds=engine.rule_kinds, today=engine.today()
        )
        assert [f.code for f in report.findings if f.severity == "error"] == [], eid


LESSON_FORGERIES = [
    ("empty-title", _set("title", " "), "not-allowed"),
    ("title-line-break", _set("title", "Elders\nfirst"), "not-allowed"),
    ("long-title", _set("title", "x" * 201), "not-allowed"),
    ("empty-text", _set("text", ""), "not-allowed"),
    ("text-escape", _set("text", "a\x1b[2Jb"), "not-allowed"),
    ("bad-theme", _set("themes", ["Not A Theme"]), "not-allowed"),
    ("theme-twice", _set("themes", ["gender", "gender"]), "not-allowed"),
    ("unknown-heading", _set("sections", {"lessons-pack": "x"}), "not-allowed"),
    ("empty-section", _set("sections", {"context": ""}), "not-allowed"),
    ("other-stage", _set("stage", "active-support"), "not-allowed"),
    ("on-after-at", _set("on", "2999-01-01"), "not-allowed"),
    ("on-before-1945", _set("on", "1900-01-01"), "not-allowed"),
    ("on-not-a-date", _set("on", "2026-13-01"), "bad-event"),
    ("title-not-text", _set("title", 5), "bad-event"),
    ("no-themes", _drop("themes"), "bad-event"),
    ("themes-not-list", _set("themes", "gender"), "bad-event"),
    ("no-sections", _drop("sections"), "bad-event"),
    ("sections-not-text", _set("sections", {"context": 1}), "bad-event"),
    ("no-stage", _drop("stage"), "bad-event"),
    ("newer-version", lambda r: r.update(v=2), "unknown-version"),
]


@pytest.mark.parametrize(
    ("name", "edit", "code"), LESSON_FORGERIES, ids=[f[0] for f in LESSON_FORGERIES]
)
def test_forged_lesson_is_caught(
    archive: tuple[Path, int, int], engine: Engine, name: str, edit: Edit, code: str
) -> None:
    """Each forged member of a `lesson` event is an audit error at its seq."""
    workspace, lesson, _ = archive
    path = workspace / "old.history.jsonl"
    forged(path, lesson, edit)
    assert code in errors_at(engine, path, lesson)


def _item(value: str) -> Edit:
    return lambda r: r["data"].update(item=value)


CITE_FORGERIES = [
    ("not-a-lessons-item", _item("briefing-pack"), "not-allowed"),
    ("malformed", _set("cites", ["old"]), "not-allowed"),
    ("self-cite", _set("cites", ["new:3"]), "not-allowed"),
    ("twice", lambda r: r["data"].update(cites=r["data"]["cites"] * 2), "not-allowed"),
    ("empty", _set("cites", []), "not-allowed"),
    ("no-cites-in-v2", _drop("cites"), "bad-event"),
    ("cites-not-list", _set("cites", "old:5"), "bad-event"),
    ("cite-not-text", _set("cites", [5]), "bad-event"),
]


@pytest.mark.parametrize(
    ("name", "edit", "code"), CITE_FORGERIES, ids=[f[0] for f in CITE_FORGERIES]
)
def test_forged_cite_is_caught(
    archive: tuple[Path, int, int], engine: Engine, name: str, edit: Edit, code: str
) -> None:
    """Each forged cite of an `item_checked` v2 tick is an audit error at its seq, in the
    citing history alone."""
    workspace, _, tick = archive
    path = workspace / "new.history.jsonl"
    forged(path, tick, edit)
    assert code in errors_at(engine, path, tick)


def cite_findings(out: str) -> dict[str, list[tuple[str, str, int]]]:
    """The cite findings of `audit --json` output, by engagement."""
    return {
        f["engagement"]: [
            (x["code"], x["severity"], x["seq"])
            for x in f["findings"]
            if x["code"].startswith("cite-")
        ]
        for f in json.loads(out)["files"]
    }


@pytest.mark.parametrize("target", ["old:1", "old:999"])
def test_cite_of_no_lesson_is_an_error_when_audited_together(
    archive: tuple[Path, int, int], target: str
) -> None:
    """A (re-chained) cite of an event that is no lesson, or of no event at all, in a history
    audited with it is `cite-unknown` at the tick (exit 1); audited alone it is only the
    warning `cite-unverified` (exit 0): the lone history cannot see the other."""
    workspace, _, tick = archive
    new = workspace / "new.history.jsonl"
    forged(new, tick, _set("cites", [target]))
    together = run_cli("audit", str(workspace), "--json")
    assert together.returncode == 1, together.stdout
    assert cite_findings(together.stdout) == {"old": [], "new": [("cite-unknown", "error", tick)]}
    for jobs in ("1", "2"):  # from the cache, and in worker processes: the same verdict
        again = run_cli("audit", str(workspace), "--json", "--jobs", jobs)
        assert cite_findings(again.stdout)["new"] == [("cite-unknown", "error", tick)]
    alone = run_cli("audit", str(new), "--json")
    assert alone.returncode == 0, alone.stdout
    assert cite_findings(alone.stdout) == {"new": [("cite-unverified", "warning", tick)]}
    text = run_cli("audit", str(workspace))
    assert "cite-unknown" in text.stdout and f"event {target.split(':')[1]} of 'old'" in text.stdout


def test_sound_cite_is_unverified_alone_and_clean_together(
    archive: tuple[Path, int, int],
) -> None:
    """The engine's own cite: no finding when the cited history is audited too, the warning
    `cite-unverified` when the citing history is audited alone."""
    workspace, _, tick = archive
    together = run_cli("audit", str(workspace), "--json")
    assert together.returncode == 0 and cite_findings(together.stdout) == {"old": [], "new": []}
    alone = run_cli("audit", str(workspace / "new.history.jsonl"), "--json")
    assert alone.returncode == 0
    assert cite_findings(alone.stdout) == {"new": [("cite-unverified", "warning", tick)]}


def test_cite_of_a_lesson_recorded_after_the_tick_is_a_warning(
    archive: tuple[Path, int, int],
) -> None:
    """A cite of a lesson whose `at` is after the citing tick's (the lesson and the event after
    it re-timed a microsecond past the tick, re-chained) is `cite-before-lesson`, a warning at
    the tick, and nothing else: the engine cites only a lesson already recorded."""
    workspace, lesson, tick = archive
    old = workspace / "old.history.jsonl"
    line = split((workspace / "new.history.jsonl").read_bytes())[tick]
    record, _ = decode_line(line.rstrip(b"\n"))
    later = format_at(parse_at(record["at"]) + dt.timedelta(microseconds=1))
    for seq in (lesson, lesson + 1):  # the lesson, then the note after it: still in order
        forged(old, seq, lambda r: r.update(at=later))
    together = run_cli("audit", str(workspace), "--json")
    assert together.returncode == 0, together.stdout
    findings = cite_findings(together.stdout)
    assert findings == {"old": [], "new": [("cite-before-lesson", "warning", tick)]}
    assert json.loads(together.stdout)["files"][0]["ok"] is True


def test_cites_are_judged_across_a_postgresql_store(pg_url: str) -> None:
    """`audit --store` judges cites against every engagement of the store: a sound cite gives
    no finding."""
    engine = testing.make_engine(store=PostgresStore(pg_url))
    try:
        drive_core(engine, "old", until="complete-debriefing")
        seq = engine.lesson("old", title="T", text="t", actor="officer").event["seq"]
        drive_core(engine, "new", until="complete-induction")
        engine.check("new", "lessons-pack", cites=[f"old:{seq}"], actor="officer")
    finally:
        engine.store.close()
    done = run_cli("--store", pg_url, "audit", "--json", env={"LIFECYCLE_ACTOR": "officer"})
    assert done.returncode == 0, done.stdout + done.stderr
    assert list(cite_findings(done.stdout).values()) == [[], []]


def test_lesson_line_holds_what_was_given(archive: tuple[Path, int, int]) -> None:
    """The stored line of a lesson holds the members as given, in the pinned names."""
    workspace, lesson, _ = archive
    line = split((workspace / "old.history.jsonl").read_bytes())[lesson]
    record, _ = decode_line(line[:-1])
    assert set(record["data"]) == {"title", "text", "themes", "sections", "stage"}
    assert record["data"]["sections"] == {"context": "A land dispute"}


def test_import_refuses_a_cite_of_no_lesson_among_the_files(
    archive: tuple[Path, int, int], pg_schema
) -> None:
    """`import` judges cites across the files it imports: a (re-chained) cite of an event that
    is no lesson refuses the whole import in one line (exit 1), nothing loaded; the sound
    archive imports."""
    workspace, _, tick = archive
    sound = run_cli("--store", pg_schema(), "import", str(workspace))
    assert sound.returncode == 0, sound.stderr
    forged(workspace / "new.history.jsonl", tick, _set("cites", ["old:1"]))
    url = pg_schema()
    done = run_cli("--store", url, "import", str(workspace))
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "cite-unknown" in done.stderr, done.stderr
    store = PostgresStore(url)
    try:
        assert store.engagements() == []
    finally:
        store.close()
