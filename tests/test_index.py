"""The portfolio index (#14): list, due and search served from it, brought up to date on every
query, rebuilt when damaged, never blocking writers, never the truth."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lifecycle import Engine
from lifecycle._index import INDEX_NAME, Filters, Portfolio, search_store
from lifecycle._index_db import APPLICATION_ID, FORMAT
from lifecycle._index_text import document
from lifecycle._store import MemoryStore
from lifecycle.testing import make_engine
from test_tamper import rechain, split

from conftest import drive_core, run_cli

NOTE = "Call with the parties about the lake shore"


def _path(ws: Path, engagement: str) -> Path:
    return ws / f"{engagement}.history.jsonl"


def _index(ws: Path) -> Path:
    return ws / ".lifecycle" / INDEX_NAME


def _fill(engine: Engine) -> None:
    """Three engagements with titles, facts, notes and a checklist note."""
    engine.open("amani-2026", "core", actor="officer", title="Lake Amani talks",
                facts={"country": "KEN"})
    engine.note("amani-2026", NOTE, actor="officer")
    engine.check("amani-2026", "request-recorded", actor="officer", note="Letter from the café")
    engine.open("boreal-2025", "core", actor="officer", title="Boreal dialogue",
                facts={"country": "NOR"})
    engine.note("boreal-2025", "Elephants of the north, a working title", actor="officer")
    engine.open("cedar-2024", "core", actor="officer", title="Cedar process")


def _json(ws: Path, *args: str) -> tuple[dict, str]:
    result = run_cli("--workspace", str(ws), "--actor", "officer", *args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout), result.stderr


@pytest.fixture
def ws(workspace: Path, engine: Engine) -> Path:
    """A workspace of three engagements."""
    _fill(engine)
    return workspace


@pytest.mark.parametrize(
    "args", [("list",), ("list", "--active", "--country", "KEN"), ("due",), ("search", "lake")]
)
def test_the_index_answers_as_the_histories_do(ws: Path, args: tuple[str, ...]):
    """Each command gives the same JSON from the index (built, then warm) as with --no-index."""
    truth, _ = _json(ws, *args, "--no-index")
    cold, _ = _json(ws, *args)
    warm, _ = _json(ws, *args)
    assert cold == truth == warm
    assert _index(ws).is_file()


def test_search_names_engagement_and_seq_over_every_kind_of_text(ws: Path):
    """Titles, facts, notes and checklist notes are found, each hit naming engagement and seq."""
    hits = {q: _json(ws, "search", q)[0]["hits"] for q in ("amani", "NOR", "shore", "cafe")}
    assert [(h["engagement"], h["seq"], h["type"]) for h in hits["amani"]] == [
        ("amani-2026", 1, "opened")
    ]
    assert [h["engagement"] for h in hits["NOR"]] == ["boreal-2025"]
    assert [(h["seq"], h["type"]) for h in hits["shore"]] == [(2, "note_added")]
    assert "[café]" in hits["cafe"][0]["snippet"]  # diacritics ignored, shown as stored


def test_search_filters_by_country_stage_playbook_and_active(ws: Path, engine: Engine):
    """--country, --stage, --playbook and --active keep only the engagements list would keep."""
    engine.note("cedar-2024", "the lake again", actor="officer")
    everyone = {h["engagement"] for h in _json(ws, "search", "lake")[0]["hits"]}
    assert everyone == {"amani-2026", "cedar-2024"}
    kenya = {h["engagement"] for h in _json(ws, "search", "lake", "--country", "KEN")[0]["hits"]}
    assert kenya == {"amani-2026"}
    assert _json(ws, "search", "lake", "--stage", "closed")[0]["hits"] == []
    assert _json(ws, "search", "lake", "--playbook", "au")[0]["hits"] == []
    assert len(_json(ws, "search", "lake", "--active", "--playbook", "core")[0]["hits"]) == 3


def test_appends_by_another_process_are_read_after_the_known_head(ws: Path):
    """After another process appends, the next query reads only the new events into search."""
    Portfolio(ws).update()
    result = run_cli("--workspace", str(ws), "--actor", "officer", "note", "boreal-2025",
                     "A walrus appears")
    assert result.returncode == 0, result.stderr
    update = Portfolio(ws).update()
    assert update.appended == 1 and update.changed == 0 and update.warnings == []
    hits = _json(ws, "search", "walrus")[0]["hits"]
    assert [(h["engagement"], h["seq"]) for h in hits] == [("boreal-2025", 3)]
    assert len(_json(ws, "search", "elephants")[0]["hits"]) == 1  # old documents kept once
    rows = {r["engagement"]: r for r in _json(ws, "list")[0]["engagements"]}
    assert rows["boreal-2025"]["events"] == 3


def test_an_unchanged_history_is_trusted_on_its_fingerprint(ws: Path):
    """Once its file is older than the racy window, an unchanged history is not read again."""
    Portfolio(ws).update()
    time.sleep(2.2)  # past RACY_NS: the files' times can no longer collide with a new write
    Portfolio(ws).update()  # verified once more, now out of the racy window
    update = Portfolio(ws).update()
    assert (update.trusted, update.new, update.appended, update.verified) == (3, 0, 0, 0)


def test_a_history_rewritten_behind_the_index_is_read_again_and_reported(ws: Path):
    """Same size, same mtime, other bytes (a re-chained forgery): re-read, warned, not stale."""
    path = _path(ws, "amani-2026")
    Portfolio(ws).update()
    time.sleep(2.2)
    Portfolio(ws).update()
    before = os.stat(path)

    def edit(record: dict) -> None:
        record["data"]["text"] = NOTE.replace("lake shore", "dune shore")

    data = b"".join(rechain(split(path.read_bytes()), 2, edit))
    assert len(data) == before.st_size
    with open(path, "r+b") as out:  # in place: the same inode
        out.write(data)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    result = run_cli("--workspace", str(ws), "search", "dune", "--json")
    assert result.returncode == 0, result.stderr
    assert [(h["engagement"], h["seq"]) for h in json.loads(result.stdout)["hits"]] == [
        ("amani-2026", 2)
    ]
    warnings = result.stderr.splitlines()
    assert len(warnings) == 1 and "changed behind the index" in warnings[0]
    assert warnings[0].startswith("warning: ") and str(path) in warnings[0]
    assert _json(ws, "search", "lake", "shore")[0]["hits"] == []


def test_a_history_damaged_behind_the_index_is_its_error_not_its_old_row(ws: Path):
    """A broken chain under a known head is reported as list and due report it, not served."""
    Portfolio(ws).update()
    path = _path(ws, "cedar-2024")
    lines = split(path.read_bytes())
    lines[1] = lines[1].replace(b"Cedar process", b"Cedar pracess")
    path.write_bytes(b"".join(lines))
    truth, _ = _json(ws, "list", "--no-index")
    listed, _ = _json(ws, "list")
    assert listed == truth
    assert "line 2" in listed["engagements"][2]["error"]
    due, stderr = _json(ws, "due")
    assert due["unreadable"] and due["unreadable"][0].startswith("cedar-2024: ")
    assert "cedar-2024" in stderr


def test_a_deleted_history_drops_out(ws: Path):
    """A history removed from the workspace leaves list and search."""
    Portfolio(ws).update()
    _path(ws, "boreal-2025").unlink()
    assert [r["engagement"] for r in _json(ws, "list")[0]["engagements"]] == [
        "amani-2026", "cedar-2024"
    ]
    assert _json(ws, "search", "elephants")[0]["hits"] == []


def _damage(index: Path, how: str) -> None:
    if how == "deleted":
        index.unlink()
    elif how == "truncated":
        data = index.read_bytes()
        index.write_bytes(data[: len(data) // 2])
    elif how == "not-sqlite":
        index.write_bytes(b"this is not an index\n" * 200)
    elif how == "foreign":
        index.unlink()
        sqlite3.connect(index).execute("CREATE TABLE engagements (name TEXT)").connection.close()
    elif how == "directory":
        index.unlink()
        index.mkdir()
        (index / "inside").write_text("x")
    elif how == "fifo":
        index.unlink()
        os.mkfifo(index)


@pytest.mark.parametrize(
    "how", ["deleted", "truncated", "not-sqlite", "foreign", "directory", "fifo"]
)
def test_a_damaged_index_is_rebuilt_never_trusted(ws: Path, how: str):
    """A deleted, truncated, non-SQLite, foreign, directory or FIFO index is rebuilt."""
    Portfolio(ws).update()
    index = _index(ws)
    # Make sure the damage hits pages that are read: a bigger index than three rows.
    _damage(index, how)
    for args in (("list",), ("due",), ("search", "elephants")):
        truth, _ = _json(ws, *args, "--no-index")
        got, stderr = _json(ws, *args)
        assert got == truth, how
        assert "Traceback" not in stderr and "internal error" not in stderr
    assert index.is_file()
    conn = sqlite3.connect(index)
    assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert conn.execute("SELECT count(*) FROM engagements").fetchone()[0] == 3


# Rows an index of this very code could hold only if someone wrote them there by hand.
_FORGED_ROWS = {
    "row-not-json": "UPDATE engagements SET row = '{\"engagement\": ' WHERE name = 'amani-2026'",
    "row-not-an-object": "UPDATE engagements SET row = '[1, 2]' WHERE name = 'amani-2026'",
    "row-lacks-fields": "UPDATE engagements SET row = '{\"title\": \"x\"}'",
    # A list row of the right members, one of the wrong type or more: what row_of never writes.
    "row-title-a-number": "UPDATE engagements SET row = json_set(row, '$.title', 5)",
    "row-links-a-text": "UPDATE engagements SET row = json_set(row, '$.links', 'xy')",
    "row-link-not-one": "UPDATE engagements SET row = json_set(row, '$.links', json('[5]'))",
    "row-link-lacks-other": (
        "UPDATE engagements SET row = json_set(row, '$.links', json('[{\"relation\": \"x\"}]'))"
    ),
    "row-another-engagement": "UPDATE engagements SET row = json_set(row, '$.engagement', 'zz')",
    "row-extra-member": "UPDATE engagements SET row = json_set(row, '$.extra', 1)",
    "row-final-a-text": "UPDATE engagements SET row = json_set(row, '$.final', 'no')",
    "due-not-a-date": "UPDATE due SET day = 'soon'",
    "due-a-blob": "UPDATE due SET day = x'00ff'",
    "due-kind-a-blob": "UPDATE due SET kind = x'01'",
    "search-type-null": "UPDATE docs SET type = NULL",
    "search-type-a-number": "UPDATE docs SET type = 5",
    "lesson-not-json": "UPDATE lessons SET row = 'lesson'",
    "lesson-not-an-object": "UPDATE lessons SET row = '[]'",
}


@pytest.mark.parametrize("how", sorted(_FORGED_ROWS))
def test_rows_the_code_could_not_have_written_rebuild_the_index(
    ws: Path, engine: Engine, how: str
):
    """A stored row that is not JSON, not an object, lacks a list row's fields or has one of
    another type, a due item that is not text or a date that is not one, a search document
    that is not text, or a lesson's row that is not a JSON object, is damage: the command that
    reads it says so in a warning, rebuilds the index and answers as the histories do."""
    drive_core(engine, "dune-2026", until="end-support")  # in active support: things are due
    engine.lesson("dune-2026", title="Elders first", text="Meet the elders.", actor="officer")
    time.sleep(2.2)  # past the racy window: the rows are served from the index, not re-read
    Portfolio(ws).update()
    conn = sqlite3.connect(_index(ws))
    assert conn.execute(_FORGED_ROWS[how]).rowcount > 0
    conn.commit()
    conn.close()
    reads = {"due": ("due",), "lesson": ("lessons",), "search": ("search", "elephants")}
    first = reads.get(how.split("-")[0], ("list",))  # the command that reads the forgery
    truth, _ = _json(ws, *first, "--no-index")
    got, stderr = _json(ws, *first)
    assert got == truth
    assert len(stderr.splitlines()) == 1 and "the index was damaged" in stderr, stderr
    assert stderr.rstrip().endswith("rebuilt") and "Traceback" not in stderr
    for args in (("list",), ("due",), ("lessons",)):  # rebuilt: nothing more to say
        truth, _ = _json(ws, *args, "--no-index")
        assert _json(ws, *args) == (truth, "")


def test_an_index_of_an_earlier_format_is_replaced_silently(ws: Path):
    """An index of lifecycle's own application id but another format (an earlier version's)
    is replaced without a warning, and answers as the histories do."""
    Portfolio(ws).update()
    conn = sqlite3.connect(_index(ws))
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    truth, _ = _json(ws, "due", "--no-index")
    got, stderr = _json(ws, "due")
    assert got == truth
    assert stderr == ""
    conn = sqlite3.connect(_index(ws))
    assert conn.execute("PRAGMA user_version").fetchone()[0] == FORMAT
    conn.close()


def test_index_rebuild_throws_the_file_away(ws: Path):
    """`index --rebuild` writes a new file (another inode) holding every engagement."""
    Portfolio(ws).update()
    inode = os.stat(_index(ws)).st_ino
    data, _ = _json(ws, "index", "--rebuild")
    assert (data["engagements"], data["new"], data["unavailable"]) == (3, 3, None)
    assert os.stat(_index(ws)).st_ino != inode
    assert _json(ws, "search", "elephants")[0]["total"] == 1


def test_without_a_usable_index_folder_the_answer_comes_from_the_histories(ws: Path):
    """When `.lifecycle` cannot hold an index (here a file has its name), list and search still
    answer correctly, with nothing written."""
    (ws / ".lifecycle").write_text("not a folder")
    for args in (("list",), ("search", "amani")):
        truth, _ = _json(ws, *args, "--no-index")
        got, stderr = _json(ws, *args)
        assert got == truth and stderr == ""
    data, _ = _json(ws, "index")
    assert data["index"] is None and data["unavailable"]
    assert (ws / ".lifecycle").read_text() == "not a folder"


HOLDER = r"""
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
conn.execute("DELETE FROM docs")  # hold the write lock with a change in flight
print("holding", flush=True)
sys.stdin.readline()
conn.execute("ROLLBACK")
"""


def test_writers_never_wait_on_the_index(ws: Path):
    """While another process holds the index's write transaction, a history append completes at
    once, and list still answers with it (from the histories, the index being busy)."""
    Portfolio(ws).update()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(_index(ws))],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "holding\n"
        started = time.monotonic()
        note = run_cli("--workspace", str(ws), "--actor", "officer", "note", "amani-2026", "hi")
        assert note.returncode == 0, note.stderr
        assert time.monotonic() - started < 1.9  # under the index's own busy wait
        rows = {r["engagement"]: r for r in _json(ws, "list")[0]["engagements"]}
        assert rows["amani-2026"]["events"] == 4
        hits = _json(ws, "search", "elephants")[0]["hits"]
        assert [h["engagement"] for h in hits] == ["boreal-2025"]
    finally:
        assert holder.stdin is not None and holder.stdout is not None
        holder.stdin.write("\n")
        holder.stdin.close()
        holder.wait(timeout=30)
        holder.stdout.close()
    assert Portfolio(ws).update().path == _index(ws)  # usable again once released


@pytest.mark.parametrize(
    "query",
    ['a"b', "NEAR(a b)", "amani AND OR NOT", "*", "-amani", "title:amani", "a' OR 1=1 --",
     "((((", "amani*", "ama*", '"lake amani"', "x" * 1000],
)
def test_hostile_queries_are_literal_searches(ws: Path, query: str):
    """FTS5 syntax, quotes and operators are searched as words: exit 0, never an error."""
    result = run_cli("--workspace", str(ws), "search", "--json", "--", query)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    hits = [(h["engagement"], h["seq"]) for h in json.loads(result.stdout)["hits"]]
    if query in ("-amani", "amani*", "ama*", '"lake amani"'):
        assert hits == [("amani-2026", 1)]  # the title; a word, a prefix, a phrase
    if query in ("title:amani", "amani AND OR NOT", "NEAR(a b)"):
        assert hits == []  # operators are words no event holds


@pytest.mark.parametrize(
    ("query", "says"),
    [("", "no words"), ("   ", "no words"), ('"', "no words"), ('""""', "no words"), ("a\x00b", "control character"),
     ("a\nb", "control character"), ("x" * 1001, "1001 characters")],
)
def test_unusable_queries_are_one_line_errors(ws: Path, query: str, says: str):
    """An empty, control-character or huge query is exit 2 with one line naming the problem."""
    if "\x00" in query:  # argv cannot carry a NUL: the library refuses it the same way
        with pytest.raises(Exception, match=says):
            Portfolio(ws).search(query)
        return
    result = run_cli("--workspace", str(ws), "search", "--", query)
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1 and says in result.stderr


