"""The event models: one attrs model per event type and version, the header, and the parts
events share (decisions, overrides). They are the schema of every history line, defined once;
:mod:`._events` derives from them the checks readers run on every line, and the typed access.

A model names every member the engine writes, or ever wrote, for its type and version (its
class's ``ALSO_WRITTEN`` those it writes but the schema does not type-check); an event type
gains optional members only with a new version.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping
from typing import Any, ClassVar, Final, Literal

import attrs

__all__ = [
    "EVENT_MODELS",
    "ActivityRecordedV1",
    "ActivityRecordedV2",
    "AdvancedV1",
    "AdvancedV2",
    "AttemptedOverride",
    "Decision",
    "FactSetV1",
    "FactValue",
    "ForcedV1",
    "HandedOverV1",
    "Header",
    "ItemCheckedV1",
    "ItemCheckedV2",
    "ItemUncheckedV1",
    "LessonV1",
    "LinkedV1",
    "NoteAddedV1",
    "OpenedV1",
    "OpenedV2",
    "Override",
    "PersonAddedV1",
    "PersonLeftV1",
    "RefusedV1",
    "RefusedV2",
    "RepairedV1",
    "UnlinkedV1",
]

FactValue = str | bool


@functools.lru_cache(maxsize=4096)  # days repeat from event to event
def _day(text: str) -> str:
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return f"{text!r} is not a date (YYYY-MM-DD)"
    return "" if len(text) == 10 else f"{text!r} is not a date (YYYY-MM-DD)"


_DAY: Final = {"check": _day}  # field metadata: a further check on a string


@attrs.frozen
class Header:
    """Line 1 of every history file."""

    ALSO_WRITTEN: ClassVar = frozenset({"hash"})

    format: Literal["lifecycle-history"]
    version: Literal[1]
    engagement: str
    created: str


@attrs.frozen
class Decision:
    """One rule's recorded outcome, in an event's ``rules``."""

    rule: str
    kind: str
    severity: Literal["block", "warn"]
    outcome: Literal["pass", "warn", "block", "overridden"]
    message: str
    plugin: str = ""
    unchecked: bool = False


@attrs.frozen
class Override:
    """The overridden rules of a recorded action, and the actor's roles then."""

    rules: tuple[str, ...]
    roles: tuple[str, ...]


@attrs.frozen
class AttemptedOverride:
    """The override a refusal records: the reason tried and the actor's roles."""

    reason: str
    roles: tuple[str, ...]


@attrs.frozen
class OpenedV1:
    """``opened`` (always event 1): the engagement and its embedded, resolved playbook."""

    engagement: str
    title: str
    facts: dict[str, FactValue]
    playbook: dict[str, Any]  # Any: checked as a playbook when the engagement is replayed
    playbook_sha256: str


@attrs.frozen
class OpenedV2:
    """``opened`` v2 (#13): opened at an entry stage, through a channel of entry."""

    engagement: str
    title: str
    facts: dict[str, FactValue]
    playbook: dict[str, Any]  # Any: checked as a playbook when the engagement is replayed
    playbook_sha256: str
    entry: str
    channel: str = ""


@attrs.frozen
class FactSetV1:
    """``fact_set``: facts set, or unset (``null``)."""

    facts: dict[str, FactValue | None]


@attrs.frozen
class ItemCheckedV1:
    """``item_checked``."""

    item: str
    stage: str
    note: str = ""


@attrs.frozen
class ItemCheckedV2:
    """``item_checked`` v2 (#15): a tick of an item marked ``lessons = true`` that cites lessons
    of other engagements, each ``"ENGAGEMENT:SEQ"``."""

    item: str
    stage: str
    cites: tuple[str, ...]
    note: str = ""


@attrs.frozen
class ItemUncheckedV1:
    """``item_unchecked``."""

    item: str
    stage: str


@attrs.frozen
class ActivityRecordedV1:
    """``activity_recorded``: an activity, the day it took place, and the rules' decisions."""

    activity: str
    on: str = attrs.field(metadata=_DAY)
    stage: str
    rules: tuple[Decision, ...]
    note: str = ""
    override: Override | None = None


@attrs.frozen
class ActivityRecordedV2:
    """``activity_recorded`` v2 (#13): with the activity's parameters (``record --set``)."""

    activity: str
    on: str = attrs.field(metadata=_DAY)
    stage: str
    rules: tuple[Decision, ...]
    params: dict[str, str]
    note: str = ""
    override: Override | None = None


@attrs.frozen
class NoteAddedV1:
    """``note_added``."""

    text: str


@attrs.frozen
class AdvancedV1:
    """``advanced``: a trigger fired, with the rules' decisions."""

    ALSO_WRITTEN: ClassVar = frozenset({"reason"})  # advance --reason: advance-without-reason

    trigger: str
    from_: str
    to: str
    rules: tuple[Decision, ...]
    override: Override | None = None


