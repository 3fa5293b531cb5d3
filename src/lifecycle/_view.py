"""The read-only engagement that rule kinds and ``lifecycle_event`` hooks see.

A rule is asked a question about the engagement; it must never change the state the engine then
records (a rule that ticks items would make the gate record ``pass``). The view is cheap: it
copies nothing when it is made; mappings are read-only proxies of the live ones, sequences are
tuples of immutable records, made only when a plugin asks for them. Any assignment raises.
It is a guard against mistakes, not a sandbox: plugin code can always reach what Python can.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final, NoReturn

from ._model import Playbook
from ._state import ActivityRecord, Engagement, Entry, Fired

__all__ = ["EngagementView"]


class EngagementView:
    """An engagement as rules see it: every attribute and method of
    :class:`~lifecycle.Engagement` that reads, none that writes."""

    __slots__ = ("__engagement",)
    __engagement: Engagement

    def __init__(self, engagement: Engagement) -> None:
        _set_engagement(self, engagement)

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError(f"the engagement is read-only here: cannot set {name!r}")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError(f"the engagement is read-only here: cannot delete {name!r}")

    def __repr__(self) -> str:
        return f"<EngagementView {self.id!r} in {self.stage!r} at event {self.seq}>"

    @property
    def id(self) -> str:
        """The engagement id."""
        return self.__engagement.id

    @property
    def title(self) -> str:
        """The engagement's title."""
        return self.__engagement.title

    @property
    def playbook(self) -> Playbook:
        """The playbook it runs under (frozen)."""
        return self.__engagement.playbook

    @property
    def playbook_sha256(self) -> str:
        """The sha256 of the embedded playbook."""
        return self.__engagement.playbook_sha256

    @property
    def stage(self) -> str:
        """The current stage."""
        return self.__engagement.stage

    @property
    def opened_on(self) -> dt.date:
        """The date it was opened."""
        return self.__engagement.opened_on

    @property
    def facts(self) -> Mapping[str, object]:
        """The facts, read-only."""
        return MappingProxyType(self.__engagement.facts)

    @property
    def done(self) -> Mapping[str, int]:
        """Checked items of the stages as last entered, to the seq that checked them; read-only."""
        return MappingProxyType(self.__engagement.done)

    @property
    def entries(self) -> tuple[Entry, ...]:
        """Every entry into a stage, oldest first."""
        return tuple(self.__engagement.entries)

    @property
    def activities(self) -> tuple[ActivityRecord, ...]:
        """Every activity recorded, oldest first."""
        return tuple(self.__engagement.activities)

    @property
    def fired(self) -> tuple[Fired, ...]:
        """Every trigger fired, oldest first."""
        return tuple(self.__engagement.fired)

    @property
    def notes(self) -> int:
        """How many notes were added."""
        return self.__engagement.notes

    @property
    def seq(self) -> int:
        """The seq of the last event applied."""
        return self.__engagement.seq

    @property
    def head(self) -> str:
        """The hash of the last event applied."""
        return self.__engagement.head

    @property
    def last_at(self) -> str:
        """The ``at`` of the last event applied."""
        return self.__engagement.last_at

    @property
    def final(self) -> bool:
        """Whether the engagement is in a final stage."""
        return self.__engagement.final

    def visited(self, stage: str) -> bool:
        """Whether the engagement has ever entered *stage* (the current one included)."""
        # As Engagement.visited, one call less: every stage-visited rule asks it.
        return stage in self.__engagement.indexed().last_entry

    def last_entry(self, stage: str) -> Entry | None:
        """The latest entry into *stage*, or None."""
        return self.__engagement.last_entry(stage)

    def last_occurrence(self, name: str) -> dt.date | None:
        """The latest date a trigger fired or an activity took place, by id; None if never."""
        return self.__engagement.last_occurrence(name)

    def activity_count(self, activity: str, since: str | None = None) -> int:
        """How often *activity* was recorded (after the latest entry into *since*, if given)."""
        return self.__engagement.activity_count(activity, since)

    def fact_value(self, fact: str) -> object:
        """The value of fact *fact*, or None when it is not set (``facts.get``, without the
        read-only mapping made for it: the fact rules ask it at every decision)."""
        return self.__engagement.facts.get(fact)

    def is_done(self, item: str) -> bool:
        """Whether checklist item *item* is checked (since its stage was last entered)."""
        return self.__engagement.is_done(item)

    def missing_items(self, stage_id: str) -> list[str]:
        """The required checklist items of *stage_id* not yet done."""
        return self.__engagement.missing_items(stage_id)


# The slot's own setter (one per decision): no name lookup, and no way round __setattr__ for rules.
_set_engagement: Final = EngagementView.__dict__["_EngagementView__engagement"].__set__
