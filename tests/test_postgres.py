"""The PostgreSQL store against the real server (#11): concurrent CLI writers, a writer killed
mid-transaction, a backend terminated mid-command, schema versions, and tampering in the table."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from lifecycle import PostgresStore, testing

from conftest import pg_admin, run_cli

ENV = {"LIFECYCLE_ACTOR": "officer"}


def _opened(url: str, *engagements: str) -> None:
    engine = testing.make_engine(store=PostgresStore(url))
    for engagement in engagements:
        engine.open(engagement, "core", actor="officer")
    engine.store.close()


def _notes(url: str, engagement: str) -> list[str]:
    engine = testing.make_engine(store=PostgresStore(url))
    try:
        history = engine.history(engagement)
    finally:
        engine.store.close()
    assert [e["seq"] for e in history] == list(range(1, len(history) + 1))
    return [e["data"]["text"] for e in history if e["type"] == "note_added"]


def test_eight_cli_processes_on_two_engagements_lose_nothing(pg_url: str) -> None:
    """8 processes append notes to 2 engagements through the CLI: every note is there, no gap."""
    _opened(pg_url, "e-a", "e-b")
    writers = []
    for k in range(8):
        engagement = "e-a" if k % 2 else "e-b"
        script = " && ".join(
            f"{sys.executable} -m lifecycle note {engagement} w{k}-{i}" for i in range(3)
        )
        env = {**os.environ, **ENV, "LIFECYCLE_STORE": pg_url, "LIFECYCLE_LOAD_PLUGINS": ""}
        writers.append(
            subprocess.Popen(
                ["bash", "-c", script],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    for writer in writers:
        _, err = writer.communicate(timeout=300)
        assert writer.returncode == 0, err
    for engagement, ks in (("e-a", range(1, 8, 2)), ("e-b", range(0, 8, 2))):
        assert sorted(_notes(pg_url, engagement)) == sorted(
            f"w{k}-{i}" for k in ks for i in range(3)
        )
    assert run_cli("--store", pg_url, "audit", env=ENV).returncode == 0


WRITER = """
import sys
from lifecycle import PostgresStore, testing
engine = testing.make_engine(store=PostgresStore(sys.argv[1]))
for i in range(100000):
    seq = engine.note("e-k", f"n{i}", actor="officer").event["seq"]
    print(seq, flush=True)
"""


def test_a_writer_killed_mid_transaction_loses_no_acknowledged_event(pg_url: str) -> None:
    """SIGKILL a process appending as fast as it can: every seq it acknowledged is stored, and
    the history audits clean."""
    _opened(pg_url, "e-k")
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, pg_url], stdout=subprocess.PIPE, text=True
    )
    assert writer.stdout is not None
    acked = [int(writer.stdout.readline()) for _ in range(30)]
    writer.send_signal(signal.SIGKILL)
    rest = writer.communicate(timeout=30)[0].split()
    acked += [int(s) for s in rest]
    stored = len(_notes(pg_url, "e-k")) + 1
    assert stored >= max(acked)
    assert run_cli("--store", pg_url, "audit", env=ENV).returncode == 0


def test_a_backend_terminated_mid_command_is_one_line_and_leaves_a_valid_history(
    pg_url: str,
) -> None:
    """A command waiting for the engagement's lock has its backend terminated: one line, exit 1,
    nothing written, and the history audits clean."""
    _opened(pg_url, "e-t")
    with pg_admin() as holder:
        holder.autocommit = False
        schema = pg_url.rsplit("%3D", 1)[1]
        holder.execute(f"SET search_path = {schema}")
        holder.execute("SELECT 1 FROM lifecycle_engagements WHERE id = 'e-t' FOR UPDATE")
        env = {**os.environ, **ENV, "LIFECYCLE_STORE": pg_url, "LIFECYCLE_LOAD_PLUGINS": ""}
        command = subprocess.Popen(
            [sys.executable, "-m", "lifecycle", "note", "e-t", "never"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        with pg_admin() as admin:
            for _ in range(300):
                row = admin.execute(
                    "SELECT pid FROM pg_stat_activity WHERE application_name = 'lifecycle' "
                    "AND wait_event_type = 'Lock' AND query LIKE '%FOR UPDATE%'"
                ).fetchone()
                if row:
                    break
                time.sleep(0.1)
            assert row, "the command never waited for the lock"
            admin.execute("SELECT pg_terminate_backend(%s)", (row[0],))
        _, err = command.communicate(timeout=60)
        holder.rollback()
    assert command.returncode == 1
    assert err.count("\n") == 1 and "connection was lost" in err and "Traceback" not in err
    assert _notes(pg_url, "e-t") == []
    assert run_cli("--store", pg_url, "audit", env=ENV).returncode == 0


def test_a_newer_schema_is_refused(pg_url: str) -> None:
    """A schema version newer than the code: init and commands refuse with one line, exit 1."""
    schema = pg_url.rsplit("%3D", 1)[1]
    with pg_admin() as admin:
        admin.execute(f"INSERT INTO {schema}.lifecycle_schema (version) VALUES (99)")
    for args in (("store", "init"), ("list",)):
        result = run_cli("--store", pg_url, *args, env=ENV)
        assert result.returncode == 1, args
        assert "version 99, newer" in result.stderr and result.stderr.count("\n") == 1


def test_an_uninitialized_schema_or_no_server_is_one_line(pg_schema, tmp_path: Path) -> None:
    """No lifecycle schema in the database, or no server: one line naming what to do, exit 1."""
    url = pg_schema().replace("search_path%3D", "search_path%3Dnone_")
    result = run_cli("--store", url, "list", env=ENV)
    assert result.returncode == 1 and "run `lifecycle store init`" in result.stderr
    result = run_cli("--store", "postgresql://postgres@127.0.0.1:1/test", "list", env=ENV)
    assert result.returncode == 1 and "cannot connect" in result.stderr
    assert result.stderr.count("\n") == 1


def test_an_edited_row_is_an_audit_error_at_its_seq(pg_url: str) -> None:
    """A line edited in the table itself (a tamper probe on the store) fails the audit at that
    event's seq."""
    engine = testing.make_engine(store=PostgresStore(pg_url))
    engine.open("e-x", "core", actor="officer")
    engine.note("e-x", "original", actor="officer")
    engine.note("e-x", "later", actor="officer")
    engine.store.close()
    schema = pg_url.rsplit("%3D", 1)[1]
    with pg_admin() as admin:
        admin.execute(
            f"UPDATE {schema}.lifecycle_events SET line = convert_to(replace(convert_from(line, "
            "'UTF8'), 'original', 'forged'), 'UTF8') WHERE engagement = 'e-x' AND seq = 2"
        )
    result = run_cli("--store", pg_url, "audit", "--json", env=ENV)
    assert result.returncode == 1
    import json

    findings = json.loads(result.stdout)["files"][0]["findings"]
    assert any(f["severity"] == "error" and f["seq"] == 2 for f in findings), findings


