"""One engagement's contribution to the track record: everything the report counts, computed by
one function from the engagement's verified events
(:func:`~lifecycle._report._fold.contribution`).

A contribution holds dated facts only (an activity and the day it took place, an override and
its day, ...); the period of a report is applied later, when contributions are summed
(:mod:`~lifecycle._report._data`). It depends on the events and on *today* alone (what is overdue
is as of today), so it is kept per history's bytes (:mod:`~lifecycle._report._cache`) and made
the day's by :func:`as_of`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Final, NamedTuple

import attrs

__all__ = [
    "LESSON",
    "Contribution",
    "Span",
    "as_of",
    "due_as_of",
    "identity",
    "service_kind",
]

Record = dict[str, Any]  # Any: a JSON object as stored.

LESSON: Final = "lesson"  # the event type of a recorded lesson (issue #15, deliverable 1)

# Services by kind, from the words of an activity's id, first match wins (docs/report.md).
_SERVICE_WORDS: Final = (
    ("debriefing", ("debriefing",)),
    ("handover", ("handover",)),
    ("briefing", ("briefing", "induction")),
    ("coaching", ("coaching",)),
    ("retreat", ("retreat",)),
    ("training", ("training",)),
    ("deployment", ("deployment",)),
)
SERVICE_KINDS: Final = (*(kind for kind, _ in _SERVICE_WORDS), "other")


def service_kind(activity: str) -> str:
    """The kind of service an activity id names: ``reflection-retreat`` is a retreat."""
    words = set(activity.split("-"))
    for kind, names in _SERVICE_WORDS:
        if words.intersection(names):
            return kind
    return "other"


class Span(NamedTuple):
    """The engagement was in *stage* from *start* until *end* (None: still there); a named
    tuple, as a report loads thousands of them from its cache."""

    stage: str
    title: str
    phase: str
    final: bool
    start: dt.date
    end: dt.date | None


@attrs.frozen
class Contribution:
    """What one engagement adds to the report, every item with its day."""

    engagement: str
    title: str
    playbook: str
    version: str
    organization: str
    country: str
    stage: str
    final: bool
    opened: dt.date
    label: str
    events: int
    head: str
    spans: tuple[Span, ...]
    # (day, "closed" | "withdrawn") for each entry into a final stage
    ends: tuple[tuple[dt.date, str], ...]
    # (day, activity, service kind, seq)
    activities: tuple[tuple[dt.date, str, str, int], ...]
    # (day, indicator, what counted: "item ID" | "activity ID" | "fact ID", seq)
    indicators: tuple[tuple[dt.date, str, str, int], ...]
    # each: day, seq, actor, kind ("override" | "forced"), what, rules, reason
    overrides: tuple[dict[str, Any], ...]
    # (day, seq, message) of each cadence missed (as the audit's `cadence-missed`)
    missed: tuple[tuple[dt.date, int, str], ...]
    overdue: tuple[dict[str, Any], ...]  # due items overdue today, as `due --json` rows
    lessons: tuple[dict[str, Any], ...]  # each: day, seq, title, themes
    declared: tuple[str, ...] = ()  # the indicators the engagement's playbook names
    # every item due, as `due --json` rows: which items are due does not depend on the day,
    # only whether each is overdue (:func:`as_of`)
    due: tuple[dict[str, Any], ...] = ()


def identity(c: Contribution) -> dict[str, Any]:
    """What names *c*'s engagement and where it stands, as JSON data: the first members of both
    its cache entry and its row in the report."""
    # Any: JSON data.
    return {
        "engagement": c.engagement,
        "title": c.title,
        "playbook": c.playbook,
        "version": c.version,
        "organization": c.organization,
        "country": c.country,
        "stage": c.stage,
        "final": c.final,
        "opened": c.opened.isoformat(),
    }


def as_of(c: Contribution, today: dt.date) -> Contribution:
    """*c* as of *today*: each due item overdue when its day is before *today* (as
    :func:`~lifecycle._due.due_items` decides it), the rest of *c* as it is."""
    due, overdue = due_as_of(c.due, today)
    return attrs.evolve(c, due=due, overdue=overdue)


def due_as_of(
    due: Sequence[dict[str, Any]], today: dt.date
) -> tuple[tuple[dict[str, Any], ...], tuple[dict[str, Any], ...]]:
    """The due items *due* (``due --json`` rows), each overdue when its day is before
    *today*, and those overdue."""
    # Any: JSON rows.
    items = tuple({**i, "overdue": dt.date.fromisoformat(i["due"]) < today} for i in due)
    return items, tuple(i for i in items if i["overdue"])
