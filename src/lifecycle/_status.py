"""The dry run: what an actor could do now, and every reason they cannot. Appends nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from ._decide import Outcome, check_override, evaluate, gate
from ._due import due_items
from ._machine import compile_machine
from ._practice import practice_status
from ._rules import RuleKind
from ._state import Action, Engagement

__all__ = ["status_of"]

Json = dict[str, Any]  # Any: a JSON object.


def status_of(
    engagement: Engagement,
    *,
    actor: str,
    roles: Sequence[str],
    kinds: Mapping[str, RuleKind],
    today: dt.date,
) -> Json:
    """The engagement's status as ``status --json`` prints it (docs/cli.md)."""
    pb = engagement.playbook
    stage = pb.stage(engagement.stage)
    return {
        "engagement": engagement.id,
        "title": engagement.title,
        "playbook": {"id": pb.id, "version": pb.version, "sha256": engagement.playbook_sha256},
        "stage": engagement.stage,
        "stage_title": stage.title if stage else "",
        "final": engagement.final,
        "steps": list(stage.steps) if stage else [],
        "events": engagement.seq,
        "head": engagement.head,
        "actor": {"name": actor, "roles": list(roles)},
        "facts": dict(engagement.facts),
        "checklist": _checklist(engagement),
        "triggers": [_trigger(engagement, t.id, roles, kinds, today) for t in pb.triggers],
        "activities": [_activity(engagement, a.id, roles, kinds, today) for a in pb.activities],
        "due": [item.as_json() for item in due_items(engagement, today)],
        **practice_status(engagement),
    }


def _checklist(engagement: Engagement) -> list[Json]:
    stage = engagement.playbook.stage(engagement.stage)
    items = stage.checklist if stage else ()
    if stage is not None and stage.id == engagement.entry and engagement.round == 1:
        items = (*items, *(stage.entry_checklist or ()))  # owed by who entered here (#13)
    return [
        {"id": i.id, "text": i.text, "required": i.required, "done": engagement.is_done(i.id)}
        for i in items
    ]


def _trigger(
    engagement: Engagement,
    trigger: str,
    roles: Sequence[str],
    kinds: Mapping[str, RuleKind],
    today: dt.date,
) -> Json:
    machine = compile_machine(engagement.playbook, engagement.playbook_sha256)
    dest = machine.target(trigger, engagement.stage, engagement.came_from())
    spec = next(t for t in engagement.playbook.triggers if t.id == trigger)
    outcomes = evaluate(engagement, Action("trigger", trigger, today), kinds)
    outcomes += [g for g in [gate(engagement, trigger)] if g is not None]
    entry = _verdict(outcomes, roles, engagement.final and not spec.new_round)
    if dest is None:
        entry["allowed"] = False
        entry["blocked_by"].insert(
            0,
            {
                "rule": "stage",
                "severity": "block",
                "overridable": False,
                "message": f"cannot fire from stage {engagement.stage!r}",
                "why_not": "only a different stage allows it",
            },
        )
    return {
        "id": trigger,
        "title": spec.title,
        "to": spec.to if dest is None else dest,  # a returning trigger: where it leads now
        "from_here": dest is not None,
        "reason_required": spec.reason == "required",
        **entry,
    }


def _activity(
    engagement: Engagement,
    activity: str,
    roles: Sequence[str],
    kinds: Mapping[str, RuleKind],
    today: dt.date,
) -> Json:
    spec = next(a for a in engagement.playbook.activities if a.id == activity)
    outcomes = evaluate(engagement, Action("activity", activity, today), kinds)
    entry = _verdict(outcomes, roles, engagement.final)
    if engagement.stage not in spec.during:
        entry["allowed"] = False
        entry["blocked_by"].insert(
            0,
            {
                "rule": "during",
                "severity": "block",
                "overridable": False,
                "message": f"recorded during {', '.join(spec.during) or 'no stage'}",
                "why_not": "only a different stage allows it",
            },
        )
    return {
        "id": activity,
        "title": spec.title,
        "during": list(spec.during),
        "every_days": spec.every_days,
        **entry,
    }


def _verdict(outcomes: list[Outcome], roles: Sequence[str], final: bool) -> Json:
    blocked = [_blocker(o, roles) for o in outcomes if o.blocks]
    warnings = [
        {"rule": o.rule, "severity": o.severity, "message": o.message}
        for o in outcomes
        if o.outcome == "warn"
    ]
    return {"allowed": not blocked and not final, "blocked_by": blocked, "warnings": warnings}


def _blocker(outcome: Outcome, roles: Sequence[str]) -> Json:
    # A well-formed reason is assumed: the dry run asks whether the *actor* could override.
    problems = check_override([outcome], roles, "a reason of several words")
    return {
        "rule": outcome.rule,
        "severity": outcome.severity,
        "message": outcome.message,
        "overridable": not problems,
        "why_not": "; ".join(problems),
    }
