"""Commands that run engagements: new, status, set, check, uncheck, record, note, advance, force,
list, history, due."""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

import click

from .._inputs import date_problem
from .._listing import engagement_rows, matches
from ..exceptions import InvalidInputError, RefusedError
from . import _render
from ._portfolio import NO_INDEX, portfolio, warn
from ._statuskeep import keeping

if TYPE_CHECKING:  # list and due on the index never build an engine (#14)
    from .._engine import Result

__all__ = ["COMMANDS"]


def _env() -> Any:
    # Any: cli.Env; imported lazily to keep the import graph one-way.
    return click.get_current_context().obj


def _echo_json(data: object) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def _done(result: Result, what: str) -> None:
    event = result.event
    click.echo(f"{what} (event {event['seq']}); stage: {result.engagement.stage}")
    for warning in result.warnings:
        click.echo(f"warning: {_render.escape(warning)}", err=True)
    for error in result.plugin_errors:
        click.echo(f"warning: {_render.escape(str(error))} (the event is recorded)", err=True)


@click.command("new")
@click.argument("engagement")
@click.option("--playbook", required=True, help="Playbook id (see `lifecycle playbooks list`).")
@click.option("--title", default="", help="A title for the engagement.")
@click.option("--set", "facts", multiple=True, metavar="KEY=VALUE", help="Set a fact; repeatable.")
@click.option(
    "--entry", metavar="STAGE", help="Open at this entry stage (default the initial one)."
)
@click.option("--channel", metavar="CHANNEL", help="How the request came (desk-check-in, ...).")
def new(
    engagement: str,
    playbook: str,
    title: str,
    facts: tuple[str, ...],
    entry: str | None,
    channel: str | None,
) -> None:
    """Open a new engagement under a playbook."""
    env = _env()
    result = env.engine.open(
        engagement,
        playbook,
        actor=env.actor,
        title=title,
        facts=list(facts),
        entry=entry,
        channel=channel,
    )
    pb = result.engagement.playbook
    _done(result, f"Opened {engagement} under {pb.id}@{pb.version}")


@click.command("status")
@click.argument("engagement")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (docs/cli.md).")
def status(engagement: str, as_json: bool) -> None:
    """Stage, facts, checklist, and what is allowed now and why not (a dry run)."""
    env = _env()
    # What it prints is kept for the next identical run (docs/workspace.md, the status cache).
    with keeping(env, engagement, as_json, lambda: env.today().isoformat()) as keeper:
        data = env.engine.status(engagement, actor=env.actor)
        if as_json:
            text = json.dumps(data, indent=2, ensure_ascii=False)
        else:
            text = _render.status(data)
        keeper.printing(text, data["lessons"])
        click.echo(text)


@click.command("set")
@click.argument("engagement")
@click.argument("assignments", nargs=-1, required=True, metavar="KEY=VALUE...")
def set_(engagement: str, assignments: tuple[str, ...]) -> None:
    """Set facts (an empty VALUE unsets one)."""
    env = _env()
    _done(env.engine.set_facts(engagement, list(assignments), actor=env.actor), "Facts set")


@click.command("check")
@click.argument("engagement")
@click.argument("item")
@click.option("--note", default="", help="A note kept with the tick.")
@click.option(
    "--cite",
    "cites",
    multiple=True,
    metavar="ENGAGEMENT:SEQ",
    help="A lesson of another engagement carried by this tick (items marked lessons = true; "
    "`lifecycle lessons` lists them); repeatable.",
)
def check(engagement: str, item: str, note: str, cites: tuple[str, ...]) -> None:
    """Tick a checklist item (a lessons item may cite lessons of other engagements)."""
    env = _env()
    result = env.engine.check(engagement, item, actor=env.actor, note=note, cites=list(cites))
    _done(result, f"Checked {item}" + (f", citing {', '.join(cites)}" if cites else ""))


@click.command("uncheck")
@click.argument("engagement")
@click.argument("item")
def uncheck(engagement: str, item: str) -> None:
    """Untick a checklist item."""
    env = _env()
    _done(env.engine.uncheck(engagement, item, actor=env.actor), f"Unchecked {item}")


def _parse_date(ctx: click.Context, param: click.Parameter, value: str | None) -> dt.date | None:
    if value is None:
        return None
    if problem := date_problem(value):
        raise click.BadParameter(problem)
    return dt.date.fromisoformat(value)


@click.command("record")
@click.argument("engagement")
@click.argument("activity")
@click.option(
    "--on",
    "on",
    callback=_parse_date,
    metavar="DATE",
    help="When it took place (YYYY-MM-DD, from 1945-01-01 up to today; default today).",
)
@click.option("--note", default="", help="What happened.")
@click.option("--override", metavar="REASON", help="Override blocking rules, with a reason.")
@click.option(
    "--set", "params", multiple=True, metavar="K=V", help="An activity parameter; repeatable."
)
def record(
    engagement: str,
    activity: str,
    on: dt.date | None,
    note: str,
    override: str | None,
    params: tuple[str, ...],
) -> None:
    """Record an activity (a retreat, a coaching session, a briefing)."""
    env = _env()
    from .._workspace import parse_assignments

    given = parse_assignments(list(params))
    result = _refusable(
        lambda: env.engine.record(
            engagement,
            activity,
            actor=env.actor,
            on=on,
            note=note,
            override=override,
            params=given,
        )
    )
    _done(result, f"Recorded {activity} on {result.event['data']['on']}")


