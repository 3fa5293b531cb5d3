"""Lessons (#15) served from the portfolio index: the queries of ``lifecycle lessons`` and of
``status``'s ``lessons`` over its ``lessons`` table.

Each lesson's row holds what :mod:`~lifecycle._lessons` matches, already normalized
(:func:`~lifecycle._lessons.index_entries`): its words and themes, and its engagement's
``--conflict`` words, each as one string `` w1 w2 ... `` (a space before every word), so that
"every term begins a word" is one ``instr(column, ' ' || term)`` per term, the meaning
:func:`~lifecycle._lessons.matches_query` gives it; the country fact and conflict key are compared
exactly. The order is :func:`~lifecycle._lessons.sort_rows`'s: day and recording time newest
first, then engagement (SQLite's binary order of UTF-8 is Python's order of code points), then
seq newest first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from ._lessons import conflict_key

if TYPE_CHECKING:
    from ._lessons import LessonFilter
    from ._state import Engagement

__all__ = ["SQL_TERMS", "related_sql", "rest_passes", "search_sql"]

_ORDER: Final = " ORDER BY day DESC, at DESC, name ASC, seq DESC"
# Terms past this many (per column) are checked on the rows SQLite returns: a QUERY of thousands
# of words would pass SQLite's limit on the depth of an expression.
SQL_TERMS: Final = 32


def search_sql(where: LessonFilter) -> tuple[str, list[object]]:
    """The query of ``lessons`` with *where*'s filters, and its parameters (rows: ``row``,
    ``words``, ``conflict_words``; see :func:`rest_passes` for the terms it leaves out)."""
    clauses: list[str] = []
    params: list[object] = []
    if where.country is not None:
        clauses.append("country = ?")
        params.append(where.country)
    if where.theme is not None:
        clauses.append("instr(themes, ?) > 0")
        params.append(f" {where.theme} ")
    for column, terms in (("words", where.terms), ("conflict_words", where.conflict)):
        for term in _unique(terms)[:SQL_TERMS]:
            clauses.append(f"instr({column}, ?) > 0")
            params.append(f" {term}")
    condition = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    return f"SELECT row, words, conflict_words FROM lessons{condition}{_ORDER}", params


def rest_passes(where: LessonFilter, words: str, conflict_words: str) -> bool:
    """Whether a row of :func:`search_sql` passes the terms past :data:`SQL_TERMS`."""
    return all(
        f" {term}" in have
        for have, terms in ((words, where.terms), (conflict_words, where.conflict))
        for term in _unique(terms)[SQL_TERMS:]
    )


def _unique(terms: list[str]) -> list[str]:
    return list(dict.fromkeys(terms))


def related_sql(engagement: Engagement) -> tuple[str, list[object]]:
    """The query of the lessons of the other engagements in *engagement*'s country (its
    ``country`` fact, text or absent) or conflict, and its parameters (rows: ``row``, the
    country fact, the conflict key)."""
    country = engagement.facts.get("country")
    key = conflict_key(engagement) or None  # no conflict fact: no conflict matches
    sql = (
        "SELECT row, country, conflict FROM lessons WHERE name != ? "
        f"AND (country = ? OR conflict = ?){_ORDER}"
    )
    return sql, [engagement.id, country, key]
