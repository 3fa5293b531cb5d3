"""The ``lifecycle`` command line: the only place that prints, parses argv or exits.

Exit codes: 0 done; 1 refused (a blocked advance, an audit with error findings, an invalid
playbook); 2 usage (unknown command, option, engagement, trigger, item). Every error is one line
on stderr; a traceback is shown only with ``LIFECYCLE_DEBUG=1``.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import getpass
import importlib
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import click

from .._inputs import text_problem
from ..exceptions import ConfigError, InvalidInputError, LifecycleError, NotFoundError
from ._lazyplugins import lazy_plugins
from ._render import escape
from ._streams import OutputError, failure, guarded_streams

if TYPE_CHECKING:
    from .._engine import Engine
    from .._plugins import Plugins
    from .._store import Store

Clock = Callable[[], dt.datetime]

__all__ = ["Env", "cli", "load_plugins", "main"]


class Env:
    """What every command shares: the global options, and the engine built from them."""

    def __init__(
        self,
        workspace: Path,
        actor: str,
        playbook_dirs: Sequence[Path],
        store_url: str | None = None,
        key: Path | None = None,
        actor_given: bool = True,
        clock: Clock | None = None,
    ) -> None:
        self.workspace = workspace
        self.clock = clock
        self.store_url = store_url or None
        self._actor = actor
        self.playbook_dirs = tuple(playbook_dirs)
        self.key = key
        self._actor_given = actor_given
        self._plugins: Plugins | None = None
        self._engine: Engine | None = None
        self._store: Store | None = None

    @property
    def store(self) -> Store:
        """The store: ``--store`` when given, else the files of ``--workspace``."""
        if self._store is None:
            from .._store import open_store

            self._store = open_store(self.store_url, self.workspace)
            ctx = click.get_current_context(silent=True)
            if ctx is not None:  # the connection closes with the command, whatever happens
                ctx.find_root().call_on_close(self._store.close)
        return self._store

    def today(self) -> dt.date:
        """Today (UTC) by the command's clock, as the engine would say it, without building
        an engine for it."""
        now = self.clock() if self.clock is not None else dt.datetime.now(dt.UTC)
        return now.astimezone(dt.UTC).date()

    @property
    def store_label(self) -> str:
        """How output names the store (the workspace folder for files)."""
        return str(self.workspace) if self.store_url is None else self.store.label

    @property
    def actor_given(self) -> bool:
        """Whether ``--actor`` (or ``LIFECYCLE_ACTOR``) named the actor."""
        return self._actor_given

    @property
    def actor_name(self) -> str:
        """The actor named by ``--actor``, ``LIFECYCLE_ACTOR`` or the login (no keyring asked)."""
        return self._actor

    @property
    def actor(self) -> str:
        """Who is acting: with ``--key`` and no ``--actor``, the keyring's name for the key."""
        if self.key is not None and not self._actor_given:
            return self.engine.authority.name() or self._actor
        return self._actor

    @property
    def plugins(self) -> Plugins:
        """The plugin manager (entry points loaded once per run)."""
        if self._plugins is None:
            self._plugins = load_plugins()
        return self._plugins

    @property
    def engine(self) -> Engine:
        """The engine on the workspace."""
        if self._engine is None:
            from .._engine import Engine

            key = None
            if self.key is not None:
                from .._keys import load_private

                key = load_private(self.key)
            self._engine = Engine(
                store=self.store,
                plugins=self.plugins,
                playbook_dirs=self.playbook_dirs,
                key=key,
                clock=self.clock,
            )
            for warning in self._engine.authority.warnings():
                click.echo(f"warning: {escape(warning)}", err=True)
        return self._engine


def _default_actor() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _playbook_dirs(ctx: click.Context, param: click.Parameter, value: Sequence[str]) -> list[Path]:
    dirs = [Path(v) for v in value]
    if not dirs and os.environ.get("LIFECYCLE_PLAYBOOKS"):
        dirs = [Path(p) for p in os.environ["LIFECYCLE_PLAYBOOKS"].split(os.pathsep) if p]
    return dirs


_PLUGINS: list[Plugins] = []
# The command line of the run in progress, as parsed (the status cache keys on it).
_ARGS: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar("lifecycle_args")


def current_args() -> tuple[str, ...]:
    """The arguments the running command was parsed from (argv without the program name)."""
    return _ARGS.get()


def load_plugins() -> Plugins:
    """The plugins of this process, loaded once, when a hook first needs them (the CLI also
    needs them to add commands)."""
    if not _PLUGINS:
        _PLUGINS.append(lazy_plugins())
    return _PLUGINS[0]


