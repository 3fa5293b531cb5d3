"""Commands of the practice (#13): person add/leave, handover, link, unlink."""

from __future__ import annotations

import datetime as dt

import click

from ._engagements import _done, _env, _parse_date

__all__ = ["COMMANDS"]

_ON_HELP = "When it happened (YYYY-MM-DD, not before the previous occurrence; default today)."


@click.group("person")
def person() -> None:
    """The people of an engagement: envoy, deputy, team members, co-mediators, coaches."""


@person.command("add")
@click.argument("engagement")
@click.argument("name")
@click.option("--role", required=True, help="The role (envoy, deputy, team-member, ...).")
@click.option("--org", default="", help="The person's organization (required for co-mediator).")
@click.option("--on", "on", callback=_parse_date, metavar="DATE", help=_ON_HELP)
def person_add(engagement: str, name: str, role: str, org: str, on: dt.date | None) -> None:
    """Add a person in a role (an envoy appointed, a deputy, a specialist)."""
    env = _env()
    result = env.engine.add_person(engagement, name, role=role, org=org, on=on, actor=env.actor)
    _done(result, f"Added {name} as {role}")


@person.command("leave")
@click.argument("engagement")
@click.argument("name")
@click.option("--on", "on", callback=_parse_date, metavar="DATE", help=_ON_HELP)
@click.option("--reason", required=True, metavar="TEXT", help="Why the person leaves.")
def person_leave(engagement: str, name: str, on: dt.date | None, reason: str) -> None:
    """Record that a person left the engagement."""
    env = _env()
    result = env.engine.leave_person(engagement, name, reason=reason, on=on, actor=env.actor)
    _done(result, f"{name} left")


@click.command("handover")
@click.argument("engagement")
@click.option("--from", "outgoing", required=True, metavar="NAME", help="The outgoing envoy.")
@click.option("--to", "incoming", required=True, metavar="NAME", help="The incoming envoy.")
@click.option("--on", "on", callback=_parse_date, metavar="DATE", help=_ON_HELP)
def handover(engagement: str, outgoing: str, incoming: str, on: dt.date | None) -> None:
    """The outgoing envoy leaves and the incoming one is appointed (the handover retreat is owed)."""
    env = _env()
    result = env.engine.handover(
        engagement, outgoing=outgoing, incoming=incoming, on=on, actor=env.actor
    )
    _done(result, f"Handed over from {outgoing} to {incoming}")


_RELATION = click.Choice(["parent", "child", "same-process", "follows"])


@click.command("link")
@click.argument("engagement")
@click.argument("other")
@click.option("--as", "relation", required=True, type=_RELATION, help="How OTHER relates.")
@click.option("--note", default="", help="A note kept with the link.")
def link(engagement: str, other: str, relation: str, note: str) -> None:
    """Link to another engagement here, or (same-process) to an outside reference ORG:REF."""
    env = _env()
    result = env.engine.link(engagement, other, relation=relation, note=note, actor=env.actor)
    _done(result, f"Linked {engagement} to {other} as {relation}")


@click.command("unlink")
@click.argument("engagement")
@click.argument("other")
@click.option("--as", "relation", required=True, type=_RELATION, help="The link's relation.")
def unlink(engagement: str, other: str, relation: str) -> None:
    """Remove a link."""
    env = _env()
    result = env.engine.unlink(engagement, other, relation=relation, actor=env.actor)
    _done(result, f"Unlinked {other} ({relation})")


COMMANDS = (person, handover, link, unlink)
