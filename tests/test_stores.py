"""The store seam (#11): an Engine on any store, the memory store, export and import between
stores, and the office cycle giving the same bytes on files and on PostgreSQL."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from lifecycle import (
    Engine,
    FileStore,
    MemoryStore,
    PostgresStore,
    audit_file,
    open_store,
    testing,
)
from lifecycle.exceptions import (
    ConcurrencyConflict,
    EngagementExistsError,
    InvalidInputError,
    NotFoundError,
)

from conftest import CORE_PATH, STORE_KINDS, drive_core, make_store, run_cli


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


def _office_cycle_cli(url: str, clock) -> None:
    """An office's cycle through the CLI (in-process, with *clock*) on the store at *url*."""
    from lifecycle.cli import run

    def cli(*args: str, actor: str = "officer") -> None:
        assert run(["--store", url, "--actor", actor, *args], clock=clock) == 0, args

    cli("new", "office-1", "--playbook", "core", "--title", "Lake Amani talks")
    for trigger, items, facts in CORE_PATH:
        if facts:
            cli("set", "office-1", *facts)
        for item in items:
            cli("check", "office-1", item)
        if trigger == "end-support":
            cli("record", "office-1", "reflection-retreat", "--on", "2026-01-05")
            cli("note", "office-1", "Retreat held in Nairobi")
        cli("advance", "office-1", trigger)


def _office_cycle_api(engine: Engine) -> None:
    """The same commands as :func:`_office_cycle_cli`, through the Python API."""
    engine.open("office-1", "core", actor="officer", title="Lake Amani talks")
    for trigger, items, facts in CORE_PATH:
        if facts:
            engine.set_facts("office-1", facts, actor="officer")
        for item in items:
            engine.check("office-1", item, actor="officer")
        if trigger == "end-support":
            engine.record("office-1", "reflection-retreat", actor="officer", on=dt.date(2026, 1, 5))
            engine.note("office-1", "Retreat held in Nairobi", actor="officer")
        engine.advance("office-1", trigger, actor="officer")


def test_office_cycle_through_the_cli_on_postgresql_equals_the_api_on_files(
    pg_url, workspace, plugins, fixed_clock, tmp_path, monkeypatch
) -> None:
    """An office's cycle run through the CLI on PostgreSQL exports, byte for byte, what the same
    commands through the Python API write on files with the same fixed clock, and audits clean."""
    monkeypatch.setenv("LIFECYCLE_LOAD_PLUGINS", "")
    _office_cycle_cli(pg_url, type(fixed_clock)())
    files = tmp_path / "files"
    files.mkdir()
    (files / "lifecycle.toml").write_bytes((workspace / "lifecycle.toml").read_bytes())
    _office_cycle_api(_engine(FileStore(files), plugins, type(fixed_clock)()))
    store = PostgresStore(pg_url)
    try:
        exported = _export(store, tmp_path / "export")
    finally:
        store.close()
    assert exported == {"office-1.history.jsonl": (files / "office-1.history.jsonl").read_bytes()}
    report = audit_file(
        tmp_path / "export" / "office-1.history.jsonl",
        kinds=plugins.rule_kinds(),
        today=dt.date(2026, 1, 6),
    )
    assert report.ok and report.stage == "closed", report.findings


def test_a_shared_store_signs_with_the_keyring_in_its_settings(pg_url, plugins, tmp_path) -> None:
    """On PostgreSQL the keyring and the signing policy come from the store's settings: a keyed
    engine signs as the keyring names it, an unsigned one is refused, and the signatures verify."""
    from lifecycle._keyaudit import signature_findings
    from lifecycle.exceptions import RefusedError
    from signed import Office

    office = Office(tmp_path / "office", plugins)
    store = PostgresStore(pg_url)
    try:
        for name in ("lifecycle.toml", "keyring.jsonl"):
            store.put_settings(name, (office.root / name).read_bytes())
        signed = Engine(store=store, plugins=plugins, key=office.keys["head"])
        signed.open("shared-1", "core", actor="head", title="Shared")
        signed.note("shared-1", "Signed from a field office", actor="head")
        with pytest.raises(RefusedError):
            Engine(store=store, plugins=plugins).note("shared-1", "unsigned", actor="head")
        assert len(signed.history("shared-1")) == 2
        assert all("sig" in event for event in signed.history("shared-1"))
        assert signature_findings(store.lines("shared-1"), office.keyring()) == []
    finally:
        store.close()
    from lifecycle.cli import run

    trust = tmp_path / "root.pub"
    trust.write_text(office.root_key.public.line + "\n", encoding="utf-8")
    keyring = str(office.keyring_path)
    assert run(["audit", "--store", pg_url, "--keyring", keyring, "--trust", str(trust)]) == 0
