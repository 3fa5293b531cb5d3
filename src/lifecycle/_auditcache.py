"""A cache of audit verdicts, so re-auditing an unchanged archive is fast.

An entry is keyed by the SHA-256 of the file's full bytes, its name, and the versions of
lifecycle, its history format and every loaded plugin: the same bytes under the same code give the
same verdict. Findings that depend on today's date (``overdue``) are not taken from the cache but
recomputed from the due dates stored with the entry. Like every cache here it is an accelerator
only: delete it at will, or audit with ``--no-cache``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final

from ._auditreport import FileReport
from ._files import open_regular, read_regular
from ._finding import Finding, overdue_findings
from ._layout import SUFFIX
from ._lines import FORMAT_VERSION
from .exceptions import HistoryError

__all__ = [
    "AuditCache",
    "audit_bytes",
    "audit_cached",
    "default_cache_dir",
    "verdict_data",
    "verdict_of",
]

_ENTRY_VERSION: Final = 3  # 2: lessons and cites (#15); 3: with their times
_DATED: Final = frozenset({"overdue"})


def default_cache_dir() -> Path:
    """``$LIFECYCLE_CACHE_DIR``, else ``$XDG_CACHE_HOME/lifecycle``, else ``~/.cache/lifecycle``."""
    if os.environ.get("LIFECYCLE_CACHE_DIR"):
        return Path(os.environ["LIFECYCLE_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "lifecycle"


class AuditCache:
    """Audit reports by file content and code versions."""

    def __init__(self, folder: Path, versions: Iterable[str]) -> None:
        self.folder = folder / "audit"
        self._salt = "\0".join([f"entry={_ENTRY_VERSION}", f"format={FORMAT_VERSION}", *versions])

    def key(self, path: Path) -> str:
        """The entry key of *path*: its bytes, its name, and the code versions.

        Raises:
            HistoryError: *path* is not a regular file (the audit reports it).
            OSError: It cannot be read.
        """
        digest = hashlib.sha256(self._salt.encode())
        digest.update(b"\0" + path.name.encode("utf-8", "surrogateescape") + b"\0")
        with os.fdopen(open_regular(path, os.O_RDONLY), "rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
        return digest.hexdigest()

    def key_of(self, name: str, data: bytes) -> str:
        """The entry key of a file named *name* holding *data*: :meth:`key` without reading it."""
        digest = hashlib.sha256(self._salt.encode())
        digest.update(b"\0" + name.encode("utf-8", "surrogateescape") + b"\0")
        digest.update(data)
        return digest.hexdigest()

    def get(self, key: str, path: Path, today: dt.date) -> FileReport | None:
        """The cached report for *key*, with date-dependent findings recomputed for *today*."""
        try:
            data = json.loads(read_regular(self.folder / key[:2] / f"{key}.json"))
        except (HistoryError, OSError, ValueError, RecursionError):
            return None  # no entry, or one that cannot be read: audit afresh
        return verdict_of(data, str(path), today)

    def put(self, key: str, report: FileReport) -> None:
        """Store *report* (without its date-dependent findings); a failure only loses the cache."""
        data = verdict_data(report)
        folder = self.folder / key[:2]
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(data, out, separators=(",", ":"))
            os.replace(temp, folder / f"{key}.json")
        except OSError:
            return


def verdict_data(report: FileReport) -> dict[str, Any]:
    """*report* as a cache entry's JSON data, without its date-dependent findings."""
    # Any: a JSON object.
    return {
        "engagement": report.engagement,
        "events": report.events,
        "head": report.head,
        "stage": report.stage,
        "overrides": report.overrides,
        "due": report.due,
        "lessons": report.lessons,
        "cites": report.cites,
        "findings": [_finding(f) for f in report.findings if f.code not in _DATED],
    }


def verdict_of(data: Any, path: str, today: dt.date) -> FileReport | None:
    """The report *data* holds (as :func:`verdict_data` made it) for the file *path*, with its
    date-dependent findings recomputed for *today*; None when *data* is no such entry."""
    # Any: JSON data, checked by building the report from it.
    try:
        report = FileReport(
            path=path,
            engagement=data["engagement"],
            events=data["events"],
            head=data["head"],
            stage=data["stage"],
            overrides=data["overrides"],
            due=data["due"],
            findings=[Finding(**f) for f in data["findings"]],
            lessons=data["lessons"],
            cites=data["cites"],
        )
        report.findings += overdue_findings(report.due, today, report.events)
    except (ValueError, KeyError, TypeError):
        return None
    return report


def _finding(f: Finding) -> dict[str, Any]:
    # Any: a JSON object.
    return {
        "code": f.code,
        "severity": f.severity,
        "seq": f.seq,
        "message": f.message,
        "line": f.line,
    }


def audit_cached(
    path: Path,
    *,
    kinds: Any,
    today: dt.date,
    against: Any,
    cache: AuditCache | None,
) -> FileReport:
    """Audit *path*, through *cache* when given (never for a file with a checkpoint to check).

    A checkpoint is matched by engagement id and by file name, as the audit matches it: a file
    renamed inside (header and opened event) but kept under its name is checked afresh, whatever
    the cache holds (#9).
    """
    # Any: the rule-kind mapping and checkpoints, passed through to audit_file.
    from ._audit import audit_file

    if cache is None or path.name.removesuffix(SUFFIX) in against:
        return audit_file(path, kinds=kinds, today=today, against=against)
    try:
        key = cache.key(path)
    except (OSError, HistoryError):
        return audit_file(path, kinds=kinds, today=today, against=against)
    cached = cache.get(key, path, today)
    if cached is not None and cached.engagement not in against:
        return cached
    report = audit_file(path, kinds=kinds, today=today, against=against)
    # A `time` finding may name an event after today: tomorrow's verdict can differ.
    if report.engagement not in against and not any(f.code == "time" for f in report.findings):
        cache.put(key, report)
    return report


def audit_bytes(
    path: Path,
    data: bytes,
    *,
    kinds: Any,
    today: dt.date,
    cache: AuditCache | None,
    key: str | None = None,
) -> FileReport:
    """Audit *data*, the bytes read from the history file *path*, through *cache* when given:
    the entry ``lifecycle audit`` keeps for a file of that name holding those bytes (#15: the
    report audits what it read, once, and its figures rest on the same bytes). *key* is
    ``cache.key_of(path.name, data)`` when the caller computed it already."""
    # Any: the rule-kind mapping, passed through to audit_stream.
    from ._audit import audit_stream

    if cache is None:
        return audit_stream(str(path), [data], kinds=kinds, today=today)
    key = key or cache.key_of(path.name, data)
    cached = cache.get(key, path, today)
    if cached is not None:
        return cached
    report = audit_stream(str(path), [data], kinds=kinds, today=today)
    # A `time` finding may name an event after today: tomorrow's verdict can differ.
    if not any(f.code == "time" for f in report.findings):
        cache.put(key, report)
    return report
