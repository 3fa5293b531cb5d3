"""Attempts on PostgreSQL (docs/stores.md, "Attempts"): an engine command on its own last state
appends in one statement without taking the lock first, and runs again under the lock whenever
another writer, or new settings, got there first. Real server, real connections, real processes."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lifecycle import PostgresStore, audit_file, make_plugin_manager, testing
from lifecycle.exceptions import ConcurrencyConflict, RefusedError

from conftest import pg_admin


class CountingStore(PostgresStore):
    """A real PostgreSQL store that counts the lock reads its sessions make."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.locks = 0

    def _lock_and_settings(self, conn: Any, engagement: str) -> Any:
        self.locks += 1
        return super()._lock_and_settings(conn, engagement)


def _engine(url: str, store: PostgresStore | None = None) -> Any:
    return testing.make_engine(store=store or PostgresStore(url))


def _history(url: str, engagement: str) -> list[dict[str, Any]]:
    engine = _engine(url)
    try:
        return list(engine.history(engagement))
    finally:
        engine.store.close()


def _texts(url: str, engagement: str) -> list[str]:
    history = _history(url, engagement)
    assert [e["seq"] for e in history] == list(range(1, len(history) + 1))
    return [e["data"]["text"] for e in history if e["type"] == "note_added"]


def _audit(url: str, engagement: str, folder: Path) -> Any:
    """The offline audit of the engagement's history, exported from the store."""
    path = folder / f"{engagement}.history.jsonl"
    store = PostgresStore(url)
    try:
        path.write_bytes(b"".join(store.lines(engagement)))
    finally:
        store.close()
    kinds = make_plugin_manager(load_entrypoints=False, environ={}).rule_kinds()
    return audit_file(path, kinds=kinds, today=dt.date.today())


@pytest.fixture
def two(pg_url: str) -> Any:
    """Two engines on one engagement, each with its own connection; A counts its locks."""
    a = _engine(pg_url, CountingStore(pg_url))
    b = _engine(pg_url)
    a.open("shared", "core", actor="officer")
    a.note("shared", "a1", actor="officer")  # A now has a last state to attempt on
    yield a, b
    a.store.close()
    b.store.close()


def test_a_command_on_an_unmoved_head_takes_no_lock(two: Any, pg_url: str) -> None:
    """With nothing appended by anyone else, A's next notes are attempts: no lock read at all,
    and every note is stored in order."""
    a, _ = two
    before = a.store.locks
    for i in range(3):
        a.note("shared", f"a{i + 2}", actor="officer")
    assert a.store.locks == before
    assert _texts(pg_url, "shared") == ["a1", "a2", "a3", "a4"]


def test_another_writers_event_sends_the_command_back_under_the_lock(
    two: Any, pg_url: str, tmp_path: Path
) -> None:
    """B appends after A's last state: A's attempt stores nothing, A runs again under the lock
    (one lock read), and its note follows B's with an unbroken chain that audits clean."""
    a, b = two
    b.note("shared", "b1", actor="officer")
    before = a.store.locks
    result = a.note("shared", "a2", actor="officer")
    assert a.store.locks == before + 1
    assert result.event["seq"] == result.engagement.seq == 4
    assert _texts(pg_url, "shared") == ["a1", "b1", "a2"]
    assert _audit(pg_url, "shared", tmp_path).ok


def test_a_refusal_read_off_a_stale_state_is_not_given(two: Any, pg_url: str) -> None:
    """B ticks an item A's last state has unticked: A's `uncheck` would refuse on that stale
    state, so it asks whether its state was current, runs again under the lock and succeeds."""
    a, b = two
    b.check("shared", "request-recorded", actor="officer")
    result = a.uncheck("shared", "request-recorded", actor="officer")
    assert result.event["type"] == "item_unchecked"
    assert not result.engagement.is_done("request-recorded")


def test_a_refusal_on_a_current_state_stands_without_a_lock(two: Any) -> None:
    """A refusal computed on a state that is still the head's is given as it is, after one
    check of the head, without taking the lock."""
    a, _ = two
    before = a.store.locks
    with pytest.raises(RefusedError, match="is not checked"):
        a.uncheck("shared", "request-recorded", actor="officer")
    assert a.store.locks == before


