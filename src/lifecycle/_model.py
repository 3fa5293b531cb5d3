"""The playbook as data: attrs classes, no (de)serialization code (that lives in ``_convert``)."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Final, Literal

import attrs

FactType = Literal["text", "date", "bool", "choice", "country", "subdivision"]
Severity = Literal["block", "warn"]
ReasonNeed = Literal["required"]
ParamType = Literal["text", "choice"]
OwedWhen = Literal["join", "leave", "handover"]

# A trigger's `to` that names no stage: back to the stage the engagement was in when it entered
# the trigger's from-stage (resume returns to where support was suspended, #9).
RETURN: Final = "@return"

__all__ = [
    "RETURN",
    "Activity",
    "ChecklistAddition",
    "ChecklistItem",
    "Fact",
    "FactType",
    "LessonHeading",
    "Lessons",
    "Owed",
    "OwedWhen",
    "Param",
    "ParamType",
    "Playbook",
    "ReasonNeed",
    "Role",
    "Rule",
    "Severity",
    "Stage",
    "Trigger",
]


@attrs.frozen
class Fact:
    """Something an engagement can carry: its mandate source, the envoy, the organization's role."""

    id: str
    title: str
    type: FactType = "text"
    choices: tuple[str, ...] = ()
    description: str = ""
    source: str = ""
    # An inclusion indicator a true value counts as (#15); None: absent, so old digests hold.
    indicator: str | None = None


@attrs.frozen
class ChecklistItem:
    """One item of a stage's checklist; required items gate leaving the stage."""

    id: str
    text: str
    required: bool = True
    source: str = ""
    indicator: str | None = None  # an inclusion indicator ticking it counts as (#15)
    # Ticking it may cite lessons of other engagements (#15); None: absent, so old digests hold.
    lessons: bool | None = None


@attrs.frozen
class ChecklistAddition:
    """A top-level ``[[checklist]]`` entry that adds an item to an inherited stage."""

    stage: str
    id: str
    text: str
    required: bool = True
    source: str = ""
    indicator: str | None = None
    lessons: bool | None = None


@attrs.frozen
class Stage:
    """A stage of the cycle, with its guidance (steps) and its checklist."""

    id: str
    title: str
    initial: bool = False
    final: bool = False
    phase: str = ""
    description: str = ""
    steps: tuple[str, ...] = ()
    checklist: tuple[ChecklistItem, ...] = ()
    # None, not False: absent from the embedded playbook, so old digests still hold (#13).
    entry: bool | None = None
    # Owed only by an engagement that entered at this stage (who asked, scope, mandate).
    entry_checklist: tuple[ChecklistItem, ...] | None = None

    @property
    def is_entry(self) -> bool:
        """Whether an engagement may start here (the initial stage always may)."""
        return self.initial or bool(self.entry)


@attrs.frozen
class Trigger:
    """A named move from some stages to one stage (or, with ``to = RETURN``, back)."""

    id: str
    from_: tuple[str, ...]
    to: str
    title: str = ""
    gate: bool = True
    description: str = ""
    # None, not a default word: absent from the embedded playbook, so old digests still hold.
    reason: ReasonNeed | None = None
    # A trigger out of a final stage that starts a new round of the engagement (#13).
    new_round: bool | None = None

    @property
    def returns(self) -> bool:
        """Whether the trigger leads back to where the engagement came from."""
        return self.to == RETURN


@attrs.frozen
class Param:
    """A parameter an activity is recorded with (``record --set K=V``)."""

    id: str
    type: ParamType = "text"
    choices: tuple[str, ...] = ()
    required: bool = False


@attrs.frozen
class Activity:
    """Something recorded during stages, possibly on a cadence (``every_days``)."""

    id: str
    title: str
    during: tuple[str, ...] = ()
    every_days: int | None = None
    description: str = ""
    params: tuple[Param, ...] | None = None  # None: absent, so old digests hold (#13)
    indicator: str | None = None  # an inclusion indicator each recording counts as (#15)

    def param(self, param_id: str) -> Param | None:
        """The parameter *param_id*, or None."""
        return next((p for p in self.params or () if p.id == param_id), None)


@attrs.frozen
class Owed:
    """An activity a person in a role owes when they join, leave, or take over by handover."""

    activity: str
    when: OwedWhen
    within_days: int


@attrs.frozen
class Role:
    """A role people hold in an engagement (envoy, deputy, ...), and what it owes."""

    id: str
    title: str = ""
    org: ReasonNeed | None = None  # "required": a person in this role names their organization
    owes: tuple[Owed, ...] = ()
    description: str = ""


@attrs.frozen
class Rule:
    """A mandate rule: a guard of a given ``kind`` on triggers and/or activities.

    ``params`` holds the kind's own parameters (``fact``, ``values``, ``days``, ...), checked
    against the kind when the playbook is loaded.
    """

    id: str
    kind: str
    on: tuple[str, ...] = ()
    on_activity: tuple[str, ...] = ()
    severity: Severity = "block"
    message: str = ""
    override_roles: tuple[str, ...] = ()
    basis: str = ""
    # Activity parameters the rule applies to: it passes unless each named one has a listed value.
    when_params: Mapping[str, tuple[str, ...]] | None = None
    params: Mapping[str, object] = attrs.field(factory=dict)


@attrs.frozen
class LessonHeading:
    """A heading a lesson may fill (``lifecycle lesson --section ID=TEXT``, #15)."""

    id: str
    title: str
    description: str = ""


