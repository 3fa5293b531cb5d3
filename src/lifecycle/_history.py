"""History stores: where an engagement's lines are kept, appended crash- and concurrency-safely.

:class:`FileHistoryStore` is the real one: ``O_APPEND``, one ``write`` per line, ``fsync`` before
success, ``flock`` while a command reads and appends. :class:`MemoryHistoryStore` keeps the same
lines in memory for tests and embedding. Both verify every line they read, strictly: any damage
raises (the lenient reader that reports findings is the audit's).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Final, Protocol

import attrs

from ._files import MAX_HISTORY_BYTES, append_at, lock, open_regular, read_bounded

# Re-exported: the other writers (keyring, repair, the file store) import these from here.
from ._files import _fsync_dir as _fsync_dir
from ._files import _write_durably as _write_durably
from ._files import append_durably as append_durably
from ._layout import SUFFIX as SUFFIX
from ._lines import (
    FORMAT,
    FORMAT_VERSION,
    MAX_LINE_BYTES,
    LineProblem,
    decode_line,
    encode_hashed,
    encode_line,
    header_record,
)
from .exceptions import (
    ConcurrencyConflict,
    CorruptHistoryError,
    EngagementExistsError,
    HistoryError,
    TornTailError,
)

__all__ = ["Anchor", "FileHistoryStore", "HistoryStore", "MemoryHistoryStore", "Record", "Session"]

Record = dict[str, Any]  # Any: a JSON object as stored.


class HistoryStore(Protocol):
    """Where one engagement's history lives."""

    @property
    def label(self) -> str:
        """How errors name this history (a path)."""

    def exists(self) -> bool:
        """Whether the history has been created."""

    def create(self, engagement: str, created: str, first: Mapping[str, Any]) -> Record:
        """Write the header and the first event of a new history at once; refuse if one exists."""

    def session(self, after: Anchor | None = None) -> contextlib.AbstractContextManager[Session]:
        """Hold the history exclusively: read it (after *after*, when given), then append."""


@attrs.define
class Session:
    """Exclusive access to a history: its verified records, and appends after them."""

    label: str
    records: list[Record]
    head_seq: int
    head_hash: str
    _write: Any = attrs.field(alias="write")  # Any: a callable taking the line's bytes.
    anchor: Anchor | None = None
    # Set by an append made with ``last=True``: the session will append no more, so a
    # transactional store may end the lock with that append's commit (docs/stores.md).
    last: bool = False

    def append(
        self, fields: Mapping[str, Any], *, expected_seq: int | None = None, last: bool = False
    ) -> Record:
        """Append one event; ``seq`` and ``prev`` are filled in. Returns the stored record.

        With *last*, the caller appends nothing more in this session (the engine's commands
        append once): a transactional store may then release the lock with the commit.

        Raises:
            ConcurrencyConflict: *expected_seq* is given and is not the head's seq.
            HistoryError: The write or fsync failed; nothing may be assumed written.
        """
        # Any: records are JSON objects.
        if expected_seq is not None and expected_seq != self.head_seq:
            raise ConcurrencyConflict(self.label, expected_seq, self.head_seq)
        record = {"seq": self.head_seq + 1, **fields, "prev": self.head_hash}
        line, digest = encode_hashed(record)
        check_size(self.label, line)
        self.last = last
        self._write(line)
        _remember(digest, line)
        # The record is ours alone (built above): it becomes the stored one, hash last.
        record["hash"] = digest
        self.records.append(record)
        self.head_seq, self.head_hash = record["seq"], digest
        anchor = self.anchor
        if anchor is not None:
            self.anchor = Anchor(self.head_seq, digest, anchor.end, anchor.end + len(line))
        return record


@attrs.frozen
class Anchor:
    """A verified point in a history file: event *seq* with hash *head*, on bytes [start, end)."""

    seq: int
    head: str
    start: int
    end: int


def check_size(label: str, line: bytes) -> None:
    """Refuse, before anything is written, a line the reader would refuse as too long (#9).

    Raises:
        HistoryError: The line (without its newline) is over MAX_LINE_BYTES.
    """
    if len(line) - 1 > MAX_LINE_BYTES:
        raise HistoryError(
            label,
            f"the event would be a {len(line) - 1} byte line, over the {MAX_LINE_BYTES} byte "
            "limit a reader accepts; nothing written",
        )


def read_lines(
    label: str, data: bytes, engagement: str | None = None
) -> tuple[list[Record], int, str]:
    """Verify *data* (a whole history) strictly; return its event records, head seq and hash.

    With *engagement*, the header must name it.

    Raises:
        TornTailError: The last line is incomplete.
        CorruptHistoryError: Any other damage, naming the first bad line.
    """
    records, anchor = _verify(label, data, None, engagement)
    return records, anchor.seq, anchor.head


