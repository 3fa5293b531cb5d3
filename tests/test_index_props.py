"""Property: over generated workspaces, changed by the engine and behind its back between
queries, list, due and search give the same answers through the index as without it (#14), and
so do `lessons` and `status`'s `lessons` (#15)."""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lifecycle import FileStore
from lifecycle._index import Filters, Portfolio, search_store
from lifecycle._lessons import LessonFilter, lessons_item, related_lessons, search_lessons
from lifecycle._lines import LineProblem
from lifecycle._listing import engagement_rows
from lifecycle.exceptions import LifecycleError
from lifecycle.testing import drive, make_engine
from test_tamper import rechain, split

WORDS = ["lake", "amani", "café", "walrus", "shore", "Élan", "talks", "dune"]
IDS = ["e-1", "e-2", "e-3", "e-4"]
TODAY = dt.date(2026, 9, 1)
MADE = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)
TO_SUPPORT = ["accept-request", "complete-analysis", "appoint", "complete-induction", "start-support"]
TO_INDUCTION = TO_SUPPORT[:3]
FACTS = {"envoy": "Amb. X", "mandate.source": "Decision 1/2026"}
CONFLICTS = ["Lac Amaní", "lac  amani", "Dune talks"]
THEMES = ["ceasefire", "local-dynamics"]
FILTERS = [
    LessonFilter(),
    LessonFilter("lak"),
    LessonFilter("talks élan"),
    LessonFilter(country="KEN"),
    LessonFilter(conflict="lac"),
    LessonFilter(theme="local-dynamics"),
    LessonFilter("local", country="NOR", conflict="dune", theme="ceasefire"),
]

text = st.lists(st.sampled_from(WORDS), min_size=1, max_size=4).map(" ".join)
ops = st.lists(
    st.one_of(
        st.tuples(st.just("open"), st.sampled_from(IDS), text),
        st.tuples(st.just("drive"), st.sampled_from(IDS), text),
        st.tuples(st.just("note"), st.sampled_from(IDS), text),
        st.tuples(st.just("country"), st.sampled_from(IDS), st.sampled_from(["KEN", "NOR"])),
        st.tuples(st.just("check"), st.sampled_from(IDS), text),
        st.tuples(st.just("induct"), st.sampled_from(IDS), st.just("")),
        st.tuples(st.just("lesson"), st.sampled_from(IDS), text),
        st.tuples(st.just("conflict"), st.sampled_from(IDS), st.sampled_from(CONFLICTS)),
        st.tuples(st.just("delete"), st.sampled_from(IDS), st.just("")),
        st.tuples(st.just("rewrite"), st.sampled_from(IDS), text),
        st.tuples(st.just("corrupt"), st.sampled_from(IDS), st.just("")),
        st.tuples(st.just("touch"), st.sampled_from(IDS), st.just("")),
        st.tuples(st.just("query"), st.just(""), st.just("")),
    ),
    min_size=1,
    max_size=14,
)


