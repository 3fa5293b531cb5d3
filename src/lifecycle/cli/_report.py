"""``lifecycle report``: the track record of the workspace over a period (docs/report.md)."""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import os
import stat
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .._codeversion import code_version
from .._inputs import date_problem
from .._layout import SUFFIX
from .._report import FORMATS, ReportCache, report_text, templates_folder
from ..exceptions import InvalidInputError, LifecycleError
from ._lazyplugins import _builtin_only as builtin_only
from ._render import escape

if TYPE_CHECKING:
    from .._catalog import Catalog
    from .._rules import RuleKind
    from .._store import Store

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
    "--no-cache",
    "no_cache",
    is_flag=True,
    help="Audit and count every history from scratch (the caches are keyed by each history's "
    "bytes and the code versions).",
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
    no_cache: bool,
    out: Path | None,
) -> None:
    """The track record: engagements, services, indicators, overrides, cadences and lessons
    over a period, with the checkpoint of every history it drew on."""
    env: Any = click.get_current_context().obj  # Any: cli.Env
    if out is not None and (problem := _target_problem(out, out.parent)):
        raise InvalidInputError(f"--out {out}: {problem}")  # before any work: nothing written
    cache = None if no_cache else ReportCache.of(env.store, _versions(env.plugins))
    with _fewer_collections():
        kept, unreadable, failed = report_text(
            _Source(env),
            fmt,
            start=start,
            end=end,
            playbooks=playbooks,
            cache=cache,
            compiled=None if no_cache else templates_folder(),
        )
    for entry in unreadable:
        click.echo(
            f"warning: {escape(entry['engagement'])}: not in the report: {escape(entry['error'])}",
            err=True,
        )
    for bad in failed:
        first, count = bad["errors"][0], len(bad["errors"])
        click.echo(
            f"warning: {escape(bad['engagement'])}: not in the report: it does not audit clean "
            f"({count} error(s); first {first['code']} at seq {first['seq']}: "
            f"{escape(first['message'])})",
            err=True,
        )
    if out is None:
        click.echo(kept.text, nl=False)
        return
    write_file(out, kept.text)
    click.echo(
        f"Report of {kept.engagements} engagement(s), "
        f"{kept.start or 'start'} to {kept.end}: {escape(str(out))}"
    )


class _Source:
    """What the report draws on (:class:`~lifecycle._report.Source`): the store and the day
    of the command's own clock, and the engine (the plugins, the keyring) only when it asks
    for rule kinds or the catalog, which a report whose verdicts are all cached never does."""

    def __init__(self, env: Any) -> None:
        # Any: cli.Env.
        self._env = env

    @property
    def store(self) -> Store:
        return self._env.store  # type: ignore[no-any-return]

    @property
    def rule_kinds(self) -> Mapping[str, RuleKind]:
        return self._env.engine.rule_kinds  # type: ignore[no-any-return]

    @property
    def catalog(self) -> Catalog:
        return self._env.engine.catalog  # type: ignore[no-any-return]

    def today(self) -> dt.date:
        """Today (UTC) by the command's clock (``Env.today``)."""
        return self._env.today()  # type: ignore[no-any-return]


@contextlib.contextmanager
def _fewer_collections() -> Iterator[None]:
    """The cyclic garbage collector run less often: a report makes hundreds of thousands of
    small objects that live until it is written, and the collections their making triggers
    (one per 700 by default) go over them again and again and find nothing to free (about a
    sixth of a warm report's time)."""
    thresholds = gc.get_threshold()
    gc.set_threshold(max(thresholds[0], 10_000), *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)


def _versions(plugins: Any) -> list[str]:
    """The code versions a cached verdict or contribution is kept under, as ``audit`` keys
    its cache: the running code's digest and each loaded plugin's version."""
    # Any: the Plugins host.
    if builtin_only():  # what `audit` finds loaded then, without loading pluggy to ask (#14)
        version = code_version().partition("+")[0]
        return [f"lifecycle={code_version()}", f"lifecycle._builtin=lifecycle:{version}"]
    loaded = [
        f"{r.name}={r.distribution}:{r.version}" for r in plugins.reports if r.status == "loaded"
    ]
    return [f"lifecycle={code_version()}", *sorted(loaded)]


def write_file(path: Path, text: str) -> None:
    """Write *text* to *path* whole: a temporary file beside it, renamed over it.

    Raises:
        InvalidInputError: The folder does not exist, *path* names a history, or *path* exists
            and is no regular file (a folder, a symlink, a device, a FIFO): it is left as it is.
        LifecycleError: *path* cannot be written (nothing is left behind).
    """
    folder = path.parent if str(path.parent) else Path(".")
    if problem := _target_problem(path, folder):
        raise InvalidInputError(f"--out {path}: {problem}")
    try:
        fd, temp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise LifecycleError(
            f"--out {path}: cannot create a file in {folder} ({exc.strerror})"
        ) from None
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


def _target_problem(path: Path, folder: Path) -> str:
    """Why the report may not be written at *path*, or "": a report only ever replaces a
    regular file, and is never named like a history (``audit`` would read it as one)."""
    if path.name.endswith(SUFFIX):
        return f"a report is never written as a history (*{SUFFIX}); choose another name"
    if not folder.is_dir():
        exists = os.path.lexists(folder)
        return f"folder {folder} " + ("is not a folder" if exists else "does not exist")
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return ""
    except OSError as exc:
        return f"cannot look at it ({exc.strerror})"
    if stat.S_ISREG(mode):
        return ""
    kinds = {stat.S_ISDIR: "a folder", stat.S_ISLNK: "a symlink", stat.S_ISFIFO: "a FIFO"}
    kinds |= {stat.S_ISCHR: "a character device", stat.S_ISBLK: "a block device"}
    kind = next((name for test, name in kinds.items() if test(mode)), "a special file")
    return f"is {kind}, not a regular file: a report replaces only a file (nothing written)"


COMMANDS = (report,)
