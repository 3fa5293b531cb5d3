"""The practice's commands (#13): people in roles, handovers and links between engagements.

:class:`PracticeCommands` is mixed into :class:`~lifecycle.Engine`: each command takes the lock
through the engine's ``_open``/``_command`` and appends one event through ``_append``; the checks
of what a user gave live here as functions that return the event's data or raise.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Final, Protocol

from ._attempt import retried
from ._inputs import MIN_DATE
from ._practice_replay import LINK_RELATIONS
from ._state import Engagement
from .exceptions import InvalidInputError, NotFoundError, RefusedError

if TYPE_CHECKING:
    from ._results import Result, _Ctx
    from ._store import Store

__all__ = [
    "OUTSIDE_REF",
    "PracticeCommands",
    "check_occurrence",
    "check_params",
    "iter_people",
    "person_name_problem",
    "practice_status",
]

Record = dict[str, Any]  # Any: a JSON object as stored.
# A person's name: one printable line, no control characters, at most 200 characters.
_NAME: Final = re.compile(r"[^\x00-\x1f\x7f]{1,200}")
# An outside reference for another organization's support: ORG:REF (#13).
OUTSIDE_REF: Final = re.compile(
    r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}:[A-Za-z0-9][A-Za-z0-9._/-]{0,127}"
)


class _Engine(Protocol):
    store: Store

    def _open(
        self,
        engagement_id: str,
        actor: str,
        expected_seq: int | None = None,
        *,
        allow_final: bool = False,
    ) -> contextlib.AbstractContextManager[_Ctx]: ...

    def _append(
        self, ctx: _Ctx, kind: str, data: Record, *, reason: str | None = None
    ) -> Result: ...


def person_name_problem(name: str) -> str:
    """What is wrong with *name* as a person's name, or ""."""
    if not name.strip() or not _NAME.fullmatch(name) or name != name.strip():
        return f"The name {name!r} is not one line of text without surrounding spaces."
    return ""


def check_occurrence(engagement: Engagement, on: dt.date | None, today: dt.date) -> dt.date:
    """The occurrence day *on* (today by default), checked: not in the future, not before
    1945, and not before the engagement's previous occurrence.

    Raises:
        InvalidInputError: The day is not one the engine records.
    """
    day = on or today
    if day < MIN_DATE:
        raise InvalidInputError(f"The date {day.isoformat()} is before {MIN_DATE}.")
    if day > today:
        raise InvalidInputError(f"The date {day.isoformat()} is in the future.")
    if engagement.last_on is not None and day < engagement.last_on:
        raise InvalidInputError(
            f"The date {day.isoformat()} precedes the previous occurrence on "
            f"{engagement.id!r} ({engagement.last_on.isoformat()})."
        )
    return day


def check_params(engagement: Engagement, activity: str, given: Mapping[str, str]) -> Record:
    """The parameters of *activity* from ``--set K=V`` texts, checked against the playbook.

    Raises:
        InvalidInputError: An unknown parameter, a value not among its choices, or a required one missing.
    """
    spec = engagement.playbook.activity(activity)
    params = spec.params or () if spec else ()
    known = ", ".join(p.id for p in params) or "none"
    for key, value in given.items():
        param = next((p for p in params if p.id == key), None)
        if param is None:
            raise InvalidInputError(
                f"Activity {activity!r} has no parameter {key!r} (known: {known})."
            )
        if param.choices and value not in param.choices:
            choices = ", ".join(param.choices)
            raise InvalidInputError(f"Parameter {key!r} is one of {choices}; not {value!r}.")
        if not value.strip():
            raise InvalidInputError(f"Parameter {key!r} needs a value.")
    missing = [p.id for p in params if p.required and p.id not in given]
    if missing:
        raise InvalidInputError(f"Activity {activity!r} needs --set {missing[0]}=VALUE.")
    return dict(given)


def _day(ctx: _Ctx) -> dt.date:
    return dt.date.fromisoformat(ctx.at[:10])


def _role_data(engagement: Engagement, name: str, role: str, org: str) -> Record:
    if problem := person_name_problem(name):
        raise InvalidInputError(problem)
    spec = engagement.playbook.role(role)
    if spec is None:
        known = ", ".join(r.id for r in engagement.playbook.roles or ()) or "none"
        raise NotFoundError("role", role, f"(playbook {engagement.playbook.id!r}; known: {known})")
    if spec.org == "required" and not org.strip():
        raise InvalidInputError(f"A person in role {role!r} needs --org ORG.")
    if engagement.person(name) is not None:
        raise RefusedError(f"{name!r} is already in engagement {engagement.id!r}.")
    return {"name": name, "role": role, **({"org": org.strip()} if org.strip() else {})}


