"""The ``list`` rows: one per engagement, from a replay, or from a store's cache of them (#11).

A shared store may keep each engagement's row with the head seq it was computed at
(:class:`ListingCache`); a row is used only while the head is still there, else the engagement is
replayed and its row cached again. Like every cache, it is an accelerator only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from .exceptions import LifecycleError

if TYPE_CHECKING:
    from ._engine import Engine
    from ._state import Engagement

__all__ = ["ListingCache", "engagement_rows", "is_row_of", "matches", "row_of"]

Row = dict[str, Any]  # Any: a JSON object, as `list --json` prints it.


@runtime_checkable
class ListingCache(Protocol):
    """A store that keeps ``list`` rows, each valid while its engagement's head is unchanged."""

    def summaries(self) -> dict[str, Any]:
        """The rows still valid, by engagement id."""

    def save_summaries(self, rows: Mapping[str, tuple[int, Mapping[str, Any]]]) -> None:
        """Keep rows, each with the head seq it describes."""


def engagement_rows(engine: Engine) -> list[Row]:
    """The ``list`` rows of every engagement of *engine*'s store, sorted by id."""
    store = engine.store
    cache = store if isinstance(store, ListingCache) else None
    cached = cache.summaries() if cache is not None else {}
    rows: list[Row] = []
    fresh: dict[str, tuple[int, Row]] = {}
    for engagement_id in engine.engagements():
        row = cached.get(engagement_id)
        if row is None:
            try:
                eng = engine.engagement(engagement_id)
            except LifecycleError as exc:
                row = {"engagement": engagement_id, "error": str(exc)}
            else:
                row = row_of(eng)
                fresh[engagement_id] = (eng.seq, row)
        rows.append(row)
    if cache is not None and fresh:
        cache.save_summaries(fresh)
    return rows


def row_of(eng: Engagement) -> Row:
    """The ``list`` row of *eng* (the portfolio index keeps the same rows, #14)."""
    return {
        "engagement": eng.id,
        "title": eng.title,
        "playbook": eng.playbook.id,
        "version": eng.playbook.version,
        "stage": eng.stage,
        "final": eng.final,
        "events": eng.seq,
        "error": None,
        "country": eng.facts.get("country"),
        "envoy": eng.current_envoy(),
        "round": eng.round,
        "links": [{"other": o, "relation": r} for (o, r) in eng.links],
    }


_KEYS = frozenset(
    {"engagement", "title", "playbook", "version", "stage", "final", "events", "error"}
    | {"country", "envoy", "round", "links"}
)
_SCALARS = (str, bool, int, float)  # what a fact named `country` can hold besides None


def is_row_of(name: str, row: object) -> bool:
    """Whether *row* is one :func:`row_of` could have written for engagement *name*: its
    members and no others, each of its type (a row kept outside the histories, as the portfolio
    index keeps them, is checked so before it is used: anything else is damage)."""
    # One expression, in the order of the cheapest refusal: ten thousand rows per `list`.
    return (
        type(row) is dict
        and row.keys() == _KEYS
        and row["engagement"] == name
        and type(row["title"]) is str
        and type(row["playbook"]) is str
        and type(row["version"]) is str
        and type(row["stage"]) is str
        and type(row["final"]) is bool
        and type(row["events"]) is int
        and row["events"] > 0
        and row["error"] is None
        and (row["country"] is None or type(row["country"]) in _SCALARS)
        and (row["envoy"] is None or type(row["envoy"]) is str)
        and type(row["round"]) is int
        and type(row["links"]) is list
        and all(_is_link(link) for link in row["links"])
    )


def _is_link(link: object) -> bool:
    return (
        type(link) is dict
        and link.keys() == {"other", "relation"}
        and type(link["other"]) is str
        and type(link["relation"]) is str
    )


def matches(
    row: Mapping[str, Any],
    *,
    country: str | None = None,
    stage: str | None = None,
    playbook: str | None = None,
    active: bool = False,
) -> bool:
    """Whether *row* passes ``list``'s filters; a row that could not be read always does."""
    if row.get("error"):
        return True
    wanted = (country, stage, playbook, True if active else None)
    have = (row.get("country"), row.get("stage"), row.get("playbook"), not row.get("final"))
    return all(w is None or w == h for w, h in zip(wanted, have, strict=True))
