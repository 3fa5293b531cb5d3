"""The catalog: every playbook document from every source, and their resolution.

Sources are TOML files and folders (the shipped ones, ``--playbooks``, plugins' paths) and
playbook objects registered by plugins. The same file reached twice counts once; the same id from
two different sources is an error naming both, raised when that id is used.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Final, TypeVar

import attrs

from ._lines import MAX_LINE_BYTES
from ._model import ChecklistItem, Playbook, Role, Stage, Trigger
from ._playbooks import LIST_KEYS, Document, playbook_digest, read_document
from ._validate import Origins, validate_resolved
from .exceptions import NotFoundError, PlaybookError

__all__ = ["Catalog", "Resolved"]

_E = TypeVar("_E", bound=object)
# Each expanded source is at least 4 bytes of JSON (`"s",`): more cannot fit in one line (#10).
MAX_STAR_SOURCES: Final = MAX_LINE_BYTES // 4


@attrs.frozen
class Resolved:
    """A resolved playbook, its sha256, and the documents it was merged from (root first)."""

    playbook: Playbook
    sha256: str
    chain: tuple[Document, ...]

    @property
    def label(self) -> str:
        """Where the playbook's own document came from."""
        return self.chain[-1].label


@attrs.define
class Catalog:
    """Playbook documents by id, resolved on demand (and cached)."""

    documents: dict[str, Document] = attrs.field(factory=dict)
    broken: list[Document] = attrs.field(factory=list)
    conflicts: dict[str, list[str]] = attrs.field(factory=dict)
    rule_kinds: Mapping[str, object] | None = None
    shadowing: set[str] = attrs.field(factory=set)
    _resolved: dict[str, Resolved] = attrs.field(factory=dict, init=False)

    @classmethod
    def from_paths(
        cls,
        paths: Iterable[Path],
        *,
        first: Iterable[Path] = (),
        rule_kinds: Mapping[str, object] | None = None,
    ) -> Catalog:
        """Build a catalog from TOML files and folders of ``*.toml`` files.

        Playbooks in *first* shadow those of the same id in *paths* (a file being checked
        stands in for the installed copy of itself).
        """
        catalog = cls(rule_kinds=rule_kinds)
        catalog.add_first(first)
        for path in paths:
            catalog.add_path(path)
        return catalog

    def add_first(self, paths: Iterable[Path]) -> None:
        """Add *paths* as shadowing sources: later sources with the same ids are skipped."""
        for path in paths:
            self.add_path(path)
        self.shadowing = set(self.documents)

    def add_path(self, path: Path) -> None:
        """Add a TOML file, or every ``*.toml`` file of a folder (sorted, not recursive)."""
        if path.is_dir():
            for file in sorted(path.glob("*.toml")):
                self.add_document(read_document(file))
        else:
            self.add_document(read_document(path))

    def add_document(self, document: Document) -> None:
        """Add one document; a second source for an id already known is a conflict."""
        if document.playbook is None:
            self.broken.append(document)
            return
        known = self.documents.get(document.playbook.id)
        if document.playbook.id in self.shadowing and known is not document:
            return  # a file given first (to be checked) stands in for the installed one
        if known is None:
            self.documents[document.playbook.id] = document
        elif not _same_source(known, document):
            self.conflicts.setdefault(document.playbook.id, [known.label]).append(document.label)

    def ids(self) -> list[str]:
        """Every playbook id known, sorted."""
        return sorted(self.documents)

    def resolve(self, playbook_id: str) -> Resolved:
        """Return the resolved playbook *playbook_id*.

        Raises:
            NotFoundError: No source defines *playbook_id*.
            PlaybookError: It, or a playbook it extends, is invalid or defined twice.
        """
        if playbook_id not in self._resolved:
            self._resolved[playbook_id] = self._resolve(playbook_id, ())
        return self._resolved[playbook_id]

    def _resolve(self, playbook_id: str, seen: tuple[str, ...]) -> Resolved:
        merged, origins, chain = self._merged(playbook_id, seen)
        if (count := _star_sources(merged)) > MAX_STAR_SOURCES:
            raise PlaybookError(
                [
                    f'{chain[-1].label}: $.triggers: from = ["*"] expands to {count} source '
                    "stages; the resolved playbook could never be stored in a history line"
                ]
            )
        # Stars expand over the fully merged playbook, so they cover stages a child adds (#2).
        resolved = attrs.evolve(_expand_stars(merged), extends=None)
        problems = list(validate_resolved(resolved, origins, self.rule_kinds))
        if problems:
            raise PlaybookError(problems)
        return Resolved(resolved, playbook_digest(resolved), chain)

    def _merged(
        self, playbook_id: str, seen: tuple[str, ...]
    ) -> tuple[Playbook, Origins, tuple[Document, ...]]:
        """The playbook merged over its parents, ``from = ["*"]`` not yet expanded."""
        document = self._document(playbook_id, seen)
        playbook = document.playbook
        assert playbook is not None  # only parsed documents are indexed
        if playbook.extends is None:
            return _root(document), Origins.of(document), (document,)
        parent, _, parents = self._merged(playbook.extends, (*seen, playbook_id))
        origins = Origins.of(*parents)
        merged, problems = _merge(parent, document, origins)
        if problems:
            raise PlaybookError(problems)
        return merged, origins, (*parents, document)

    def _document(self, playbook_id: str, seen: tuple[str, ...]) -> Document:
        if playbook_id in seen:
            cycle = " -> ".join((*seen, playbook_id))
            raise PlaybookError([f"{self.documents[seen[0]].label}: $.extends: cycle {cycle}"])
        if playbook_id in self.conflicts:
            sources = " and ".join(self.conflicts[playbook_id])
            raise PlaybookError([f"playbook id {playbook_id!r} is defined twice: in {sources}"])
        document = self.documents.get(playbook_id)
        if document is None:
            where = f" (extended by {seen[-1]!r})" if seen else ""
            raise NotFoundError("playbook", playbook_id + where)
        if document.problems:
            raise PlaybookError(document.problems)
        return document


