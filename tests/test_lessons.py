"""Lessons as records that reach the next engagement (#15): `lifecycle lesson`, the lessons
`status` offers in the induction briefing, and `check lessons-pack --cite` in the history."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from lifecycle import Engine
from lifecycle._events import event_problem
from lifecycle._lines import decode_line
from lifecycle._snapshot import load_snapshot, save_snapshot
from lifecycle._statecache import continued

from conftest import drive_core

Cli = Callable[..., tuple[int, str, str]]


def debriefed(engine: Engine, eid: str, *facts: str) -> None:
    """*eid* driven under core to its debriefing, with *facts* set."""
    drive_core(engine, eid, until="complete-debriefing")
    if facts:
        engine.set_facts(eid, list(facts), actor="officer")


def inducting(engine: Engine, eid: str, *facts: str) -> None:
    """*eid* driven under core to the induction briefing, with *facts* set."""
    drive_core(engine, eid, until="complete-induction")
    if facts:
        engine.set_facts(eid, list(facts), actor="officer")


def test_lesson_event_has_the_pinned_members(engine: Engine) -> None:
    """A lesson is one `lesson` v1 event with title, text, themes, sections and its stage; it
    fits its schema, and `on` is written only when given."""
    debriefed(engine, "a")
    first = engine.lesson(
        "a",
        title="Meet the elders first",
        text="The elders' council opened doors.\nThe parties followed.",
        themes=["local-dynamics", "inclusion"],
        sections={"context": "A rural land dispute", "recommendations": "Start with elders"},
        actor="officer",
    ).event
    assert (first["type"], first["v"]) == ("lesson", 1)
    assert first["data"] == {
        "title": "Meet the elders first",
        "text": "The elders' council opened doors.\nThe parties followed.",
        "themes": ["local-dynamics", "inclusion"],
        "sections": {"context": "A rural land dispute", "recommendations": "Start with elders"},
        "stage": "debriefing",
    }
    assert event_problem(first) == ""
    day = dt.date.fromisoformat(first["at"][:10]) - dt.timedelta(days=3)
    second = engine.lesson("a", title="Bare", text="No themes", on=day, actor="officer").event
    assert second["data"]["on"] == day.isoformat()
    assert second["data"]["themes"] == [] and second["data"]["sections"] == {}
    assert event_problem(second) == ""
    lessons = engine.engagement("a").lessons
    assert [(x.seq, x.title, x.day) for x in lessons] == [
        (first["seq"], "Meet the elders first", first["at"][:10]),
        (second["seq"], "Bare", day.isoformat()),
    ]


def test_lesson_may_be_recorded_after_closing(engine: Engine) -> None:
    """A lesson is allowed at any stage, a final one included, and the history audits clean."""
    from lifecycle import audit_file

    drive_core(engine, "a")
    assert engine.engagement("a").final
    event = engine.lesson("a", title="Late insight", text="Seen after closing.", actor="officer")
    assert event.event["data"]["stage"] == "closed"
    report = audit_file(
        engine.workspace.path_of("a"), kinds=engine.rule_kinds, today=engine.today()
    )
    assert [f.code for f in report.findings if f.severity == "error"] == []


BAD_LESSONS = [
    pytest.param(["--title", "", "--text", "t"], "needs a title", id="empty-title"),
    pytest.param(["--title", "   ", "--text", "t"], "needs a title", id="blank-title"),
    pytest.param(["--title", "T", "--text", ""], "needs text", id="empty-text"),
    pytest.param(["--title", "a\nb", "--text", "t"], "control character", id="title-newline"),
    pytest.param(["--title", "T", "--text", "a\x1b[2Jb"], "control character", id="text-escape"),
    pytest.param(["--title", "T", "--text", "a\u202eb"], "control character", id="text-bidi"),
    pytest.param(["--title", "x" * 201, "--text", "t"], "over 200", id="long-title"),
    pytest.param(
        ["--title", "T", "--text", "t", "--section", "lessons=x"],
        "no lesson heading",
        id="unknown-section",
    ),
    pytest.param(
        ["--title", "T", "--text", "t", "--section", "context"], "NAME=TEXT", id="section-no-equals"
    ),
    pytest.param(
        ["--title", "T", "--text", "t", "--section", "context="], "needs text", id="empty-section"
    ),
    pytest.param(
        ["--title", "T", "--text", "t", "--section", "context=a", "--section", "context=b"],
        "given twice",
        id="section-twice",
    ),
    pytest.param(["--title", "T", "--text", "t", "--theme", "Cease Fire"], "theme", id="bad-theme"),
    pytest.param(
        ["--title", "T", "--text", "t", "--theme", "gender", "--theme", "gender"],
        "twice",
        id="theme-twice",
    ),
    pytest.param(
        ["--title", "T", "--text", "t", "--on", "2999-01-01"], "after the day", id="future-on"
    ),
    pytest.param(
        ["--title", "T", "--text", "t", "--on", "1900-01-01"], "before 1945", id="ancient-on"
    ),
    pytest.param(["--title", "T", "--text", "t", "--on", "01/02/2026"], "YYYY-MM-DD", id="bad-on"),
    pytest.param(["--text", "t"], "--title", id="no-title"),
]


@pytest.mark.parametrize(("args", "words"), BAD_LESSONS)
def test_bad_lesson_is_one_line_exit_2_nothing_written(
    engine: Engine, cli: Cli, args: list[str], words: str
) -> None:
    """Bad input to `lesson` is one line on stderr naming the problem, exit 2, and the history
    is byte for byte what it was."""
    debriefed(engine, "a")
    path = engine.workspace.path_of("a")
    before = path.read_bytes()
    code, out, err = cli("lesson", "a", *args)
    assert code == 2, (out, err)
    assert len(err.splitlines()) == 1 and words in err, err
    assert "Traceback" not in err and "internal error" not in err
    assert path.read_bytes() == before


def test_lesson_cli_names_its_cite(engine: Engine, cli: Cli) -> None:
    """`lifecycle lesson` prints the cite of the lesson (ENGAGEMENT:SEQ) and the history shows it."""
    debriefed(engine, "a")
    code, out, err = cli(
        "lesson",
        "a",
        "--title",
        "Elders first",
        "--text",
        "Meet them.",
        "--theme",
        "gender",
        "--section",
        "what-worked=The council",
        "--section",
        "what-did-not=Media silence",
    )
    seq = engine.engagement("a").seq
    assert code == 0 and err == "", err
    assert f"Recorded lesson a:{seq} (event {seq})" in out
    code, out, _ = cli("history", "a")
    assert out.splitlines()[-1].endswith("lesson at debriefing: Elders first [gender]")
    event = engine.history("a")[-1]
    assert event["data"]["sections"] == {
        "what-worked": "The council",
        "what-did-not": "Media silence",
    }


def test_lesson_reaches_the_next_induction_and_its_citation_is_in_history(
    engine: Engine, cli: Cli, workspace: Path
) -> None:
    """A lesson recorded at the debriefing of one engagement appears in the induction `status`
    of a later engagement in the same country, is cited when `lessons-pack` is ticked, and the
    citation shows in the later engagement's history (and the workspace audits clean)."""
    debriefed(engine, "pemba-2024", "country=TZA", "conflict=Pemba land dispute")
    lesson = engine.lesson(
        "pemba-2024",
        title="Bring the elders in early",
        text="The elders' council unlocked the talks.",
        themes=["local-dynamics"],
        sections={"recommendations": "Brief the next envoy on the council."},
        actor="officer",
    ).event
    cite = f"pemba-2024:{lesson['seq']}"
    debriefed(engine, "other-country", "country=KEN")
    engine.lesson("other-country", title="Elsewhere", text="Not for Tanzania.", actor="officer")
    inducting(engine, "pemba-2026", "country=TZA")

    code, out, _ = cli("status", "pemba-2026", "--json")
    assert code == 0
    offered = json.loads(out)["lessons"]
    assert [(r["cite"], r["matched"], r["cited"]) for r in offered] == [(cite, ["country"], False)]
    assert offered[0]["title"] == "Bring the elders in early"
    assert offered[0]["sections"] == {"recommendations": "Brief the next envoy on the council."}
    code, out, _ = cli("status", "pemba-2026")
    assert "lessons of other engagements in this country or conflict" in out
    assert f"{cite}  " in out and "Bring the elders in early" in out

    code, out, err = cli("check", "pemba-2026", "lessons-pack", "--cite", cite)
    assert code == 0, err
    assert f"Checked lessons-pack, citing {cite}" in out
    code, out, _ = cli("history", "pemba-2026", "--json")
    tick = json.loads(out)["events"][-1]
    assert (tick["type"], tick["v"], tick["data"]["item"]) == ("item_checked", 2, "lessons-pack")
    assert tick["data"]["cites"] == [cite]
    code, out, _ = cli("history", "pemba-2026")
    assert out.splitlines()[-1].endswith(f"checked lessons-pack, citing {cite}")
    code, out, _ = cli("status", "pemba-2026", "--json")
    assert [r["cited"] for r in json.loads(out)["lessons"]] == [True]

    code, out, _ = cli("audit", str(workspace), "--json")
    assert code == 0, out
    codes = [f["code"] for f in json.loads(out)["files"][1]["findings"]]
    assert not [c for c in codes if c.startswith("cite-")]


