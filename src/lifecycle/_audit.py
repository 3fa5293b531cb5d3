"""The audit: integrity, conformance and completeness of history files; never mutates a file.

The reader streams each file line by line, verifies every line's own hash, the ``seq`` sequence
and the ``prev`` chain, and hands each verified event to
:class:`~lifecycle._conformance.Conformance`. It never raises on bad data: every problem is a
finding, with the event's seq and line number.

Memory is bounded whatever the history holds (#14). The reader holds one 1 MiB chunk and the
line being read (at most 16 MiB); the replayed state holds one value per fact, checklist item,
person and link, an index of one value per stage, trigger and activity, and at most
:data:`~lifecycle._log.AUDIT_LIMIT` (8,192) of the latest entries, activities and fired
triggers each: older ones are moved to an anonymous temporary file (a few bytes of memory per
4,096 of them) and read back only when a rule asks for the whole list. What grows is the report:
its findings and overrides. Measured (bench/RESULTS.md): a 1,000,000-event history with 200,000
activities peaks at 38 MB of resident memory, under the 80 MB bound; 120,000 and 360,000 events
peak alike (tests/test_speed_process.py).
"""

from __future__ import annotations

import datetime as dt
import operator
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Final

import attrs

from ._auditreport import (
    Checkpoint,
    FileReport,
    find_histories,
    missing_reports,
    read_checkpoints,
)
from ._conformance import Conformance, Finding
from ._eventfits import COUNTERS, fits_counter
from ._events import event_fits, event_problem, header_problem
from ._files import NotRegularFileError, open_regular
from ._history import SUFFIX
from ._lines import (
    FORMAT,
    FORMAT_VERSION,
    MAX_LINE_BYTES,
    LineProblem,
    decode_common,
    decode_hashed,
    decode_line,
    is_timestamp,
    is_timestamp_after,
)
from ._replay import EVENT_VERSIONS
from ._rules import RuleKind
from ._workspace import ENGAGEMENT_ID
from .exceptions import HistoryError

__all__ = [
    "Checkpoint",
    "FileReport",
    "audit_file",
    "audit_stream",
    "find_histories",
    "missing_reports",
    "read_checkpoints",
]


def _opened_engagement(record: dict[str, Any]) -> object:
    data = record.get("data")
    return data.get("engagement") if isinstance(data, dict) else None


def audit_file(
    path: Path,
    *,
    kinds: Mapping[str, RuleKind],
    today: dt.date,
    against: Mapping[str, Checkpoint] | None = None,
) -> FileReport:
    """Audit one history file: :func:`audit_stream` over its bytes."""
    try:
        # Only a regular file, never through a symlink, never a blocking open (a FIFO).
        with os.fdopen(open_regular(path, os.O_RDONLY), "rb") as handle:
            chunks = iter(lambda: handle.read(_CHUNK), b"")
            return audit_stream(str(path), chunks, kinds=kinds, today=today, against=against)
    except NotRegularFileError as exc:
        report = FileReport(str(path))
        report.findings.append(Finding("not-regular-file", "error", None, _message(exc, path)))
    except HistoryError as exc:
        report = FileReport(str(path))
        report.findings.append(Finding("unreadable", "error", None, _message(exc, path)))
    except OSError as exc:
        report = FileReport(str(path))
        report.findings.append(
            Finding("unreadable", "error", None, f"cannot read: {exc.strerror or exc}")
        )
    return report


def audit_stream(
    label: str,
    chunks: Iterable[bytes],
    *,
    kinds: Mapping[str, RuleKind],
    today: dt.date,
    against: Mapping[str, Checkpoint] | None = None,
) -> FileReport:
    """Audit one history given as a stream of byte chunks (a file's, or a store's lines, #11).

    *label* names it in the report; its last path part is checked like a file name
    (``<engagement>.history.jsonl``). A store error while reading is an ``unreadable`` finding.
    """
    report = FileReport(label)
    try:
        _Reader(report, kinds, today, against or {}).run(chunks)
    except HistoryError as exc:
        report.findings.append(Finding("unreadable", "error", None, _message(exc, label)))
    except OSError as exc:
        report.findings.append(
            Finding("unreadable", "error", None, f"cannot read: {exc.strerror or exc}")
        )
    return report


