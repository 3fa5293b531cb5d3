"""The common events of a history, checked and applied in one step each (#14).

Most of a history is notes, fact changes and activities with nothing decided about them. For a
record the audit's reader has found common (its envelope checked and its data fitting its
model), :data:`COMMON` holds, per event type, one function that proves in a few reads that none
of the engine conditions, decisions and overrides :class:`~lifecycle._conformance.Conformance`
checks can find anything, then applies the event as :func:`~lifecycle._replay.apply` would and
returns the missed cadences it shows. When it cannot prove that, it returns None having changed
nothing, and the general path checks and words everything (tests/test_speed_audit.py holds the
two equal on hostile records).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Sequence
from typing import Any, Final

from ._cadence import CadenceWatch
from ._eventcheck import fact_problems
from ._inputs import date_problem
from ._model import Playbook
from ._state import ActivityRecord, Engagement

__all__ = ["COMMON", "Common"]

Record = dict[str, Any]  # Any: a JSON object as stored.
# (engagement, record, its data, its seq, the cadence watch) -> the cadence-missed messages,
# or None: not proven common, nothing changed.
Common = Callable[[Engagement, Record, Record, int, CadenceWatch], Sequence[str] | None]
_NOTHING: Final[tuple[str, ...]] = ()
_record: Final = tuple.__new__  # a named tuple from its fields, as _replay builds them


@functools.lru_cache(maxsize=4096)  # activity days repeat; the check is pure
def _good_day(text: str) -> bool:
    return date_problem(text) is None


@functools.lru_cache(maxsize=4096)
def _day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def _final(playbook: Playbook, stage: str) -> bool:
    spec = playbook.stage(stage)
    return bool(spec and spec.final)


def _note(
    engagement: Engagement, record: Record, data: Record, seq: int, cadences: CadenceWatch
) -> Sequence[str] | None:
    """A note: no engine condition, cadence or decision (it is allowed in a final stage)."""
    engagement.notes += 1
    engagement.seq, engagement.head, engagement.last_at = seq, record["hash"], record["at"]
    return _NOTHING


def _fact_set(
    engagement: Engagement, record: Record, data: Record, seq: int, cadences: CadenceWatch
) -> Sequence[str] | None:
    """Facts set before the final stage, each a known fact with a value it can hold."""
    playbook, facts = engagement.playbook, data["facts"]
    if _final(playbook, engagement.stage) or next(fact_problems(playbook, facts), None):
        return None
    values = engagement.facts
    for key, value in facts.items():
        if value is None:
            values.pop(key, None)
        else:
            values[key] = value
    engagement.seq, engagement.head, engagement.last_at = seq, record["hash"], record["at"]
    return _NOTHING


def _activity(
    engagement: Engagement, record: Record, data: Record, seq: int, cadences: CadenceWatch
) -> Sequence[str] | None:
    """An activity (v1) of the current stage, dated right, no rule attached or recorded, no
    reason or override: only its cadence can say something."""
    name, on, at = data["activity"], data["on"], record["at"]
    playbook, stage = engagement.playbook, engagement.stage
    spec = playbook.activity(name)
    if (
        spec is None
        or record["v"] != 1
        or data["rules"]
        or "reason" in record
        or "override" in data
        or stage not in spec.during
        or data["stage"] != stage
        or on > at[:10]
        or playbook.rules_for("activity", name)
        or not _good_day(on)
        or _final(playbook, stage)
    ):
        return None
    held = _day(on)
    missed = (
        _NOTHING
        if spec.every_days is None
        else cadences.recorded(engagement, spec, held, _day(at[:10]))
    )
    engagement.recorded(_record(ActivityRecord, (name, held, seq, stage, ())))
    engagement.seq, engagement.head, engagement.last_at = seq, record["hash"], at
    return missed


COMMON: Final[dict[str, Common]] = {
    "note_added": _note,
    "fact_set": _fact_set,
    "activity_recorded": _activity,
}
