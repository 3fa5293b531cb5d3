"""Replay of the practice's events (#13): people in roles, handovers, links, occurrence dates.

Each applier takes the engagement, the event's data and the whole record, like those of
:mod:`~lifecycle._replay`, and changes the engagement in place. The engine's own conditions on
these events (a person added twice, a handover from someone who is not the envoy, a date before
the previous occurrence) are re-checked by :mod:`~lifecycle._practice_check`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any, Final

from ._lines import date_of
from ._state import Engagement, Person

__all__ = [
    "LINK_RELATIONS",
    "PRACTICE_APPLY",
    "PRACTICE_VERSIONS",
    "event_version",
    "occurrence_of",
    "params_of",
]

Record = dict[str, Any]  # Any: a JSON object as stored.

PRACTICE_VERSIONS: Final = {
    "person_added": 1,
    "person_left": 1,
    "handed_over": 1,
    "linked": 1,
    "unlinked": 1,
}
LINK_RELATIONS: Final = ("parent", "child", "same-process", "follows")
# The members that only a newer version of an older event type carries (#13): written with
# that version only when present, so the events of commands that use none stay byte-identical.
_NEWER_MEMBERS: Final = {
    "opened": ("entry",),
    "advanced": ("on", "round"),
    "activity_recorded": ("params",),
    "refused": ("params", "round"),
    "item_checked": ("cites",),  # #15
}


def event_version(kind: str, data: Mapping[str, object]) -> int:
    """The version of *kind* an event with *data* is written as."""
    if kind in PRACTICE_VERSIONS:
        return PRACTICE_VERSIONS[kind]
    if kind == "lesson":
        return 1  # #15
    if kind == "refused" and data.get("trigger") and data.get("on"):
        return 2  # a refused move said to have happened on a day
    return 2 if any(m in data for m in _NEWER_MEMBERS.get(kind, ())) else 1


def occurrence_of(record: Record) -> dt.date:
    """The day a move happened: its ``on`` (advanced v2), else the day it was recorded."""
    data = record.get("data")
    if record.get("v") == 2 and isinstance(data, dict) and "on" in data:
        return dt.date.fromisoformat(str(data["on"]))
    return date_of(record["at"])


def params_of(record: Record) -> tuple[tuple[str, str], ...]:
    """An activity's recorded parameters (v2 events only), as sorted pairs."""
    data = record.get("data")
    if record.get("v") != 2 or not isinstance(data, dict):
        return ()
    params = data.get("params")
    return tuple(sorted((str(k), str(v)) for k, v in dict(params or {}).items()))


def _day(data: Record) -> dt.date:
    return dt.date.fromisoformat(str(data["on"]))


def _moved_on(engagement: Engagement, day: dt.date) -> None:
    if engagement.last_on is None or day > engagement.last_on:
        engagement.last_on = day


def _added(engagement: Engagement, data: Record, record: Record) -> None:
    day = _day(data)
    person = Person(str(data["name"]), str(data["role"]), day, int(record["seq"]))
    person.org = str(data.get("org", ""))
    engagement.people.append(person)
    if person.role == "envoy":
        engagement.facts["envoy"] = person.name  # the fact stays readable as the current envoy
    _moved_on(engagement, day)


def _left(engagement: Engagement, data: Record, record: Record) -> None:
    day = _day(data)
    person = engagement.person(str(data["name"]))
    if person is None:
        raise ValueError(f"{data['name']!r} is not in the engagement")
    person.left, person.left_seq = day, int(record["seq"])
    if person.role == "envoy" and engagement.facts.get("envoy") == person.name:
        successor = engagement.current_envoy()
        if successor and successor != person.name:
            engagement.facts["envoy"] = successor
        else:
            engagement.facts.pop("envoy", None)
    _moved_on(engagement, day)


def _handed_over(engagement: Engagement, data: Record, record: Record) -> None:
    day, seq = _day(data), int(record["seq"])
    outgoing = engagement.person(str(data["from"]))
    if outgoing is None:
        raise ValueError(f"{data['from']!r} is not in the engagement")
    outgoing.left, outgoing.left_seq = day, seq
    incoming = Person(str(data["to"]), "envoy", day, seq, by_handover=True)
    incoming.org = str(data.get("org", ""))
    engagement.people.append(incoming)
    engagement.facts["envoy"] = incoming.name
    _moved_on(engagement, day)


def _linked(engagement: Engagement, data: Record, record: Record) -> None:
    engagement.links[(str(data["other"]), str(data["relation"]))] = str(data.get("note", ""))


def _unlinked(engagement: Engagement, data: Record, record: Record) -> None:
    engagement.links.pop((str(data["other"]), str(data["relation"])), None)


PRACTICE_APPLY: Final[dict[str, Callable[[Engagement, Record, Record], None]]] = {
    "person_added": _added,
    "person_left": _left,
    "handed_over": _handed_over,
    "linked": _linked,
    "unlinked": _unlinked,
}
