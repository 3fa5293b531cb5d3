"""History stores (file and memory) and repair of a torn tail."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest

from lifecycle import Engine, FileHistoryStore, MemoryHistoryStore, audit_file
from lifecycle._lines import decode_line, encode_line
from lifecycle._repair import repair_file
from lifecycle.exceptions import (
    ConcurrencyConflict,
    CorruptHistoryError,
    EngagementExistsError,
    HistoryError,
    TornTailError,
)

CREATED = "2026-01-05T09:00:00.000000Z"
NOW = dt.datetime(2026, 1, 6, 9, 0, tzinfo=dt.UTC)


def first_event() -> dict:
    """A first event's fields (seq and prev are the store's)."""
    return {
        "at": CREATED,
        "actor": "officer",
        "type": "opened",
        "v": 1,
        "data": {"engagement": "e"},
    }


def note(i: int) -> dict:
    """A note event's fields."""
    return {
        "at": f"2026-01-05T09:00:{i:02d}.000000Z",
        "actor": "officer",
        "type": "note_added",
        "v": 1,
        "data": {"text": f"note {i}"},
    }


def make_store(kind: str, tmp_path: Path):
    """A fresh, not yet created store of *kind* ('file' or 'memory')."""
    return (
        FileHistoryStore(tmp_path / "e.history.jsonl") if kind == "file" else MemoryHistoryStore()
    )


def raw(store) -> bytes:
    """The bytes a store holds."""
    return store.path.read_bytes() if isinstance(store, FileHistoryStore) else bytes(store.data)


def set_raw(store, data: bytes) -> None:
    """Replace the bytes a store holds."""
    if isinstance(store, FileHistoryStore):
        store.path.write_bytes(data)
    else:
        store.data[:] = data


STORES = pytest.mark.parametrize("kind", ["file", "memory"])


