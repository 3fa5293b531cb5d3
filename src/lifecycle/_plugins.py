"""The plugin host: a fresh pluggy manager per call, entry points loaded by our own loop.

Loading never crashes on a broken plugin: each failure (import error, bad hook signature, unknown
hook) is recorded in that plugin's :class:`PluginReport` and the plugin is left out, so
``lifecycle plugins`` can show it and every other plugin keeps working.
"""

from __future__ import annotations

import importlib
import importlib.metadata as metadata
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any, Final

import attrs
import pluggy

from . import _builtin, hookspecs
from ._catalog import Catalog
from ._hookcall import HookCalls, guarded_plugin
from ._model import Playbook
from ._playbooks import document_from_playbook
from ._rules import RuleKind
from ._state import Engagement
from ._statecache import copy_engagement
from ._view import EngagementView
from .exceptions import PluginError

__all__ = ["DEFAULT_PLUGINS", "ENTRY_POINT_GROUP", "PluginReport", "Plugins", "make_plugin_manager"]

ENTRY_POINT_GROUP: Final = "lifecycle.plugins"
DEFAULT_PLUGINS: Final[tuple[ModuleType, ...]] = (_builtin,)


@attrs.define
class PluginReport:
    """What ``lifecycle plugins`` shows for one plugin."""

    name: str
    distribution: str = ""
    version: str = ""
    status: str = "loaded"
    error: str = ""
    builtin: bool = False
    hooks: list[str] = attrs.field(factory=list)
    playbooks: list[str] = attrs.field(factory=list)
    rule_kinds: list[str] = attrs.field(factory=list)

    def fail(self, error: BaseException | str) -> None:
        """Mark the plugin failed with *error* (kept as one line)."""
        text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        self.status, self.error = "failed", " ".join(str(text).split())


class Plugins:
    """The loaded plugins; every hook is called through pluggy, each plugin's failure kept apart."""

    def __init__(
        self,
        manager: pluggy.PluginManager,
        reports: list[PluginReport],
        calls: HookCalls | None = None,
    ) -> None:
        self.manager = manager
        self.reports = reports
        self._calls = calls if calls is not None else HookCalls()
        self._kinds: dict[str, RuleKind] | None = None

    def report(self, name: str) -> PluginReport:
        """The report of plugin *name*, created for plugins registered directly."""
        for report in self.reports:
            if report.name == name:
                return report
        report = PluginReport(name)
        self.reports.append(report)
        return report

    def _results(self, hook: str, **kwargs: Any) -> Iterator[tuple[PluginReport, Any]]:
        """Call *hook*; mark each failing plugin failed; yield (report, result) for the others."""
        # Any: hook arguments and results are whatever each hook documents.
        calls = self._calls.call(self.manager, hook, **kwargs)
        for error in calls.errors:
            self.report(error.plugin).fail(error.problem)
        for name, result in calls.results:
            yield self.report(name), result

    def rule_kinds(self) -> dict[str, RuleKind]:
        """Every rule kind, by name; a plugin returning a bad or duplicate kind is marked failed."""
        if self._kinds is None:
            kinds: dict[str, RuleKind] = {}
            for report, result in self._results("register_rule_kinds"):
                for kind in result or ():
                    problem = _kind_problem(kind, kinds, report)
                    if problem:
                        report.fail(problem)
                        continue
                    kinds[kind.name] = (
                        kind if report.builtin else attrs.evolve(kind, plugin=report.name)
                    )
                    report.rule_kinds.append(kind.name)
            self._kinds = kinds
        return self._kinds

    def catalog(self, playbook_dirs: Sequence[Path] = (), *, first: Sequence[Path] = ()) -> Catalog:
        """A catalog of the plugins' playbooks and those in *playbook_dirs*.

        Files in *first* come before every other source and shadow playbooks of the same id
        (``playbooks check`` checks a file against the installed playbooks it extends).
        """
        catalog = Catalog(rule_kinds=self.rule_kinds())
        catalog.add_first(first)
        for report, result in self._results("register_playbooks"):
            for item in result or ():
                before = set(catalog.documents)
                if isinstance(item, Playbook):
                    catalog.add_document(document_from_playbook(item, f"plugin {report.name}"))
                elif isinstance(item, str | os.PathLike):
                    catalog.add_path(Path(item))
                else:
                    report.fail(
                        f"register_playbooks returned {type(item).__name__}, not a playbook or path"
                    )
                report.playbooks.extend(
                    p for p in sorted(set(catalog.documents) - before) if p not in report.playbooks
                )
        for folder in playbook_dirs:
            catalog.add_path(folder)
        return catalog

    def notify(self, engagement: Engagement, event: Mapping[str, Any]) -> list[PluginError]:
        """Tell every plugin about an appended event; return their errors (the event stays).

        Each plugin gets a read-only view of the engagement and its own copy of the event.
        """
        # Any: a JSON record.
        if not self.manager.hook.lifecycle_event.get_hookimpls():
            return []
        view = EngagementView(copy_engagement(engagement))  # later commands change nothing here
        return self._calls.call(
            self.manager, "lifecycle_event", engagement=view, event=dict(event)
        ).errors

    def add_commands(self, cli: Any) -> None:
        """Let plugins add CLI subcommands (a failing plugin is marked failed)."""
        # Any: a click.Group.
        for _ in self._results("register_commands", cli=cli):
            pass