def _same_source(a: Document, b: Document) -> bool:
    if a.path is None or b.path is None:
        return a is b
    try:
        return a.path.resolve() == b.path.resolve() or a.path.samefile(b.path)
    except OSError:
        return False


def _root(document: Document) -> Playbook:
    assert document.playbook is not None
    return attrs.evolve(document.playbook, extends=None)


def _merge(parent: Playbook, doc: Document, origins: Origins) -> tuple[Playbook, list[str]]:
    """Merge document *doc* over its resolved *parent*, by id; record where entries came from."""
    child = doc.playbook
    assert child is not None
    problems: list[str] = []
    known = {e.id for key in LIST_KEYS for e in getattr(parent, key)}
    known |= {i.id for s in parent.stages for i in s.checklist}
    for index, removed in enumerate(child.remove):
        if removed not in known:
            problems.append(f"{doc.label}: $.remove[{index}]: nothing inherited has id {removed!r}")
    lists = {}
    for key in LIST_KEYS:
        lists[key] = _merge_list(getattr(parent, key), getattr(child, key), set(child.remove))
        origins.add(doc, key, getattr(child, key))
    stages = list(lists["stages"])
    stages = [_drop_items(s, set(child.remove)) for s in stages]
    for index, add in enumerate(child.checklist):
        at = next((i for i, s in enumerate(stages) if s.id == add.stage), None)
        if at is None:
            problems.append(f"{doc.label}: $.checklist[{index}].stage: unknown stage {add.stage!r}")
            continue
        item = ChecklistItem(add.id, add.text, add.required, add.source, add.indicator, add.lessons)
        stages[at] = attrs.evolve(
            stages[at], checklist=tuple(_merge_list(stages[at].checklist, [item], set()))
        )
        origins.items[add.id] = (doc.label, f"$.checklist[{index}]")
    merged = attrs.evolve(
        child,
        extends=child.extends,
        organization=child.organization or parent.organization,
        description=child.description or parent.description,
        admin_roles=parent.admin_roles if child.admin_roles is None else child.admin_roles,
        remove=(),
        checklist=(),
        facts=tuple(lists["facts"]),
        stages=tuple(stages),
        triggers=tuple(lists["triggers"]),
        activities=tuple(lists["activities"]),
        rules=tuple(lists["rules"]),
        channels=parent.channels if child.channels is None else child.channels,
        roles=_merged_roles(parent, child),
        lessons=parent.lessons if child.lessons is None else child.lessons,
    )
    return merged, problems


def _merged_roles(parent: Playbook, child: Playbook) -> tuple[Role, ...] | None:
    """Roles merge by id like the other lists (#13); None when neither playbook has any."""
    if parent.roles is None and child.roles is None:
        return None
    return tuple(_merge_list(parent.roles or (), child.roles or (), set(child.remove)))


def _merge_list(parent: Iterable[_E], child: Iterable[_E], removed: set[str]) -> list[_E]:
    """Parent entries in order, replaced in place by a child's of the same id; new ids appended."""
    by_id = {getattr(e, "id"): e for e in child}  # noqa: B009 - every entry type has an id
    out = [by_id.pop(getattr(e, "id"), e) for e in parent]  # noqa: B009
    out.extend(by_id.values())
    return [e for e in out if getattr(e, "id") not in removed]  # noqa: B009


def _drop_items(stage: Stage, removed: set[str]) -> Stage:
    if not any(item.id in removed for item in stage.checklist):
        return stage
    return attrs.evolve(stage, checklist=tuple(i for i in stage.checklist if i.id not in removed))


def _star_sources(playbook: Playbook) -> int:
    """How many source stages ``from = ["*"]`` would expand to, counted before expanding."""
    stars = sum("*" in t.from_ for t in playbook.triggers)
    return stars * sum(not s.final for s in playbook.stages)


def _expand_stars(playbook: Playbook) -> Playbook:
    """``from = ["*"]`` means every non-final stage of the resolved playbook but the target."""
    open_stages = [s.id for s in playbook.stages if not s.final]

    def expand(trigger: Trigger) -> Trigger:
        if "*" not in trigger.from_:
            return trigger
        sources: list[str] = []
        for name in trigger.from_:
            names = [s for s in open_stages if s != trigger.to] if name == "*" else [name]
            sources.extend(n for n in names if n not in sources)
        return attrs.evolve(trigger, from_=tuple(sources))

    return attrs.evolve(playbook, triggers=tuple(expand(t) for t in playbook.triggers))
