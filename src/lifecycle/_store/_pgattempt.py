"""An engine command on PostgreSQL in one round trip (docs/stores.md, "Attempts").

The engine runs the command on its own last state (its anchor) and the settings this store last
read with a lock. The command's one append is then a single statement, committed on its own:
it locks the engagement's row, and inserts the line and moves the head only if the head is still
the anchor and the settings still hash to what the command read. Otherwise it stores nothing and
:class:`StaleAttempt` sends the command back to run under the lock. A command that appends
nothing asks, at its end, whether the head and settings it read were current (one round trip).
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from .._attempt import StaleAttempt
from .._history import Anchor, Session, check_size

if TYPE_CHECKING:
    from ._postgres import PostgresStore

__all__ = ["attempt", "settings_digest"]

# What the settings hash to, on the server: each file's name and SHA-256, in code-point order.
_DIGEST = (
    "(SELECT coalesce(string_agg(name || ':' || encode(sha256(body), 'hex'), ',' "
    "ORDER BY name COLLATE \"C\"), '') FROM lifecycle_settings)"
)
# One statement, so one implicit transaction: lock, check, insert, move the head, commit.
_APPEND_IF = (
    "WITH head AS (SELECT id FROM lifecycle_engagements WHERE id = %s AND head_seq = %s "
    f"AND head_hash = %s AND {_DIGEST} = %s FOR UPDATE), "
    "added AS (INSERT INTO lifecycle_events (engagement, seq, hash, line) "
    "SELECT id, %s, %s, %s FROM head RETURNING engagement), "
    "moved AS (UPDATE lifecycle_engagements SET head_seq = %s, head_hash = %s "
    "WHERE id = (SELECT engagement FROM added) RETURNING id) "
    # 1 stored, 0 stale; a line stored without its head moved divides by zero: nothing is kept.
    "SELECT a.n / (CASE WHEN a.n > m.n THEN 0 ELSE 1 END) "
    "FROM (SELECT count(*) AS n FROM added) a, (SELECT count(*) AS n FROM moved) m"
)
_CURRENT = f"SELECT head_seq, head_hash, {_DIGEST} FROM lifecycle_engagements WHERE id = %s"


def settings_digest(held: Mapping[str, bytes]) -> str:
    """The client's copy of :data:`_DIGEST` for settings read with a lock."""
    return ",".join(f"{name}:{hashlib.sha256(held[name]).hexdigest()}" for name in sorted(held))


@contextlib.contextmanager
def attempt(store: PostgresStore, engagement: str, after: Anchor) -> Iterator[Session]:
    """A session on *after* and the settings last read with a lock, holding nothing.

    Raises:
        StaleAttempt: The head or the settings moved since: nothing was written.
    """
    seen = store.seen
    if seen is None:  # no settings read with a lock yet in this process: lock as usual
        with store.session(engagement, after) as session:
            yield session
        return
    held, digest = seen
    conn = store.connection()
    label = store.label_of(engagement)
    session = Session(label, [], after.seq, after.head, write=lambda _: None)
    session.anchor = after
    wrote: list[bytes] = []

    def write(line: bytes) -> None:
        if wrote or not session.last:  # more appends may follow: hold the row, as a session does
            if not wrote:
                _lock_current(store, conn, engagement, after, digest)
            store._append(conn, engagement, session, line)
        else:
            _append_if(store, conn, engagement, session, line, digest)
        wrote.append(line)

    session._write = write
    store._held = held
    try:
        yield session
    except StaleAttempt:
        raise
    except Exception as exc:  # an error read off a stale state is no answer: check the state
        if not wrote:
            _confirm(store, conn, engagement, after, digest, exc)
        raise
    else:
        if not wrote:
            _confirm(store, conn, engagement, after, digest, None)
    finally:
        store._held = None
        store._rollback()  # a lock taken for more than one append; nothing, without one


def _append_if(
    store: PostgresStore, conn: Any, engagement: str, session: Session, line: bytes, digest: str
) -> None:
    # Any: a psycopg.Connection.
    from ._postgres import _psycopg, line_hash

    psycopg = _psycopg()
    seq = session.head_seq + 1
    check_size(session.label, line)
    hashed = line_hash(line)
    params = (engagement, session.head_seq, session.head_hash, digest)
    with store.guard(session.label):
        try:
            row = conn.execute(_APPEND_IF, (*params, seq, hashed, line, seq, hashed)).fetchone()
        except psycopg.errors.UniqueViolation:
            raise StaleAttempt(session.label, session.head_seq, seq) from None
    if row[0] != 1:
        raise StaleAttempt(session.label, session.head_seq, seq)


def _lock_current(
    store: PostgresStore, conn: Any, engagement: str, after: Anchor, digest: str
) -> None:
    # Any: a psycopg.Connection.
    label = store.label_of(engagement)
    with store.guard(label):
        held, row = store._lock_and_settings(conn, engagement)
    if row != (after.seq, after.head) or settings_digest(held) != digest:
        store._rollback()
        raise StaleAttempt(label, after.seq, after.seq if row is None else row[0])


def _confirm(
    store: PostgresStore,
    conn: Any,
    engagement: str,
    after: Anchor,
    digest: str,
    cause: BaseException | None,
) -> None:
    """Raise StaleAttempt unless the head and the settings were what the command read."""
    # Any: a psycopg.Connection.
    label = store.label_of(engagement)
    with store.guard(label):
        row = conn.execute(_CURRENT, (engagement,)).fetchone()
    if row is None or (int(row[0]), str(row[1]), str(row[2])) != (after.seq, after.head, digest):
        moved = after.seq if row is None else int(row[0])
        raise StaleAttempt(label, after.seq, moved) from cause
