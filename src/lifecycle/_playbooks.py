"""Reading playbooks: TOML files -> documents -> resolved playbooks (``extends`` merged).

A *document* is one playbook as written (it may extend another); a *resolved* playbook has its
parents merged in and ``from = ["*"]`` expanded, and is what engagements run under. Every problem is
reported with the file and key path it comes from; nothing here raises on bad input except
:class:`~lifecycle.exceptions.PlaybookError`, carrying all of them.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Final

import attrs
import tomli_w

from ._convert import structure_playbook, structure_problems, unstructure_playbook
from ._inputs import read_toml
from ._model import Playbook
from .exceptions import InvalidInputError, PlaybookError

__all__ = [
    "LIST_KEYS",
    "Document",
    "document_from_playbook",
    "dump_playbook",
    "id_problems",
    "load_document",
    "load_playbook",
    "playbook_digest",
    "read_document",
    "shipped_playbooks_dir",
]

PLAYBOOK_ID: Final = re.compile(r"^[a-z0-9][a-z0-9-]*$")
ENTRY_ID: Final = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
FACT_ID: Final = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
LIST_KEYS: Final = ("facts", "stages", "triggers", "activities", "rules")
# 1 MiB: the largest shipped playbook is 13 kB (docs/playbook-schema.md, "Limits").
MAX_PLAYBOOK_BYTES: Final = 1024 * 1024


@attrs.frozen
class Document:
    """One playbook as written, with where it came from (a file, or a plugin's object)."""

    label: str
    playbook: Playbook | None
    problems: tuple[str, ...] = ()
    path: Path | None = None

    @property
    def id(self) -> str | None:
        """The playbook id, when the document parsed far enough to have one."""
        return self.playbook.id if self.playbook else None


def read_document(path: Path) -> Document:
    """Parse and structure one TOML playbook file, collecting every problem."""
    label = str(path)
    try:
        data = read_toml(path, max_bytes=MAX_PLAYBOOK_BYTES)
    except InvalidInputError as exc:
        return Document(label, None, (f"{label}: {exc}",), path)
    if data is None:
        return Document(label, None, (f"{label}: cannot read: No such file or directory",), path)
    return load_document(data, label, path)


def load_document(data: Mapping[str, Any], label: str, path: Path | None = None) -> Document:
    """Structure parsed TOML *data* into a :class:`Document`, checking what one file can check."""
    # Any: parsed TOML.
    try:
        playbook = structure_playbook(data)
    except Exception as exc:  # noqa: BLE001 - cattrs raises a group of any kind; reworded below
        return Document(label, None, tuple(f"{label}: {p}" for p in structure_problems(exc)), path)
    problems = [f"{label}: {p}" for p in _document_problems(playbook)]
    return Document(label, playbook, tuple(problems), path)


def document_from_playbook(playbook: Playbook, label: str) -> Document:
    """Wrap a playbook object (from a plugin) as a document, checking it like a file."""
    return Document(label, playbook, tuple(f"{label}: {p}" for p in _document_problems(playbook)))


def _document_problems(pb: Playbook) -> Iterator[str]:
    if pb.schema != 1:
        yield f"$.schema: unsupported schema {pb.schema} (this version reads schema 1)"
    yield from id_problems("$.id", pb.id, PLAYBOOK_ID, "playbook id")
    if pb.extends is not None:
        yield from id_problems("$.extends", pb.extends, PLAYBOOK_ID, "playbook id")
    for key in LIST_KEYS:
        pattern = FACT_ID if key == "facts" else ENTRY_ID
        seen: dict[str, int] = {}
        for index, entry in enumerate(getattr(pb, key)):
            path = f"$.{key}[{index}]"
            yield from id_problems(f"{path}.id", entry.id, pattern, "id")
            if entry.id in seen:
                yield f"{path}.id: duplicate id {entry.id!r} (also at $.{key}[{seen[entry.id]}])"
            seen.setdefault(entry.id, index)
    yield from _duplicate_items(pb)


def _duplicate_items(pb: Playbook) -> Iterator[str]:
    seen: dict[str, str] = {}
    places = [
        (f"$.stages[{i}].checklist[{j}]", item.id)
        for i, stage in enumerate(pb.stages)
        for j, item in enumerate(stage.checklist)
    ] + [(f"$.checklist[{i}]", add.id) for i, add in enumerate(pb.checklist)]
    for path, item_id in places:
        yield from id_problems(f"{path}.id", item_id, ENTRY_ID, "checklist item id")
        if item_id in seen:
            yield f"{path}.id: duplicate checklist item id {item_id!r} (also at {seen[item_id]})"
        seen.setdefault(item_id, path)


def id_problems(path: str, value: str, pattern: re.Pattern[str], what: str) -> Iterator[str]:
    """Yield a problem when *value* does not match *pattern*."""
    if not pattern.fullmatch(value):  # `$` alone would pass a final newline (#9)
        allowed = "lowercase letters, digits and '-'"
        if pattern is ENTRY_ID:
            allowed += " or '_'"
        elif pattern is FACT_ID:
            allowed += ", '_' or '.'"
        yield f"{path}: {what} {value!r} must be {allowed}, starting with a letter or digit"


def playbook_digest(playbook: Playbook) -> str:
    """The sha256 of the playbook's canonical JSON form: what identifies this exact version."""
    return hashlib.sha256(canonical_json(unstructure_playbook(playbook))).hexdigest()


def canonical_json(data: object) -> bytes:
    """Sorted keys, no spaces, UTF-8: the form hashed (RFC 8785 for data without floats)."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def load_playbook(path: Path | str, *, search: Iterable[Path] = ()) -> Playbook:
    """Load the playbook in the TOML file *path*, resolving ``extends`` from *search* folders.

    The shipped playbooks are always searched.

    Raises:
        PlaybookError: With every problem found, each naming file and key path.

    >>> pb = load_playbook(shipped_playbooks_dir() / "core.toml")
    >>> pb.id, pb.initial_stage().id
    ('core', 'support-request')
    """
    from ._catalog import Catalog

    document = read_document(Path(path))
    if document.problems or document.playbook is None:
        raise PlaybookError(document.problems)
    catalog = Catalog.from_paths([*search, shipped_playbooks_dir()], first=[Path(path)])
    return catalog.resolve(document.playbook.id).playbook


def shipped_playbooks_dir() -> Path:
    """The folder of playbooks shipped with lifecycle (``core`` and the organizations')."""
    from importlib.resources import files

    packaged = Path(str(files("lifecycle"))) / "playbooks"
    if packaged.is_dir():
        return packaged
    # An editable install runs from the source tree, where the folder sits at the root (#2).
    return Path(__file__).resolve().parents[2] / "playbooks"


def dump_playbook(playbook: Playbook) -> str:
    """Return *playbook* as TOML text that :func:`load_playbook` reads back to an equal playbook."""
    return tomli_w.dumps(unstructure_playbook(playbook), multiline_strings=False)