@attrs.frozen
class AdvancedV2:
    """``advanced`` v2 (#13): the day the move happened, and the round a new round starts."""

    ALSO_WRITTEN: ClassVar = frozenset({"reason"})  # advance --reason: advance-without-reason

    trigger: str
    from_: str
    to: str
    rules: tuple[Decision, ...]
    on: str = attrs.field(default="", metadata=_DAY)
    round: int | None = None
    override: Override | None = None


@attrs.frozen
class RefusedV1:
    """``refused``: an action the engine refused, with every reason."""

    action: Literal["advance", "record", "force"]
    stage: str
    rules: tuple[Decision, ...]
    why: tuple[str, ...]
    trigger: str = ""
    activity: str = ""
    from_: str = ""
    to: str | None = None  # null: the trigger cannot fire from the stage
    on: str = attrs.field(default="", metadata=_DAY)
    note: str = ""
    roles: tuple[str, ...] = ()
    reason: str = ""  # the attempted advance --reason
    override: AttemptedOverride | None = None


@attrs.frozen
class RefusedV2:
    """``refused`` v2 (#13): a refused record with its activity parameters, or a refused
    advance with the day it was said to happen."""

    action: Literal["advance", "record", "force"]
    stage: str
    rules: tuple[Decision, ...]
    why: tuple[str, ...]
    trigger: str = ""
    activity: str = ""
    from_: str = ""
    to: str | None = None
    on: str = attrs.field(default="", metadata=_DAY)
    note: str = ""
    roles: tuple[str, ...] = ()
    reason: str = ""  # the attempted advance --reason
    override: AttemptedOverride | None = None
    params: dict[str, str] = attrs.field(factory=dict)
    round: int | None = None


@attrs.frozen
class PersonAddedV1:
    """``person_added`` (#13): someone took a role in the engagement on a day."""

    name: str
    role: str
    on: str = attrs.field(metadata=_DAY)
    org: str = ""


@attrs.frozen
class PersonLeftV1:
    """``person_left`` (#13): someone left on a day (the top-level ``reason`` is required)."""

    name: str
    on: str = attrs.field(metadata=_DAY)


@attrs.frozen
class HandedOverV1:
    """``handed_over`` (#13): the envoy *from_* left and *to* was appointed, on a day."""

    from_: str
    to: str
    on: str = attrs.field(metadata=_DAY)
    org: str = ""


@attrs.frozen
class LinkedV1:
    """``linked`` (#13): a link to another engagement or an outside reference ``ORG:REF``."""

    other: str
    relation: Literal["parent", "child", "same-process", "follows"]
    note: str = ""


@attrs.frozen
class UnlinkedV1:
    """``unlinked`` (#13): a link removed."""

    other: str
    relation: Literal["parent", "child", "same-process", "follows"]


@attrs.frozen
class LessonV1:
    """``lesson`` (#15): a structured lesson, recorded during *stage*; ``sections`` fill the
    playbook's lesson headings; ``on`` (optional) is the day it was drawn."""

    title: str
    text: str
    themes: tuple[str, ...]
    sections: dict[str, str]
    stage: str
    on: str = attrs.field(default="", metadata=_DAY)


@attrs.frozen
class ForcedV1:
    """``forced``: a move regardless of rules (the top-level ``reason`` is required)."""

    from_: str
    to: str
    roles: tuple[str, ...]


@attrs.frozen
class RepairedV1:
    """``repaired``: a torn tail cut and saved beside the file."""

    cut_bytes: int
    saved_to: str
    sha256: str


EVENT_MODELS: Final[Mapping[tuple[str, int], type]] = {
    ("opened", 1): OpenedV1,
    ("opened", 2): OpenedV2,
    ("fact_set", 1): FactSetV1,
    ("item_checked", 1): ItemCheckedV1,
    ("item_checked", 2): ItemCheckedV2,
    ("item_unchecked", 1): ItemUncheckedV1,
    ("activity_recorded", 1): ActivityRecordedV1,
    ("activity_recorded", 2): ActivityRecordedV2,
    ("note_added", 1): NoteAddedV1,
    ("advanced", 1): AdvancedV1,
    ("advanced", 2): AdvancedV2,
    ("refused", 1): RefusedV1,
    ("refused", 2): RefusedV2,
    ("person_added", 1): PersonAddedV1,
    ("person_left", 1): PersonLeftV1,
    ("handed_over", 1): HandedOverV1,
    ("linked", 1): LinkedV1,
    ("unlinked", 1): UnlinkedV1,
    ("lesson", 1): LessonV1,
    ("forced", 1): ForcedV1,
    ("repaired", 1): RepairedV1,
}