# Each built-in command and the module that defines it, imported only when the command runs (#14):
# `lifecycle status` pays for what status needs, not for audit, keys or the PostgreSQL store.
_BUILTIN: Final = {
    **dict.fromkeys(
        (
            "new",
            "status",
            "set",
            "check",
            "uncheck",
            "record",
            "note",
            "advance",
            "force",
            "list",
            "history",
            "due",
        ),
        "_engagements",
    ),
    **dict.fromkeys(("playbooks", "plugins"), "_authoring"),
    **dict.fromkeys(("audit", "repair", "demo"), "_audit"),
    **dict.fromkeys(("person", "handover", "link", "unlink"), "_practice"),
    **dict.fromkeys(("store", "export", "import"), "_stores"),
    **dict.fromkeys(("keys", "keyring"), "_keys"),
    "report": "_report",
    **dict.fromkeys(("lesson", "lessons"), "_lessons"),
    **dict.fromkeys(("index", "search"), "_portfolio"),
}
# Every module of built-in commands (a module missing from _BUILTIN is still found: a name not
# in it loads them all).
_MODULES: Final = (
    "_engagements",
    "_authoring",
    "_audit",
    "_practice",
    "_stores",
    "_keys",
    "_report",
    "_lessons",
    "_portfolio",
)


class _Commands(dict[str, click.Command]):
    """The group's commands: reading them all (help, docs) imports every built-in module first."""

    def __init__(self, group: _LazyGroup) -> None:
        super().__init__()
        self._group = group

    def own(self, name: str) -> click.Command | None:
        """The command *name* if it is loaded, without loading anything."""
        return dict.get(self, name)

    def _all(self) -> None:
        self._group.load_builtins()

    def __iter__(self) -> Iterator[str]:
        self._all()
        return super().__iter__()

    def __len__(self) -> int:
        self._all()
        return super().__len__()

    def __contains__(self, name: object) -> bool:
        self._all()
        return super().__contains__(name)

    def __getitem__(self, name: str) -> click.Command:
        self._all()
        return super().__getitem__(name)

    def get(self, name: str, default: Any = None) -> Any:
        # Any: as dict.get.
        self._all()
        return super().get(name, default)

    def keys(self) -> Any:
        # Any: a dict view.
        self._all()
        return super().keys()

    def values(self) -> Any:
        # Any: a dict view.
        self._all()
        return super().values()

    def items(self) -> Any:
        # Any: a dict view.
        self._all()
        return super().items()


