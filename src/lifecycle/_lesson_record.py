"""Recording lessons (#15): ``lifecycle lesson`` and the citations of ``check --cite``.

:class:`LessonCommands` is mixed into :class:`~lifecycle.Engine`, like the practice's commands:
the command takes the lock through the engine's ``_command`` and appends one ``lesson`` event
through ``_append``. The checks of what a user gave are functions here, shared with the audit
(:mod:`~lifecycle._lesson_replay` re-checks recorded events with the same words).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, Protocol

from ._attempt import retried
from ._inputs import CONTROL_CHARS, MIN_DATE
from ._lessons import THEME
from ._state import Engagement
from .exceptions import InvalidInputError

if TYPE_CHECKING:
    from ._results import Result, _Ctx
    from ._store import Store

__all__ = [
    "CITE",
    "MAX_TEXT",
    "MAX_THEMES",
    "MAX_TITLE",
    "THEME",
    "LessonCommands",
    "check_cites",
    "cite_format_problem",
    "cites_data",
    "cites_item_problem",
    "lesson_day_problem",
    "parse_sections",
    "text_problem",
    "theme_problems",
    "title_problem",
]

Record = dict[str, Any]  # Any: a JSON object as stored.

MAX_TITLE: Final = 200
MAX_TEXT: Final = 20_000
MAX_THEMES: Final = 20
# A cite names a lesson: the engagement id and the seq of its `lesson` event.
CITE: Final = re.compile(
    r"(?P<engagement>[A-Za-z0-9][A-Za-z0-9._-]{0,127}):(?P<seq>[1-9][0-9]{0,11})"
)
# A text may hold line breaks (paragraphs), never another control character.
_TEXT_CONTROLS: Final = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)


def title_problem(title: object) -> str:
    """What is wrong with *title* as a lesson's title, or ""."""
    if not isinstance(title, str) or not title.strip():
        return "a lesson needs a title (--title)"
    if CONTROL_CHARS.search(title):
        return f"the title {title[:60]!r} holds a control character or line break"
    if len(title) > MAX_TITLE:
        return f"the title is {len(title)} characters long, over {MAX_TITLE}"
    return ""


def text_problem(what: str, text: object) -> str:
    """What is wrong with *text* as the text of *what* (the lesson, or one of its sections)."""
    if not isinstance(text, str) or not text.strip():
        return f"{what} needs text"
    if _TEXT_CONTROLS.search(text):
        return f"{what} holds a control character (only line breaks are allowed)"
    if len(text) > MAX_TEXT:
        return f"{what} is {len(text)} characters long, over {MAX_TEXT}"
    return ""


def theme_problems(themes: object) -> Iterator[str]:
    """What is wrong with *themes* (a list of theme ids): each a short id, none twice."""
    if not isinstance(themes, list | tuple):
        yield "themes is not a list"
        return
    if len(themes) > MAX_THEMES:
        yield f"{len(themes)} themes, over {MAX_THEMES}"
    seen: set[object] = set()
    for theme in themes:
        if not isinstance(theme, str) or not THEME.fullmatch(theme):
            yield (
                f"theme {theme!r} is not lowercase letters, digits and '-' "
                "(at most 64, starting with a letter or digit)"
            )
        elif theme in seen:
            yield f"theme {theme!r} given twice"
        seen.add(theme)


def lesson_day_problem(on: str, recorded: str) -> str:
    """What is wrong with the day *on* of a lesson recorded on day *recorded*, or ""."""
    try:
        day = dt.date.fromisoformat(on)
    except ValueError:
        return f"the date {on!r} is not YYYY-MM-DD"
    if len(on) != 10:
        return f"the date {on!r} is not YYYY-MM-DD"
    if day < MIN_DATE:
        return f"the date {on} is before {MIN_DATE.isoformat()}"
    if on > recorded:
        return f"the date {on} is after the day it was recorded ({recorded})"
    return ""


def parse_sections(sections: Mapping[str, str] | Sequence[str]) -> dict[str, str]:
    """``NAME=TEXT`` strings (or a mapping) as a dict, in the order given.

    Raises:
        InvalidInputError: A pair has no ``=`` or no name, or a name is given twice.
    """
    if isinstance(sections, Mapping):
        return dict(sections)
    out: dict[str, str] = {}
    for pair in sections:
        name, sep, text = pair.partition("=")
        if not sep or not name.strip():
            raise InvalidInputError(f"A section is NAME=TEXT (--section), not {pair[:60]!r}.")
        if name.strip() in out:
            raise InvalidInputError(f"Section {name.strip()!r} is given twice.")
        out[name.strip()] = text
    return out


def section_problems(engagement: Engagement, sections: Mapping[str, object]) -> Iterator[str]:
    """What is wrong with *sections* under the engagement's playbook: each one of its lesson
    headings, each with text."""
    lessons = engagement.playbook.lessons
    headings = [h.id for h in lessons.headings] if lessons is not None else []
    known = ", ".join(headings) or "none: the playbook names no lesson headings"
    for name, text in sections.items():
        if name not in headings:
            yield f"section {name!r} is no lesson heading of playbook {engagement.playbook.id!r} (known: {known})"
        elif problem := text_problem(f"section {name!r}", text):
            yield problem


