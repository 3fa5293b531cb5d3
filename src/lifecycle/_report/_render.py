"""The report's three forms, all from the JSON data of :func:`~lifecycle._report._data.summarize`:
``json`` (that data), ``html`` (one self-contained page from a Jinja2 template, autoescaped, with
inline SVG and a print stylesheet) and ``md`` (Markdown that renders on GitHub).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import jinja2
from markupsafe import Markup

from .._codeversion import code_version
from . import _svg
from ._data import FORMATS, TOTALS

__all__ = ["FORMATS", "TOTALS", "render"]

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
        totals=TOTALS, bar_chart=_svg.bar_chart, timeline_rows=timeline_rows, axis=_svg.axis
    )
    return env


def timeline_rows(rows: Sequence[Mapping[str, Any]], start: dt.date, end: dt.date) -> Markup:
    """The timeline table's rows, a line each: the engagement, its playbook, stage, services
    and its :func:`~._svg.timeline`, every text made visible and escaped as ``{{ }}`` does
    (built as one string: a thousand rows through the template cost more than the page)."""
    # Any: the report's JSON rows (``engagements``).
    e = _svg.escape
    return Markup(
        "".join(
            f'<tr class="timeline-row" data-engagement="{e(r["engagement"])}"><td><strong>'
            f"{e(r['engagement'])}</strong><br>{e(r['title'])}</td><td>{e(r['playbook'])}@"
            f"{e(r['version'])}<br>{e(r['country'])}</td><td>{e(r['stage'])}</td>"
            f'<td class="num">{e(r["services"])}</td><td class="tl">'
            + str(
                _svg.timeline(
                    r["timeline"]["spans"],
                    r["timeline"]["marks"],
                    start,
                    end,
                    title=f"{r['engagement']}: stages and activities",
                )
            )
            + "</td></tr>\n"
            for r in rows
        )
    )


class _Compiled(jinja2.FileSystemBytecodeCache):
    """Jinja2's bytecode cache, whose compiled code is used only by the code that compiled it:
    the environment's options (whitespace, autoescaping) are compiled in, so a template's
    checksum covers lifecycle's code version and Jinja2's besides its source."""

    def get_source_checksum(self, source: str) -> str:
        return super().get_source_checksum(f"{code_version()}\0{jinja2.__version__}\0{source}")


_ENV: dict[Path | None, jinja2.Environment] = {}


def render(data: Mapping[str, Any], fmt: str, *, compiled: Path | None = None) -> str:
    """The report *data* in format *fmt* (one of :data:`FORMATS`); with *compiled*, the
    templates compiled once are kept in that folder (Jinja2's bytecode cache, which compiles
    a template afresh whenever its source or the code changes), else compiled in this process."""
    if fmt == "json":
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    if compiled not in _ENV:
        _ENV[compiled] = _environment()
        if compiled is not None and _folder(compiled):
            _ENV[compiled].bytecode_cache = _Compiled(str(compiled))
    template = _ENV[compiled].get_template(f"report.{fmt}")
    start, end = _extent(data)
    return template.render(r=data, start=start, end=end)


def _folder(path: Path) -> bool:
    """Whether *path* is a folder (made now if need be): one that cannot be made only means
    the templates are compiled in this process."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return path.is_dir()


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
