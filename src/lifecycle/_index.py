"""The portfolio: ``list``, ``due`` and ``search`` over a whole workspace, served from its index.

Every query first brings the index up to date (DESIGN principle 1: it is an accelerator, never
the truth): each history is ``stat``-ed; one whose fingerprint is unchanged (and was not modified
within :data:`~lifecycle._index_db.RACY_NS` of being read) is trusted; any other is read again,
as :mod:`~lifecycle._index_read` describes, and a history gone is dropped. A history that cannot
be read is never served from the index: its row is its error, as without an index.

When the index cannot be used (``.lifecycle`` read-only, the index busy past its timeout) the
answer is computed from the histories alone, in memory: slower, and the same. A damaged or foreign
index file is thrown away and rebuilt (:mod:`~lifecycle._index_db`). A shared store has no index
folder: :func:`search_store` answers from the store's histories (docs/portfolio.md).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeVar

from ._dueitem import DueItem
from ._index_db import Corrupt, IndexDB, Unavailable, proof, stored_object
from ._index_pool import read_all
from ._index_text import fts_query
from ._layout import FOLDER, SUFFIX, check_root, is_engagement_id
from .exceptions import LifecycleError

# A warm query (every history trusted on its fingerprint) reads the index alone: what replays
# a history (_index_read, and the engine's model it brings) is imported when one must be read.
if TYPE_CHECKING:
    from ._history import Anchor
    from ._index_read import Fresh
    from ._lessons import LessonFilter
    from ._state import Engagement
    from ._store import Store

__all__ = ["INDEX_NAME", "Filters", "Portfolio", "SearchResult", "Update", "search_store"]

INDEX_NAME: Final = "index.sqlite"
_CHUNK: Final = 500  # histories read before their rows are written (bounds a cold build's memory)

Row = dict[str, Any]  # Any: a JSON object, as `list --json` prints it.
# Per engagement not trusted on its fingerprint: its row and due items read now, or its error.
Answers = dict[str, tuple[Row, list[list[str]]] | str]
T = TypeVar("T")


# Dataclasses, not attrs: a warm portfolio query starts without importing attrs (#14).
@dataclasses.dataclass(slots=True)
class Update:
    """What bringing the index up to date did: how many histories were trusted on their
    fingerprint, new, read after their known head (appended), read whole and found unchanged
    (verified) or changed behind the index, and dropped; warnings (a history changed behind the
    index, a damaged index rebuilt); the histories that could not be read (engagement id -> the
    error); *path* None when the answer was computed without an index (and *why*)."""

    path: Path | None
    engagements: int = 0
    trusted: int = 0
    new: int = 0
    appended: int = 0
    verified: int = 0
    changed: int = 0
    dropped: int = 0
    warnings: list[str] = dataclasses.field(default_factory=list)
    unreadable: dict[str, str] = dataclasses.field(default_factory=dict)
    why: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The update as ``index --json`` prints it."""
        # Any: a JSON object.
        return {
            "index": None if self.path is None else str(self.path),
            "engagements": self.engagements,
            "trusted": self.trusted,
            "new": self.new,
            "appended": self.appended,
            "verified": self.verified,
            "changed": self.changed,
            "dropped": self.dropped,
            "warnings": self.warnings,
            "unreadable": self.unreadable,
            "unavailable": self.why,
        }


@dataclasses.dataclass(frozen=True, slots=True)
class Filters:
    """``search``'s filters, as ``list`` has them (:func:`~lifecycle._listing.matches`)."""

    country: str | None = None
    stage: str | None = None
    playbook: str | None = None
    active: bool = False

    def as_params(self) -> dict[str, object]:
        """The filters as the index's query takes them."""
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True, slots=True)
class SearchResult:
    """The hits of a search (at most *limit*, by engagement and seq), how many there were in
    all, and the engagements that could not be searched (id -> error)."""

    hits: list[dict[str, Any]]
    total: int
    unreadable: dict[str, str]


