"""`lifecycle lessons [QUERY] [--country] [--conflict] [--theme] [--json]` (#15): every
engagement of the workspace, newest first, on every store; and the matching functions the
portfolio index reuses."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from lifecycle import Engine, testing
from lifecycle._lessons import (
    LessonFilter,
    conflict_key,
    matches_query,
    normalize,
    search_lessons,
    words,
)
from lifecycle._state import LessonRecord
from lifecycle.exceptions import InvalidInputError

from conftest import STORE_KINDS, make_store

Cli = Callable[..., tuple[int, str, str]]
DAY = dt.date(2026, 1, 5)


def lesson(
    title: str, text: str = "", themes: tuple[str, ...] = (), **sections: str
) -> LessonRecord:
    """A lesson record as replay builds it."""
    return LessonRecord(
        2,
        "2026-01-05T09:00:00.000000Z",
        "officer",
        "debriefing",
        title,
        text,
        themes,
        tuple(sections.items()),
    )


def test_normalize_ignores_case_accents_and_spacing() -> None:
    """Texts compare without case, accents or repeated spaces."""
    assert normalize("  Lac   AMANÍ  ") == "lac amani"
    assert words("Côte-d'Ivoire: 2011 crisis") == ["cote", "d", "ivoire", "2011", "crisis"]


def test_query_words_each_begin_a_word_of_the_lesson() -> None:
    """Every query word must begin a word of the title, text, a section or a theme."""
    record = lesson(
        "Elders first", "The council opened doors.", ("local-dynamics",), context="A land dispute"
    )
    assert matches_query(words("elder council"), record)
    assert matches_query(words("LAND"), record)  # a section
    assert matches_query(words("dynamics"), record)  # a theme's word
    assert matches_query(words("local-dynamics"), record)
    assert not matches_query(words("elders ceasefire"), record)  # every word, not any
    assert not matches_query(words("ouncil"), record)  # a word's beginning, not its middle
    assert matches_query([], record)


def test_conflict_key_is_the_conflict_fact_normalized(engine: Engine) -> None:
    """ "The same conflict" is the conflict fact, normalized; none when unset."""
    engine.open("a", "core", actor="officer", facts=["conflict=Lake  Amaní"])
    engine.open("b", "core", actor="officer", title="Lake Amani talks")
    assert conflict_key(engine.engagement("a")) == "lake amani"
    assert conflict_key(engine.engagement("b")) == ""


def build(engine: Engine) -> dict[str, str]:
    """Three engagements with lessons on different days; returns title -> cite."""
    engine.open(
        "kenya-1",
        "core",
        actor="officer",
        title="Kenya talks",
        facts=["country=KEN", "conflict=Rift Valley land"],
    )
    engine.open("kenya-2", "core", actor="officer", title="Second round", facts=["country=KEN"])
    engine.open("amani", "core", actor="officer", title="Lake Amani talks", facts=["country=UGA"])
    cites = {}
    for eid, title, text, themes, days in [
        ("kenya-1", "Elders first", "The elders' council opened doors.", ["local-dynamics"], 30),
        ("kenya-1", "Ceasefire monitors", "Monitors from both sides.", ["ceasefire"], 2),
        ("kenya-2", "Women delegates", "Include women delegates early.", ["gender"], 10),
        ("amani", "Elders again", "Elders matter on the lake too.", ["local-dynamics"], 20),
    ]:
        event = engine.lesson(
            eid,
            title=title,
            text=text,
            themes=themes,
            on=DAY - dt.timedelta(days=days),
            actor="officer",
        ).event
        cites[title] = f"{eid}:{event['seq']}"
    return cites


@pytest.mark.parametrize("kind", STORE_KINDS)
def test_search_on_every_store_newest_first(
    kind: str, request: pytest.FixtureRequest, workspace: Path, fixed_clock
) -> None:
    """On the memory, file and PostgreSQL stores, the search finds the same lessons, newest
    (by lesson day) first, each with its engagement and seq, under every filter."""
    engine = testing.make_engine(store=make_store(kind, request, workspace), clock=fixed_clock)
    cites = build(engine)

    def found(query: str = "", **where: str) -> list[str]:
        rows, problems = search_lessons(engine, LessonFilter(query, **where))
        assert problems == []
        for row in rows:
            assert row["cite"] == f"{row['engagement']}:{row['seq']}"
        return [row["title"] for row in rows]

    assert found() == ["Ceasefire monitors", "Women delegates", "Elders again", "Elders first"]
    assert found("elders") == ["Elders again", "Elders first"]
    assert found("elders", country="KEN") == ["Elders first"]
    assert found(country="KEN") == ["Ceasefire monitors", "Women delegates", "Elders first"]
    assert found(conflict="rift") == ["Ceasefire monitors", "Elders first"]  # the conflict fact
    assert found(conflict="lake amani") == ["Elders again"]  # no conflict fact: the title
    assert found(conflict="second") == ["Women delegates"]
    assert found(theme="local-dynamics") == ["Elders again", "Elders first"]
    assert found("council", theme="local-dynamics") == ["Elders first"]
    assert found(theme="gender", country="UGA") == []
    assert cites["Elders first"].startswith("kenya-1:")


def test_filters_are_checked() -> None:
    """A country that is not ISO 3166-1 alpha-3, or a conflict with no word, is refused."""
    with pytest.raises(InvalidInputError, match="alpha-3"):
        LessonFilter(country="Kenya")
    with pytest.raises(InvalidInputError, match="--conflict"):
        LessonFilter(conflict=" -- ")


def test_lessons_cli_json_and_text(engine: Engine, cli: Cli, workspace: Path) -> None:
    """`lessons --json` prints every row with its cite and engagement; the text form shows the
    cite, day, title, where it comes from and its text; no match says so."""
    cites = build(engine)
    code, out, err = cli("lessons", "--json", "elders")
    assert code == 0 and err == ""
    data = json.loads(out)
    assert data["workspace"] == str(workspace) and data["unreadable"] == []
    first = data["lessons"][0]
    assert set(first) >= {
        "engagement",
        "seq",
        "cite",
        "title",
        "text",
        "themes",
        "sections",
        "stage",
        "on",
        "at",
        "actor",
        "country",
        "conflict",
        "engagement_title",
    }
    assert [r["cite"] for r in data["lessons"]] == [cites["Elders again"], cites["Elders first"]]
    assert first["on"] == (DAY - dt.timedelta(days=20)).isoformat()  # its --on day
    code, out, _ = cli("lessons", "--country", "KEN", "--theme", "ceasefire")
    lines = out.splitlines()
    assert lines[0].startswith(f"{cites['Ceasefire monitors']}  ")
    assert "Kenya talks, at support-request (country KEN, conflict Rift Valley land)" in lines[1]
    assert lines[2].strip() == "Monitors from both sides."
    code, out, _ = cli("lessons", "nothing-like-this")
    assert (code, out.strip()) == (0, "No lessons match.")


@pytest.mark.parametrize(
    ("args", "words_"),
    [
        (["--country", "XYZ"], "alpha-3"),
        (["--country", "ken"], "alpha-3"),
        (["--conflict", "!!"], "--conflict"),
    ],
)
def test_lessons_cli_bad_filter_exit_2(cli: Cli, args: list[str], words_: str) -> None:
    """A bad filter is one line on stderr and exit 2."""
    code, _, err = cli("lessons", *args)
    assert code == 2 and len(err.splitlines()) == 1 and words_ in err


def test_unreadable_engagement_is_named_not_fatal(
    engine: Engine, cli: Cli, workspace: Path
) -> None:
    """An engagement that cannot be read is named on stderr and in `unreadable`; the others'
    lessons are still listed."""
    build(engine)
    (workspace / "broken.history.jsonl").write_bytes(b"not a history\n")
    code, out, err = cli("lessons", "--json")
    assert code == 0
    data = json.loads(out)
    assert len(data["lessons"]) == 4
    assert [p.split(":")[0] for p in data["unreadable"]] == ["broken"]
    assert err.startswith("warning: broken:")
