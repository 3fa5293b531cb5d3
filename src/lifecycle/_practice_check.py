"""The engine's conditions on the practice's events (#13), re-checked by the audit.

Each check takes the engagement as it stood before the event and yields what the engine could
never have written; :mod:`~lifecycle._eventcheck` reports each as a ``not-allowed`` error.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any, Final

from ._inputs import date_problem
from ._practice import OUTSIDE_REF, person_name_problem
from ._state import Engagement
from ._workspace import is_engagement_id

__all__ = ["PRACTICE_CHECKS"]

Record = dict[str, Any]  # Any: a JSON object as stored.


def _occurrence(engagement: Engagement, on: object, record: Record) -> Iterator[str]:
    """An occurrence day: a date, not after it was recorded, not before the previous one."""
    if problem := date_problem(on):
        yield f"occurrence date {problem}"
        return
    assert isinstance(on, str)
    at = record.get("at")
    if isinstance(at, str) and on > at[:10]:
        yield f"occurrence dated {on}, after it was recorded ({at[:10]})"
    last = engagement.last_on
    if last is not None and dt.date.fromisoformat(on) < last:
        yield f"occurrence dated {on}, before the previous occurrence ({last.isoformat()})"


def _advanced(engagement: Engagement, data: Record, record: Record) -> Iterator[str]:
    if record.get("v") == 2 and "on" in data:
        yield from _occurrence(engagement, data.get("on"), record)
    trigger = engagement.playbook.trigger(str(data.get("trigger")))
    expected = engagement.round + 1 if trigger is not None and trigger.new_round else None
    recorded = data.get("round") if record.get("v") == 2 else None
    if trigger is not None and recorded != expected:
        yield f"round recorded as {recorded!r}; the engine would have recorded {expected!r}"


def _activity(engagement: Engagement, data: Record, record: Record) -> Iterator[str]:
    if record.get("v") != 2:
        return
    spec = engagement.playbook.activity(str(data.get("activity")))
    params = data.get("params")
    if spec is None or not isinstance(params, dict):
        return
    for key, value in params.items():
        param = spec.param(str(key))
        if param is None:
            yield f"activity {spec.id!r} has no parameter {key!r}"
        elif param.choices and value not in param.choices:
            yield f"parameter {key!r} cannot be {value!r}"
        elif not str(value).strip():
            yield f"parameter {key!r} is empty"
    for param in spec.params or ():
        if param.required and param.id not in params:
            yield f"required parameter {param.id!r} missing"


def _person_added(engagement: Engagement, data: Record, record: Record) -> Iterator[str]:
    name, role = str(data.get("name")), str(data.get("role"))
    yield from _name(name)
    spec = engagement.playbook.role(role)
    if spec is None:
        yield f"unknown role {role!r}"
    elif spec.org == "required" and not str(data.get("org", "")).strip():
        yield f"a person in role {role!r} recorded without an organization"
    if engagement.person(name) is not None:
        yield f"{name!r} added while already in the engagement"
    yield from _occurrence(engagement, data.get("on"), record)


def _person_left(engagement: Engagement, data: Record, record: Record) -> Iterator[str]:
    if engagement.person(str(data.get("name"))) is None:
        yield f"{data.get('name')!r} left while not in the engagement"
    reason = record.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        yield "a person left with no reason"
    yield from _occurrence(engagement, data.get("on"), record)


def _handed_over(engagement: Engagement, data: Record, record: Record) -> Iterator[str]:
    outgoing = engagement.person(str(data.get("from")))
    if outgoing is None or outgoing.role != "envoy":
        yield f"handover from {data.get('from')!r}, who is not an envoy in the engagement"
    yield from _name(str(data.get("to")))
    if engagement.person(str(data.get("to"))) is not None:
        yield f"handover to {data.get('to')!r}, who is already in the engagement"
    yield from _occurrence(engagement, data.get("on"), record)


def _linked(engagement: Engagement, data: Record, record: Record) -> Iterator[str]:
    other, relation = str(data.get("other")), str(data.get("relation"))
    if ":" in other:
        if relation != "same-process" or not OUTSIDE_REF.fullmatch(other):
            yield f"link to {other!r}: an outside reference ORG:REF, and only as same-process"
    elif not is_engagement_id(other) or other == engagement.id:
        yield f"link to {other!r}, which is no other engagement id"
    if record.get("type") == "linked" and (other, relation) in engagement.links:
        yield f"link to {other!r} as {relation} recorded twice"
    if record.get("type") == "unlinked" and (other, relation) not in engagement.links:
        yield f"unlink of {other!r} as {relation}, which was never linked"


def _name(name: str) -> Iterator[str]:
    if problem := person_name_problem(name):
        yield problem.rstrip(".")


PRACTICE_CHECKS: Final[dict[str, Callable[[Engagement, Record, Record], Iterator[str]]]] = {
    "advanced": _advanced,
    "person_added": _person_added,
    "person_left": _person_left,
    "handed_over": _handed_over,
    "linked": _linked,
    "unlinked": _linked,
}
ACTIVITY_CHECK: Final = _activity
