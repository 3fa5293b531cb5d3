"""lifecycle: run mediation-support engagements under an organization's playbook, and keep a
tamper-evident history of each that an auditor can verify offline.

>>> import lifecycle, tempfile
>>> engine = lifecycle.Engine(tempfile.mkdtemp(),
...                           plugins=lifecycle.make_plugin_manager(load_entrypoints=False))
>>> engine.open("eng-1", "core", actor="a.mensah").engagement.stage
'support-request'
"""

from __future__ import annotations

import importlib as _importlib

# `typing` costs milliseconds; a `lifecycle status` served from its cache imports none of it.
TYPE_CHECKING = False
# The same names, imported when first used (#14: a command pays only for its own).
if TYPE_CHECKING:
    from typing import Any

    from . import exceptions
    from ._audit import Checkpoint, FileReport, audit_file, audit_stream
    from ._conformance import Finding
    from ._decide import Outcome
    from ._engine import Engine, Result
    from ._history import FileHistoryStore, HistoryStore, MemoryHistoryStore
    from ._model import Activity, ChecklistItem, Fact, Playbook, Rule, Stage, Trigger
    from ._playbooks import dump_playbook, load_playbook
    from ._plugins import PluginReport, Plugins, make_plugin_manager
    from ._rules import Param, RuleKind, Verdict
    from ._state import Action, Engagement
    from ._store import FileStore, MemoryStore, PostgresStore, Store, open_store
    from .hookspecs import hookimpl
del TYPE_CHECKING  # not a name of the package

_WHERE = {
    "exceptions": "",
    **dict.fromkeys(("Checkpoint", "FileReport", "audit_file", "audit_stream"), "_audit"),
    "Finding": "_conformance",
    "Outcome": "_decide",
    **dict.fromkeys(("Engine", "Result"), "_engine"),
    **dict.fromkeys(("FileHistoryStore", "HistoryStore", "MemoryHistoryStore"), "_history"),
    **dict.fromkeys(
        ("Activity", "ChecklistItem", "Fact", "Playbook", "Rule", "Stage", "Trigger"), "_model"
    ),
    **dict.fromkeys(("dump_playbook", "load_playbook"), "_playbooks"),
    **dict.fromkeys(("PluginReport", "Plugins", "make_plugin_manager"), "_plugins"),
    **dict.fromkeys(("Param", "RuleKind", "Verdict"), "_rules"),
    **dict.fromkeys(("Action", "Engagement"), "_state"),
    **dict.fromkeys(("FileStore", "MemoryStore", "PostgresStore", "Store", "open_store"), "_store"),
    "hookimpl": "hookspecs",
}


def __getattr__(name: str) -> Any:
    """Import a public name on first use: ``import lifecycle`` costs almost nothing."""
    # Any: whichever public object is asked for.
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module 'lifecycle' has no attribute {name!r}")
    module = _importlib.import_module(f"{__name__}.{where or name}")
    value = module if not where else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])


__all__ = [
    "Action",
    "Activity",
    "ChecklistItem",
    "Checkpoint",
    "Engagement",
    "Engine",
    "Fact",
    "FileHistoryStore",
    "FileReport",
    "FileStore",
    "Finding",
    "HistoryStore",
    "MemoryHistoryStore",
    "MemoryStore",
    "Outcome",
    "Param",
    "Playbook",
    "PluginReport",
    "Plugins",
    "PostgresStore",
    "Result",
    "Rule",
    "RuleKind",
    "Stage",
    "Store",
    "Trigger",
    "Verdict",
    "audit_file",
    "audit_stream",
    "dump_playbook",
    "exceptions",
    "hookimpl",
    "load_playbook",
    "make_plugin_manager",
    "open_store",
]