class Portfolio:
    """The engagements of one workspace folder, through its index.

    >>> import tempfile
    >>> Portfolio(tempfile.mkdtemp()).rows()[0]
    []
    """

    def __init__(self, root: Path | str, *, use_index: bool = True, jobs: int = 1) -> None:
        self.folder = Path(root)
        self.jobs = jobs  # processes reading histories when many must be read (_index_pool)
        self.root = str(self.folder)
        self.path = self.folder / FOLDER / INDEX_NAME
        self._use_index = use_index
        self._answers: Answers = {}
        self._trusted: set[str] = set()

    def update(self, *, rebuild: bool = False) -> Update:
        """Bring the index up to date (with *rebuild*, throw it away first) and say what it did."""
        return self._run(lambda db, up: None, rebuild=rebuild)[1]

    def rows(self) -> tuple[list[Row], Update]:
        """The ``list`` rows of every engagement, sorted by id (an unreadable one: its error)."""
        return self._run(lambda db, up: _rows(self._answers, self._trusted, db))

    def due(self, today: dt.date) -> tuple[list[DueItem], list[str], Update]:
        """What is due as of *today*, soonest first (as ``Engine.due``), and the engagements
        that could not be read, each as one line."""
        items, update = self._run(lambda db, up: _due(self._answers, self._trusted, db, today))
        problems = [f"{name}: {error}" for name, error in update.unreadable.items()]
        return items, problems, update

    def search(
        self, query: str, filters: Filters = Filters(), limit: int | None = None
    ) -> tuple[SearchResult, Update]:
        """The events whose text matches *query* (see :mod:`~lifecycle._index_text`).

        Raises:
            InvalidInputError: The query is empty, too long, or holds control characters.
        """
        expression = fts_query(query)
        return self._run(
            lambda db, up: _result(db.hits(expression, filters.as_params(), limit), up),
            search=True,
        )

    def lessons(self, where: LessonFilter) -> tuple[list[Row], list[str], Update]:
        """``lessons``: every lesson passing *where*, newest first (as
        :func:`~lifecycle._lessons.search_lessons`), and the engagements that could not be
        read, each as one line."""
        from ._index_lessons import rest_passes, search_sql

        sql, params = search_sql(where)
        rows, update = self._run(
            lambda db, up: [
                stored_object(row)
                for row, words, conflict in db.select(sql, params)
                if rest_passes(where, words, conflict)
            ],
            search=True,
        )
        problems = [f"{name}: {error}" for name, error in update.unreadable.items()]
        return rows, problems, update

    def related(self, engagement: Engagement) -> list[tuple[Row, str | None, str]]:
        """The lessons of the other engagements in *engagement*'s country or conflict, newest
        first, each with its engagement's country fact and conflict key (``status``, #15)."""
        from ._index_lessons import related_sql

        sql, params = related_sql(engagement)
        return self._run(
            lambda db, up: [(stored_object(r), c, k) for r, c, k in db.select(sql, params)],
            search=True,
        )[0]

    # ------------------------------------------------------------------ internals

    def _run(
        self, answer: Callable[[IndexDB, Update], T], *, rebuild: bool = False, search: bool = False
    ) -> tuple[T, Update]:
        names = self._names()  # InvalidInputError: no such workspace
        notes: list[str] = []
        for attempt in range(2):
            try:
                db = self._open(rebuild or attempt > 0, notes)
            except Unavailable as exc:
                return self._in_memory(names, answer, str(exc))
            try:
                update = Update(db.path, warnings=list(notes))
                self._sync(db, names, update)
                if update.why is not None:  # read, but not written: the index was unusable
                    if search:
                        return self._in_memory(names, answer, update.why)
                    update.path = None
                return answer(db, update), update
            except Corrupt as exc:
                notes.append(f"{self.path}: the index was damaged ({exc}); rebuilt")
            except Unavailable as exc:  # the answer's query failed (busy, out of memory)
                return self._in_memory(names, answer, str(exc))
            finally:
                db.close()
        return self._in_memory(names, answer, "the index was damaged again")

    def _names(self) -> list[str]:
        """The engagement ids, as :meth:`Workspace.engagements` lists them (one ``scandir``)."""
        check_root(self.folder)
        cut = len(SUFFIX)
        with os.scandir(self.folder) as entries:
            names = [e.name[:-cut] for e in entries if e.name.endswith(SUFFIX)]
        return sorted(n for n in names if is_engagement_id(n))

    def _open(self, fresh: bool, notes: list[str]) -> IndexDB:
        if not self._use_index:
            raise Unavailable("not used (--no-index)")
        db = IndexDB.open(self.path, fresh=fresh)
        if db.replaced:
            notes.append(f"{self.path}: {db.replaced}; rebuilt")
        return db

    def _in_memory(
        self, names: list[str], answer: Callable[[IndexDB, Update], T], why: str
    ) -> tuple[T, Update]:
        db = IndexDB.memory()
        try:
            update = Update(None)
            self._sync(db, names, update)
            update.why = why
            return answer(db, update), update
        finally:
            db.close()

    def _sync(self, db: IndexDB, names: list[str], update: Update) -> None:
        self._answers = {}
        held = db.fingerprints()
        update.engagements = len(names)
        stale = self._stale(names, held)
        update.trusted = len(names) - len(stale)
        listed = set(names)
        self._trusted = listed.difference(stale)
        fresh: list[Fresh] = []
        base: dict[str, Anchor] = {}
        dropped = [name for name in held if name not in listed]
        known = {n: a for n in stale if n in held and (a := db.known(n)) is not None}
        for name, item in read_all(self.root, stale, known, self.jobs):
            if isinstance(item, str):
                update.unreadable[name] = item
                self._answers[name] = item
                dropped += [name] * (name in held)
                continue
            setattr(update, item.how, getattr(update, item.how) + 1)
            if item.warning:
                update.warnings.append(item.warning)
            fresh.append(item)
            if name in known:  # written only if the index still holds this head then
                base[name] = known[name]
            self._answers[name] = (item.row, item.due)
            if len(fresh) >= _CHUNK:
                _commit(db, fresh, base, [], update)
                fresh = []
        _commit(db, fresh, base, dropped, update)
        update.dropped = len(dropped)

    def _stale(self, names: list[str], proofs: dict[str, bytes | None]) -> list[str]:
        """The engagements whose history ``lstat`` cannot prove unchanged since the index read
        it (new, modified, not a regular file, gone since it was listed), in *names*' order."""
        # The one loop over every history a warm query runs: kept to one lstat and one lookup.
        stale = []
        lstat, regular, stored = os.lstat, stat.S_ISREG, proofs.get
        try:
            folder = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:  # gone since it was listed: each history's read says what is wrong
            return list(names)
        try:
            for name in names:
                try:
                    info = lstat(name + SUFFIX, dir_fd=folder)
                except OSError:
                    stale.append(name)
                    continue
                now = proof(info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino)
                if now is None or stored(name) != now or not regular(info.st_mode):
                    stale.append(name)
        finally:
            os.close(folder)
        return stale


