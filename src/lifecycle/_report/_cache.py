"""The report's cache (#15): each history's contribution, kept by the bytes it was computed from.

One file per engagement, ``<cache>/report/<workspace digest>/<engagement>.json`` (``<cache>`` the
audit cache's folder, ``$LIFECYCLE_CACHE_DIR`` or ``~/.cache/lifecycle``; the workspace digest the
SHA-256 prefix of its resolved path): a first line with
the key of the history's bytes (SHA-256 of the entry version and the audit cache's key of the
file: its name, every byte, the code versions) and the SHA-256 of the second line, the
contribution computed from those bytes. An entry is used only when its key is the key of the
bytes just read and audited, the second line's digest matches, every field has its type, and
its engagement, event count and head are the audit's: anything else (a damaged file, another
history's entry, another code's) is ignored and the contribution computed afresh. What depends
on the day (what is overdue) is not taken from it: it is recomputed for the report's day from
the due items (:func:`~._contrib.as_of`).

Like every cache here it is an accelerator only: delete it at will. It lives beside the audit
cache, in the user's own folder, not in the workspace: whoever can write the cache can make a
report's figures lie while its appendix still verifies, so it is kept where only the one who
runs the report writes (``report --no-cache`` recomputes every figure from the histories, for an
auditor who checks a report's figures and not only its sources). Writing an entry is a
temporary file renamed into place, never under a history's lock; a folder that cannot be written
only means nothing is kept.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeVar

import attrs

from .._audit import FileReport, audit_stream
from .._auditcache import AuditCache, audit_bytes, default_cache_dir
from .._files import read_regular
from .._history import Record, _verify
from .._lines import FORMAT_VERSION
from ..exceptions import HistoryError
from ._contrib import Contribution, Span, as_of, identity

if TYPE_CHECKING:
    from .._rules import RuleKind
    from .._store import Store

__all__ = [
    "ContributionCache",
    "ReportCache",
    "contribution_folder",
    "dump",
    "load",
    "verified_records",
]

_ENTRY: Final = 1
FOLDER: Final = "report"  # under the audit cache's folder, one folder per workspace
Data = dict[str, Any]  # Any: a JSON object.
T = TypeVar("T")


def contribution_folder(workspace: Path) -> Path:
    """Where the contributions of the histories of *workspace* are kept: a folder of the audit
    cache's, named by the SHA-256 prefix of the workspace's resolved path."""
    name = hashlib.sha256(os.fsencode(workspace.resolve())).hexdigest()[:16]
    return default_cache_dir() / FOLDER / name


@attrs.frozen
class ReportCache:
    """What the report may reuse: audit verdicts (``lifecycle audit``'s own cache) and
    contributions; None: computed every time."""

    audits: AuditCache | None = None
    contributions: ContributionCache | None = None

    @classmethod
    def of(cls, store: Store, versions: Iterable[str]) -> ReportCache:
        """The caches of *store* under the code *versions*: for a workspace folder, the audit
        cache and the contributions beside it (:func:`contribution_folder`); none for a shared
        store."""
        from .._store import FileStore

        if not isinstance(store, FileStore):
            return cls()
        versions = list(versions)
        folder = contribution_folder(store.workspace.root)
        return cls(AuditCache(default_cache_dir(), versions), ContributionCache(folder, versions))

    def audit(
        self, label: str, data: bytes, kinds: Mapping[str, RuleKind], today: dt.date
    ) -> tuple[FileReport, str]:
        """The audit of *data*, the bytes of the history file *label* (kept, or done now and
        kept), and the key its contribution is kept under ("": none is kept)."""
        if self.audits is None:
            return audit_stream(label, [data], kinds=kinds, today=today), ""
        path = Path(label)
        key = self.audits.key_of(path.name, data)
        audit = audit_bytes(path, data, kinds=kinds, today=today, cache=self.audits, key=key)
        return audit, self.contributions.key(key) if self.contributions is not None else ""


def verified_records(label: str, data: bytes, engagement: str) -> list[Record]:
    """The events of *data*, a whole history of *engagement*, each line's hash and link checked.

    Raises:
        HistoryError: The bytes are no intact history of *engagement*.
    """
    return _verify(label, data, None, engagement)[0]


class ContributionCache:
    """Contributions by the bytes of their history and the code versions."""

    def __init__(self, folder: Path, versions: Iterable[str]) -> None:
        self.folder = folder
        self._salt = "\0".join([f"entry={_ENTRY}", f"format={FORMAT_VERSION}", *versions])

    def key(self, audit_key: str) -> str:
        """The key of the bytes whose audit cache key is *audit_key* (which covers the file's
        name, every byte and the code versions): one pass over the bytes serves both."""
        return hashlib.sha256(f"{self._salt}\0{audit_key}".encode()).hexdigest()

    def get(self, engagement: str, key: str, label: str, today: dt.date) -> Contribution | None:
        """The contribution kept for *key*, as of *today* (None: no usable entry)."""
        try:
            head, _, body = read_regular(self._path(engagement)).partition(b"\n")
            entry = json.loads(head)
            if not isinstance(entry, dict) or entry.get("entry") != _ENTRY:
                return None
            if entry.get("key") != key or entry.get("sum") != hashlib.sha256(body).hexdigest():
                return None  # another history's or another code's, or damaged since written
            found = load(json.loads(body), label)
        except (HistoryError, OSError, ValueError, KeyError, TypeError):
            return None
        return as_of(found, today) if found.engagement == engagement else None

    def put(self, key: str, c: Contribution) -> None:
        """Keep *c* under *key*; a failure (a read-only folder, a full disk) only loses it."""
        body = json.dumps(dump(c), separators=(",", ":")).encode()
        head = json.dumps({"entry": _ENTRY, "key": key, "sum": hashlib.sha256(body).hexdigest()})
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(head.encode() + b"\n" + body)
                os.replace(temp, self._path(c.engagement))
            except OSError:
                Path(temp).unlink(missing_ok=True)
                raise
        except OSError:
            return

    def _path(self, engagement: str) -> Path:
        return self.folder / f"{engagement}.json"


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


def load(body: Any, label: str) -> Contribution:
    """The contribution *body* holds (as :func:`dump` wrote it), labelled *label*; the day's
    figures are to be made by :func:`~._contrib.as_of`.

    Raises:
        ValueError, KeyError, TypeError: *body* is not such data, to the type of every field.
    """
    # Any: JSON data, checked here field by field.
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
        overdue=(),
        lessons=_each(body["lessons"], _lesson),
        declared=_each(body["declared"], lambda n: _of(str, n)),
        due=_each(body["due"], _due),
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


def _day_or_none(day: dt.date | None) -> str | None:
    return None if day is None else day.isoformat()


def _each(values: object, one: Callable[[Any], T]) -> tuple[T, ...]:
    return tuple(one(v) for v in _of(list, values))


def _list(v: object, size: int) -> list[Any]:
    if type(v) is not list or len(v) != size:
        raise ValueError(f"an entry is not a list of {size}")
    return v


def _span(v: object) -> Span:
    stage, title, phase, final, start, end = _list(v, 6)
    return Span(
        _of(str, stage),
        _of(str, title),
        _of(str, phase),
        _of(bool, final),
        _day(start),
        None if end is None else _day(end),
    )


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
