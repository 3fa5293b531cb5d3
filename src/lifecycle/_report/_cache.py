"""The report's cache (#15): each history's audit verdict and contribution, kept by its bytes.

One file per workspace and set of code versions,
``<cache>/report/<workspace digest>/entries-<versions digest>.jsonl`` (``<cache>`` the audit
cache's folder, ``$LIFECYCLE_CACHE_DIR`` or ``~/.cache/lifecycle``; the workspace digest the
SHA-256 prefix of its resolved path, the versions digest that of the code versions), one line
per history: a JSON object naming the engagement, the key of the history's bytes (SHA-256 of
the entry version and the audit cache's key of the file: its name, every byte, the code
versions) and the SHA-256 of what follows the tab, the entry: the audit's verdict on those bytes
(as ``lifecycle audit`` keeps it) and the contribution computed from them. An entry is used only
when its key is the key of the bytes just read, its digest matches, every field has its type,
and its engagement, event count and head are the verdict's: anything else (a damaged line,
another history's entry, another code's) is ignored, the history audited (or its verdict taken
from ``audit``'s own cache) and counted afresh, and the line written again. What depends on the
day (what is overdue) is not taken from it: it is recomputed for the report's day from the due
items (:func:`~._contrib.as_of`). Runs under other code versions (another plugin set) keep
their own file, so they do not evict each other's entries.

Like every cache here it is an accelerator only: delete it at will. It lives beside the audit
cache, in the user's own folder, not in the workspace: whoever can write the cache can make a
report's figures lie while its appendix still verifies, so it is kept where only the one who
runs the report writes (``report --no-cache`` recomputes every figure from the histories, for an
auditor who checks a report's figures and not only its sources). The file is written whole, once
per report and only when an entry changed: a temporary file renamed into place, never under a
history's lock; a folder that cannot be written only means nothing is kept.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeVar

import attrs

from .._auditcache import AuditCache, default_cache_dir, verdict_data, verdict_of
from .._files import read_regular, replace_file
from .._lines import FORMAT_VERSION
from ..exceptions import HistoryError
from ._contrib import Contribution, Span, due_as_of, identity
from ._memo import Memo

if TYPE_CHECKING:
    from .._auditreport import FileReport
    from .._rules import RuleKind
    from .._store import Store

__all__ = ["Entries", "ReportCache", "contribution_folder", "dump", "load", "templates_folder"]

_ENTRY: Final = 3  # 2: one file per workspace, each entry the verdict and the contribution;
# 3: the verdict's lessons and cites with their times
FOLDER: Final = "report"  # under the audit cache's folder, one folder per workspace
_KEEP_FILES: Final = 4  # entry files of other code versions kept beside the one in use
Data = dict[str, Any]  # Any: a JSON object.
T = TypeVar("T")


def contribution_folder(workspace: Path) -> Path:
    """Where the entries of the histories of *workspace* are kept: a folder of the audit
    cache's, named by the SHA-256 prefix of the workspace's resolved path."""
    name = hashlib.sha256(os.fsencode(workspace.resolve())).hexdigest()[:16]
    return default_cache_dir() / FOLDER / name


def templates_folder() -> Path:
    """Where the report's templates are kept compiled: a folder of the audit cache's."""
    return default_cache_dir() / FOLDER / "templates"


@attrs.frozen
class ReportCache:
    """What the report may reuse: its own entries (verdicts and contributions) and the verdicts
    of ``lifecycle audit``'s cache; None: computed every time."""

    audits: AuditCache | None = None
    entries: Entries | None = None
    memo: Memo | None = None  # the last reports, kept whole (:mod:`~._memo`)
    # The key of the bytes each engagement's figures came from, as the report reads them.
    used: dict[str, str] = attrs.field(factory=dict)

    @classmethod
    def of(cls, store: Store, versions: Iterable[str]) -> ReportCache:
        """The caches of *store* under the code *versions*: for a workspace folder, the audit
        cache and the entries beside it (:func:`contribution_folder`); none for a shared
        store."""
        from .._store import FileStore

        if not isinstance(store, FileStore):
            return cls()
        versions = list(versions)
        folder = contribution_folder(store.workspace.root)
        entries = Entries(folder, versions)
        return cls(AuditCache(default_cache_dir(), versions), entries, Memo(folder / "reports"))

    def key(self, label: str, data: bytes) -> str:
        """The key the entry of *data*, the bytes of the history file *label*, is kept under
        ("": none is kept)."""
        if self.audits is None or self.entries is None:
            return ""
        return self.entries.key(self.audits.key_of(os.path.basename(label), data))

    def audit(
        self,
        engagement: str,
        label: str,
        data: bytes,
        kinds: Mapping[str, RuleKind],
        today: dt.date,
    ) -> tuple[FileReport, str]:
        """The audit of *data*, the bytes of the history file *label*: kept (in an entry, or
        by ``audit``), or done now; and the key its entry is kept under ("": none is kept)."""
        if self.audits is None or self.entries is None:
            return _audited(label, data, kinds, today), ""
        audit_key = self.audits.key_of(os.path.basename(label), data)
        key = self.entries.key(audit_key)
        found = self.entries.verdict(engagement, key, label, today)
        found = found or self.audits.get(audit_key, Path(label), today)
        return found or _audited(label, data, kinds, today), key

    def kept(
        self, engagement: str, key: str, label: str, today: dt.date
    ) -> tuple[FileReport, Contribution] | None:
        """The clean verdict and the contribution kept under *key* for the file *label*, as of
        *today* (None: no usable entry, or a verdict that is not clean)."""
        if self.entries is None or not key:
            return None
        verdict = self.entries.verdict(engagement, key, label, today)
        if verdict is None or not verdict.ok:
            return None
        found = self.entries.contribution(engagement, key, label, today)
        if found is None or (found.events, found.head) != (verdict.events, verdict.head):
            return None
        return verdict, found


