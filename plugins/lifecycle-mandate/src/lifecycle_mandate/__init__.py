"""lifecycle-mandate: a rule kind for mandates that expire, and a playbook that uses it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path

from lifecycle import Action, Engagement, Param, Rule, RuleKind, Verdict, hookimpl

__all__ = ["in_force", "register_playbooks", "register_rule_kinds"]

PLAYBOOKS = Path(__file__).parent / "playbooks"


def in_force(rule: Rule, engagement: Engagement, action: Action) -> Verdict:
    """Pass when *action* falls on or before the expiry date in the rule's fact (plus grace)."""
    fact = str(rule.params["fact"])
    value = engagement.facts.get(fact)
    if not isinstance(value, str) or not value:
        return Verdict(False, f"the mandate's expiry date ({fact!r}) is not recorded")
    grace = rule.params.get("grace_days", 0)
    expires = dt.date.fromisoformat(value) + dt.timedelta(
        days=int(grace) if isinstance(grace, int) else 0
    )
    if action.on <= expires:
        return Verdict(True)
    return Verdict(
        False,
        f"the mandate expired on {value}; {action.on.isoformat()} is "
        f"{(action.on - expires).days} day(s) past it",
    )


def _check(rule: Rule, playbook: object) -> Iterable[str]:
    grace = rule.params.get("grace_days")
    if isinstance(grace, int) and grace < 0:
        yield f"grace_days: must not be negative, got {grace}"
    fact = next(
        (f for f in getattr(playbook, "facts", ()) if f.id == rule.params.get("fact")), None
    )
    if fact is not None and fact.type != "date":
        yield f"fact: {fact.id!r} must be a date fact, not {fact.type}"


@hookimpl
def register_rule_kinds() -> list[RuleKind]:
    """The ``mandate.in-force`` rule kind."""
    return [
        RuleKind(
            "mandate.in-force",
            in_force,
            {"fact": Param("str", ref="fact"), "grace_days": Param("int", required=False)},
            check=_check,
            description="The action falls on or before a mandate's expiry date.",
        )
    ]


@hookimpl
def register_playbooks() -> list[Path]:
    """The ``un-mandated`` playbook."""
    return [PLAYBOOKS]
