"""Lessons served from the portfolio index (#15): `lessons` and `status`'s `lessons` read its
`lessons` table on the file store, kept up to date as lessons are recorded; `--no-index` and an
index that cannot be written give the same answers from the histories."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from lifecycle import Engine

from conftest import drive_core, run_cli

INDUCTION = "complete-induction"


def _cli(ws: Path, *args: str) -> tuple[str, str]:
    result = run_cli("--workspace", str(ws), "--actor", "officer", *args)
    assert result.returncode == 0, result.stderr
    return result.stdout, result.stderr


def _table(ws: Path) -> list[tuple[str, int, str, str | None, str]]:
    conn = sqlite3.connect(ws / ".lifecycle" / "index.sqlite")
    try:
        query = "SELECT name, seq, title, country, conflict FROM lessons ORDER BY name, seq"
        return conn.execute(query).fetchall()
    finally:
        conn.close()


@pytest.fixture
def ws(workspace: Path, engine: Engine) -> Path:
    """Two engagements with lessons (Kenya; the Lake Amani conflict) and one in its induction
    briefing in Kenya."""
    drive_core(engine, "old-1", until="complete-debriefing")
    engine.set_facts("old-1", ["country=KEN", "conflict=Lac Amaní"], actor="officer")
    engine.lesson("old-1", title="Elders first", text="The council opened doors.",
                  themes=["local-dynamics"], actor="officer")
    engine.open("old-2", "core", actor="officer", title="Second", facts=["conflict=lac amani"])
    engine.lesson("old-2", title="Monitors", text="Both sides.", themes=["ceasefire"],
                  actor="officer")
    drive_core(engine, "new", until=INDUCTION)
    engine.set_facts("new", ["country=KEN"], actor="officer")
    return workspace


@pytest.mark.parametrize(
    "args", [(), ("elder",), ("--country", "KEN"), ("--conflict", "amani"), ("--theme", "ceasefire")]
)
def test_lessons_from_the_index_equal_the_replay(ws: Path, args: tuple[str, ...]) -> None:
    """`lessons` (text and JSON) prints the same through the index as with `--no-index`."""
    for form in ((), ("--json",)):
        truth, _ = _cli(ws, "lessons", *args, *form, "--no-index")
        got, err = _cli(ws, "lessons", *args, *form)
        assert got == truth and err == ""


def test_the_table_holds_each_lesson_with_country_and_conflict_key(ws: Path) -> None:
    """After a `lessons` query the index holds each lesson with its engagement's country fact
    and conflict key, and `--no-index` leaves the index file alone."""
    _cli(ws, "lessons")
    rows = _table(ws)
    assert [(r[0], r[2], r[3], r[4]) for r in rows] == [
        ("old-1", "Elders first", "KEN", "lac amani"),
        ("old-2", "Monitors", None, "lac amani"),
    ]
    index = ws / ".lifecycle" / "index.sqlite"
    before = index.stat().st_mtime_ns
    _cli(ws, "lessons", "--no-index")
    assert index.stat().st_mtime_ns == before


def test_new_lessons_and_facts_are_read_incrementally(ws: Path, engine: Engine) -> None:
    """A lesson recorded, and a fact changed, after the index was filled are served by the next
    query, which reads only that history after its known head."""
    _cli(ws, "lessons")
    engine.lesson("old-2", title="Later", text="Third lesson.", actor="officer")
    engine.set_facts("old-2", ["country=UGA"], actor="officer")
    out, _ = _cli(ws, "index", "--json")
    assert json.loads(out)["appended"] == 1
    out, _ = _cli(ws, "lessons", "--country", "UGA", "--json")
    assert [r["title"] for r in json.loads(out)["lessons"]] == ["Later", "Monitors"]
    assert [r[3] for r in _table(ws) if r[0] == "old-2"] == ["UGA", "UGA"]


def test_status_lessons_come_from_the_index(ws: Path) -> None:
    """`status` in the induction briefing offers the lessons of the same country or conflict
    from the index (filling it), each with what matched; outside such a stage it leaves the
    index alone."""
    _cli(ws, "status", "old-2", "--json")
    assert not (ws / ".lifecycle" / "index.sqlite").exists()
    out, _ = _cli(ws, "status", "new", "--json")
    offered = json.loads(out)["lessons"]
    assert [(r["title"], r["matched"], r["cited"]) for r in offered] == [
        ("Elders first", ["country"], False)
    ]
    assert len(_table(ws)) == 2


def test_status_and_lessons_answer_when_the_index_cannot_be_written(ws: Path) -> None:
    """When `.lifecycle` cannot hold an index (a file has its name), `status` and `lessons`
    still give the answers the histories give, and nothing is written there."""
    truth, _ = _cli(ws, "status", "new", "--json")
    lessons, _ = _cli(ws, "lessons", "--json", "--no-index")
    shutil.rmtree(ws / ".lifecycle")
    (ws / ".lifecycle").write_text("not a folder")
    got, err = _cli(ws, "status", "new", "--json")
    assert json.loads(got)["lessons"] == json.loads(truth)["lessons"] and err == ""
    got, err = _cli(ws, "lessons", "--json")
    assert got == lessons and err == ""
    assert (ws / ".lifecycle").read_text() == "not a folder"


def test_a_query_of_many_words_is_matched_whole(ws: Path, engine: Engine) -> None:
    """A QUERY of more words than go into one SQL query still needs every word: through the
    index, as with `--no-index`, the lesson holding them all is found, and one word past them
    that no lesson holds finds nothing."""
    many = [f"w{i:02d}x" for i in range(45)]
    engine.lesson("old-2", title="Many", text=" ".join(many), actor="officer")
    for query, titles in ((" ".join(many), ["Many"]), (" ".join([*many, "absent"]), [])):
        for extra in ((), ("--no-index",)):
            out, _ = _cli(ws, "lessons", query, "--json", *extra)
            assert [r["title"] for r in json.loads(out)["lessons"]] == titles
