"""The portfolio index file, ``<workspace>/.lifecycle/index.sqlite`` (#14): never the truth.

SQLite from the standard library, in WAL mode (readers never wait for the one writer), with an
FTS5 table of search documents. The file says what it is: ``PRAGMA application_id`` is
:data:`APPLICATION_ID` and ``PRAGMA user_version`` :data:`FORMAT`, and its ``meta`` table names
the lifecycle code that filled it (rows are derived by replay: other code, other rows). A file that
is not SQLite, is corrupt, truncated, foreign or of another format, or a directory or special file
at its name, is thrown away: a new file is written beside it and renamed over it. An index filled
by other lifecycle code is thrown away the same way, silently. Any other SQLite failure (read-only,
busy for longer than :data:`BUSY_MS`, a full disk) makes the index :class:`Unavailable`: the
caller answers without it.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import stat
import struct
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from ._codeversion import code_version
from ._index_text import TOKENIZER
from ._listing import is_row_of

if TYPE_CHECKING:  # a warm query builds none of them (lifecycle._index: imports)
    from ._history import Anchor
    from ._index_read import Fresh

__all__ = [
    "APPLICATION_ID",
    "BUSY_MS",
    "FORMAT",
    "RACY_NS",
    "Corrupt",
    "IndexDB",
    "Unavailable",
    "proof",
    "stored_object",
]

APPLICATION_ID: Final = 0x4C434958  # "LCIX"
FORMAT: Final = 2  # 2: due items in a table of their own; a proof, not stat columns
BUSY_MS: Final = 2000
_SEQ_BITS: Final = 32  # a document's rowid: the engagement's key, then the event's seq
# A file modified this close to when it was read may change again within the same timestamp
# tick (file times are coarse): its fingerprint is not trusted, it is verified again next time.
RACY_NS: Final = 2_000_000_000
_SQLITE_CORRUPT: Final = 11
_SQLITE_NOTADB: Final = 26
_SCHEMA: Final = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    # The history's stat fingerprint is kept only as its proof (see _put): all a query compares.
    "CREATE TABLE engagements (key INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, "
    "seq INTEGER NOT NULL, head TEXT NOT NULL, start INTEGER NOT NULL, stop INTEGER NOT NULL, "
    "row TEXT NOT NULL, country TEXT, stage TEXT, playbook TEXT, active INTEGER NOT NULL, "
    "proof BLOB)",
    # What a warm query reads of every engagement, and nothing more: a small index to scan.
    "CREATE INDEX engagement_proofs ON engagements (name, proof)",
    # Each engagement's due items (as of any day: only "overdue" depends on today), with their
    # place in its own list (ord); rewritten whole with its row. Stored in the order `due` reads
    # them, Engine.due's (a table clustered on its key: one sequential scan, no lookups).
    "CREATE TABLE due (day TEXT NOT NULL, name TEXT NOT NULL, ident TEXT NOT NULL, "
    "ord INTEGER NOT NULL, key INTEGER NOT NULL, kind TEXT NOT NULL, title TEXT NOT NULL, "
    "source TEXT NOT NULL, PRIMARY KEY (day, name, ident, ord)) WITHOUT ROWID",
    "CREATE INDEX due_key ON due (key)",
    "CREATE VIRTUAL TABLE docs USING fts5(engagement UNINDEXED, seq UNINDEXED, type UNINDEXED, "
    f"body, tokenize='{TOKENIZER}')",
    # The lessons of each engagement (#15), rewritten whole with its row: see _index_lessons.
    "CREATE TABLE lessons (key INTEGER NOT NULL, name TEXT NOT NULL, seq INTEGER NOT NULL, "
    "day TEXT NOT NULL, at TEXT NOT NULL, title TEXT NOT NULL, text TEXT NOT NULL, "
    "stage TEXT NOT NULL, words TEXT NOT NULL, themes TEXT NOT NULL, country TEXT, "
    "conflict TEXT NOT NULL, conflict_words TEXT NOT NULL, row TEXT NOT NULL, "
    "PRIMARY KEY (key, seq))",
    "CREATE INDEX lessons_country ON lessons (country)",
    "CREATE INDEX lessons_conflict ON lessons (conflict)",
)
_LESSON_INSERT: Final = (
    "INSERT INTO lessons (key, name, seq, day, at, title, text, stage, words, themes, country, "
    "conflict, conflict_words, row) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_KNOWN: Final = "SELECT seq, head, start, stop FROM engagements WHERE name = ?"
# Per history: its proof when it can be trusted on its stat (read whole, and not modified within
# RACY_NS of being read: decided when the row is written), else NULL.
_FINGERPRINTS: Final = "SELECT name, proof FROM engagements INDEXED BY engagement_proofs"
# Every stored row as one JSON array of [id, row], by engagement id: one statement (one
# snapshot of the table), one decode in C. Ids need no quoting (ENGAGEMENT_ID: [A-Za-z0-9._-]).
_ROWS: Final = (
    "SELECT '[' || ifnull(group_concat('[\"' || name || '\",' || row || ']', ','), '') || ']' "
    "FROM (SELECT name, row FROM engagements ORDER BY name)"
)
_DUE: Final = "SELECT name, kind, ident, title, day, source FROM due ORDER BY day, name, ident, ord"
# A due item with a member that is not text, which this code never stores (one scan, in C).
_DUE_BAD: Final = (
    "SELECT 1 FROM due WHERE typeof(name) || typeof(kind) || typeof(ident) || typeof(title) "
    "|| typeof(day) || typeof(source) != 'texttexttexttexttexttext' LIMIT 1"
)
# The search filters, as `list` applies them (a NULL parameter: no filter), on the engagement of
# each matching document (its key is the rowid's high bits); SQLite sorts and counts in C.
_FROM: Final = (
    f"FROM docs d JOIN engagements e ON e.key = (d.rowid >> {_SEQ_BITS}) WHERE docs MATCH :expression "
    "AND (:country IS NULL OR e.country = :country) AND (:stage IS NULL OR e.stage = :stage) "
    "AND (:playbook IS NULL OR e.playbook = :playbook) AND (:active = 0 OR e.active = 1)"
)
_HITS: Final = f"SELECT e.name, d.rowid {_FROM} ORDER BY e.name, d.rowid LIMIT :limit"
_COUNT: Final = f"SELECT count(*) {_FROM}"
_SNIPPETS: Final = (
    "SELECT rowid, type, snippet(docs, 3, '[', ']', '...', 12) FROM docs "
    "WHERE docs MATCH ? AND rowid IN ({})"
)
_MASK: Final = (1 << _SEQ_BITS) - 1

Row = dict[str, Any]  # Any: a JSON object, as `list --json` prints it.
Hit = tuple[str, int, str, str]  # engagement, seq, event type, snippet
Raw = tuple[Any, ...]  # Any: a row of the engagements table as SQLite gives it
DueRow = tuple[str, str, str, str, str, str]  # engagement, kind, id, title, day, source


class Corrupt(Exception):
    """The index file is damaged (or not an index): it is to be thrown away and rebuilt."""


class _Stale(Exception):
    """The index was filled by other lifecycle code: its rows (and tables) are not this code's."""