def cite_format_problem(cite: object, engagement_id: str) -> str:
    """What is wrong with *cite* as a citation written in engagement *engagement_id*, or ""."""
    if not isinstance(cite, str) or not CITE.fullmatch(cite):
        return f"cite {str(cite)[:60]!r} is not ENGAGEMENT:SEQ"
    if cite.rpartition(":")[0] == engagement_id:
        return f"cite {cite!r} names this engagement: cite lessons of other engagements"
    return ""


def cites_item_problem(engagement: Engagement, item: str) -> str:
    """Why checklist *item* cannot carry cites (it is not marked ``lessons = true``), or ""."""
    found = engagement.playbook.item(item)
    if found is not None and found[1].lessons:
        return ""
    marked = [
        i.id
        for s in engagement.playbook.stages
        for i in (*s.checklist, *(s.entry_checklist or ()))
        if i.lessons
    ]
    return (
        f"item {item!r} is not marked lessons = true, so it cites no lessons "
        f"(items that do: {', '.join(marked) or 'none'})"
    )


class _Reader(Protocol):
    store: Store

    def engagement(self, engagement_id: str) -> Engagement: ...


def check_cites(engine: _Reader, engagement_id: str, cites: Sequence[str]) -> list[str]:
    """*cites* checked: each ``ENGAGEMENT:SEQ`` of another engagement of the store whose event
    SEQ is a lesson, none twice. Run before the citing engagement's lock is taken (lessons are
    never removed from a history, so what holds now holds when the tick is appended).

    Raises:
        InvalidInputError: A malformed cite, one of this engagement, one given twice, or one
            whose event is no lesson.
        NotFoundError: The cited engagement does not exist.
    """
    seen: list[str] = []
    for cite in cites:
        if problem := cite_format_problem(cite, engagement_id):
            raise InvalidInputError(f"--cite: {problem}.")
        if cite in seen:
            raise InvalidInputError(f"--cite: {cite!r} is given twice.")
        other, _, seq = cite.rpartition(":")
        engine.store.require(other)
        if not any(lesson.seq == int(seq) for lesson in engine.engagement(other).lessons):
            raise InvalidInputError(
                f"--cite: {cite!r} is no lesson: event {seq} of {other!r} is not a lesson "
                f"(`lifecycle lessons` lists them)."
            )
        seen.append(cite)
    return seen


def cites_data(engagement: Engagement, item: str, cites: list[str]) -> Record:
    """The ``cites`` member of a tick of *item* (none without cites).

    Raises:
        InvalidInputError: *item* is not marked ``lessons = true``.
    """
    if not cites:
        return {}
    if problem := cites_item_problem(engagement, item):
        raise InvalidInputError(f"--cite: {problem}.")
    return {"cites": cites}


class _Engine(Protocol):
    def _command(
        self, engagement_id: str, actor: str, expected_seq: int | None = None
    ) -> contextlib.AbstractContextManager[_Ctx]: ...

    def _append(
        self, ctx: _Ctx, kind: str, data: Record, *, reason: str | None = None
    ) -> Result: ...


def _lesson_inputs(title: str, text: str, themes: Sequence[str]) -> None:
    if problem := title_problem(title):
        raise InvalidInputError(problem[0].upper() + problem[1:] + ".")
    if problem := text_problem("The lesson", text):
        raise InvalidInputError(problem + " (--text).")
    for problem in theme_problems(list(themes)):
        raise InvalidInputError(f"--theme: {problem}.")


class LessonCommands:
    """The engine's ``lesson`` command (mixed into ``Engine``)."""

    @retried
    def lesson(
        self: _Engine,
        engagement_id: str,
        *,
        title: str,
        text: str,
        actor: str,
        themes: Sequence[str] = (),
        sections: Mapping[str, str] | Sequence[str] = (),
        on: dt.date | None = None,
        expected_seq: int | None = None,
    ) -> Result:
        """Record a lesson at any stage (final ones too): a title, its text, themes, and the
        playbook's lesson headings filled by *sections*; *on* is the day it was drawn.

        Raises:
            InvalidInputError: Empty or malformed input, or a section the playbook does not name;
                nothing is written.
        """
        _lesson_inputs(title, text, themes)
        given = parse_sections(sections)
        with self._command(engagement_id, actor, expected_seq) as ctx:
            for problem in section_problems(ctx.engagement, given):
                raise InvalidInputError(f"--section: {problem}.")
            data: Record = {
                "title": title,
                "text": text,
                "themes": list(themes),
                "sections": given,
                "stage": ctx.engagement.stage,
            }
            if on is not None:
                if problem := lesson_day_problem(on.isoformat(), ctx.at[:10]):
                    raise InvalidInputError(f"--on: {problem}.")
                data["on"] = on.isoformat()
            return self._append(ctx, "lesson", data)
