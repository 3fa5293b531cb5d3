"""Published playbooks: is the playbook a history embeds the one its office published (#12)?

A history's ``opened`` event embeds its resolved playbook and claims an ``id@version``. A forger
can rewrite the embedded playbook and recompute its sha256 while still claiming ``core@1.0.0``;
only a comparison with what was published under that name shows it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ._catalog import Catalog
from ._conformance import Finding
from ._files import open_regular
from ._lines import LineProblem, decode_line
from ._playbooks import canonical_json
from .exceptions import HistoryError, LifecycleError

__all__ = ["audit_playbook", "published_digests"]


def published_digests(
    catalogs: Iterable[tuple[Catalog, set[str] | None]],
) -> tuple[dict[str, str], list[str]]:
    """``id@version`` to sha256 of every playbook the catalogs resolve (each only for its ids,
    when given), and the problems of those that do not resolve (each one line)."""
    digests: dict[str, str] = {}
    problems: list[str] = []
    for catalog, only in catalogs:
        for document in catalog.broken:
            problems.append(f"{document.label}: not a valid playbook")
        for playbook_id in sorted(only) if only is not None else catalog.ids():
            try:
                resolved = catalog.resolve(playbook_id)
            except LifecycleError as exc:
                problems.append(f"playbook {playbook_id!r}: {exc}")
                continue
            pb = resolved.playbook
            digests.setdefault(f"{pb.id}@{pb.version}", resolved.sha256)
    return digests, problems


def _opened(path: Path) -> dict[str, Any] | None:
    # Any: a JSON object. The second line is the opened event; anything else: no verdict here.
    try:
        with os.fdopen(open_regular(path, os.O_RDONLY), "rb") as handle:
            handle.readline((1 << 24) + 1)
            raw = handle.readline((1 << 24) + 1)
        record, _ = decode_line(raw.rstrip(b"\n"))
    except (OSError, HistoryError, LineProblem):
        return None
    data = record.get("data")
    return data if record.get("type") == "opened" and isinstance(data, dict) else None


def audit_playbook(path: Path, published: Mapping[str, str]) -> list[Finding]:
    """``playbook-mismatch`` (error) when the embedded playbook differs from the one published
    under its ``id@version``; ``playbook-unknown`` (warning) when none is published."""
    return playbook_findings(_opened(path), published)


def opened_data(lines: Iterable[bytes]) -> dict[str, Any] | None:
    """The data of the ``opened`` event of a history given as its lines (a store's), or None."""
    # Any: a JSON object.
    for number, raw in enumerate(lines):
        if number == 1:
            try:
                record, _ = decode_line(raw.rstrip(b"\n"))
            except LineProblem:
                return None
            data = record.get("data")
            return data if record.get("type") == "opened" and isinstance(data, dict) else None
    return None


def playbook_findings(
    data: Mapping[str, Any] | None, published: Mapping[str, str]
) -> list[Finding]:
    """:func:`audit_playbook` of an ``opened`` event's data."""
    # Any: a JSON object.
    playbook = data.get("playbook") if data else None
    if not isinstance(playbook, dict):
        return []  # the main audit reports a missing or broken opened event
    name = f"{playbook.get('id')}@{playbook.get('version')}"
    digest = published.get(name)
    if digest is None:
        return [Finding("playbook-unknown", "warning", 1, f"{name} is not published", 2)]
    try:
        actual = hashlib.sha256(canonical_json(playbook)).hexdigest()
    except (TypeError, ValueError, RecursionError):
        actual = ""
    recorded = data.get("playbook_sha256") if data else None
    if actual != digest or recorded != digest:
        return [
            Finding(
                "playbook-mismatch",
                "error",
                1,
                f"the embedded {name} has sha256 {actual[:12] or '?'} (recorded "
                f"{str(recorded)[:12]}); the published {name} has {digest[:12]}",
                2,
            )
        ]
    return []


def catalogs_of(
    plugins: Any, dirs: Iterable[Path], installed: bool
) -> list[tuple[Catalog, set[str] | None]]:
    """One catalog per TOML file of *dirs* (so a folder may publish several versions of an id,
    each resolving its ``extends`` among the installed playbooks), and the installed one."""
    # Any: the Plugins host.
    catalogs: list[tuple[Catalog, set[str] | None]] = []
    for folder in dirs:
        for file in sorted(folder.glob("*.toml")):
            catalog = plugins.catalog(first=[file])
            catalogs.append((catalog, set(catalog.shadowing)))
    if installed:
        catalogs.append((plugins.catalog(), None))
    return catalogs
