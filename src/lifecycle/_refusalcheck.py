"""Engine conditions on the events outside rules that earlier checks let through (the forger's
review, item 3): a second ``opened``, a ``forced`` event from another stage than the
engagement's, a ``repaired`` event no repair could have written, and refusals the engine could
never have recorded. Each problem is a ``not-allowed`` error, through :mod:`~lifecycle._eventcheck`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any, Final

from ._machine import compile_machine
from ._state import Engagement

__all__ = ["STRUCTURE_CHECKS"]

Record = dict[str, Any]  # Any: a JSON object as stored.
_SHA256: Final = re.compile(r"[0-9a-f]{64}")
_SAVED_TO: Final = re.compile(
    r"(?P<eid>[A-Za-z0-9][A-Za-z0-9._-]{0,127})\.history\.jsonl\.torn-[0-9A-Za-z:._-]+"
)
_LINE_MAX: Final = 16 * 1024 * 1024  # a torn tail is at most one line and its start


def _opened(engagement: Engagement, data: Record, record: Record) -> Iterator[str]:
    yield f"a second opened event (the engagement was opened at seq 1, as {engagement.id!r})"


def _forced(engagement: Engagement, data: Record, record: Record) -> Iterator[str]:
    if data.get("from") != engagement.stage:
        yield (
            f"forced from stage {data.get('from')!r}; the engagement was in {engagement.stage!r}"
        )


def _repaired(engagement: Engagement, data: Record, record: Record) -> Iterator[str]:
    cut = data.get("cut_bytes")
    if not isinstance(cut, int) or isinstance(cut, bool) or not 0 < cut <= _LINE_MAX:
        yield f"repaired with cut_bytes {cut!r} (a torn tail is 1 to {_LINE_MAX} bytes)"
    saved = data.get("saved_to")
    match = _SAVED_TO.fullmatch(saved) if isinstance(saved, str) else None
    if match is None or match["eid"] != engagement.id:
        yield f"repaired with saved_to {saved!r} (the engine saves beside the history, as "
        yield f"{engagement.id}.history.jsonl.torn-<timestamp>)"
    if not isinstance(data.get("sha256"), str) or not _SHA256.fullmatch(data["sha256"]):
        yield f"repaired with sha256 {data.get('sha256')!r} (64 lowercase hex digits)"


def _refused(engagement: Engagement, data: Record, record: Record) -> Iterator[str]:
    if data.get("stage") != engagement.stage:
        yield f"refusal recorded in stage {data.get('stage')!r}; the engagement was in {engagement.stage!r}"
    why = data.get("why")
    if (
        not isinstance(why, list)
        or not why
        or not all(isinstance(w, str) and w.strip() for w in why)
    ):
        yield "refusal without a reason in why (the engine records every reason it refused)"
        return
    if data.get("action") == "advance":
        yield from _refused_move(engagement, data)
    rules = [r for r in data.get("rules") or [] if isinstance(r, dict)]
    blocked = {str(r.get("rule")) for r in rules if r.get("outcome") == "block"}
    if not blocked and all(_rule_reason(w, rules) for w in why):
        yield (
            "refusal whose recorded decisions let the action pass (no rule blocks, and every "
            "reason in why is a rule's)"
        )


def _rule_reason(why: str, rules: list[Record]) -> bool:
    return any(why.startswith(f"{r.get('rule')}: ") for r in rules)


def _refused_move(engagement: Engagement, data: Record) -> Iterator[str]:
    if data.get("from") != engagement.stage:
        yield f"refused move recorded from {data.get('from')!r}; the engagement was in {engagement.stage!r}"
    trigger = data.get("trigger")
    if not isinstance(trigger, str) or engagement.playbook.trigger(trigger) is None:
        yield f"refused move of unknown trigger {trigger!r}"
        return
    machine = compile_machine(engagement.playbook, engagement.playbook_sha256)
    dest = machine.target(trigger, engagement.stage, engagement.came_from())
    if data.get("to") != dest:
        yield f"refused move recorded to {data.get('to')!r}; from here it leads to {dest!r}"


STRUCTURE_CHECKS: Final[dict[str, Callable[[Engagement, Record, Record], Iterator[str]]]] = {
    "opened": _opened,
    "forced": _forced,
    "repaired": _repaired,
    "refused": _refused,
}
