"""Deadlines as data: what is due, computed from the history on demand (no daemon, no timer).

Two sources: an activity's cadence (``every_days``) while the engagement is in one of the stages
the activity is recorded ``during``; and ``within-days`` rules, once their ``after`` has happened
and until the guarded trigger or activity follows it, counting from the latest of the rule's
``after`` events (a handover restarts an induction deadline an appointment set). Dates count from
occurrence dates (an activity's ``on``), not from when it was recorded.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable

from ._dueitem import DueItem
from ._lines import days_after
from ._model import Rule
from ._practice_due import owed_items
from ._rules import latest_occurrence, names
from ._state import Engagement
from .exceptions import LifecycleError

__all__ = ["DueItem", "due_across", "due_items"]


def due_across(
    ids: Iterable[str], engagement: Callable[[str], Engagement], today: dt.date
) -> tuple[list[DueItem], list[str]]:
    """What is due in every engagement of *ids*, soonest first, and the engagements that could
    not be read (each as one line)."""
    items: list[DueItem] = []
    problems: list[str] = []
    for engagement_id in ids:
        try:
            items.extend(due_items(engagement(engagement_id), today))
        except LifecycleError as exc:
            problems.append(f"{engagement_id}: {exc}")
    return sorted(items, key=lambda i: (i.due, i.engagement, i.id)), problems


def due_items(engagement: Engagement, today: dt.date) -> list[DueItem]:
    """Everything due or overdue in *engagement* as of *today*, soonest first."""
    if engagement.final:
        return []
    items = _cadences(engagement, today) + _deadlines(engagement, today)
    items += [DueItem(engagement.id, "activity", *owing) for owing in owed_items(engagement, today)]
    return sorted(items, key=lambda i: (i.due, i.kind, i.id))


def _cadences(engagement: Engagement, today: dt.date) -> list[DueItem]:
    items = []
    for activity in engagement.playbook.activities:
        if activity.every_days is None or engagement.stage not in activity.during:
            continue
        entered = engagement.last_entry(engagement.stage)
        # Never recorded: the cadence counts from entering the stage it is recorded during.
        base = engagement.last_occurrence(activity.id) or (
            entered.on if entered else engagement.opened_on
        )
        due = days_after(base, activity.every_days)
        items.append(
            DueItem(
                engagement.id,
                "activity",
                activity.id,
                activity.title,
                due,
                due < today,
                f"every {activity.every_days} days",
            )
        )
    return items


def _deadlines(engagement: Engagement, today: dt.date) -> list[DueItem]:
    items = []
    for rule in engagement.playbook.rules:
        if rule.kind != "within-days":
            continue
        items.extend(_deadline(engagement, rule, today))
    return items


def _deadline(engagement: Engagement, rule: Rule, today: dt.date) -> list[DueItem]:
    days = rule.params.get("days")
    latest = latest_occurrence(engagement, names(rule.params.get("after")))
    if not isinstance(days, int) or latest is None:
        return []
    after, start = latest  # the latest `after` event: a handover after an appointment
    due = days_after(start, days)
    out = []
    targets = [("trigger", t) for t in rule.on] + [("activity", a) for a in rule.on_activity]
    for kind, name in targets:
        done = engagement.last_occurrence(name)
        if done is not None and done >= start:
            continue
        if not _possible(engagement, kind, name):
            continue
        title = _title(engagement, kind, name)
        out.append(
            DueItem(
                engagement.id,
                "activity" if kind == "activity" else "trigger",
                name,
                title,
                due,
                due < today,
                f"rule {rule.id}: within {days} days of {after}",
            )
        )
    return out


def _possible(engagement: Engagement, kind: str, name: str) -> bool:
    """Whether *name* can still happen (an activity only during its stages)."""
    pb = engagement.playbook
    if kind == "activity":
        activity = next((a for a in pb.activities if a.id == name), None)
        return activity is not None and engagement.stage in activity.during
    return any(t.id == name for t in pb.triggers)


def _title(engagement: Engagement, kind: str, name: str) -> str:
    entries = engagement.playbook.activities if kind == "activity" else engagement.playbook.triggers
    return next((e.title for e in entries if e.id == name), name)
