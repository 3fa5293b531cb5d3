"""lifecycle: run mediation-support engagements under an organization's playbook, and keep a
tamper-evident history of each that an auditor can verify offline.

>>> import lifecycle, tempfile
>>> engine = lifecycle.Engine(tempfile.mkdtemp(),
...                           plugins=lifecycle.make_plugin_manager(load_entrypoints=False))
>>> engine.open("eng-1", "core", actor="a.mensah").engagement.stage
'support-request'
"""

from __future__ import annotations

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
