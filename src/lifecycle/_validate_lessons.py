"""Checks on the playbook keys of lessons (#15): the ``[lessons]`` headings.

(``lessons = true`` on a checklist item is a boolean the converter checks; any item may carry it.)

Each problem names the file and key path of the entry at fault, as :mod:`~lifecycle._validate`
does; the messages are listed in docs/playbook-schema.md.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from ._model import Playbook
    from ._validate import Origins

__all__ = ["HEADING_ID", "lesson_problems"]

# A heading id is what `--section ID=TEXT` names: like a checklist item id.
HEADING_ID: Final = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


def lesson_problems(pb: Playbook, origins: Origins) -> Iterator[str]:
    """Every problem of the lesson keys of the resolved playbook *pb*."""
    if pb.lessons is None:
        return
    seen: set[str] = set()
    for index, heading in enumerate(pb.lessons.headings):
        where = f"{origins.top}: $.lessons.headings[{index}]"
        if not HEADING_ID.fullmatch(heading.id):
            yield (
                f"{where}.id: heading id {heading.id!r} must be lowercase letters, digits, '-' "
                "or '_', starting with a letter or digit (at most 64)"
            )
        if heading.id in seen:
            yield f"{where}.id: duplicate heading {heading.id!r}"
        seen.add(heading.id)
        if not heading.title.strip():
            yield f"{where}.title: a heading needs a title"
