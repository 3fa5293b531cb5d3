"""Finding lessons (#15): ``lifecycle lessons`` over the workspace, and the lessons ``status``
offers an engagement in a stage whose checklist cites them.

The matching is a set of small pure functions, so that a portfolio index can apply the same
meaning to what it stores (docs/cli.md, ``lifecycle lessons``):

- a QUERY matches when every word of it begins a word of the lesson (title, text, sections,
  themes), case and accents ignored;
- ``--country ISO`` matches the engagement's ``country`` fact (ISO 3166-1 alpha-3) exactly;
- ``--conflict TEXT`` matches when every word of TEXT begins a word of the engagement's
  ``conflict`` fact, or of its title when it has no ``conflict`` fact;
- ``--theme T`` matches a lesson that carries theme T.

"The same conflict", for ``status``, is a ``conflict`` fact equal once case, accents and spacing
are ignored. Results are newest first: by the lesson's day (its ``--on``, else the day it was
recorded), then by when it was recorded.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Final

from ._places import place_problem
from .exceptions import InvalidInputError, LifecycleError

if TYPE_CHECKING:  # `lessons` on the index builds no engagement (#14)
    from ._engine import Engine
    from ._state import Engagement, LessonRecord

__all__ = [
    "LessonFilter",
    "conflict_key",
    "index_entries",
    "lesson_row",
    "lesson_words",
    "lessons_item",
    "matches_conflict",
    "matches_country",
    "matches_query",
    "matches_theme",
    "normalize",
    "related_lessons",
    "search_lessons",
    "sort_rows",
    "words",
]

Row = dict[str, Any]  # Any: a JSON object, as `lessons --json` prints it.
_WORD: Final = re.compile(r"\w+")
# A theme is a short id, so that `lessons --theme` finds it exactly: "ceasefire", "gender".
THEME: Final = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")


def normalize(text: str) -> str:
    """*text* case-folded, without accents, spaces collapsed: how texts are compared."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(plain.split())


def words(text: str) -> list[str]:
    """The words of *text*, normalized (letters and digits; punctuation splits words)."""
    return _WORD.findall(normalize(text))


def lesson_words(lesson: LessonRecord) -> set[str]:
    """Every word a QUERY is matched against: title, text, section texts, themes."""
    parts = [lesson.title, lesson.text, *(text for _, text in lesson.sections)]
    parts += [theme.replace("-", " ") for theme in lesson.themes] + list(lesson.themes)
    return {word for part in parts for word in words(part)}


def _prefixes(terms: Sequence[str], have: Iterable[str]) -> bool:
    pool = list(have)
    return all(any(word.startswith(term) for word in pool) for term in terms)


def matches_query(terms: Sequence[str], lesson: LessonRecord) -> bool:
    """Whether every query term (:func:`words` of the QUERY) begins a word of *lesson*."""
    return not terms or _prefixes(terms, lesson_words(lesson))


def matches_country(country: str | None, facts: dict[str, object]) -> bool:
    """Whether the engagement's ``country`` fact is *country* (None: any)."""
    return country is None or facts.get("country") == country


def conflict_text(engagement: Engagement) -> str:
    """What ``--conflict`` is matched against: the ``conflict`` fact, else the title."""
    value = engagement.facts.get("conflict")
    return value if isinstance(value, str) and value.strip() else engagement.title


def matches_conflict(terms: Sequence[str], engagement: Engagement) -> bool:
    """Whether every ``--conflict`` term begins a word of :func:`conflict_text`."""
    return not terms or _prefixes(terms, words(conflict_text(engagement)))


def matches_theme(theme: str | None, lesson: LessonRecord) -> bool:
    """Whether *lesson* carries *theme* (None: any)."""
    return theme is None or theme in lesson.themes


def conflict_key(engagement: Engagement) -> str:
    """The engagement's ``conflict`` fact as "the same conflict" compares it ("" when unset)."""
    value = engagement.facts.get("conflict")
    return normalize(value) if isinstance(value, str) else ""


class LessonFilter:
    """The filters of ``lifecycle lessons``, checked once."""

    def __init__(
        self,
        query: str = "",
        *,
        country: str | None = None,
        conflict: str | None = None,
        theme: str | None = None,
    ) -> None:
        if country is not None and (problem := place_problem("country", country)):
            raise InvalidInputError(f"--country: {problem}.")
        if query.strip() and not words(query):
            raise InvalidInputError(
                f"QUERY {query[:60]!r} has no word to match (letters or digits); "
                "give none to list every lesson."
            )
        if conflict is not None and not words(conflict):
            raise InvalidInputError("--conflict needs a word to match.")
        if theme is not None and not THEME.fullmatch(theme):
            raise InvalidInputError(
                f"--theme: {theme[:60]!r} is not a theme (lowercase letters, digits and '-', "
                "at most 64, as `lesson --theme` records them)."
            )
        self.terms = words(query)
        self.country = country
        self.conflict = words(conflict) if conflict is not None else []
        self.theme = theme

    def engagement_passes(self, engagement: Engagement) -> bool:
        """Whether *engagement* passes the country and conflict filters."""
        return matches_country(self.country, engagement.facts) and matches_conflict(
            self.conflict, engagement
        )

    def lesson_passes(self, lesson: LessonRecord) -> bool:
        """Whether *lesson* passes the query and theme filters."""
        return matches_theme(self.theme, lesson) and matches_query(self.terms, lesson)