class Unavailable(Exception):
    """The index cannot be used now (read-only, busy, a full disk): answer without it."""


@contextlib.contextmanager
def _translated() -> Iterator[None]:
    """SQLite's errors as :class:`Corrupt` (damage) or :class:`Unavailable` (anything else)."""
    try:
        yield
    except sqlite3.Error as exc:
        code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF
        if code in (_SQLITE_CORRUPT, _SQLITE_NOTADB):
            raise Corrupt(str(exc)) from None
        raise Unavailable(str(exc)) from None
    except OSError as exc:
        raise Unavailable(exc.strerror or str(exc)) from None


class IndexDB:
    """One open index: in its file, or (``path=None``) in memory for an answer without one."""

    def __init__(self, conn: sqlite3.Connection, path: Path | None) -> None:
        self._conn = conn
        self.path = path
        self.replaced: str | None = None

    @classmethod
    def memory(cls) -> IndexDB:
        """An empty index in memory (nothing persists)."""
        conn = sqlite3.connect(":memory:", isolation_level=None)
        for statement in _SCHEMA:
            conn.execute(statement)
        return cls(conn, None)

    @classmethod
    def open(cls, path: Path, *, fresh: bool = False) -> IndexDB:
        """The index at *path*, created (or, with *fresh* or when damaged, replaced) as needed;
        :attr:`replaced` says why a damaged or foreign file was thrown away.

        Raises:
            Corrupt: It was damaged and could not be replaced.
            Unavailable: It cannot be opened or created here.
        """
        with _translated():
            why = None
            kind = _kind(path)
            if fresh or kind != "a regular file":
                if kind not in (None, "a regular file"):
                    why = f"{kind} had the index's name"
                    _discard(path)
                _replace(path)
            try:
                db = cls._checked(path)
            except _Stale:  # rows (and maybe tables) of other code: a new file, nothing to say
                _replace(path)
                db = cls._checked(path)
            except Corrupt as exc:
                why = f"not a usable index ({exc})"
                _replace(path)
                db = cls._checked(path)
            db.replaced = why
            return db

    @classmethod
    def _checked(cls, path: Path) -> IndexDB:
        with _translated():
            conn = sqlite3.connect(path, isolation_level=None, timeout=BUSY_MS / 1000)
            try:
                conn.execute(f"PRAGMA busy_timeout = {BUSY_MS}")
                ident = conn.execute("PRAGMA application_id").fetchone()[0]
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                if ident == APPLICATION_ID and version != FORMAT:
                    raise _Stale(f"format {version}")  # ours, of other code: replaced silently
                if (ident, version) != (APPLICATION_ID, FORMAT):
                    raise Corrupt(f"application id {ident:#x}, format {version}: not this index")
                conn.execute("PRAGMA synchronous = NORMAL")  # a cache: WAL keeps it whole
                meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
                if meta.get("code") != code_version():
                    raise _Stale(str(meta.get("code")))
            except BaseException:
                conn.close()
                raise
        return cls(conn, path)

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    def fingerprints(self) -> dict[str, bytes | None]:
        """Every engagement the index holds, by id, with the :func:`proof` that shows its
        history unchanged, or None when no ``stat`` can (see :meth:`_put`): one scan of a small
        index, the dict made in C."""
        with _translated():
            return dict(self._conn.execute(_FINGERPRINTS))

    def known(self, name: str) -> Anchor | None:
        """The head line the index last read of one history (None: it holds none)."""
        from ._history import Anchor

        with _translated():
            raw = self._conn.execute(_KNOWN, (name,)).fetchone()
        return None if raw is None else Anchor(*raw)

    def rows(self) -> list[tuple[str, Row]]:
        """Every stored ``list`` row, by engagement id.

        Raises:
            Corrupt: The stored rows are not the JSON this code writes.
        """
        with _translated():
            text = self._conn.execute(_ROWS).fetchone()[0]
        try:
            pairs: list[tuple[str, Row]] = json.loads(text)
        except ValueError as exc:
            raise Corrupt(f"its rows are not JSON ({exc})") from None
        try:  # a row this code could not have written (row_of's members and types) is damage
            whole = type(pairs) is list and all(is_row_of(name, row) for name, row in pairs)
        except (TypeError, ValueError):  # not a list of [id, row] pairs
            whole = False
        if not whole:
            raise Corrupt("a stored row is not a list row")
        return pairs

    def due(self) -> list[DueRow]:
        """Every stored due item, as ``(engagement, kind, id, title, day, source)``, soonest
        first (then by engagement, id, and each engagement's own order).

        Raises:
            Corrupt: A stored due item is not text, which this code never stores.
        """
        with _translated():
            if self._conn.execute(_DUE_BAD).fetchone() is not None:
                raise Corrupt("a stored due item is not text")
            return self._conn.execute(_DUE).fetchall()

    def select(self, sql: str, params: Sequence[object] | Mapping[str, object]) -> list[Raw]:
        """The rows of one read-only query (as :mod:`~lifecycle._index_lessons` makes them)."""
        with _translated():
            return self._conn.execute(sql, params).fetchall()

    def hits(
        self, expression: str, filters: Mapping[str, object], limit: int | None
    ) -> tuple[list[Hit], int]:
        """The first *limit* documents matching FTS5 *expression* in engagements passing
        *filters* (country, stage, playbook, active), by engagement and seq; and their count.

        Only rowids are read for every match (the posting lists, no stored text), sorted, cut at
        *limit* and counted by SQLite; snippets are made for the hits shown only.

        Raises:
            Corrupt: A hit's engagement, type or snippet is not text, or it has no document.
        """
        params = {
            **filters,
            "active": int(bool(filters.get("active"))),
            "expression": expression,
            "limit": -1 if limit is None else limit,  # SQLite: a negative LIMIT is none
        }
        with _translated():
            shown = [
                (name, rowid & _MASK, rowid) for name, rowid in self._conn.execute(_HITS, params)
            ]
            total = self._conn.execute(_COUNT, params).fetchone()[0]
            texts: dict[int, tuple[str, str]] = {}
            for start in range(0, len(shown), 500):
                rowids = [rowid for _, _, rowid in shown[start : start + 500]]
                query = _SNIPPETS.format(", ".join("?" * len(rowids)))
                for rowid, kind, snippet in self._conn.execute(query, (expression, *rowids)):
                    texts[rowid] = (kind, snippet)
        try:  # what this code stores: text, and a document for every hit
            found = [(name, seq, *texts[rowid]) for name, seq, rowid in shown]
        except KeyError:
            raise Corrupt("a hit has no stored document") from None
        if not all(type(a) is str and type(b) is str and type(c) is str for a, _, b, c in found):
            raise Corrupt("a stored document is not text")
        return found, total

    def commit(
        self, fresh: Sequence[Fresh], base: Mapping[str, Anchor], dropped: Sequence[str]
    ) -> None:
        """Write *fresh* rows and documents and drop *dropped* engagements, in one transaction.

        A row read as an append after *base* is skipped when another process moved that
        engagement's row in the meantime (the next query verifies it again).
        """
        with _translated():
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                for name in dropped:
                    self._drop(name)
                for item in fresh:
                    self._put(item, base.get(item.name))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def _drop(self, name: str) -> None:
        found = self._conn.execute("SELECT key FROM engagements WHERE name = ?", (name,))
        for (key,) in found.fetchall():
            self._delete_docs(key, 0)
            self._conn.execute("DELETE FROM lessons WHERE key = ?", (key,))
            self._conn.execute("DELETE FROM due WHERE key = ?", (key,))
        self._conn.execute("DELETE FROM engagements WHERE name = ?", (name,))

    def _put(self, item: Fresh, base: Anchor | None) -> None:
        conn = self._conn
        now = conn.execute(
            "SELECT key, seq, head, stop FROM engagements WHERE name = ?", (item.name,)
        ).fetchone()
        if not item.replace:
            ours = None if base is None else (base.seq, base.head, base.end)
            if now is None or tuple(now[1:]) != ours:
                return  # another process has moved this row on: leave it to be verified
        st, anchor = item.stat, item.anchor
        values = (
            *(anchor.seq, anchor.head, anchor.start, anchor.end),
            json.dumps(item.row, ensure_ascii=False),
            *(item.row.get("country"), item.row.get("stage"), item.row.get("playbook")),
            int(not item.row.get("final")),
            # Trusted on its stat later only if read whole up to its end, and not modified
            # within RACY_NS of being read (file times are coarse): decided here, once.
            proof(st.size, st.mtime_ns, st.ctime_ns, st.ino)
            if st.size == anchor.end and max(st.mtime_ns, st.ctime_ns) < item.seen_ns - RACY_NS
            else None,
        )
        if now is None:
            key = conn.execute(
                "INSERT INTO engagements (name, seq, head, start, stop, row, country, stage, "
                "playbook, active, proof) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (item.name, *values),
            ).lastrowid
        else:
            key = now[0]
            conn.execute(
                "UPDATE engagements SET seq = ?, head = ?, start = ?, stop = ?, row = ?, "
                "country = ?, stage = ?, playbook = ?, active = ?, proof = ? WHERE key = ?",
                (*values, key),
            )
        assert key is not None  # an INSERT always has a rowid
        conn.execute("DELETE FROM due WHERE key = ?", (key,))
        conn.executemany(
            "INSERT INTO due (day, name, ident, ord, key, kind, title, source) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (day, item.name, ident, place, key, kind, title, source)
                for place, (kind, ident, title, day, source) in enumerate(item.due)
            ],
        )
        conn.execute("DELETE FROM lessons WHERE key = ?", (key,))
        conn.executemany(_LESSON_INSERT, [(key, item.name, *entry) for entry in item.lessons])
        self._delete_docs(key, 0 if item.replace or base is None else base.seq)
        conn.executemany(
            "INSERT INTO docs (rowid, engagement, seq, type, body) VALUES (?, ?, ?, ?, ?)",
            [
                ((key << _SEQ_BITS) | seq, item.name, seq, kind, text)
                for seq, kind, text in item.docs
            ],
        )

    def _delete_docs(self, key: int, after: int) -> None:
        low = (key << _SEQ_BITS) | (after + 1)
        high = (key << _SEQ_BITS) | ((1 << _SEQ_BITS) - 1)
        self._conn.execute("DELETE FROM docs WHERE rowid BETWEEN ? AND ?", (low, high))


