"""Commands of lessons (#15): ``lesson`` records one, ``lessons`` finds them across the workspace."""

from __future__ import annotations

import datetime as dt

import click

from .._lessons import LessonFilter, search_lessons
from . import _render
from ._engagements import _done, _echo_json, _env, _parse_date
from ._portfolio import NO_INDEX, portfolio, warn

__all__ = ["COMMANDS"]


@click.command("lesson")
@click.argument("engagement")
@click.option("--title", required=True, metavar="T", help="The lesson in a few words.")
@click.option("--text", required=True, metavar="T", help="The lesson (line breaks allowed).")
@click.option(
    "--theme",
    "themes",
    multiple=True,
    metavar="THEME",
    help="A theme (lowercase id such as ceasefire or gender); repeatable.",
)
@click.option(
    "--section",
    "sections",
    multiple=True,
    metavar="NAME=TEXT",
    help="Fill one of the playbook's lesson headings (core: context, what-worked, "
    "what-did-not, recommendations); repeatable.",
)
@click.option(
    "--on",
    "on",
    callback=_parse_date,
    metavar="DATE",
    help="The day the lesson was drawn (YYYY-MM-DD, up to today; default: the day recorded).",
)
def lesson(
    engagement: str,
    title: str,
    text: str,
    themes: tuple[str, ...],
    sections: tuple[str, ...],
    on: dt.date | None,
) -> None:
    """Record a lesson, at any stage, for the next engagement in this country or conflict."""
    env = _env()
    result = env.engine.lesson(
        engagement,
        title=title,
        text=text,
        themes=list(themes),
        sections=list(sections),
        on=on,
        actor=env.actor,
    )
    cite = f"{engagement}:{result.event['seq']}"
    _done(result, f"Recorded lesson {cite}")


@click.command("lessons")
@click.argument("query", required=False, default="")
@click.option("--country", metavar="ISO", help="Only engagements with this country fact (KEN).")
@click.option(
    "--conflict",
    metavar="TEXT",
    help="Only engagements whose conflict fact (else title) has these words.",
)
@click.option("--theme", metavar="T", help="Only lessons with this theme.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (docs/cli.md).")
@NO_INDEX
def lessons(
    query: str,
    country: str | None,
    conflict: str | None,
    theme: str | None,
    as_json: bool,
    no_index: bool,
) -> None:
    """Search the lessons of every engagement of the workspace, newest first."""
    env = _env()
    where = LessonFilter(query, country=country, conflict=conflict, theme=theme)
    found = None if no_index else portfolio()
    if found is None:  # a shared store, or --no-index: every engagement replayed
        rows, problems = search_lessons(env.engine, where)
    else:
        rows, problems, update = found.lessons(where)
        warn(update)
    for problem in problems:
        click.echo(f"warning: {_render.escape(problem)}", err=True)
    if as_json:
        _echo_json({"workspace": env.store_label, "lessons": rows, "unreadable": problems})
    elif rows:
        click.echo(_render.lessons(rows))
    else:
        click.echo("No lessons match.")


COMMANDS = (lesson, lessons)
