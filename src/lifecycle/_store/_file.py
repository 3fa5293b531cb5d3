"""The file store: a workspace folder of ``<id>.history.jsonl`` files, the embedded default.

Each history is a :class:`~lifecycle._history.FileHistoryStore` (``O_APPEND``, one write per
line, ``fsync``, ``flock``); snapshots live in ``<workspace>/.lifecycle/``; the settings are the
folder's ``lifecycle.toml``. Repair (cutting a torn tail) exists only here: no other store can
tear a line.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._files import open_regular, read_regular
from .._history import Anchor, FileHistoryStore, Record, Session, _fsync_dir, _write_durably
from .._workspace import Workspace
from ..exceptions import EngagementExistsError, HistoryError

if TYPE_CHECKING:
    from .._state import Engagement

__all__ = ["FileStore"]

_CHUNK = 1 << 20
_AFTER = 1 << 16  # the reads after the size first seen: to the end, whatever it is now


class FileStore:
    """Every engagement of one workspace folder.

    >>> import tempfile
    >>> FileStore(tempfile.mkdtemp()).engagements()
    []
    """

    def __init__(self, root: Path | str) -> None:
        self.workspace = Workspace(Path(root))

    @property
    def label(self) -> str:
        """The folder."""
        return str(self.workspace.root)

    def history(self, engagement: str) -> FileHistoryStore:
        """The history file of *engagement* (which need not exist yet)."""
        return FileHistoryStore(self.workspace.path_of(engagement))

    def label_of(self, engagement: str) -> str:
        """The history file's path."""
        return str(self.workspace.path_of(engagement))

    def engagements(self) -> list[str]:
        """The ids of the history files in the folder."""
        return self.workspace.engagements()

    def require(self, engagement: str) -> None:
        """NotFoundError unless the history file exists."""
        self.workspace.existing(engagement)

    def create(self, engagement: str, created: str, first: Mapping[str, Any]) -> Record:
        """Create the folder if needed, then the file (header and first event in one write)."""
        history = self.history(engagement)
        self.workspace.create_root()
        return history.create(engagement, created, first)

    def session(
        self, engagement: str, after: Anchor | None = None
    ) -> contextlib.AbstractContextManager[Session]:
        """The file's session (``flock`` held until it ends)."""
        return FileHistoryStore(self.workspace.existing(engagement)).session(after)

    def read_after(
        self, engagement: str, after: Anchor | None = None
    ) -> tuple[list[Record], Anchor]:
        """Read under a shared lock."""
        return FileHistoryStore(self.workspace.existing(engagement)).read_after(after)

    def lines(self, engagement: str) -> Iterator[bytes]:
        """The file's bytes in chunks (whole lines are not promised: the audit splits them)."""
        path = self.workspace.existing(engagement)
        fd = open_regular(path, os.O_RDONLY)
        with os.fdopen(fd, "rb", buffering=0) as handle:
            left = os.fstat(fd).st_size
            # Asked for what is there (a read of 1 MiB makes a 1 MiB buffer, whatever it
            # returns: three times the cost of reading a 40 kB history); what was appended
            # since the stat is read on, in chunks.
            while chunk := handle.read(min(left, _CHUNK) if left > 0 else _AFTER):
                left -= len(chunk)
                yield chunk

    def load(self, histories: Mapping[str, bytes]) -> None:
        """Link each file into place whole; on any failure remove the ones linked before."""
        self.workspace.create_root()
        done: list[Path] = []
        try:
            for engagement, data in histories.items():
                path = self.workspace.path_of(engagement)
                _place(path, data)
                done.append(path)
        except BaseException:  # undo, then re-raised: nothing half-loaded
            for path in done:
                path.unlink(missing_ok=True)
            raise
        _fsync_dir(self.workspace.root)

    def settings(self, name: str) -> bytes | None:
        """The folder's settings file *name*, if any."""
        path = self.workspace.root / name
        if not os.path.lexists(path):
            return None
        return read_regular(path)

    def put_settings(self, name: str, body: bytes) -> None:
        """Write settings file *name* into the folder (created if needed)."""
        self.workspace.create_root()
        path = self.workspace.root / name
        try:
            path.write_bytes(body)
        except OSError as exc:
            raise HistoryError(path, f"cannot write: {exc.strerror or exc}") from None
        self.workspace = Workspace(self.workspace.root)  # forget the settings read before

    def roles_of(self, actor: str) -> tuple[str, ...]:
        """The roles ``lifecycle.toml`` gives *actor*."""
        return self.workspace.roles_of(actor)

    def load_snapshot(self, engagement: str) -> tuple[Engagement, Anchor] | None:
        """The snapshot in ``.lifecycle/``, when usable (the state's model is imported only
        by a command that replays: the portfolio and report commands never do)."""
        from .._snapshot import load_snapshot

        return load_snapshot(self.workspace.path_of(engagement))

    def save_snapshot(self, engagement: str, state: Engagement, anchor: Anchor) -> None:
        """Write the snapshot atomically."""
        from .._snapshot import save_snapshot

        save_snapshot(self.workspace.path_of(engagement), state, anchor)

    def remove_snapshot(self, engagement: str) -> None:
        """Remove a stale snapshot."""
        from .._snapshot import remove_snapshot

        remove_snapshot(self.workspace.path_of(engagement))

    def close(self) -> None:
        """Nothing to release: each command opens and closes its file."""


def _place(path: Path, data: bytes) -> None:
    """Write *data* to a temporary file durably, then link it to *path* (never overwriting)."""
    try:
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise HistoryError(path, f"cannot create: {exc.strerror}") from None
    temp = Path(name)
    try:
        try:
            _write_durably(path, fd, data)
        finally:
            os.close(fd)
        os.link(temp, path)
    except FileExistsError:
        raise EngagementExistsError(path, "a history file exists already") from None
    except OSError as exc:
        raise HistoryError(path, f"cannot create: {exc.strerror}") from None
    finally:
        temp.unlink(missing_ok=True)
