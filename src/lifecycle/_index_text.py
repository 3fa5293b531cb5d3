"""What ``lifecycle search`` reads in an event, and how a query becomes a safe FTS5 expression.

Each event type that carries free text names the members of its ``data`` to search, in
:data:`TEXT_MEMBERS`: a new event type is one entry there. A member's value is flattened to text
(a string as it is, a list item by item, an object as ``key value`` pairs, numbers and booleans as
JSON writes them); the text of one event is one search document, named by engagement and seq.

A query is never handed to FTS5 as syntax: it is split into words and ``"quoted phrases"``, each
quoted as an FTS5 string (so ``AND``, ``NEAR``, ``(``, ``:`` or ``-`` mean nothing special), all of
which must appear; a word ending in ``*`` matches as a prefix. Case and diacritics are ignored
(FTS5's ``unicode61`` tokenizer with ``remove_diacritics 2``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any, Final

from .exceptions import InvalidInputError

__all__ = ["MAX_QUERY_CHARS", "TEXT_MEMBERS", "TOKENIZER", "document", "fts_query"]

# Which members of each event type's data are searched (#14): titles, facts, notes, checklist
# notes, and the lessons another part of the cycle records.
TEXT_MEMBERS: Final[Mapping[str, tuple[str, ...]]] = {
    "opened": ("title", "facts"),
    "fact_set": ("facts",),
    "note_added": ("text",),
    "item_checked": ("note",),
    "activity_recorded": ("note",),
    "lesson": ("title", "text", "themes", "sections"),
}
TOKENIZER: Final = "unicode61 remove_diacritics 2"
MAX_QUERY_CHARS: Final = 1000
_TERMS: Final = re.compile(r'"([^"]*)"|([^\s"]+)')
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")

Record = dict[str, Any]  # Any: a JSON object as stored.


def document(record: Record) -> str | None:
    """The searchable text of *record*, or None when its type carries none (or it is empty)."""
    members = TEXT_MEMBERS.get(str(record.get("type")))
    data = record.get("data")
    if not members or not isinstance(data, dict):
        return None
    parts = [part for member in members for part in _flatten(data.get(member))]
    text = "\n".join(p for p in parts if p.strip())
    return _storable(text) if text else None


def _flatten(value: object) -> Iterator[str]:
    if value is None:
        return
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _flatten(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            rest = " ".join(_flatten(item))
            yield f"{key} {rest}" if rest else str(key)
    else:
        yield json.dumps(value)


def _storable(text: str) -> str:
    """*text* as SQLite can store it: a lone surrogate (which JSON allows) becomes U+FFFD and a
    NUL a space (a tokenizer separator either way)."""
    return text.encode("utf-8", "replace").decode("utf-8").replace("\x00", " ")


def fts_query(query: str) -> str:
    """The FTS5 expression for *query*: every word or phrase required, each quoted.

    Raises:
        InvalidInputError: The query is empty, too long, or holds a control character or text
            that is not UTF-8.
    """
    if len(query) > MAX_QUERY_CHARS:
        raise InvalidInputError(
            f"The search query is {len(query)} characters long; at most {MAX_QUERY_CHARS}."
        )
    if _CONTROL.search(query):
        raise InvalidInputError("The search query holds a control character.")
    try:
        query.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInputError("The search query is not UTF-8 text.") from None
    terms = []
    for phrase, word in _TERMS.findall(query):
        if word:
            prefix = word.endswith("*") and word.strip("*") != ""
            text = word.rstrip("*") if prefix else word
            terms.append(_quoted(text) + (" *" if prefix else ""))
        elif phrase.strip():
            terms.append(_quoted(phrase))
    if not terms:
        raise InvalidInputError("The search query has no words to look for.")
    return " ".join(terms)


def _quoted(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'
