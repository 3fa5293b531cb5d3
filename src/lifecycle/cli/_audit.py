"""Commands for auditors and recovery: audit, repair, demo."""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import click

from .._audit import (
    Checkpoint,
    FileReport,
    audit_stream,
    find_histories,
    missing_reports,
    read_checkpoints,
)
from .._auditcache import AuditCache, audit_cached, default_cache_dir
from .._codeversion import code_version
from .._inputs import check_actor
from .._lessonaudit import cite_findings
from .._pool import chunk_size
from .._repair import repair_file
from .._store import open_store
from ..exceptions import InvalidInputError
from ._auditkeys import KeyChecks, key_options

__all__ = ["COMMANDS"]

_PROGRESS_MIN_FILES = 20


def _env() -> Any:
    # Any: cli.Env.
    return click.get_current_context().obj


_Work = tuple[str, dt.date, Mapping[str, Checkpoint], bool]


def _cache(plugins: Any, use: bool) -> AuditCache | None:
    # Any: the Plugins host.
    if not use:
        return None
    versions = [
        f"{r.name}={r.distribution}:{r.version}" for r in plugins.reports if r.status == "loaded"
    ]
    # The running code's own digest too: a fix without a version bump must not reuse verdicts.
    return AuditCache(default_cache_dir(), [f"lifecycle={code_version()}", *sorted(versions)])


def _worker_audit(work: _Work) -> FileReport:
    """Audit one file in a worker process, with that process's own plugins' rule kinds."""
    from . import load_plugins

    path, today, against, use_cache = work
    plugins = load_plugins()
    return audit_cached(
        Path(path),
        kinds=plugins.rule_kinds(),
        today=today,
        against=against,
        cache=_cache(plugins, use_cache),
    )


def _reports(
    files: Sequence[Path],
    jobs: int,
    today: dt.date,
    against: Mapping[str, Checkpoint],
    use_cache: bool,
) -> Iterator[FileReport]:
    if jobs <= 1 or len(files) < 2:
        plugins = _env().plugins
        kinds, cache = plugins.rule_kinds(), _cache(plugins, use_cache)
        for path in files:
            yield audit_cached(path, kinds=kinds, today=today, against=against, cache=cache)
        return
    from concurrent.futures import ProcessPoolExecutor  # only when asked: it costs ~7 ms to import

    with ProcessPoolExecutor(max_workers=jobs) as pool:
        work = [(str(p), today, against, use_cache) for p in files]
        yield from pool.map(_worker_audit, work, chunksize=chunk_size(len(work), jobs))


@click.command("audit")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON (docs/cli.md).")
@click.option(
    "--against",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Checkpoints saved from an earlier audit (text or --json): prove each file "
    "still extends its own.",
)
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Audit files in this many processes.",
)
@click.option(
    "--no-cache",
    "no_cache",
    is_flag=True,
    help="Audit every file from scratch (the cache is keyed by each file's bytes and the code "
    "versions; env LIFECYCLE_CACHE_DIR moves it).",
)
@click.option(
    "--store",
    "store_url",
    metavar="URL",
    help="Audit every engagement held in this store (postgresql://...) instead of PATHS; "
    "without PATHS, the global --store is audited.",
)
@key_options
def audit(
    paths: tuple[Path, ...],
    as_json: bool,
    against: Path | None,
    jobs: int,
    no_cache: bool,
    store_url: str | None,
    **keys: Any,
) -> None:
    """Verify history files and folders (or a store's histories): integrity, conformance,
    completeness.

    Exit 0 when no file has an error finding (warnings allowed), 1 otherwise, 2 when no history
    file is found (with --against, each checkpoint is then reported missing: exit 1).
    """
    store = _audited_store(paths, store_url)
    files, missing = find_histories(paths)
    if missing:
        raise InvalidInputError(f"No such file or folder: {', '.join(missing)}.")
    if (
        store is None and not files and against is None
    ):  # an OK about nothing vouches for nothing (#9)
        raise InvalidInputError(
            f"No history file (*.history.jsonl) in {', '.join(map(str, paths))}: nothing to audit."
        )
    checkpoints: Mapping[str, Checkpoint] = {}
    saved = against.read_text(encoding="utf-8", errors="replace") if against else None
    if against is not None and saved is not None:
        try:
            checkpoints = read_checkpoints(saved)
        except ValueError as exc:
            raise InvalidInputError(f"{against}: {exc}") from None
    today = _env().engine.today()
    checks = KeyChecks.build(_env().plugins, keys, saved, checkpoints)
    if store is not None:
        reports = checks.applied(_store_reports(store, today, checkpoints), store)
    else:
        reports = checks.applied(_reports(files, jobs, today, checkpoints, not no_cache))
    show_progress = not as_json and sys.stderr.isatty() and len(files) >= _PROGRESS_MIN_FILES
    if show_progress:
        with click.progressbar(
            reports, length=len(files), label="auditing", file=sys.stderr
        ) as bar:
            results = list(bar)
    else:
        results = list(reports)
    cite_findings(results)  # #15: each cite judged against every history audited with it
    absent = missing_reports(results, checkpoints)
    if not as_json:
        for report in results:
            click.echo(checks.text(report, _text(report)))
        for report in absent:
            click.echo(_text(report))
    results += absent
    ok = all(r.ok for r in results)
    if as_json:
        click.echo(json.dumps({"ok": ok, "files": [checks.json(r) for r in results]}, indent=2))
    else:
        bad = sum(not r.ok for r in results)
        click.echo(f"audit: {len(results)} file(s), {bad} with errors: {'OK' if ok else 'FAILED'}")
    click.get_current_context().exit(0 if ok else 1)


