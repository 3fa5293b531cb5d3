"""The engine's lean paths (#14, the transitions figure) equal the general ones they replace: a
replayed move read as the code before them read it, on hostile records too; the index kept up by
moves equal to one built from the logs; outcomes and views equal to the ones their classes make."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lifecycle import Outcome
from lifecycle._decide import evaluate, gate
from lifecycle._machine import compile_machine
from lifecycle._practice_replay import occurrence_of
from lifecycle._replay import EVENT_VERSIONS, ReplayError, apply
from lifecycle._rules import PASS, Param, RuleKind
from lifecycle._state import Action, ActivityRecord, Engagement, Fired
from lifecycle._stateindex import StateIndex
from lifecycle._view import EngagementView
from lifecycle.exceptions import LifecycleError
from lifecycle.testing import drive, make_engine

BENCH = Path(__file__).resolve().parent.parent / "bench"
DAY = dt.date(2026, 1, 1)
Record = dict[str, Any]


@pytest.fixture(scope="module")
def cycle(tmp_path_factory: pytest.TempPathFactory) -> Engagement:
    """An engagement of the bench's two-stage cycle, in its first stage (the figure's state)."""
    engine = make_engine(tmp_path_factory.mktemp("cycle"), playbook_dirs=[BENCH])
    return drive(engine, "t", "bench-cycle", [], facts={"mandate.source": "Decision 1"})


# ---------------------------------------------------------------- a replayed move


def _reference_apply(engagement: Engagement, record: Record) -> None:
    """``apply`` of an ``advanced`` event as the code at the start of the round wrote it (its
    envelope checks, then ``_advanced`` with ``occurrence_of`` and the compiled machine)."""
    seq = record.get("seq")
    if type(seq) is not int:
        seq = seq if isinstance(seq, int) and not isinstance(seq, bool) else -1
    kind, version = record.get("type"), record.get("v")
    if type(kind) is not str or kind not in EVENT_VERSIONS:
        raise ReplayError(seq, f"unknown event type {kind!r}")
    if not isinstance(version, int) or version > EVENT_VERSIONS[kind]:
        raise ReplayError(
            seq, f"event type {kind!r} version {version!r} is newer than this code reads"
        )
    data = record.get("data")
    if type(data) is not dict:
        raise ReplayError(seq, "event has no data object")
    try:
        _reference_advanced(engagement, data, record)
    except (KeyError, TypeError, ValueError, AttributeError, LifecycleError) as exc:
        raise ReplayError(seq, f"bad {kind!r} event data ({exc})") from None
    engagement.seq = seq
    head, at = record.get("hash", ""), record.get("at", "")
    engagement.head = head if type(head) is str else str(head)
    engagement.last_at = at if type(at) is str else str(at)


def _reference_advanced(engagement: Engagement, data: Record, record: Record) -> None:
    source, trigger, playbook = engagement.stage, data["trigger"], engagement.playbook
    if type(trigger) is not str:
        trigger = str(trigger)
    if data.get("from") != source:
        raise ValueError(f"recorded from {data.get('from')!r} but the engagement is in {source!r}")
    dest = compile_machine(playbook, engagement.playbook_sha256).fire(engagement, trigger)
    if dest != data.get("to"):
        raise ValueError(f"trigger leads to {dest!r}, recorded {data.get('to')!r}")
    seq, on = record["seq"], occurrence_of(record)
    if trigger in playbook.new_round_triggers:
        engagement.round += 1
        engagement.done.clear()
    engagement.moved(dest, seq, on, Fired(trigger, on, seq, source, dest))


def _move(engagement: Engagement) -> Record:
    """The record of the engagement's next move, as the engine builds it."""
    dest = "support" if engagement.stage == "briefing" else "briefing"
    trigger = "start" if dest == "support" else "brief-again"
    return {
        "seq": engagement.seq + 1,
        "at": "2026-01-02T03:04:05.000006Z",
        "actor": "bench",
        "type": "advanced",
        "v": 1,
        "data": {"trigger": trigger, "from": engagement.stage, "to": dest, "rules": []},
        "prev": engagement.head,
        "hash": "ab" * 32,
    }


_HOSTILE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 5),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["", "advanced", "start", "support", "briefing", "2026-13-01", "2026-02-03"]),
    st.sampled_from(["2026-01-02T03:04:05.000006Z", "2026-01-02 03:04:05.000006Z", "x" * 27]),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.sampled_from(["on", "to"]), st.integers(), max_size=1),
)
_ENVELOPE = st.sampled_from(["seq", "type", "v", "data", "at", "hash"])
_DATA = st.sampled_from(["trigger", "from", "to", "on"])
_EDITS = st.lists(
    st.tuples(st.one_of(_ENVELOPE, _DATA.map(lambda k: f"data.{k}")), st.booleans(), _HOSTILE),
    max_size=4,
)


def _edited(record: Record, edits: list[tuple[str, bool, object]]) -> Record:
    """*record* with each member of *edits* set to its value, or deleted (``data.KEY`` names a
    member of its data, while the data is still an object)."""
    record = {**record, "data": dict(record["data"])}
    for member, delete, value in edits:
        target, key = record, member
        if member.startswith("data."):
            target, key = record.get("data"), member[5:]
            if not isinstance(target, dict):
                continue
        if delete:
            target.pop(key, None)
        else:
            target[key] = value
    return record


