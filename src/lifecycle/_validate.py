"""Checks on a resolved playbook: references, the stage graph, rule kinds and their parameters.

Every problem names the file and key path of the entry at fault, found through :class:`Origins`
(after ``extends``, an entry may come from the parent's file or the child's).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING

import attrs

from ._model import RETURN, Playbook, Rule, Trigger
from ._rules import CORE_RULE_KINDS, MAX_DAYS, Param, RuleKind
from ._validate_indicators import indicator_problems
from ._validate_lessons import lesson_problems
from ._validate_practice import practice_problems

if TYPE_CHECKING:
    from ._playbooks import Document

__all__ = ["Origins", "validate_resolved"]

_PY_TYPES: Mapping[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "bool": (bool,),
    "list": (list,),
}


@attrs.define
class Origins:
    """Where each entry of a resolved playbook was written: ``(file label, key path)``."""

    entries: dict[tuple[str, str], tuple[str, str]] = attrs.field(factory=dict)
    items: dict[str, tuple[str, str]] = attrs.field(factory=dict)
    top: str = ""

    @classmethod
    def of(cls, *documents: Document) -> Origins:
        """Origins of the entries of *documents*, later documents overriding earlier ones."""
        origins = cls()
        for document in documents:
            assert document.playbook is not None
            for key in ("facts", "stages", "triggers", "activities", "rules"):
                origins.add(document, key, getattr(document.playbook, key))
            for index, add in enumerate(document.playbook.checklist):
                origins.items[add.id] = (document.label, f"$.checklist[{index}]")
        return origins

    def add(self, document: Document, key: str, entries: Iterable[object]) -> None:
        """Record that *entries* of list *key* were written in *document*."""
        self.top = document.label
        for index, entry in enumerate(entries):
            entry_id = getattr(entry, "id")  # noqa: B009 - every entry type has an id
            self.entries[(key, entry_id)] = (document.label, f"$.{key}[{index}]")
            for j, item in enumerate(getattr(entry, "checklist", ())):
                self.items[item.id] = (document.label, f"$.{key}[{index}].checklist[{j}]")

    def at(self, key: str, entry_id: str, field: str = "") -> str:
        """``file: $.key[i].field`` for an entry, or the top of the playbook's own file."""
        label, path = self.entries.get((key, entry_id), (self.top, "$"))
        return f"{label}: {path}{'.' + field if field else ''}"


def validate_resolved(
    pb: Playbook,
    origins: Origins,
    rule_kinds: Mapping[str, object] | None = None,
    *,
    any_kind: bool = False,
) -> Iterator[str]:
    """Yield every problem of the resolved playbook *pb*, each naming file and key path.

    With *any_kind*, rules of kinds not in *rule_kinds* pass unchecked (a playbook embedded in a
    history may use a plugin's kinds that this installation lacks).
    """
    kinds = rule_kinds if rule_kinds is not None else {k.name: k for k in CORE_RULE_KINDS}
    yield from _stage_problems(pb, origins)
    yield from _trigger_problems(pb, origins)
    yield from _graph_problems(pb, origins)
    yield from _fact_problems(pb, origins)
    yield from _activity_problems(pb, origins)
    for rule in pb.rules:
        if any_kind and rule.kind not in kinds:
            continue
        yield from _rule_problems(pb, rule, kinds, origins)
    yield from _item_problems(pb, origins)
    yield from practice_problems(pb, origins)
    yield from indicator_problems(pb, origins)
    yield from lesson_problems(pb, origins)


def _stage_problems(pb: Playbook, origins: Origins) -> Iterator[str]:
    initial = [s.id for s in pb.stages if s.initial]
    if not pb.stages:
        yield f"{origins.top}: $.stages: a playbook needs at least one stage"
    elif len(initial) != 1:
        found = ", ".join(repr(s) for s in initial) or "none"
        yield f"{origins.top}: $.stages: exactly one stage must be initial (found {found})"


def _trigger_problems(pb: Playbook, origins: Origins) -> Iterator[str]:
    stages = {s.id for s in pb.stages}
    for t in pb.triggers:
        if not t.from_:
            yield f"{origins.at('triggers', t.id, 'from')}: names no stage"
        for index, source in enumerate(t.from_):
            if source not in stages:
                yield f"{origins.at('triggers', t.id, f'from[{index}]')}: unknown stage {source!r}"
        if t.to not in stages and not t.returns:
            yield f"{origins.at('triggers', t.id, 'to')}: unknown stage {t.to!r}"
        if t.returns:
            yield from _return_problems(pb, t, origins)


def _return_problems(pb: Playbook, trigger: Trigger, origins: Origins) -> Iterator[str]:
    """A returning trigger needs, from each of its stages, somewhere to return to."""
    for index, source in enumerate(trigger.from_):
        if pb.stage(source) is not None and not pb.entered_from(source):
            where = origins.at("triggers", trigger.id, f"from[{index}]")
            yield f"{where}: no trigger enters stage {source!r}, so {RETURN!r} has nowhere to return to"


