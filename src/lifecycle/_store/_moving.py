"""Moving histories between stores: export to files, import from files (#11).

An export writes each engagement as ``<id>.history.jsonl``, the very bytes the file store holds;
an import verifies every file (the whole audit: integrity, schemas, conformance) before loading
any, then loads them all in one go, or none.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from .._audit import FileReport, audit_stream, find_histories
from .._files import read_regular
from .._history import SUFFIX
from .._lessonaudit import cite_findings
from .._rules import RuleKind
from .._workspace import Workspace, is_engagement_id
from ..exceptions import EngagementExistsError, HistoryError, InvalidInputError
from ._base import Store
from ._file import _place

__all__ = ["export_histories", "import_histories"]


def export_histories(store: Store, folder: Path) -> list[str]:
    """Write every engagement of *store* to *folder* (created inside an existing folder); return
    the ids. Nothing is overwritten, and a failure removes what this export wrote.

    Raises:
        EngagementExistsError: *folder* holds a history of the same name already.
        HistoryError: A history cannot be read or written.
    """
    target = Workspace(folder)
    target.create_root()
    engagements = store.engagements()
    for engagement in engagements:
        if os.path.lexists(target.path_of(engagement)):
            raise EngagementExistsError(
                target.path_of(engagement), "exists already; nothing exported"
            )
    written: list[Path] = []
    try:
        for engagement in engagements:
            path = target.path_of(engagement)
            _place(path, b"".join(store.lines(engagement)))
            written.append(path)
    except BaseException:  # undo, then re-raised: no half export
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return engagements


def import_histories(
    store: Store,
    paths: Iterable[Path],
    *,
    kinds: Mapping[str, RuleKind],
    today: dt.date,
) -> list[str]:
    """Audit every history file under *paths*, then load them all into *store*; return the ids.

    Raises:
        InvalidInputError: A path is missing, or names no history file, or two files name one
            engagement.
        HistoryError: A file is damaged (its first error finding named), or the store refuses
            (an engagement exists already): nothing is loaded.
    """
    files, missing = find_histories(list(paths))
    if missing:
        raise InvalidInputError(f"No such file or folder: {', '.join(missing)}.")
    if not files:
        raise InvalidInputError("No history file (*.history.jsonl) to import.")
    histories: dict[str, bytes] = {}
    reports: list[FileReport] = []
    for path in files:
        engagement = path.name.removesuffix(SUFFIX)
        if not path.name.endswith(SUFFIX) or not is_engagement_id(engagement):
            raise InvalidInputError(f"{path}: not named <engagement-id>{SUFFIX}; nothing imported.")
        if engagement in histories:
            raise InvalidInputError(
                f"{path}: engagement {engagement!r} is given twice; nothing imported."
            )
        histories[engagement], report = _verified(path, kinds, today)
        reports.append(report)
    cite_findings(reports)  # a cite of a lesson imported with it must name one (#15)
    for report in reports:
        _refuse_errors(Path(report.path), report)
    store.load(histories)
    return list(histories)


def _verified(
    path: Path, kinds: Mapping[str, RuleKind], today: dt.date
) -> tuple[bytes, FileReport]:
    data = _read(path)
    report = audit_stream(str(path), [data], kinds=kinds, today=today)
    _refuse_errors(path, report)
    return data, report


def _refuse_errors(path: Path, report: FileReport) -> None:
    errors = [f for f in report.findings if f.severity == "error"]
    if errors:
        first = errors[0]
        where = f"seq {first.seq}: " if first.seq is not None else ""
        raise HistoryError(
            path, f"refusing to import: {where}{first.code}: {first.message}; nothing imported"
        )


def _read(path: Path) -> bytes:
    try:
        return read_regular(path)
    except HistoryError as exc:
        raise HistoryError(
            path, f"{str(exc).removeprefix(f'{path}: ')}; nothing imported"
        ) from None
