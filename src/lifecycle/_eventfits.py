"""The audit's common line in one pass: does an event fit its model, and how many members does
it hold where the line's colons can be counted against them?

:func:`fits_counter` generates, per event type and version, one function that answers what
:func:`~lifecycle._events.event_fits` answers (for a record whose ``seq``, ``prev``, ``at``,
``type`` and ``v`` the reader has checked) and, when it fits, counts the members of the record,
of its ``data``, of the objects in ``data`` and of its ``sig``: the count the duplicate-member
proof of :mod:`~lifecycle._lines` compares with the line's colons. Knowing the model, it counts
plain members without looking at them (a string, a number or a choice holds no object). It may
count fewer members than there are, never more: a line whose colons it does not match is merely
read again by the general path, which words every finding.
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from types import NoneType, UnionType
from typing import Any, Final, Literal

import attrs

from ._eventmodels import EVENT_MODELS
from ._events import ENVELOPE_MEMBERS, NEEDS_REASON, sig_fits
from ._lines import count_members
from ._replay import EVENT_VERSIONS
from ._schemacheck import model_lines

__all__ = ["COUNTERS", "Fits", "fits_counter"]

# (record, actor, data) -> the members counted, or -1 when the record does not fit its model.
Fits = Callable[[dict[str, Any], object, object], int]
# The checks generated so far (None: no model), by (type, version): looked up by the reader.
COUNTERS: Final[dict[tuple[str, int], Fits | None]] = {}
_PLAIN: Final = frozenset({str, int, bool, NoneType})


def fits_counter(kind: str, version: int) -> Fits | None:
    """The generated check of (*kind*, *version*), or None when no model has that key or this
    lifecycle does not read that version (the general path then says why).

    It answers for a record holding the members the reader has read and checked: ``seq``,
    ``prev``, ``at``, ``type``, ``v``, ``actor``, ``data`` and ``hash``.
    """
    key = (kind, version)
    try:
        return COUNTERS[key]
    except KeyError:
        known = 1 <= version <= EVENT_VERSIONS.get(kind, 0)
        model = EVENT_MODELS.get(key) if known else None
        counter = COUNTERS[key] = None if model is None else _generate(kind, version, model)
        return counter


def _plain(kind: Any) -> bool:
    """Whether values of annotation *kind* never hold an object or an array."""
    # Any: a typing form.
    if kind in _PLAIN or typing.get_origin(kind) is Literal:
        return True
    if typing.get_origin(kind) in (UnionType, typing.Union):
        return all(_plain(arg) for arg in typing.get_args(kind))
    return False


def _plain_mapping(kind: Any) -> bool:
    """Whether *kind* is ``dict[str, X]`` with plain values (its members are its length)."""
    # Any: a typing form.
    return typing.get_origin(kind) is dict and _plain(typing.get_args(kind)[1])


def _generate(kind: str, version: int, model: type) -> Fits:
    hints = typing.get_type_hints(model)
    names: dict[str, object] = {
        "_envelope": ENVELOPE_MEMBERS,
        "_sig_fits": sig_fits,
        "_count": count_members,
    }
    reason_ok = (
        "type(reason) is str" if kind in NEEDS_REASON else "(reason is None or type(reason) is str)"
    )
    lines = [
        "def fits(record, actor, data):",
        "    if type(actor) is not str or not actor.strip():",
        "        return -1",
        "    n = len(record)",
        "    if n != 8:  # more than the 8 members every event holds: a reason, a sig, others?",
        "        if not _envelope.issuperset(record):",
        "            return -1",
        "        reason, sig = record.get('reason'), record.get('sig')",
        f"        if not {reason_ok}:",
        "            return -1",
        "        if sig is not None:",
        "            if not _sig_fits(sig):",
        "                return -1",
        "            n += 2 + sig['key'].count(':')  # 'SHA256:...'",
    ]
    if kind in NEEDS_REASON:
        lines += ["    else:", "        return -1  # no reason"]
    lines += ["    value = data", *model_lines(model, names, "-1"), "    n += len(data)"]
    for field in attrs.fields(model):
        annotation = hints[field.name]
        if _plain(annotation):
            continue
        key = field.name.removesuffix("_")
        lines.append(f"    m = data.get({key!r})")
        if _plain_mapping(annotation):
            lines.append("    if type(m) is dict:")
            lines.append("        n += len(m)")
        else:
            lines.append("    if m:")
            lines.append("        n += _count(m)")
    lines.append("    return n")
    namespace: dict[str, Any] = {}
    source = "\n".join(lines)
    exec(compile(source, f"<event fits {model.__name__}>", "exec"), names, namespace)
    return typing.cast(Fits, namespace["fits"])
