"""What an audit says of each file, and what an auditor keeps of it: :class:`FileReport`,
:class:`Checkpoint` (``checkpoint <engagement> <events> <head>``, read back by
:func:`read_checkpoints` from saved text or ``--json``), and the files an audit covers
(:func:`find_histories`, :func:`missing_reports` for a checkpoint no file answers).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

from ._finding import Finding
from ._layout import ENGAGEMENT_ID, SUFFIX

__all__ = ["Checkpoint", "FileReport", "find_histories", "missing_reports", "read_checkpoints"]

_CHECKPOINT = re.compile(r"^checkpoint\s+(\S+)\s+(\d+)\s+([0-9a-f]{64})\s*$")


@attrs.frozen
class Checkpoint:
    """A file's head as an auditor keeps it: engagement id, event count, head hash."""

    engagement: str
    events: int
    head: str

    def line(self) -> str:
        """The text form: ``checkpoint <engagement> <events> <head>``."""
        return f"checkpoint {self.engagement} {self.events} {self.head}"


@attrs.define
class FileReport:
    """The audit of one file."""

    path: str
    engagement: str | None = None
    events: int = 0
    head: str = ""
    stage: str | None = None
    findings: list[Finding] = attrs.field(factory=list)
    overrides: list[dict[str, Any]] = attrs.field(factory=list)
    due: list[dict[str, Any]] = attrs.field(factory=list)
    # For the archive's cross-checks of cites (#15, _lessonaudit): each lesson of this history
    # as [seq, at], and each cite of a tick as [seq, "ENGAGEMENT:SEQ", the tick's at].
    lessons: list[list[Any]] = attrs.field(factory=list)
    cites: list[list[Any]] = attrs.field(factory=list)

    @property
    def ok(self) -> bool:
        """True when there is no error finding (warnings allowed)."""
        return not any(f.severity == "error" for f in self.findings)

    @property
    def checkpoint(self) -> Checkpoint | None:
        """The checkpoint of the verified prefix, when the header could be read."""
        if not self.engagement or not self.path or not ENGAGEMENT_ID.fullmatch(self.engagement):
            return None  # no header read, no file at all, or an id no checkpoint line can hold
        return Checkpoint(self.engagement, self.events, self.head)

    def as_json(self) -> dict[str, Any]:
        """The report as ``audit --json`` prints it (docs/cli.md)."""
        # Any: a JSON object.
        cp = self.checkpoint
        return {
            "path": self.path,
            "engagement": self.engagement,
            "events": self.events,
            "head": self.head,
            "stage": self.stage,
            "ok": self.ok,
            "checkpoint": cp.line() if cp else None,
            "findings": [f.as_json() for f in self.findings],
            "overrides": self.overrides,
        }


def missing_reports(
    reports: Iterable[FileReport], against: Mapping[str, Checkpoint]
) -> list[FileReport]:
    """A failed report for each checkpoint that no audited file answers: a whole file gone."""
    seen = {r.engagement for r in reports} | {
        Path(r.path).name.removesuffix(SUFFIX) for r in reports if r.path
    }
    return [
        FileReport(
            path="",
            engagement=cp.engagement,
            findings=[
                Finding(
                    "missing",
                    "error",
                    None,
                    f"no history file answers {cp.line()!r} among the files audited",
                )
            ],
        )
        for name, cp in sorted(against.items())
        if name not in seen
    ]


def find_histories(paths: Iterable[Path]) -> tuple[list[Path], list[str]]:
    """Expand files and folders (recursively, ``*.history.jsonl``); also say what is missing.

    Every entry named like a history is kept, whatever it is: one that is not a regular file (a
    directory, a FIFO, a dangling symlink) is audited as a ``not-regular-file`` error, never
    silently skipped (#9).
    """
    found: list[Path] = []
    missing: list[str] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(path.rglob(f"*{SUFFIX}")))
        elif os.path.lexists(path):
            found.append(path)
        else:
            missing.append(str(path))
    return found, missing


def read_checkpoints(text: str) -> dict[str, Checkpoint]:
    """Checkpoints saved from ``audit`` output, as text or as ``--json``.

    Raises:
        ValueError: The text holds no checkpoint.
    """
    found: dict[str, Checkpoint] = {}
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("files"), list):
        for entry in data["files"]:
            if not isinstance(entry, dict):
                continue
            name, events, head = entry.get("engagement"), entry.get("events"), entry.get("head")
            if isinstance(name, str) and isinstance(events, int) and isinstance(head, str):
                found[name] = Checkpoint(name, events, head)
    else:
        for line in text.splitlines():
            match = _CHECKPOINT.match(line.strip())
            if match:
                found[match[1]] = Checkpoint(match[1], int(match[2]), match[3])
    if not found:
        raise ValueError(
            "no checkpoint found (expected lines 'checkpoint ID EVENTS HEAD' or audit --json)"
        )
    return found
