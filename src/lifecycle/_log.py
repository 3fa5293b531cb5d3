"""Append-only logs: an engagement's entries, activities and fired triggers (#14).

Two costs must not grow with a history's length, and a plain list has both:

- **Copying.** The engine hands each command's result its own state, and keeps another for the
  next command. Copies of a :class:`Log` share the items they have in common, so a copy costs
  O(1): a log only ever appends, and items are immutable records. A copy that appends after
  another copy has appended past their common end takes its own list first (a fork), so no copy
  ever sees another's items.
- **Memory.** With a limit (the audit sets one), the oldest items beyond it are moved, in chunks,
  to an anonymous temporary file that only this process can reach (it has no name), and read
  back when someone iterates the whole log. Memory then holds at most *limit* items per log,
  plus one file offset per chunk.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from typing import IO, Any, Final, Generic, TypeVar, overload

__all__ = ["AUDIT_LIMIT", "Log"]

T = TypeVar("T")

AUDIT_LIMIT: Final = 8192  # items a log keeps in memory during an audit (of each of three logs)


class _Spill:
    """Chunks of items in an anonymous temporary file, shared by the copies of a log (a chunk is
    written once and never changed; each copy knows which chunks are its own)."""

    def __init__(self) -> None:
        import tempfile  # only an audit past its memory limit spills
        import weakref

        self.file: IO[bytes] = tempfile.TemporaryFile(prefix="lifecycle-log-")
        weakref.finalize(self, self.file.close)  # closed (and so gone) with the last copy
        self._last: tuple[int, list[Any]] | None = None  # Any: the items of one chunk

    def write(self, items: list[Any]) -> tuple[int, int]:
        """Append one chunk; return its offset and size in bytes."""
        # Any: immutable records (named tuples of str, int, date, tuples).
        import pickle

        data = pickle.dumps(items, protocol=pickle.HIGHEST_PROTOCOL)
        self.file.seek(0, 2)
        offset = self.file.tell()
        self.file.write(data)
        return offset, len(data)

    def read(self, offset: int, size: int) -> list[Any]:
        """The items of the chunk at *offset* (the last one read is kept)."""
        # Any: as written. pickle is safe here: the file has no name, only this process wrote it.
        if self._last is not None and self._last[0] == offset:
            return self._last[1]
        import pickle

        self.file.seek(offset)
        items: list[Any] = pickle.loads(self.file.read(size))
        self._last = (offset, items)
        return items


class Log(Sequence[T], Generic[T]):
    """An append-only sequence whose copies share their common items (see the module)."""

    __slots__ = ("_chunks", "_items", "_len", "_limit", "_spill", "_spilled")

    def __init__(self, items: Iterable[T] = ()) -> None:
        self._items: list[T] = list(items)
        self._len = len(self._items)
        self._spilled = 0  # how many of the first items live in the spill file
        # (offset, size, count) per spilled chunk; replaced, never changed, when one is added, so
        # that a copy's list stays its own.
        self._chunks: list[tuple[int, int, int]] = []
        self._spill: _Spill | None = None
        self._limit = 0

    # ------------------------------------------------------------------ writing

    def append(self, item: T) -> None:
        """Add *item* at the end."""
        items, tail = self._items, self._len - self._spilled
        if tail != len(items):  # another copy appended past our end: take our own list
            items = self._items = items[:tail]
        items.append(item)
        self._len += 1
        if self._limit and len(items) > self._limit:
            self._spill_oldest()

    def copy(self) -> Log[T]:
        """A copy in O(1): it shares every item with this log (both only ever append)."""
        new: Log[T] = Log.__new__(Log)
        new._items, new._len, new._spilled = self._items, self._len, self._spilled
        new._chunks, new._spill, new._limit = self._chunks, self._spill, self._limit
        return new

    def limit_memory(self, limit: int) -> None:
        """Keep at most *limit* items in memory from now on (older ones go to a temporary file)."""
        self._limit = max(2, limit)
        while len(self._items) > self._limit:
            self._spill_oldest()

    def _spill_oldest(self) -> None:
        tail = self._len - self._spilled
        half = min(self._limit // 2, tail)
        if self._spill is None:
            self._spill = _Spill()
        offset, size = self._spill.write(self._items[:half])
        self._chunks = [*self._chunks, (offset, size, half)]  # a new list: copies keep theirs
        self._items = self._items[half:tail]
        self._spilled += half

    # ------------------------------------------------------------------ reading

    def __len__(self) -> int:
        return self._len

    @property
    def length(self) -> int:
        """``len(log)``, as an attribute read (hot paths)."""
        return self._len

    def tail(self, start: int) -> list[T]:
        """The items from index *start* on, as a list."""
        if start >= self._spilled:
            return self._items[start - self._spilled : self._len - self._spilled]
        return list(self._iter_from(start))

    def __iter__(self) -> Iterator[T]:
        return self._iter_from(0)

    def __reversed__(self) -> Iterator[T]:
        tail = self._len - self._spilled
        for index in range(tail - 1, -1, -1):
            yield self._items[index]
        for chunk in reversed(self._chunks):
            yield from reversed(self._read(chunk))

    @overload
    def __getitem__(self, index: int) -> T: ...

    @overload
    def __getitem__(self, index: slice) -> list[T]: ...

    def __getitem__(self, index: int | slice) -> T | list[T]:
        if isinstance(index, slice):
            start, stop, step = index.indices(self._len)
            if step == 1 and start >= self._spilled:
                return self._items[start - self._spilled : max(start, stop) - self._spilled]
            if step == 1:
                return list(itertools.islice(self._iter_from(start), max(0, stop - start)))
            return list(self)[index]
        if index < 0:
            index += self._len
        if not 0 <= index < self._len:
            raise IndexError("log index out of range")
        if index >= self._spilled:
            return self._items[index - self._spilled]
        return next(self._iter_from(index))

    def _iter_from(self, start: int) -> Iterator[T]:
        """The items from index *start* on."""
        position = 0
        for chunk in self._chunks:
            count = chunk[2]
            if position + count > start:
                yield from self._read(chunk)[max(0, start - position) :]
            position += count
        tail = self._len - self._spilled
        yield from itertools.islice(self._items, max(0, start - self._spilled), tail)

    def _read(self, chunk: tuple[int, int, int]) -> list[T]:
        assert self._spill is not None
        items: list[T] = self._spill.read(chunk[0], chunk[1])
        return items

    # ------------------------------------------------------------------ comparing, copying

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Log | list | tuple):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]  # mutable, like a list

    def __repr__(self) -> str:
        return f"Log({list(self)!r})"

    def __reduce__(self) -> tuple[type[Log[T]], tuple[list[T]]]:
        return Log, (list(self),)  # a pickled log carries its items, never the temporary file
