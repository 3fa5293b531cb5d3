"""The last reports of a workspace, kept whole (#14): a report asked again of the very same
bytes, on the same day, with the same options and code, is the report made then.

A report is a function of its inputs alone: every history's bytes (each one's key, which
covers its name, every byte and the code versions), where each is (its path, printed in the
appendix), the store's label, the day, the options (period, playbooks, format), the templates
and the versions of the code that renders them, and, with ``--playbook``, the playbooks the
catalog knows (they decide whether the option is an error). :func:`memo_key` is the SHA-256 of
all of them. A report whose every history was read and audited clean is kept under that key,
with the SHA-256 of its text, in ``<entries folder>/reports/<key>.json``; a later report whose
key is the same (every history read again and hashed, so a history rewritten behind it, even
at the same size and modification time, changes the key) is that text, no verdict, no
contribution decoded, nothing rendered. A file that is not such an entry (damaged, another
key's, half-written) is ignored and the report made afresh.

Like the entries beside it (:mod:`~._cache`) it is an accelerator only, in the user's own cache
folder: whoever can write it can make a report lie while its appendix verifies, and
``report --no-cache`` (which reads no cache at all) is the auditor's check of the figures.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Final, NamedTuple

from .._codeversion import installed_version
from .._files import read_regular, replace_file
from ..exceptions import HistoryError

__all__ = ["Kept", "Memo", "memo_key"]

_MEMO: Final = 1  # the form of a kept report
_KEEP: Final = 8  # reports kept per workspace (the newest)
_NAME: Final = re.compile(r"[0-9a-f]{64}\.json")  # a kept report's file name


class Kept(NamedTuple):
    """A report kept whole: its text, and what the command says of it."""

    text: str
    engagements: int  # the report's totals.engagements
    start: str | None  # its period.from
    end: str  # its period.to


def memo_key(
    salt: str,
    *,
    fmt: str,
    today: dt.date,
    start: dt.date | None,
    end: dt.date,
    playbooks: Sequence[str],
    catalog: Iterable[str],
    store: str,
    histories: Iterable[tuple[str, str, str]],
) -> str:
    """The key of a report: SHA-256 over the code versions (*salt*), the templates and the
    renderer's versions, the options, the day, the store and each history's (engagement,
    path, key), in the order the report reads them."""
    digest = hashlib.sha256(f"memo={_MEMO}\0{salt}\0".encode())
    for name in ("jinja2", "markupsafe"):
        digest.update(f"{name}={installed_version(name)}\0".encode())
    folder = Path(__file__).parent / "templates"  # as _render's loader finds them
    for template in (f"report.{fmt}",) if fmt != "json" else ():
        digest.update((folder / template).read_bytes() + b"\0")
    head = [fmt, today.isoformat(), _day(start), end.isoformat(), store]
    named = list(dict.fromkeys(playbooks))  # as the report takes them: each once, in order
    digest.update(json.dumps([head, named, sorted(catalog)]).encode() + b"\0")
    for engagement, path, key in histories:
        digest.update(json.dumps([engagement, path, key]).encode() + b"\0")
    return digest.hexdigest()


def _day(day: dt.date | None) -> str | None:
    return None if day is None else day.isoformat()


class Memo:
    """The reports kept in *folder* (made when the first is kept)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def get(self, key: str) -> Kept | None:
        """The report kept under *key* (None: none, or a file that is not one)."""
        try:
            data = json.loads(read_regular(self._path(key)))
            kept = Kept(**data["report"])
        except (HistoryError, OSError, ValueError, RecursionError, KeyError, TypeError):
            return None
        if not _typed(kept) or data.get("key") != key:
            return None
        try:
            digest = _digest(kept.text)
        except UnicodeEncodeError:
            return None
        return kept if data.get("sum") == digest else None

    def put(self, key: str, kept: Kept) -> None:
        """Keep *kept* under *key*; a failure (a read-only folder, a full disk, a folder that is
        a symlink) only loses it."""
        if os.path.islink(self.folder):
            return  # kept reports are pruned here: never in a folder elsewhere
        try:
            body = json.dumps({"key": key, "sum": _digest(kept.text), "report": kept._asdict()})
            replace_file(self._path(key), body.encode("ascii"))
            self._prune()
        except (OSError, ValueError):
            return

    def _path(self, key: str) -> Path:
        return self.folder / f"{key}.json"

    def _prune(self) -> None:
        """Remove all but the reports kept last (files named as this code names them only)."""
        kept = [p for p in self.folder.glob("*.json") if _NAME.fullmatch(p.name)]
        kept.sort(key=_mtime, reverse=True)
        for old in kept[_KEEP:]:
            old.unlink(missing_ok=True)


def _digest(text: str) -> str:
    """The SHA-256 of *text* in UTF-8.

    Raises:
        UnicodeEncodeError: *text* holds a lone surrogate (no report this code renders does).
    """
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _typed(kept: Kept) -> bool:
    """Whether every field of *kept* has its type (a bool is no count)."""
    return (
        type(kept.text) is str
        and type(kept.engagements) is int
        and (kept.start is None or type(kept.start) is str)
        and type(kept.end) is str
    )
