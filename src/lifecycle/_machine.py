"""The only module that imports ``transitions``: a playbook compiled into one shared machine.

One :class:`CompiledMachine` per playbook ``(id, version, sha256)``, shared by every engagement of
that version: the machine is built with ``model=None`` and engagements are passed to
``machine.events[name].trigger(engagement)``, never added with ``add_model`` (quadratic). No string
from a playbook reaches transitions' callable resolution (it imports dotted names): the machine has
no callbacks at all, since the engine evaluates rules and writes the history itself. The one
exception is ours, not the playbook's: a trigger with ``to = "@return"`` becomes one transition per
stage it may lead back to, each with a condition comparing that stage with the ``back`` argument
the engine passes (where the engagement came from).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, Final

from ._model import Playbook, Trigger
from ._state import Engagement
from .exceptions import NotFoundError, RefusedError

__all__ = ["COMPILED", "CompiledMachine", "compile_machine"]

_CACHE: Final[dict[str, CompiledMachine]] = {}
# The machines compiled so far, by playbook sha256: a replayed move looks its machine up here
# and calls compile_machine only on a miss (one call less per move, #14).
COMPILED: Final[Mapping[str, CompiledMachine]] = _CACHE
_CACHE_LIMIT: Final = 256


class CompiledMachine:
    """A playbook's stage graph as a ``transitions`` machine, with typed verbs."""

    def __init__(self, playbook: Playbook) -> None:
        self.playbook = playbook
        self._moves = [move for t in playbook.triggers for move in _moves(playbook, t)]
        # Only a returning trigger's conditions read where the engagement came from.
        self._returning = frozenset(t.id for t in playbook.triggers if t.returns)
        self._events: dict[str, Any] | None = None  # the machine's, once it is built (fire)
        # Where each trigger leads from each stage, read from the same definitions the machine
        # is built from: asking where a trigger would lead (status) needs no machine (#14).
        self._table: dict[str, dict[str, list[tuple[str, bool]]]] = {
            t.id: {} for t in playbook.triggers
        }
        for move in self._moves:
            sources = move["source"] if isinstance(move["source"], list) else [move["source"]]
            for source in sources:
                by_source = self._table[move["trigger"]].setdefault(source, [])
                by_source.append((move["dest"], "conditions" in move))

    @functools.cached_property
    def _machine(self) -> Any:
        """The shared ``transitions`` machine, built when a trigger is first fired."""
        # Any: transitions ships no type information we rely on.
        from transitions import Machine

        return Machine(
            model=None,  # shared machine: engagements are passed per call, never added
            states=[stage.id for stage in self.playbook.stages],
            initial=self.playbook.initial_stage().id,
            transitions=self._moves,
            auto_transitions=False,  # no to_<stage>() shortcuts that bypass every rule
            send_event=True,  # callbacks, if ever added, get one EventData argument
            ignore_invalid_triggers=False,  # an invalid trigger raises: it is audit-relevant
            model_attribute="stage",  # the Engagement attribute the machine reads and sets
        )

    def target(self, trigger: str, stage: str, back: str | None = None) -> str | None:
        """Where *trigger* leads from *stage*, or None when it cannot fire there.

        *back* is where the engagement came from (:meth:`Engagement.came_from`): the destination
        of a returning trigger, which cannot fire when *back* is not a stage it leads back to.

        Raises:
            NotFoundError: The playbook has no trigger *trigger*.
        """
        by_source = self._table.get(trigger)
        if by_source is None:
            raise NotFoundError("trigger", trigger, f"(playbook {self.playbook.id!r})")
        moves = by_source.get(stage, [])
        if moves and not moves[0][1]:
            return moves[0][0]
        return back if any(dest == back for dest, _ in moves) else None

    def edges(self) -> list[tuple[str, str, str]]:
        """Every ``(trigger, source, dest)`` the machine knows, in playbook order."""
        out: list[tuple[str, str, str]] = []
        for trigger in self.playbook.triggers:
            event = self._machine.events[trigger.id]
            for source, moves in event.transitions.items():
                out.extend((trigger.id, str(source), str(m.dest)) for m in moves)
        return out

    def fire(self, engagement: Engagement, trigger: str) -> str:
        """Move *engagement* along *trigger*; return the stage it is now in.

        Raises:
            NotFoundError: The playbook has no trigger *trigger*.
            RefusedError: *trigger* cannot fire from the engagement's stage.
        """
        # The machine's events as a plain attribute (set at the first move): a cached_property
        # is a descriptor lookup on every read, and every replayed move reads it.
        events = self._events
        if events is None:
            events = self._events = self._machine.events
        event = events.get(trigger)
        if event is None:
            raise NotFoundError("trigger", trigger, f"(playbook {self.playbook.id!r})")
        try:
            if trigger in self._returning:
                moved = event.trigger(engagement, back=engagement.came_from())
            else:
                moved = event.trigger(engagement)
        except _machine_error():  # evaluated only when something was raised
            moved = False
        if not moved:  # a returning trigger whose conditions all fail returns False
            raise RefusedError(
                f"Can't {trigger!r} engagement {engagement.id!r} from stage {engagement.stage!r}."
            )
        return engagement.stage


def _machine_error() -> type[Exception]:
    from transitions import MachineError

    return MachineError


def _moves(playbook: Playbook, trigger: Trigger) -> list[dict[str, Any]]:
    """The machine's transitions for *trigger*; a returning one leads back to each stage a
    non-returning trigger enters its from-stage from."""
    # Any: transitions' transition definition dicts.
    if not trigger.returns:
        return [{"trigger": trigger.id, "source": list(trigger.from_), "dest": trigger.to}]
    return [
        {"trigger": trigger.id, "source": source, "dest": dest, "conditions": [_back_is(dest)]}
        for source in trigger.from_
        for dest in playbook.entered_from(source)
    ]


def _back_is(dest: str) -> Callable[[Any], bool]:
    # Any: transitions' EventData (send_event=True); *back* is the engine's keyword argument.
    return lambda event: bool(event.kwargs.get("back") == dest)


def compile_machine(playbook: Playbook, sha256: str) -> CompiledMachine:
    """Return the cached machine for this playbook version, compiling it on first use."""
    # The sha256 names the exact content, id and version included (DESIGN principle 6).
    machine = _CACHE.get(sha256)
    if machine is None:
        if len(_CACHE) >= _CACHE_LIMIT:
            _CACHE.pop(next(iter(_CACHE)))
        machine = _CACHE[sha256] = CompiledMachine(playbook)
    return machine