def test_status_lessons_match_by_conflict_and_only_in_a_lessons_stage(engine: Engine) -> None:
    """`status` lists lessons of the same conflict (case and accents aside) even in another
    country, never the engagement's own, and is null outside a stage with a lessons item."""
    debriefed(engine, "old", "country=KEN", "conflict=Lac Amaní")
    engine.lesson("old", title="Same conflict", text="t", actor="officer")
    debriefed(engine, "unrelated", "country=UGA", "conflict=Another")
    engine.lesson("unrelated", title="Unrelated", text="t", actor="officer")
    inducting(engine, "new", "country=UGA", "conflict=lac  amani")
    engine.lesson("new", title="Own lesson", text="t", actor="officer")
    offered = engine.status("new", actor="officer")["lessons"]
    assert [(r["title"], r["matched"]) for r in offered] == [
        ("Unrelated", ["country"]),
        ("Same conflict", ["conflict"]),
    ]
    assert engine.status("old", actor="officer")["lessons"] is None  # debriefing cites nothing


def test_status_lessons_empty_without_country_or_conflict(engine: Engine) -> None:
    """An engagement with neither a country nor a conflict fact is offered no lessons (an
    empty list: its stage does cite lessons)."""
    debriefed(engine, "old", "country=KEN")
    engine.lesson("old", title="T", text="t", actor="officer")
    inducting(engine, "new")
    assert engine.status("new", actor="officer")["lessons"] == []


