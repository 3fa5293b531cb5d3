"""What the engine itself enforces outside rules, re-checked on a recorded history by the audit.

The engine refuses to tick an item of a stage not yet reached, to record an activity outside
its stages or on a future date, to set an unknown fact or a value of the wrong type, and to act
in a final stage. A history that holds such events was not written by the engine as it stands:
each is an audit finding.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Final

from ._inputs import date_problem
from ._lesson_replay import LESSON_CHECKS, cite_problems
from ._model import Fact, Playbook
from ._places import place_problem
from ._practice_check import ACTIVITY_CHECK, PRACTICE_CHECKS
from ._refusalcheck import STRUCTURE_CHECKS
from ._state import Engagement

__all__ = ["event_problems", "fact_problems", "kind_checked"]

Record = dict[str, Any]  # Any: a JSON object as stored.
_IN_FINAL: Final = frozenset(
    {"note_added", "refused", "forced", "repaired", "linked", "unlinked", "lesson"}
)


def event_problems(engagement: Engagement, record: Record) -> list[str]:
    """Every engine condition *record* breaks, applied to *engagement* as it stood before it."""
    kind, data = record.get("type"), record.get("data")
    if not isinstance(data, dict):
        return []  # replay reports a missing data object
    problems = []
    if kind not in _IN_FINAL and engagement.final and not _reopens(engagement, data):
        problems.append(
            f"{kind} recorded after the engagement reached final stage {engagement.stage!r}"
        )
    check = _CHECKS.get(str(kind))
    if check is not None:
        problems.extend(check(engagement, data, record))
    return problems


def _reopens(engagement: Engagement, data: Record) -> bool:
    """A new-round trigger out of the final stage it leaves (#13)."""
    trigger = engagement.playbook.trigger(str(data.get("trigger")))
    return trigger is not None and bool(trigger.new_round) and engagement.stage in trigger.from_


def kind_checked(kind: object) -> bool:
    """Whether events of *kind* have engine conditions to re-check (notes have none, and a
    transition out of a final stage is already impossible in the compiled machine)."""
    return kind in _CHECKS


def fact_problems(facts: Mapping[str, Fact] | Playbook, values: object) -> Iterator[str]:
    """Problems of stored fact *values* (an object of fact id to value) against the playbook."""
    if not isinstance(values, dict):
        yield "facts is not an object"
        return
    lookup = facts.fact if isinstance(facts, Playbook) else facts.get
    for key, value in values.items():
        fact = lookup(key)
        if fact is None:
            yield f"unknown fact {key!r}"
        elif value is not None and not _valid(fact, value):
            yield f"fact {key!r} ({fact.type}) cannot be {value!r}"


def _valid(fact: Fact, value: object) -> bool:
    if fact.type == "bool":
        return isinstance(value, bool)
    if not isinstance(value, str):
        return False
    if fact.type == "choice":
        return value in fact.choices
    if fact.type == "date":
        return date_problem(value) is None
    if fact.type in ("country", "subdivision"):
        return not place_problem(fact.type, value)
    return True


def _facts(engagement: Engagement, data: Record, record: Record) -> Iterator[str]:
    yield from fact_problems(engagement.playbook, data.get("facts"))


def _item(engagement: Engagement, data: Record, record: Record) -> Iterator[str]:
    item = data.get("item")
    found = engagement.playbook.item(item) if isinstance(item, str) else None
    if found is None:
        yield f"unknown checklist item {item!r}"
        return
    stage = found[0].id
    if data.get("stage") != stage:
        yield f"item {item!r} belongs to stage {stage!r}, recorded {data.get('stage')!r}"
    if not engagement.visited(stage):
        yield f"item {item!r} of stage {stage!r}, which the engagement had not reached"
    if record.get("type") == "item_unchecked" and not engagement.is_done(str(item)):
        yield f"item {item!r} unchecked while not checked"
    if record.get("type") == "item_checked":
        yield from cite_problems(engagement, data, record)  # #15


def _activity(engagement: Engagement, data: Record, record: Record) -> Iterator[str]:
    name = data.get("activity")
    spec = engagement.playbook.activity(name) if isinstance(name, str) else None
    if spec is None:
        yield f"unknown activity {name!r}"
        return
    if engagement.stage not in spec.during:
        yield f"activity {name!r} recorded in stage {engagement.stage!r}, outside {list(spec.during)}"
    if data.get("stage") != engagement.stage:
        yield f"activity recorded as in stage {data.get('stage')!r}; the engagement was in {engagement.stage!r}"
    on, at = data.get("on"), record.get("at")
    if problem := date_problem(on):
        yield f"activity date {problem}"
    elif isinstance(on, str) and isinstance(at, str) and on > at[:10]:
        yield f"activity dated {on}, after it was recorded ({at[:10]})"
    yield from ACTIVITY_CHECK(engagement, data, record)


_CHECKS: Final = {
    "fact_set": _facts,
    "item_checked": _item,
    "item_unchecked": _item,
    "activity_recorded": _activity,
    **PRACTICE_CHECKS,
    **LESSON_CHECKS,
    **STRUCTURE_CHECKS,
}
