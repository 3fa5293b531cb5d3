"""Checks on the ``indicator`` key (#15): which checklist item, activity or fact of a playbook
counts as which inclusion indicator in ``lifecycle report``.

An indicator is a word of lowercase letters and digits joined by hyphens
(``women-candidates-proposed``), at most 64 characters; a fact with one must be a ``bool`` fact
(it counts when set true). The messages are listed in docs/playbook-schema.md.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from ._model import Playbook
    from ._validate import Origins

__all__ = ["INDICATOR", "indicator_problems"]

INDICATOR: Final = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")
_MAX: Final = 64


def indicator_problems(pb: Playbook, origins: Origins) -> Iterator[str]:
    """Every problem of the ``indicator`` keys of the resolved playbook *pb*."""
    for stage in pb.stages:
        for key in ("checklist", "entry_checklist"):
            for index, item in enumerate(getattr(stage, key) or ()):
                if item.indicator is None:
                    continue
                label, path = origins.items.get(item.id, ("", ""))
                where = (
                    f"{label}: {path}.indicator"
                    if label and key == "checklist"
                    else origins.at("stages", stage.id, f"{key}[{index}].indicator")
                )
                yield from _word(where, item.indicator)
    for activity in pb.activities:
        if activity.indicator is not None:
            yield from _word(origins.at("activities", activity.id, "indicator"), activity.indicator)
    for fact in pb.facts:
        if fact.indicator is None:
            continue
        where = origins.at("facts", fact.id, "indicator")
        yield from _word(where, fact.indicator)
        if fact.type != "bool":
            yield f"{where}: only a bool fact counts as an indicator (it counts when true)"


def _word(where: str, value: str) -> Iterator[str]:
    if len(value) > _MAX or not INDICATOR.fullmatch(value):
        yield (
            f"{where}: {value!r} is not an indicator name (lowercase words joined by '-', "
            f"at most {_MAX} characters)"
        )