def _graph_problems(pb: Playbook, origins: Origins) -> Iterator[str]:
    exits = {source for t in pb.triggers if not t.new_round for source in t.from_}
    for stage in pb.stages:
        if stage.final and stage.id in exits:
            out = [t.id for t in pb.triggers if stage.id in t.from_]
            yield (
                f"{origins.at('stages', stage.id, 'final')}: final stage {stage.id!r} "
                f"has a way out (trigger {', '.join(out)})"
            )
        if not stage.final and stage.id not in exits:
            yield (
                f"{origins.at('stages', stage.id)}: stage {stage.id!r} is not final "
                "but no trigger leaves it"
            )
    initial = next((s.id for s in pb.stages if s.initial), None)
    if initial is None:
        return
    reached, frontier = {initial}, [initial]
    while frontier:
        here = frontier.pop()
        for t in pb.triggers:
            # A returning trigger leads only where the engagement has been: it reaches nothing new.
            if here in t.from_ and t.to not in reached and not t.returns:
                reached.add(t.to)
                frontier.append(t.to)
    for stage in pb.stages:
        if stage.id not in reached:
            yield f"{origins.at('stages', stage.id)}: stage {stage.id!r} is unreachable from {initial!r}"


def _fact_problems(pb: Playbook, origins: Origins) -> Iterator[str]:
    for fact in pb.facts:
        if fact.type == "choice" and not fact.choices:
            yield f"{origins.at('facts', fact.id, 'choices')}: a choice fact needs choices"
        if fact.type != "choice" and fact.choices:
            yield f"{origins.at('facts', fact.id, 'choices')}: only a choice fact has choices"


def _activity_problems(pb: Playbook, origins: Origins) -> Iterator[str]:
    stages = {s.id for s in pb.stages}
    for activity in pb.activities:
        for index, stage in enumerate(activity.during):
            if stage not in stages:
                where = origins.at("activities", activity.id, f"during[{index}]")
                yield f"{where}: unknown stage {stage!r}"
        if activity.every_days is not None and not 1 <= activity.every_days <= MAX_DAYS:
            where = origins.at("activities", activity.id, "every_days")
            yield f"{where}: must be from 1 to {MAX_DAYS}"


def _rule_problems(
    pb: Playbook, rule: Rule, kinds: Mapping[str, object], origins: Origins
) -> Iterator[str]:
    triggers = {t.id for t in pb.triggers}
    activities = {a.id for a in pb.activities}
    for index, name in enumerate(rule.on):
        if name not in triggers:
            yield f"{origins.at('rules', rule.id, f'on[{index}]')}: unknown trigger {name!r}"
    for index, name in enumerate(rule.on_activity):
        if name not in activities:
            where = origins.at("rules", rule.id, f"on_activity[{index}]")
            yield f"{where}: unknown activity {name!r}"
    if not rule.on and not rule.on_activity:
        yield f"{origins.at('rules', rule.id)}: rule applies to nothing (give `on` or `on_activity`)"
    kind = kinds.get(rule.kind)
    if not isinstance(kind, RuleKind):
        known = ", ".join(sorted(kinds))
        yield f"{origins.at('rules', rule.id, 'kind')}: unknown rule kind {rule.kind!r} (known: {known})"
        return
    for key, problem in _param_problems(pb, rule, kind):
        yield f"{origins.at('rules', rule.id, key)}: {problem}"


def _param_problems(pb: Playbook, rule: Rule, kind: RuleKind) -> Iterator[tuple[str, str]]:
    for key in sorted(set(rule.params) - set(kind.params)):
        yield key, f"unknown parameter for rule kind {kind.name!r}"
    for key, param in kind.params.items():
        value = rule.params.get(key)
        if value is None:
            if param.required:
                yield key, f"rule kind {kind.name!r} needs {key!r}"
            continue
        problem = _param_value_problem(pb, param, value)
        if problem:
            yield key, problem
    if kind.check is not None and not any(True for _ in _param_problems_basic(rule, kind)):
        for line in kind.check(rule, pb):
            key, _, problem = line.partition(": ")
            yield key, problem


def _param_problems_basic(rule: Rule, kind: RuleKind) -> Iterator[str]:
    for key, param in kind.params.items():
        value = rule.params.get(key)
        if value is not None and not _has_type(param, value):
            yield key


def _has_type(param: Param, value: object) -> bool:
    if param.many and isinstance(value, list) and param.type != "list":
        return bool(value) and all(_has_one_type(param, v) for v in value)
    return _has_one_type(param, value)


def _has_one_type(param: Param, value: object) -> bool:
    types = _PY_TYPES[param.type]
    if param.type == "int" and isinstance(value, bool):
        return False
    return isinstance(value, types)


def _param_value_problem(pb: Playbook, param: Param, value: object) -> str:
    if not _has_type(param, value):
        many = f" or a non-empty list of {param.type}" if param.many else ""
        return f"expected {param.type}{many}, got {type(value).__name__}"
    names = {
        "fact": {f.id for f in pb.facts},
        "stage": {s.id for s in pb.stages},
        "activity": {a.id for a in pb.activities},
        "event": {t.id for t in pb.triggers} | {a.id for a in pb.activities},
    }.get(param.ref)
    for one in value if param.many and isinstance(value, list) else [value]:
        if names is not None and one not in names:
            what = "trigger or activity" if param.ref == "event" else param.ref
            return f"unknown {what} {one!r}"
    return ""


def _item_problems(pb: Playbook, origins: Origins) -> Iterator[str]:
    seen: set[str] = set()
    for stage in pb.stages:
        for item in stage.checklist:
            if item.id in seen:
                label, path = origins.items.get(item.id, (origins.top, "$"))
                yield f"{label}: {path}.id: duplicate checklist item id {item.id!r}"
            seen.add(item.id)
