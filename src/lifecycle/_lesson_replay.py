"""Replay and audit of lessons (#15): the ``lesson`` event and the cites of ``item_checked`` v2.

Appliers change the engagement in place, like those of :mod:`~lifecycle._replay`. The checks
take the engagement as it stood before the event and yield what the engine could never have
written (each a ``not-allowed`` error, through :mod:`~lifecycle._eventcheck`), in the words of
the engine's own input checks (:mod:`~lifecycle._lesson_record`). Whether a cite names a lesson
of *another* history is a question for the whole archive: :mod:`~lifecycle._lessonaudit`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Final

from ._lesson_record import (
    cite_format_problem,
    cites_item_problem,
    lesson_day_problem,
    section_problems,
    text_problem,
    theme_problems,
    title_problem,
)
from ._state import Engagement, LessonRecord

__all__ = [
    "LESSON_APPLY",
    "LESSON_CHECKS",
    "LESSON_VERSIONS",
    "cite_problems",
    "dump_lessons",
    "load_lessons",
    "note_cites",
]

Record = dict[str, Any]  # Any: a JSON object as stored.

LESSON_VERSIONS: Final = {"lesson": 1}


def _lesson(engagement: Engagement, data: Record, record: Record) -> None:
    sections = dict(data["sections"])
    engagement.lessons.append(
        LessonRecord(
            seq=int(record["seq"]),
            at=str(record["at"]),
            actor=str(record["actor"]),
            stage=str(data["stage"]),
            title=str(data["title"]),
            text=str(data["text"]),
            themes=tuple(str(t) for t in data["themes"]),
            sections=tuple((str(k), str(v)) for k, v in sections.items()),
            on=str(data.get("on", "")),
        )
    )


def note_cites(engagement: Engagement, data: Record, record: Record) -> None:
    """Keep the cites of an ``item_checked`` v2 event (called by its applier)."""
    if record.get("v") == 2:
        seq, at = int(record["seq"]), str(record["at"])
        engagement.cites.extend((seq, str(cite), at) for cite in data["cites"])


LESSON_APPLY: Final[dict[str, Callable[[Engagement, Record, Record], None]]] = {
    "lesson": _lesson,
}


def _lesson_problems(engagement: Engagement, data: Record, record: Record) -> Iterator[str]:
    if record.get("reason") is not None:
        yield "lesson with a reason (the engine writes none: a lesson overrides nothing)"
    if problem := title_problem(data.get("title")):
        yield f"lesson: {problem}"
    if problem := text_problem("the lesson", data.get("text")):
        yield f"lesson: {problem}"
    yield from (f"lesson: {p}" for p in theme_problems(data.get("themes")))
    sections = data.get("sections")
    if isinstance(sections, dict):
        yield from (f"lesson: {p}" for p in section_problems(engagement, sections))
    if data.get("stage") != engagement.stage:
        yield (
            f"lesson recorded as in stage {data.get('stage')!r}; "
            f"the engagement was in {engagement.stage!r}"
        )
    on, at = data.get("on"), record.get("at")
    if on is not None and isinstance(at, str):
        if problem := lesson_day_problem(str(on), at[:10]):
            yield f"lesson: {problem}"


def cite_problems(engagement: Engagement, data: Record, record: Record) -> Iterator[str]:
    """What is wrong with the cites of an ``item_checked`` event (v2 only carries them)."""
    # A member the engine never writes (cites on a v1 tick) is a bad event: the schema's.
    if record.get("v") != 2:
        return
    cites = data.get("cites")
    if not isinstance(cites, list) or not cites:
        yield "item_checked v2 without cites"
        return
    if problem := cites_item_problem(engagement, str(data.get("item"))):
        yield problem
    seen: set[str] = set()
    for cite in cites:
        if problem := cite_format_problem(cite, engagement.id):
            yield problem
        elif cite in seen:
            yield f"cite {cite!r} recorded twice in one tick"
        seen.add(str(cite))


LESSON_CHECKS: Final[dict[str, Callable[[Engagement, Record, Record], Iterator[str]]]] = {
    "lesson": _lesson_problems,
}


def dump_lessons(e: Engagement) -> dict[str, Any]:
    """The lessons and cites of *e* as a snapshot stores them."""
    # Any: a JSON object.
    return {
        "lessons": [
            [
                x.seq,
                x.at,
                x.actor,
                x.stage,
                x.title,
                x.text,
                list(x.themes),
                [list(pair) for pair in x.sections],
                x.on,
            ]
            for x in e.lessons
        ],
        "cites": [[seq, cite, at] for seq, cite, at in e.cites],
    }


def load_lessons(e: Engagement, d: dict[str, Any]) -> None:
    """Restore what :func:`dump_lessons` stored into *e*, in place."""
    # Any: a JSON object.
    e.lessons = [
        LessonRecord(
            q, at, actor, stage, title, text, tuple(themes), tuple((k, v) for k, v in sections), on
        )
        for q, at, actor, stage, title, text, themes, sections, on in d["lessons"]
    ]
    e.cites = [(int(seq), str(cite), str(at)) for seq, cite, at in d["cites"]]