def _apply(ws: Path, engine, op: tuple[str, str, str]) -> None:
    kind, eid, arg = op
    path = ws / f"{eid}.history.jsonl"
    try:
        if kind == "open":
            engine.open(eid, "core", actor="officer", title=arg)
        elif kind == "drive":
            drive(engine, eid, "core", TO_SUPPORT, facts=FACTS)
            engine.note(eid, arg, actor="officer")
        elif kind == "note":
            engine.note(eid, arg, actor="officer")
        elif kind == "country":
            engine.set_facts(eid, {"country": arg}, actor="officer")
        elif kind == "check":
            engine.check(eid, "request-recorded", actor="officer", note=arg)
        elif kind == "induct":
            drive(engine, eid, "core", TO_INDUCTION, facts=FACTS)
        elif kind == "lesson":
            if eid not in engine.engagements():
                engine.open(eid, "core", actor="officer", title=arg)
            themes = [t for t in THEMES if len(arg) % len(t) < 3]
            engine.lesson(eid, title=arg, text=arg[::-1], themes=themes, actor="officer")
        elif kind == "conflict":
            engine.set_facts(eid, {"conflict": arg}, actor="officer")
        elif kind == "delete":
            path.unlink()
        elif kind == "rewrite":  # a consistent forgery of the opened event's title
            lines = split(path.read_bytes())
            path.write_bytes(b"".join(rechain(lines, 1, lambda r: r["data"].update(title=arg))))
        elif kind == "corrupt":
            data = bytearray(path.read_bytes())
            data[len(data) // 2] ^= 0x01
            path.write_bytes(bytes(data))
        elif kind == "touch":
            os.utime(path)
    except (LifecycleError, LineProblem, FileNotFoundError):
        pass  # an op that does not apply (no such engagement, refused, a forgery of a damaged
        # line): the workspace is as it is


def _same(ws: Path) -> None:
    truth = make_engine(ws, clock=lambda: dt.datetime.combine(TODAY, dt.time(), dt.UTC))
    index = Portfolio(ws)
    assert index.rows()[0] == engagement_rows(truth)
    items, problems, _ = index.due(TODAY)
    want_items, want_problems = truth.due()
    assert [i.as_json() for i in items] == [i.as_json() for i in want_items]
    assert problems == want_problems
    for word in WORDS:
        for filters in (Filters(), Filters(country="KEN", active=True)):
            got = index.search(word, filters)[0]
            assert got == Portfolio(ws, use_index=False).search(word, filters)[0]
            assert got.hits == search_store(FileStore(ws), word, filters).hits
    for where in FILTERS:
        rows, problems, _ = index.lessons(where)
        assert (rows, problems) == search_lessons(truth, where)
    for eid in truth.engagements():
        try:
            engagement = truth.engagement(eid)
        except LifecycleError:
            continue
        if lessons_item(engagement) is not None:
            got = related_lessons(truth, engagement)
            assert got == related_lessons(truth, engagement, use_index=False)


# Two engagements with lessons in one country and conflict, a third in its induction there.
PRELUDE = [
    ("lesson", "e-1", "lake talks"),
    ("country", "e-1", "KEN"),
    ("conflict", "e-1", "Lac Amaní"),
    ("lesson", "e-2", "dune shore"),
    ("conflict", "e-2", "lac  amani"),
    ("induct", "e-3", ""),
    ("country", "e-3", "KEN"),
]
lesson_ops = st.lists(
    st.one_of(
        st.tuples(st.just("lesson"), st.sampled_from(IDS), text),
        st.tuples(st.just("induct"), st.sampled_from(IDS), st.just("")),
        st.tuples(st.just("country"), st.sampled_from(IDS), st.sampled_from(["KEN", "NOR"])),
        st.tuples(st.just("conflict"), st.sampled_from(IDS), st.sampled_from(CONFLICTS)),
        st.tuples(st.just("rewrite"), st.sampled_from(IDS), text),
        st.tuples(st.just("corrupt"), st.sampled_from(IDS), st.just("")),
        st.tuples(st.just("delete"), st.sampled_from(IDS), st.just("")),
        st.tuples(st.just("query"), st.just(""), st.just("")),
    ),
    min_size=1,
    max_size=16,
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(ops)
def test_the_index_gives_the_answers_the_histories_give(sequence):
    """After any sequence of engine commands and changes behind the index, queried in between,
    the index's list, due and search equal those computed from the histories alone."""
    _check(sequence)


def _check(sequence: list[tuple[str, str, str]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        ws = Path(folder)
        engine = make_engine(ws, clock=lambda: MADE)
        for op in sequence:
            if op[0] == "query":
                _same(ws)
            else:
                _apply(ws, engine, op)
        _same(ws)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(lesson_ops)
def test_the_index_gives_the_lessons_the_histories_give(sequence):
    """After any sequence of lessons, inductions, country and conflict facts and changes behind
    the index, queried in between, `lessons` and `status`'s `lessons` through the index equal
    those computed by replaying every engagement."""
    _check(PRELUDE + sequence)