def _audited(label: str, data: bytes, kinds: Mapping[str, RuleKind], today: dt.date) -> FileReport:
    """The audit of *data* done now: the audit machinery (and the event schema it loads) is
    imported only when a history is not in the caches."""
    from .._audit import audit_stream

    return audit_stream(label, [data], kinds=kinds, today=today)


class Entries:
    """The entries of one workspace's histories under one set of code versions (one file):
    read once, when first asked, and written once (:meth:`save`), when one changed."""

    def __init__(self, folder: Path, versions: Iterable[str]) -> None:
        self.folder = folder
        self._salt = "\0".join([f"entry={_ENTRY}", f"format={FORMAT_VERSION}", *versions])
        digest = hashlib.sha256(self._salt.encode()).hexdigest()[:16]
        self.path = folder / f"entries-{digest}.jsonl"
        self._lines: dict[str, tuple[str, bytes]] | None = None  # engagement: (key, line)
        self._decoded: dict[str, Data | None] = {}  # engagement: its entry (None: unusable)
        self._used: dict[str, bytes] = {}  # engagement: its line, as it is to be written
        self._changed = False

    @property
    def salt(self) -> str:
        """What every key of this file covers: the entry's form and the code versions."""
        return self._salt

    def key(self, audit_key: str) -> str:
        """The key of the bytes whose audit cache key is *audit_key* (which covers the file's
        name, every byte and the code versions): one pass over the bytes serves both."""
        return hashlib.sha256(f"{self._salt}\0{audit_key}".encode()).hexdigest()

    def verdict(self, engagement: str, key: str, label: str, today: dt.date) -> FileReport | None:
        """The audit verdict kept for *key* on the file *label*, as of *today* (None: no
        usable entry)."""
        entry = self._entry(engagement, key)
        found = None if entry is None else verdict_of(entry["audit"], label, today)
        if found is None or found.engagement != engagement:
            self._decoded[engagement] = None  # the entry is not used at all
            return None
        self._used[engagement] = self._lines_read()[engagement][1]  # kept as it is, so far
        return found

    def contribution(
        self, engagement: str, key: str, label: str, today: dt.date
    ) -> Contribution | None:
        """The contribution kept for *key*, as of *today* (None: no usable entry)."""
        entry = self._entry(engagement, key)
        try:
            found = None if entry is None else load(entry["contribution"], label, today)
        except (ValueError, KeyError, TypeError):
            found = None
        return found if found is not None and found.engagement == engagement else None

    def keep(
        self, engagement: str, key: str, verdict: FileReport, found: Contribution | None
    ) -> None:
        """Keep *verdict* and *found* (None: the history does not audit clean) under *key*."""
        if found is None and engagement in self._used and self._entry(engagement, key):
            return  # the verdict kept under this key, used as it is
        data = {
            "audit": verdict_data(verdict),
            "contribution": None if found is None else dump(found),
        }
        body = json.dumps(data, separators=(",", ":")).encode()
        meta = {"engagement": engagement, "key": key, "sum": hashlib.sha256(body).hexdigest()}
        self._used[engagement] = json.dumps(meta).encode() + b"\t" + body + b"\n"
        self._changed = True

    def save(self) -> None:
        """Write the entries of the histories used since the file was read, when one changed
        or one is no longer used; a failure (a read-only folder, a full disk) only loses them."""
        if not self._changed and self._used.keys() == self._lines_read().keys():
            return
        try:
            replace_file(self.path, b"".join(self._used.values()))
            self._prune()
        except OSError:
            return

    def _prune(self) -> None:
        """Remove the entry files of other code versions but the few used last."""
        others = [p for p in self.folder.glob("entries-*.jsonl") if p != self.path]
        others.sort(key=lambda p: p.stat().st_mtime, reverse=True)
        for old in others[_KEEP_FILES:]:
            old.unlink(missing_ok=True)

    def _entry(self, engagement: str, key: str) -> Data | None:
        """The entry of *engagement* when it is kept under *key* and intact (decoded once)."""
        kept_key, line = self._lines_read().get(engagement, ("", b""))
        if kept_key != key:
            return None  # none, another history's bytes, or another code's
        if engagement in self._decoded:  # the entry of the file's line, under that very key
            return self._decoded[engagement]
        meta, _, body = line.rstrip(b"\n").partition(b"\t")
        try:
            entry = json.loads(body)
            if json.loads(meta).get("sum") != hashlib.sha256(body).hexdigest():
                return None  # damaged since written
        except (ValueError, RecursionError):  # not JSON, or nested past what Python decodes
            return None
        if not isinstance(entry, dict) or "audit" not in entry or "contribution" not in entry:
            return None
        self._decoded[engagement] = entry
        return entry

    def _lines_read(self) -> dict[str, tuple[str, bytes]]:
        """The file's lines by engagement, with their keys: a line that is not one is left out."""
        if self._lines is None:
            self._lines = {}
            try:
                data = read_regular(self.path)
            except (HistoryError, OSError):
                data = b""
            for line in data.splitlines(keepends=True):
                meta = _meta(line.partition(b"\t")[0])
                if meta is not None and meta[0] not in self._lines:
                    self._lines[meta[0]] = (meta[1], line)
        return self._lines


