"""What an audit reports of a file: a :class:`Finding`, and the ``overdue`` warnings a cached
verdict recomputes for another day (kept apart from the replay machinery of
:mod:`~lifecycle._conformance`, so that a verdict taken from a cache imports none of it)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

import attrs

__all__ = ["Finding", "error", "overdue_findings", "warning"]


@attrs.frozen
class Finding:
    """One thing an auditor should know about a file."""

    code: str
    severity: Literal["error", "warning"]
    seq: int | None
    message: str
    line: int | None = None

    def as_json(self) -> dict[str, Any]:
        """The finding as ``audit --json`` prints it."""
        # Any: a JSON object.
        return {
            "code": self.code,
            "severity": self.severity,
            "seq": self.seq,
            "line": self.line,
            "message": self.message,
        }


def error(code: str, seq: int | None, message: str) -> Finding:
    """An error finding at event *seq* (its line the next number)."""
    return Finding(code, "error", seq, message, None if seq is None else seq + 1)


def warning(code: str, seq: int | None, message: str) -> Finding:
    """A warning finding at event *seq* (its line the next number)."""
    return Finding(code, "warning", seq, message, None if seq is None else seq + 1)


def overdue_findings(due: list[dict[str, Any]], today: dt.date, seq: int | None) -> list[Finding]:
    """``overdue`` warnings for the due items (as ``DueItem.as_json``) past *today*.

    Kept apart from the replay so a cached audit can recompute them for another day.
    """
    return [
        warning("overdue", seq, f"{i['kind']} {i['id']} was due {i['due']} ({i['source']})")
        for i in due
        if dt.date.fromisoformat(i["due"]) < today
    ]
