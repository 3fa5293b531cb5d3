"""What people in roles owe (#13): an incoming envoy's induction, a leaving one's debriefing,
the handover retreat, each within the role's days of the person's appointment or departure.

An owed activity is done once it is recorded on or after that day, for that person when the
activity has a ``person`` parameter.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from ._lines import days_after
from ._model import Owed
from ._state import Engagement, Person

__all__ = ["owed_items"]

# (activity, title, due, overdue, source) for each thing a person owes.
Owing = tuple[str, str, dt.date, bool, str]


def owed_items(engagement: Engagement, today: dt.date) -> Iterator[Owing]:
    """Everything people in roles owe and have not had recorded, as of *today*."""
    pb = engagement.playbook
    for person in engagement.people:
        role = pb.role(person.role)
        for owed in role.owes if role else ():
            start = _start(person, owed)
            if start is None or _done(engagement, owed.activity, person.name, start):
                continue
            activity = pb.activity(owed.activity)
            due = days_after(start, owed.within_days)
            title = f"{activity.title if activity else owed.activity} ({person.name})"
            why = {"join": "appointed", "leave": "left", "handover": "took over"}[owed.when]
            source = (
                f"role {person.role}: {person.name} {why} {start}, within {owed.within_days} days"
            )
            yield owed.activity, title, due, due < today, source


def _start(person: Person, owed: Owed) -> dt.date | None:
    if owed.when == "join":
        return person.since
    if owed.when == "leave":
        return person.left
    return person.since if person.by_handover else None


def _done(engagement: Engagement, activity: str, name: str, start: dt.date) -> bool:
    for record in engagement.activities:
        if record.activity != activity or record.on < start:
            continue
        person = dict(record.params).get("person")
        if person is None or person == name:
            return True
    return False
