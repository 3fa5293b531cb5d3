"""The store seam (#11): an Engine on any store, the memory store, export and import between
stores, and the office cycle giving the same bytes on files and on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from lifecycle import Engine, FileStore, MemoryStore, PostgresStore, open_store, testing
from lifecycle.exceptions import (
    ConcurrencyConflict,
    EngagementExistsError,
    InvalidInputError,
    NotFoundError,
)

from conftest import STORE_KINDS, drive_core, make_store, run_cli


def _engine(store, plugins, clock=None) -> Engine:
    return Engine(store=store, plugins=plugins, clock=clock)


def _export(store, folder: Path) -> dict[str, bytes]:
    """The bytes an export of *store* writes, by file name."""
    from lifecycle._store._moving import export_histories

    export_histories(store, folder)
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.history.jsonl"))}


def test_an_engine_on_a_memory_store_runs_commands(plugins) -> None:
    """An Engine given a MemoryStore opens, notes and advances (no AttributeError on .path)."""
    engine = testing.make_engine(store=MemoryStore())
    engine.open("m-1", "core", actor="officer")
    engine.note("m-1", "first note", actor="officer")
    testing.drive(engine, "m-1", "core", ["accept-request"])
    assert engine.engagement("m-1").stage == "conflict-analysis"
    assert engine.engagements() == ["m-1"]


@pytest.mark.parametrize("kind", STORE_KINDS)
def test_every_store_holds_the_same_bytes(
    kind, request, workspace, plugins, fixed_clock, tmp_path
) -> None:
    """The same commands with a fixed clock give byte-identical exports on memory, files and
    PostgreSQL (the file store's bytes are the reference)."""
    reference = FileStore(tmp_path / "reference")
    (tmp_path / "reference").mkdir()
    reference.put_settings("lifecycle.toml", (workspace / "lifecycle.toml").read_bytes())
    store = make_store(kind, request, workspace)
    for target in (reference, store):
        clock = type(fixed_clock)()
        drive_core(_engine(target, plugins, clock), "eng-1")
    assert _export(store, tmp_path / "a") == _export(reference, tmp_path / "b")


@pytest.mark.parametrize("kind", STORE_KINDS)
def test_expected_seq_conflict_is_refused_and_nothing_written(
    kind, request, workspace, plugins
) -> None:
    """A command made on a stale head is refused with ConcurrencyConflict on every store."""
    engine = _engine(make_store(kind, request, workspace), plugins)
    engine.open("eng-1", "core", actor="officer")
    engine.note("eng-1", "one", actor="officer")
    with pytest.raises(ConcurrencyConflict):
        engine.note("eng-1", "stale", actor="officer", expected_seq=1)
    assert len(engine.history("eng-1")) == 2


@pytest.mark.parametrize("kind", STORE_KINDS)
def test_unknown_and_invalid_engagements(kind, request, workspace, plugins) -> None:
    """Every store says NotFoundError for a missing engagement and refuses a bad id or a reopen."""
    engine = _engine(make_store(kind, request, workspace), plugins)
    with pytest.raises(NotFoundError):
        engine.note("nope", "x", actor="officer")
    with pytest.raises(InvalidInputError):
        engine.open("../bad", "core", actor="officer")
    engine.open("eng-1", "core", actor="officer")
    with pytest.raises(EngagementExistsError):
        engine.open("eng-1", "core", actor="officer")


def test_engine_needs_a_workspace_or_a_store(plugins) -> None:
    """Giving both a workspace and a store, or neither, is refused."""
    with pytest.raises(InvalidInputError):
        Engine(plugins=plugins)
    with pytest.raises(InvalidInputError):
        Engine("ws", store=MemoryStore(), plugins=plugins)


def test_open_store_refuses_an_unknown_url(tmp_path) -> None:
    """open_store knows postgresql:// URLs and files; anything else is an input error."""
    assert isinstance(open_store(None, tmp_path), FileStore)
    assert isinstance(open_store("postgresql://127.0.0.1/test", tmp_path), PostgresStore)
    with pytest.raises(InvalidInputError):
        open_store("mysql://x", tmp_path)


def test_import_lifecycle_does_not_import_psycopg(tmp_path) -> None:
    """`import lifecycle` (and the file store's CLI) never imports psycopg."""
    import subprocess
    import sys

    code = "import sys, lifecycle, lifecycle.cli; print('psycopg' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_export_import_export_roundtrip(pg_schema, workspace, plugins, tmp_path) -> None:
    """Export from PostgreSQL, audit the export, import into a fresh schema, export again: the
    same bytes."""
    first = pg_schema()
    engine = testing.make_engine(store=PostgresStore(first))
    drive_core(engine, "eng-1")
    engine.open("eng-2", "core", actor="officer")
    engine.store.close()
    env = {"LIFECYCLE_ACTOR": "officer"}
    assert run_cli("--store", first, "export", str(tmp_path / "one"), env=env).returncode == 0
    audit = run_cli("audit", str(tmp_path / "one"), env=env)
    assert audit.returncode == 0, audit.stdout + audit.stderr
    second = pg_schema()
    loaded = run_cli("--store", second, "import", str(tmp_path / "one"), env=env)
    assert loaded.returncode == 0, loaded.stderr
    assert run_cli("--store", second, "export", str(tmp_path / "two"), env=env).returncode == 0
    names = sorted(p.name for p in (tmp_path / "one").iterdir())
    assert names == ["eng-1.history.jsonl", "eng-2.history.jsonl"]
    for name in names:
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()
    assert run_cli("--store", second, "audit", env=env).returncode == 0


def test_import_refuses_a_damaged_file_and_loads_nothing(
    pg_schema, workspace, plugins, tmp_path
) -> None:
    """One damaged file among good ones: import exits 1 naming it, and the store stays empty."""
    source = FileStore(tmp_path / "src")
    (tmp_path / "src").mkdir()
    engine = _engine(source, plugins)
    engine.open("good", "core", actor="officer")
    engine.open("bad", "core", actor="officer")
    engine.note("bad", "to be damaged", actor="officer")
    path = tmp_path / "src" / "bad.history.jsonl"
    path.write_bytes(path.read_bytes().replace(b"to be damaged", b"to be DAMAGED"))
    url = pg_schema()
    result = run_cli("--store", url, "import", str(tmp_path / "src"))
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "bad.history.jsonl" in result.stderr
    assert "Traceback" not in result.stderr
    store = PostgresStore(url)
    assert store.engagements() == []
    store.close()


def test_export_never_overwrites(tmp_path, plugins) -> None:
    """An export into a folder that has a history of the same name is refused, nothing written."""
    store = MemoryStore()
    _engine(store, plugins).open("eng-1", "core", actor="officer")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "eng-1.history.jsonl").write_bytes(b"mine")
    with pytest.raises(EngagementExistsError):
        _export(store, tmp_path / "out")
    assert (tmp_path / "out" / "eng-1.history.jsonl").read_bytes() == b"mine"


def test_memory_import_is_all_or_nothing(plugins) -> None:
    """MemoryStore.load refuses every history when one id is taken."""
    store = MemoryStore()
    _engine(store, plugins).open("eng-1", "core", actor="officer")
    data = b"".join(store.lines("eng-1"))
    with pytest.raises(EngagementExistsError):
        store.load({"new-1": data, "eng-1": data})
    assert store.engagements() == ["eng-1"]


def test_a_store_history_error_is_named_by_its_label(plugins) -> None:
    """Errors of a non-file store name the engagement as <store>/<id>.history.jsonl."""
    store = MemoryStore()
    _engine(store, plugins).open("eng-1", "core", actor="officer")
    assert store.label_of("eng-1") == "<memory>/eng-1.history.jsonl"
    with pytest.raises(NotFoundError, match="<memory>"):
        store.require("eng-2")
