"""Commands for playbook and plugin authors: ``playbooks ...`` and ``plugins ...``."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import attrs
import click
import tomli_w

from .._catalog import Catalog, Resolved
from .._commandparts import opened_data
from .._convert import unstructure_playbook
from .._graph import FORMATS, draw
from .._lines import MAX_LINE_BYTES, encode_line, format_at
from .._playbooks import dump_playbook
from .._replay import EVENT_VERSIONS
from ..exceptions import InvalidInputError, LifecycleError, PlaybookError
from ._render import escape

__all__ = ["COMMANDS"]

_F = TypeVar("_F", bound=Callable[..., Any])


def _env() -> Any:
    # Any: cli.Env.
    return click.get_current_context().obj


def _echo_json(data: object) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def _dir_option(help_text: str) -> Callable[[_F], _F]:
    return click.option(
        "--dir",
        "folder",
        type=click.Path(file_okay=False, path_type=Path),
        default=Path("."),
        show_default=True,
        help=help_text,
    )


@click.group("playbooks")
def playbooks() -> None:
    """List, show, check, draw and start playbooks."""


@playbooks.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (docs/cli.md).")
def playbooks_list(as_json: bool) -> None:
    """Every playbook known: shipped, from plugins, and from --playbooks folders."""
    catalog = _env().engine.catalog
    rows = [_row(None, d.label, d.playbook) for d in catalog.broken]
    for pid in catalog.ids():
        document = catalog.documents[pid]
        row = _row(pid, document.label, document.playbook)
        try:
            resolved = catalog.resolve(pid)
            row.update(
                version=resolved.playbook.version,
                organization=resolved.playbook.organization,
                title=resolved.playbook.title,
                sha256=resolved.sha256,
                ok=True,
                error=None,
            )
        except LifecycleError as exc:
            row.update(error=str(exc))
        rows.append(row)
    for row, document in zip(rows, catalog.broken, strict=False):
        row["error"] = document.problems[0] if document.problems else "invalid playbook"
    if as_json:
        _echo_json({"playbooks": rows})
        return
    for row in rows:
        if row["ok"]:
            click.echo(
                escape(
                    f"{row['id']:<14} {row['version']:<8} {row['organization']:<40} {row['title']}"
                )
            )
        else:
            click.echo(escape(f"{row['id'] or '?':<14} INVALID  {row['error']}"))


def _row(pid: str | None, source: str, playbook: Any) -> dict[str, Any]:
    """A `playbooks list` row: every documented key, filled from what the document says."""
    # Any: a Playbook or None; a JSON object.
    return {
        "id": pid,
        "version": getattr(playbook, "version", ""),
        "organization": getattr(playbook, "organization", ""),
        "title": getattr(playbook, "title", ""),
        "extends": getattr(playbook, "extends", None),
        "source": source,
        "sha256": None,
        "ok": False,
        "error": None,
    }


@playbooks.command("show")
@click.argument("playbook_id", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of TOML.")
@click.option("--resolved", is_flag=True, help="With its parents merged in, as engagements run it.")
def playbooks_show(playbook_id: str, as_json: bool, resolved: bool) -> None:
    """Show a playbook as written, or --resolved."""
    catalog = _env().engine.catalog
    full = catalog.resolve(playbook_id)
    document = full.chain[-1]
    playbook = full.playbook if resolved else document.playbook
    assert playbook is not None
    if as_json:
        _echo_json(
            {
                "id": playbook.id,
                "source": document.label,
                "sha256": full.sha256,
                "resolved": resolved,
                "playbook": unstructure_playbook(playbook),
            }
        )
    elif not resolved and document.path is not None:
        click.echo(document.path.read_text(encoding="utf-8"), nl=False)
    else:
        click.echo(f"# {playbook.id}@{playbook.version}, sha256 {full.sha256}")
        click.echo(dump_playbook(playbook), nl=False)


@playbooks.command("check")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
def playbooks_check(paths: tuple[Path, ...]) -> None:
    """Check playbook files (or folders of them); exit 1 when any has a problem."""
    env = _env()
    files = [f for p in paths for f in (sorted(p.glob("*.toml")) if p.is_dir() else [p])]
    missing = [str(f) for f in files if not f.exists()]
    if missing:
        raise InvalidInputError(f"No such file: {', '.join(missing)}.")
    catalog = env.plugins.catalog(env.playbook_dirs, first=files)
    installed = env.plugins.catalog(env.playbook_dirs)
    problems = 0
    for document in catalog.broken:
        problems += _report(document.problems)
    for pid in catalog.ids():
        document = catalog.documents[pid]
        if document.path is None or not any(_same(document.path, f) for f in files):
            continue
        try:
            problems += _report(_checked(catalog.resolve(pid), installed, document.path))
        except PlaybookError as exc:
            problems += _report(exc.problems)
        except LifecycleError as exc:
            problems += _report([f"{document.label}: {exc}"])
    click.get_current_context().exit(1 if problems else 0)


def _checked(resolved: Resolved, installed: Catalog, path: Path) -> list[str]:
    """The problems of a playbook that resolves (an id clash, a size `new` cannot store); OK
    printed when there are none."""
    label, pid = resolved.label, resolved.playbook.id
    problems = []
    others = [s for s in _sources(installed, pid) if not _same(Path(s), path)]
    if others and len(others) < len(_sources(installed, pid)):
        problems.append(
            f"{label}: $.id: playbook id {pid!r} is also defined in {' and '.join(others)}; "
            "`list` shows it INVALID and `new` refuses it"
        )
    elif others:
        click.echo(
            escape(
                f"warning: {label}: playbook id {pid!r} is also the id of {' and '.join(others)}; "
                "installed side by side, the two would clash"
            ),
            err=True,
        )
    size = opened_line_bytes(resolved)
    if size > MAX_LINE_BYTES:
        problems.append(
            f"{label}: the resolved playbook makes an `opened` event of {size} bytes, over the "
            f"history line limit of {MAX_LINE_BYTES} bytes: `new` could never store it"
        )
    if not problems:
        click.echo(
            escape(
                f"OK     {label}  ({pid}@{resolved.playbook.version}, sha256 {resolved.sha256[:12]})"
            )
        )
    return problems


def _sources(catalog: Catalog, pid: str) -> list[str]:
    """Every source (file name or plugin) that defines *pid* in *catalog*."""
    if pid in catalog.conflicts:
        return catalog.conflicts[pid]
    return [catalog.documents[pid].label] if pid in catalog.documents else []


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except (OSError, RuntimeError):  # a label that is no path (a plugin), or a symlink loop
        return False


def opened_line_bytes(resolved: Resolved) -> int:
    """The length of the ``opened`` line of an engagement under *resolved* at the least (an
    empty title, no facts, but the longest id and actor): a playbook over the line limit passes
    every other check, and `new` could still never store it (#10)."""
    longest = "x" * 128
    record = {
        "seq": 1,
        "at": format_at(dt.datetime.now(dt.UTC)),
        "actor": longest,
        "type": "opened",
        "v": EVENT_VERSIONS["opened"],
        "data": opened_data(longest, "", resolved, {}),
        "prev": "0" * 64,
    }
    return len(encode_line(record)) - 1


def _report(problems: list[str]) -> int:
    for problem in problems:
        click.echo(escape(f"ERROR  {problem}"), err=True)
    return len(problems)


@playbooks.command("graph")
@click.argument("playbook_id", metavar="ID")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="mermaid", show_default=True)
def playbooks_graph(playbook_id: str, fmt: str) -> None:
    """Draw a playbook's stages and triggers (mermaid, dot, or a Markdown transition table)."""
    resolved = _env().engine.catalog.resolve(playbook_id)
    click.echo(draw(resolved.playbook, resolved.sha256, fmt))


