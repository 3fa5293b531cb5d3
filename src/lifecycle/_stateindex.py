"""What the rules ask of an engagement's logs, kept up as they grow (#14).

Rules and the audit ask, at every event, whether a stage was visited, when it was last entered,
where the engagement came from, when a trigger or activity last occurred and how often an activity
was recorded since a stage was entered. Scanning the logs for each answer makes every command
cost O(history); this index answers each in O(1). It holds one value per stage, trigger and
activity of the playbook, never one per event, and catches up lazily from the logs (which only
ever append): replaced logs, or shorter ones, are indexed afresh.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, TypeVar

from ._log import Log

if TYPE_CHECKING:
    from ._state import ActivityRecord, Entry, Fired

__all__ = ["StateIndex"]


class StateIndex:
    """The index of one engagement's entries, activities and fired triggers."""

    __slots__ = (
        "came",
        "counts",
        "counts_at",
        "known",
        "last_entry",
        "last_stage",
        "logs",
        "occurred",
        "snapshot",
    )

    def __init__(self) -> None:
        self.logs: tuple[object, object, object] = (None, None, None)
        self.known = (0, 0, 0)  # how many entries, activities and fired are indexed
        self.occurred: dict[str, dt.date] = {}  # the latest date of each trigger and activity
        self.last_entry: dict[str, Entry] = {}  # the latest entry into each stage
        self.counts: dict[str, int] = {}  # activities recorded, by id
        self.counts_at: dict[str, dict[str, int]] = {}  # counts when each stage was last entered
        self.last_stage: str | None = None  # the stage of the last entry
        self.came: str | None = None  # the stage entered before it (re-entries skipped)
        # A copy of counts as they are now, shared by the entries since the last activity (the
        # values of counts_at are never changed, only replaced): None once an activity counts.
        self.snapshot: dict[str, int] | None = None

    def current(
        self, entries: Sequence[Entry], activities: Sequence[ActivityRecord], fired: Sequence[Fired]
    ) -> StateIndex:
        """The index caught up with the logs given (indexed afresh when they are not the ones
        indexed so far, or shorter than them)."""
        # The hot path of every rule and replayed move: attribute reads, no method calls.
        mine = self.logs
        if mine[0] is entries and mine[1] is activities and mine[2] is fired:
            lengths = _lengths(entries, activities, fired)
            known = self.known
            if lengths == known:
                return self
            if lengths[0] >= known[0] and lengths[1] >= known[1] and lengths[2] >= known[2]:
                added = _tail(activities, known[1])
                if added:
                    self._add(_tail(entries, known[0]), added)
                else:  # a move (the common case): entries only, no merge by seq needed
                    for entry in _tail(entries, known[0]):
                        self._enter(entry)
                self._fire(_tail(fired, known[2]))
                self.known = lengths
                return self
        self.__init__()  # type: ignore[misc]  # start afresh
        self.logs = (entries, activities, fired)
        self._add(entries, activities)
        self._fire(fired)
        self.known = (len(entries), len(activities), len(fired))
        return self

    def moved(self, entry: Entry, move: Fired | None) -> None:
        """Index *entry* and *move*, just appended to the logs this index was current with."""
        # _enter's work, inline: one move per transition, and one call less for each. Fields
        # by index (entry[0] is its stage; move[0] and move[1] its trigger and day): a named
        # tuple's field by name is a descriptor call in Python 3.11, by index one instruction.
        stage, last = entry[0], self.last_stage
        if last is not None and stage != last:
            self.came = last
        self.last_stage = stage
        self.last_entry[stage] = entry
        snapshot = self.snapshot
        if snapshot is None:
            snapshot = self.snapshot = dict(self.counts)
        self.counts_at[stage] = snapshot
        ke, ka, kf = self.known
        if move is None:
            self.known = (ke + 1, ka, kf)
            return
        occurred, trigger, on = self.occurred, move[0], move[1]
        if (latest := occurred.get(trigger)) is None or on > latest:
            occurred[trigger] = on
        self.known = (ke + 1, ka, kf + 1)

    def recorded(self, activity: ActivityRecord) -> None:
        """Index *activity*, just appended to the logs this index was current with (what
        :meth:`current` does for one activity and no entry)."""
        name, counts, occurred = activity.activity, self.counts, self.occurred
        counts[name] = counts.get(name, 0) + 1
        self.snapshot = None
        if (latest := occurred.get(name)) is None or activity.on > latest:
            occurred[name] = activity.on
        ke, ka, kf = self.known
        self.known = (ke, ka + 1, kf)

    def copy_for(
        self, entries: Sequence[Entry], activities: Sequence[ActivityRecord], fired: Sequence[Fired]
    ) -> StateIndex:
        """A copy for an engagement whose logs are copies of the ones indexed here."""
        new = StateIndex()
        new.logs, new.known = (entries, activities, fired), self.known
        new.occurred, new.last_entry = dict(self.occurred), dict(self.last_entry)
        new.counts, new.counts_at = dict(self.counts), dict(self.counts_at)
        new.last_stage, new.came, new.snapshot = self.last_stage, self.came, self.snapshot
        return new

    def _add(self, entries: Sequence[Entry], activities: Sequence[ActivityRecord]) -> None:
        # Entries and activities in seq order: an entry notes the counts of the activities before it.
        occurred, counts = self.occurred, self.counts
        i = j = 0
        while i < len(entries) or j < len(activities):
            if j >= len(activities) or (i < len(entries) and entries[i].seq < activities[j].seq):
                self._enter(entries[i])
                i += 1
                continue
            activity = activities[j]
            j += 1
            counts[activity.activity] = counts.get(activity.activity, 0) + 1
            self.snapshot = None
            if (latest := occurred.get(activity.activity)) is None or activity.on > latest:
                occurred[activity.activity] = activity.on

    def _fire(self, fired: Sequence[Fired]) -> None:
        occurred = self.occurred
        for move in fired:
            if (latest := occurred.get(move.trigger)) is None or move.on > latest:
                occurred[move.trigger] = move.on

    def _enter(self, entry: Entry) -> None:
        # As moved() does inline (a test holds them equal).
        stage, last = entry.stage, self.last_stage
        if last is not None and stage != last:
            self.came = last
        self.last_stage = stage
        self.last_entry[stage] = entry
        snapshot = self.snapshot
        if snapshot is None:
            snapshot = self.snapshot = dict(self.counts)
        self.counts_at[stage] = snapshot


T = TypeVar("T")


def _lengths(
    entries: Sequence[Entry], activities: Sequence[ActivityRecord], fired: Sequence[Fired]
) -> tuple[int, int, int]:
    if type(entries) is Log and type(activities) is Log and type(fired) is Log:
        return entries._len, activities._len, fired._len  # attribute reads: the hot path
    return len(entries), len(activities), len(fired)


def _tail(log: Sequence[T], start: int) -> Sequence[T]:
    """The items of *log* from *start* on (without a method call for the common case)."""
    if type(log) is Log:
        if start == log._len:
            return ()
        if start >= log._spilled:
            return log._items[start - log._spilled : log._len - log._spilled]
        return log.tail(start)
    return log[start:]