class TestStores:
    @STORES
    def test_create_writes_header_and_first_event(self, kind: str, tmp_path: Path) -> None:
        """Creating writes exactly the header line and event 1, chained to the header's hash."""
        store = make_store(kind, tmp_path)
        assert not store.exists()
        record = store.create("e", CREATED, first_event())
        assert store.exists()
        lines = raw(store).split(b"\n")
        assert len(lines) == 3 and lines[2] == b""
        header, header_hash = decode_line(lines[0])
        assert header == {
            "format": "lifecycle-history",
            "version": 1,
            "engagement": "e",
            "created": CREATED,
        }
        assert list(json.loads(lines[0])) == ["format", "version", "engagement", "created", "hash"]
        event, digest = decode_line(lines[1])
        assert event["seq"] == 1 and event["prev"] == header_hash
        assert record == {**event, "hash": digest}
        assert list(json.loads(lines[1]))[:6] == ["seq", "at", "actor", "type", "v", "data"]

    @STORES
    def test_create_refuses_an_existing_history(self, kind: str, tmp_path: Path) -> None:
        """A second create raises EngagementExistsError and leaves the bytes alone."""
        store = make_store(kind, tmp_path)
        store.create("e", CREATED, first_event())
        before = raw(store)
        with pytest.raises(EngagementExistsError):
            store.create("e", CREATED, first_event())
        assert raw(store) == before

    @STORES
    def test_appends_are_gapless_and_chained(self, kind: str, tmp_path: Path) -> None:
        """Appended events get seq 2, 3, ... and each prev is the previous line's hash."""
        store = make_store(kind, tmp_path)
        store.create("e", CREATED, first_event())
        for i in range(5):
            with store.session() as session:
                stored = session.append(note(i))
                assert stored["seq"] == i + 2 and session.head_seq == i + 2
                assert session.head_hash == stored["hash"]
        lines = raw(store).split(b"\n")[:-1]
        decoded = [decode_line(line) for line in lines]
        for number, ((record, _), (_, prev_hash)) in enumerate(
            zip(decoded[1:], decoded, strict=False), 1
        ):
            assert record["seq"] == number
            assert record["prev"] == prev_hash

    @STORES
    def test_session_reads_back_what_was_appended(self, kind: str, tmp_path: Path) -> None:
        """A new session sees every appended record, hashes included, and the head it ends on."""
        store = make_store(kind, tmp_path)
        store.create("e", CREATED, first_event())
        appended = []
        with store.session() as session:
            appended = [session.append(note(i)) for i in range(3)]
        with store.session() as session:
            assert session.records[1:] == appended
            assert session.head_seq == 4 and session.head_hash == appended[-1]["hash"]
        if kind == "file":
            assert store.read()[1:] == appended

    def test_file_and_memory_stores_write_the_same_bytes(self, tmp_path: Path) -> None:
        """The memory store holds byte for byte what the file store writes."""
        stores = [make_store("file", tmp_path), make_store("memory", tmp_path)]
        for store in stores:
            store.create("e", CREATED, first_event())
            with store.session() as session:
                for i in range(3):
                    session.append(note(i))
        assert raw(stores[0]) == raw(stores[1])

    @STORES
    def test_torn_tail_refuses_append_naming_repair(self, kind: str, tmp_path: Path) -> None:
        """With a torn last line, opening a session raises TornTailError naming `lifecycle repair`."""
        store = make_store(kind, tmp_path)
        store.create("e", CREATED, first_event())
        set_raw(store, raw(store) + encode_line(note(1))[:20])
        before = raw(store)
        with pytest.raises(TornTailError, match="lifecycle repair"):
            with store.session() as session:
                session.append(note(2))
        assert raw(store) == before

    def test_torn_tail_refuses_read(self, tmp_path: Path) -> None:
        """Reading a torn file raises TornTailError too."""
        store = make_store("file", tmp_path)
        store.create("e", CREATED, first_event())
        store.path.write_bytes(store.path.read_bytes()[:-1])
        with pytest.raises(TornTailError):
            store.read()

    @STORES
    def test_expected_seq_mismatch_conflicts_and_writes_nothing(
        self, kind: str, tmp_path: Path
    ) -> None:
        """An append expecting a stale head seq raises ConcurrencyConflict and writes nothing."""
        store = make_store(kind, tmp_path)
        store.create("e", CREATED, first_event())
        with store.session() as session:
            session.append(note(1), expected_seq=1)
        before = raw(store)
        with store.session() as session:
            with pytest.raises(ConcurrencyConflict) as info:
                session.append(note(2), expected_seq=1)
            assert session.head_seq == 2 and len(session.records) == 2
        assert (info.value.expected, info.value.actual) == (1, 2)
        assert raw(store) == before

    @STORES
    def test_flipped_byte_is_corrupt(self, kind: str, tmp_path: Path) -> None:
        """A changed byte in a middle line makes the strict reader raise CorruptHistoryError naming it."""
        store = make_store(kind, tmp_path)
        store.create("e", CREATED, first_event())
        with store.session() as session:
            for i in range(3):
                session.append(note(i))
        data = bytearray(raw(store))
        data[data.index(b"note 1")] = ord("N")
        set_raw(store, bytes(data))
        with pytest.raises(CorruptHistoryError) as info:
            with store.session():
                pass
        assert info.value.seq == 3


def open_engagement(engine: Engine, notes: int = 3) -> Path:
    """Open eng-1 under core with a few notes; return its file."""
    engine.open("eng-1", "core", actor="officer", title="Repair test")
    for i in range(notes):
        engine.note("eng-1", f"note {i}", actor="officer")
    return engine.workspace.path_of("eng-1")


