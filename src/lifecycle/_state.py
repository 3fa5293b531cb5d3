"""An engagement as it stands: the result of replaying its history (see ``_replay``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Final, Literal, NamedTuple

import attrs

from ._log import Log
from ._model import Playbook
from ._stateindex import StateIndex

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


def _entry_log(value: Iterable[Entry]) -> Log[Entry]:
    return value if isinstance(value, Log) else Log(value)


def _activity_log(value: Iterable[ActivityRecord]) -> Log[ActivityRecord]:
    return value if isinstance(value, Log) else Log(value)


def _fired_log(value: Iterable[Fired]) -> Log[Fired]:
    return value if isinstance(value, Log) else Log(value)


# A named tuple from its fields without the Python-level __new__ of NamedTuple (one per move).
_record: Final = tuple.__new__


# No conversion on assignment: attrs would then route every attribute assignment through Python
# code, and replay assigns seq, head and last_at per event. Assign logs as Log objects.
@attrs.define(on_setattr=attrs.setters.NO_OP)
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
    # Append-only logs (a list given is made one): copies share them, the audit spills them (#14).
    entries: Log[Entry] = attrs.field(factory=Log, converter=_entry_log)
    activities: Log[ActivityRecord] = attrs.field(factory=Log, converter=_activity_log)
    fired: Log[Fired] = attrs.field(factory=Log, converter=_fired_log)
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
    cites: list[tuple[int, str, str]] = attrs.field(factory=list)  # (seq, cite, the tick's at)
    seq: int = 0
    head: str = ""
    last_at: str = ""
    # What rules ask of the logs, kept up as they grow (replay and the audit ask it per event, so
    # a scan would be quadratic): one value per stage, trigger and activity, none per event.
    _index: StateIndex = attrs.field(factory=StateIndex, init=False, eq=False, repr=False)

    def indexed(self) -> StateIndex:
        """The index of the logs, caught up with them."""
        index, entries, activities, fired = self._index, self.entries, self.activities, self.fired
        logs = index.logs
        known = index.known
        try:  # the hot path of every rule: nothing appended since the last question
            if (  # lengths compared one by one: no tuple built (two questions per move)
                logs[0] is entries
                and logs[1] is activities
                and logs[2] is fired
                and known[0] == entries._len
                and known[1] == activities._len
                and known[2] == fired._len
            ):
                return index
        except AttributeError:  # lists assigned in place of logs
            pass
        return index.current(entries, activities, fired)

    def moved(self, stage: str, seq: int, on: dt.date, move: Fired | None = None) -> None:
        """The engagement entered *stage* at event *seq* on *on*, by *move* (or forced): the
        entry (and move) appended with the index kept up (every transition asks it next), the
        stage's checklist reopened (an incoming envoy gets their own induction), and the day
        kept as the latest occurrence (a move is one; opening is not, #13)."""
        if seq > 1 and (self.last_on is None or on > self.last_on):
            self.last_on = on
        done = self.done
        if done:
            for item in self.playbook.checklist_ids(stage):
                done.pop(item, None)
        entry = _record(Entry, (stage, seq, on))
        index = self.indexed()
        if move is not None:
            self.fired.append(move)
        self.entries.append(entry)
        index.moved(entry, move)

    def recorded(self, activity: ActivityRecord) -> None:
        """Append *activity* to the activities, the index kept up with it (as :meth:`moved`):
        the audit asks it at the next activity (no catch-up then)."""
        index = self.indexed()
        self.activities.append(activity)
        index.recorded(activity)

    def copy(self) -> Engagement:
        """A copy whose mutable parts are its own, in O(1) of the history's length: the logs
        are shared (append-only), the dicts copied (one value per fact, item, person, link)."""
        new = attrs.evolve(
            self,
            facts=dict(self.facts),
            done=dict(self.done),
            entries=self.entries.copy(),
            activities=self.activities.copy(),
            fired=self.fired.copy(),
            people=[attrs.evolve(p) for p in self.people],
            links=dict(self.links),
            lessons=list(self.lessons),  # one per lesson event (#15): few, not one per event
            cites=list(self.cites),
        )
        new._index = self.indexed().copy_for(new.entries, new.activities, new.fired)
        return new

    @property
    def final(self) -> bool:
        """Whether the engagement is in a final stage."""
        stage = self.playbook.stage(self.stage)
        return bool(stage and stage.final)

    def visited(self, stage: str) -> bool:
        """Whether the engagement has ever entered *stage* (the current one included)."""
        return stage in self.indexed().last_entry

    def came_from(self) -> str | None:
        """The stage the engagement was in before it entered its current stage (re-entries of
        the current stage skipped), or None when it has been nowhere else."""
        index = self.indexed()
        if index.last_stage == self.stage:
            return index.came
        for entry in reversed(self.entries):  # the stage was set without an entry (rare)
            if entry.stage != self.stage:
                return entry.stage
        return None

    def last_entry(self, stage: str) -> Entry | None:
        """The latest entry into *stage*, or None."""
        return self.indexed().last_entry.get(stage)

    def last_occurrence(self, name: str) -> dt.date | None:
        """The latest date a trigger fired or an activity took place, by id; None if never."""
        return self.indexed().occurred.get(name)

    def activity_count(self, activity: str, since: str | None = None) -> int:
        """How often *activity* was recorded; with *since*, only after the latest entry into
        that stage (zero when it was never entered)."""
        index = self.indexed()
        total = index.counts.get(activity, 0)
        if since is None:
            return total
        if since not in index.last_entry:
            return 0
        return total - index.counts_at[since].get(activity, 0)

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

    def fact_value(self, fact: str) -> object:
        """The value of fact *fact*, or None when it is not set (``facts.get``)."""
        return self.facts.get(fact)

    def is_done(self, item: str) -> bool:
        """Whether checklist item *item* is checked (since its stage was last entered)."""
        return item in self.done

    def missing_items(self, stage_id: str) -> list[str]:
        """The required checklist items of *stage_id* not yet done."""
        required, on_entry = self.playbook.required_items(stage_id)
        if on_entry and stage_id == self.entry and self.round == 1:
            required += on_entry  # owed by who entered here
        if not required:
            return []
        done = self.done
        return [item for item in required if item not in done]
