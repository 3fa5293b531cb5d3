"""Inline SVG for the HTML report: horizontal bar charts and engagement timelines.

Small on purpose: each function returns one ``<svg>`` element as :class:`markupsafe.Markup`,
every text in it escaped, with a ``<title>`` so a screen reader (and a hover) names what it
shows. Nothing is scripted and nothing is fetched: colours come from CSS classes that the
report's own stylesheet defines (``bar``, ``phase-<phase>``, ``final``, ``mark``,
``mark-<service>``), so the page prints as it shows.

Coordinates are in user units; each ``<svg>`` has a ``viewBox`` and a width of 100% so it scales
with the page.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from typing import Any, Final

from markupsafe import Markup
from markupsafe import escape as _escape

from .._inputs import CONTROL_CHARS

__all__ = ["axis", "bar_chart", "timeline", "visible"]

WIDTH: Final = 600  # user units of a timeline row and its axis
ROW: Final = 16  # height of a timeline row
_BAR: Final = 18  # height of a bar, and its gap below
_LABEL: Final = 180  # room for a bar's label
_LABEL_ROOM: Final = 56  # room for a tick's label ("2026-12") right of its tick


def visible(value: object) -> str:
    """*value* as text with control characters, line separators and bidirectional overrides
    shown as ``\\uXXXX`` escapes: a title from a history can never reorder or split the page."""
    return CONTROL_CHARS.sub(lambda m: f"\\u{ord(m[0]):04x}", str(value))


def escape(value: object) -> Markup:
    """*value* made visible (:func:`visible`), then escaped for HTML and SVG."""
    if type(value) is str:  # titles, stages, activities: the same few thousand, many times
        return _escaped(value)
    return _escape(visible(value))


@functools.lru_cache(maxsize=8192)
def _escaped(text: str) -> Markup:
    return _escape(visible(text))


def bar_chart(rows: Sequence[tuple[str, int]], *, title: str) -> Markup:
    """A horizontal bar per ``(label, value)``, longest bar the largest value."""
    top = max((value for _, value in rows), default=0) or 1
    span = WIDTH - _LABEL - 60
    height = max(len(rows), 1) * (_BAR + 6)
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {height}" width="100%" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>'
    ]
    for index, (label, value) in enumerate(rows):
        y = index * (_BAR + 6)
        length = round(span * value / top, 1)
        parts.append(
            f'<text class="label" x="{_LABEL - 8}" y="{y + 13}" text-anchor="end">'
            f"{escape(label)}</text>"
            f'<rect class="bar" x="{_LABEL}" y="{y}" width="{length}" height="{_BAR}">'
            f"<title>{escape(label)}: {value}</title></rect>"
            f'<text class="value" x="{_LABEL + length + 6}" y="{y + 13}">{value}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def _x(day: dt.date, start: dt.date, end: dt.date) -> float:
    """Where *day* falls on a row from *start* to *end* (clipped to the row)."""
    total = max((end - start).days, 1)
    return round(WIDTH * min(max((day - start).days, 0), total) / total, 1)


@functools.lru_cache(maxsize=8192)
def _at(day: str, start: dt.date, end: dt.date) -> float:
    """:func:`_x` of the day *day* names (``YYYY-MM-DD``): the rows share a few hundred days."""
    return _x(dt.date.fromisoformat(day), start, end)


def timeline(
    spans: Sequence[dict[str, Any]],
    marks: Sequence[dict[str, Any]],
    start: dt.date,
    end: dt.date,
    *,
    title: str,
) -> Markup:
    """One engagement's row: a bar per stage span, coloured by phase, and a mark per activity.

    *spans* and *marks* are the JSON report's ``timeline`` entries (days as ``YYYY-MM-DD``;
    a span's ``to`` None: until *end*).
    """
    parts = [
        f'<svg class="timeline" role="img" viewBox="0 0 {WIDTH} {ROW}" width="100%" '
        f'preserveAspectRatio="none" aria-label="{escape(title)}"><title>{escape(title)}</title>'
    ]
    for span in spans:
        x0 = _at(span["from"], start, end)
        x1 = _at(span["to"], start, end) if span["to"] else _x(end, start, end)
        kind = "final" if span["final"] else f"phase-{span['phase'] or 'none'}"
        parts.append(
            f'<rect class="{escape(kind)}" x="{x0}" y="2" width="{max(x1 - x0, 1.5)}" '
            f'height="{ROW - 4}"><title>{escape(span["title"])}: {span["from"]} to '
            f"{span['to'] or 'now'}</title></rect>"
        )
    for mark in marks:
        x = _at(mark["on"], start, end)
        parts.append(
            f'<rect class="mark mark-{escape(mark["service"])}" x="{max(x - 1.5, 0)}" y="0" '
            f'width="3" height="{ROW}"><title>{escape(mark["activity"])} on {mark["on"]} '
            f"(event {mark['seq']})</title></rect>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def axis(start: dt.date, end: dt.date) -> Markup:
    """The time axis over the timeline rows: a tick and label at each year, each quarter when
    the rows span less than two years, each month under eight months; when no month begins
    within the rows (a few weeks), the first and the last day are labelled instead."""
    ticks = _ticks(start, end)
    parts = [
        f'<svg class="axis" role="img" viewBox="0 0 {WIDTH} 18" width="100%" '
        f'preserveAspectRatio="none" aria-label="Time from {start} to {end}">'
        f"<title>Time from {start} to {end}</title>"
    ]
    for day in ticks:
        x = _x(day, start, end)
        label = str(day.year) if day.month == 1 else f"{day.year}-{day.month:02d}"
        parts.append(f'<line class="tick" x1="{x}" y1="12" x2="{x}" y2="18"/>')
        if x <= WIDTH - _LABEL_ROOM:  # a label nearer the right end would be cut off
            parts.append(f'<text class="tick-label" x="{x + 2}" y="10">{label}</text>')
    if not ticks:
        parts.append(
            f'<text class="tick-label" x="2" y="10">{start}</text>'
            f'<text class="tick-label" x="{WIDTH - 2}" y="10" text-anchor="end">{end}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def _ticks(start: dt.date, end: dt.date) -> list[dt.date]:
    days = (end - start).days
    step = 12 if days > 730 else 3 if days > 240 else 1
    month = ((start.month - 1) // step + 1) * step  # months since January, rounded up
    day = dt.date(start.year + month // 12, month % 12 + 1, 1)
    ticks: list[dt.date] = []
    while day <= end and len(ticks) < 40:
        ticks.append(day)
        month = day.month - 1 + step
        day = dt.date(day.year + month // 12, month % 12 + 1, 1)
    return ticks
