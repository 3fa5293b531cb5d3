"""Every error lifecycle raises, in one tree.

::

    * LifecycleError
      x NotFoundError                (.kind, .name)       a name the caller gave does not exist
      x PlaybookError                (.problems)          a playbook is invalid; every problem listed
      x ConfigError                  (.path)              the workspace configuration is invalid
      x InvalidInputError                                 a value the caller gave is malformed
        + KeyFileError               (.path)              a key file cannot be read or is no Ed25519 key
      x RefusedError                 (.outcomes)          the playbook does not allow the action now
      x HistoryError                 (.path)              a history file cannot be read or written
        + TornTailError                                   its last line is incomplete; run `repair`
        + CorruptHistoryError        (.seq)               a line fails its hash, chain or sequence
        + ConcurrencyConflict        (.expected, .actual) another writer appended first
        + EngagementExistsError                           the engagement was opened already
        + HistoryBusyError           (.timeout, .pid)     another process held its lock too long
      x PluginError                  (.plugin, .problem)  a plugin failed to load or misbehaved
      x KeyringError                 (.path)              a keyring fails its chain or signatures, or refuses a change

The library raises these and never prints or exits; the CLI turns them into one line on stderr and
an exit code (``NotFoundError`` and ``InvalidInputError`` are usage errors, exit 2; the rest exit 1).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "ConcurrencyConflict",
    "ConfigError",
    "CorruptHistoryError",
    "EngagementExistsError",
    "HistoryBusyError",
    "HistoryError",
    "InvalidInputError",
    "KeyFileError",
    "KeyringError",
    "LifecycleError",
    "NotFoundError",
    "PlaybookError",
    "PluginError",
    "RefusedError",
    "TornTailError",
]


class LifecycleError(Exception):
    """The root of every error lifecycle raises on purpose."""


class NotFoundError(LifecycleError):
    """A name the caller gave (engagement, playbook, trigger, item, ...) does not exist."""

    def __init__(self, kind: str, name: str, hint: str = "") -> None:
        self.kind = kind
        self.name = name
        message = f"Unknown {kind} {name!r}."
        super().__init__(f"{message} {hint}".strip())


class InvalidInputError(LifecycleError):
    """A value the caller gave is malformed (a date, a fact value, an id)."""


class KeyFileError(InvalidInputError):
    """A key file (``--key``, ``--pub``, ``--trust``) cannot be read or holds no Ed25519 key."""

    def __init__(self, path: Path | str, message: str) -> None:
        self.path = Path(path)
        super().__init__(f"{path}: {message}")


class PlaybookError(LifecycleError):
    """A playbook is invalid; ``problems`` holds every problem, each naming file and key path."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        first = self.problems[0] if self.problems else "invalid playbook"
        more = len(self.problems) - 1
        super().__init__(first + (f" (and {more} more problem{'s' * (more > 1)})" if more else ""))


class ConfigError(LifecycleError):
    """The workspace configuration file is invalid."""

    def __init__(self, path: Path | str, message: str) -> None:
        self.path = Path(path)  # a shared store's settings are named by a label (#11)
        super().__init__(f"{path}: {message}")


class RefusedError(LifecycleError):
    """The playbook does not allow the action now; ``outcomes`` says which rules stood in the way.

    The refusal itself has been recorded in the history when ``recorded_seq`` is set.
    """

    def __init__(
        self, message: str, outcomes: Sequence[Any] = (), recorded_seq: int | None = None
    ) -> None:
        # Any: RuleOutcome lives in a private module that imports this one.
        self.outcomes = list(outcomes)
        self.recorded_seq = recorded_seq
        super().__init__(message)


class HistoryError(LifecycleError):
    """A history file cannot be read or written."""

    def __init__(self, path: Path | str, message: str) -> None:
        self.path = Path(path)
        super().__init__(f"{path}: {message}")


class TornTailError(HistoryError):
    """The last line of a history file is incomplete (a crash mid-write); `repair` cuts it."""


class CorruptHistoryError(HistoryError):
    """A line of a history file fails its hash, chain or sequence check."""

    def __init__(self, path: Path | str, message: str, seq: int | None = None) -> None:
        self.seq = seq
        super().__init__(path, message)


class ConcurrencyConflict(HistoryError):
    """Another writer appended first: the expected head is no longer the file's head."""

    def __init__(self, path: Path | str, expected: int, actual: int) -> None:
        self.expected = expected
        self.actual = actual
        super().__init__(
            path,
            f"conflict: expected to append after event {expected}, "
            f"but the history is at event {actual}; reload and try again.",
        )


class EngagementExistsError(HistoryError):
    """An engagement with that id has a history file already."""


class HistoryBusyError(HistoryError):
    """Another process held the history's lock for the whole wait (``LIFECYCLE_LOCK_TIMEOUT``)."""

    def __init__(self, path: Path | str, timeout: float, pid: int | None = None) -> None:
        self.timeout = timeout
        self.pid = pid
        holder = f"process {pid}" if pid is not None else "another process"
        super().__init__(
            path,
            f"the engagement is busy: {holder} held its lock for {timeout:g} s; "
            "try again later (LIFECYCLE_LOCK_TIMEOUT sets the wait)",
        )


class PluginError(LifecycleError):
    """A plugin failed to load, or a hook it implements misbehaved."""

    def __init__(self, plugin: str, message: str) -> None:
        self.plugin = plugin
        self.problem = message
        super().__init__(f"plugin {plugin!r}: {message}")


class KeyringError(LifecycleError):
    """A keyring file fails its chain or its root signatures, or refuses a change."""

    def __init__(self, path: Path | str, message: str) -> None:
        self.path = Path(path)
        super().__init__(f"{path}: {message}")