def test_search_limit_and_total(ws: Path, engine: Engine):
    """--limit caps the hits shown; total counts them all."""
    for i in range(5):
        engine.note("cedar-2024", f"lake report {i}", actor="officer")
    data, _ = _json(ws, "search", "lake", "--limit", "2")
    assert len(data["hits"]) == 2 and data["total"] == 7  # and amani's title and note


def test_a_lesson_is_one_entry_in_the_text_table():
    """A `lesson` event's title, text, themes and section texts are all searched."""
    text = document({"type": "lesson", "seq": 9, "data": {
        "title": "Inclusion early", "text": "Bring women mediators in",
        "themes": ["gender", "process design"], "sections": {"What worked": "shuttle talks"},
    }})
    assert text is not None
    for word in ("Inclusion", "women", "gender", "process design", "What worked", "shuttle"):
        assert word in text
    assert document({"type": "advanced", "data": {"trigger": "x"}}) is None


def test_a_shared_store_is_searched_without_an_index():
    """search_store gives a MemoryStore's engagements the same hits as a workspace's index."""
    store = MemoryStore()
    engine = make_engine(store=store)
    _fill(engine)
    result = search_store(store, "lake", Filters(country="KEN"))
    assert [(h["engagement"], h["seq"]) for h in result.hits] == [("amani-2026", 1), ("amani-2026", 2)]
    assert result.total == 2 and result.unreadable == {}


