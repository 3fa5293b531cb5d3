"""The track record as data: the contributions of the engagements summed over a period.

:func:`gather` reads every engagement of a store once and computes its
:class:`~lifecycle._report._contrib.Contribution`; :func:`summarize` applies the period and the
playbook filter and returns the report as plain JSON data (``report --format json``). The HTML
and Markdown forms are rendered from that same data, so their figures are the JSON's.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

import attrs

from .._lessonaudit import cite_findings
from ..exceptions import CorruptHistoryError, LifecycleError
from ._cache import ReportCache
from ._contrib import SERVICE_KINDS, Contribution, identity

if TYPE_CHECKING:
    from .._auditreport import FileReport
    from .._rules import RuleKind
    from .._store import Store

__all__ = ["FORMATS", "FORMAT_VERSION", "TOTALS", "Period", "gather", "summarize"]

FORMAT_VERSION: Final = 1
FORMATS: Final = ("html", "md", "json")  # the forms :func:`~._render.render` makes
# The totals every form shows, in this order, with their words (docs/report.md).
TOTALS: Final = (
    ("engagements", "Engagements in the period"),
    ("opened", "Opened"),
    ("active", "Active at some point"),
    ("open_at_end", "Open at the end"),
    ("closed", "Closed"),
    ("withdrawn", "Withdrawn"),
    ("services", "Services delivered"),
    ("overrides", "Overrides"),
    ("forced", "Forced moves"),
    ("cadences_missed", "Cadences missed"),
    ("overdue", "Overdue now"),
    ("lessons", "Lessons captured"),
)
Data = dict[str, Any]  # Any: a JSON object.
Record = dict[str, Any]  # Any: a JSON object as stored.


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


def gather(
    store: Store,
    today: dt.date,
    kinds: Mapping[str, RuleKind],
    cache: ReportCache | None = None,
    known: Mapping[str, str] | None = None,
) -> tuple[list[Contribution], list[dict[str, str]], list[Data]]:
    """Every engagement's contribution whose history audits clean, each history that could not
    be read (id, error), and each that does not audit clean (id, path, its error findings).

    Each history is audited as ``lifecycle audit`` audits the whole store (cites judged across
    every history read), and only a clean one is counted: an error finding means the history
    holds what the engine could not have written, so no figure may rest on it. With *cache*, the
    verdict on bytes audited before and the contribution computed from them are reused
    (:mod:`~lifecycle._report._cache`); cites are judged afresh either way. *known* names the
    key of each history's bytes read just before (:func:`~lifecycle._report.report_text`): a
    history whose clean entry is kept under it is not read again. ``cache.used`` then holds the
    key of the bytes each engagement's figures came from.
    """
    read: list[tuple[Contribution, FileReport]] = []
    unreadable: list[dict[str, str]] = []
    cache, known = cache or ReportCache(), known or {}
    cache.used.clear()  # this report's, not an earlier one's made with the same cache
    for engagement in store.engagements():
        label = store.label_of(engagement)
        try:
            kept = _kept(cache, engagement, known.get(engagement, ""), label, today)
            read.append(kept or _read(store, engagement, label, today, kinds, cache))
        except LifecycleError as exc:
            unreadable.append({"engagement": engagement, "error": str(exc)})
    if cache.entries is not None:
        cache.entries.save()
    cite_findings(audit for _, audit in read)
    clean = [c for c, audit in read if audit.ok]
    failed = [_failed(c, audit) for c, audit in read if not audit.ok]
    return clean, unreadable, failed


def _kept(
    cache: ReportCache, engagement: str, key: str, label: str, today: dt.date
) -> tuple[Contribution, FileReport] | None:
    """The contribution and the clean verdict kept under *key*, the key of the bytes of
    *engagement* read just before (None: none is kept, or none usable)."""
    kept = cache.kept(engagement, key, label, today)
    if kept is None:
        return None
    cache.used[engagement] = key
    return kept[1], kept[0]


def _read(
    store: Store,
    engagement: str,
    label: str,
    today: dt.date,
    kinds: Mapping[str, RuleKind],
    cache: ReportCache,
) -> tuple[Contribution, FileReport]:
    """The contribution and the audit of one history, of the very same bytes: the audit's
    checkpoint is the contribution's (the head hash covers every line before it).

    Raises:
        LifecycleError: The history cannot be read, or kept changing while it was read.
    """
    for _ in range(3):
        data = b"".join(store.lines(engagement))
        audit, key = cache.audit(engagement, label, data, kinds, today)
        cache.used[engagement] = key
        if audit.ok:
            return _counted(engagement, label, data, audit, today, cache, key), audit
        if data == b"".join(store.lines(engagement)):  # not an append caught half-way
            from .._events import check_events
            from ._fold import contribution

            records = check_events(label, store.read_after(engagement, None)[0])
            _keep(cache, engagement, key, audit, None)
            return contribution(label, records, today), audit
    raise CorruptHistoryError(label, "it changed while the report read it; run the report again")


def _counted(
    engagement: str,
    label: str,
    data: bytes,
    audit: FileReport,
    today: dt.date,
    cache: ReportCache,
    key: str,
) -> Contribution:
    """The contribution of *data*, which audited clean as *audit*: kept under *key* (""
    none), or computed (and kept).

    Raises:
        LifecycleError: The events cannot be replayed.
    """
    kept = cache.entries
    if kept is not None and key:
        found = kept.contribution(engagement, key, label, today)
        if found is not None and (found.events, found.head) == (audit.events, audit.head):
            return found
    from .._events import check_events  # only for a history counted afresh
    from ._fold import contribution

    records = check_events(label, audited_records(label, data, engagement, audit))
    found = contribution(label, records, today)
    if (found.events, found.head) != (audit.events, audit.head):  # never, for the same bytes
        raise CorruptHistoryError(label, "its events are not those audited; run the report again")
    _keep(cache, engagement, key, audit, found)
    return found


def _keep(
    cache: ReportCache, engagement: str, key: str, audit: FileReport, found: Contribution | None
) -> None:
    """Keep the verdict and contribution of the bytes of *key*, unless the verdict may change
    with the day (a ``time`` finding: an event after today), as ``audit`` keeps verdicts."""
    if cache.entries is not None and key and not any(f.code == "time" for f in audit.findings):
        cache.entries.keep(engagement, key, audit, found)


def audited_records(label: str, data: bytes, engagement: str, audit: FileReport) -> list[Record]:
    """The events of *data*, the bytes of a whole history of *engagement* that *audit* found
    clean: every line's hash, seq and link, the header and the JSON of each line were checked
    on these very bytes, so each event line is only decoded here (the hash member is the
    line's hash, as verified).

    Raises:
        CorruptHistoryError: *audit* is not a clean audit of *engagement*'s history.
    """
    if not audit.ok or audit.engagement != engagement or not data.endswith(b"\n"):
        raise CorruptHistoryError(label, "its events are not those audited; run the report again")
    return [json.loads(line) for line in data.split(b"\n")[1:-1]]


def _failed(c: Contribution, audit: FileReport) -> Data:
    errors = [f for f in audit.findings if f.severity == "error"]
    return {
        "engagement": c.engagement,
        "path": c.label,
        "errors": [{"code": f.code, "seq": f.seq, "message": f.message} for f in errors],
    }


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
    failed: Sequence[Data] = (),
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
    lessons.sort(key=lambda x: (x["engagement"], x["seq"]))
    lessons.sort(key=lambda x: str(x["day"]), reverse=True)  # newest first, as `lessons` lists
    totals = {
        "engagements": len(rows),
        "opened": sum(1 for r in rows if r["opened_in_period"]),
        "active": sum(1 for r in rows if r["active_in_period"]),
        "open_at_end": sum(1 for r in rows if r["open_at_end"]),
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
        "failed_audit": list(failed),
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
        **identity(c),
        "opened_in_period": period.holds(c.opened),
        "active_in_period": any(period.meets(s.start, s.end) for s in c.spans if not s.final),
        "open_at_end": _open_at(c, period.end),
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


def _open_at(c: Contribution, day: dt.date) -> bool:
    """Whether the engagement was open on *day*: opened, and in a stage that is not final."""
    stages = [s for s in c.spans if s.start <= day]
    return bool(stages) and not stages[-1].final


def _services(chosen: Sequence[Contribution], period: Period) -> Data:
    by_kind: Counter[str] = Counter({kind: 0 for kind in SERVICE_KINDS})
    by_org: dict[str, Counter[str]] = {}
    by_country: dict[str, Counter[str]] = {}
    by_activity: Counter[str] = Counter()
    for c in chosen:
        held = [(name, kind) for day, name, kind, _ in c.activities if period.holds(day)]
        if not held:
            continue
        org = by_org.setdefault(c.organization, Counter())
        country = by_country.setdefault(c.country, Counter())
        for name, kind in held:
            by_kind[kind] += 1
            by_activity[name] += 1
            org[kind] += 1
            country[kind] += 1
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