class PracticeCommands:
    """The engine's commands for people, handovers and links (mixed into ``Engine``)."""

    @retried
    def add_person(
        self: _Engine,
        engagement_id: str,
        name: str,
        *,
        role: str,
        actor: str,
        org: str = "",
        on: dt.date | None = None,
        expected_seq: int | None = None,
    ) -> Result:
        """Record that *name* took *role* in the engagement *on* a day (today by default)."""
        with self._open(engagement_id, actor, expected_seq) as ctx:
            data = _role_data(ctx.engagement, name, role, org)
            data["on"] = check_occurrence(ctx.engagement, on, _day(ctx)).isoformat()
            return self._append(ctx, "person_added", data)

    @retried
    def leave_person(
        self: _Engine,
        engagement_id: str,
        name: str,
        *,
        actor: str,
        reason: str,
        on: dt.date | None = None,
        expected_seq: int | None = None,
    ) -> Result:
        """Record that *name* left the engagement, with a reason."""
        if not reason.strip():
            raise InvalidInputError("Say why the person leaves (--reason TEXT).")
        with self._open(engagement_id, actor, expected_seq) as ctx:
            if ctx.engagement.person(name) is None:
                raise NotFoundError("person", name, f"(in engagement {engagement_id!r})")
            day = check_occurrence(ctx.engagement, on, _day(ctx))
            data = {"name": name, "on": day.isoformat()}
            return self._append(ctx, "person_left", data, reason=reason.strip())

    @retried
    def handover(
        self: _Engine,
        engagement_id: str,
        *,
        outgoing: str,
        incoming: str,
        actor: str,
        on: dt.date | None = None,
        expected_seq: int | None = None,
    ) -> Result:
        """The envoy *outgoing* leaves and *incoming* is appointed envoy, on one day."""
        with self._open(engagement_id, actor, expected_seq) as ctx:
            eng = ctx.engagement
            person = eng.person(outgoing)
            if person is None or person.role != "envoy":
                raise RefusedError(f"{outgoing!r} is not an envoy in engagement {engagement_id!r}.")
            if problem := person_name_problem(incoming):
                raise InvalidInputError(problem)
            if eng.person(incoming) is not None:
                raise RefusedError(f"{incoming!r} is already in engagement {engagement_id!r}.")
            day = check_occurrence(eng, on, _day(ctx))
            data = {"from": outgoing, "to": incoming, "on": day.isoformat()}
            return self._append(ctx, "handed_over", data)

    @retried
    def link(
        self: _Engine,
        engagement_id: str,
        other: str,
        *,
        relation: str,
        actor: str,
        note: str = "",
        expected_seq: int | None = None,
    ) -> Result:
        """Link the engagement to *other* (an engagement here, or ``ORG:REF`` for same-process)."""
        _check_link(self.store, engagement_id, other, relation)
        with self._open(engagement_id, actor, expected_seq, allow_final=True) as ctx:
            if (other, relation) in ctx.engagement.links:
                raise RefusedError(
                    f"{engagement_id!r} is already linked to {other!r} as {relation}."
                )
            data = {"other": other, "relation": relation, **({"note": note} if note else {})}
            return self._append(ctx, "linked", data)

    @retried
    def unlink(
        self: _Engine,
        engagement_id: str,
        other: str,
        *,
        relation: str,
        actor: str,
        expected_seq: int | None = None,
    ) -> Result:
        """Remove a link made by :meth:`link`."""
        if relation not in LINK_RELATIONS:
            raise InvalidInputError(
                f"A relation is one of {', '.join(LINK_RELATIONS)}; not {relation!r}."
            )
        with self._open(engagement_id, actor, expected_seq, allow_final=True) as ctx:
            if (other, relation) not in ctx.engagement.links:
                raise NotFoundError("link", f"{other} as {relation}", f"(on {engagement_id!r})")
            return self._append(ctx, "unlinked", {"other": other, "relation": relation})


def _check_link(store: Store, engagement_id: str, other: str, relation: str) -> None:
    if relation not in LINK_RELATIONS:
        raise InvalidInputError(
            f"A relation is one of {', '.join(LINK_RELATIONS)}; not {relation!r}."
        )
    if other == engagement_id:
        raise InvalidInputError(f"An engagement cannot be linked to itself ({other!r}).")
    if ":" in other:
        if relation != "same-process" or not OUTSIDE_REF.fullmatch(other):
            raise InvalidInputError(
                f"{other!r}: an outside reference is ORG:REF, and only for --as same-process."
            )
        return
    store.require(other)  # NotFoundError: a link to an engagement here that does not exist


def practice_status(engagement: Engagement) -> Record:
    """The keys ``status --json`` gains with #13: entry, channel, round, people, envoy, links."""
    return {
        "entry": engagement.entry or None,
        "channel": engagement.channel or None,
        "round": engagement.round,
        "envoy": engagement.current_envoy(),
        "people": list(iter_people(engagement)),
        "links": [
            {"other": other, "relation": relation, "note": note}
            for (other, relation), note in engagement.links.items()
        ],
    }


def iter_people(engagement: Engagement) -> Iterator[Record]:
    """The people of *engagement* as ``status --json`` shows them (key ``people``)."""
    for p in engagement.people:
        yield {
            "name": p.name,
            "role": p.role,
            "org": p.org,
            "since": p.since.isoformat(),
            "left": p.left.isoformat() if p.left else None,
            "active": p.active,
        }
