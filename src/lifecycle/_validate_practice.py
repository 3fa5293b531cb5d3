"""Checks on the playbook keys of the practice (#13): entry stages, rounds, roles, activity
parameters, the channels of entry, and rules that read activity parameters.

Each problem names the file and key path of the entry at fault, as :mod:`~lifecycle._validate`
does; the messages are listed in docs/playbook-schema.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from ._rules import MAX_DAYS

if TYPE_CHECKING:
    from ._model import Playbook
    from ._validate import Origins

__all__ = ["practice_problems"]


def practice_problems(pb: Playbook, origins: Origins) -> Iterator[str]:
    """Every problem of the practice keys of the resolved playbook *pb*."""
    yield from _entry_problems(pb, origins)
    yield from _round_problems(pb, origins)
    yield from _param_problems(pb, origins)
    yield from _role_problems(pb, origins)
    yield from _when_problems(pb, origins)
    if pb.channels is not None and len(set(pb.channels)) != len(pb.channels):
        yield f"{origins.top}: $.channels: a channel is listed twice"


def _entry_problems(pb: Playbook, origins: Origins) -> Iterator[str]:
    for stage in pb.stages:
        if stage.entry and stage.final:
            yield f"{origins.at('stages', stage.id, 'entry')}: a final stage cannot be an entry"
        if stage.entry_checklist and not stage.is_entry:
            where = origins.at("stages", stage.id, "entry_checklist")
            yield f"{where}: only an entry stage (entry = true) has an entry checklist"


def _round_problems(pb: Playbook, origins: Origins) -> Iterator[str]:
    for trigger in pb.triggers:
        if not trigger.new_round:
            continue
        for index, source in enumerate(trigger.from_):
            stage = pb.stage(source)
            if stage is not None and not stage.final:
                where = origins.at("triggers", trigger.id, f"from[{index}]")
                yield f"{where}: a new round starts from a final stage, not {source!r}"
        target = pb.stage(trigger.to)
        if target is not None and target.final:
            where = origins.at("triggers", trigger.id, "to")
            yield f"{where}: a new round cannot start in final stage {trigger.to!r}"


def _param_problems(pb: Playbook, origins: Origins) -> Iterator[str]:
    for activity in pb.activities:
        seen: set[str] = set()
        for index, param in enumerate(activity.params or ()):
            where = origins.at("activities", activity.id, f"params[{index}]")
            if param.id in seen:
                yield f"{where}.id: duplicate parameter {param.id!r}"
            seen.add(param.id)
            if param.type == "choice" and not param.choices:
                yield f"{where}.choices: a choice parameter needs choices"
            if param.type != "choice" and param.choices:
                yield f"{where}.choices: only a choice parameter has choices"


def _role_problems(pb: Playbook, origins: Origins) -> Iterator[str]:
    seen: set[str] = set()
    for index, role in enumerate(pb.roles or ()):
        where = f"{origins.top}: $.roles[{index}]"
        if role.id in seen:
            yield f"{where}.id: duplicate role {role.id!r}"
        seen.add(role.id)
        for j, owed in enumerate(role.owes):
            if pb.activity(owed.activity) is None:
                yield f"{where}.owes[{j}].activity: unknown activity {owed.activity!r}"
            if not 1 <= owed.within_days <= MAX_DAYS:
                yield f"{where}.owes[{j}].within_days: must be from 1 to {MAX_DAYS}"


def _when_problems(pb: Playbook, origins: Origins) -> Iterator[str]:
    for rule in pb.rules:
        if rule.when_params is None:
            continue
        where = origins.at("rules", rule.id, "when_params")
        if rule.on or not rule.on_activity:
            yield f"{where}: only a rule on activities (on_activity, no on) reads parameters"
        for name in rule.on_activity:
            activity = pb.activity(name)
            for key, values in rule.when_params.items():
                param = activity.param(key) if activity else None
                if activity is not None and param is None:
                    yield f"{where}.{key}: activity {name!r} has no parameter {key!r}"
                elif param is not None and param.choices:
                    for value in values:
                        if value not in param.choices:
                            yield f"{where}.{key}: {value!r} is not one of {name!r}'s choices"