def _kind_problem(kind: object, kinds: Mapping[str, RuleKind], report: PluginReport) -> str:
    if not isinstance(kind, RuleKind):
        return f"register_rule_kinds returned {type(kind).__name__}, not a RuleKind"
    if not report.builtin and "." not in kind.name:
        return f"rule kind {kind.name!r} must be named '<plugin>.<name>'"
    if kind.name in kinds:
        return f"rule kind {kind.name!r} is registered twice"
    return ""


def _names(value: str | None) -> set[str] | None:
    if value is None:
        return None
    return {name.strip() for name in value.split(",") if name.strip()}


def make_plugin_manager(
    *,
    load_entrypoints: bool = True,
    extra_plugins: Iterable[object] = (),
    environ: Mapping[str, str] | None = None,
    trace: Callable[[str], object] | None = None,
) -> Plugins:
    """Build a fresh plugin manager: hookspecs, built-ins, entry points, *extra_plugins*.

    ``LIFECYCLE_LOAD_PLUGINS=a,b`` loads only the named entry-point plugins (empty: none);
    ``LIFECYCLE_DISABLE_PLUGINS=a,b`` blocks the named ones. *trace*, when given, receives
    pluggy's trace of every hook call (the CLI passes it for ``LIFECYCLE_TRACE_PLUGINS=1``).
    """
    env = os.environ if environ is None else environ
    calls = HookCalls(trace)
    manager = pluggy.PluginManager("lifecycle")
    manager.add_hookspecs(hookspecs)
    disabled = _names(env.get("LIFECYCLE_DISABLE_PLUGINS")) or set()
    for name in disabled:
        manager.set_blocked(name)
    reports: list[PluginReport] = []
    for module in DEFAULT_PLUGINS:
        manager.register(guarded_plugin(manager, module, module.__name__, calls), module.__name__)
        reports.append(
            PluginReport(module.__name__, "lifecycle", _version("lifecycle"), builtin=True)
        )
    if load_entrypoints:
        only = _names(env.get("LIFECYCLE_LOAD_PLUGINS"))
        for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=_ep_key):
            reports.append(_load(manager, ep, only, disabled, calls))
    for plugin in extra_plugins:
        reports.append(_register(manager, plugin, _name_of(manager, plugin), calls))
    _check_pending(manager, reports)
    for report in reports:
        plugin = manager.get_plugin(report.name)
        if plugin is not None:
            report.hooks = sorted(c.name for c in manager.get_hookcallers(plugin) or ())
    return Plugins(manager, reports, calls)


def _name_of(manager: pluggy.PluginManager, plugin: object) -> str:
    """A readable, unique name for a plugin given as an object (a module's own name)."""
    base = getattr(plugin, "__name__", None) or type(plugin).__name__
    name, n = str(base), 1
    while manager.has_plugin(name):
        n += 1
        name = f"{base}-{n}"
    return name


def _ep_key(ep: metadata.EntryPoint) -> tuple[str, str]:
    return (ep.dist.name if ep.dist else "", ep.name)


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return ""


def _load(
    manager: pluggy.PluginManager,
    ep: metadata.EntryPoint,
    only: set[str] | None,
    disabled: set[str],
    calls: HookCalls,
) -> PluginReport:
    dist = ep.dist.name if ep.dist else ""
    report = PluginReport(ep.name, dist, ep.dist.version if ep.dist else "")
    if ep.name in disabled:
        report.status = "disabled"
        return report
    if only is not None and ep.name not in only:
        report.status = "not loaded"
        return report
    try:
        plugin = ep.load()
    except BaseException as exc:  # a plugin import may raise anything, even SystemExit
        if isinstance(exc, KeyboardInterrupt):
            raise
        report.fail(exc)
        return report
    registered = _register(manager, plugin, ep.name, calls)
    report.status, report.error = registered.status, registered.error
    return report


def _register(
    manager: pluggy.PluginManager, plugin: object, name: str, calls: HookCalls
) -> PluginReport:
    report = PluginReport(name)
    if isinstance(plugin, str):
        try:
            plugin = importlib.import_module(plugin)
        except Exception as exc:  # noqa: BLE001 - a plugin module may raise anything on import; recorded
            report.fail(exc)
            return report
    if manager.is_blocked(name):
        return report
    try:
        registered = manager.register(guarded_plugin(manager, plugin, name, calls), name=name)
    except PluginError as exc:
        report.fail(exc.problem)
        return report
    except Exception as exc:  # noqa: BLE001 - pluggy's validation error, a duplicate name, or the plugin's own
        report.fail(exc)
        return report
    report.name = registered or report.name
    return report


def _check_pending(manager: pluggy.PluginManager, reports: list[PluginReport]) -> None:
    """Unregister each plugin implementing a hook lifecycle does not know, and say why."""
    while True:
        try:
            manager.check_pending()
            return
        except pluggy.PluginValidationError as exc:
            name = manager.get_name(exc.plugin) or str(exc.plugin)
            manager.unregister(exc.plugin)
            for report in reports:
                if report.name == name:
                    report.fail(f"unknown hook: {exc}")
