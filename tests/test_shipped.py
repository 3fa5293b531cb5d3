"""An embedded playbook that claims a shipped id@version must be the one lifecycle shipped."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pytest

from lifecycle import Engine, audit_file
from lifecycle._catalog import Catalog
from lifecycle._playbooks import canonical_json, shipped_playbooks_dir
from lifecycle._plugins import Plugins
from lifecycle._shipped import SHIPPED
from test_tamper import rechain, split

from conftest import drive_core

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = sorted((ROOT / "tests" / "golden").glob("*.history.jsonl"))


def test_every_shipped_playbook_is_in_the_table() -> None:
    """Each playbook lifecycle ships resolves to a digest the table knows (regenerate it with
    tools/shipped_digests.py after changing a playbook)."""
    catalog = Catalog.from_paths([shipped_playbooks_dir()])
    missing = []
    for playbook_id in catalog.ids():
        resolved = catalog.resolve(playbook_id)
        name = f"{resolved.playbook.id}@{resolved.playbook.version}"
        if resolved.sha256 not in SHIPPED.get(name, frozenset()):
            missing.append(name)
    assert missing == [], f"run .venv/bin/python tools/shipped_digests.py: {missing}"


@pytest.mark.parametrize("path", GOLDEN, ids=[p.name for p in GOLDEN])
def test_golden_playbooks_are_shipped_ones(path: Path, plugins: Plugins) -> None:
    """The golden histories, written by earlier versions, embed playbooks the table knows."""
    report = audit_file(path, kinds=plugins.rule_kinds(), today=dt.date(2026, 12, 1))
    assert not [f for f in report.findings if f.code == "shipped-playbook-mismatch"]


def _drop_rules(record: dict) -> None:
    """Empty the embedded playbook's rules and recompute its sha256, as a forger would."""
    playbook = record["data"]["playbook"]
    playbook["rules"] = []
    record["data"]["playbook_sha256"] = hashlib.sha256(canonical_json(playbook)).hexdigest()


def _rename(record: dict) -> None:
    """The same rewrite under a name lifecycle never shipped."""
    _drop_rules(record)
    playbook = record["data"]["playbook"]
    playbook["id"] = "office-core"
    record["data"]["playbook_sha256"] = hashlib.sha256(canonical_json(playbook)).hexdigest()


def test_rewritten_shipped_playbook_is_an_error(engine: Engine, tmp_path: Path) -> None:
    """A core history whose embedded core lost its rules, digest recomputed and chain re-made,
    is `shipped-playbook-mismatch` at the opening event; the untouched history is clean of it."""
    drive_core(engine, "eng-1", until="end-support")
    path = engine.workspace.path_of("eng-1")
    clean = audit_file(path, kinds=engine.rule_kinds, today=engine.today())
    assert not [f for f in clean.findings if f.severity == "error"]
    forged = tmp_path / "eng-1.history.jsonl"
    forged.write_bytes(b"".join(rechain(split(path.read_bytes()), 1, _drop_rules)))
    report = audit_file(forged, kinds=engine.rule_kinds, today=engine.today())
    found = [(f.code, f.seq) for f in report.findings if f.severity == "error"]
    assert ("shipped-playbook-mismatch", 1) in found


def test_an_office_playbook_is_not_judged_by_the_table(engine: Engine, tmp_path: Path) -> None:
    """The same rewrite under a name lifecycle never shipped is no `shipped-playbook-mismatch`
    (`audit --published` judges an office's own playbooks)."""
    drive_core(engine, "eng-1", until="end-support")
    path = engine.workspace.path_of("eng-1")
    forged = tmp_path / "eng-1.history.jsonl"
    forged.write_bytes(b"".join(rechain(split(path.read_bytes()), 1, _rename)))
    report = audit_file(forged, kinds=engine.rule_kinds, today=engine.today())
    assert not [f for f in report.findings if f.code == "shipped-playbook-mismatch"]
