"""The track record (#15): ``lifecycle report`` over a workspace, as HTML, Markdown or JSON.

- :mod:`._contrib`: one engagement's contribution, computed by one function from its events;
- :mod:`._data`: the contributions summed over a period, as the report's JSON data;
- :mod:`._cache`: each history's contribution kept by its bytes, and the audit's verdicts;
- :mod:`._memo`: the last reports, kept whole for the very same bytes, day and options;
- :mod:`._svg`: the inline SVG charts and timelines of the HTML page;
- :mod:`._render`: the three forms, from Jinja2 templates in ``templates/``.

The library never prints: :func:`make_report` returns the data, :func:`render` the text,
:func:`report_text` both at once (from a report kept whole when nothing it rests on changed).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ..exceptions import InvalidInputError, LifecycleError
from ._cache import ReportCache, templates_folder
from ._data import FORMATS, TOTALS, Period, gather, summarize
from ._memo import Kept, memo_key

if TYPE_CHECKING:
    from .._catalog import Catalog
    from .._rules import RuleKind
    from .._store import Store

__all__ = [
    "FORMATS",
    "TOTALS",
    "Kept",
    "Period",
    "ReportCache",
    "Source",
    "make_report",
    "render",
    "report_text",
    "templates_folder",
]


def render(data: Mapping[str, Any], fmt: str, *, compiled: Path | None = None) -> str:
    """The report *data* in format *fmt* (:func:`._render.render`; Jinja2 is imported only
    for a report that is rendered, not for one kept whole)."""
    from ._render import render as rendered

    return rendered(data, fmt, compiled=compiled)


class Source(Protocol):
    """What a report draws on; an :class:`~lifecycle.Engine` is one. The rule kinds are asked
    for only when a history is audited afresh, the catalog only with *playbooks*: a report whose
    every verdict is cached builds neither (nor the plugins behind them)."""

    @property
    def store(self) -> Store: ...

    @property
    def rule_kinds(self) -> Mapping[str, RuleKind]: ...

    @property
    def catalog(self) -> Catalog: ...

    def today(self) -> dt.date: ...


class _Kinds(Mapping[str, "RuleKind"]):
    """The rule kinds of a source, asked of it when first used."""

    def __init__(self, source: Source) -> None:
        self._source = source
        self._kinds: Mapping[str, RuleKind] | None = None

    def _all(self) -> Mapping[str, RuleKind]:
        if self._kinds is None:
            self._kinds = self._source.rule_kinds
        return self._kinds

    def __getitem__(self, name: str) -> RuleKind:
        return self._all()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


def make_report(
    engine: Source,
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
    return _made(engine, today, start, _end(start, end, today), playbooks, cache, {})


def report_text(
    source: Source,
    fmt: str,
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    playbooks: Sequence[str] = (),
    cache: ReportCache | None = None,
    compiled: Path | None = None,
) -> tuple[Kept, list[dict[str, str]], list[dict[str, Any]]]:
    """The report of *source* in format *fmt*, as :func:`make_report` and :func:`render` make
    it, with the histories that could not be read and those that do not audit clean (both
    left out of it). With *cache*, every history is first read and hashed, and a report kept
    whole for the very same bytes, day, options and code (:mod:`~._memo`) is that report; a
    report of histories that all audit clean is kept so.

    Raises:
        InvalidInputError: As :func:`make_report`.
    """
    # Any: the report's JSON data, as in make_report.
    today = source.today()
    end = _end(start, end, today)
    memo = cache.memo if cache is not None else None
    key, known = "", dict[str, str]()
    if cache is not None and memo is not None:
        key, known = _key_of(source, cache, fmt, today, Period(start, end), playbooks)
        if key and (hit := memo.get(key)) is not None:
            return hit, [], []
    data = _made(source, today, start, end, playbooks, cache, known)
    text, period = render(data, fmt, compiled=compiled), data["period"]
    kept = Kept(text, data["totals"]["engagements"], period["from"], period["to"])
    unreadable, failed = data["unreadable"], data["failed_audit"]
    if key and cache is not None and memo is not None and not (unreadable or failed):
        if cache.used == known:
            memo.put(key, kept)  # every figure from the bytes the key was made of
    return kept, unreadable, failed


def _key_of(
    source: Source,
    cache: ReportCache,
    fmt: str,
    today: dt.date,
    period: Period,
    playbooks: Sequence[str],
) -> tuple[str, dict[str, str]]:
    """The key of the report asked for (:func:`~._memo.memo_key`), and the key of each
    history's bytes, read and hashed now; ("", {}) when a history cannot be read or no
    entries are kept."""
    read = _keys(source.store, cache) if cache.entries is not None else None
    if cache.entries is None or read is None:
        return "", {}
    key = memo_key(
        cache.entries.salt,
        fmt=fmt,
        today=today,
        start=period.start,
        end=period.end,
        playbooks=playbooks,
        catalog=source.catalog.ids() if playbooks else (),
        store=source.store.label,
        histories=[(engagement, label, k) for engagement, (label, k) in read.items()],
    )
    return key, {engagement: k for engagement, (_, k) in read.items()}


def _keys(store: Store, cache: ReportCache) -> dict[str, tuple[str, str]] | None:
    """Each engagement's history path and the key of its bytes, read and hashed now (None:
    one cannot be read, so no report is kept or taken whole)."""
    read = {}
    for engagement in store.engagements():
        label = store.label_of(engagement)
        try:
            read[engagement] = (label, cache.key(label, b"".join(store.lines(engagement))))
        except LifecycleError:
            return None
    return read


def _end(start: dt.date | None, end: dt.date | None, today: dt.date) -> dt.date:
    """The period's last day (default: *today*).

    Raises:
        InvalidInputError: *end* is after *today*, or *start* after *end*.
    """
    end = end or today
    if end > today:
        raise InvalidInputError(f"--to {end} is after today ({today}): a report is of the past")
    if start is not None and start > end:
        raise InvalidInputError(f"--from {start} is after --to {end}")
    return end


def _made(
    source: Source,
    today: dt.date,
    start: dt.date | None,
    end: dt.date,
    playbooks: Sequence[str],
    cache: ReportCache | None,
    known: Mapping[str, str],
) -> dict[str, Any]:
    """The report's data, as :func:`make_report` makes it (*known*: as :func:`gather` takes).

    Raises:
        InvalidInputError: A playbook in *playbooks* is neither known nor run by any engagement.
    """
    # Any: the report's JSON data.
    contributions, unreadable, failed = gather(source.store, today, _Kinds(source), cache, known)
    # The catalog only when asked: it loads every plugin and reads every playbook file.
    named = {c.playbook for c in contributions} | (
        set(source.catalog.ids()) if playbooks else set()
    )
    for playbook in playbooks:
        if playbook not in named:
            raise InvalidInputError(
                f"--playbook {playbook!r}: no such playbook, and no engagement runs one by that id"
            )
    return summarize(
        contributions,
        Period(start, end),
        playbooks=list(dict.fromkeys(playbooks)),
        unreadable=unreadable,
        failed=failed,
        store=source.store.label,
        generated=today.isoformat(),
    )
