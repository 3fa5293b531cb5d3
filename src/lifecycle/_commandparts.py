"""Small pieces the engine's commands share: which stage a checklist item belongs to, the
refusal in a final stage, the data of an ``opened`` and a ``refused`` event, and the day of an
``at``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ._decide import Outcome, reason_problem
from ._inputs import MIN_DATE
from ._model import Activity
from ._state import Engagement
from .exceptions import InvalidInputError, NotFoundError, RefusedError

if TYPE_CHECKING:
    from ._catalog import Resolved

__all__ = [
    "activity_day",
    "activity_spec",
    "day_of",
    "force_problems",
    "item_stage",
    "opened_data",
    "refusal_data",
    "refuse_final",
    "refused_error",
]

Record = dict[str, Any]  # Any: a JSON object as stored.


def item_stage(engagement: Engagement, item: str) -> str:
    """The stage checklist *item* belongs to, once the engagement has reached it.

    Raises:
        NotFoundError: The playbook has no such item.
        RefusedError: Its stage has not been reached yet.
    """
    found = engagement.playbook.item(item)
    if found is None:
        raise NotFoundError("checklist item", item, f"(playbook {engagement.playbook.id!r})")
    stage = found[0].id
    if not engagement.visited(stage):
        raise RefusedError(
            f"Checklist item {item!r} belongs to stage {stage!r}, which this engagement "
            "has not reached yet."
        )
    return stage


def opened_data(
    engagement: str, title: str, resolved: Resolved, facts: Mapping[str, object]
) -> Record:
    """The data of the ``opened`` event: the engagement, its title, the resolved playbook
    embedded with its sha256, and the facts given."""
    return {
        "engagement": engagement,
        "title": title,
        "playbook": _plain(resolved),
        "playbook_sha256": resolved.sha256,
        "facts": dict(facts),
    }


def refuse_final(engagement: Engagement) -> None:
    """Raise the refusal of anything but notes in a final stage."""
    raise RefusedError(
        f"Engagement {engagement.id!r} is in final stage {engagement.stage!r}; "
        "nothing more can be done but notes."
    )


def day_of(at: str) -> dt.date:
    """The UTC day of an ``at`` the engine wrote."""
    return dt.date.fromisoformat(at[:10])


def _plain(resolved: Resolved) -> dict[str, Any]:
    # Any: the playbook as JSON. The converter is imported by the one command that embeds one.
    from ._convert import unstructure_playbook

    return unstructure_playbook(resolved.playbook)


def force_problems(engagement: Engagement, actor: str, roles: list[str], reason: str) -> list[str]:
    """Why *actor* (holding *roles*) may not force a move, with *reason*: none when they may."""
    admins = engagement.playbook.admin_roles or ()
    problems = []
    if not set(roles) & set(admins):
        held = ", ".join(roles) or "no roles"
        needed = ", ".join(admins) or "(none: the playbook names no admin_roles)"
        problems.append(f"no role: force needs one of {needed}; {actor!r} has {held}")
    if why := reason_problem(reason):
        problems.append(f"no reason: {why}")
    return problems


def activity_spec(engagement: Engagement, activity: str) -> Activity:
    """The playbook's activity *activity* (NotFoundError when it has none)."""
    spec = engagement.playbook.activity(activity)
    if spec is None:
        raise NotFoundError("activity", activity, f"(playbook {engagement.playbook.id!r})")
    return spec


def activity_day(on: dt.date | None, today: dt.date) -> dt.date:
    """The day an activity is recorded as held: *on*, or *today* (InvalidInputError when it is
    before the earliest date a history holds, or in the future)."""
    day = on or today
    if day < MIN_DATE:
        raise InvalidInputError(f"The date {day.isoformat()} is before {MIN_DATE}.")
    if day > today:
        raise InvalidInputError(f"The date {day.isoformat()} is in the future.")
    return day


def refusal_data(
    engagement: Engagement,
    action: str,
    data: Record,
    outcomes: list[Outcome],
    problems: list[str],
    override: str | None,
    roles: list[str],
) -> Record:
    """The data of the ``refused`` event of *action* (its *data*, the rules' *outcomes*, and
    ``why``: the *problems* of an override, then every blocking rule), with the *override*
    asked for and the actor's *roles* when there was one."""
    reasons = problems + [f"{o.rule}: {o.message}" for o in outcomes if o.blocks]
    record: Record = {
        "action": action,
        "stage": engagement.stage,
        **data,
        "rules": [o.record() for o in outcomes],
        "why": reasons,
    }
    if override is not None:
        record["override"] = {"reason": override, "roles": roles}
    return record


def refused_error(
    action: str, data: Record, outcomes: list[Outcome], reasons: list[str], seq: int
) -> RefusedError:
    """What the command raises once its refusal is recorded at *seq*."""
    what = data.get("trigger") or data.get("activity") or data.get("to")
    return RefusedError(
        f"Refused {action} {what!r}: " + "; ".join(reasons),
        [o for o in outcomes if o.blocks],
        seq,
    )
