"""Entry points (#13): where an engagement may start, and the channel it came through."""

from __future__ import annotations

from typing import Any

from ._model import Playbook
from .exceptions import InvalidInputError, NotFoundError

__all__ = ["entry_data", "entry_problem"]


def entry_data(playbook: Playbook, entry: str | None, channel: str | None) -> dict[str, Any]:
    """The ``opened`` members for an engagement opened at *entry* through *channel*; empty
    when neither is given (an ``opened`` event of version 1, as before).

    Raises:
        NotFoundError: No stage *entry*.
        InvalidInputError: The stage is no entry stage, or the channel not one of the playbook's.
    """
    # Any: JSON members.
    if entry is None and channel is None:
        return {}
    stage_id = entry if entry is not None else playbook.initial_stage().id
    if playbook.stage(stage_id) is None:
        raise NotFoundError("stage", stage_id, f"(playbook {playbook.id!r})")
    if problem := entry_problem(playbook, stage_id, channel or ""):
        raise InvalidInputError(problem)
    return {"entry": stage_id, **({"channel": channel} if channel else {})}


def entry_problem(playbook: Playbook, stage_id: str, channel: str) -> str:
    """What is wrong with opening at *stage_id* through *channel*, or ""."""
    stage = playbook.stage(stage_id)
    if stage is None or not stage.is_entry:
        entries = ", ".join(s.id for s in playbook.stages if s.is_entry)
        return f"Stage {stage_id!r} is no entry point of playbook {playbook.id!r} (entries: {entries})."
    if channel and playbook.channels is not None and channel not in playbook.channels:
        return f"The channel is one of {', '.join(playbook.channels)}; not {channel!r}."
    if channel and not channel.strip():
        return "The channel needs a name."
    return ""