def test_search_list_and_due_work_on_a_postgresql_store(pg_url: str):
    """On a shared store (no index folder) search, list and due still answer, from the store."""
    from lifecycle import PostgresStore

    store = PostgresStore(pg_url)
    try:
        _fill(make_engine(store=store))
    finally:
        store.close()
    env = {"LIFECYCLE_STORE": pg_url}
    result = run_cli("search", "lake", "--country", "KEN", "--json", env=env)
    assert result.returncode == 0, result.stderr
    hits = json.loads(result.stdout)["hits"]
    assert [(h["engagement"], h["seq"]) for h in hits] == [("amani-2026", 1), ("amani-2026", 2)]
    listed = run_cli("list", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    assert len(json.loads(listed.stdout)["engagements"]) == 3
    assert run_cli("due", "--json", env=env).returncode == 0
    refused = run_cli("index", env=env)
    assert refused.returncode == 2 and "no portfolio index" in refused.stderr


def test_search_finds_a_recorded_lesson_and_keeps_up_with_new_ones(ws: Path, engine: Engine):
    """A `lesson` recorded by the engine is found by its title, text, theme and section text,
    from the index and without it alike."""
    Portfolio(ws).update()
    engine.lesson(
        "boreal-2025",
        title="Sequencing the ceasefire",
        text="Talk to the fishermen first",
        themes=["ceasefire"],
        sections=["what-worked=shuttle diplomacy on the ice"],
        actor="officer",
    )
    for query in ("sequencing", "fishermen", "ceasefire", "shuttle ice"):
        hits, _ = _json(ws, "search", query)
        assert [(h["engagement"], h["type"]) for h in hits["hits"]] == [("boreal-2025", "lesson")]
        assert hits == _json(ws, "search", query, "--no-index")[0]


def test_a_history_dated_past_2262_is_read_every_time_not_trusted(ws: Path):
    """A history whose modification time does not fit the index's fingerprint (a clock set to
    the year 2400: more nanoseconds than a signed 64-bit number holds) is never trusted on its
    stat: each query verifies it again, and answers as the histories do."""
    path = _path(ws, "amani-2026")
    far = 13_569_465_600 * 10**9  # 2400-01-01
    os.utime(path, ns=(far, far))
    assert os.stat(path).st_mtime_ns == far > 2**63
    time.sleep(2.2)
    Portfolio(ws).update()
    update = Portfolio(ws).update()
    assert (update.trusted, update.verified) == (2, 1)
    truth, _ = _json(ws, "list", "--no-index")
    assert _json(ws, "list") == (truth, "")
