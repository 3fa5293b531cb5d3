"""Decisions: which rules apply to an action, what each says, and whether an override holds."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal

import attrs

from ._model import Rule, Trigger
from ._rules import CORE_RULE_KINDS, PASS, RuleKind, Verdict
from ._state import Action, Engagement
from ._view import EngagementView, _set_engagement

__all__ = [
    "MESSAGE_CHARS",
    "Outcome",
    "cap_message",
    "check_override",
    "evaluate",
    "gate",
    "missing_reason",
    "reason_problem",
    "unchecked_problem",
]

GATE: Final = "checklist"
MIN_REASON_WORDS: Final = 3
MIN_REASON_CHARS: Final = 15
_CORE_KINDS: Final = frozenset(k.name for k in CORE_RULE_KINDS)
MESSAGE_CHARS: Final = 2000  # docs/history-format.md: the most of a rule message an event keeps


@attrs.define  # not frozen: built for every decision and event; never mutated
class Outcome:
    """What one rule said about one action."""

    rule: str
    kind: str
    severity: Literal["block", "warn"]
    passed: bool
    message: str = ""
    override_roles: tuple[str, ...] = ()
    plugin: str = ""
    overridden: bool = False
    unchecked: bool = (
        False  # the rule could not be evaluated (kind missing or failing): failed closed
    )

    @property
    def outcome(self) -> str:
        """``pass``, ``warn``, ``block`` or ``overridden``: the word recorded in the history."""
        if self.passed:
            return "pass"
        if self.overridden:
            return "overridden"
        return self.severity

    @property
    def blocks(self) -> bool:
        """Whether this outcome stops the action (a failed block rule, not overridden)."""
        return not self.passed and self.severity == "block" and not self.overridden

    def record(self) -> dict[str, Any]:
        """The outcome as stored in an event's ``rules`` list."""
        # Any: a JSON object. The word as `outcome` says it, without the property's call: one
        # record per rule of every decision.
        word = "pass" if self.passed else "overridden" if self.overridden else self.severity
        data: dict[str, Any] = {
            "rule": self.rule,
            "kind": self.kind,
            "severity": self.severity,
            "outcome": word,
            "message": self.message,
        }
        if self.plugin:
            data["plugin"] = self.plugin
        if self.unchecked:
            data["unchecked"] = True
        return data


# A named tuple's field is read by index where it runs per decision (``action[0]`` for
# ``action.kind``): by name, it is a descriptor call in Python 3.11; by index, one instruction.
# Outcome(...) and EngagementView(...) without the class call, whose Python-level __init__ runs
# in a frame of its own: the instance made, then the same __init__ called as a function (or the
# view's slot set), three outcomes and one view per move (#14).
_new: Final = object.__new__
_init_outcome: Final = Outcome.__init__


def evaluate(
    engagement: Engagement, action: Action, kinds: Mapping[str, RuleKind]
) -> list[Outcome]:
    """Evaluate every rule attached to *action*, in playbook order.

    Rules see a read-only view of *engagement*: a rule kind can never change what is recorded.
    """
    rules = engagement.playbook.rules_for(action[0], action[1])  # kind, id (by index: see _new)
    if not rules:
        return []
    view = _new(EngagementView)  # EngagementView(engagement), as Outcomes are made (_new)
    _set_engagement(view, engagement)
    outcomes = []  # a loop, not a comprehension: one function call less per decision
    for rule in rules:
        outcomes.append(_evaluate_one(rule, view, action, kinds))
    return outcomes


def _applies(rule: Rule, action: Action) -> bool:
    """A rule with ``when_params`` applies only when each named parameter has a listed value."""
    if rule.when_params is None:
        return True
    given = dict(action.params)
    return all(given.get(key) in values for key, values in rule.when_params.items())


def _evaluate_one(
    rule: Rule, view: EngagementView, action: Action, kinds: Mapping[str, RuleKind]
) -> Outcome:
    kind = kinds.get(rule.kind)
    plugin = kind.plugin if kind else ""
    if rule.when_params is not None and not _applies(rule, action):
        # The activity's parameters are not the ones the rule is about.
        return Outcome(rule.id, rule.kind, rule.severity, True, "", rule.override_roles, plugin)
    if kind is None:
        # Fail closed: a rule whose kind is not installed cannot be known to pass (#3).
        return _failed(rule, "", "is not installed; cannot check it")
    judge = kind.evaluate  # a slot's function, read then called: both steps specialize (3.11)
    try:
        verdict = judge(rule, view, action)
    except BaseException as exc:  # plugin code: anything it raises blocks, SystemExit included
        if isinstance(exc, KeyboardInterrupt):
            raise
        return _failed(rule, plugin, f"failed: {type(exc).__name__}: {exc}")
    if verdict is PASS or verdict is True:
        outcome = _new(Outcome)  # Outcome(rule.id, ...), its __init__ called directly
        _init_outcome(
            outcome, rule.id, rule.kind, rule.severity, True, "", rule.override_roles, plugin
        )
        return outcome
    return _judged(rule, plugin, verdict)


