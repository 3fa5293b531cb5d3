"""Snapshots: a cache of replayed state, used only while its anchor line holds, never by the audit."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lifecycle import Engagement, Engine, FileHistoryStore, audit_file, make_plugin_manager
from lifecycle._repair import repair_file
from lifecycle._replay import replay
from lifecycle._snapshot import load_snapshot, snapshot_path
from lifecycle.exceptions import CorruptHistoryError, HistoryError, TornTailError

from conftest import drive_core

EVENTS = 125
FIELDS = ("stage", "facts", "done", "seq", "head", "entries", "activities")
TODAY = dt.date(2030, 1, 1)


def _fresh(workspace: Path) -> Engine:
    return Engine(workspace, plugins=make_plugin_manager(load_entrypoints=False, environ={}))


def _replayed(path: Path) -> Engagement:
    return replay(FileHistoryStore(path).read())


def _edit_snapshot(path: Path, change: Callable[[dict[str, Any]], object]) -> None:
    snap = snapshot_path(path)
    data = json.loads(snap.read_bytes())
    change(data)
    snap.write_text(json.dumps(data), encoding="utf-8")


def _mark(data: dict[str, Any]) -> None:
    """Plant a fact only the snapshot knows (it shows whether the snapshot was used)."""
    data["state"]["facts"]["envoy"] = "From the snapshot"


def _notes(engine: Engine, upto: int, text: str = "note") -> None:
    """Add notes until the history has *upto* events."""
    while engine.engagement("eng-1").seq < upto:
        engine.note("eng-1", f"{text} {engine.engagement('eng-1').seq}", actor="officer")


@pytest.fixture
def history(engine: Engine, workspace: Path) -> Path:
    """eng-1 in active support with facts, ticks and activities, 125 events, snapshot on disk."""
    drive_core(engine, until="end-support")
    engine.record("eng-1", "gender-inclusion-briefing", actor="officer", note="With the adviser")
    engine.record("eng-1", "peer-coaching", actor="officer")
    _notes(engine, EVENTS)
    path = engine.workspace.path_of("eng-1")
    # The long-lived engine snapshotted at event 100; a fresh engine with none takes one at the head.
    snapshot_path(path).unlink()
    _fresh(workspace).engagement("eng-1")
    assert snapshot_path(path).is_file()
    return path


def _anchor_seq(path: Path) -> int | None:
    loaded = load_snapshot(path)
    return loaded[1].seq if loaded else None


def _audit(path: Path, engine: Engine) -> dict[str, Any]:
    return audit_file(path, kinds=engine.rule_kinds, today=TODAY).as_json()


class TestWriting:
    def test_long_lived_engine_writes_a_snapshot(self, engine: Engine):
        """An engine that appends 120+ notes itself leaves a snapshot under .lifecycle/."""
        engine.open("eng-1", "core", actor="officer")
        _notes(engine, 125)
        path = engine.workspace.path_of("eng-1")
        assert snapshot_path(path) == path.parent / ".lifecycle" / "eng-1.snapshot.json"
        assert (_anchor_seq(path) or 0) >= 100

    def test_snapshot_state_equals_full_replay(self, history: Path):
        """The snapshot's state is exactly what a full replay of the file gives."""
        loaded = load_snapshot(history)
        assert loaded is not None
        snap, anchor = loaded
        full = _replayed(history)
        assert [getattr(snap, f) for f in FIELDS] == [getattr(full, f) for f in FIELDS]
        assert snap == full and anchor.seq == full.seq == EVENTS and anchor.head == full.head
        assert snap.facts["envoy"] == "Amb. X" and len(snap.activities) == 2

    def test_written_at_100_and_every_100_after(self, engine: Engine, workspace: Path):
        """No snapshot below 100 events; one at 100; refreshed only once it is 100 behind."""
        engine.open("eng-1", "core", actor="officer")
        _notes(engine, 99)
        path = engine.workspace.path_of("eng-1")
        _fresh(workspace).engagement("eng-1")
        assert not snapshot_path(path).exists()
        _fresh(workspace).note("eng-1", "the hundredth", actor="officer")
        assert _anchor_seq(path) == 100
        _notes(engine, 199)
        _fresh(workspace).engagement("eng-1")
        assert _anchor_seq(path) == 100
        _fresh(workspace).note("eng-1", "the two hundredth", actor="officer")
        assert _anchor_seq(path) == 200


