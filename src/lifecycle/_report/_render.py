"""The report's three forms, all from the JSON data of :func:`~lifecycle._report._data.summarize`:
``json`` (that data), ``html`` (one self-contained page from a Jinja2 template, autoescaped, with
inline SVG and a print stylesheet) and ``md`` (Markdown that renders on GitHub).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from typing import Any, Final

import jinja2
from markupsafe import Markup

from . import _svg

__all__ = ["FORMATS", "TOTALS", "render"]

FORMATS: Final = ("html", "md", "json")
# The totals every form shows, in this order, with their words (docs/report.md).
TOTALS: Final = (
    ("engagements", "Engagements in the period"),
    ("opened", "Opened"),
    ("active", "Active"),
    ("closed", "Closed"),
    ("withdrawn", "Withdrawn"),
    ("services", "Services delivered"),
    ("overrides", "Overrides"),
    ("forced", "Forced moves"),
    ("cadences_missed", "Cadences missed"),
    ("overdue", "Overdue now"),
    ("lessons", "Lessons captured"),
)
_MD_SPECIAL: Final = re.compile(r"([\\`*_\[\]<>|&~#])")


def _finalize(value: object) -> object:
    """Every ``{{ }}`` output: text made visible (control characters as escapes), markup kept."""
    if isinstance(value, Markup) or not isinstance(value, str):
        return value
    return _svg.visible(value)


def _md(value: object) -> str:
    """Text for a Markdown table cell or line: one line, its special characters escaped."""
    text = _svg.visible("" if value is None else value)
    return _MD_SPECIAL.sub(r"\\\1", text)


def _words(name: str) -> str:
    """``women-candidates-proposed`` as ``Women candidates proposed``."""
    return name.replace("-", " ").replace("_", " ").capitalize()


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("lifecycle._report", "templates"),
        autoescape=jinja2.select_autoescape(
            enabled_extensions=("html",), disabled_extensions=("md",), default=True
        ),
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["md"] = _md
    env.filters["words"] = _words
    env.globals.update(
        totals=TOTALS, bar_chart=_svg.bar_chart, timeline=_svg.timeline, axis=_svg.axis
    )
    return env


_ENV: list[jinja2.Environment] = []


def render(data: Mapping[str, Any], fmt: str) -> str:
    """The report *data* in format *fmt* (one of :data:`FORMATS`)."""
    if fmt == "json":
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    if not _ENV:
        _ENV.append(_environment())
    template = _ENV[0].get_template(f"report.{fmt}")
    start, end = _extent(data)
    return template.render(r=data, start=start, end=end)


def _extent(data: Mapping[str, Any]) -> tuple[dt.date, dt.date]:
    """The days the timeline rows span: the period, or from the first day shown to its end."""
    end = dt.date.fromisoformat(data["period"]["to"])
    first = data["period"]["from"]
    if first is not None:
        return dt.date.fromisoformat(first), end
    days = [
        dt.date.fromisoformat(span["from"])
        for row in data["engagements"]
        for span in row["timeline"]["spans"]
    ]
    days += [
        dt.date.fromisoformat(mark["on"])
        for row in data["engagements"]
        for mark in row["timeline"]["marks"]
    ]
    start = min(days, default=end)
    return (start, end) if start < end else (end - dt.timedelta(days=1), end)