def _meta(text: bytes) -> tuple[str, str] | None:
    """The engagement and key an entry line's first part names (None: no such part)."""
    try:
        meta = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(meta, dict):
        return None
    engagement, key = meta.get("engagement"), meta.get("key")
    return (engagement, key) if type(engagement) is str and type(key) is str else None


def dump(c: Contribution) -> Data:
    """*c* as JSON data, without its label and without what depends on the day."""
    return {
        **identity(c),
        "events": c.events,
        "head": c.head,
        "spans": [
            [s.stage, s.title, s.phase, s.final, s.start.isoformat(), _day_or_none(s.end)]
            for s in c.spans
        ],
        "ends": [[day.isoformat(), kind] for day, kind in c.ends],
        "activities": [[d.isoformat(), a, k, seq] for d, a, k, seq in c.activities],
        "indicators": [[d.isoformat(), i, w, seq] for d, i, w, seq in c.indicators],
        "overrides": [{**o, "day": o["day"].isoformat()} for o in c.overrides],
        "missed": [[d.isoformat(), seq, m] for d, seq, m in c.missed],
        "lessons": [{**lesson, "day": lesson["day"].isoformat()} for lesson in c.lessons],
        "declared": list(c.declared),
        "due": [dict(i) for i in c.due],
    }