def test_a_duplicate_tick_from_a_stale_state_is_decided_under_the_lock(
    two: Any, pg_url: str
) -> None:
    """B and then A tick the same item, A from a state without B's tick: A's attempt writes
    nothing, and under the lock A's tick is decided on the state that has B's."""
    a, b = two
    b.check("shared", "request-recorded", actor="officer")
    result = a.check("shared", "request-recorded", actor="officer")
    history = _history(pg_url, "shared")
    ticks = [e["seq"] for e in history if e["type"] == "item_checked"]
    assert ticks[0] == 3 and result.event["seq"] == 4 == history[-1]["seq"]
    assert result.event["prev"] == history[-2]["hash"]


def test_an_expected_seq_taken_from_another_writers_head_holds(two: Any, pg_url: str) -> None:
    """A caller that saw B's event asks A to append after it: A's own state is older, yet the
    command runs under the lock and appends after B's event instead of reporting a conflict."""
    a, b = two
    seq = b.note("shared", "b1", actor="officer").event["seq"]
    assert a.note("shared", "a2", actor="officer", expected_seq=seq).event["seq"] == seq + 1
    with pytest.raises(ConcurrencyConflict):
        a.note("shared", "a3", actor="officer", expected_seq=seq)
    assert _texts(pg_url, "shared") == ["a1", "b1", "a2"]


def test_settings_changed_elsewhere_are_read_before_the_attempt_is_stored(
    two: Any, pg_url: str
) -> None:
    """Another machine stores a lifecycle.toml that requires signatures: A's attempt, made on
    the settings it read before, is not stored; under the lock the note is refused."""
    a, _ = two
    other = PostgresStore(pg_url)
    other.put_settings("lifecycle.toml", b"[signing]\nrequired = true\n")
    other.close()
    with pytest.raises(RefusedError, match="requires signed events"):
        a.note("shared", "unsigned", actor="officer")
    assert _texts(pg_url, "shared") == ["a1"]


def test_a_head_row_edited_by_hand_is_not_trusted(two: Any, pg_url: str, tmp_path: Path) -> None:
    """The head row is set by hand to another hash at the same seq: the attempt on A's anchor
    stores nothing, and the locked run reads the stored lines, appends after the true last one
    and leaves a chain that audits clean."""
    a, _ = two
    schema = pg_url.rsplit("%3D", 1)[1]
    with pg_admin() as conn:
        conn.execute(f"SET search_path TO {schema}")
        conn.execute(
            "UPDATE lifecycle_engagements SET head_hash = %s WHERE id = 'shared'", ("0" * 64,)
        )
    before = a.store.locks
    result = a.note("shared", "a2", actor="officer")
    assert a.store.locks == before + 1
    history = _history(pg_url, "shared")
    assert result.event["prev"] == history[-2]["hash"] != "0" * 64
    assert _audit(pg_url, "shared", tmp_path).ok


WRITER = """
import sys
from lifecycle import PostgresStore, testing
url, name, count = sys.argv[1:4]
engine = testing.make_engine(store=PostgresStore(url))
for i in range(int(count)):
    engine.note("race", f"{name}-{i}", actor="officer")
engine.store.close()
"""
# `list` rows are cached in the engagement's row itself: a lister updates the row the writers'
# attempts lock and move, all the while they run.
LISTER = """
import sys
from pathlib import Path
from lifecycle import PostgresStore, testing
from lifecycle._listing import engagement_rows
url, stop = sys.argv[1:3]
engine = testing.make_engine(store=PostgresStore(url))
while not Path(stop).exists():
    engagement_rows(engine)
engine.store.close()
"""


def test_four_long_lived_writers_on_one_engagement_lose_nothing(
    pg_url: str, tmp_path: Path
) -> None:
    """Four processes, each one engine appending 25 notes to the same engagement as fast as
    they can (attempts that keep going stale) while a fifth keeps caching `list` rows in the
    same table row: all 100 notes are stored once each, in each writer's order, with an
    unbroken chain that the audit finds clean."""
    engine = _engine(pg_url)
    engine.open("race", "core", actor="officer")
    engine.store.close()
    env = {"LIFECYCLE_LOAD_PLUGINS": "", "PATH": "/usr/bin:/bin"}
    stop = tmp_path / "stop"
    lister = subprocess.Popen([sys.executable, "-c", LISTER, pg_url, str(stop)], env=env)
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, pg_url, f"w{n}", "25"], env=env)
        for n in range(4)
    ]
    assert [p.wait(timeout=300) for p in procs] == [0, 0, 0, 0]
    stop.touch()
    assert lister.wait(timeout=60) == 0
    texts = _texts(pg_url, "race")
    assert sorted(texts) == sorted(f"w{n}-{i}" for n in range(4) for i in range(25))
    for n in range(4):
        mine = [t for t in texts if t.startswith(f"w{n}-")]
        assert mine == [f"w{n}-{i}" for i in range(25)]
    report = _audit(pg_url, "race", tmp_path)
    assert report.ok, report.findings[:3]