def _verify(
    label: str, data: bytes, after: Anchor | None, engagement: str | None = None
) -> tuple[list[Record], Anchor]:
    """Verify lines of *data*: a whole file, or (with *after*) the bytes following that anchor.

    With *engagement*, the header must name that engagement: a file never speaks for another.
    """
    if data and not data.endswith(b"\n"):
        raise TornTailError(
            label,
            "the last line is incomplete (torn by a crash?); "
            f"run `lifecycle repair {label}` to cut it",
        )
    lines = data.split(b"\n")[:-1]
    if after is None:
        if not lines:
            raise CorruptHistoryError(label, "empty history (no header line)")
        header, head = _verified(label, lines[0], 1)
        if header.get("format") != FORMAT or header.get("version") != FORMAT_VERSION:
            raise CorruptHistoryError(label, "line 1 is not a lifecycle-history v1 header")
        if engagement is not None and header.get("engagement") != engagement:
            raise CorruptHistoryError(
                label,
                f"the header names engagement {header.get('engagement')!r}, not {engagement!r} "
                "(a copy of another engagement's history?)",
                0,
            )
        anchor = Anchor(0, head, 0, len(lines[0]) + 1)
        lines = lines[1:]
    else:
        anchor = after
    records: list[Record] = []
    for raw in lines:
        seq = anchor.seq + 1
        record, digest = _verified(label, raw, seq + 1)
        if record.get("seq") != seq:
            raise CorruptHistoryError(
                label, f"line {seq + 1}: seq {record.get('seq')!r}, expected {seq}", seq
            )
        if record.get("prev") != anchor.head:
            raise CorruptHistoryError(label, f"line {seq + 1}: chain broken at seq {seq}", seq)
        record["hash"] = digest
        records.append(record)
        anchor = Anchor(seq, digest, anchor.end, anchor.end + len(raw) + 1)
    return records, anchor


def _verified(label: str, raw: bytes, number: int) -> tuple[Record, str]:
    try:
        return decode_line(raw)
    except LineProblem as exc:
        raise CorruptHistoryError(label, f"line {number}: {exc}", number - 1) from None


@attrs.define
class FileHistoryStore:
    """A history file ``<workspace>/<engagement>.history.jsonl``."""

    path: Path

    @property
    def label(self) -> str:
        """The file's path, as errors name it."""
        return str(self.path)

    @property
    def engagement(self) -> str | None:
        """The engagement id the file name says, which its header must say too (None for a file
        not named ``<id>.history.jsonl``: its header is taken as it is)."""
        name = self.path.name
        return name.removesuffix(SUFFIX) if name.endswith(SUFFIX) else None

    def exists(self) -> bool:
        """Whether anything (a file, or something refused when opened) has the file's name."""
        return os.path.lexists(self.path)

    def create(self, engagement: str, created: str, first: Mapping[str, Any]) -> Record:
        """Create the file with its header and first event in one write, durably.

        Both lines go in one ``write`` and the file and its folder are fsynced, so a crash
        leaves either no engagement or a whole one.
        """
        lines, record = _first_lines(engagement, created, first)
        # Write a temporary file whole, then link it into place: a crash leaves no history or a
        # whole one, never an empty or half-written file; link() fails if the name is taken.
        try:
            # A name of its own (O_EXCL): two creators never share the temporary file.
            fd, name = tempfile.mkstemp(
                dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp"
            )
        except OSError as exc:
            raise HistoryError(self.path, f"cannot create: {exc.strerror}") from None
        temp = Path(name)
        try:
            try:
                _write_durably(self.path, fd, lines)
            finally:
                os.close(fd)
            os.link(temp, self.path)
        except FileExistsError:
            raise EngagementExistsError(self.path, "a history file exists already") from None
        except OSError as exc:
            raise HistoryError(self.path, f"cannot create: {exc.strerror}") from None
        finally:
            temp.unlink(missing_ok=True)
        _fsync_dir(self.path.parent)
        return record

    def session(self, after: Anchor | None = None) -> contextlib.AbstractContextManager[Session]:
        """Lock the file (``flock``), read and verify it, and yield a :class:`Session`.

        With *after* (a snapshot's anchor), only the lines after it are read and returned, once
        the anchor's own line is found unchanged; otherwise the whole file is.
        """
        return _FileSession(self, after)

    def read_after(self, after: Anchor | None = None) -> tuple[list[Record], Anchor]:
        """Read and verify the events after *after* (all, when None) under a shared lock.

        Returns the events and the anchor of the last line. A stale *after* (its line changed
        or gone) falls back to reading the whole file.
        """
        fd = open_regular(self.path, os.O_RDONLY)
        try:
            lock(self.path, fd, exclusive=False)
            return self._read_verified(fd, after)
        finally:
            os.close(fd)

    def _read_verified(self, fd: int, after: Anchor | None) -> tuple[list[Record], Anchor]:
        """Verify from *after* when its line is unchanged, else the whole file."""
        if after is not None:
            rest = _after_anchor(fd, after)
            if rest is _NOTHING:
                return [], after
            if rest is _MORE:
                return _verify(self.label, read_bounded(self.path, fd, after.end), after)
        return _verify(self.label, read_bounded(self.path, fd), None, self.engagement)

    def read(self) -> list[Record]:
        """Read and verify the whole file without appending (a shared lock is held)."""
        return self.read_after(None)[0]


