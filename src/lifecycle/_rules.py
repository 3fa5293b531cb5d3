"""Rule kinds: the fixed vocabulary of mandate rules, and how a rule is evaluated.

A playbook's ``[[rules]]`` name a ``kind``; the kind is looked up in a registry built from the
``register_rule_kinds`` hook (the core kinds below come from a default plugin), never resolved as a
dotted name. Kinds declare their parameters, checked when the playbook is loaded.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Literal

import attrs

from ._lines import days_after
from ._model import Playbook, Rule
from ._state import Action, Engagement
from ._view import EngagementView

__all__ = ["CORE_RULE_KINDS", "QUOTE_CHARS", "Param", "RuleKind", "Verdict", "quote"]

ParamType = Literal["str", "int", "bool", "list"]
RefKind = Literal["", "fact", "stage", "activity", "event"]


@attrs.frozen
class Param:
    """One parameter of a rule kind: its TOML type, whether it is required, what it refers to.

    With *many*, the parameter also takes a non-empty list of such values (``after = ["a", "b"]``).
    """

    type: ParamType
    required: bool = True
    ref: RefKind = ""
    many: bool = False


@attrs.frozen
class Verdict:
    """A rule kind's answer: whether the rule passes, and a detail saying why not."""

    passed: bool
    detail: str = ""


MAX_DAYS = 36_500  # a century: any longer cadence or deadline is a typo (and overflows dates)
PASS = Verdict(True)  # shared: a Verdict is immutable, and passing is the common case

QUOTE_CHARS = 200  # docs/history-format.md: a value quoted in a rule message keeps this much

Evaluate = Callable[[Rule, EngagementView, Action], "Verdict | bool"]


def quote(value: object) -> str:
    """*value* as a rule message quotes it: its ``repr``, a string cut to :data:`QUOTE_CHARS`
    characters and marked with ``…`` (so a 120 KB fact quoted by many rules stays small)."""
    if isinstance(value, str) and len(value) > QUOTE_CHARS:
        return repr(value[:QUOTE_CHARS] + "…")
    return repr(value)


@attrs.frozen
class RuleKind:
    """A kind of rule: its parameters and its evaluation.

    ``evaluate(rule, engagement, action)`` returns a :class:`Verdict` (or a bool); *engagement*
    is a read-only :class:`~lifecycle._view.EngagementView`. ``check(rule, playbook)`` may
    yield ``"key: problem"`` strings for problems the parameter declarations cannot express.
    """

    name: str
    evaluate: Evaluate
    params: Mapping[str, Param] = attrs.field(factory=dict)
    check: Callable[[Rule, Playbook], Iterable[str]] | None = None
    description: str = ""
    plugin: str = ""


def _param(rule: Rule, name: str) -> object:
    return rule.params.get(name)


def _fact_value(engagement: EngagementView, fact: str) -> object:
    value = engagement.fact_value(fact)
    return None if value in (None, "") else value


def _fact_required(rule: Rule, engagement: EngagementView, action: Action) -> Verdict:
    # Parameters were checked when the playbook was loaded; a bad one raises, and fails closed.
    # `unless_fact` set to one of `unless_values` waives the rule (a path that needs no consent);
    # unset, it waives nothing: the rule fails closed.
    params = rule.params
    unless = params.get("unless_fact")
    if unless is not None:
        waived = _fact_value(engagement, str(unless))
        waivers = params.get("unless_values")
        if isinstance(waivers, list) and waived is not None and waived in waivers:
            return PASS
    fact = params["fact"]
    value = engagement.fact_value(fact)  # type: ignore[arg-type]
    values = params.get("values")
    if value is None or value == "":
        return Verdict(False, f"fact {fact!r} is not set")
    if isinstance(values, list) and value not in values:
        allowed = ", ".join(repr(v) for v in values)
        return Verdict(False, f"fact {fact!r} is {quote(value)}, not one of {allowed}")
    return PASS


def _check_unless(rule: Rule, playbook: Playbook) -> Iterator[str]:
    given = [key for key in ("unless_fact", "unless_values") if _param(rule, key) is not None]
    if len(given) == 1:
        other = "unless_values" if given == ["unless_fact"] else "unless_fact"
        yield f"{given[0]}: needs {other!r} too"


def _fact_forbids(rule: Rule, engagement: EngagementView, action: Action) -> Verdict:
    fact = str(_param(rule, "fact"))
    value = _fact_value(engagement, fact)
    values = _param(rule, "values")
    if isinstance(values, list) and value is not None and value in values:
        return Verdict(False, f"fact {fact!r} is {quote(value)}")
    return PASS


def _stage_visited(rule: Rule, engagement: EngagementView, action: Action) -> Verdict:
    stage = rule.params["stage"]
    if type(stage) is not str:  # checked when loaded: a str, not converted again per move
        stage = str(stage)
    if engagement.visited(stage):
        return PASS
    return Verdict(False, f"stage {stage!r} has not been visited")


