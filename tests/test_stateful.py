"""A stateful model of a history file: append, reopen, crash-truncate, repair, verify."""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from lifecycle import Engine, FileHistoryStore, audit_file, make_plugin_manager
from lifecycle._history import read_lines
from lifecycle._repair import repair_file
from lifecycle.exceptions import ConcurrencyConflict, HistoryError, TornTailError

ENG = "model"
PLUGINS = make_plugin_manager(load_entrypoints=False, environ={})
_TEMPLATE: list[bytes] = []


def opened_template() -> bytes:
    """The bytes of a freshly opened engagement (made once by the engine, then copied)."""
    if not _TEMPLATE:
        folder = Path(tempfile.mkdtemp(prefix="stateful-template-"))
        try:
            engine = Engine(
                folder, plugins=PLUGINS, clock=lambda: dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
            )
            engine.open(ENG, "core", actor="officer", title="Model")
            _TEMPLATE.append(engine.workspace.path_of(ENG).read_bytes())
        finally:
            shutil.rmtree(folder)
    return _TEMPLATE[0]


def without_hash(record: dict) -> dict:
    """*record* minus its ``hash`` member."""
    return {k: v for k, v in record.items() if k != "hash"}


class HistoryMachine(RuleBasedStateMachine):
    """The model is the list of acknowledged events; the file must always verify to exactly that
    (after repair, when a crash tore it)."""

    def __init__(self) -> None:
        super().__init__()
        self.folder = Path(tempfile.mkdtemp(prefix="stateful-"))
        self.path = self.folder / f"{ENG}.history.jsonl"
        self.path.write_bytes(opened_template())
        self.store = FileHistoryStore(self.path)
        self.engine = Engine(self.folder, plugins=PLUGINS, clock=self.now)
        self.clock = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
        self.acknowledged = [without_hash(r) for r in self.store.read()]
        self.torn = False

    def now(self) -> dt.datetime:
        self.clock += dt.timedelta(seconds=1)
        return self.clock

    def at(self) -> str:
        return self.now().strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def teardown(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    @rule(text=st.text(min_size=1, max_size=30).filter(str.strip), with_expected=st.booleans())
    def append_through_store(self, text: str, with_expected: bool) -> None:
        """Append a note through a store session (optionally with the right expected seq)."""
        fields = {
            "at": self.at(),
            "actor": "model",
            "type": "note_added",
            "v": 1,
            "data": {"text": text},
        }
        expected = len(self.acknowledged) if with_expected else None
        if self.torn:
            with pytest.raises(TornTailError):
                with self.store.session() as session:
                    session.append(fields, expected_seq=expected)
            return
        with self.store.session() as session:
            stored = session.append(fields, expected_seq=expected)
        assert stored["seq"] == len(self.acknowledged) + 1
        self.acknowledged.append(without_hash(stored))

    @rule(text=st.text(min_size=1, max_size=30).filter(str.strip))
    def append_through_engine(self, text: str) -> None:
        """Append a note through the Engine."""
        if self.torn:
            with pytest.raises(TornTailError):
                self.engine.note(ENG, text, actor="model")
            return
        event = self.engine.note(ENG, text, actor="model").event
        assert event["data"] == {"text": text}
        self.acknowledged.append(without_hash(event))

    @precondition(lambda self: not self.torn and len(self.acknowledged) > 1)
    @rule(stale=st.integers(min_value=0, max_value=5))
    def stale_append(self, stale: int) -> None:
        """An append expecting an older head conflicts and changes nothing."""
        before = self.path.read_bytes()
        fields = {
            "at": self.at(),
            "actor": "model",
            "type": "note_added",
            "v": 1,
            "data": {"text": "stale"},
        }
        with pytest.raises(ConcurrencyConflict):
            with self.store.session() as session:
                session.append(fields, expected_seq=len(self.acknowledged) - 1 - stale)
        assert self.path.read_bytes() == before

    @rule()
    def reopen(self) -> None:
        """A new store and engine on the same file see the same thing."""
        self.store = FileHistoryStore(self.path)
        self.engine = Engine(self.folder, plugins=PLUGINS, clock=self.now)

    @precondition(lambda self: not self.torn and len(self.acknowledged) > 1)
    @rule(where=st.floats(min_value=0, max_value=1, exclude_max=True))
    def crash_truncate(self, where: float) -> None:
        """A crash tore the last append: cut the file inside its last line; that append was never acknowledged."""
        data = self.path.read_bytes()
        start = data.rfind(b"\n", 0, len(data) - 1) + 1
        cut = start + 1 + int(where * (len(data) - start - 1))
        assert start < cut < len(data)
        self.path.write_bytes(data[:cut])
        self.acknowledged.pop()
        self.torn = True

    @rule()
    def repair(self) -> None:
        """Repair cuts a torn tail and records it; on a sound file it refuses and changes nothing."""
        before = self.path.read_bytes()
        if not self.torn:
            with pytest.raises(HistoryError, match="nothing to repair"):
                repair_file(self.path, actor="model", now=self.now())
            assert self.path.read_bytes() == before
            return
        record = repair_file(self.path, actor="model", now=self.now())
        assert record["seq"] == len(self.acknowledged) + 1
        self.acknowledged.append(record)
        self.torn = False

    @rule()
    def verify(self) -> None:
        """The audit agrees: clean, or exactly one torn-tail finding while torn."""
        report = audit_file(self.path, kinds=PLUGINS.rule_kinds(), today=dt.date(2026, 1, 5))
        codes = [f.code for f in report.findings]
        assert codes == (["torn-tail"] if self.torn else []), report.findings
        assert report.events == len(self.acknowledged)

    @invariant()
    def verified_prefix_is_the_model(self) -> None:
        """The verified prefix of the file equals the acknowledged events."""
        data = self.path.read_bytes()
        if self.torn:
            with pytest.raises(TornTailError):
                self.store.read()
            records = read_lines(str(self.path), data[: data.rfind(b"\n") + 1])[0]
        else:
            records = self.store.read()
        assert [without_hash(r) for r in records] == self.acknowledged
        assert [r["seq"] for r in records] == list(range(1, len(records) + 1))


HistoryMachine.TestCase.settings = settings(
    max_examples=100,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestHistoryMachine = HistoryMachine.TestCase
