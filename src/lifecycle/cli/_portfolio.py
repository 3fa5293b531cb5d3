"""Commands over the whole portfolio, served from its index (#14): index, search.

``list`` and ``due`` (in ``_engagements``) use the same index; see docs/portfolio.md.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from ..exceptions import InvalidInputError
from ._render import escape

if TYPE_CHECKING:  # the index is imported when a command uses it: `status` never does (#14)
    from .._index import Portfolio, SearchResult, Update

__all__ = ["COMMANDS", "NO_INDEX", "portfolio", "warn"]


def _env() -> Any:
    # Any: cli.Env; imported lazily to keep the import graph one-way.
    return click.get_current_context().obj


def portfolio(no_index: bool = False) -> Portfolio | None:
    """The workspace's portfolio, or None on a shared store (which has no index folder)."""
    env = _env()
    if env.store_url is not None:
        return None
    from .._index import Portfolio
    from .._pool import available_jobs

    # A cold build reads the histories in one process per CPU (docs/portfolio.md).
    return Portfolio(env.workspace, use_index=not no_index, jobs=available_jobs())


def warn(update: Update) -> None:
    """Print the update's warnings, one ``warning:`` line each."""
    for warning in update.warnings:
        click.echo(f"warning: {escape(warning)}", err=True)


NO_INDEX = click.option(
    "--no-index",
    is_flag=True,
    help="Read every history instead of the index (slower; the same answer).",
)


@click.command("index")
@click.option("--rebuild", is_flag=True, help="Throw the index away and build it again.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (docs/cli.md).")
def index(rebuild: bool, as_json: bool) -> None:
    """Bring the workspace's portfolio index up to date (or rebuild it) and say what it did."""
    found = portfolio()
    if found is None:
        raise InvalidInputError(
            "A shared store has no portfolio index; list, due and search read it directly."
        )
    update = found.update(rebuild=rebuild)
    warn(update)
    for name, error in update.unreadable.items():
        click.echo(f"warning: {escape(name)}: {escape(error)}", err=True)
    if as_json:
        click.echo(json.dumps(update.as_json(), indent=2, ensure_ascii=False))
        return
    where = update.path if update.path is not None else f"no index ({update.why})"
    click.echo(
        escape(
            f"{where}: {update.engagements} engagements; {update.trusted} unchanged, "
            f"{update.new} new, {update.appended} appended to, {update.verified} verified, "
            f"{update.changed} changed behind the index, {update.dropped} dropped, "
            f"{len(update.unreadable)} unreadable"
        )
    )


@click.command("search")
@click.argument("words", nargs=-1, required=True, metavar="QUERY...")
@click.option("--country", metavar="CODE", help="Only engagements with this country fact.")
@click.option("--stage", metavar="STAGE", help="Only engagements in this stage.")
@click.option("--playbook", metavar="ID", help="Only engagements under this playbook.")
@click.option("--active", is_flag=True, help="Only engagements not in a final stage.")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="Show at most this many hits.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (docs/cli.md).")
@NO_INDEX
def search(
    words: tuple[str, ...],
    country: str | None,
    stage: str | None,
    playbook: str | None,
    active: bool,
    limit: int,
    as_json: bool,
    no_index: bool,
) -> None:
    """Full-text search over titles, facts, notes, checklist notes and lessons."""
    from .._index import Filters, search_store

    env = _env()
    query = " ".join(words)
    filters = Filters(country=country, stage=stage, playbook=playbook, active=active)
    found = portfolio(no_index)
    if found is None:
        result = search_store(env.store, query, filters, limit)
    else:
        result, update = found.search(query, filters, limit)
        warn(update)
    for name, error in result.unreadable.items():
        click.echo(f"warning: {escape(name)}: {escape(error)}", err=True)
    if as_json:
        data = {
            "workspace": env.store_label,
            "query": query,
            "hits": result.hits,
            "total": result.total,
            "unreadable": [f"{n}: {e}" for n, e in result.unreadable.items()],
        }
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        click.echo(_render(result))


def _render(result: SearchResult) -> str:
    if not result.hits:
        return "No events match."
    lines = [
        escape(f"{hit['engagement']:<24} #{hit['seq']:<5} {hit['type']:<18} {hit['snippet']}")
        for hit in result.hits
    ]
    if result.total > len(result.hits):
        lines.append(f"({result.total - len(result.hits)} more; --limit shows more)")
    return "\n".join(lines)


COMMANDS = (index, search)
