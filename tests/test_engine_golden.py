"""The engine writes exactly the bytes it wrote when tests/golden/engine-run.history.jsonl was made
(tests/golden/make_engine_run.py: every decision and event kind, under a fixed clock): a change
meant to make the engine faster must not change a single recorded decision."""

from __future__ import annotations

import datetime as dt
import importlib.util
from pathlib import Path
from types import ModuleType

from lifecycle import audit_file

from conftest import GOLDEN

PATH = GOLDEN / "engine-run.history.jsonl"


def _maker() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_engine_run", GOLDEN / "make_engine_run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_same_commands_write_the_same_lines(tmp_path: Path) -> None:
    """Running the golden's commands again writes its lines byte for byte, in order."""
    written = _maker().write(tmp_path).split(b"\n")
    golden = PATH.read_bytes().split(b"\n")
    for number, (line, expected) in enumerate(zip(written, golden, strict=False), start=1):
        assert line == expected, f"line {number} differs"
    assert len(written) == len(golden)


def test_the_golden_run_audits_clean(plugins) -> None:
    """The pinned run is one the audit accepts whole: no finding, closed, its three overrides listed."""
    report = audit_file(PATH, kinds=plugins.rule_kinds(), today=dt.date(2026, 4, 1))
    assert report.findings == []
    assert report.stage == "closed"
    assert [o["seq"] for o in report.overrides] == [20, 36, 62]


def test_the_index_kept_up_by_moves_is_the_index_of_the_logs() -> None:
    """The state index a replay keeps up as it moves equals one built afresh from its logs."""
    from lifecycle import FileHistoryStore
    from lifecycle._replay import replay
    from lifecycle._stateindex import StateIndex

    engagement = replay(FileHistoryStore(PATH).read())
    kept = engagement.indexed()
    fresh = StateIndex().current(engagement.entries, engagement.activities, engagement.fired)
    logs = (engagement.entries, engagement.activities, engagement.fired)
    assert kept is not fresh and kept.known == fresh.known == tuple(len(log) for log in logs)
    for name in ("occurred", "last_entry", "counts", "counts_at", "last_stage", "came"):
        assert getattr(kept, name) == getattr(fresh, name), name