class TestRepair:
    def test_cuts_torn_tail_saves_it_and_records_repair(self, engine: Engine) -> None:
        """Repair cuts the torn bytes, saves them beside the file, appends `repaired`; the file audits clean."""
        path = open_engagement(engine)
        whole = path.read_bytes()
        torn = b'{"seq":5,"at":"2026-01-0'
        path.write_bytes(whole + torn)
        record = repair_file(path, actor="officer", now=NOW)
        saved = path.parent / record["data"]["saved_to"]
        assert saved.name.startswith(f"{path.name}.torn-")
        assert saved.read_bytes() == torn
        assert record["type"] == "repaired" and record["seq"] == 5
        assert record["data"]["cut_bytes"] == len(torn)
        assert record["data"]["sha256"] == hashlib.sha256(torn).hexdigest()
        data = path.read_bytes()
        assert data.startswith(whole) and data.count(b"\n") == whole.count(b"\n") + 1
        records = FileHistoryStore(path).read()
        assert [r["seq"] for r in records] == [1, 2, 3, 4, 5]
        assert {k: v for k, v in records[-1].items() if k != "hash"} == record
        report = audit_file(path, kinds=engine.rule_kinds, today=engine.today())
        assert report.ok, report.findings
        engine.note("eng-1", "after repair", actor="officer")
        assert engine.history("eng-1")[-1]["seq"] == 6

    def test_refuses_when_a_middle_line_is_damaged(self, engine: Engine) -> None:
        """A flipped byte in a middle line plus a torn tail is refused, and nothing is touched."""
        path = open_engagement(engine)
        data = bytearray(path.read_bytes())
        data[data.index(b"note 1")] ^= 0x20
        data += b'{"seq":5'
        path.write_bytes(bytes(data))
        with pytest.raises(HistoryError, match="not only a torn tail"):
            repair_file(path, actor="officer", now=NOW)
        assert path.read_bytes() == bytes(data)
        assert not list(path.parent.glob("*.torn-*"))

    def test_refuses_when_nothing_is_torn(self, engine: Engine) -> None:
        """A complete file is refused ('nothing to repair') and left byte for byte as it was."""
        path = open_engagement(engine)
        before = path.read_bytes()
        with pytest.raises(HistoryError, match="nothing to repair"):
            repair_file(path, actor="officer", now=NOW)
        assert path.read_bytes() == before
        assert not list(path.parent.glob("*.torn-*"))

    def test_refuses_a_torn_header(self, tmp_path: Path) -> None:
        """A file torn inside its header has no verified prefix, so repair refuses it."""
        path = tmp_path / "e.history.jsonl"
        path.write_bytes(b'{"format":"lifecycle-his')
        with pytest.raises(HistoryError):
            repair_file(path, actor="officer", now=NOW)
        assert path.read_bytes() == b'{"format":"lifecycle-his'

    def test_repair_at_never_goes_backwards(self, engine: Engine) -> None:
        """With a clock behind the history, the repaired event's `at` is the last event's, not earlier."""
        path = open_engagement(engine)
        last_at = FileHistoryStore(path).read()[-1]["at"]
        path.write_bytes(path.read_bytes() + b"{")
        record = repair_file(path, actor="officer", now=dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
        assert record["at"] == last_at

    def test_two_repairs_with_a_clock_behind_the_history(self, engine: Engine) -> None:
        """Two crashes repaired while the clock is behind the history both succeed and keep both torn files."""
        path = open_engagement(engine)
        behind = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
        path.write_bytes(path.read_bytes() + b'{"first')
        first = repair_file(path, actor="officer", now=behind)
        path.write_bytes(path.read_bytes() + b'{"second')
        second = repair_file(path, actor="officer", now=behind)
        assert second["seq"] == first["seq"] + 1
        saved = sorted(p.read_bytes() for p in path.parent.glob("*.torn-*"))
        assert saved == [b'{"first', b'{"second']

    def test_cli_repair_and_refusal(self, engine: Engine, cli) -> None:
        """`lifecycle repair` exits 0 on a torn file and 1 (one line, no traceback) on a complete one."""
        path = open_engagement(engine)
        path.write_bytes(path.read_bytes() + b'{"seq":5,')
        code, out, err = cli("repair", str(path))
        assert code == 0, err
        assert "Repaired" in out and "event 5" in out
        code, out, err = cli("repair", str(path))
        assert code == 1
        assert "nothing to repair" in err and "Traceback" not in err
        code, out, _ = cli("audit", str(path))
        assert code == 0, out