def _message(exc: HistoryError, path: Path | str) -> str:
    """The error's sentence without the path in front (the report names the file)."""
    return str(exc).removeprefix(f"{path}: ").removeprefix(f"{exc.path}: ") + "; not audited"


@attrs.define
class _Reader:
    report: FileReport
    kinds: Mapping[str, RuleKind]
    today: dt.date
    against: Mapping[str, Checkpoint]
    prev: str | None = None
    last_at: str = ""
    checkpoint: Checkpoint | None = None
    checkpoint_seen: bool = False
    today_text: str = ""
    today_bound: str = ""
    # The first 17 characters of a timestamp: of the latest `at` the common path passed (at
    # first, of the first moment there is). An `at` in that minute has its seconds checked.
    minute: str = "0001-01-01T00:00:"
    # Whether the last event's envelope passed the common-case check in one go (seq, prev, at,
    # a known type and version): conformance then reads it without checking them again.
    verified: bool = False

    def __attrs_post_init__(self) -> None:
        self.today_text = self.today.isoformat()
        self.today_bound = self.today_text + "U"  # the first `at` after today ("T" < "U")

    def run(self, chunks: Iterable[bytes]) -> None:
        conformance = Conformance(self.kinds, self.today)
        number, common, feed = 0, self._common, conformance.feed_common
        for lines, complete in _batches(chunks):
            if not complete:
                self._add(
                    "torn-tail",
                    number,
                    "the last line is incomplete (torn by a crash?); `lifecycle repair` cuts it",
                )
                number += 1
                break
            for raw in lines:
                number += 1
                if number == 1 or not common(raw, number - 1, feed):
                    self._line(raw, number, conformance)
        self._finish(number, conformance)

    def _line(self, raw: bytes, number: int, conformance: Conformance) -> None:
        """Read line *number* (the header, or an event) by the general path."""
        if number == 1:
            self._header(raw)
            return
        errors = len(self.report.findings)
        record = self._event(raw, number)
        if record is not None and not conformance.broken:
            conformance.feed(record, verified=self.verified)
        elif len(self.report.findings) > errors and not conformance.broken:
            # Past broken integrity the replayed state is unknown: stop, and say so.
            conformance.broken = True
            self._add(
                "conformance-stopped",
                number - 1,
                "conformance not checked from here on (integrity is broken)",
                "warning",
            )

    def _finish(self, number: int, conformance: Conformance) -> None:
        if number == 0:
            self._add("empty", None, "the file is empty (no header)")
        elif number == 1 and self.report.engagement is not None:
            self._add("empty", 0, "the history has a header but no events (no opened event)")
        self.report.findings.extend(conformance.findings)
        self.report.findings.extend(conformance.finish())
        self.report.overrides = conformance.overrides
        self.report.due = conformance.due
        if conformance.engagement is not None:
            self.report.stage = conformance.engagement.stage
            self.report.lessons = [[x.seq, x.at] for x in conformance.engagement.lessons]
            self.report.cites = [list(cite) for cite in conformance.engagement.cites]
        self._against()

    def _add(self, code: str, seq: int | None, message: str, severity: str = "error") -> None:
        line = None if seq is None else seq + 1
        self.report.findings.append(
            Finding(code, "error" if severity == "error" else "warning", seq, message, line)
        )

    def _header(self, raw: bytes) -> None:
        try:
            header, digest = decode_line(raw)
        except LineProblem as exc:
            code = exc.code if exc.code == "bad-event" else f"header-{exc.code}"
            self._add(code, 0, f"header: {exc}")
            return
        if header.get("format") != FORMAT or header.get("version") != FORMAT_VERSION:
            self._add("header-format", 0, f"not a {FORMAT} v{FORMAT_VERSION} header")
        elif problem := header_problem(header):
            self._add("bad-event", 0, problem)
        elif not is_timestamp(created := header["created"]):
            self._add("bad-event", 0, f"header: created: {created!r} is not a UTC timestamp")
        else:
            self.last_at = created  # no event is recorded before its file was created
        engagement = header.get("engagement")
        self.report.engagement = engagement if isinstance(engagement, str) else None
        if not isinstance(engagement, str) or not ENGAGEMENT_ID.fullmatch(engagement):
            self._add("header-engagement", 0, f"header: {engagement!r} is not an engagement id")
        self.prev = digest
        self.report.head = digest
        self._match_checkpoint()

    def _match_checkpoint(self) -> None:
        """Find this file's checkpoint by its engagement id, or by its file name: renaming the
        engagement inside a file must not hide it from its checkpoint."""
        name = Path(self.report.path).name
        stem = name.removesuffix(SUFFIX)
        engagement = self.report.engagement
        self.checkpoint = self.against.get(engagement or "") or self.against.get(stem)
        if engagement is not None and stem != engagement:
            # One file must never speak for another engagement (#9): always an error.
            self._add(
                "file-name", 0, f"file name {name!r} does not match engagement {engagement!r}"
            )

    def _common(self, raw: bytes, seq: int, feed: _Feed) -> bool:
        """Read event *seq* and hand it to *feed* (``Conformance.feed_common``) when its line is
        the common one: every check of :meth:`_event` passes (decoded, hashed, chained, in
        time, known, fitting its model, no member twice) and no finding can come of it. False,
        with nothing changed, for any other line: the general path then reads it afresh and
        words what it finds."""
        record = decode_common(raw)
        if record is None or seq == 1 or (self.checkpoint and seq == self.checkpoint.events):
            return False  # the opened event, and the checkpoint's, are checked on the way
        try:
            claimed_seq, prev, at, kind, version, actor, data = _COMMON(record)
        except KeyError:
            return False
        if not (
            claimed_seq == seq
            and prev == self.prev
            and type(prev) is str
            and type(at) is str
            and at >= self.last_at
            and at < self.today_bound  # at[:10] <= today, for an `at` with a "T" at [10]
            and type(kind) is str
            and type(version) is int
            and is_timestamp_after(at, self.minute)  # and below: a known type, a version read
            and (fits := COUNTERS.get((kind, version)) or fits_counter(kind, version))
            and (members := fits(record, actor, data)) >= 0
            # No member twice (see _lines): the colons are the members and the 2 of the `at`.
            and members + 2 == raw.count(b":")
        ):
            return False
        self.prev = self.report.head = record["hash"]
        self.last_at, self.report.events, self.verified = at, seq, True
        if not at.startswith(self.minute):
            self.minute = at[:17]
        feed(record, seq, kind, actor, data)
        return True

    def _event(self, raw: bytes, number: int) -> dict[str, Any] | None:
        seq = number - 1
        try:
            record = decode_hashed(raw)
        except LineProblem as exc:
            self._add(exc.code, seq, f"line {number}: {exc}")
            claimed = re.search(rb'"hash":"([0-9a-f]{64})"\}$', raw)
            self.prev = claimed.group(1).decode() if claimed else None
            self.verified = False
            return None
        digest = record["hash"]
        try:
            claimed_seq, prev, at, kind, version = _ENVELOPE(record)
        except KeyError:  # a member missing: the path that words findings
            claimed_seq = prev = at = kind = version = None
        if (  # the common case, checked in one go; any doubt takes the path that words findings
            claimed_seq == seq
            and prev == self.prev
            and type(at) is str
            and at >= self.last_at
            and at[:10] <= self.today_text
            and is_timestamp(at)
            and type(kind) is str
            and type(version) is int
            and version <= EVENT_VERSIONS.get(kind, 0)
        ):
            self.verified = True
            self.last_at = at
        else:
            self.verified = False
            if not self._sequence_findings(record, seq, number):
                self.prev = digest
                return None
        self.prev = digest
        return self._checked(record, digest, seq, number)

    def _checked(
        self, record: dict[str, Any], digest: str, seq: int, number: int
    ) -> dict[str, Any] | None:
        self.report.events, self.report.head = seq, digest
        if seq == 1 and _opened_engagement(record) != self.report.engagement:
            self._add(
                "engagement-mismatch",
                seq,
                f"the opened event names engagement {_opened_engagement(record)!r}, "
                f"the header {self.report.engagement!r}",
            )
        if self.checkpoint and seq == self.checkpoint.events:
            self._checkpoint_event(seq, digest)
        if self.verified and event_fits(record, record["type"], record["v"]):
            return record  # it fits its model: nothing to word
        if problem := event_problem(record):
            self._add("bad-event", seq, f"line {number}: {problem}")
            return None
        return record

    def _checkpoint_event(self, seq: int, digest: str) -> None:
        assert self.checkpoint is not None
        self.checkpoint_seen = True
        if digest != self.checkpoint.head:
            self._add(
                "checkpoint-mismatch",
                seq,
                "the file does not extend its checkpoint: "
                f"event {seq} hashes to {digest[:12]}, the checkpoint says "
                f"{self.checkpoint.head[:12]} (rewritten history?)",
            )

    def _sequence_findings(self, record: dict[str, Any], seq: int, number: int) -> bool:
        ok = True
        if record.get("seq") != seq:
            self._add(
                "seq",
                seq,
                f"line {number}: seq {record.get('seq')!r}, expected {seq} "
                "(a line deleted, duplicated or moved?)",
            )
            ok = False
        if record.get("prev") != self.prev:
            self._add(
                "chain", seq, f"line {number}: prev does not match the hash of line {number - 1}"
            )
            ok = False
        at = record.get("at")
        if not isinstance(at, str) or not is_timestamp(at):
            self._add(
                "time",
                seq,
                f"line {number}: {at!r} is not a UTC timestamp of the form "
                "YYYY-MM-DDTHH:MM:SS.ffffffZ",
            )
            ok = False
        elif at < self.last_at:
            self._add("time", seq, f"line {number}: timestamp {at!r} goes backwards")
            ok = False
        else:
            self.last_at = at
            if at[:10] > self.today_text:
                self._add(
                    "time", seq, f"line {number}: timestamp {at!r} is after today ({self.today})"
                )
        kind, version = record.get("type"), record.get("v")
        if not isinstance(kind, str) or kind not in EVENT_VERSIONS:
            self._add("unknown-type", seq, f"line {number}: unknown event type {kind!r}")
        elif not isinstance(version, int) or version > EVENT_VERSIONS[kind]:
            self._add(
                "unknown-version",
                seq,
                f"line {number}: {kind} version {version!r} is newer than this lifecycle reads",
            )
        return ok

    def _against(self) -> None:
        if self.checkpoint and not self.checkpoint_seen:
            self._add(
                "truncated",
                self.report.events,
                f"the file has {self.report.events} events; "
                f"its checkpoint has {self.checkpoint.events}: events were dropped",
            )