def test_a_setting_stored_by_another_machine_holds_for_the_next_command(pg_url: str) -> None:
    """The settings read with a command's lock are the server's of that moment: a
    `[signing] required = true` stored by another machine refuses this engine's next note."""
    from lifecycle.exceptions import RefusedError

    engine = testing.make_engine(store=PostgresStore(pg_url))
    try:
        engine.open("held", "core", actor="officer")
        engine.note("held", "before", actor="officer")
        other = PostgresStore(pg_url)
        other.put_settings("lifecycle.toml", b"[signing]\nrequired = true\n")
        other.close()
        try:
            engine.note("held", "after", actor="officer")
        except RefusedError as exc:
            assert "requires signed events" in str(exc)
        else:
            raise AssertionError("the note was written although signing is now required")
    finally:
        engine.store.close()
    assert _notes(pg_url, "held") == ["before"]


def _note_fields(text: str) -> dict[str, object]:
    return {
        "at": "2026-12-01T00:00:00.000000Z",
        "actor": "officer",
        "type": "note_added",
        "v": 1,
        "data": {"text": text},
    }


def _row_free(url: str, engagement: str) -> bool:
    """Whether another connection can take the engagement's row at once."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        try:
            conn.execute(
                "SELECT 1 FROM lifecycle_engagements WHERE id = %s FOR UPDATE NOWAIT",
                (engagement,),
            )
        except psycopg.errors.LockNotAvailable:
            return False
        return True


def test_a_session_holds_its_lock_between_appends_until_the_last(pg_url: str) -> None:
    """An append not marked last keeps the engagement locked for the rest of the session; the
    last append's commit releases it, and the history holds both events in order."""
    _opened(pg_url, "twice")
    store = PostgresStore(pg_url)
    try:
        with store.session("twice") as session:
            assert not _row_free(pg_url, "twice")
            session.append(_note_fields("first"))
            assert not _row_free(pg_url, "twice")
            session.append(_note_fields("second"), last=True)
            assert _row_free(pg_url, "twice")
    finally:
        store.close()
    assert _notes(pg_url, "twice") == ["first", "second"]


def test_an_append_after_the_last_finds_another_writer_and_writes_nothing(pg_url: str) -> None:
    """After a last append has ended the lock, a further append in the same session, made
    once another writer has appended, is a conflict and stores nothing."""
    from lifecycle.exceptions import ConcurrencyConflict

    _opened(pg_url, "late")
    store = PostgresStore(pg_url)
    try:
        with store.session("late") as session:
            session.append(_note_fields("mine"), last=True)
            other = testing.make_engine(store=PostgresStore(pg_url))
            other.note("late", "theirs", actor="officer")
            other.store.close()
            try:
                session.append(_note_fields("stale"))
            except ConcurrencyConflict:
                pass
            else:
                raise AssertionError("an append over another writer's event was stored")
    finally:
        store.close()
    assert _notes(pg_url, "late") == ["mine", "theirs"]