@attrs.frozen
class Lessons:
    """The ``[lessons]`` table: the headings a structured lesson is written under (#15)."""

    headings: tuple[LessonHeading, ...] = ()

    def heading(self, heading_id: str) -> LessonHeading | None:
        """The heading *heading_id*, or None."""
        return next((h for h in self.headings if h.id == heading_id), None)


# Not slotted: attrs gives a slotted class with cached properties a __getattr__, which keeps
# every attribute read of the playbook off Python 3.11's specialized paths (six per move, #14).
@attrs.frozen(slots=False)
class Playbook:
    """An organization's definition of the engagement cycle.

    A playbook as written may ``extends`` another and carry ``remove`` and top-level
    ``checklist`` additions; a resolved playbook has those merged in and empty.
    """

    id: str
    version: str
    title: str
    organization: str = ""
    schema: int = 1
    extends: str | None = None
    description: str = ""
    admin_roles: tuple[str, ...] | None = None
    remove: tuple[str, ...] = ()
    facts: tuple[Fact, ...] = ()
    stages: tuple[Stage, ...] = ()
    triggers: tuple[Trigger, ...] = ()
    activities: tuple[Activity, ...] = ()
    rules: tuple[Rule, ...] = ()
    checklist: tuple[ChecklistAddition, ...] = ()
    # None: absent from older playbooks' canonical form, so their digests still hold (#13).
    channels: tuple[str, ...] | None = None
    roles: tuple[Role, ...] | None = None
    lessons: Lessons | None = None  # None: absent, so older playbooks' digests hold (#15)

    def role(self, role_id: str) -> Role | None:
        """Return the role with *role_id*, or None."""
        return next((r for r in self.roles or () if r.id == role_id), None)

    def stage(self, stage_id: str) -> Stage | None:
        """Return the stage with *stage_id*, or None."""
        return self._stage_index.get(stage_id)

    def trigger(self, trigger_id: str) -> Trigger | None:
        """Return the trigger with *trigger_id*, or None."""
        return self._trigger_index.get(trigger_id)

    def fact(self, fact_id: str) -> Fact | None:
        """Return the fact with *fact_id*, or None."""
        return self._fact_index.get(fact_id)

    def activity(self, activity_id: str) -> Activity | None:
        """Return the activity with *activity_id*, or None."""
        return self._activity_index.get(activity_id)

    def rules_for(self, kind: str, name: str) -> tuple[Rule, ...]:
        """The rules attached to trigger (*kind* ``"trigger"``) or activity *name*, in order."""
        return self._rule_index.get((kind, name), ())

    def required_items(self, stage_id: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The ids of *stage_id*'s required checklist items and of its required entry items
        (owed only by an engagement that entered there), in order; empty for no such stage."""
        return self._required_index.get(stage_id, ((), ()))

    def checklist_ids(self, stage_id: str) -> tuple[str, ...]:
        """The ids of every item of *stage_id*'s checklist (entering the stage reopens them)."""
        return self._checklist_index.get(stage_id, ())

    @functools.cached_property
    def gated_triggers(self) -> frozenset[str]:
        """The ids of the triggers the checklist gate guards (``gate = true``, the default)."""
        return frozenset(t.id for t in self._trigger_index.values() if t.gate)

    @functools.cached_property
    def new_round_triggers(self) -> frozenset[str]:
        """The ids of the triggers that start a new round (``new_round = true``)."""
        return frozenset(t.id for t in self._trigger_index.values() if t.new_round)

    # Lookups run on every decision and replayed event: index once per playbook object.
    @functools.cached_property
    def _stage_index(self) -> dict[str, Stage]:
        return {s.id: s for s in self.stages}

    @functools.cached_property
    def _fact_index(self) -> dict[str, Fact]:
        return {f.id: f for f in self.facts}

    @functools.cached_property
    def _activity_index(self) -> dict[str, Activity]:
        return {a.id: a for a in self.activities}

    @functools.cached_property
    def _trigger_index(self) -> dict[str, Trigger]:
        return {t.id: t for t in self.triggers}

    @functools.cached_property
    def _required_index(self) -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
        return {
            s.id: (
                tuple(i.id for i in s.checklist if i.required),
                tuple(i.id for i in s.entry_checklist or () if i.required),
            )
            for s in self.stages
        }

    @functools.cached_property
    def _checklist_index(self) -> dict[str, tuple[str, ...]]:
        return {s.id: tuple(i.id for i in s.checklist) for s in self.stages}

    @functools.cached_property
    def _rule_index(self) -> dict[tuple[str, str], tuple[Rule, ...]]:
        index: dict[tuple[str, str], list[Rule]] = {}
        for rule in self.rules:
            for name in rule.on:
                index.setdefault(("trigger", name), []).append(rule)
            for name in rule.on_activity:
                index.setdefault(("activity", name), []).append(rule)
        return {key: tuple(rules) for key, rules in index.items()}

    def entered_from(self, stage_id: str) -> list[str]:
        """The other stages a non-returning trigger leads into *stage_id* from, in stage order:
        where a trigger with ``to = RETURN`` from *stage_id* may lead back to."""
        sources = {s for t in self.triggers if t.to == stage_id and not t.returns for s in t.from_}
        return [s.id for s in self.stages if s.id in sources and s.id != stage_id]

    def initial_stage(self) -> Stage:
        """Return the initial stage of a valid playbook."""
        return next(s for s in self.stages if s.initial)

    def item(self, item_id: str) -> tuple[Stage, ChecklistItem] | None:
        """Return the checklist item *item_id* with the stage it belongs to, or None."""
        for stage in self.stages:
            for item in (*stage.checklist, *(stage.entry_checklist or ())):
                if item.id == item_id:
                    return stage, item
        return None
