"""The PostgreSQL store, for an office whose staff work from several machines (#11).

Each event's line is stored as the exact bytes the file store writes (``lifecycle_events.line``),
so ``seq``, ``prev`` and ``hash`` are the same and an export is byte-identical. A command's
session locks the engagement's row (``SELECT ... FOR UPDATE``); each append is committed on its
own, with ``synchronous_commit`` on, before it is acknowledged, and the row is locked again at
once for the rest of the session, unless the append was the session's last (``last=True``, as
every engine command's is): then its commit ends the lock. ``(engagement, seq)`` is unique, so a
writer that lost its lock can never add a second event at a seq. psycopg is imported only when a
store connects.

Round trips are what an append costs beyond the commit's flush, so the connection runs in
autocommit and opens its transactions itself: taking the session's lock is one round trip
(``BEGIN``, the settings, ``SELECT ... FOR UPDATE``: the command's keyring and lifecycle.toml
checks read the settings of that moment without a round trip of their own), an append is one
(the line, the head, ``COMMIT``, and the lock again unless it was the last), and a read is
one: an engine command that appends is two round trips in all, or one as an attempt
(``_pgattempt``: a command on the engine's last state, stored only if nothing moved).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from .._config import CONFIG_NAME, Config, parse_config
from .._files import lock_timeout
from .._history import SUFFIX, Anchor, Record, Session, _verify, check_size
from .._lines import decode_line
from .._workspace import check_engagement_id
from ..exceptions import (
    ConcurrencyConflict,
    EngagementExistsError,
    HistoryBusyError,
    HistoryError,
    NotFoundError,
)
from ._pgattempt import attempt, settings_digest
from ._schema import MIGRATIONS, SCHEMA_VERSION

if TYPE_CHECKING:
    from .._state import Engagement

__all__ = ["PostgresStore", "is_postgres_url"]

_PASSWORD = re.compile(r"(://[^:/@]*):[^@/]*@")
# An append: the line and the head move together and are committed, in one round trip (the
# server answers once the commit is flushed; on any error it runs none of what follows). Unless
# the append is the session's last, the engagement is then held again for the rest of it.
_APPEND = (
    "WITH added AS (INSERT INTO lifecycle_events (engagement, seq, hash, line) "
    "VALUES (%s, %s, %s, %s) RETURNING engagement) "
    "UPDATE lifecycle_engagements SET head_seq = %s, head_hash = %s "
    "WHERE id = (SELECT engagement FROM added); COMMIT"
)
_RELOCK = "; BEGIN; SELECT 1 FROM lifecycle_engagements WHERE id = %s FOR UPDATE"
_LINE_HASH = re.compile(rb',"hash":"([0-9a-f]{64})"\}\n\Z')


def line_hash(line: bytes) -> str:
    """The hash member a line ends with, as stored beside it ("" if it has none)."""
    match = _LINE_HASH.search(line)
    return match.group(1).decode() if match else ""


def is_postgres_url(text: str) -> bool:
    """Whether *text* names a PostgreSQL store."""
    return text.startswith(("postgresql://", "postgres://"))


def _psycopg() -> Any:
    # Any: the psycopg module, imported only here so `import lifecycle` never needs it.
    try:
        import psycopg
    except ImportError:
        raise HistoryError(
            "postgresql", "this store needs psycopg: pip install 'lifecycle[postgresql]'"
        ) from None
    return psycopg


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


class PostgresStore:
    """Every engagement of one workspace, in a PostgreSQL schema (the URL's ``search_path``)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._conn: Any = None  # Any: a psycopg.Connection, made on first use.
        self._config: tuple[bytes | None, Config] | None = None  # parsed, by its bytes
        self._held: dict[str, bytes] | None = None  # the settings, while a session holds a lock
        # The settings last read with a lock, and their digest: what an attempt runs on.
        self.seen: tuple[dict[str, bytes], str] | None = None

    @property
    def label(self) -> str:
        """The URL, without its password."""
        return _PASSWORD.sub(r"\1@", self.url)

    def label_of(self, engagement: str) -> str:
        """``<url>/<id>.history.jsonl``."""
        return f"{self.label}/{engagement}{SUFFIX}"

    # ------------------------------------------------------------------ connection

    def connection(self) -> Any:
        """The store's connection, made and checked on first use (schema version known).

        Raises:
            HistoryError: No server, no psycopg, or a schema missing or newer than this code.
        """
        # Any: a psycopg.Connection.
        if self._conn is None or self._conn.closed:
            self._conn = self._connect()
            with self.guard(self.label):
                version = self._schema_version(self._conn)
            if version == 0:
                raise HistoryError(
                    self.label, "no lifecycle schema here: run `lifecycle store init`"
                )
            if version > SCHEMA_VERSION:
                raise HistoryError(
                    self.label,
                    f"the schema is version {version}, newer than this lifecycle knows "
                    f"({SCHEMA_VERSION}): upgrade lifecycle",
                )
        return self._conn

    def _connect(self) -> Any:
        psycopg = _psycopg()
        try:
            conn = psycopg.connect(
                self.url, connect_timeout=10, application_name="lifecycle", autocommit=True
            )
        except psycopg.Error as exc:
            raise HistoryError(self.label, f"cannot connect: {_first_line(exc)}") from None
        wait = f"{round(lock_timeout() * 1000)}ms"
        with self.guard(self.label):
            # Acknowledged means committed and flushed: never trust an asynchronous commit.
            conn.execute("SELECT set_config('synchronous_commit', 'on', false)")
            conn.execute("SELECT set_config('lock_timeout', %s, false)", (wait,))
        return conn

    @staticmethod
    def _schema_version(conn: Any) -> int:
        # Any: a psycopg.Connection.
        if conn.execute("SELECT to_regclass('lifecycle_schema')").fetchone()[0] is None:
            return 0
        row = conn.execute("SELECT max(version) FROM lifecycle_schema").fetchone()
        return int(row[0] or 0)

    def close(self) -> None:
        """Close the connection (a later use opens a new one)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @contextlib.contextmanager
    def guard(self, label: str) -> Iterator[None]:
        """Turn database errors into one-line :class:`HistoryError`\\ s naming *label*."""
        psycopg = _psycopg()
        try:
            yield
        except psycopg.errors.LockNotAvailable:
            self._rollback()
            raise HistoryBusyError(label, lock_timeout()) from None
        except psycopg.OperationalError as exc:
            self.close()
            raise HistoryError(
                label,
                f"the database connection was lost ({_first_line(exc)}); nothing was "
                "acknowledged, and nothing is ever stored half",
            ) from None
        except psycopg.Error as exc:
            self._rollback()
            raise HistoryError(label, f"database error: {_first_line(exc)}") from None

    def _rollback(self) -> None:
        with contextlib.suppress(Exception):  # a broken connection: the server rolls back
            self._conn.rollback()

    # ------------------------------------------------------------------ schema

    def init(self) -> tuple[int, int]:
        """Create or migrate the schema; return (version before, version after).

        Raises:
            HistoryError: The schema is newer than this code, or the database refuses.
        """
        conn = self._connect()
        try:
            with self.guard(self.label):
                conn.execute("BEGIN")
                conn.execute("SELECT pg_advisory_xact_lock(hashtext('lifecycle_schema'))")
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS lifecycle_schema "
                    "(version integer PRIMARY KEY, applied timestamptz NOT NULL DEFAULT now())"
                )
                before = self._schema_version(conn)
                if before > SCHEMA_VERSION:
                    conn.rollback()
                    raise HistoryError(
                        self.label,
                        f"the schema is version {before}, newer than this lifecycle knows "
                        f"({SCHEMA_VERSION}): refusing to touch it",
                    )
                for version, statements in MIGRATIONS:
                    if version > before:
                        for statement in statements:
                            conn.execute(statement)
                        conn.execute(
                            "INSERT INTO lifecycle_schema (version) VALUES (%s)", (version,)
                        )
                conn.commit()
        finally:
            conn.close()
        return before, SCHEMA_VERSION

    def put_settings(self, name: str, body: bytes) -> None:
        """Store workspace settings file *name* for every user of the store."""
        conn = self.connection()
        with self.guard(self.label):
            conn.execute(
                "INSERT INTO lifecycle_settings (name, body) VALUES (%s, %s) "
                "ON CONFLICT (name) DO UPDATE SET body = EXCLUDED.body",
                (name, body),
            )  # autocommit: one statement, committed on its own
        self._config = None
        self.seen = None

    # ------------------------------------------------------------------ the Store interface

    def engagements(self) -> list[str]:
        """Every engagement id, sorted as Python sorts them."""
        rows = self._query("SELECT id FROM lifecycle_engagements")
        return sorted(row[0] for row in rows)

    def require(self, engagement: str) -> None:
        """NotFoundError unless *engagement* exists."""
        check_engagement_id(engagement)
        rows = self._query("SELECT 1 FROM lifecycle_engagements WHERE id = %s", (engagement,))
        if not rows:
            raise NotFoundError("engagement", engagement, f"(not in {self.label})")

    def create(self, engagement: str, created: str, first: Mapping[str, Any]) -> Record:
        """Insert the header and the first event in one transaction."""
        from .._history import _first_lines

        check_engagement_id(engagement)
        lines, record = _first_lines(engagement, created, first)
        header, line = lines.split(b"\n")[0] + b"\n", lines[lines.index(b"\n") + 1 :]
        self._insert({engagement: [header, line]})
        return record

    def load(self, histories: Mapping[str, bytes]) -> None:
        """Insert whole histories in one transaction: all of them, or none."""
        for engagement in histories:
            check_engagement_id(engagement)
        self._insert({e: data.splitlines(keepends=True) for e, data in histories.items()})

    def _insert(self, histories: Mapping[str, list[bytes]]) -> None:
        psycopg = _psycopg()
        conn = self.connection()
        with self.guard(self.label):
            try:
                conn.execute("BEGIN")  # all the histories, or none
                self._copy(conn, histories)
                conn.commit()
            except psycopg.errors.UniqueViolation:
                conn.rollback()
                taken = [e for e in histories if self._exists(conn, e)]
                conn.rollback()
                raise EngagementExistsError(
                    self.label_of(taken[0] if taken else next(iter(histories))),
                    "the engagement exists already",
                ) from None

    @staticmethod
    def _copy(conn: Any, histories: Mapping[str, list[bytes]]) -> None:
        # Any: a psycopg.Connection. COPY: a 10,000-engagement import is one round trip.
        rows = [
            (engagement, seq, decode_line(line.rstrip(b"\n"))[1], line)
            for engagement, lines in histories.items()
            for seq, line in enumerate(lines)
        ]
        heads = {engagement: (seq, digest) for engagement, seq, digest, _ in rows}
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO lifecycle_engagements (id, head_seq, head_hash) VALUES (%s, %s, %s)",
                [(e, seq, digest) for e, (seq, digest) in heads.items()],
            )
            with cur.copy("COPY lifecycle_events (engagement, seq, hash, line) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)

    @staticmethod
    def _exists(conn: Any, engagement: str) -> bool:
        # Any: a psycopg.Connection.
        row = conn.execute("SELECT 1 FROM lifecycle_engagements WHERE id = %s", (engagement,))
        return row.fetchone() is not None

    @contextlib.contextmanager
    def session(self, engagement: str, after: Anchor | None = None) -> Iterator[Session]:
        """Lock the engagement's row, read and verify, and yield a session."""
        label = self.label_of(engagement)
        conn = self.connection()
        with self.guard(label):
            check_engagement_id(engagement)
            # The settings come in the same round trip, read in the lock's transaction: the
            # command's keyring and lifecycle.toml checks need no round trip of their own.
            held, row = self._lock_and_settings(conn, engagement)
            if self.seen is None or self.seen[0] != held:
                self.seen = (held, settings_digest(held))
            if row is None:
                conn.rollback()
                raise NotFoundError("engagement", engagement, f"(not in {self.label})")
            if after is not None and (after.seq, after.head) == tuple(row):
                records: list[Record] = []  # the caller's state is the head: nothing to read
                anchor = after
            else:
                records, anchor = self._read(conn, engagement, after)
        session = Session(label, records, anchor.seq, anchor.head, write=lambda _: None)
        session._write = lambda line: self._append(conn, engagement, session, line)
        session.anchor = anchor
        self._held = held
        try:
            yield session
        finally:
            self._held = None
            # Every append is committed already (which ended the lock); without one this ends
            # the lock (no round trip when nothing is open).
            self._rollback()

    def attempt(self, engagement: str, after: Anchor) -> contextlib.AbstractContextManager[Session]:
        """A session on *after* without the lock, whose one append is a single statement
        (docs/stores.md, "Attempts"; raises StaleAttempt when the head or settings moved)."""
        return attempt(self, engagement, after)

    def _lock_and_settings(
        self, conn: Any, engagement: str
    ) -> tuple[dict[str, bytes], tuple[int, str] | None]:
        """One round trip: begin, read every setting, lock the engagement's row (its head)."""
        # Any: a psycopg.Connection.
        cur = _psycopg().ClientCursor(conn)
        cur.execute(
            "BEGIN; SELECT name, body FROM lifecycle_settings; "
            "SELECT head_seq, head_hash FROM lifecycle_engagements WHERE id = %s FOR UPDATE",
            (engagement,),
        )
        cur.nextset()  # BEGIN's empty result, then the settings
        held = {str(name): bytes(body) for name, body in cur.fetchall()}
        cur.nextset()
        row = cur.fetchone()
        return held, None if row is None else (int(row[0]), str(row[1]))

    def _append(self, conn: Any, engagement: str, session: Session, line: bytes) -> None:
        # Any: a psycopg.Connection.
        psycopg = _psycopg()
        seq = session.head_seq + 1
        check_size(session.label, line)
        digest = line_hash(line)
        with self.guard(session.label):
            if conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
                self._relock(conn, engagement, session)  # an append after the "last" one
            params: tuple[object, ...] = (engagement, seq, digest, line, seq, digest)
            try:
                if session.last:
                    psycopg.ClientCursor(conn).execute(_APPEND, params)
                else:
                    psycopg.ClientCursor(conn).execute(_APPEND + _RELOCK, (*params, engagement))
            except psycopg.errors.UniqueViolation:
                conn.rollback()
                raise ConcurrencyConflict(session.label, session.head_seq, seq) from None

    def _relock(self, conn: Any, engagement: str, session: Session) -> None:
        """Take the engagement's row again; the head must still be the session's own."""
        # Any: a psycopg.Connection.
        _, row = self._lock_and_settings(conn, engagement)
        if row != (session.head_seq, session.head_hash):
            conn.rollback()
            moved = session.head_seq if row is None else row[0]
            raise ConcurrencyConflict(session.label, session.head_seq, moved)

    def read_after(
        self, engagement: str, after: Anchor | None = None
    ) -> tuple[list[Record], Anchor]:
        """The verified events after *after* (all of them when it no longer holds)."""
        conn = self.connection()
        with self.guard(self.label_of(engagement)):
            return self._read(conn, engagement, after)  # each statement checked on its own

    def _read(
        self, conn: Any, engagement: str, after: Anchor | None
    ) -> tuple[list[Record], Anchor]:
        # Any: a psycopg.Connection.
        label = self.label_of(engagement)
        if after is not None:
            row = conn.execute(
                "SELECT hash FROM lifecycle_events WHERE engagement = %s AND seq = %s",
                (engagement, after.seq),
            ).fetchone()
            if row is not None and row[0] == after.head:
                data = self._bytes(conn, engagement, after.seq + 1)
                return _verify(label, data, after)
        data = self._bytes(conn, engagement, 0)
        return _verify(label, data, None, engagement)

    @staticmethod
    def _bytes(conn: Any, engagement: str, start: int) -> bytes:
        # Any: a psycopg.Connection.
        rows = conn.execute(
            "SELECT line FROM lifecycle_events WHERE engagement = %s AND seq >= %s ORDER BY seq",
            (engagement, start),
        ).fetchall()
        return b"".join(bytes(row[0]) for row in rows)

    def lines(self, engagement: str) -> Iterator[bytes]:
        """The stored lines, header first, streamed from a server-side cursor."""
        self.require(engagement)
        conn = self.connection()
        with self.guard(self.label_of(engagement)):
            try:
                conn.execute("BEGIN")  # a server-side cursor lives in a transaction
                with conn.cursor(name="lifecycle_lines") as cur:
                    cur.itersize = 2000
                    cur.execute(
                        "SELECT line FROM lifecycle_events WHERE engagement = %s ORDER BY seq",
                        (engagement,),
                    )
                    for row in cur:
                        yield bytes(row[0])
            finally:
                self._rollback()

    def settings(self, name: str) -> bytes | None:
        """The bytes of settings file *name*, as ``store init --settings`` stored them (inside a
        session, as read with its lock)."""
        if self._held is not None:
            return self._held.get(name)
        rows = self._query("SELECT body FROM lifecycle_settings WHERE name = %s", (name,))
        return bytes(rows[0][0]) if rows else None

    def roles_of(self, actor: str) -> tuple[str, ...]:
        """The roles the stored ``lifecycle.toml`` gives *actor*."""
        raw = self.settings(CONFIG_NAME)  # the server's now (another machine may change it)
        if self._config is None or self._config[0] != raw:
            label = f"{self.label} (setting {CONFIG_NAME})"
            self._config = (raw, Config() if raw is None else parse_config(raw, label))
        return self._config[1].roles_of(actor)

    def summaries(self) -> dict[str, Any]:
        """The listing rows cached for engagements whose head has not moved since."""
        # Any: JSON objects.
        rows = self._query(
            "SELECT id, summary FROM lifecycle_engagements WHERE summary_seq = head_seq"
        )
        return {row[0]: row[1] for row in rows}

    def save_summaries(self, rows: Mapping[str, tuple[int, Mapping[str, Any]]]) -> None:
        """Cache listing rows (each valid while the head is at its seq); only a cache."""
        psycopg = _psycopg()
        conn = self.connection()
        with self.guard(self.label):
            # A cache: losing it in a crash costs a replay, so it need not wait for the disk.
            conn.execute("BEGIN")
            conn.execute("SET LOCAL synchronous_commit = off")
            with conn.cursor() as cur:
                cur.executemany(
                    "UPDATE lifecycle_engagements SET summary_seq = %s, summary = %s "
                    "WHERE id = %s AND head_seq = %s",
                    [
                        (seq, psycopg.types.json.Jsonb(dict(row)), e, seq)
                        for e, (seq, row) in rows.items()
                    ],
                )
            conn.commit()

    def load_snapshot(self, engagement: str) -> tuple[Engagement, Anchor] | None:
        """None: this store keeps no snapshots (docs/stores.md)."""
        return None

    def save_snapshot(self, engagement: str, state: Engagement, anchor: Anchor) -> None:
        """Nothing: this store keeps no snapshots."""

    def remove_snapshot(self, engagement: str) -> None:
        """Nothing: this store keeps no snapshots."""

    def _query(self, sql: str, params: tuple[object, ...] = ()) -> list[Any]:
        # Any: result rows.
        conn = self.connection()
        with self.guard(self.label):
            # Autocommit: one round trip, and no transaction of a session is ended by it.
            return list(conn.execute(sql, params).fetchall())
