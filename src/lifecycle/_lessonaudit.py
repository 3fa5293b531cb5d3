"""The archive's check of cites (#15): does each ``ENGAGEMENT:SEQ`` a tick cites name a lesson?

One history cannot answer it: the lesson is in another. So the audit answers it for the
histories audited together (a folder, several files, a store), once every file is read:

- the cited engagement is among them and its event SEQ is a ``lesson``: nothing to report;
- it is among them and event SEQ is no lesson (or there is no such event): ``cite-unknown``,
  an error at the citing tick;
- it is not among them: ``cite-unverified``, a warning (audited alone, a history cannot show
  its cites are sound; audit it with the histories it cites to settle it);
- it is among them, event SEQ is a lesson, but the lesson is timed after the citing tick:
  ``cite-before-lesson``, a warning. The engine cites only a lesson already recorded, so on
  one clock the tick is always the later; a tick timed before the lesson it cites was
  back-dated, or written by a machine whose clock was behind the lesson's (a shared store
  written from several machines): a warning, for the auditor to ask which.

Whether a cite is well formed, names another engagement, and sits on an item marked
``lessons = true`` is checked within its own history (``not-allowed``, _lesson_replay).
"""

from __future__ import annotations

from collections.abc import Iterable

from ._auditreport import FileReport
from ._finding import Finding

__all__ = ["cite_findings"]


def cite_findings(reports: Iterable[FileReport]) -> None:
    """Add to each report the ``cite-unknown``, ``cite-unverified`` and ``cite-before-lesson``
    findings of its cites, judged against the lessons of every report audited with it (in
    place)."""
    reports = list(reports)
    lessons: dict[str, dict[int, str]] = {}  # engagement: {seq: at} of each of its lessons
    for report in reports:
        if report.engagement and report.events:
            kept = lessons.setdefault(report.engagement, {})
            kept.update((int(seq), str(at)) for seq, at in report.lessons)
    for report in reports:
        for seq, cite, at in report.cites:
            if (finding := _judged(str(cite), int(seq), str(at), lessons)) is not None:
                report.findings.append(finding)


def _judged(cite: str, seq: int, at: str, lessons: dict[str, dict[int, str]]) -> Finding | None:
    other, _, number = cite.rpartition(":")
    known = lessons.get(other)
    if known is None:
        return Finding(
            "cite-unverified",
            "warning",
            seq,
            f"cites lesson {cite!r}, but the history of {other!r} is not among those audited: "
            "audit them together to verify it",
            seq + 1,
        )
    recorded = known.get(int(number)) if number.isdigit() else None
    if recorded is None:
        return Finding(
            "cite-unknown",
            "error",
            seq,
            f"cites {cite!r}, but event {number} of {other!r} (audited with it) is no lesson",
            seq + 1,
        )
    if at < recorded:
        return Finding(
            "cite-before-lesson",
            "warning",
            seq,
            f"cites lesson {cite!r} at {at}, before that lesson was recorded ({recorded}): "
            "back-dated, or written on a clock behind the lesson's",
            seq + 1,
        )
    return None
