"""The workspace-level store interface every store implements (docs/stores.md).

A store holds every engagement of one workspace: each engagement's history as the exact line bytes
of docs/history-format.md, the workspace settings (``lifecycle.toml``) and, optionally, snapshots.

The durability contract, which the engine relies on:

1. ``create`` stores the header and the first event at once, durably, or nothing.
2. Inside ``session``, the engagement is held exclusively: no other session of any process may
   append to it until the session ends.
3. ``Session.append`` returns only once the line is durable (fsynced, committed): an append is
   acknowledged even when the command then raises (a recorded refusal does exactly that), so a
   transactional store commits each append on its own and keeps holding the engagement after.
4. A failed append leaves the history as it was and raises :class:`HistoryError`; it is never
   retried (after a failed fsync or a lost connection the outcome is unknown to the caller only in
   the sense that it was not acknowledged; nothing half-written is ever left behind).
5. Reads verify every line they return, strictly: any damage raises.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from .._history import Anchor, Record, Session

if TYPE_CHECKING:
    from .._state import Engagement

__all__ = ["Store"]


class Store(Protocol):
    """Where every engagement of a workspace lives (a folder, memory, a database)."""

    @property
    def label(self) -> str:
        """How messages name the store (a folder, ``<memory>``, a URL without password)."""

    def label_of(self, engagement: str) -> str:
        """How errors and audit reports name one history (ending in ``<id>.history.jsonl``)."""

    def engagements(self) -> list[str]:
        """Every engagement id, sorted."""

    def require(self, engagement: str) -> None:
        """Check that *engagement* is a valid id and exists (NotFoundError otherwise)."""

    def create(self, engagement: str, created: str, first: Mapping[str, Any]) -> Record:
        """Store the header and the first event of a new history at once; refuse if one exists."""

    def session(
        self, engagement: str, after: Anchor | None = None
    ) -> contextlib.AbstractContextManager[Session]:
        """Hold *engagement* exclusively, read it (after the opaque *after*, when it still
        holds), and yield a session whose appends are durable on return."""

    def read_after(
        self, engagement: str, after: Anchor | None = None
    ) -> tuple[list[Record], Anchor]:
        """The verified events after *after* (all, when None or stale) and the head's anchor."""

    def lines(self, engagement: str) -> Iterator[bytes]:
        """The stored bytes of the history, header first, each line with its newline (not
        verified: the audit and export read them as they are)."""

    def load(self, histories: Mapping[str, bytes]) -> None:
        """Store whole histories (already verified) under new ids: all of them, or none."""

    def settings(self, name: str) -> bytes | None:
        """The bytes of workspace settings file *name* (``lifecycle.toml``), None if absent."""

    def put_settings(self, name: str, body: bytes) -> None:
        """Store workspace settings file *name* where every user of the store reads it."""

    def roles_of(self, actor: str) -> tuple[str, ...]:
        """The roles the workspace settings give *actor*."""

    def load_snapshot(self, engagement: str) -> tuple[Engagement, Anchor] | None:
        """A cached state and its anchor, when the store keeps one."""

    def save_snapshot(self, engagement: str, state: Engagement, anchor: Anchor) -> None:
        """Keep a cached state (a failure only loses the cache)."""

    def remove_snapshot(self, engagement: str) -> None:
        """Drop a stale cached state."""

    def close(self) -> None:
        """Release what the store holds open (a connection); a later use opens it again."""