def _commit(
    db: IndexDB, fresh: list[Fresh], known: dict[str, Anchor], dropped: list[str], update: Update
) -> None:
    """Write what was read, unless the index has turned out unwritable (then *update* says why)."""
    if update.why is not None:
        return
    try:
        db.commit(fresh, known, dropped)
    except Unavailable as exc:
        update.why = str(exc)


def _rows(answers: Answers, trusted: set[str], db: IndexDB) -> list[Row]:
    """The rows of every engagement listed, by id: the index's for those trusted on their
    fingerprint, the rest as read now (or their error)."""
    rows = [pair for pair in db.rows() if pair[0] in trusted] if trusted else []
    for name, got in answers.items():
        rows.append((name, {"engagement": name, "error": got} if isinstance(got, str) else got[0]))
    if answers:
        rows.sort(key=lambda pair: pair[0])
    return [row for _, row in rows]


def _due(answers: Answers, trusted: set[str], db: IndexDB, today: dt.date) -> list[DueItem]:
    """What is due in every engagement listed, soonest first, as :func:`_rows` reads them."""
    found = [item for item in db.due() if item[0] in trusted] if trusted else []
    for name, got in answers.items():
        if not isinstance(got, str):
            found += [(name, *entry) for entry in got[1]]  # type: ignore[misc]
    if answers:
        found.sort(key=lambda item: (item[4], item[0], item[2]))  # stable: each one's own order
    day = today.isoformat()  # ISO dates sort and compare as their text
    try:
        return [
            DueItem(name, kind, ident, title, dt.date.fromisoformat(due), due < day, source)  # type: ignore[arg-type]
            for name, kind, ident, title, due, source in found
        ]
    except (TypeError, ValueError) as exc:  # a day this code could not have stored
        raise Corrupt(f"a stored due date is not one ({exc})") from None


def _result(found: tuple[list[tuple[str, int, str, str]], int], update: Update) -> SearchResult:
    hits = [
        {"engagement": name, "seq": seq, "type": kind, "snippet": snippet}
        for name, seq, kind, snippet in found[0]
    ]
    return SearchResult(hits, found[1], dict(update.unreadable))


def search_store(
    store: Store, query: str, filters: Filters = Filters(), limit: int | None = None
) -> SearchResult:
    """:meth:`Portfolio.search` on any store, without an index: every history read, verified,
    replayed (for the filters) and searched in memory.

    Raises:
        InvalidInputError: The query is not one (see :func:`~lifecycle._index_text.fts_query`).
    """
    from ._index_read import Fresh, Stat
    from ._index_text import document
    from ._listing import row_of
    from ._statecache import continued

    expression = fts_query(query)
    db = IndexDB.memory()
    unreadable: dict[str, str] = {}
    try:
        items = []
        for name in store.engagements():
            try:
                records, anchor = store.read_after(name, None)
                eng = continued(store.label_of(name), None, records, anchor)[0]
            except LifecycleError as exc:
                unreadable[name] = str(exc)
                continue
            docs = [(int(r["seq"]), str(r["type"]), t) for r in records if (t := document(r))]
            items.append(Fresh(name, Stat(-1, 0, 0, 0), anchor, 0, row_of(eng), [], docs, True))
        db.commit(items, {}, [])
        found = db.hits(expression, filters.as_params(), limit)
        return _result(found, Update(None, unreadable=unreadable))
    finally:
        db.close()
