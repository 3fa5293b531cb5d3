"""An engagement as it stands: the result of replaying its history (see ``_replay``)."""

from __future__ import annotations

import datetime as dt
from typing import Literal, NamedTuple

import attrs

from ._model import Playbook

__all__ = ["Action", "ActivityRecord", "Engagement", "Entry", "Fired", "LessonRecord", "Person"]


# Immutable (rule kinds see them) and as cheap to build as a slotted class: built per event.
class Entry(NamedTuple):
    """The engagement entered *stage* at event *seq*, on date *on*."""

    stage: str
    seq: int
    on: dt.date


class ActivityRecord(NamedTuple):
    """An activity that took place on *on* (which may precede its recording), during *stage*."""

    activity: str
    on: dt.date
    seq: int
    stage: str
    params: tuple[tuple[str, str], ...] = ()  # sorted (id, value) pairs (#13)


class Fired(NamedTuple):
    """A trigger fired at event *seq* on date *on*, from *source* to *dest*."""

    trigger: str
    on: dt.date
    seq: int
    source: str
    dest: str


class LessonRecord(NamedTuple):
    """A lesson recorded at event *seq* (#15), during *stage*; *on* is its ``--on`` day or ""."""

    seq: int
    at: str
    actor: str
    stage: str
    title: str
    text: str
    themes: tuple[str, ...]
    sections: tuple[tuple[str, str], ...]  # (heading id, text), in the order given
    on: str = ""

    @property
    def day(self) -> str:
        """The day of the lesson: its ``on``, else the day it was recorded."""
        return self.on or self.at[:10]


class Action(NamedTuple):
    """What a rule is asked about: firing a trigger, or recording an activity, on a date."""

    kind: Literal["trigger", "activity"]
    id: str
    on: dt.date
    params: tuple[tuple[str, str], ...] = ()  # an activity's parameters, sorted (#13)


@attrs.define
class Person:
    """Someone in a role in the engagement, from *since* (until *left*, when they leave)."""

    name: str
    role: str
    since: dt.date
    seq: int
    org: str = ""
    left: dt.date | None = None
    left_seq: int = 0
    by_handover: bool = False

    @property
    def active(self) -> bool:
        """Whether the person is still in the engagement."""
        return self.left is None


@attrs.define
class Engagement:
    """One engagement's state. ``stage`` is the attribute the compiled state machine drives."""

    id: str
    title: str
    playbook: Playbook
    playbook_sha256: str
    stage: str
    opened_on: dt.date
    facts: dict[str, object] = attrs.field(factory=dict)
    done: dict[str, int] = attrs.field(factory=dict)
    entries: list[Entry] = attrs.field(factory=list)
    activities: list[ActivityRecord] = attrs.field(factory=list)
    fired: list[Fired] = attrs.field(factory=list)
    notes: int = 0
    # The practice (#13): where it was entered and through which channel, its round, the
    # people in roles, links to other engagements, and the latest occurrence date of a move.
    entry: str = ""
    channel: str = ""
    round: int = 1
    people: list[Person] = attrs.field(factory=list)
    links: dict[tuple[str, str], str] = attrs.field(factory=dict)
    last_on: dt.date | None = None
    # Lessons (#15): those recorded here, and every cite of a tick: (seq of the tick,
    # "ENGAGEMENT:SEQ" of the lesson cited), in history order.
    lessons: list[LessonRecord] = attrs.field(factory=list)
    cites: list[tuple[int, str]] = attrs.field(factory=list)
    seq: int = 0
    head: str = ""
    last_at: str = ""
    # The latest occurrence of each trigger and activity, kept up as the lists grow (both are
    # append-only): replay and the audit ask it per event, so a scan would be quadratic.
    _occurred: dict[str, dt.date] = attrs.field(factory=dict, init=False, eq=False, repr=False)
    _occurred_at: tuple[int, int, int, int] = attrs.field(
        default=(0, 0, 0, 0), init=False, eq=False, repr=False
    )

    @property
    def final(self) -> bool:
        """Whether the engagement is in a final stage."""
        stage = self.playbook.stage(self.stage)
        return bool(stage and stage.final)

    def visited(self, stage: str) -> bool:
        """Whether the engagement has ever entered *stage* (the current one included)."""
        for entry in self.entries:  # a loop, not any(): this runs on every stage-visited rule
            if entry.stage == stage:
                return True
        return False

    def came_from(self) -> str | None:
        """The stage the engagement was in before it entered its current stage (re-entries of
        the current stage skipped), or None when it has been nowhere else."""
        for entry in reversed(self.entries):
            if entry.stage != self.stage:
                return entry.stage
        return None

    def last_entry(self, stage: str) -> Entry | None:
        """The latest entry into *stage*, or None."""
        return next((e for e in reversed(self.entries) if e.stage == stage), None)

    def last_occurrence(self, name: str) -> dt.date | None:
        """The latest date a trigger fired or an activity took place, by id; None if never."""
        fired, activities = self.fired, self.activities
        known_f, known_a, fired_id, activities_id = self._occurred_at
        if (fired_id, activities_id) != (id(fired), id(activities)) or (
            len(fired) < known_f or len(activities) < known_a
        ):
            self._occurred.clear()  # new lists (a snapshot, a copy): index them afresh
            known_f = known_a = 0
        occurred = self._occurred
        new = [(f.trigger, f.on) for f in fired[known_f:]]
        new += [(a.activity, a.on) for a in activities[known_a:]]
        for key, on in new:
            if (latest := occurred.get(key)) is None or on > latest:
                occurred[key] = on
        self._occurred_at = (len(fired), len(activities), id(fired), id(activities))
        return occurred.get(name)

    def person(self, name: str) -> Person | None:
        """The person *name* still in the engagement, or None."""
        return next((p for p in self.people if p.name == name and p.active), None)

    def current_envoy(self) -> str | None:
        """The envoy now in place: the latest active person in role envoy, else the fact."""
        envoys = [p.name for p in self.people if p.role == "envoy" and p.active]
        if envoys:
            return envoys[-1]
        value = self.facts.get("envoy")
        return value if isinstance(value, str) else None

    def is_done(self, item: str) -> bool:
        """Whether checklist item *item* is checked (since its stage was last entered)."""
        return item in self.done

    def missing_items(self, stage_id: str) -> list[str]:
        """The required checklist items of *stage_id* not yet done."""
        stage = self.playbook.stage(stage_id)
        items = stage.checklist if stage else ()
        if stage is not None and stage.id == self.entry and self.round == 1:
            items = (*items, *(stage.entry_checklist or ()))  # owed by who entered here
        return [i.id for i in items if i.required and i.id not in self.done]
