"""The memory store: every history's lines in memory, for tests and embedding (#11).

It keeps the same line bytes as the file store, so an export of it is byte-identical; it keeps no
snapshots (replaying from memory is what a snapshot would save).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from .._config import CONFIG_NAME, Config, parse_config
from .._history import SUFFIX, Anchor, MemoryHistoryStore, Record, Session, _verify
from .._workspace import check_engagement_id
from ..exceptions import EngagementExistsError, NotFoundError

if TYPE_CHECKING:
    from .._state import Engagement

__all__ = ["MemoryStore"]


class MemoryStore:
    """Histories and settings held in memory.

    >>> store = MemoryStore(settings={"lifecycle.toml": b'[actors.a]\\nroles = ["officer"]\\n'})
    >>> store.roles_of("a")
    ('officer',)
    """

    def __init__(self, *, settings: Mapping[str, bytes] | None = None) -> None:
        self._histories: dict[str, MemoryHistoryStore] = {}
        self._settings = dict(settings or {})
        self._config: Config | None = None

    @property
    def label(self) -> str:
        """``<memory>``."""
        return "<memory>"

    def label_of(self, engagement: str) -> str:
        """``<memory>/<id>.history.jsonl``."""
        return f"{self.label}/{engagement}{SUFFIX}"

    def engagements(self) -> list[str]:
        """Every engagement id, sorted."""
        return sorted(self._histories)

    def require(self, engagement: str) -> None:
        """NotFoundError unless *engagement* exists."""
        self._existing(engagement)

    def create(self, engagement: str, created: str, first: Mapping[str, Any]) -> Record:
        """Store the header and the first event."""
        check_engagement_id(engagement)
        history = self._histories.get(engagement) or MemoryHistoryStore(self.label_of(engagement))
        record = history.create(engagement, created, first)
        self._histories[engagement] = history
        return record

    def session(
        self, engagement: str, after: Anchor | None = None
    ) -> contextlib.AbstractContextManager[Session]:
        """Read the history whole and yield a session appending to it."""
        return self._existing(engagement).session(after)

    def read_after(
        self, engagement: str, after: Anchor | None = None
    ) -> tuple[list[Record], Anchor]:
        """Every event (memory is read whole) and the head's anchor."""
        history = self._existing(engagement)
        return _verify(history.label, bytes(history.data), None, engagement)

    def lines(self, engagement: str) -> Iterator[bytes]:
        """The history's bytes, as one chunk."""
        yield bytes(self._existing(engagement).data)

    def load(self, histories: Mapping[str, bytes]) -> None:
        """Store whole histories; refuse them all if any id is taken."""
        for engagement in histories:
            check_engagement_id(engagement)
            if engagement in self._histories:
                raise EngagementExistsError(self.label_of(engagement), "the history exists already")
        for engagement, data in histories.items():
            history = MemoryHistoryStore(self.label_of(engagement))
            history.data += data
            self._histories[engagement] = history

    def settings(self, name: str) -> bytes | None:
        """The settings bytes given at construction."""
        return self._settings.get(name)

    def put_settings(self, name: str, body: bytes) -> None:
        """Keep settings file *name*."""
        self._settings[name] = bytes(body)
        self._config = None

    def roles_of(self, actor: str) -> tuple[str, ...]:
        """The roles the ``lifecycle.toml`` setting gives *actor*."""
        if self._config is None:
            raw = self._settings.get(CONFIG_NAME)
            label = f"{self.label}/{CONFIG_NAME}"
            self._config = Config() if raw is None else parse_config(raw, label)
        return self._config.roles_of(actor)

    def load_snapshot(self, engagement: str) -> tuple[Engagement, Anchor] | None:
        """None: memory keeps no snapshots."""
        return None

    def save_snapshot(self, engagement: str, state: Engagement, anchor: Anchor) -> None:
        """Nothing: memory keeps no snapshots."""

    def remove_snapshot(self, engagement: str) -> None:
        """Nothing: memory keeps no snapshots."""

    def close(self) -> None:
        """Nothing to release."""

    def _existing(self, engagement: str) -> MemoryHistoryStore:
        check_engagement_id(engagement)
        history = self._histories.get(engagement)
        if history is None:
            raise NotFoundError("engagement", engagement, f"(not in {self.label})")
        return history