def load(body: Any, label: str, today: dt.date | None = None) -> Contribution:
    """The contribution *body* holds (as :func:`dump` wrote it), labelled *label*, as of
    *today* (None: the day's figures are to be made by :func:`~._contrib.as_of`).

    Raises:
        ValueError, KeyError, TypeError: *body* is not such data, to the type of every field.
    """
    # Any: JSON data, checked here field by field.
    due = _each(body["due"], _due)
    due, overdue = due_as_of(due, today) if today is not None else (due, ())
    return Contribution(
        engagement=_of(str, body["engagement"]),
        title=_of(str, body["title"]),
        playbook=_of(str, body["playbook"]),
        version=_of(str, body["version"]),
        organization=_of(str, body["organization"]),
        country=_of(str, body["country"]),
        stage=_of(str, body["stage"]),
        final=_of(bool, body["final"]),
        opened=_day(body["opened"]),
        label=label,
        events=_of(int, body["events"]),
        head=_of(str, body["head"]),
        spans=_each(body["spans"], _span),
        ends=_each(body["ends"], _end),
        activities=_each(body["activities"], _dated4),
        indicators=_each(body["indicators"], _dated4),
        overrides=_each(body["overrides"], _override),
        missed=_each(body["missed"], _missed),
        overdue=overdue,
        lessons=_each(body["lessons"], _lesson),
        declared=_each(body["declared"], lambda n: _of(str, n)),
        due=due,
    )


def _of(kind: type[T], value: object) -> T:
    """*value*, when it is exactly of *kind* (no bool for an int, no int for a bool)."""
    if type(value) is not kind:
        raise TypeError(f"{value!r} is no {kind.__name__}")
    return value


def _day(value: object) -> dt.date:
    if type(value) is not str or len(value) != 10:
        raise ValueError(f"{value!r} is no day")
    return _parsed_day(value)


@functools.lru_cache(maxsize=4096)
def _parsed_day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def _day_or(value: object) -> dt.date | None:
    return None if value is None else _day(value)


def _day_or_none(day: dt.date | None) -> str | None:
    return None if day is None else day.isoformat()


def _each(values: object, one: Callable[[Any], T]) -> tuple[T, ...]:
    return tuple(map(one, _of(list, values)))


def _list(v: object, size: int) -> list[Any]:
    if type(v) is not list or len(v) != size:
        raise ValueError(f"an entry is not a list of {size}")
    return v


def _span(v: object) -> Span:
    stage, title, phase, final, start, end = _list(v, 6)
    if type(stage) is not str or type(title) is not str or type(phase) is not str:
        raise TypeError(f"{v!r} is not (stage, title, phase, final, start, end)")
    return Span(stage, title, phase, _of(bool, final), _day(start), _day_or(end))


def _dated4(v: object) -> tuple[dt.date, str, str, int]:
    day, name, what, seq = _list(v, 4)
    if type(name) is not str or type(what) is not str or type(seq) is not int:
        raise TypeError(f"{v!r} is not (day, text, text, seq)")
    return _day(day), name, what, seq


def _end(v: object) -> tuple[dt.date, str]:
    day, kind = _list(v, 2)
    return _day(day), _of(str, kind)


def _missed(v: object) -> tuple[dt.date, int, str]:
    day, seq, message = _list(v, 3)
    return _day(day), _of(int, seq), _of(str, message)


_OVERRIDE: Final = ("day", "seq", "actor", "kind", "what", "rules", "reason")
_LESSON: Final = ("day", "seq", "title", "themes")
_DUE: Final = ("engagement", "kind", "id", "title", "due", "overdue", "source")


def _keys(v: object, keys: tuple[str, ...]) -> dict[str, Any]:
    d = _of(dict, v)
    if tuple(d) != keys:
        raise ValueError(f"the keys are not {keys}")
    return d


def _strings(v: object) -> list[str]:
    return [_of(str, s) for s in _of(list, v)]


def _override(v: object) -> dict[str, Any]:
    d = _keys(v, _OVERRIDE)
    _of(int, d["seq"]), _strings(d["rules"])
    for name in ("actor", "kind", "what", "reason"):
        _of(str, d[name])
    return {**d, "day": _day(d["day"])}


def _lesson(v: object) -> dict[str, Any]:
    d = _keys(v, _LESSON)
    _of(int, d["seq"]), _of(str, d["title"]), _strings(d["themes"])
    return {**d, "day": _day(d["day"])}


def _due(v: object) -> dict[str, Any]:
    d = _keys(v, _DUE)
    for name in ("engagement", "kind", "id", "title", "source"):
        _of(str, d[name])
    _day(d["due"]), _of(bool, d["overdue"])
    return d
