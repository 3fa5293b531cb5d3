"""The track record (#15): ``lifecycle report`` over a workspace, as HTML, Markdown or JSON.

- :mod:`._contrib`: one engagement's contribution, computed by one function from its events;
- :mod:`._data`: the contributions summed over a period, as the report's JSON data;
- :mod:`._cache`: each history's contribution kept by its bytes, and the audit's verdicts;
- :mod:`._svg`: the inline SVG charts and timelines of the HTML page;
- :mod:`._render`: the three forms, from Jinja2 templates in ``templates/``.

The library never prints: :func:`make_report` returns the data, :func:`render` the text.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..exceptions import InvalidInputError
from ._cache import ReportCache, templates_folder
from ._data import Period, gather, summarize
from ._render import FORMATS, TOTALS, render

if TYPE_CHECKING:
    from .._engine import Engine

__all__ = [
    "FORMATS",
    "TOTALS",
    "Period",
    "ReportCache",
    "make_report",
    "render",
    "templates_folder",
]


def make_report(
    engine: Engine,
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    playbooks: Sequence[str] = (),
    cache: ReportCache | None = None,
) -> dict[str, Any]:
    """The track record of *engine*'s store from *start* to *end* (default: today), as data;
    with *cache*, what was audited and computed from the same bytes before is reused
    (:class:`ReportCache`: the same report, sooner).

    Raises:
        InvalidInputError: *start* is after *end*, *end* is after today, or a playbook in
            *playbooks* is neither known nor run by any engagement.
    """
    # Any: the report's JSON data (docs/report.md).
    today = engine.today()
    end = end or today
    if end > today:
        raise InvalidInputError(f"--to {end} is after today ({today}): a report is of the past")
    if start is not None and start > end:
        raise InvalidInputError(f"--from {start} is after --to {end}")
    contributions, unreadable, failed = gather(engine.store, today, engine.rule_kinds, cache)
    # The catalog only when asked: it loads every plugin and reads every playbook file.
    known = {c.playbook for c in contributions} | (
        set(engine.catalog.ids()) if playbooks else set()
    )
    for playbook in playbooks:
        if playbook not in known:
            raise InvalidInputError(
                f"--playbook {playbook!r}: no such playbook, and no engagement runs one by that id"
            )
    return summarize(
        contributions,
        Period(start, end),
        playbooks=list(dict.fromkeys(playbooks)),
        unreadable=unreadable,
        failed=failed,
        store=engine.store.label,
        generated=today.isoformat(),
    )
