"""Missed cadences: every span an activity on a cadence stood overdue in its stage (#9).

The audit streams events; before each one is applied, :class:`CadenceWatch` looks at the cadences
of the stage the engagement is in. A cadence is missed when the event that ends its span comes
after its due date: the activity recorded late (held late, or held in time but recorded only after
it was due), or the stage left with the activity not recorded. Memory is one date per activity: the
due date last reported, so a span is reported once even when the stage is left and re-entered.

The due date is the one ``lifecycle due`` shows (:mod:`~lifecycle._due`): every ``every_days``
from the last time the activity took place, or, if it never has, from entering the stage.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any, Final

import attrs

from ._lines import days_after
from ._model import Activity
from ._state import Engagement

__all__ = ["WATCHED", "CadenceWatch"]

Record = dict[str, Any]  # Any: a JSON object as stored.


WATCHED: Final = frozenset({"activity_recorded", "advanced", "forced"})


@attrs.define
class CadenceWatch:
    """Reports each missed cadence once, as a message naming the activity, due date and delay."""

    reported: dict[str, dt.date] = attrs.field(factory=dict)

    def before(self, engagement: Engagement, record: Record) -> list[str]:
        """The cadences *record* shows missed, *engagement* being the state before it."""
        kind, data = record.get("type"), record.get("data")
        if kind not in WATCHED or engagement.final or not isinstance(data, dict):
            return []  # only a recorded activity or a move can show a cadence missed
        day = dt.date.fromisoformat(str(record.get("at"))[:10])
        if kind == "activity_recorded":
            return list(self._recorded(engagement, data, day))
        target = engagement.playbook.stage(str(data.get("to")))
        if kind in ("advanced", "forced") and not (target and target.final):
            return list(self._left(engagement, day))
        return []  # into a final stage: `overdue-at-closing` names what was overdue then

    def _recorded(self, engagement: Engagement, data: Record, day: dt.date) -> Iterator[str]:
        activity = engagement.playbook.activity(str(data.get("activity")))
        held = dt.date.fromisoformat(str(data.get("on")))
        if activity is None or activity.every_days is None:
            return  # no cadence here
        yield from self.recorded(engagement, activity, held, day)

    def recorded(
        self, engagement: Engagement, activity: Activity, held: dt.date, day: dt.date
    ) -> list[str]:
        """What :meth:`before` says of *activity* (on a cadence) held on *held*, recorded on
        *day*, for a caller that has read them (the audit's common activity)."""
        assert activity.every_days is not None
        last = engagement.last_occurrence(activity.id)  # before this one: read once
        due = _due(engagement, activity, last)
        if due is None or due >= day or (last and held <= last):
            return []  # on time, not in its stages, or a past occurrence filled in
        if not self._first(activity.id, due):
            return []
        if held > due:
            return [
                f"activity {activity.id} was due {due} (every {activity.every_days} days in "
                f"{engagement.stage}); held {held}: {(held - due).days} day(s) late"
            ]
        return [
            f"activity {activity.id} was due {due} (every {activity.every_days} days in "
            f"{engagement.stage}); held {held} but recorded only on {day}: "
            f"{(day - due).days} day(s) late"
        ]

    def _left(self, engagement: Engagement, day: dt.date) -> Iterator[str]:
        for activity in engagement.playbook.activities:
            due = _due(engagement, activity)
            if due is None or due >= day or not self._first(activity.id, due):
                continue
            yield (
                f"activity {activity.id} was due {due} (every {activity.every_days} days in "
                f"{engagement.stage}); not recorded when the stage was left on {day}: "
                f"{(day - due).days} day(s) late"
            )

    def _first(self, activity: str, due: dt.date) -> bool:
        """Whether this span (activity, due date) is reported for the first time."""
        if self.reported.get(activity) == due:
            return False
        self.reported[activity] = due
        return True


def _due(engagement: Engagement, activity: Activity, last: dt.date | None = None) -> dt.date | None:
    """The cadence due date of *activity* in the current stage (as ``_due._cadences``); *last*,
    when given, is its latest occurrence (the caller has read it)."""
    if activity.every_days is None or engagement.stage not in activity.during:
        return None
    base = last or engagement.last_occurrence(activity.id)
    if base is None:
        entered = engagement.last_entry(engagement.stage)
        base = entered.on if entered else engagement.opened_on
    return days_after(base, activity.every_days)