class _FileSession(contextlib.AbstractContextManager[Session]):
    """One session of a history file: open, ``flock`` and read on entry; close (which releases
    the lock) on exit. A class rather than a generator: this runs once per command.

    It is also the session's writer: the session holds the exclusive lock and has read the file
    to its end (``_end``), so that is where each line starts, and where a failed append is cut
    back to (:func:`append_at`), without asking ``fstat``.
    """

    __slots__ = ("_after", "_end", "_fd", "_store")

    def __init__(self, store: FileHistoryStore, after: Anchor | None) -> None:
        self._store = store
        self._after = after
        self._fd = -1
        self._end = 0

    def __enter__(self) -> Session:
        store = self._store
        fd = open_regular(store.path, os.O_RDWR | os.O_APPEND)
        try:
            lock(store.path, fd, exclusive=True)
            records, anchor = store._read_verified(fd, self._after)
        except BaseException:
            os.close(fd)
            raise
        self._fd, self._end = fd, anchor.end
        return Session(
            store.label, records, anchor.seq, anchor.head, write=self._append, anchor=anchor
        )

    def __exit__(self, *exc_info: object) -> None:
        os.close(self._fd)  # closing the last descriptor releases the flock

    def _append(self, line: bytes) -> None:
        append_at(self._store.path, self._fd, self._end, line)
        self._end += len(line)


def _first_lines(engagement: str, created: str, first: Mapping[str, Any]) -> tuple[bytes, Record]:
    header = encode_line(header_record(engagement, created))
    _, head = decode_line(header[:-1])
    line = encode_line({"seq": 1, **first, "prev": head})
    check_size(engagement, line)
    record, digest = decode_line(line[:-1])
    record["hash"] = digest
    return header + line, record


# Lines this process has written, by their hash: a memo of facts (these bytes are a whole line
# whose own hash is that head), never a claim about any file. Bounded in count and in size.
_WRITTEN: Final[dict[str, bytes]] = {}
_WRITTEN_MAX: Final = 64
_WRITTEN_MAX_BYTES: Final = 1 << 16


def _remember(head: str, line: bytes) -> None:
    if len(line) <= _WRITTEN_MAX_BYTES:
        if len(_WRITTEN) >= _WRITTEN_MAX:
            _WRITTEN.clear()
        _WRITTEN[head] = line


# What :func:`_after_anchor` found after the anchor's line (None: the line is not as it was).
_NOTHING: Final = 0
_MORE: Final = 1


def _after_anchor(fd: int, anchor: Anchor) -> int | None:
    """Whether anything follows *anchor*'s unchanged line: one ``pread`` of the line and one byte
    more, which says at once whether the file ends with the line (no ``fstat``, no ``read``).

    An anchor the fast path cannot hold to (its end over the size bound, an empty or inverted
    span) is checked as :func:`_anchor_holds` does, and what follows it read as before.
    """
    length = anchor.end - anchor.start
    if not 0 <= anchor.start < anchor.end <= MAX_HISTORY_BYTES:
        return _MORE if _anchor_holds(fd, anchor) else None
    raw = os.pread(fd, length + 1, anchor.start)
    if not _line_holds(raw[:length], anchor):
        return None
    return _MORE if len(raw) > length else _NOTHING


def _anchor_holds(fd: int, anchor: Anchor) -> bool:
    return _line_holds(os.pread(fd, anchor.end - anchor.start, anchor.start), anchor)


def _line_holds(raw: bytes, anchor: Anchor) -> bool:
    # The anchor's line must still be there, byte for byte: its own hash proves it (the seq
    # is inside the hashed bytes), without parsing the JSON again. A line this process wrote
    # is known to hash to its head already: the same bytes need no sha256 again.
    head = anchor.head
    if type(head) is str and (known := _WRITTEN.get(head)) is not None and raw == known:
        return True
    suffix = b',"hash":"' + anchor.head.encode("ascii") + b'"}\n'
    if not raw.endswith(suffix):
        return False
    body = raw[: -len(suffix)] + b"}"
    return hashlib.sha256(body).hexdigest() == anchor.head


@attrs.define
class MemoryHistoryStore:
    """The same lines, kept in memory: for tests and for embedding without files."""

    label: str = "<memory>"
    data: bytearray = attrs.field(factory=bytearray)

    def exists(self) -> bool:
        """Whether the header has been written."""
        return bool(self.data)

    def create(self, engagement: str, created: str, first: Mapping[str, Any]) -> Record:
        """Write the header line and the first event."""
        if self.data:
            raise EngagementExistsError(self.label, "the history exists already")
        lines, record = _first_lines(engagement, created, first)
        self.data += lines
        return record

    @contextlib.contextmanager
    def session(self, after: Anchor | None = None) -> Iterator[Session]:
        """Read and verify the lines, and yield a :class:`Session` appending to them.

        *after* is accepted for the protocol's sake; memory is read whole.
        """
        records, anchor = _verify(self.label, bytes(self.data), None)
        yield Session(self.label, records, anchor.seq, anchor.head, write=self.data.extend)