class _LazyGroup(click.Group):
    """A group that imports a built-in command's module when it is run, and loads plugins (which
    may add commands) only for a name that is not built in, or to list every command."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Any: click.Group's own arguments.
        super().__init__(*args, **kwargs)
        self.commands: _Commands = _Commands(self)
        self._loaded: set[str] = set()
        self._plugins_added: object = None  # the plugins whose commands were added

    def load_module(self, name: str) -> None:
        """Import the built-in command module *name* and add its commands."""
        if name in self._loaded:
            return
        self._loaded.add(name)
        module = importlib.import_module(f"{__name__}.{name}")
        for command in module.COMMANDS:
            if command.name is not None and self.commands.own(command.name) is None:
                dict.__setitem__(self.commands, command.name, command)

    def load_builtins(self) -> None:
        """Every built-in command."""
        for name in _MODULES:
            self.load_module(name)

    def add_plugin_commands(self) -> None:
        """The commands plugins add (after every built-in one), once per set of plugins."""
        plugins = load_plugins()
        if self._plugins_added is not plugins:
            self._plugins_added = plugins
            self.load_builtins()
            plugins.add_commands(self)

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        """Add a (plugin's) command; a built-in name is refused, so that a built-in command is
        the same whether or not plugins were loaded (the plugin is then shown failed)."""
        name = name or cmd.name
        if name in _BUILTIN:
            raise ValueError(f"the command name {name!r} is built in")
        super().add_command(cmd, name)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if (found := self.commands.own(cmd_name)) is not None and cmd_name != "plugins":
            return found
        if cmd_name in _BUILTIN and cmd_name != "plugins":
            self.load_module(_BUILTIN[cmd_name])
        else:  # a plugin's command, or `plugins`, which reports how adding them went
            self.add_plugin_commands()
        return self.commands.own(cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self.add_plugin_commands()
        return sorted(dict.keys(self.commands))


@click.group(
    cls=_LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(package_name="lifecycle", prog_name="lifecycle")
@click.option(
    "--workspace",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="LIFECYCLE_WORKSPACE",
    default=Path("engagements"),
    show_default=True,
    help="Folder of history files (env LIFECYCLE_WORKSPACE).",
)
@click.option(
    "--store",
    "store_url",
    envvar="LIFECYCLE_STORE",
    metavar="URL",
    help="A shared store instead of --workspace's files: postgresql://... (env LIFECYCLE_STORE; "
    "docs/stores.md).",
)
@click.option(
    "--actor",
    envvar="LIFECYCLE_ACTOR",
    default=_default_actor,
    help="Who is acting (env LIFECYCLE_ACTOR; default: the login name).",
)
@click.option(
    "--playbooks",
    "playbook_dirs",
    multiple=True,
    callback=_playbook_dirs,
    type=click.Path(),
    help="Extra folder of TOML playbooks; repeatable "
    "(env LIFECYCLE_PLAYBOOKS, os.pathsep-separated).",
)
@click.option(
    "--key",
    envvar="LIFECYCLE_KEY",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Sign every event with this Ed25519 private key (env LIFECYCLE_KEY); the actor is "
    "then the keyring's name for it.",
)
@click.pass_context
def cli(
    ctx: click.Context,
    workspace: Path,
    store_url: str | None,
    actor: str,
    playbook_dirs: list[Path],
    key: Path | None,
) -> None:
    """Run mediation-support engagements under an organization's playbook, and audit their
    tamper-evident histories."""
    given = ctx.get_parameter_source("actor") != click.core.ParameterSource.DEFAULT
    # run(clock=...) hands its clock in as the context's obj (the one seam tests need, #11).
    clock = ctx.obj if callable(ctx.obj) else None
    ctx.obj = Env(workspace, actor, playbook_dirs, store_url, key, given, clock)


def exit_code(error: LifecycleError) -> int:
    """2 for usage errors (a name or value that does not exist or is malformed, a bad
    ``lifecycle.toml``), else 1."""
    return 2 if isinstance(error, NotFoundError | InvalidInputError | ConfigError) else 1


def main(argv: Sequence[str] | None = None) -> None:
    """Run the CLI and exit with its code."""
    sys.exit(run(argv))


def run(argv: Sequence[str] | None = None, *, clock: Clock | None = None) -> int:
    """Run the CLI; return the exit code instead of exiting.

    *clock* (a function returning an aware datetime) replaces the system clock for the engine,
    so a test can run commands through the CLI at fixed times, as through the Python API.
    """
    args = list(argv) if argv is not None else sys.argv[1:]
    with guarded_streams():
        if problem := text_problem(args, os.environ):
            _error(problem)
            return 2
        code = _run(args, clock)
        if (failed := failure()) is not None:  # the output could not be written: said once
            with contextlib.suppress(OSError):
                os.write(2, f"lifecycle: error: {escape(str(failed))}\n".encode())
            return code or 1
        return code


def _error(message: str) -> None:
    """One line on stderr, whatever the message holds (a newline in a name cannot split it)."""
    with contextlib.suppress(OutputError):  # stderr itself failed: the exit code says it
        click.echo(f"lifecycle: error: {escape(message)}", err=True)


def _run(args: list[str], clock: Clock | None = None) -> int:
    token = _ARGS.set(tuple(args))
    try:
        return _run_click(args, clock)
    finally:
        _ARGS.reset(token)


def _run_click(args: list[str], clock: Clock | None = None) -> int:
    try:
        result = cli.main(
            args=args,
            prog_name="lifecycle",
            standalone_mode=False,
            obj=clock,
        )
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except OutputError:
        return 1  # said once, by run, when the streams are done with
    except click.UsageError as exc:
        # One line, naming what was wrong and where to look (click's usage block is long).
        where = exc.ctx.command_path if exc.ctx else "lifecycle"
        _error(f"{exc.format_message()} (see '{where} --help')")
        return exc.exit_code
    except click.ClickException as exc:
        _error(exc.format_message())
        return exc.exit_code
    except click.Abort:
        click.echo("lifecycle: aborted", err=True)
        return 1
    except LifecycleError as exc:
        _error(str(exc))
        return exit_code(exc)
    except Exception as exc:  # the last line of defence: never a traceback
        if os.environ.get("LIFECYCLE_DEBUG"):
            raise
        click.echo(
            f"lifecycle: internal error: {type(exc).__name__}: {escape(str(exc))} "
            "(set LIFECYCLE_DEBUG=1 for the traceback)",
            err=True,
        )
        return 1
    return result if isinstance(result, int) else 0
