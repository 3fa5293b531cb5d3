"""An engagement as it stands: the result of replaying its history (see ``_replay``)."""

from __future__ import annotations

import datetime as dt
from typing import Literal, NamedTuple

import attrs

from ._model import Playbook

__all__ = ["Action", "ActivityRecord", "Engagement", "Entry", "Fired"]


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


class Fired(NamedTuple):
    """A trigger fired at event *seq* on date *on*, from *source* to *dest*."""

    trigger: str
    on: dt.date
    seq: int
    source: str
    dest: str


class Action(NamedTuple):
    """What a rule is asked about: firing a trigger, or recording an activity, on a date."""

    kind: Literal["trigger", "activity"]
    id: str
    on: dt.date


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
    seq: int = 0
    head: str = ""
    last_at: str = ""

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
        dates = [f.on for f in self.fired if f.trigger == name]
        dates += [a.on for a in self.activities if a.activity == name]
        return max(dates, default=None)

    def is_done(self, item: str) -> bool:
        """Whether checklist item *item* is checked (since its stage was last entered)."""
        return item in self.done

    def missing_items(self, stage_id: str) -> list[str]:
        """The required checklist items of *stage_id* not yet done."""
        stage = self.playbook.stage(stage_id)
        items = stage.checklist if stage else ()
        return [i.id for i in items if i.required and i.id not in self.done]