BAD_CITES = [
    pytest.param(["lessons-pack", "--cite", "old"], "not ENGAGEMENT:SEQ", id="no-seq"),
    pytest.param(["lessons-pack", "--cite", "old:0"], "not ENGAGEMENT:SEQ", id="seq-zero"),
    pytest.param(["lessons-pack", "--cite", "old:x"], "not ENGAGEMENT:SEQ", id="seq-text"),
    pytest.param(["lessons-pack", "--cite", "new:3"], "names this engagement", id="self"),
    pytest.param(["lessons-pack", "--cite", "ghost:3"], "ghost", id="no-such-engagement"),
    pytest.param(["lessons-pack", "--cite", "old:1"], "is no lesson", id="not-a-lesson"),
    pytest.param(["lessons-pack", "--cite", "old:999"], "is no lesson", id="no-such-seq"),
    pytest.param(["lessons-pack", "--cite", "{L}", "--cite", "{L}"], "given twice", id="twice"),
    pytest.param(
        ["briefing-pack", "--cite", "{L}"], "not marked lessons = true", id="not-a-lessons-item"
    ),
]


@pytest.mark.parametrize(("args", "words"), BAD_CITES)
def test_bad_cite_is_one_line_exit_2_nothing_written(
    engine: Engine, cli: Cli, args: list[str], words: str
) -> None:
    """A malformed, self-, unknown, non-lesson or repeated cite, or a cite on an item not
    marked `lessons = true`, is one line on stderr, exit 2, and nothing is written."""
    debriefed(engine, "old", "country=KEN")
    seq = engine.lesson("old", title="T", text="t", actor="officer").event["seq"]
    inducting(engine, "new", "country=KEN")
    path = engine.workspace.path_of("new")
    before = path.read_bytes()
    code, out, err = cli("check", "new", *[a.replace("{L}", f"old:{seq}") for a in args])
    assert code == 2, (out, err)
    assert len(err.splitlines()) == 1 and words in err, err
    assert path.read_bytes() == before


def test_snapshot_keeps_lessons_and_cites(engine: Engine) -> None:
    """A snapshot of a state with lessons and cites loads back to the same lessons and cites."""
    debriefed(engine, "old", "country=KEN")
    seq = engine.lesson(
        "old", title="T", text="t\nu", themes=["gender"], sections={"context": "c"}, actor="officer"
    ).event["seq"]
    inducting(engine, "new", "country=KEN")
    engine.check("new", "lessons-pack", cites=[f"old:{seq}"], actor="officer")
    for eid in ("old", "new"):
        state = engine.engagement(eid)
        history = engine.workspace.path_of(eid)
        records = [decode_line(line[:-1])[0] for line in history.read_bytes().splitlines(True)[1:]]
        replayed, _ = continued(str(history), None, records, None)
        assert (replayed.lessons, replayed.cites) == (state.lessons, state.cites)
        anchor = engine.store.read_after(eid, None)[1]
        assert anchor is not None
        save_snapshot(history, state, anchor)
        loaded = load_snapshot(history)
        assert loaded is not None
        assert (loaded[0].lessons, loaded[0].cites) == (state.lessons, state.cites)
    new = engine.engagement("new")
    assert new.cites == [(new.seq, f"old:{seq}", new.last_at)]  # the tick's seq, cite and at
