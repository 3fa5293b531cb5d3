"""Repair: cut a torn last line, after saving it beside the file, and record that it was done.

Only a torn tail is repaired. Any other damage (a bad hash, a broken chain) is refused: that is
evidence for an auditor, not something to tidy away.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._files import lock, open_regular, read_bounded
from ._history import FileHistoryStore, _write_durably, append_durably, read_lines
from ._lines import encode_line, format_at
from ._replay import EVENT_VERSIONS
from .exceptions import HistoryError, LifecycleError

if TYPE_CHECKING:
    from ._keys import PrivateKey

__all__ = ["repair_file"]


def repair_file(
    path: Path, *, actor: str, now: Any, key: PrivateKey | None = None
) -> dict[str, Any]:
    """Cut the torn last line of *path*; return the ``repaired`` event appended.

    *now* is a timezone-aware datetime. The cut bytes go to ``<file>.torn-<timestamp>``, fsynced
    before the file is truncated. With *key*, the event is signed as every command's is (the
    caller has checked that the key is the keyring's key for *actor*).

    Raises:
        HistoryError: The file is not torn, or has damage other than a torn tail.
    """
    # Any: a datetime (kept loose for callers' clocks) and a JSON record.
    fd = open_regular(path, os.O_RDWR | os.O_APPEND)
    try:
        lock(path, fd, exclusive=True)
        data = read_bounded(path, fd)
        cut_at = data.rfind(b"\n") + 1
        torn = data[cut_at:]
        if not torn:
            raise HistoryError(path, "nothing to repair: the last line is complete")
        try:
            expected = FileHistoryStore(path).engagement
            records, seq, head = read_lines(str(path), data[:cut_at], expected)
        except LifecycleError as exc:
            raise HistoryError(
                path, f"refusing to repair: the damage is not only a torn tail ({exc})"
            ) from None
        at = max(format_at(now), records[-1]["at"] if records else "")
        saved = _save(path, at.replace(":", "").replace(".", "-"), torn)
        _cut(path, fd, cut_at, saved)
        data_out = {
            "cut_bytes": len(torn),
            "saved_to": saved.name,
            "sha256": hashlib.sha256(torn).hexdigest(),
        }
        record = {
            "seq": seq + 1,
            "at": at,
            "actor": actor,
            "type": "repaired",
            "v": EVENT_VERSIONS["repaired"],
            "data": data_out,
            "prev": head,
        }
        if key is not None:
            from ._signing import sign_event

            record = sign_event(key, str(expected), record)
        try:
            append_durably(path, fd, encode_line(record))
        except HistoryError as exc:
            raise HistoryError(
                path,
                f"the torn line was cut (its bytes are in {saved.name}) but the repair could "
                f"not be recorded: {exc}",
            ) from None
        return record
    finally:
        os.close(fd)


def _cut(path: Path, fd: int, cut_at: int, saved: Path) -> None:
    try:
        os.ftruncate(fd, cut_at)
        os.fsync(fd)
    except OSError as exc:
        raise HistoryError(
            path,
            f"cannot cut the torn line ({exc.strerror or exc}); its bytes are saved in "
            f"{saved.name}",
        ) from None


def _save(history: Path, stamp: str, data: bytes) -> Path:
    """Save *data* beside *history* under a new name (never overwriting an earlier save)."""
    for n in range(1, 1000):
        path = history.with_name(f"{history.name}.torn-{stamp}" + (f"-{n}" if n > 1 else ""))
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            continue
        except OSError as exc:
            raise HistoryError(history, f"cannot save the torn bytes: {exc.strerror}") from None
        try:
            _write_durably(path, fd, data)
        except HistoryError:
            # Nothing saved, nothing left behind: a zero-byte save per attempt is debris (#9).
            path.unlink(missing_ok=True)
            raise HistoryError(
                history, "cannot save the torn bytes (disk full?); nothing was changed"
            ) from None
        finally:
            os.close(fd)
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
        return path
    raise HistoryError(history, "cannot find a free name to save the torn bytes")