class TestContinuing:
    def test_fresh_engine_equals_full_replay(self, history: Path, workspace: Path):
        """A new engine's engagement() and status() equal those of a full replay."""
        fresh = _fresh(workspace)
        full = _replayed(history)
        assert fresh.engagement("eng-1") == full
        assert fresh.status("eng-1", actor="head") == fresh.status_of_engagement(full, actor="head")

    def test_intact_anchor_continues_from_snapshot(self, history: Path, workspace: Path):
        """While the anchor line holds, a new engine starts from the snapshot's state."""
        _edit_snapshot(history, _mark)
        assert _fresh(workspace).engagement("eng-1").facts["envoy"] == "From the snapshot"

    def test_appends_after_snapshot(self, history: Path, workspace: Path, engine: Engine):
        """Commands of a new engine continue the chain; the file audits clean and replays the same."""
        fresh = _fresh(workspace)
        fresh.check("eng-1", "support-plan", actor="officer")
        result = fresh.advance("eng-1", "end-support", actor="officer")
        assert result.event["seq"] == EVENTS + 2 and result.engagement.stage == "debriefing"
        assert _fresh(workspace).engagement("eng-1") == _replayed(history)
        assert _audit(history, engine)["ok"] is True


def _torn_anchor(path: Path) -> None:
    """Cut the file in the middle of the snapshot's anchor line."""
    loaded = load_snapshot(path)
    assert loaded is not None
    os.truncate(path, loaded[1].start + 10)


def _repair_torn_anchor(path: Path, tmp_path: Path) -> None:
    _torn_anchor(path)
    repair_file(path, actor="officer", now=dt.datetime.now(dt.UTC))


def _replace_by_other(path: Path, tmp_path: Path) -> None:
    other = _fresh(tmp_path / "other")
    other.open("eng-1", "core", actor="head", title="Another engagement")
    _notes(other, 111, "other")
    shutil.copyfile(other.workspace.path_of("eng-1"), path)


def _truncate_before_anchor(path: Path, tmp_path: Path) -> None:
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:60]))


STALE = [
    pytest.param(_repair_torn_anchor, id="repaired-torn-anchor"),
    pytest.param(_replace_by_other, id="replaced-same-id"),
    pytest.param(_truncate_before_anchor, id="truncated-before-anchor"),
]


class TestStaleAnchor:
    @pytest.mark.parametrize("change", STALE)
    def test_ignored_state_is_full_replay(self, history, workspace, tmp_path, engine, change):
        """A snapshot whose anchor no longer holds is ignored, for reading and for appending."""
        _edit_snapshot(history, _mark)
        change(history, tmp_path)
        full = _replayed(history)
        assert _fresh(workspace).engagement("eng-1") == full
        assert full.facts.get("envoy") != "From the snapshot"
        appended = _fresh(workspace).note("eng-1", "after the change", actor="officer")
        assert appended.event["seq"] == full.seq + 1
        assert appended.engagement == _replayed(history)
        assert _audit(history, engine)["ok"] is True

    def test_stale_snapshot_is_rewritten(self, history: Path, workspace: Path, tmp_path: Path):
        """After a replaced history of 100+ events is read, the snapshot on disk matches it."""
        _replace_by_other(history, tmp_path)
        _fresh(workspace).engagement("eng-1")
        loaded = load_snapshot(history)
        assert loaded is not None and loaded[0] == _replayed(history)


def _alter_anchor(path: Path) -> None:
    data = path.read_bytes()
    text = f'"text":"note {EVENTS - 1}"'.encode()
    assert data.count(text) == 1
    path.write_bytes(data.replace(text, text.upper()))


def _alter_after_anchor(path: Path) -> None:
    _fresh(path.parent).note("eng-1", "later note", actor="officer")
    data = path.read_bytes()
    path.write_bytes(data.replace(b"later note", b"LATER NOTE"))


def _torn_tail(path: Path) -> None:
    with path.open("ab") as out:
        out.write(b'{"seq":126,"at"')


DAMAGE = [
    pytest.param(_torn_anchor, TornTailError, id="torn-anchor-line"),
    pytest.param(_alter_anchor, CorruptHistoryError, id="anchor-line-altered"),
    pytest.param(_alter_after_anchor, CorruptHistoryError, id="line-after-anchor-altered"),
    pytest.param(_torn_tail, TornTailError, id="torn-tail-after-anchor"),
    pytest.param(lambda p: p.write_bytes(b""), CorruptHistoryError, id="emptied"),
]


class TestDamageNotMasked:
    @pytest.mark.parametrize(("damage", "error"), DAMAGE)
    def test_damage_raises_usual_error(self, history, workspace, damage, error):
        """Damage at or after the anchor raises the same HistoryError with or without a snapshot."""
        damage(history)
        assert issubclass(error, HistoryError)
        with pytest.raises(error):
            _fresh(workspace).engagement("eng-1")
        with pytest.raises(error):
            _fresh(workspace).note("eng-1", "one more", actor="officer")
        snapshot_path(history).unlink()
        with pytest.raises(error):
            _fresh(workspace).engagement("eng-1")


