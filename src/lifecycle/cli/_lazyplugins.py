"""The CLI's plugins, loaded when a hook needs them (#14).

Loading plugins means pluggy and every installed entry point. A command that runs with plugin
loading switched off (``LIFECYCLE_LOAD_PLUGINS=`` names none) needs neither: the only plugin is
the built-in one, whose rule kinds are known and which listens to no event. Everything else (a
catalog, the plugin reports, plugin commands, trace output) builds the real manager, once.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

import click

if TYPE_CHECKING:
    from .._plugins import Plugins
    from .._rules import RuleKind
    from .._state import Engagement
    from ..exceptions import PluginError

__all__ = ["lazy_plugins"]


class _Lazy:
    """Stands in for :class:`~lifecycle._plugins.Plugins` until a hook needs the real one."""

    def __init__(self) -> None:
        self._real: Plugins | None = None
        self._kinds: dict[str, RuleKind] | None = None

    @property
    def real(self) -> Plugins:
        """The plugin manager, with every entry point loaded (once)."""
        if self._real is None:
            from .._plugins import make_plugin_manager

            trace = _stderr_write if os.environ.get("LIFECYCLE_TRACE_PLUGINS") else None
            self._real = make_plugin_manager(trace=trace)
        return self._real

    def rule_kinds(self) -> dict[str, RuleKind]:
        """Every rule kind: the built-in ones alone when no plugin is to be loaded."""
        if self._real is None and _builtin_only():
            if self._kinds is None:
                from .._rules import CORE_RULE_KINDS

                self._kinds = {kind.name: kind for kind in CORE_RULE_KINDS}
            return self._kinds
        return self.real.rule_kinds()

    def notify(self, engagement: Engagement, event: Mapping[str, Any]) -> list[PluginError]:
        """Tell the plugins of an event: nobody listens when only the built-in one is loaded."""
        # Any: a JSON record.
        if self._real is None and _builtin_only():
            return []
        return self.real.notify(engagement, event)

    def __getattr__(self, name: str) -> Any:
        # Any: whatever the real manager has (catalog, reports, add_commands, ...).
        return getattr(self.real, name)


def _builtin_only() -> bool:
    """Whether no plugin but the built-in one would be loaded, and nothing traces hook calls."""
    only = os.environ.get("LIFECYCLE_LOAD_PLUGINS")
    if only is None or any(name.strip() for name in only.split(",")):
        return False
    disabled = os.environ.get("LIFECYCLE_DISABLE_PLUGINS", "")
    blocked = {name.strip() for name in disabled.split(",")}
    return not os.environ.get("LIFECYCLE_TRACE_PLUGINS") and "lifecycle._builtin" not in blocked


def lazy_plugins() -> Plugins:
    """Plugins that load when a hook first needs them."""
    return cast("Plugins", _Lazy())


def _stderr_write(text: str) -> None:
    click.echo(text, err=True, nl=False)
