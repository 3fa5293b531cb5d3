"""Built-in behaviour, registered as a default plugin through the same hooks outside plugins use."""

from __future__ import annotations

from collections.abc import Iterable

from ._playbooks import shipped_playbooks_dir
from ._rules import CORE_RULE_KINDS, RuleKind
from .hookspecs import hookimpl

__all__ = ["register_playbooks", "register_rule_kinds"]


@hookimpl(trylast=True)
def register_playbooks() -> Iterable[object]:
    """The shipped TOML playbooks: ``core`` and the organizations'."""
    return [shipped_playbooks_dir()]


@hookimpl(trylast=True)
def register_rule_kinds() -> Iterable[RuleKind]:
    """The core rule vocabulary (docs/playbook-schema.md)."""
    return CORE_RULE_KINDS