def _activity_recorded(rule: Rule, engagement: EngagementView, action: Action) -> Verdict:
    activity = str(_param(rule, "activity"))
    minimum = _param(rule, "min")
    minimum = minimum if isinstance(minimum, int) else 1
    since = _param(rule, "since")
    count = count_activity(engagement, activity, since if isinstance(since, str) else None)
    if count >= minimum:
        return PASS
    where = f" since stage {since!r} was last entered" if since else ""
    return Verdict(
        False, f"activity {activity!r} recorded {count} time(s){where}, {minimum} needed"
    )


def count_activity(engagement: EngagementView, activity: str, since: str | None) -> int:
    """How often *activity* was recorded, counting only after the last entry into *since*.

    A *since* stage never entered counts zero.
    """
    return engagement.activity_count(activity, since)  # indexed: no scan of the activities


def _within_days(rule: Rule, engagement: EngagementView, action: Action) -> Verdict:
    days = _param(rule, "days")
    start = latest_occurrence(engagement, names(_param(rule, "after")), action.on)
    if start is None or not isinstance(days, int):
        return PASS  # `after` never happened: the rule does not apply.
    after, on = start
    due = days_after(on, days)
    if action.on <= due:
        return PASS
    late = (action.on - due).days
    return Verdict(
        False, f"due by {due.isoformat()} ({days} days after {after!r}), {late} day(s) late"
    )


def names(value: object) -> list[str]:
    """A name parameter that may be one string or a list of them (``after``), as a list."""
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value] if isinstance(value, list) else []


def latest_occurrence(
    engagement: Engagement | EngagementView, events: Iterable[str], until: dt.date | None = None
) -> tuple[str, dt.date] | None:
    """The latest occurrence of any of *events* (trigger or activity ids), on or before *until*.

    A deadline counts from the latest of its ``after`` events (an appointment, then a handover),
    never from one dated after the action it guards. Returns ``(event id, date)`` or None.
    """
    wanted = set(events)
    # The engagement keeps each id's latest date: enough unless one lies after *until* (an
    # action backdated before it), when the earlier occurrences must be looked at.
    latest = [(on, name) for name in wanted if (on := engagement.last_occurrence(name))]
    if until is None or all(on <= until for on, _ in latest):
        if not latest:
            return None
        on, name = max(latest)
        return name, on
    found = [(f.on, f.trigger) for f in engagement.fired if f.trigger in wanted]
    found += [(a.on, a.activity) for a in engagement.activities if a.activity in wanted]
    found = [(on, name) for on, name in found if until is None or on <= until]
    if not found:
        return None
    on, name = max(found)
    return name, on


def _checklist_complete(rule: Rule, engagement: EngagementView, action: Action) -> Verdict:
    stage = str(_param(rule, "stage"))
    missing = engagement.missing_items(stage)
    if not missing:
        return PASS
    return Verdict(False, f"stage {stage!r} has required items not done: {', '.join(missing)}")


def _check_min(rule: Rule, playbook: Playbook) -> Iterator[str]:
    value = _param(rule, "min")
    if isinstance(value, int) and value < 1:
        yield f"min: must be at least 1, got {value}"


def _check_days(rule: Rule, playbook: Playbook) -> Iterator[str]:
    value = _param(rule, "days")
    if isinstance(value, int) and not 0 <= value <= MAX_DAYS:
        yield f"days: must be from 0 to {MAX_DAYS}, got {value}"


_FACT = Param("str", ref="fact")
CORE_RULE_KINDS: tuple[RuleKind, ...] = (
    RuleKind(
        "fact-required",
        _fact_required,
        {
            "fact": _FACT,
            "values": Param("list", False),
            "unless_fact": Param("str", False, ref="fact"),
            "unless_values": Param("list", False),
        },
        check=_check_unless,
        description="A fact is set, optionally to one of `values`, unless `unless_fact` is one of "
        "`unless_values`.",
    ),
    RuleKind(
        "fact-forbids",
        _fact_forbids,
        {"fact": _FACT, "values": Param("list")},
        description="Blocks while a fact has one of `values`.",
    ),
    RuleKind(
        "stage-visited",
        _stage_visited,
        {"stage": Param("str", ref="stage")},
        description="A stage was visited before.",
    ),
    RuleKind(
        "activity-recorded",
        _activity_recorded,
        {
            "activity": Param("str", ref="activity"),
            "min": Param("int", False),
            "since": Param("str", False, ref="stage"),
        },
        check=_check_min,
        description="An activity was recorded at least `min` times, optionally `since` a stage.",
    ),
    RuleKind(
        "within-days",
        _within_days,
        {"days": Param("int"), "after": Param("str", ref="event", many=True)},
        check=_check_days,
        description="The rule's own trigger or activity comes within `days` of the latest `after`.",
    ),
    RuleKind(
        "checklist-complete",
        _checklist_complete,
        {"stage": Param("str", ref="stage")},
        description="Another stage's required checklist is done.",
    ),
)
