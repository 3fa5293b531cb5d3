"""Optimistic commands: on a store that can append in one round trip (PostgreSQL), an engine
command runs on the engine's own last state without taking the lock first, and its append is
stored only if the history's head and the workspace settings are still what that state saw.

If they moved (another writer, or new settings), nothing is written: the store raises
:class:`StaleAttempt` and the command runs again from the start, holding the lock as usual
(docs/stores.md, "Attempts"). A command that appends nothing asks the store once, at its end,
whether what it read was current, so its answer (an error included) is never a stale one.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, ParamSpec, TypeVar

from .exceptions import ConcurrencyConflict

if TYPE_CHECKING:
    from ._history import Anchor, Session
    from ._state import Engagement
    from ._store import Store

__all__ = ["StaleAttempt", "retried", "session_for"]

P = ParamSpec("P")
R = TypeVar("R")

# Set while a command runs under `retried`'s first try: only then may `_command` attempt.
_ATTEMPTING: contextvars.ContextVar[bool] = contextvars.ContextVar("attempting", default=False)


class StaleAttempt(ConcurrencyConflict):
    """An attempt's state was not the head's: nothing was written; the command runs again
    under the lock. (A ConcurrencyConflict, should one ever reach a caller.)"""


def retried(command: Callable[P, R]) -> Callable[P, R]:
    """Run an engine *command* as an attempt, and once more under the lock if it was stale."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        token = _ATTEMPTING.set(True)
        try:
            return command(*args, **kwargs)
        except StaleAttempt:
            pass  # nothing was written: run again, holding the lock from the start
        finally:
            _ATTEMPTING.reset(token)
        token = _ATTEMPTING.set(False)  # (a command a hook of this one runs tries on its own)
        try:
            return command(*args, **kwargs)
        finally:
            _ATTEMPTING.reset(token)

    return run


def session_for(
    store: Store, engagement: str, cached: tuple[Engagement, Anchor] | None
) -> contextlib.AbstractContextManager[Session]:
    """The store's attempt on *cached*'s anchor when it has one and the command may attempt,
    else its locked session."""
    after = cached[1] if cached is not None else None
    attempt = getattr(store, "attempt", None)
    if after is not None and attempt is not None and _ATTEMPTING.get():
        session: contextlib.AbstractContextManager[Session] = attempt(engagement, after)
        return session
    return store.session(engagement, after)