_PROOF: Final = struct.Struct("<QqqQ")  # size, mtime_ns, ctime_ns, inode


def proof(size: int, mtime_ns: int, ctime_ns: int, ino: int) -> bytes | None:
    """The bytes that stand for a history's fingerprint (None for one they cannot hold, a
    file time past the year 2262: such a history is read every time)."""
    try:
        return _PROOF.pack(size, mtime_ns, ctime_ns, ino)
    except struct.error:
        return None


def stored_object(text: object) -> Row:
    """A JSON object the index stored (a lesson's row).

    Raises:
        Corrupt: It is not one: this code could not have written it.
    """
    try:
        found = json.loads(text)  # type: ignore[arg-type]  # TypeError: not text at all
    except (TypeError, ValueError) as exc:
        raise Corrupt(f"a stored row is not JSON ({exc})") from None
    if type(found) is not dict:
        raise Corrupt("a stored row is not a JSON object")
    return found


def _kind(path: Path) -> str | None:
    """What is at *path* ("a regular file", "a directory", ...), None when nothing is."""
    from ._files import kind_of

    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return None
    return "a regular file" if stat.S_ISREG(mode) else kind_of(mode)


def _discard(path: Path) -> None:
    """Remove whatever has the index's name (the index folder is the index's own)."""
    if os.path.isdir(path) and not os.path.islink(path):
        import shutil  # here, as tempfile below: a warm query replaces nothing (#14)

        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def _replace(path: Path) -> None:
    """Write a new, empty index beside *path* and rename it over whatever was there."""
    path.parent.mkdir(exist_ok=True)
    import tempfile

    fd, name = tempfile.mkstemp(dir=path.parent, prefix=".index-", suffix=".sqlite.tmp")
    os.close(fd)
    temp = Path(name)
    try:
        conn = sqlite3.connect(temp, isolation_level=None)
        try:
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version = {FORMAT}")
            for statement in _SCHEMA:
                conn.execute(statement)
            conn.execute("INSERT INTO meta VALUES ('format', 'lifecycle-index')")
            conn.execute("INSERT INTO meta VALUES ('code', ?)", (code_version(),))
            conn.execute("PRAGMA journal_mode = WAL")
        finally:
            conn.close()
        for stale in ("-wal", "-shm", "-journal"):  # the old file's: never applied to the new
            Path(f"{path}{stale}").unlink(missing_ok=True)
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)
