"""The hooks a lifecycle plugin can implement (each documented in docs/plugin-hooks.md).

Plugins mark their functions with ``from lifecycle import hookimpl``. lifecycle always calls hooks
with keyword arguments, so a hook can gain arguments in a later version without breaking plugins
(pluggy passes each implementation only the arguments it names).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pluggy

__all__ = [
    "hookimpl",
    "hookspec",
    "lifecycle_event",
    "register_commands",
    "register_playbooks",
    "register_rule_kinds",
]

hookspec = pluggy.HookspecMarker("lifecycle")
hookimpl = pluggy.HookimplMarker("lifecycle")


@hookspec
def register_playbooks() -> Iterable[Any]:
    """Contribute playbooks.

    Fires once, when the playbook catalog is built. Return an iterable of
    :class:`lifecycle.Playbook` objects and/or paths (``str`` or ``os.PathLike``) of TOML playbook
    files or folders of them. An error raised here drops this plugin's playbooks and is shown by
    ``lifecycle plugins``; the other plugins' playbooks stay. The same playbook id from two sources
    is an error naming both.
    """
    # Any: Playbook objects or paths; the catalog checks each item.


@hookspec
def register_rule_kinds() -> Iterable[Any]:
    """Contribute rule kinds that TOML cannot express.

    Fires once, when the rule-kind registry is built. Return an iterable of
    :class:`lifecycle.RuleKind`, each named ``"<plugin>.<name>"``; a playbook uses it as
    ``kind = "<plugin>.<name>"`` with the parameters the kind declares (checked at load).
    ``evaluate`` gets a read-only view of the engagement; when it raises anything (``SystemExit``
    included) or answers other than a bool or a proper Verdict, the trigger or activity it guards
    is blocked with a reason naming the plugin (guards fail closed).
    """
    # Any: RuleKind objects; the registry checks each item.


@hookspec
def register_commands(cli: Any) -> None:
    """Add subcommands to the ``lifecycle`` command line.

    Fires when the CLI starts. *cli* is the top-level :class:`click.Group`; add commands with
    ``@cli.command()``. An error raised here is reported and the other commands keep working.
    """
    # Any: a click.Group; typed loosely so the library does not import click.


@hookspec
def lifecycle_event(engagement: Any, event: dict[str, Any]) -> None:
    """React to an event after it has been durably appended to an engagement's history.

    *engagement* is a read-only view of the :class:`lifecycle.Engagement` after the event;
    *event* is this plugin's own copy of the stored record (``seq``, ``at``, ``actor``, ``type``,
    ``data``, ...). Anything raised here (``SystemExit`` included) is reported as a
    :class:`~lifecycle.exceptions.PluginError` and never undoes or loses the event.
    """
    # Any: the engagement state and a JSON record.
