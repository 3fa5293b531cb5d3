"""What a decision event says, checked against what the engine could have written (#9).

Each check takes the engagement as it stood before the event and yields ``(code, message)``
problems; :mod:`~lifecycle._conformance` turns them into error findings at that event:

- ``return-elsewhere``: a returning trigger (``to = "@return"``), or core's ``resume`` under a
  playbook older than returning triggers, recorded as landing somewhere other than the stage the
  engagement came from;
- ``advance-without-reason``: a trigger with ``reason = "required"`` recorded without a real
  reason, or a ``reason`` that is no text;
- ``override-mismatch``: an ``override`` whose rules are not the ones the decisions record as
  overridden, or an override and its top-level ``reason`` not recorded together;
- ``unchecked-not-possible``: a rule outcome flagged ``unchecked`` where the engine always
  evaluates the rule, or recorded as anything but a block.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from ._decide import missing_reason, unchecked_problem
from ._state import Engagement

__all__ = [
    "LEGACY_RESUME",
    "override_problems",
    "reason_problems",
    "return_problem",
    "unchecked_problems",
]

Record = dict[str, Any]  # Any: a JSON object as stored.
Problem = tuple[str, str]
# Core's resume trigger, which always meant "resume where support was suspended" but led to
# active-support before playbooks could say `to = "@return"`: held to that meaning in old histories.
LEGACY_RESUME: Final = "resume"


def return_problem(engagement: Engagement, data: Record) -> tuple[str, bool]:
    """Where a recorded move should have returned to and did not, and whether replay can go on
    (a returning trigger's destination is computed, so a wrong one cannot be replayed)."""
    pb = engagement.playbook
    trigger = pb.trigger(str(data.get("trigger")))
    if trigger is None or data.get("from") != engagement.stage:
        return "", True  # replay reports it
    legacy = trigger.id == LEGACY_RESUME and not any(t.returns for t in pb.triggers)
    back = engagement.came_from()
    if not (trigger.returns or legacy) or data.get("to") == back:
        return "", True
    return (
        f"trigger {trigger.id!r} returns to {back!r}, the stage the engagement was in before "
        f"{engagement.stage!r}; the event records {data.get('to')!r}",
        legacy,
    )


def reason_problems(engagement: Engagement, data: Record) -> Iterator[Problem]:
    """The trigger's reason: text when recorded at all, a real sentence when required."""
    reason = data.get("reason")
    if "reason" in data and (not isinstance(reason, str) or not reason.strip()):
        yield "advance-without-reason", f"the reason recorded is {reason!r}, not a text"
        return
    trigger = engagement.playbook.trigger(str(data.get("trigger")))
    for why in missing_reason(trigger, reason if isinstance(reason, str) else None):
        yield "advance-without-reason", why.removeprefix("no reason: ")


def override_problems(record: Record, rules: list[dict[str, Any]]) -> Iterator[Problem]:
    """The override names exactly the overridden rules, and comes with its reason."""
    data = record.get("data")
    data = data if isinstance(data, dict) else {}
    overridden = [r.get("rule") for r in rules if r.get("outcome") == "overridden"]
    override = data.get("override")
    if isinstance(override, dict) and override.get("rules") != overridden:
        yield (
            "override-mismatch",
            f"the override names rules {override.get('rules')!r}; "
            f"the decisions record {overridden!r} as overridden",
        )
    if not overridden and ("override" in data) != ("reason" in record):
        present = "an override without its reason" if "override" in data else "a reason"
        yield "override-mismatch", f"{present} recorded, and nothing overridden"
    reason = record.get("reason")
    if not overridden and "reason" in record and (not isinstance(reason, str) or not reason):
        yield "override-mismatch", f"the override's reason is {reason!r}, not a text"


def unchecked_problems(
    engagement: Engagement, rules: list[dict[str, Any]]
) -> Iterator[tuple[str, str]]:
    """``(rule, problem)`` for each outcome flagged ``unchecked`` that the engine could not have
    flagged."""
    kinds: dict[str, str] | None = None  # built only when some outcome is flagged
    for rule in rules:
        if "unchecked" not in rule:
            continue
        if kinds is None:
            kinds = {r.id: r.kind for r in engagement.playbook.rules}
        why = unchecked_problem(rule, kinds.get(str(rule.get("rule"))))
        if rule["unchecked"] is not True:
            why = f"the flag is only ever written as true, not {rule['unchecked']!r}"
        if why:
            yield (
                str(rule.get("rule")),
                f"rule {rule.get('rule')!r} is recorded as not evaluated (unchecked), "
                f"which the engine could not have written: {why}",
            )