_CHUNK = 1 << 20
# The envelope members the reader's common case compares, read in one call.
_ENVELOPE: Final = operator.itemgetter("seq", "prev", "at", "type", "v")
# Conformance.feed_common: (record, seq, type, actor, data).
_Feed = Callable[[dict[str, Any], int, str, str, dict[str, Any]], None]
# And those the common line's check reads (_Reader._common).
_COMMON: Final = operator.itemgetter("seq", "prev", "at", "type", "v", "actor", "data")


def _batches(chunks: Iterable[bytes]) -> Iterator[tuple[list[bytes], bool]]:
    """The lines of the chunks (a file is read in 1 MiB chunks), without their newlines, a list
    at a time; complete, or (last) a torn tail alone.

    Memory stays bounded: a line longer than the cap is given cut to just over the cap (so it
    fails as ``too-long``) and the rest of it is skipped.
    """
    pending, overlong = b"", False
    for chunk in chunks:
        lines = (pending + chunk).split(b"\n")
        pending = lines.pop()
        if overlong and lines:  # the end of a line already reported
            del lines[0]
            overlong = False
        yield lines, True
        if len(pending) > MAX_LINE_BYTES:
            if not overlong:
                yield [pending[: MAX_LINE_BYTES + 1]], True
            pending, overlong = b"", True
    if pending and not overlong:
        yield [pending], False


def _lines(chunks: Iterable[bytes]) -> Iterator[tuple[int, bytes, bool]]:
    """(line number, bytes without newline, complete?) for each line of the chunks (the lines
    of :func:`_batches` one at a time)."""
    number = 0
    for lines, complete in _batches(chunks):
        for raw in lines:
            number += 1
            yield number, raw, complete