@playbooks.command("new")
@click.argument("org")
@_dir_option("Where to write <org>.toml.")
@click.option("--organization", default="", help="The organization's full name.")
def playbooks_new(org: str, folder: Path, organization: str) -> None:
    """Start a TOML playbook for an organization, extending core."""
    from .._playbooks import PLAYBOOK_ID

    if not PLAYBOOK_ID.fullmatch(org):
        raise InvalidInputError(f"Playbook id {org!r} must be lowercase letters, digits and '-'.")
    path = folder / f"{org}.toml"
    if path.exists():
        raise InvalidInputError(f"{path} exists already; not overwriting it.")
    if taken := _sources(_env().engine.catalog, org):
        raise InvalidInputError(
            f"Playbook id {org!r} is taken already (by {' and '.join(taken)}): a second playbook "
            f"with it would make both unusable; choose another id, such as '{org}-office'."
        )
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(new_playbook_toml(org, organization or org.upper()), encoding="utf-8")
    click.echo(f"Wrote {path}; check it with: lifecycle playbooks check {path}")


def new_playbook_toml(org: str, organization: str) -> str:
    """A starting playbook extending core, as TOML written with tomli-w."""
    data = {
        "schema": 1,
        "id": org,
        "version": "0.1.0",
        "organization": organization,
        "title": f"{organization} mediation support cycle",
        "extends": "core",
        "facts": [
            {
                "id": f"{org}.authorizing-body",
                "title": "Body that authorized the engagement",
                "type": "text",
            }
        ],
        "checklist": [
            {
                "stage": "induction-briefing",
                "id": f"{org}-decision-attached",
                "text": "Authorizing decision attached to the briefing pack",
                "required": True,
            }
        ],
        "rules": [
            {
                "id": f"{org}-authorized-before-appointment",
                "on": ["appoint"],
                "kind": "fact-required",
                "fact": f"{org}.authorizing-body",
                "severity": "block",
                "message": "Record the authorizing body before the envoy is appointed.",
                "override_roles": ["head-of-unit"],
                "basis": "to be completed: cite the source",
            }
        ],
    }
    header = (
        f"# Playbook of {organization}, extending the core cycle.\n"
        "# Schema: docs/playbook-schema.md. Check it with `lifecycle playbooks check`.\n"
    )
    return header + tomli_w.dumps(data)