def _audited_store(paths: tuple[Path, ...], store_url: str | None) -> Any:
    """The store to audit (None: audit PATHS)."""
    # Any: a Store.
    if paths and store_url:
        raise click.UsageError("Give PATHS or --store, not both.")
    url = store_url or (None if paths else _env().store_url)
    if url is None:
        if not paths:
            raise click.UsageError("Missing argument 'PATHS...' (or --store URL).")
        return None
    store = open_store(url, Path("."))
    click.get_current_context().call_on_close(store.close)
    if not store.engagements():
        raise InvalidInputError(f"No engagement in {store.label}: nothing to audit.")
    return store


def _store_reports(
    store: Any, today: dt.date, against: Mapping[str, Checkpoint]
) -> Iterator[FileReport]:
    """Each engagement of *store*, audited from its stored lines (no cache: no file bytes)."""
    # Any: a Store.
    kinds = _env().plugins.rule_kinds()
    for engagement in store.engagements():
        label = store.label_of(engagement)
        yield audit_stream(
            label, store.lines(engagement), kinds=kinds, today=today, against=against
        )


def _text(report: FileReport) -> str:
    verdict = "OK" if report.ok else "FAILED"
    warnings = sum(f.severity == "warning" for f in report.findings)
    errors = len(report.findings) - warnings
    lines = [
        f"{verdict:<6} {report.path or '(no file)'}  engagement {report.engagement or '?'}, "
        f"{report.events} events, stage {report.stage or '?'}"
        f"  ({errors} error(s), {warnings} warning(s))"
    ]
    for f in report.findings:
        where = f"seq {f.seq} (line {f.line})" if f.seq is not None else "file"
        lines.append(f"  {f.severity:<7} {f.code:<26} {where}: {f.message}")
    for o in report.overrides:
        lines.append(
            f"  override seq {o['seq']} {', '.join(map(str, o['rules']))} by {o['actor']} "
            f"({', '.join(map(str, o['roles']))}): {o['reason']}"
        )
    if report.checkpoint:
        lines.append(f"  {report.checkpoint.line()}")
    return "\n".join(lines)


@click.command("repair")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def repair(file: Path) -> None:
    """Cut a torn last line (saved beside the file first) and record the repair."""
    from .._authority import Authority
    from .._store import FileStore

    env = _env()
    # The history's own folder is its workspace: its keyring and lifecycle.toml decide whether
    # the `repaired` event must be signed, and by whom (as for every other command).
    key = None
    if env.key is not None:
        from .._keys import load_private

        key = load_private(env.key)
    authority = Authority(FileStore(file.parent), key)
    name = authority.name()
    actor = check_actor(name if name is not None and not env.actor_given else env.actor_name)
    authority.check_actor(actor)
    record = repair_file(file, actor=actor, now=dt.datetime.now(dt.UTC), key=key)
    data = record["data"]
    click.echo(
        f"Repaired {file}: cut {data['cut_bytes']} torn byte(s), saved to "
        f"{data['saved_to']}; recorded as event {record['seq']}"
    )


@click.command("demo")
@click.option(
    "--workspace",
    "folder",
    type=click.Path(file_okay=False, path_type=Path),
    help="Run it here instead of a fresh temporary folder (the global --workspace works too).",
)
def demo(folder: Path | None) -> None:
    """Drive a sample engagement end to end under `core`, then audit it."""
    from ._demo import run_demo

    env = _env()
    ctx = click.get_current_context()
    chosen = ctx.parent is not None and ctx.parent.get_parameter_source("workspace") not in (
        click.core.ParameterSource.DEFAULT,
        None,
    )
    code = run_demo(env, click.echo, workspace=folder or (env.workspace if chosen else None))
    ctx.exit(code)


COMMANDS = (audit, repair, demo)
