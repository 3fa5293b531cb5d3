"""``lifecycle report``: the track record of the workspace over a period (docs/report.md)."""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from pathlib import Path
from typing import Any

import click

from .._inputs import date_problem
from .._report import FORMATS, make_report, render
from ..exceptions import InvalidInputError, LifecycleError
from ._render import escape

__all__ = ["COMMANDS", "write_file"]


def _day(ctx: click.Context, param: click.Parameter, value: str | None) -> dt.date | None:
    if value is None:
        return None
    if problem := date_problem(value):
        raise click.BadParameter(problem)
    return dt.date.fromisoformat(value)


@click.command("report")
@click.option("--from", "start", metavar="DATE", callback=_day, help="First day (YYYY-MM-DD).")
@click.option("--to", "end", metavar="DATE", callback=_day, help="Last day (default: today).")
@click.option(
    "--playbook",
    "playbooks",
    metavar="P",
    multiple=True,
    help="Only engagements under this playbook id; repeatable.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="html",
    show_default=True,
    help="One self-contained HTML page, Markdown, or JSON.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the report to FILE (whole, or not at all) instead of standard output.",
)
def report(
    start: dt.date | None,
    end: dt.date | None,
    playbooks: tuple[str, ...],
    fmt: str,
    out: Path | None,
) -> None:
    """The track record: engagements, services, indicators, overrides, cadences and lessons
    over a period, with the checkpoint of every history it drew on."""
    env: Any = click.get_current_context().obj  # Any: cli.Env
    data = make_report(env.engine, start=start, end=end, playbooks=playbooks)
    text = render(data, fmt)
    for entry in data["unreadable"]:
        click.echo(
            f"warning: {escape(entry['engagement'])}: not in the report: {escape(entry['error'])}",
            err=True,
        )
    if out is None:
        click.echo(text, nl=False)
        return
    write_file(out, text)
    click.echo(
        f"Report of {data['totals']['engagements']} engagement(s), "
        f"{data['period']['from'] or 'start'} to {data['period']['to']}: {escape(str(out))}"
    )


def write_file(path: Path, text: str) -> None:
    """Write *text* to *path* whole: a temporary file beside it, renamed over it.

    Raises:
        InvalidInputError: The folder does not exist, or *path* is a folder.
        LifecycleError: *path* cannot be written (nothing is left behind).
    """
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise InvalidInputError(f"--out {path}: folder {folder} does not exist")
    if path.is_dir():
        raise InvalidInputError(f"--out {path}: is a folder")
    try:
        fd, temp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise LifecycleError(f"--out {path}: cannot write there ({exc.strerror})") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(temp, 0o666 & ~mask)
        os.replace(temp, path)
    except OSError as exc:
        Path(temp).unlink(missing_ok=True)
        raise LifecycleError(f"--out {path}: cannot write it ({exc.strerror})") from None


COMMANDS = (report,)
