"""One engagement's contribution computed from its verified events: the events applied one by
one under the embedded playbook, with the cadence watch, gathering what the report counts.

Kept apart from :mod:`~lifecycle._report._contrib` (what a contribution is): a report whose
every contribution comes from its cache imports none of the replay machinery.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from typing import Any

import attrs

from .._cadence import CadenceWatch
from .._due import due_items
from .._lines import date_of
from .._replay import ReplayError, apply, start
from .._state import Engagement
from ..exceptions import CorruptHistoryError
from ._contrib import LESSON, Contribution, Span, service_kind

__all__ = ["contribution"]

Record = dict[str, Any]  # Any: a JSON object as stored.


def contribution(label: str, records: Sequence[Record], today: dt.date) -> Contribution:
    """The contribution of the engagement whose verified events are *records* (``opened``
    first, schema-checked), as of *today*.

    Raises:
        CorruptHistoryError: The events cannot be replayed.
    """
    if not records:
        raise CorruptHistoryError(label, "the history has no events")
    try:
        return _fold(label, records, today)
    except (ReplayError, ValueError, KeyError, TypeError) as exc:
        raise CorruptHistoryError(label, f"cannot replay: {exc}") from None


@attrs.define
class _Fold:
    """The parts gathered while the events are applied one by one."""

    ends: list[tuple[dt.date, str]] = attrs.field(factory=list)
    activities: list[tuple[dt.date, str, str, int]] = attrs.field(factory=list)
    indicators: list[tuple[dt.date, str, str, int]] = attrs.field(factory=list)
    overrides: list[dict[str, Any]] = attrs.field(factory=list)
    missed: list[tuple[dt.date, int, str]] = attrs.field(factory=list)
    lessons: list[dict[str, Any]] = attrs.field(factory=list)


def _fold(label: str, records: Sequence[Record], today: dt.date) -> Contribution:
    eng = start(records[0])
    fold = _Fold()
    fold.indicators.extend(_fact_indicators(eng, records[0], eng.facts))
    watch = CadenceWatch()
    for record in records[1:]:
        seq, day = int(record["seq"]), date_of(str(record["at"]))
        fold.missed.extend((day, seq, m) for m in watch.before(eng, record))
        _note(eng, fold, record, seq, day)
        apply(eng, record)
        _note_entry(eng, fold, record)
    return _contribution(label, eng, fold, today)


def _note(eng: Engagement, fold: _Fold, record: Record, seq: int, day: dt.date) -> None:
    """Gather what *record* adds, before it is applied to *eng*."""
    kind, data = record.get("type"), record.get("data") or {}
    if kind == "activity_recorded":
        on, name = dt.date.fromisoformat(str(data["on"])), str(data["activity"])
        fold.activities.append((on, name, service_kind(name), seq))
        activity = eng.playbook.activity(name)
        if activity is not None and activity.indicator:
            fold.indicators.append((on, activity.indicator, f"activity {name}", seq))
    elif kind == "item_checked":
        found = eng.playbook.item(str(data["item"]))
        if found is not None and found[1].indicator:
            fold.indicators.append((day, found[1].indicator, f"item {found[1].id}", seq))
    elif kind == "fact_set":
        fold.indicators.extend(_fact_indicators(eng, record, data.get("facts") or {}))
    elif kind == LESSON:
        fold.lessons.append(_lesson(record, seq, day))
    if kind == "forced" or (kind in ("advanced", "activity_recorded") and data.get("override")):
        fold.overrides.append(_override(record, seq, day))


def _note_entry(eng: Engagement, fold: _Fold, record: Record) -> None:
    """A move into a final stage ends the engagement (or its round): closed or withdrawn."""
    if record.get("type") in ("advanced", "forced") and eng.final:
        entry = eng.entries[-1]
        fold.ends.append((entry.on, "withdrawn" if entry.stage == "withdrawn" else "closed"))


def _fact_indicators(
    eng: Engagement, record: Record, facts: dict[str, Any]
) -> Iterator[tuple[dt.date, str, str, int]]:
    for name, value in facts.items():
        fact = eng.playbook.fact(name)
        if fact is not None and fact.indicator and value is True:
            yield date_of(str(record["at"])), fact.indicator, f"fact {name}", int(record["seq"])


def _lesson(record: Record, seq: int, day: dt.date) -> dict[str, Any]:
    data = record.get("data") or {}
    on = data.get("on")
    themes = data.get("themes")
    return {
        "day": dt.date.fromisoformat(on) if isinstance(on, str) and len(on) == 10 else day,
        "seq": seq,
        "title": str(data.get("title", "")),
        "themes": [str(t) for t in themes] if isinstance(themes, list) else [],
    }


def _override(record: Record, seq: int, day: dt.date) -> dict[str, Any]:
    data = record.get("data") or {}
    if record.get("type") == "forced":
        kind, what, rules = "forced", f"{data.get('from')} -> {data.get('to')}", ["force"]
    else:
        kind = "override"
        what = str(data.get("trigger") or data.get("activity") or "")
        rules = [str(r) for r in (data.get("override") or {}).get("rules", [])]
    return {
        "day": day,
        "seq": seq,
        "actor": str(record.get("actor", "")),
        "kind": kind,
        "what": what,
        "rules": rules,
        "reason": str(record.get("reason") or ""),
    }


def _spans(eng: Engagement) -> tuple[Span, ...]:
    spans = []
    for index, entry in enumerate(eng.entries):
        after = eng.entries[index + 1].on if index + 1 < len(eng.entries) else None
        stage = eng.playbook.stage(entry.stage)
        # A move may be dated before the day the engagement was opened (`advance --on`, an
        # engagement entered late): the stage it left then began no later than that move.
        began = min(entry.on, after) if after is not None else entry.on
        spans.append(
            Span(
                entry.stage,
                stage.title if stage else entry.stage,
                stage.phase if stage else "",
                bool(stage and stage.final),
                began,
                after,
            )
        )
    return tuple(spans)


def _contribution(label: str, eng: Engagement, fold: _Fold, today: dt.date) -> Contribution:
    country = eng.facts.get("country")
    due = tuple(i.as_json() for i in due_items(eng, today))
    return Contribution(
        engagement=eng.id,
        title=eng.title,
        playbook=eng.playbook.id,
        version=eng.playbook.version,
        organization=eng.playbook.organization or eng.playbook.id,
        country=country if isinstance(country, str) and country else "unknown",
        stage=eng.stage,
        final=eng.final,
        opened=eng.opened_on,
        label=label,
        events=eng.seq,
        head=eng.head,
        spans=_spans(eng),
        ends=tuple(fold.ends),
        activities=tuple(fold.activities),
        indicators=tuple(fold.indicators),
        overrides=tuple(fold.overrides),
        missed=tuple(fold.missed),
        overdue=tuple(i for i in due if i["overdue"]),
        lessons=tuple(fold.lessons),
        declared=_declared(eng),
        due=due,
    )


def _declared(eng: Engagement) -> tuple[str, ...]:
    pb = eng.playbook
    items = [i for s in pb.stages for i in (*s.checklist, *(s.entry_checklist or ()))]
    named = {i.indicator for i in items} | {a.indicator for a in pb.activities}
    named |= {f.indicator for f in pb.facts}
    return tuple(sorted(n for n in named if n))
