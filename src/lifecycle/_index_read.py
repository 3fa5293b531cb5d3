"""Reading one history for the portfolio index: without its lock, verified, only what is new.

The index never takes a history's lock (writers never wait on it): it reads the bytes as they
are, verifies them strictly as every reader does, and retries a moment later when it meets a last
line still being written. What it knew of a history (the seq, hash and byte range of its head
line, an :class:`~lifecycle._history.Anchor`) decides how much is read:

- the file grew and the line at the known head's place still carries the known hash: only the
  lines after it are read and verified (the state continues from the engine's snapshot when
  there is one at or before the known head; else the file is replayed whole, as the engine does);
- anything else (same size but another stat, a shorter file, the head line changed): the file is
  read whole; when its event at the known head's seq no longer has the known hash, the history
  changed behind the index, and :attr:`Fresh.warning` says so. A chain that verifies up to the
  same head hash is the same bytes (each line's hash covers the one before), so nothing is said.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path
from typing import Any, Final

import attrs

from ._due import due_items
from ._files import open_regular, read_bounded
from ._history import Anchor, _anchor_holds, _verify
from ._index_text import document
from ._lessons import index_entries
from ._listing import row_of
from ._snapshot import load_snapshot
from ._state import Engagement
from ._statecache import continued
from .exceptions import TornTailError

__all__ = ["Fresh", "Stat", "read_history"]

Record = dict[str, Any]  # Any: a JSON object as stored.
Doc = tuple[int, str, str]  # (seq, event type, text)

_TORN_RETRIES: Final = 5
_TORN_PAUSE: Final = 0.01
_ANY_DAY: Final = dt.date(2000, 1, 1)  # due dates do not depend on today, only "overdue" does


@attrs.frozen
class Stat:
    """What ``stat`` says of a history: when all of it is unchanged, so are its bytes."""

    size: int
    mtime_ns: int
    ctime_ns: int
    ino: int

    @classmethod
    def of(cls, info: os.stat_result) -> Stat:
        """The fingerprint of *info*."""
        return cls(info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino)


@attrs.frozen
class Fresh:
    """One history as read now: its fingerprint and head, its ``list`` row and due items, and
    the search documents to add (all of them when *replace*, else those after the known head),
    and every lesson (:func:`~lifecycle._lessons.index_entries`)."""

    name: str
    stat: Stat
    anchor: Anchor
    seen_ns: int
    row: dict[str, Any]
    due: list[list[str]]
    docs: list[Doc]
    replace: bool
    warning: str | None = None
    how: str = "new"  # new, appended, verified (read whole, unchanged) or changed
    lessons: list[tuple[object, ...]] = attrs.field(factory=list)  # all of them (#15)


def read_history(path: Path, name: str, known: Anchor | None) -> Fresh:
    """Read the history at *path* (engagement *name*) after what *known* says of it.

    Raises:
        LifecycleError: The history cannot be read, or is damaged (as the engine would say).
    """
    for attempt in range(_TORN_RETRIES):
        try:
            return _read(path, name, known)
        except TornTailError:
            if attempt == _TORN_RETRIES - 1:
                raise  # still torn: not a write in progress but a crash (`repair` cuts it)
            time.sleep(_TORN_PAUSE)
    raise AssertionError("unreachable")  # pragma: no cover


def _read(path: Path, name: str, known: Anchor | None) -> Fresh:
    label = str(path)
    fd = open_regular(path, os.O_RDONLY)
    try:
        seen = time.time_ns()
        stat = Stat.of(os.fstat(fd))
        if known is not None and stat.size > known.end and _anchor_holds(fd, known):
            grown = _grown(label, path, fd, known)
            if grown is not None:
                eng, docs, anchor = grown
                return _fresh(name, stat, anchor, seen, eng, docs, replace=False, how="appended")
        records, anchor = _verify(label, read_bounded(path, fd), None, name)
    finally:
        os.close(fd)
    eng = continued(label, None, records, anchor)[0]
    if known is None:
        return _fresh(name, stat, anchor, seen, eng, _docs(records), replace=True)
    at = known.seq
    if at <= len(records) and records[at - 1]["hash"] == known.head:
        docs = _docs(records[at:])
        how = "appended" if len(records) > at else "verified"
        return _fresh(name, stat, anchor, seen, eng, docs, replace=False, how=how)
    now = (
        f"event {at} is {records[at - 1]['hash'][:12]}"
        if at <= len(records)
        else (f"it has {len(records)} events")
    )
    warning = (
        f"{label}: the history changed behind the index (event {at} was "
        f"{known.head[:12]}, now {now}); read again whole"
    )
    docs = _docs(records)
    return _fresh(name, stat, anchor, seen, eng, docs, replace=True, warning=warning, how="changed")


def _grown(
    label: str, path: Path, fd: int, known: Anchor
) -> tuple[Engagement, list[Doc], Anchor] | None:
    """The state and new documents when the engine's snapshot lies at or before the known head
    and still holds (only the lines after it are read); None otherwise."""
    snapshot = load_snapshot(path)
    if snapshot is None or snapshot[1].seq > known.seq:
        return None
    if not _anchor_holds(fd, snapshot[1]):
        return None
    records, anchor = _verify(label, read_bounded(path, fd, snapshot[1].end), snapshot[1])
    eng, used = continued(label, snapshot, records, anchor)
    if not used:
        return None
    at = known.seq
    return eng, _docs([r for r in records if r["seq"] > at]), anchor


def _fresh(
    name: str,
    stat: Stat,
    anchor: Anchor,
    seen: int,
    eng: Engagement,
    docs: list[Doc],
    *,
    replace: bool,
    warning: str | None = None,
    how: str = "new",
) -> Fresh:
    if stat.size != anchor.end:  # the file moved on while it was read: verify it next time
        stat = attrs.evolve(stat, size=-1)
    due = [[i.kind, i.id, i.title, i.due.isoformat(), i.source] for i in due_items(eng, _ANY_DAY)]
    lessons = index_entries(eng)
    return Fresh(name, stat, anchor, seen, row_of(eng), due, docs, replace, warning, how, lessons)


def _docs(records: list[Record]) -> list[Doc]:
    out = []
    for record in records:
        text = document(record)
        if text is not None:
            out.append((int(record["seq"]), str(record["type"]), text))
    return out
