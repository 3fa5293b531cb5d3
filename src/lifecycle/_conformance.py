"""Conformance and completeness: replaying a verified history under its embedded playbook.

Fed one record at a time by the audit's reader; it never mutates a file and never raises on bad
data: every problem becomes a :class:`Finding`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from typing import Any, Final

import attrs

from ._cadence import WATCHED, CadenceWatch
from ._conformfast import COMMON
from ._consistency import override_problems, reason_problems, return_problem, unchecked_problems
from ._decide import GATE, reason_problem
from ._due import due_items
from ._eventcheck import event_problems, fact_problems, kind_checked
from ._finding import Finding, overdue_findings
from ._finding import error as _error
from ._finding import warning as _warning
from ._inputs import actor_problem, free_text_actor
from ._log import AUDIT_LIMIT
from ._replay import EVENT_VERSIONS, Mismatch, ReplayError, apply, apply_verified, recheck, start
from ._rules import RuleKind
from ._shipped import shipped_problem
from ._state import Engagement
from .exceptions import LifecycleError

__all__ = ["Conformance", "Finding", "overdue_findings"]

Record = dict[str, Any]  # Any: a JSON object as stored.
_DECISIONS = frozenset({"advanced", "activity_recorded", "refused", "forced"})
# Per event type, which checks apply before it is applied: its engine conditions
# (_eventcheck), the cadences it can show missed, and the recorded decisions it carries.
_PLAN: Final = {
    kind: (kind_checked(kind), kind in WATCHED, kind in _DECISIONS) for kind in EVENT_VERSIONS
}
_NO_PLAN: Final = (False, False, False)  # an unknown type: apply() reports it
_ACTORS_KEPT: Final = 1024  # distinct valid actor names remembered (memory stays bounded)
# What bad data in a verified line can raise while it is replayed.
_BAD_DATA = (
    LifecycleError,
    TypeError,
    ValueError,
    KeyError,
    AttributeError,
    IndexError,
    RecursionError,
    OverflowError,
)


@attrs.define
class Conformance:
    """Replays records as they stream by, collecting conformance and completeness findings."""

    kinds: Mapping[str, RuleKind]
    today: dt.date
    engagement: Engagement | None = None
    broken: bool = False
    findings: list[Finding] = attrs.field(factory=list)
    overrides: list[dict[str, Any]] = attrs.field(factory=list)
    due: list[dict[str, Any]] = attrs.field(factory=list)
    _overdue_at_close: list[str] = attrs.field(factory=list)
    _cadences: CadenceWatch = attrs.field(factory=CadenceWatch)
    _actors: set[str] = attrs.field(factory=set)  # actor names already found valid

    def feed(self, record: Record, *, verified: bool = False) -> None:
        """Check and apply one verified event record.

        With *verified*, the reader has already checked the envelope of *record* (``seq`` an
        integer, ``type`` a known string, ``v`` an integer it reads, ``at`` a timestamp, ``data``
        an object, ``hash`` its line's): the event type's plan is looked up once and nothing is
        read twice.
        """
        if self.broken:
            return
        if verified:
            seq: int | None = record["seq"]
            kind = record["type"]
        else:
            seq = record.get("seq") if isinstance(record.get("seq"), int) else None
            kind = record.get("type")
        try:
            actor = record.get("actor")
            if type(actor) is not str or actor not in self._actors:
                self._check_actor(actor, seq)
            if self.engagement is None:
                self._start(record, seq)
                return
            self._planned(self.engagement, record, seq, kind, verified)
        except (ReplayError, *_BAD_DATA) as exc:
            self._failed(exc, seq)

    def feed_common(self, record: Record, seq: int, kind: str, actor: str, data: Record) -> None:
        """:meth:`feed` for a record the reader has found common (``_Reader._common``: its
        envelope checked, its data fitting its model; *seq*, *kind*, *actor* and *data* its
        members): the common events of its type are checked and applied in one step
        (:data:`~lifecycle._conformfast.COMMON`)."""
        if self.broken:
            return
        try:
            if actor not in self._actors:
                self._check_actor(actor, seq)
            if (engagement := self.engagement) is None:
                self._start(record, seq)
                return
            common = COMMON.get(kind)
            missed = (
                None if common is None else common(engagement, record, data, seq, self._cadences)
            )
            if missed is None:  # not proven common: nothing changed, the general path
                self._planned(engagement, record, seq, kind, True)
            elif missed:
                self.findings.extend(_warning("cadence-missed", seq, m) for m in missed)
        except (ReplayError, *_BAD_DATA) as exc:
            self._failed(exc, seq)

    def _planned(
        self, engagement: Engagement, record: Record, seq: int | None, kind: Any, verified: bool
    ) -> None:
        """Check *record* by its type's plan, then apply it."""
        # Any: a type as recorded (an unknown one has no plan, and apply() reports it).
        checked, watched, decision = _PLAN.get(kind, _NO_PLAN)
        if checked:
            for problem in event_problems(engagement, record):
                self.findings.append(_error("not-allowed", seq, problem))
        if watched:
            for message in self._cadences.before(engagement, record):
                self.findings.append(_warning("cadence-missed", seq, message))
        if decision:
            if kind == "advanced" and not self._returns(record, seq):
                return
            self.findings.extend(self._decisions(record, seq))
            if kind in ("advanced", "forced"):
                self._note_closing(record)
        if verified:
            apply_verified(engagement, record, kind, record["seq"])
        else:
            apply(engagement, record)

    def _failed(self, exc: Exception, seq: int | None) -> None:
        if isinstance(exc, ReplayError):
            self._stop("unknown-version" if "newer" in str(exc) else "replay", seq, str(exc))
        else:
            # Hostile or damaged data that still verifies (re-hashed lines): a finding, never a crash.
            self._stop("replay", seq, f"seq {seq}: bad event data ({type(exc).__name__}: {exc})")

    def _start(self, record: Record, seq: int | None) -> None:
        self.engagement = start(record)
        for log in (self.engagement.entries, self.engagement.activities):
            log.limit_memory(AUDIT_LIMIT)  # memory bounded whatever the history holds
        self.engagement.fired.limit_memory(AUDIT_LIMIT)
        opened_facts = _dict(record.get("data")).get("facts") or {}
        for problem in fact_problems(self.engagement.playbook, opened_facts):
            self.findings.append(_error("not-allowed", seq, f"opened with {problem}"))
        if shipped := shipped_problem(self.engagement):
            self.findings.append(_error("shipped-playbook-mismatch", seq, shipped))

    def _check_actor(self, actor: object, seq: int | None) -> None:
        """An actor name the engine refuses is an error, unless an earlier version could have
        recorded it (free text, one printable line): then a warning, so old histories pass."""
        if (problem := actor_problem(actor)) is None:
            if type(actor) is str and len(self._actors) < _ACTORS_KEPT:
                self._actors.add(actor)  # a valid name stays valid: checked once
            return
        if free_text_actor(actor):
            self.findings.append(_warning("actor-name", seq, f"{problem}; recorded as free text"))
        else:
            self.findings.append(_error("not-allowed", seq, problem))

    def _returns(self, record: Record, seq: int | None) -> bool:
        """Check where a returning trigger led; False when replay cannot go on past it."""
        assert self.engagement is not None
        problem, replayable = return_problem(self.engagement, _dict(record.get("data")))
        if problem and replayable:
            self.findings.append(_error("return-elsewhere", seq, problem))
        elif problem:
            self._stop("return-elsewhere", seq, f"seq {seq}: {problem}")
        return replayable

    def _stop(self, code: str, seq: int | None, message: str) -> None:
        self.broken = True
        self.findings.append(
            _error(code, seq, f"cannot replay: {message}; conformance not checked past this event")
        )

    def _decisions(self, record: Record, seq: int | None) -> Iterator[Finding]:
        assert self.engagement is not None
        kind = record.get("type")
        if kind == "forced":
            yield from self._forced(record, seq)
        if kind not in ("advanced", "activity_recorded"):
            if kind == "refused":
                rules = _rules(record)
                mismatches = recheck(self.engagement, record, self.kinds)
                yield from self._mismatches(mismatches, rules, seq)
            return
        rules = _rules(record)  # read once for every check below
        if not rules and self._unruled(record):
            if "reason" not in record and "override" not in record["data"]:
                return  # nothing decided, nothing overridden, no override claimed
        else:
            yield from self._mismatches(recheck(self.engagement, record, self.kinds), rules, seq)
            yield from self._overrides(record, rules, seq)
        problems = list(override_problems(record, rules))
        if kind == "advanced":
            problems += reason_problems(self.engagement, _dict(record.get("data")))
        for code, message in problems:
            yield _error(code, seq, message)

    def _unruled(self, record: Record) -> bool:
        """Whether *record* is an activity no rule is attached to: with no outcome recorded
        either, re-evaluating finds nothing to compare and nothing overridden (the common
        activity; fed records fit their model, so ``on`` and ``params`` are well formed)."""
        assert self.engagement is not None
        data = record.get("data")
        return (
            record.get("type") == "activity_recorded"
            and type(data) is dict
            and type(name := data.get("activity")) is str
            and not self.engagement.playbook.rules_for("activity", name)
        )

    def _mismatches(
        self, mismatches: list[Mismatch], rules: list[dict[str, Any]], seq: int | None
    ) -> Iterator[Finding]:
        if not mismatches and not rules:
            return  # nothing recorded, nothing re-evaluated: nothing to compare
        plugin_rules = {r.get("rule") for r in rules if r.get("plugin")}
        for m in mismatches:
            rule = _rule_kind(self.engagement, m.rule)
            if m.rule in plugin_rules and (rule is None or rule not in self.kinds):
                continue  # reported once below as not re-checked
            if m.now == "overridden":  # it blocks here: only an override could let the action pass
                yield _error(
                    "block-without-override",
                    seq,
                    f"rule {m.rule!r} blocks here but the event records {m.recorded!r} "
                    "and no override",
                )
            else:
                yield _error(
                    "decision-mismatch",
                    seq,
                    f"rule {m.rule!r} was recorded as {m.recorded!r}; re-evaluated it is {m.now!r}",
                )
        assert self.engagement is not None
        forged = dict(unchecked_problems(self.engagement, rules))
        yield from (_error("unchecked-not-possible", seq, message) for message in forged.values())
        for rule in sorted(str(r.get("rule")) for r in rules if r.get("unchecked") is True):
            if rule not in forged:
                yield _warning(
                    "rule-unchecked-when-recorded",
                    seq,
                    f"rule {rule!r} could not be evaluated when recorded (it failed closed); "
                    "not compared",
                )
        for rule in sorted(str(r) for r in plugin_rules):
            kind = _rule_kind(self.engagement, rule)
            if kind is None or kind not in self.kinds:
                yield _warning(
                    "plugin-rule-not-rechecked",
                    seq,
                    f"rule {rule!r} (kind {kind!r}) "
                    "comes from a plugin that is not installed; not re-checked",
                )

    def _overrides(
        self, record: Record, rules: list[dict[str, Any]], seq: int | None
    ) -> Iterator[Finding]:
        assert self.engagement is not None
        data = _dict(record.get("data"))
        overridden = [r for r in rules if r.get("outcome") == "overridden"]
        if not overridden:
            return
        override = _dict(data.get("override"))
        roles = [str(r) for r in _list(override.get("roles"))]
        reason = record.get("reason")
        self.overrides.append(
            {
                "seq": seq,
                "actor": record.get("actor"),
                "roles": roles,
                "rules": [r.get("rule") for r in overridden],
                "reason": reason,
            }
        )
        if why := reason_problem(reason if isinstance(reason, str) else None):
            yield _error("override-without-reason", seq, f"override recorded with {why}")
        for rule in overridden:
            spec = next(
                (r for r in self.engagement.playbook.rules if r.id == rule.get("rule")), None
            )
            allowed = spec.override_roles if spec else ()
            if rule.get("rule") == GATE or not allowed:
                yield _error(
                    "override-not-allowed", seq, f"rule {rule.get('rule')!r} cannot be overridden"
                )
            elif not set(roles) & set(allowed):
                yield _error(
                    "override-role",
                    seq,
                    f"rule {rule.get('rule')!r} overridden by "
                    f"{record.get('actor')!r} with roles {roles}, not one of {list(allowed)}",
                )

    def _forced(self, record: Record, seq: int | None) -> Iterator[Finding]:
        assert self.engagement is not None
        data = _dict(record.get("data"))
        roles = _list(data.get("roles"))
        admins = self.engagement.playbook.admin_roles or ()
        if not set(map(str, roles)) & set(admins):
            yield _error(
                "force-role",
                seq,
                f"forced by {record.get('actor')!r} with roles {roles}, "
                f"not one of the admin roles {list(admins)}",
            )
        reason = record.get("reason")
        if why := reason_problem(reason if isinstance(reason, str) else None):
            yield _error("force-without-reason", seq, f"force recorded with {why}")
        self.overrides.append(
            {
                "seq": seq,
                "actor": record.get("actor"),
                "roles": roles,
                "rules": ["force"],
                "reason": reason,
            }
        )

    def _note_closing(self, record: Record) -> None:
        """Before the move into a final stage, note what was overdue then."""
        assert self.engagement is not None
        data = _dict(record.get("data"))
        target = self.engagement.playbook.stage(str(data.get("to")))
        if target is None or not target.final:
            return
        closing = dt.date.fromisoformat(str(record.get("at"))[:10])
        self._overdue_at_close = [
            f"{i.kind} {i.id} (due {i.due.isoformat()})"
            for i in due_items(self.engagement, closing)
            if i.overdue
        ]

    def finish(self) -> list[Finding]:
        """Completeness findings, once every record has been fed."""
        try:
            return self._completeness()
        except _BAD_DATA as exc:
            return [
                _error("replay", None, f"cannot check completeness: {type(exc).__name__}: {exc}")
            ]

    def _completeness(self) -> list[Finding]:
        eng = self.engagement
        if eng is None or self.broken:
            return []
        out: list[Finding] = []
        visited_debrief = any(s.id == "debriefing" for s in eng.playbook.stages) and eng.visited(
            "debriefing"
        )
        has_debrief = any(s.id == "debriefing" for s in eng.playbook.stages)
        if eng.final and has_debrief and not visited_debrief and eng.stage != "withdrawn":
            out.append(
                _warning(
                    "closed-without-debriefing",
                    eng.seq,
                    f"engagement reached {eng.stage!r} without a debriefing",
                )
            )
        if eng.final and self._overdue_at_close:
            out.append(
                _warning(
                    "overdue-at-closing",
                    eng.seq,
                    "overdue when the engagement closed: " + ", ".join(self._overdue_at_close),
                )
            )
        if not eng.final:
            self.due = [item.as_json() for item in due_items(eng, self.today)]
            out.extend(overdue_findings(self.due, self.today, eng.seq))
        return out


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _rules(record: Record) -> list[dict[str, Any]]:
    data = record.get("data")
    rules = data.get("rules") if isinstance(data, dict) else None
    return [r for r in rules if isinstance(r, dict)] if isinstance(rules, list) else []


def _rule_kind(engagement: Engagement | None, rule_id: str) -> str | None:
    if engagement is None:
        return None
    spec = next((r for r in engagement.playbook.rules if r.id == rule_id), None)
    return spec.kind if spec else None