@click.group("plugins", invoke_without_command=True)
@click.option("--all", "show_all", is_flag=True, help="Include the built-in default plugins.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (docs/cli.md).")
@click.pass_context
def plugins(ctx: click.Context, show_all: bool, as_json: bool) -> None:
    """List installed plugins: hooks, playbooks, rule kinds, and whether they loaded."""
    if ctx.invoked_subcommand is not None:
        return
    env = _env()
    host = env.plugins
    host.rule_kinds()
    try:
        env.engine.catalog  # noqa: B018 - builds the catalog, attributing playbooks to plugins
    except LifecycleError:
        pass
    reports = [r for r in host.reports if show_all or not r.builtin]
    if as_json:
        _echo_json({"plugins": [attrs.asdict(r) for r in reports]})
        return
    if not reports:
        click.echo("No plugins installed (--all shows the built-in ones).")
    for r in reports:
        status = r.status if not r.error else f"{r.status}: {r.error}"
        click.echo(f"{r.name} ({r.distribution or '-'} {r.version or ''})".replace(" )", ")"))
        click.echo(f"    status      {status}")
        click.echo(f"    hooks       {', '.join(r.hooks) or '-'}")
        click.echo(f"    playbooks   {', '.join(r.playbooks) or '-'}")
        click.echo(f"    rule kinds  {', '.join(r.rule_kinds) or '-'}")


@plugins.command("new")
@click.argument("name")
@click.option("--org", required=True, help="Organization id of the playbook to generate.")
@_dir_option("Where to create lifecycle-NAME/.")
def plugins_new(name: str, org: str, folder: Path) -> None:
    """Generate a plugin distribution lifecycle-NAME with a playbook, a rule kind and tests."""
    from .._scaffold import new_plugin

    root = new_plugin(name, org, folder)
    click.echo(f"Wrote {root}; next: pip install -e '{root}[test]' && pytest {root}")


COMMANDS = (playbooks, plugins)