def lesson_row(engagement: Engagement, lesson: LessonRecord) -> Row:
    """One lesson as ``lessons --json`` prints it."""
    return {
        "engagement": engagement.id,
        "seq": lesson.seq,
        "cite": f"{engagement.id}:{lesson.seq}",
        "title": lesson.title,
        "text": lesson.text,
        "themes": list(lesson.themes),
        "sections": dict(lesson.sections),
        "stage": lesson.stage,
        "on": lesson.day,
        "at": lesson.at,
        "actor": lesson.actor,
        "engagement_title": engagement.title,
        "playbook": engagement.playbook.id,
        "country": engagement.facts.get("country"),
        "conflict": engagement.facts.get("conflict"),
    }


def sort_rows(rows: list[Row]) -> list[Row]:
    """*rows* newest first: lesson day, then recording time, then engagement and seq."""
    rows.sort(key=lambda r: (r["engagement"], -r["seq"]))
    rows.sort(key=lambda r: (r["on"], r["at"]), reverse=True)
    return rows


def _engagements(engine: Engine, problems: list[str]) -> Iterator[Engagement]:
    for engagement_id in engine.engagements():
        try:
            yield engine.engagement(engagement_id)
        except LifecycleError as exc:
            problems.append(f"{engagement_id}: {exc}")


def search_lessons(engine: Engine, where: LessonFilter) -> tuple[list[Row], list[str]]:
    """Every lesson of the workspace that passes *where*, newest first, and the engagements
    that could not be read (each as one line)."""
    problems: list[str] = []
    rows = [
        lesson_row(engagement, lesson)
        for engagement in _engagements(engine, problems)
        if engagement.lessons and where.engagement_passes(engagement)
        for lesson in engagement.lessons
        if where.lesson_passes(lesson)
    ]
    return sort_rows(rows), problems


def lessons_item(engagement: Engagement) -> str | None:
    """The checklist item of the current stage marked ``lessons = true``, or None."""
    stage = engagement.playbook.stage(engagement.stage)
    items = (*stage.checklist, *(stage.entry_checklist or ())) if stage else ()
    return next((i.id for i in items if i.lessons), None)


def related_lessons(
    engine: Engine, engagement: Engagement, *, use_index: bool = True
) -> list[Row] | None:
    """``status``'s ``lessons``: when the current stage has an item marked ``lessons = true``,
    the lessons of the other engagements in the same country or the same conflict, newest
    first, each with what matched and whether this engagement cited it; else None.

    On the file store they come from the portfolio index (brought up to date first; when it
    cannot be written, from the histories in memory); on other stores, and with *use_index*
    False, every engagement is replayed through *engine*."""
    if lessons_item(engagement) is None:
        return None
    country = engagement.facts.get("country")
    if use_index and (country is None or isinstance(country, str)):
        from ._store import FileStore

        if isinstance(engine.store, FileStore):
            from ._index import Portfolio

            found = Portfolio(engine.store.workspace.root).related(engagement)
            return [related_row(engagement, row, country_, key) for row, country_, key in found]
    return _replayed_related(engine, engagement)


def related_row(engagement: Engagement, row: Row, country: object, key: str) -> Row:
    """*row*, a lesson of another engagement whose country fact is *country* and conflict key
    *key*, with what matched *engagement* and whether *engagement* cited it."""
    own = engagement.facts.get("country")
    conflict = conflict_key(engagement)
    matched = ["country"] * (own is not None and country == own)
    matched += ["conflict"] * (bool(conflict) and key == conflict)
    cited = any(cite == row["cite"] for _, cite, _ in engagement.cites)
    return {**row, "matched": matched, "cited": cited}


def _replayed_related(engine: Engine, engagement: Engagement) -> list[Row]:
    rows: list[Row] = []
    country, conflict = engagement.facts.get("country"), conflict_key(engagement)
    for other in _engagements(engine, []):
        if other.id == engagement.id or not other.lessons:
            continue
        if not (country is not None and other.facts.get("country") == country) and not (
            conflict and conflict_key(other) == conflict
        ):
            continue
        for lesson in other.lessons:
            row = lesson_row(other, lesson)
            rows.append(
                related_row(engagement, row, other.facts.get("country"), conflict_key(other))
            )
    return sort_rows(rows)


def _spaced(items: Iterable[str]) -> str:
    """*items* as one string that ``instr(column, ' ' || term)`` searches by word prefix."""
    return "".join(f" {item}" for item in sorted(set(items))) + " "


def index_entries(engagement: Engagement) -> list[tuple[object, ...]]:
    """The lessons of *engagement* as the portfolio index stores them, one tuple each: seq, day,
    at, title, text, stage, the words a QUERY matches, themes, the country fact (when text),
    the conflict key, the words ``--conflict`` matches, and the ``lessons --json`` row."""
    country = engagement.facts.get("country")
    country = country if isinstance(country, str) else None
    key, conflict = conflict_key(engagement), _spaced(words(conflict_text(engagement)))
    return [
        (
            *(lesson.seq, lesson.day, lesson.at, lesson.title, lesson.text, lesson.stage),
            _spaced(lesson_words(lesson)),
            _spaced(lesson.themes),
            *(country, key, conflict),
            json.dumps(lesson_row(engagement, lesson), ensure_ascii=False),
        )
        for lesson in engagement.lessons
    ]
