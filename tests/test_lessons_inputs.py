"""`lesson`, `lessons` and `check --cite` against a careless or hostile officer (#15): every bad
input is one line on stderr naming what is wrong, exit 2, and no byte written to any history."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from lifecycle import Engine

from conftest import drive_core

Invoke = Callable[..., tuple[int, str, str]]


@pytest.fixture
def ws(engine: Engine) -> tuple[Path, int]:
    """'old' with one lesson, 'new' in its induction briefing; the workspace and the lesson's seq."""
    drive_core(engine, "old", until="complete-debriefing")
    seq = engine.lesson("old", title="Elders first", text="Meet them.", actor="officer")
    drive_core(engine, "new", until="complete-induction")
    return engine.workspace.path_of("old").parent, int(seq.event["seq"])


def histories(folder: Path) -> dict[str, bytes]:
    """The bytes of every history of the workspace."""
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.history.jsonl"))}


LESSON = ["lesson", "old", "--title", "T", "--text", "t"]
BAD_LESSONS = [
    (["lesson", "old", "--title", " ", "--text", "t"], "needs a title"),
    (["lesson", "old", "--title", "a\nb", "--text", "t"], "control character or line break"),
    (["lesson", "old", "--title", "a\u202eb", "--text", "t"], "control character or line break"),
    (["lesson", "old", "--title", "x" * 201, "--text", "t"], "over 200"),
    (["lesson", "old", "--title", "T", "--text", "\n\n"], "needs text"),
    (["lesson", "old", "--title", "T", "--text", "a\x00b"], "control character"),
    (["lesson", "old", "--title", "T", "--text", "x" * 20_001], "over 20000"),
    ([*LESSON, "--theme", "Gender"], "theme 'Gender' is not lowercase"),
    ([*LESSON, "--theme", "a b"], "is not lowercase"),
    ([*LESSON, "--theme", "g", "--theme", "g"], "given twice"),
    ([*LESSON, *[f"--theme=t{i}" for i in range(21)]], "21 themes, over 20"),
    ([*LESSON, "--section", "context"], "A section is NAME=TEXT"),
    ([*LESSON, "--section", "=text"], "A section is NAME=TEXT"),
    ([*LESSON, "--section", "nosuch=x"], "is no lesson heading of playbook 'core'"),
    ([*LESSON, "--section", "context="], "section 'context' needs text"),
    ([*LESSON, "--section", "context=a", "--section", "context=b"], "given twice"),
    ([*LESSON, "--section", "context=a\x1bb"], "control character"),
    ([*LESSON, "--on", "2026-1-5"], "not a date of the form YYYY-MM-DD"),
    ([*LESSON, "--on", "1944-12-31"], "before 1945-01-01"),
    ([*LESSON, "--on", "2999-01-01"], "after the day it was recorded"),
    (["lesson", "nosuch", "--title", "T", "--text", "t"], "Unknown engagement 'nosuch'"),
    (["lesson", "../old", "--title", "T", "--text", "t"], "Invalid engagement id"),
    (["lesson", "old", "--text", "t"], "Missing option '--title'"),
]


@pytest.mark.parametrize(("args", "message"), BAD_LESSONS)
def test_bad_lesson_writes_nothing(
    ws: tuple[Path, int], cli: Invoke, args: list[str], message: str
) -> None:
    """Each bad `lesson` input: exit 2, one line naming it, every history unchanged."""
    folder, _ = ws
    before = histories(folder)
    code, out, err = cli(*args)
    assert (code, out) == (2, "")
    assert message in err and err.count("\n") == 1 and err.startswith("lifecycle: error:"), err
    assert histories(folder) == before


BAD_SEARCHES = [
    (["lessons", "--country", "ken"], "is not an ISO 3166-1 alpha-3"),
    (["lessons", "--country", "XXX"], "is not an ISO 3166-1 alpha-3"),
    (["lessons", "--conflict", " -- "], "--conflict needs a word"),
    (["lessons", "--theme", "Not A Theme"], "--theme: 'Not A Theme' is not a theme"),
    (["lessons", "--theme", ""], "--theme: '' is not a theme"),
    (["lessons", "--json", "--theme", "x" * 65], "is not a theme"),
    (["lessons", ".*("], "QUERY '.*(' has no word to match"),
]


@pytest.mark.parametrize(("args", "message"), BAD_SEARCHES)
def test_bad_search_is_one_line(
    ws: tuple[Path, int], cli: Invoke, args: list[str], message: str
) -> None:
    """A filter that can match nothing by construction is refused, not answered "none"."""
    code, out, err = cli(*args)
    assert (code, out) == (2, "")
    assert message in err and err.count("\n") == 1, err


def test_hostile_query_is_only_words(ws: tuple[Path, int], cli: Invoke) -> None:
    """A query of markup, a regex and a huge run of words is matched as words: no error, no
    match."""
    for query in ("</script><svg onload=x>", "(elder.*)+x", "zé " * 5000):
        code, out, err = cli("lessons", query)
        assert (code, err) == (0, "") and out == "No lessons match.\n", query[:20]


def _cites(seq: int) -> list[tuple[list[str], str]]:
    return [
        (["--cite", "old"], "is not ENGAGEMENT:SEQ"),
        (["--cite", "old:0"], "is not ENGAGEMENT:SEQ"),
        (["--cite", f"old:0{seq}"], "is not ENGAGEMENT:SEQ"),
        (["--cite", f"old:{seq}\n"], "is not ENGAGEMENT:SEQ"),
        (["--cite", "old:99999999999999"], "is not ENGAGEMENT:SEQ"),
        (["--cite", "new:1"], "names this engagement"),
        (["--cite", f"old:{seq}", "--cite", f"old:{seq}"], "is given twice"),
        (["--cite", "nosuch:3"], "Unknown engagement 'nosuch'"),
        (["--cite", "old:1"], "'old:1' is no lesson"),
        (["--cite", "old:9999"], "'old:9999' is no lesson"),
    ]


@pytest.mark.parametrize("index", range(10))
def test_bad_cite_writes_nothing(ws: tuple[Path, int], cli: Invoke, index: int) -> None:
    """Each bad `--cite` of a lessons-pack tick: exit 2, one line naming it, nothing written."""
    folder, seq = ws
    args, message = _cites(seq)[index]
    before = histories(folder)
    code, out, err = cli("check", "new", "lessons-pack", *args)
    assert (code, out) == (2, "")
    assert message in err and err.count("\n") == 1, err
    assert histories(folder) == before


def test_cite_on_an_item_not_marked_lessons(ws: tuple[Path, int], cli: Invoke) -> None:
    """A sound cite on an item not marked `lessons = true` is refused, naming the items that
    are; nothing written."""
    folder, seq = ws
    before = histories(folder)
    code, _, err = cli("check", "new", "briefing-pack", "--cite", f"old:{seq}")
    assert code == 2 and "is not marked lessons = true" in err and "lessons-pack" in err
    assert histories(folder) == before


def test_sound_cite_after_refusals_is_recorded(ws: tuple[Path, int], cli: Invoke) -> None:
    """After every refusal above, the sound cite is still accepted and shown in the history."""
    _, seq = ws
    code, out, _ = cli("check", "new", "lessons-pack", "--cite", f"old:{seq}")
    assert code == 0 and f"citing old:{seq}" in out
    assert f"citing old:{seq}" in cli("history", "new")[1]