def _judged(rule: Rule, plugin: str, verdict: object) -> Outcome:
    """The outcome of a rule whose kind answered *verdict*, other than a plain pass."""
    if verdict is False:
        verdict = Verdict(False)
    problem = _verdict_problem(verdict)
    if problem:
        return _failed(rule, plugin, problem)
    assert isinstance(verdict, Verdict)
    if verdict.passed:
        return Outcome(rule.id, rule.kind, rule.severity, True, "", rule.override_roles, plugin)
    message = rule.message or verdict.detail
    if rule.message and verdict.detail:
        message = f"{rule.message} ({verdict.detail})"
    message = cap_message(message)
    return Outcome(rule.id, rule.kind, rule.severity, False, message, rule.override_roles, plugin)


def _verdict_problem(verdict: object) -> str:
    """Why *verdict* is no answer a rule kind may give ("" when it is one)."""
    if not isinstance(verdict, Verdict):
        return f"returned {cap_message(repr(verdict), 200)}, not a Verdict or a bool"
    if type(verdict.passed) is not bool:
        return f"returned Verdict(passed={cap_message(repr(verdict.passed), 200)}), not a bool"
    if type(verdict.detail) is not str:
        return f"returned a Verdict whose detail is {type(verdict.detail).__name__}, not a str"
    return ""


def _failed(rule: Rule, plugin: str, problem: str) -> Outcome:
    """A rule that could not be evaluated blocks, whatever its severity (guards fail closed)."""
    source = f" of plugin {plugin!r}" if plugin else ""
    message = cap_message(f"rule kind {rule.kind!r}{source} {problem}")
    return Outcome(
        rule.id, rule.kind, "block", False, message, rule.override_roles, plugin, unchecked=True
    )


def cap_message(message: str, limit: int = MESSAGE_CHARS) -> str:
    """*message* cut to *limit* characters, marked with ``…`` when cut (deterministic)."""
    return message if len(message) <= limit else message[: limit - 1] + "…"


def gate(engagement: Engagement, trigger_id: str) -> Outcome | None:
    """The built-in checklist gate: leaving a stage needs its required items done."""
    if trigger_id not in engagement.playbook.gated_triggers:
        return None
    missing = engagement.missing_items(engagement.stage)
    message = f"required checklist items not done: {', '.join(missing)}" if missing else ""
    outcome = _new(Outcome)  # Outcome(GATE, GATE, "block", not missing, message)
    _init_outcome(outcome, GATE, GATE, "block", not missing, message)
    return outcome


def reason_problem(reason: str | None) -> str:
    """Why *reason* is not a usable override or force reason, or "" when it is."""
    text = (reason or "").strip()
    if not text:
        return "no reason given"
    if len(text.split()) < MIN_REASON_WORDS or len(text) < MIN_REASON_CHARS:
        return (
            f"the reason must be a real sentence (at least {MIN_REASON_WORDS} words and "
            f"{MIN_REASON_CHARS} characters)"
        )
    return ""


def missing_reason(trigger: Trigger | None, reason: str | None) -> list[str]:
    """Why *reason* does not satisfy *trigger*'s ``reason = "required"`` ([] when it does)."""
    if trigger is None or trigger.reason != "required":
        return []
    why = reason_problem(reason)
    return [f"no reason: trigger {trigger.id!r} needs a reason (--reason): {why}"] if why else []


def unchecked_problem(recorded: Mapping[str, object], kind: str | None) -> str:
    """Why the engine could not have flagged the recorded rule outcome *recorded* as
    ``unchecked``, or "" when it could have; *kind* is the rule's kind in the playbook.

    The engine flags a rule only when it failed closed: its kind not installed, or its plugin
    failing. It then records a block of severity ``block`` (``overridden`` once overridden).
    The checklist gate and the core kinds are built in: they are always evaluated.
    """
    if recorded.get("rule") == GATE:
        return "the checklist gate is built in and always evaluated"
    if kind is None:
        return "the playbook has no such rule"
    if kind in _CORE_KINDS:
        return f"rule kind {kind!r} is built in and always evaluated"
    if (
        recorded.get("outcome") not in ("block", "overridden")
        or recorded.get("severity") != "block"
    ):
        return (
            "a rule that could not be evaluated is recorded as a block, not as "
            f"{recorded.get('severity')!r} {recorded.get('outcome')!r}"
        )
    return ""


def check_override(
    blocking: Sequence[Outcome], roles: Sequence[str], reason: str | None
) -> list[str]:
    """Every condition that stops *roles* overriding *blocking* with *reason* ([] when it holds)."""
    problems: list[str] = []
    for outcome in blocking:
        if not outcome.override_roles:
            problems.append(
                f"not overridable: rule {outcome.rule!r} cannot be overridden by anyone"
            )
        elif not set(roles) & set(outcome.override_roles):
            held = ", ".join(roles) or "no roles"
            problems.append(
                f"no role: rule {outcome.rule!r} can be overridden by "
                f"{', '.join(outcome.override_roles)}; the actor has {held}"
            )
    why = reason_problem(reason)
    if why:
        problems.append(f"no reason: {why}")
    return problems
