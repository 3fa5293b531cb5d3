"""The track record as data: the contributions of the engagements summed over a period.

:func:`gather` reads every engagement of a store once and computes its
:class:`~lifecycle._report._contrib.Contribution`; :func:`summarize` applies the period and the
playbook filter and returns the report as plain JSON data (``report --format json``). The HTML
and Markdown forms are rendered from that same data, so their figures are the JSON's.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Final

import attrs

from .._events import check_events
from ..exceptions import LifecycleError
from ._contrib import SERVICE_KINDS, Contribution, contribution

if TYPE_CHECKING:
    from .._store import Store

__all__ = ["FORMAT_VERSION", "Period", "gather", "summarize"]

FORMAT_VERSION: Final = 1
Data = dict[str, Any]  # Any: a JSON object.


@attrs.frozen
class Period:
    """From *start* (None: since the first engagement) to *end*, both days included."""

    start: dt.date | None
    end: dt.date

    def holds(self, day: dt.date) -> bool:
        """Whether *day* falls in the period."""
        return (self.start is None or day >= self.start) and day <= self.end

    def meets(self, start: dt.date, end: dt.date | None) -> bool:
        """Whether the days from *start* to *end* (None: until now) meet the period."""
        return start <= self.end and (self.start is None or end is None or end >= self.start)


def gather(store: Store, today: dt.date) -> tuple[list[Contribution], list[dict[str, str]]]:
    """Every engagement's contribution, and each history that could not be read (id, error)."""
    found: list[Contribution] = []
    unreadable: list[dict[str, str]] = []
    for engagement in store.engagements():
        label = store.label_of(engagement)
        try:
            records = check_events(label, store.read_after(engagement, None)[0])
            found.append(contribution(label, records, today))
        except LifecycleError as exc:
            unreadable.append({"engagement": engagement, "error": str(exc)})
    return found, unreadable


def _included(c: Contribution, period: Period) -> bool:
    """Opened, active or ended in the period."""
    return (
        period.holds(c.opened)
        or any(period.meets(s.start, s.end) for s in c.spans if not s.final)
        or any(period.holds(day) for day, _ in c.ends)
    )


def summarize(
    contributions: Iterable[Contribution],
    period: Period,
    *,
    playbooks: Sequence[str] = (),
    unreadable: Sequence[dict[str, str]] = (),
    store: str = "",
    generated: str = "",
) -> Data:
    """The report over *period* of the engagements under *playbooks* (all when empty)."""
    chosen = [
        c
        for c in contributions
        if (not playbooks or c.playbook in playbooks) and _included(c, period)
    ]
    rows = [_engagement(c, period) for c in chosen]
    services = _services(chosen, period)
    indicators = _indicators(chosen, period)
    overrides = [o for c in chosen for o in _dated(c, c.overrides, period)]
    missed = [
        {"engagement": c.engagement, "seq": seq, "day": day.isoformat(), "message": message}
        for c in chosen
        for day, seq, message in c.missed
        if period.holds(day)
    ]
    overdue = [item for c in chosen for item in c.overdue]
    lessons = [lesson for c in chosen for lesson in _dated(c, c.lessons, period)]
    totals = {
        "engagements": len(rows),
        "opened": sum(1 for r in rows if r["opened_in_period"]),
        "active": sum(1 for r in rows if r["active_in_period"]),
        "closed": sum(1 for r in rows if r["ended_in_period"] == "closed"),
        "withdrawn": sum(1 for r in rows if r["ended_in_period"] == "withdrawn"),
        "services": sum(services["by_kind"].values()),
        "overrides": sum(1 for o in overrides if o["kind"] == "override"),
        "forced": sum(1 for o in overrides if o["kind"] == "forced"),
        "cadences_missed": len(missed),
        "overdue": len(overdue),
        "lessons": len(lessons),
    }
    return {
        "report": "track-record",
        "format": FORMAT_VERSION,
        "store": store,
        "generated": generated,
        "period": {
            "from": period.start.isoformat() if period.start else None,
            "to": period.end.isoformat(),
        },
        "playbooks": list(playbooks),
        "totals": totals,
        "services": services,
        "indicators": indicators,
        "overrides": overrides,
        "cadences": {"missed": missed, "overdue": overdue},
        "lessons": lessons,
        "engagements": rows,
        "unreadable": list(unreadable),
        "files": [_checkpoint(c) for c in chosen],
    }


def _dated(c: Contribution, entries: Iterable[dict[str, Any]], period: Period) -> list[Data]:
    """The *entries* of *c* whose day falls in the period, with their engagement, as JSON."""
    return [
        {"engagement": c.engagement, **e, "day": e["day"].isoformat()}
        for e in entries
        if period.holds(e["day"])
    ]


def _engagement(c: Contribution, period: Period) -> Data:
    ended = [kind for day, kind in c.ends if period.holds(day)]
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
        "opened_in_period": period.holds(c.opened),
        "active_in_period": any(period.meets(s.start, s.end) for s in c.spans if not s.final),
        "ended_in_period": ended[-1] if ended else None,
        "services": sum(1 for day, *_ in c.activities if period.holds(day)),
        "timeline": {
            "spans": [
                {
                    "stage": s.stage,
                    "title": s.title,
                    "phase": s.phase,
                    "final": s.final,
                    "from": s.start.isoformat(),
                    "to": s.end.isoformat() if s.end else None,
                }
                for s in c.spans
                if period.meets(s.start, s.end)
            ],
            "marks": [
                {"activity": name, "service": kind, "on": day.isoformat(), "seq": seq}
                for day, name, kind, seq in c.activities
                if period.holds(day)
            ],
        },
    }


def _services(chosen: Sequence[Contribution], period: Period) -> Data:
    by_kind: Counter[str] = Counter({kind: 0 for kind in SERVICE_KINDS})
    by_org: dict[str, Counter[str]] = {}
    by_country: dict[str, Counter[str]] = {}
    by_activity: Counter[str] = Counter()
    for c in chosen:
        for day, name, kind, _ in c.activities:
            if period.holds(day):
                by_kind[kind] += 1
                by_activity[name] += 1
                by_org.setdefault(c.organization, Counter())[kind] += 1
                by_country.setdefault(c.country, Counter())[kind] += 1
    return {
        "by_kind": dict(by_kind),
        "by_activity": dict(sorted(by_activity.items())),
        "by_organization": {k: dict(v) for k, v in sorted(by_org.items())},
        "by_country": {k: dict(v) for k, v in sorted(by_country.items())},
    }


def _indicators(chosen: Sequence[Contribution], period: Period) -> list[Data]:
    """Each indicator any chosen engagement's playbook records: occurrences and engagements."""
    counts: Counter[str] = Counter()
    engagements: dict[str, set[str]] = {}
    sources: dict[str, set[str]] = {}
    for c in chosen:
        for name in c.declared:
            counts[name] += 0
            engagements.setdefault(name, set())
            sources.setdefault(name, set())
        for day, indicator, what, _ in c.indicators:
            if period.holds(day):
                counts[indicator] += 1
                engagements.setdefault(indicator, set()).add(c.engagement)
                sources.setdefault(indicator, set()).add(what)
    return [
        {
            "indicator": name,
            "occurrences": counts[name],
            "engagements": len(engagements[name]),
            "recorded_as": sorted(sources[name]),
        }
        for name in sorted(counts)
    ]


def _checkpoint(c: Contribution) -> Data:
    return {
        "engagement": c.engagement,
        "path": c.label,
        "events": c.events,
        "head": c.head,
        "checkpoint": f"checkpoint {c.engagement} {c.events} {c.head}",
    }
