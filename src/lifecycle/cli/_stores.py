"""Commands that set up and move stores: store init, export, import (docs/stores.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .._store import FileStore, PostgresStore
from .._store._moving import export_histories, import_histories
from ..exceptions import InvalidInputError

__all__ = ["COMMANDS"]


def _env() -> Any:
    # Any: cli.Env; imported lazily to keep the import graph one-way.
    return click.get_current_context().obj


@click.group("store")
def store() -> None:
    """Set up the store (the global --store, or --workspace's folder)."""


@store.command("init")
@click.option(
    "--settings",
    "settings",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A workspace settings file (lifecycle.toml) to store for every user; repeatable.",
)
def init(settings: tuple[Path, ...]) -> None:
    """Create or migrate the store's schema (versioned; a newer schema is refused), and store
    the settings files given."""
    env = _env()
    target = env.store
    if isinstance(target, PostgresStore):
        before, after = target.init()
        done = "is up to date" if before == after else f"migrated from version {before}"
        click.echo(f"Store {target.label}: schema version {after} ({done})")
    elif isinstance(target, FileStore):
        target.workspace.create_root()
        click.echo(f"Store {target.label}: a folder of history files (no schema)")
    for path in settings:
        try:
            body = path.read_bytes()
        except OSError as exc:
            raise InvalidInputError(f"{path}: cannot read: {exc.strerror or exc}.") from None
        target.put_settings(path.name, body)
        click.echo(f"Stored setting {path.name}")


@click.command("export")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
def export(folder: Path) -> None:
    """Write every engagement as FOLDER/<id>.history.jsonl, the bytes the file store holds."""
    done = export_histories(_env().store, folder)
    click.echo(f"Exported {len(done)} engagement(s) to {folder}")


@click.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
def import_(paths: tuple[Path, ...]) -> None:
    """Audit history files and folders, then load them all into the store (or none)."""
    engine = _env().engine
    done = import_histories(engine.store, paths, kinds=engine.rule_kinds, today=engine.today())
    click.echo(f"Imported {len(done)} engagement(s) into {engine.store.label}")


COMMANDS = (store, export, import_)