def _outcome(engagement: Engagement, record: Record, how: Any) -> tuple[object, ...]:
    """What *how* makes of *record* on a copy of *engagement*: its error, or the state after it."""
    copy = engagement.copy()
    try:
        how(copy, record)
    except ReplayError as exc:
        return ("error", exc.seq, str(exc))
    return (
        copy.stage,
        copy.seq,
        copy.head,
        copy.last_at,
        copy.last_on,
        copy.round,
        list(copy.entries),
        list(copy.fired),
    )


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.booleans(), st.booleans(), _EDITS)
def test_a_move_is_read_as_the_reference_reads_it(
    cycle: Engagement, on_given: bool, version_2: bool, edits: list[tuple[str, bool, object]]
) -> None:
    """apply, its checks and the move's day inline, refuses what the reference refuses with the
    same message and leaves the same state otherwise, hostile members included."""
    record = _move(cycle)
    if version_2:
        record["v"] = 2
    if on_given:
        record["data"]["on"] = "2025-12-30"
    record = _edited(record, edits)
    assert _outcome(cycle, record, apply) == _outcome(cycle, record, _reference_apply)


# ---------------------------------------------------------------- the index kept up by moves


_STEPS = st.lists(
    st.tuples(st.sampled_from(["move", "force", "activity", "ask"]), st.sampled_from("abc")),
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(_STEPS)
def test_moves_keep_the_index_that_the_logs_give(steps: list[tuple[str, str]]) -> None:
    """Engagement.moved (the index's entry work inline) leaves the index a fresh one would be,
    whatever was appended around the moves."""
    from lifecycle._playbooks import load_playbook

    playbook = load_playbook(BENCH / "bench-cycle.toml")
    eng = Engagement("e", "", playbook, "", "a", DAY)
    eng.moved("a", 1, DAY)
    for seq, (kind, name) in enumerate(steps, start=2):
        on = DAY + dt.timedelta(days=seq % 5)
        if kind == "move":
            eng.moved(name, seq, on, Fired(f"go-{name}", on, seq, eng.stage, name))
        elif kind == "force":
            eng.moved(name, seq, on)
        elif kind == "activity":
            eng.activities.append(ActivityRecord(f"act-{name}", on, seq, eng.stage))
        else:
            eng.visited("a")  # the index is asked (and catches up) between moves
        eng.stage = eng.entries[-1].stage
    kept = eng.indexed()
    fresh = StateIndex().current(eng.entries, eng.activities, eng.fired)
    assert kept.known == fresh.known == (len(eng.entries), len(eng.activities), len(eng.fired))
    for name in ("occurred", "last_entry", "counts", "counts_at", "last_stage", "came"):
        assert getattr(kept, name) == getattr(fresh, name), name


# ---------------------------------------------------------------- outcomes and views


def test_decisions_make_outcomes_as_the_class_does(cycle: Engagement) -> None:
    """The pass outcomes of evaluate and the gate's are Outcomes equal to the class's own, each
    a new object (one changed changes no later decision's)."""
    action = Action("trigger", "start", DAY)
    first = [*evaluate(cycle, action, _core_kinds()), gate(cycle, "start")]
    assert [type(o) for o in first] == [Outcome] * 3
    assert first == [
        Outcome("mandate-recorded", "fact-required", "block", True, "", (), ""),
        Outcome("briefed-before", "stage-visited", "warn", True, "", (), ""),
        Outcome("checklist", "checklist", "block", True, ""),
    ]
    first[0].message, first[2].passed = "changed", False
    again = [*evaluate(cycle, action, _core_kinds()), gate(cycle, "start")]
    assert all(a is not b for a, b in zip(first, again, strict=True))
    assert again[0].message == "" and again[2].passed is True


def test_rules_see_a_read_only_view_of_the_engagement(cycle: Engagement) -> None:
    """The view a rule gets is an EngagementView of the engagement that refuses every write."""
    seen: list[EngagementView] = []

    def look(rule: object, view: EngagementView, action: Action) -> object:
        seen.append(view)
        view.stage = "closed"  # type: ignore[misc]  # raises: the rule fails closed
        return PASS

    kinds = {
        **_core_kinds(),
        "stage-visited": RuleKind("stage-visited", look, {"stage": Param("str")}),
    }
    outcomes = evaluate(cycle, Action("trigger", "start", DAY), kinds)
    assert len(seen) == 1 and type(seen[0]) is EngagementView
    assert (seen[0].stage, seen[0].seq, seen[0].head) == (cycle.stage, cycle.seq, cycle.head)
    assert cycle.stage == "briefing" and outcomes[1].unchecked and outcomes[1].blocks


def _core_kinds() -> dict[str, RuleKind]:
    from lifecycle._rules import CORE_RULE_KINDS

    return {kind.name: kind for kind in CORE_RULE_KINDS}


def test_fact_value_reads_as_facts_get(cycle: Engagement) -> None:
    """fact_value, which the fact rules ask instead of the read-only mapping, answers as
    ``facts.get`` does, on the engagement and its view, for a set and an unset fact."""
    view = EngagementView(cycle)
    for name in ("mandate.source", "no.such.fact"):
        assert cycle.fact_value(name) == view.fact_value(name) == view.facts.get(name)
    assert view.fact_value("mandate.source") == "Decision 1"
    assert view.fact_value("no.such.fact") is None