@click.command("note")
@click.argument("engagement")
@click.argument("text")
def note(engagement: str, text: str) -> None:
    """Add a note to the history."""
    env = _env()
    _done(env.engine.note(engagement, text, actor=env.actor), "Noted")


@click.command("advance")
@click.argument("engagement")
@click.argument("trigger")
@click.option("--override", metavar="REASON", help="Override blocking rules, with a reason.")
@click.option("--reason", metavar="TEXT", help="Why (recorded; required by some triggers).")
@click.option(
    "--on",
    "on",
    callback=_parse_date,
    metavar="DATE",
    help="When it happened (YYYY-MM-DD, not before the previous occurrence; default today).",
)
def advance(
    engagement: str, trigger: str, override: str | None, reason: str | None, on: dt.date | None
) -> None:
    """Fire a trigger: move the engagement to its next stage if the rules allow it."""
    env = _env()
    result = _refusable(
        lambda: env.engine.advance(
            engagement, trigger, actor=env.actor, override=override, reason=reason, on=on
        )
    )
    _done(
        result,
        f"Advanced by {trigger}: {result.event['data']['from']} -> {result.event['data']['to']}",
    )


@click.command("force")
@click.argument("engagement")
@click.option("--to", "stage", required=True, help="The stage to move to.")
@click.option("--reason", required=True, help="Why (a real sentence; it is recorded).")
def force(engagement: str, stage: str, reason: str) -> None:
    """Move to any stage regardless of rules (admin roles only; recorded as forced)."""
    env = _env()
    result = _refusable(lambda: env.engine.force(engagement, stage, actor=env.actor, reason=reason))
    _done(result, f"Forced to {stage}")


def _refusable(call: Any) -> Result:
    # Any: a zero-argument callable returning a Result.
    try:
        result: Result = call()
    except RefusedError as exc:
        where = f" (recorded as event {exc.recorded_seq})" if exc.recorded_seq else ""
        raise RefusedError(f"{exc}{where}", exc.outcomes, exc.recorded_seq) from None
    return result


@click.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (docs/cli.md).")
@click.option("--country", metavar="CODE", help="Only engagements with this country fact.")
@click.option("--stage", metavar="STAGE", help="Only engagements in this stage.")
@click.option("--playbook", metavar="ID", help="Only engagements under this playbook.")
@click.option("--active", is_flag=True, help="Only engagements not in a final stage.")
@NO_INDEX
def list_(
    as_json: bool,
    country: str | None,
    stage: str | None,
    playbook: str | None,
    active: bool,
    no_index: bool,
) -> None:
    """List the engagements in the workspace: title, country, stage, current envoy, links."""
    env = _env()
    found = portfolio(no_index)
    if found is None or no_index:
        every = engagement_rows(env.engine)
    else:
        every, update = found.rows()
        warn(update)
    rows = every
    if active or (country, stage, playbook) != (None, None, None):
        rows = [
            row
            for row in every
            if matches(row, country=country, stage=stage, playbook=playbook, active=active)
        ]
    if as_json:
        _echo_json({"workspace": env.store_label, "engagements": rows})
    else:
        click.echo(_render.engagements(rows))


@click.command("history")
@click.argument("engagement")
@click.option("--json", "as_json", is_flag=True, help="Print the events as JSON.")
@click.option(
    "--at",
    "at_seq",
    type=click.IntRange(min=1),
    help="Show the engagement as it stood at event SEQ.",
)
def history(engagement: str, as_json: bool, at_seq: int | None) -> None:
    """A readable timeline of the engagement (or its state at a past event)."""
    env = _env()
    events = env.engine.history(engagement)
    if at_seq is not None:
        if at_seq > len(events):
            raise InvalidInputError(
                f"Engagement {engagement!r} has {len(events)} events, not {at_seq}."
            )
        events = events[:at_seq]
        eng = env.engine.engagement_at(engagement, at_seq)
        data = env.engine.status_of_engagement(eng, actor=env.actor)
        if as_json:
            _echo_json({"at": at_seq, "status": data})
        else:
            click.echo(_render.escape(f"As it stood at event {at_seq} ({events[-1]['at']}):"))
            click.echo(_render.status(data))
        return
    if as_json:
        _echo_json({"engagement": engagement, "events": events})
    else:
        click.echo(_render.timeline(events))


@click.command("due")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (docs/cli.md).")
@NO_INDEX
def due(as_json: bool, no_index: bool) -> None:
    """What is due or overdue across every engagement in the workspace, soonest first."""
    env = _env()
    found = portfolio(no_index)
    today = env.today()
    if found is None or no_index:
        items, problems = env.engine.due()
    else:
        items, problems, update = found.due(today)
        warn(update)
    for problem in problems:
        click.echo(f"warning: {_render.escape(problem)}", err=True)
    if as_json:
        _echo_json(
            {
                "today": today.isoformat(),
                "due": [i.as_json() for i in items],
                "unreadable": problems,
            }
        )
    else:
        click.echo(_render.due(items))


COMMANDS = (new, status, set_, check, uncheck, record, note, advance, force, list_, history, due)
