"""The portfolio: ``list``, ``due`` and ``search`` over a whole workspace, served from its index.

Every query first brings the index up to date (DESIGN principle 1: it is an accelerator, never
the truth): each history is ``stat``-ed; one whose fingerprint is unchanged (and was not modified
within :data:`~lifecycle._index_read.RACY_NS` of being read) is trusted; any other is read again,
as :mod:`~lifecycle._index_read` describes, and a history gone is dropped. A history that cannot
be read is never served from the index: its row is its error, as without an index.

When the index cannot be used (``.lifecycle`` read-only, the index busy past its timeout) the
answer is computed from the histories alone, in memory: slower, and the same. A damaged or foreign
index file is thrown away and rebuilt (:mod:`~lifecycle._index_db`). A shared store has no index
folder: :func:`search_store` answers from the store's histories (docs/portfolio.md).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeVar

import attrs

from ._due import DueItem
from ._history import SUFFIX
from ._index_db import Corrupt, IndexDB, Raw, Unavailable, known_of, trusted
from ._index_lessons import related_sql, rest_passes, search_sql
from ._index_read import Fresh, Stat, read_history
from ._index_text import document, fts_query
from ._listing import row_of
from ._snapshot import FOLDER
from ._workspace import Workspace, is_engagement_id
from .exceptions import LifecycleError

if TYPE_CHECKING:
    from ._lessons import LessonFilter
    from ._state import Engagement
    from ._store import Store

__all__ = ["INDEX_NAME", "Filters", "Portfolio", "SearchResult", "Update", "search_store"]

INDEX_NAME: Final = "index.sqlite"
_CHUNK: Final = 500  # histories read before their rows are written (bounds a cold build's memory)

Row = dict[str, Any]  # Any: a JSON object, as `list --json` prints it.
# Per engagement: its row and due items read now, its error, or None (trusted: in the index).
Answers = dict[str, tuple[Row, list[list[str]]] | str | None]
T = TypeVar("T")


@attrs.define
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
    warnings: list[str] = attrs.field(factory=list)
    unreadable: dict[str, str] = attrs.field(factory=dict)
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


@attrs.frozen
class Filters:
    """``search``'s filters, as ``list`` has them (:func:`~lifecycle._listing.matches`)."""

    country: str | None = None
    stage: str | None = None
    playbook: str | None = None
    active: bool = False

    def as_params(self) -> dict[str, object]:
        """The filters as the index's query takes them."""
        return attrs.asdict(self)


@attrs.frozen
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

    def __init__(self, root: Path | str, *, use_index: bool = True) -> None:
        self.workspace = Workspace(Path(root))
        self.root = str(self.workspace.root)
        self.path = self.workspace.root / FOLDER / INDEX_NAME
        self._use_index = use_index
        self._answers: Answers = {}

    def update(self, *, rebuild: bool = False) -> Update:
        """Bring the index up to date (with *rebuild*, throw it away first) and say what it did."""
        return self._run(lambda db, up: None, rebuild=rebuild)[1]

    def rows(self) -> tuple[list[Row], Update]:
        """The ``list`` rows of every engagement, sorted by id (an unreadable one: its error)."""
        return self._run(lambda db, up: _rows(self._answers, db))

    def due(self, today: dt.date) -> tuple[list[DueItem], list[str], Update]:
        """What is due as of *today*, soonest first (as ``Engine.due``), and the engagements
        that could not be read, each as one line."""
        items, update = self._run(lambda db, up: _due(self._answers, db, today))
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
        sql, params = search_sql(where)
        rows, update = self._run(
            lambda db, up: [
                json.loads(row)
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
        sql, params = related_sql(engagement)
        return self._run(
            lambda db, up: [(json.loads(r), c, k) for r, c, k in db.select(sql, params)],
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
        self.workspace.check_root()
        cut = len(SUFFIX)
        with os.scandir(self.workspace.root) as entries:
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
        known = db.known()
        update.engagements = len(names)
        listed = set(names)
        fresh: list[Fresh] = []
        dropped = [name for name in known if name not in listed]
        for name in names:
            item = self._refresh(name, known.get(name), update)
            if isinstance(item, Fresh):
                fresh.append(item)
                self._answers[name] = (item.row, item.due)
                if len(fresh) >= _CHUNK:
                    _commit(db, fresh, known, [], update)
                    fresh = []
            else:
                self._answers[name] = item
                dropped += [name] * (item is not None and name in known)
        _commit(db, fresh, known, dropped, update)
        update.dropped = len(dropped)

    def _refresh(self, name: str, known: Raw | None, update: Update) -> Fresh | str | None:
        """The history read again, its error, or None when its fingerprint is trusted."""
        path = os.path.join(self.root, name + SUFFIX)
        if known is not None:
            try:
                info = os.lstat(path)
            except OSError:
                info = None
            if info is not None and stat.S_ISREG(info.st_mode) and trusted(known, info):
                update.trusted += 1
                return None
        try:
            item = read_history(Path(path), name, None if known is None else known_of(known))
        except LifecycleError as exc:
            update.unreadable[name] = str(exc)
            return str(exc)
        setattr(update, item.how, getattr(update, item.how) + 1)
        if item.warning:
            update.warnings.append(item.warning)
        return item


def _commit(
    db: IndexDB, fresh: list[Fresh], known: dict[str, Raw], dropped: list[str], update: Update
) -> None:
    """Write what was read, unless the index has turned out unwritable (then *update* says why)."""
    if update.why is not None:
        return
    try:
        db.commit(fresh, known, dropped)
    except Unavailable as exc:
        update.why = str(exc)


def _stored(answers: Answers, db: IndexDB, column: str) -> dict[str, str]:
    """The index's JSON of *column* for the engagements trusted on their fingerprint."""
    return db.texts(column) if any(got is None for got in answers.values()) else {}


def _rows(answers: Answers, db: IndexDB) -> list[Row]:
    stored = _stored(answers, db, "row")
    out = []
    for name, got in answers.items():
        if got is None:
            out.append(json.loads(stored[name]))
        else:
            out.append({"engagement": name, "error": got} if isinstance(got, str) else got[0])
    return out


def _due(answers: Answers, db: IndexDB, today: dt.date) -> list[DueItem]:
    stored = _stored(answers, db, "due")
    items = []
    for name, got in answers.items():
        if isinstance(got, str):
            continue
        for kind, ident, title, due, source in json.loads(stored[name]) if got is None else got[1]:
            day = dt.date.fromisoformat(due)
            items.append(DueItem(name, kind, ident, title, day, day < today, source))  # type: ignore[arg-type]
    return sorted(items, key=lambda i: (i.due, i.engagement, i.id))


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
