"""What an engine command did (:class:`Result`), and what it works on while it holds the lock."""

from __future__ import annotations

from typing import Any

import attrs

from ._history import Session
from ._state import Engagement
from .exceptions import PluginError

__all__ = ["Result"]

Record = dict[str, Any]  # Any: a JSON object as stored.


@attrs.frozen
class Result:
    """What a command did: the event it appended, the state after it, and what to tell the user."""

    event: Record
    engagement: Engagement
    warnings: tuple[str, ...] = ()
    # Filled once the history's lock is released and plugins have heard of the event.
    plugin_errors: list[PluginError] = attrs.field(factory=list)


@attrs.frozen
class _Ctx:
    session: Session
    engagement: Engagement
    at: str
    actor: str
    appended: list[Result] = attrs.field(factory=list)
