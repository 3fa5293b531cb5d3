"""Replay: an engagement's state is the fold of its history's events.

Replay also re-checks the decisions recorded in the history: at each transition, activity and
refusal it re-evaluates the declarative rules on the state before the event and compares them
with the recorded outcomes (Temporal-style); each disagreement is a :class:`Mismatch`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

import attrs

from ._decide import GATE, evaluate, gate, unchecked_problem
from ._embedded import check_embedded, embedded_playbook
from ._lesson_replay import LESSON_APPLY, LESSON_VERSIONS, note_cites
from ._lines import date_of
from ._machine import COMPILED, compile_machine
from ._practice_entry import entry_problem
from ._practice_replay import PRACTICE_APPLY, PRACTICE_VERSIONS, params_of
from ._rules import RuleKind
from ._state import Action, ActivityRecord, Engagement, Entry, Fired
from .exceptions import LifecycleError

__all__ = [
    "EVENT_VERSIONS",
    "Mismatch",
    "ReplayError",
    "apply",
    "apply_verified",
    "replay",
    "start",
]

EVENT_VERSIONS: Final = {
    "opened": 2,
    "fact_set": 1,
    "item_checked": 2,
    "item_unchecked": 1,
    "activity_recorded": 2,
    "note_added": 1,
    "advanced": 2,
    "refused": 2,
    "forced": 1,
    "repaired": 1,
    **PRACTICE_VERSIONS,
    **LESSON_VERSIONS,
}

Record = dict[str, Any]  # Any: a JSON object as stored.


class ReplayError(ValueError):
    """An event that cannot be applied: unknown type, newer version, missing or bad data."""

    def __init__(self, seq: int, message: str) -> None:
        self.seq = seq
        super().__init__(f"seq {seq}: {message}")


@attrs.frozen
class Mismatch:
    """A recorded rule outcome that a re-evaluation disagrees with."""

    seq: int
    rule: str
    recorded: str
    now: str
    declarative: bool = True


def start(record: Record) -> Engagement:
    """Build the engagement from its ``opened`` event (seq 1), checking the embedded playbook."""
    seq = _int(record.get("seq"))
    if record.get("type") != "opened":
        raise ReplayError(seq, "the first event must be 'opened'")
    data = _data(record)
    # One structured, validated playbook per distinct embedded playbook in the process (#14).
    try:
        playbook, digest = embedded_playbook(data.get("playbook"), validate=False)
    except ValueError as exc:
        raise ReplayError(seq, str(exc)) from None
    if digest != data.get("playbook_sha256"):
        raise ReplayError(seq, "embedded playbook does not match its recorded sha256")
    try:
        check_embedded(playbook, digest)  # after the digest: a forged one is that problem first
    except ValueError as exc:
        raise ReplayError(seq, str(exc)) from None
    on = _date(record)
    initial = playbook.initial_stage().id
    entry = str(data.get("entry", "")) if record.get("v") == 2 else ""
    if entry:
        if problem := entry_problem(playbook, entry, str(data.get("channel", ""))):
            raise ReplayError(seq, f"opened: {problem}")
        initial = entry
    facts = data.get("facts") or {}
    if not isinstance(facts, dict):
        raise ReplayError(seq, "opened: facts is not an object")
    return Engagement(
        entry=entry,
        channel=str(data.get("channel", "")) if entry else "",
        id=str(data.get("engagement", "")),
        title=str(data.get("title", "")),
        playbook=playbook,
        playbook_sha256=digest,
        stage=initial,
        opened_on=on,
        facts=dict(facts),
        entries=[Entry(initial, seq, on)],
        seq=seq,
        head=str(record.get("hash", "")),
        last_at=str(record.get("at", "")),
    )


def apply(engagement: Engagement, record: Record) -> None:
    """Apply one event (after ``opened``) to *engagement*, in place.

    Raises:
        ReplayError: The event cannot be applied.
    """
    # The hot path of every replay and command (#14): _apply_data's checks inline, one lookup
    # of the type's version.
    seq = record.get("seq")
    if type(seq) is not int:  # bool included: _int says -1
        seq = _int(seq)
    kind = record.get("type")
    version = record.get("v")
    if type(kind) is not str or (newest := EVENT_VERSIONS.get(kind)) is None:
        raise ReplayError(seq, f"unknown event type {kind!r}")  # a list is no type (unhashable)
    if not isinstance(version, int) or version > newest:
        raise ReplayError(
            seq, f"event type {kind!r} version {version!r} is newer than this code reads"
        )
    data = record.get("data")
    if type(data) is not dict:
        raise ReplayError(seq, "event has no data object")
    try:
        _APPLY.get(kind, _nothing)(engagement, data, record)
    except (KeyError, TypeError, ValueError, AttributeError, LifecycleError) as exc:
        raise ReplayError(seq, f"bad {kind!r} event data ({exc})") from None
    engagement.seq = seq
    head = record.get("hash", "")
    engagement.head = head if type(head) is str else str(head)
    at = record.get("at", "")
    engagement.last_at = at if type(at) is str else str(at)


def apply_verified(engagement: Engagement, record: Record, kind: str, seq: int) -> None:
    """:func:`apply` for an event whose envelope the audit's reader has checked: *kind* a known
    type whose version this code reads, ``seq`` the integer *seq*, ``at`` a timestamp and
    ``hash`` the line's hash (both strings).

    Raises:
        ReplayError: The event cannot be applied.
    """
    _apply_data(engagement, record, kind, seq)
    engagement.seq = seq
    engagement.head = record["hash"]
    engagement.last_at = record["at"]


def _apply_data(engagement: Engagement, record: Record, kind: str, seq: int) -> None:
    data = record.get("data")
    if type(data) is not dict:
        raise ReplayError(seq, "event has no data object")
    try:
        _APPLY.get(kind, _nothing)(engagement, data, record)
    except (KeyError, TypeError, ValueError, AttributeError, LifecycleError) as exc:
        raise ReplayError(seq, f"bad {kind!r} event data ({exc})") from None


def _nothing(engagement: Engagement, data: Record, record: Record) -> None:
    pass  # opened (past seq 1), refused and repaired change nothing a replay keeps


def _note(engagement: Engagement, data: Record, record: Record) -> None:
    engagement.notes += 1


def _fact_set(engagement: Engagement, data: Record, record: Record) -> None:
    for key, value in dict(data["facts"]).items():
        if value is None:
            engagement.facts.pop(key, None)
        else:
            engagement.facts[key] = value


def _checked(engagement: Engagement, data: Record, record: Record) -> None:
    engagement.done[str(data["item"])] = _int(record.get("seq"))
    if record.get("v") == 2:
        note_cites(engagement, data, record)  # #15


def _unchecked(engagement: Engagement, data: Record, record: Record) -> None:
    engagement.done.pop(str(data["item"]), None)


def _activity(engagement: Engagement, data: Record, record: Record) -> None:
    on = dt.date.fromisoformat(str(data["on"]))
    engagement.activities.append(
        ActivityRecord(
            str(data["activity"]), on, _int(record.get("seq")), engagement.stage, params_of(record)
        )
    )


def _advanced(engagement: Engagement, data: Record, record: Record) -> None:
    # The hot path of every replay and command: kept lean on purpose (#14).
    source, trigger, playbook = engagement.stage, data["trigger"], engagement.playbook
    if type(trigger) is not str:
        trigger = str(trigger)
    if data.get("from") != source:
        raise ValueError(f"recorded from {data.get('from')!r} but the engagement is in {source!r}")
    sha = engagement.playbook_sha256
    dest = (_compiled(sha) or compile_machine(playbook, sha)).fire(engagement, trigger)
    if dest != data.get("to"):
        raise ValueError(f"trigger leads to {dest!r}, recorded {data.get('to')!r}")
    seq = record["seq"]
    # The day it happened: occurrence_of, inline (data is the record's data object).
    if record.get("v") == 2 and "on" in data:
        on = dt.date.fromisoformat(str(data["on"]))
    else:
        on = date_of(record["at"])
    if trigger in playbook.new_round_triggers:
        engagement.round += 1  # a new round: every checklist is owed again
        engagement.done.clear()
    engagement.moved(dest, seq, on, _record(Fired, (trigger, on, seq, source, dest)))


def _forced(engagement: Engagement, data: Record, record: Record) -> None:
    dest = str(data["to"])
    if engagement.playbook.stage(dest) is None:
        raise ValueError(f"unknown stage {dest!r}")
    engagement.stage = dest  # force bypasses the machine on purpose: it is the audited escape
    engagement.moved(dest, _int(record.get("seq")), _date(record))


# A named tuple from its fields without the Python-level __new__ of NamedTuple (one event each).
_record: Final = tuple.__new__
_compiled: Final = COMPILED.get  # the machine of a sha256 compiled so far, or None


_APPLY: Final[dict[str, Callable[[Engagement, Record, Record], None]]] = {
    "note_added": _note,
    "fact_set": _fact_set,
    "item_checked": _checked,
    "item_unchecked": _unchecked,
    "activity_recorded": _activity,
    "advanced": _advanced,
    "forced": _forced,
    **PRACTICE_APPLY,
    **LESSON_APPLY,
}


def replay(
    records: Iterable[Record],
    *,
    kinds: Mapping[str, RuleKind] | None = None,
    mismatches: list[Mismatch] | None = None,
) -> Engagement:
    """Fold *records* (events, header excluded) into an engagement.

    With *kinds* and *mismatches* given, re-evaluate the rules recorded at each decision and
    append every disagreement to *mismatches*.
    """
    iterator = iter(records)
    first = next(iterator, None)
    if first is None:
        raise ReplayError(0, "the history has no events")
    engagement = start(first)
    for record in iterator:
        if kinds is not None and mismatches is not None:
            mismatches.extend(recheck(engagement, record, kinds))
        apply(engagement, record)
    return engagement


def decision_action(engagement: Engagement, record: Record) -> Action | None:
    """The action a decision event was about, or None for events that are no decision."""
    data = record.get("data")
    if not isinstance(data, dict):
        return None
    kind = record.get("type")
    trigger = data.get("trigger")
    activity = data.get("activity")
    if kind in ("advanced", "refused") and isinstance(trigger, str):
        return Action("trigger", trigger, _trigger_day(record))
    if kind in ("activity_recorded", "refused") and isinstance(activity, str):
        on = dt.date.fromisoformat(str(data.get("on")))
        return Action("activity", activity, on, params_of(record))
    return None


def recheck(
    engagement: Engagement, record: Record, kinds: Mapping[str, RuleKind]
) -> list[Mismatch]:
    """Compare the outcomes recorded in *record* with a re-evaluation on *engagement*."""
    try:
        action = decision_action(engagement, record)
    except ValueError:
        return []
    if action is None:
        return []
    seq = _int(record.get("seq"))
    recorded = {r.get("rule"): r for r in _data(record).get("rules", []) if isinstance(r, dict)}
    fresh = evaluate(engagement, action, kinds)
    if action.kind == "trigger":
        fresh += [g for g in [gate(engagement, action.id)] if g is not None]
    out: list[Mismatch] = []
    refused = record.get("type") == "refused"
    for outcome in fresh:
        was = recorded.pop(outcome.rule, None)
        if (
            was is not None
            and was.get("unchecked") is True
            and not unchecked_problem(was, outcome.kind)
        ):
            continue  # the rule could not be evaluated when recorded (failed closed): nothing to compare
        word = str(was.get("outcome")) if was else "absent"
        expected = outcome.outcome
        # The exact word: a failing block rule is "overridden" in a recorded action, "block" in
        # a refusal; kind and severity must be the playbook's too.
        allowed = "overridden" if expected == "block" and not refused else expected
        same = was is not None and (was.get("kind"), was.get("severity")) == (
            outcome.kind,
            outcome.severity,
        )
        if word != allowed or not same:
            declarative = outcome.plugin == "" or outcome.rule == GATE
            out.append(Mismatch(seq, outcome.rule, word, allowed, declarative))
    out.extend(
        Mismatch(seq, str(rule), str(r.get("outcome")), "absent") for rule, r in recorded.items()
    )
    return out


def _trigger_day(record: Record) -> dt.date:
    data = record.get("data")
    if record.get("v") == 2 and isinstance(data, dict) and data.get("on"):
        return dt.date.fromisoformat(str(data["on"]))
    return _date(record)


def _data(record: Record) -> Record:
    data = record.get("data")
    if not isinstance(data, dict):
        raise ReplayError(_int(record.get("seq")), "event has no data object")
    return data


def _date(record: Record) -> dt.date:
    try:
        return date_of(record["at"])
    except (KeyError, TypeError, ValueError):
        raise ReplayError(_int(record.get("seq")), f"bad timestamp {record.get('at')!r}") from None


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else -1