def _set(*keys: Any, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        for key in keys[:-1]:
            data = data[key]
        data[keys[-1]] = value

    return change


CORRUPT: list[Any] = [
    pytest.param(b"\x00\xffnot json at all", id="garbage-bytes"),
    pytest.param(b"", id="empty"),
    pytest.param(b"[1, 2, 3]", id="json-array"),
    pytest.param(lambda d: d.pop("state"), id="no-state"),
    pytest.param(_set("format", value="other-cache"), id="wrong-format"),
    pytest.param(_set("version", value=2), id="wrong-version"),
    pytest.param(_set("state", "playbook", "title", value="Edited"), id="playbook-sha-mismatch"),
    pytest.param(_set("state", "playbook_sha256", value="0" * 64), id="sha-field-mismatch"),
    pytest.param(_set("state", "seq", value=3), id="seq-not-anchor"),
    pytest.param(_set("state", "playbook", value={"id": 5}), id="playbook-not-a-playbook"),
    pytest.param(lambda d: d["anchor"].__setitem__(2, "x"), id="anchor-offset-not-int"),
    pytest.param(lambda d: d["anchor"].__setitem__(2, -5), id="anchor-offset-negative"),
]


class TestCorruptSnapshot:
    @pytest.mark.parametrize("corrupt", CORRUPT)
    def test_ignored_and_rewritten(self, history: Path, workspace: Path, corrupt):
        """A corrupt or foreign snapshot is ignored (never an error) and rewritten."""
        if isinstance(corrupt, bytes):
            snapshot_path(history).write_bytes(corrupt)
        else:
            _edit_snapshot(history, corrupt)
        full = _replayed(history)
        assert _fresh(workspace).engagement("eng-1") == full
        loaded = load_snapshot(history)
        assert loaded is not None and loaded[0] == full
        assert _fresh(workspace).note("eng-1", "still works", actor="officer").event["seq"] == (
            EVENTS + 1
        )

    def test_cli_status_with_garbage_snapshot(self, history: Path, cli):
        """`lifecycle status` works over a garbage snapshot."""
        snapshot_path(history).write_bytes(b"\x89PNG garbage")
        code, out, err = cli("status", "eng-1", "--json")
        assert (code, err) == (0, "") and json.loads(out)["events"] == EVENTS


@pytest.fixture(params=["unwritable-folder", "snapshot-name-is-a-folder"])
def blocked(request: pytest.FixtureRequest, workspace: Path) -> None:
    """Make snapshot writing fail: a read-only .lifecycle (a regular file instead when running
    as root, which ignores permissions), or a folder in place of the snapshot file."""
    folder = workspace / ".lifecycle"
    if request.param == "snapshot-name-is-a-folder":
        (folder / "eng-1.snapshot.json").mkdir(parents=True)
        return
    folder.mkdir(mode=0o555)
    if os.access(folder, os.W_OK):
        folder.rmdir()
        folder.write_text("not a folder", encoding="utf-8")


@pytest.mark.usefixtures("blocked")
class TestUnwritable:
    def test_commands_work_without_cache(self, engine: Engine, workspace: Path, cli):
        """When snapshots cannot be written, commands still succeed and the history is whole."""
        engine.open("eng-1", "core", actor="officer")
        _notes(engine, 99)
        for n in range(3):
            assert cli("note", "eng-1", f"crossing {n}")[0] == 0
        code, out, _ = cli("status", "eng-1", "--json")
        assert code == 0 and json.loads(out)["events"] == 102
        path = engine.workspace.path_of("eng-1")
        assert load_snapshot(path) is None
        assert _fresh(workspace).engagement("eng-1") == _replayed(path)
        assert _audit(path, engine)["ok"] is True
        if (workspace / ".lifecycle").is_dir():
            assert not list((workspace / ".lifecycle").glob(".tmp-*"))


TAMPER = [
    pytest.param(_mark, id="state-edited"),
    pytest.param(_set("state", "stage", value="closed"), id="stage-closed"),
    pytest.param(None, id="deleted"),
]


class TestAuditIgnoresSnapshots:
    @pytest.mark.parametrize("tamper", TAMPER)
    def test_audit_report_unchanged(self, history: Path, engine: Engine, tamper):
        """Tampering with or deleting the snapshot changes nothing in audit_file's report."""
        before = _audit(history, engine)
        if tamper is None:
            snapshot_path(history).unlink()
        else:
            _edit_snapshot(history, tamper)
        assert _audit(history, engine) == before
        assert before["ok"] is True and before["stage"] == "active-support"