def test_roles_taken_away_on_another_machine_hold_for_the_next_command(two: Any) -> None:
    """Another machine stores a lifecycle.toml without the head's admin role: A's next `force`
    by the head, which that role allowed a moment before, is refused on the new roles."""
    a, _ = two
    a.force("shared", "support-request", actor="head", reason="Back to the start, as agreed.")
    other = PostgresStore(a.store.url)
    other.put_settings("lifecycle.toml", b'[actors."head"]\nroles = ["officer"]\n')
    other.close()
    with pytest.raises(RefusedError, match="force needs one of head-of-unit"):
        a.force("shared", "support-request", actor="head", reason="Once more, as agreed.")


def test_a_line_forged_in_the_table_stays_an_audit_error_after_attempts(
    two: Any, pg_url: str, tmp_path: Path
) -> None:
    """A forger edits A's first note in the table, leaving the head row alone: A's attempts go
    on appending after the head (they read no lines, as a locked session on a current head
    reads none), and the audit still finds the forged event at its seq."""
    a, _ = two
    schema = pg_url.rsplit("%3D", 1)[1]
    with pg_admin() as conn:
        conn.execute(
            f"UPDATE {schema}.lifecycle_events SET line = convert_to(replace(convert_from(line, "
            "'UTF8'), 'a1', 'forged'), 'UTF8') WHERE engagement = 'shared' AND seq = 2"
        )
    before = a.store.locks
    a.note("shared", "a2", actor="officer")
    a.note("shared", "a3", actor="officer")
    assert a.store.locks == before  # both were attempts
    findings = _audit(pg_url, "shared", tmp_path).findings
    assert any(f.severity == "error" and f.seq == 2 for f in findings), findings


def test_a_broken_lifecycle_toml_stored_elsewhere_is_one_line_and_writes_nothing(
    two: Any, pg_url: str
) -> None:
    """Another machine stores a lifecycle.toml that is no TOML: A's next note, attempted on the
    settings it read before, is not stored; under the lock it fails with one line naming the
    setting, and nothing is written."""
    from lifecycle.exceptions import LifecycleError

    a, _ = two
    other = PostgresStore(pg_url)
    other.put_settings("lifecycle.toml", b"[signing\nrequired = true\n")
    other.close()
    with pytest.raises(LifecycleError) as caught:
        a.note("shared", "after", actor="officer")
    assert "lifecycle.toml" in str(caught.value) and "\n" not in str(caught.value)
    assert _texts(pg_url, "shared") == ["a1"]


def test_an_attempt_that_appends_twice_holds_the_row_between_the_appends(
    two: Any, pg_url: str
) -> None:
    """An append not marked last, in an attempt, takes the row's lock first and keeps it (as a
    session does) until the last append's commit; both events are stored in order."""
    from test_postgres import _note_fields, _row_free

    a, _ = two
    store, after = a.store, a._states.cached("shared")[1]
    with store.attempt("shared", after) as session:
        assert _row_free(pg_url, "shared")  # an attempt holds nothing at first
        session.append(_note_fields("first"))
        assert not _row_free(pg_url, "shared")
        session.append(_note_fields("second"), last=True)
        assert _row_free(pg_url, "shared")
    assert _texts(pg_url, "shared") == ["a1", "first", "second"]


def test_an_attempt_that_appends_twice_on_a_moved_head_stores_nothing(
    two: Any, pg_url: str
) -> None:
    """The same, after another writer appended: taking the lock finds the head moved, the
    attempt is stale and stores nothing."""
    from lifecycle._attempt import StaleAttempt
    from test_postgres import _note_fields

    a, b = two
    store, after = a.store, a._states.cached("shared")[1]
    b.note("shared", "b1", actor="officer")
    with pytest.raises(StaleAttempt), store.attempt("shared", after) as session:
        session.append(_note_fields("first"))
    assert _texts(pg_url, "shared") == ["a1", "b1"]
