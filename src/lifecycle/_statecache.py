"""Where the engine's state of each engagement comes from: its own last state, or a snapshot.

Both are accelerators (DESIGN principle 1). Each is used only with its anchor, the byte range and
hash of the last line it covers; the store checks that line is unchanged before the lines after
it are verified and applied. Otherwise the history is replayed whole.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._history import Anchor
from ._replay import ReplayError, apply, replay
from ._snapshot import MIN_EVENTS
from ._state import Engagement
from .exceptions import CorruptHistoryError

if TYPE_CHECKING:
    from ._store import Store

__all__ = ["StateCache", "continued", "copy_engagement"]

Record = dict[str, Any]  # Any: a JSON object as stored.


class StateCache:
    """The engine's memory of each history, by engagement id: its last state and anchor, and
    the seq of the snapshot its store keeps (#11: keyed by id, snapshots behind the store)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._live: dict[str, tuple[Engagement, Anchor]] = {}
        self._snapshot_at: dict[str, int] = {}  # the seq of the store's snapshot, per history

    def cached(self, engagement: str) -> tuple[Engagement, Anchor] | None:
        """A state to continue from: this engine's last one, else the store's snapshot."""
        live = self._live.get(engagement)
        if live is not None:
            return copy_engagement(live[0]), live[1]  # the command works on its own copy
        snapshot = self._store.load_snapshot(engagement)
        self._snapshot_at[engagement] = snapshot[1].seq if snapshot else 0
        return snapshot

    def remember(self, key: str, engagement: Engagement, anchor: Anchor, used: bool) -> None:
        """Keep the state for the next command; save a snapshot when the last is far behind.

        When the cached state was not used (its anchor line changed), the snapshot on disk is
        stale: it is rewritten, or removed when the history is too short to need one.
        """
        last = self._snapshot_at.get(key, 0) if used else 0
        if engagement.seq == anchor.seq and _snapshot_due(last, anchor):
            self._store.save_snapshot(key, engagement, anchor)
            self._snapshot_at[key] = anchor.seq
        elif not used and self._snapshot_at.get(key):
            self._store.remove_snapshot(key)
            self._snapshot_at[key] = 0
        # A copy: the caller's engagement (a Result's, a plugin's) may be changed by its holder.
        self._live[key] = (copy_engagement(engagement), anchor)


def continued(
    label: str,
    cached: tuple[Engagement, Anchor] | None,
    records: list[Record],
    read_to: Anchor | None,
) -> tuple[Engagement, bool]:
    """The engagement, and whether *cached* was used: the cached state with *records* applied,
    or (no cache, or it was stale and the file was read whole) a full replay of *records*.

    *read_to* is where the read ended: when the cached anchor held, it is that anchor or later;
    any other end means the file was read whole (then an empty read is an empty history).

    Raises:
        CorruptHistoryError: An event does not fit its schema, or cannot be replayed.
    """
    if records:  # the event schemas are loaded only when there are events to check
        from ._events import check_events

        check_events(label, records)
    try:
        resumed = cached is not None and (
            (records and records[0].get("seq") == cached[1].seq + 1)
            or (not records and read_to is not None and read_to.head == cached[1].head)
        )
        if cached is None or not resumed:
            return replay(records), False
        engagement = cached[0]
        for record in records:
            apply(engagement, record)
        return engagement, True
    except ReplayError as exc:
        raise CorruptHistoryError(label, f"cannot replay: {exc}", exc.seq) from None


def copy_engagement(engagement: Engagement) -> Engagement:
    """A copy whose mutable parts are its own (a Result's engagement never changes later), made
    in O(1) of the history's length (:meth:`Engagement.copy`)."""
    return engagement.copy()


def _snapshot_due(last: int, anchor: Anchor) -> bool:
    """Whether to save a snapshot: the history is long and the last snapshot is far behind.

    Far is MIN_EVENTS events, or an eighth of the history when that is more: a snapshot costs
    O(history) to write, so writing one every eighth keeps each command's share of it O(1)
    (#14), and a command that starts from the snapshot replays at most an eighth.
    """
    return anchor.seq >= MIN_EVENTS and anchor.seq - last >= max(MIN_EVENTS, anchor.seq // 8)
