"""The checks of every history line, derived from the event models (:mod:`._eventmodels`).

The models are the schema, defined once. :func:`structure_event` turns a stored record into its
model with cattrs (strict: no coercion). Readers run :func:`event_problem` on every line they
read, a check derived from the same models, cheap enough for the audit's hot path. A record that
verifies (every hash right) but does not fit its model is a bad event: the audit reports it as
``bad-event``, every other reader refuses the history.

A member a model does not name (nor its class's ``ALSO_WRITTEN``) is one the engine never
writes: a bad event too.
"""

from __future__ import annotations

import functools
import operator
import typing
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Final, Literal

import attrs

from ._eventmodels import (
    EVENT_MODELS,
    Decision,
    FactValue,
    Header,
)
from ._schemacheck import TYPE_NAMES, Check, compile_check, one_of, type_name
from .exceptions import CorruptHistoryError

if TYPE_CHECKING:
    import cattrs

__all__ = [
    "ENVELOPE_MEMBERS",
    "EVENT_MODELS",
    "NEEDS_REASON",
    "Decision",
    "Event",
    "Header",
    "check_events",
    "event_fits",
    "event_problem",
    "header_problem",
    "sig_fits",
    "structure_event",
]

Record = dict[str, Any]  # Any: a JSON object as stored.


def _positive(value: int) -> str:
    return "" if value >= 1 else f"{value!r} is not 1 or more"


_POSITIVE: Final = {"check": _positive}


@attrs.frozen
class Signature:
    """An event's ``sig``: the signing key's fingerprint and the Ed25519 signature."""

    key: str
    ed25519: str


@attrs.frozen
class Event:
    """Any event line: the members every event has, and its type's data model."""

    ALSO_WRITTEN: ClassVar = frozenset({"hash"})

    seq: int = attrs.field(metadata=_POSITIVE)
    at: str
    actor: str
    type: str
    v: int = attrs.field(metadata=_POSITIVE)
    data: Any  # Any: the model of (type, v), from EVENT_MODELS
    prev: str
    reason: str | None = None
    sig: Signature | None = None


_ENVELOPE: Final = frozenset(
    {"seq", "at", "actor", "type", "v", "data", "prev", "reason", "sig", "hash"}
)


_NEEDS_REASON: Final = frozenset({"forced", "person_left"})
# Each model's check is compiled when a line of its type is first read (#14: not at import).
_DATA_CHECKS: Final[dict[tuple[str, int], Check]] = {}


def _data_check(key: tuple[str, int]) -> Check | None:
    model = EVENT_MODELS.get(key)
    if model is None:
        return None
    check = _DATA_CHECKS[key] = compile_check(model)
    return check


@functools.cache
def _header_check() -> Check:
    return compile_check(Header)


@functools.cache
def _envelope_check() -> Check:
    return compile_check(Event)


def _sig_fits(sig: object) -> bool:
    """Whether a ``sig`` member is absent (None) or has the shape the engine writes."""
    if sig is None:
        return True
    if type(sig) is not dict or len(sig) != 2:
        return False
    return type(sig.get("key")) is str and type(sig.get("ed25519")) is str


def event_problem(record: Mapping[str, Any]) -> str:
    """What is wrong with event *record* against its model, or "" when it fits.

    An unknown type or a newer version is not this check's business (the readers name those);
    it answers "" for them. A type that is not a string, or a version that is not an integer,
    is a problem: no reader could even look them up.
    """
    # Any: a JSON object as stored.
    get = record.get
    kind, version = get("type"), get("v")
    if type(kind) is not str:
        return f"type: {kind!r} is not a string"
    if type(version) is not int:
        return f"{kind} event: v: {version!r} is not an integer"
    if version < 1:
        return f"{kind} event: v: {version!r} is not 1 or more"
    data_check = _DATA_CHECKS.get((kind, version)) or _data_check((kind, version))
    if data_check is None:
        return ""
    actor, reason, seq, sig = get("actor"), get("reason"), get("seq"), get("sig")
    if type(actor) is str and actor.strip() and not data_check(get("data")):
        if (reason is None and kind not in _NEEDS_REASON) or type(reason) is str:
            if type(seq) is int and seq > 0 and type(get("prev")) is str:
                if type(get("at")) is str and _ENVELOPE.issuperset(record):
                    if sig is None or _sig_fits(sig):
                        return ""
    return _explain(record, data_check)


# The names the audit's one-pass check (_eventfits) shares with the checks here.
ENVELOPE_MEMBERS: Final = _ENVELOPE
NEEDS_REASON: Final = _NEEDS_REASON
sig_fits: Final = _sig_fits

# The members every event must hold, read in one call (a missing one raises KeyError).
_REQUIRED: Final = operator.itemgetter("actor", "data", "seq", "prev", "at")


def event_fits(record: Mapping[str, Any], kind: str, version: int) -> bool:
    """Whether ``event_problem(record)`` is "", for a record whose ``type`` *kind* and ``v``
    *version* the caller has read (the audit's reader, which asks only why a record does not fit).
    """
    # Any: a JSON object as stored.
    if version < 1:
        return False
    data_check = _DATA_CHECKS.get((kind, version)) or _data_check((kind, version))
    if data_check is None:
        return True  # an unknown type or version: not this check's business
    try:
        actor, data, seq, prev, at = _REQUIRED(record)
    except KeyError:
        return False
    get = record.get
    reason, sig = get("reason"), get("sig")
    return (
        type(actor) is str
        and bool(actor.strip())
        and ((reason is None and kind not in _NEEDS_REASON) or type(reason) is str)
        and type(seq) is int
        and seq > 0
        and type(prev) is str
        and type(at) is str
        and _ENVELOPE.issuperset(record)
        and (sig is None or _sig_fits(sig))
        and not data_check(data)
    )


def check_events(label: str, records: list[Record]) -> list[Record]:
    """*records*, once each fits its schema: a bad one is refused, naming file, seq and problem.

    Raises:
        CorruptHistoryError: The first record that does not fit its model.
    """
    # Any: JSON objects as stored.
    for record in records:
        if problem := event_problem(record):
            seq = record.get("seq")
            seq = seq if type(seq) is int else None
            raise CorruptHistoryError(label, f"bad event at seq {seq}: {problem}", seq)
    return records


def _explain(record: Mapping[str, Any], data_check: Check) -> str:
    kind = record.get("type")
    if problem := _envelope_check()(dict(record)):
        return f"{kind} event: {problem.lstrip('.')}"
    if not str(record.get("actor")).strip():
        return f"{kind} event: actor: empty"
    if kind in _NEEDS_REASON and type(record.get("reason")) is not str:
        return f"{kind} event: reason: missing"
    return f"{kind} event: data{data_check(record.get('data'))}"


def header_problem(header: Mapping[str, Any]) -> str:
    """What is wrong with header record *header*, or "" when it fits :class:`Header`."""
    # Any: a JSON object as stored.
    problem = _header_check()(dict(header))
    return f"header: {problem.lstrip('.')}" if problem else ""


# ---------------------------------------------------------------- typed access, with cattrs


def _strict(kind: type) -> Callable[[object, type], object]:
    def structure(value: object, _: type) -> object:
        if type(value) is not kind:
            raise TypeError(f"expected {TYPE_NAMES[kind]}, got {type_name(value)}")
        return value

    return structure


def _is_literal(kind: Any) -> bool:
    # Any: a typing form.
    origin: object = typing.get_origin(kind)
    return origin is Literal


def _literal(value: object, kind: Any) -> object:
    # Any: a typing.Literal form.
    if problem := one_of(typing.get_args(kind))(value):
        raise ValueError(problem)
    return value


def _is_fact_value(kind: Any) -> bool:
    # Any: a typing form.
    return kind in (FactValue, FactValue | None)


def _fact_value(value: object, kind: Any) -> object:
    # Any: the FactValue union, nullable or not.
    if problem := compile_check(kind)(value):
        raise TypeError(problem)
    return value


@functools.cache
def _converter() -> cattrs.Converter:
    """The converter for typed access (cattrs is imported only by those who ask for it)."""
    import cattrs
    from cattrs.gen import make_dict_structure_fn, override

    conv = cattrs.Converter()
    for kind in (str, int, bool):
        conv.register_structure_hook(kind, _strict(kind))
    conv.register_structure_hook_func(_is_literal, _literal)
    conv.register_structure_hook_func(_is_fact_value, _fact_value)
    for model in (*EVENT_MODELS.values(), Header):
        renames: dict[str, Any] = {  # Any: cattrs' overrides, typed loosely by cattrs
            f.name: override(rename=f.name.removesuffix("_"))
            for f in attrs.fields(model)
            if f.name.endswith("_")
        }
        conv.register_structure_hook(model, make_dict_structure_fn(model, conv, **renames))
    return conv


def structure_event(record: Mapping[str, Any]) -> Event:
    """*record* as its typed :class:`Event`, with ``data`` as its type's model.

    Raises:
        ValueError: The record does not fit its model (:func:`event_problem` words why).
    """
    # Any: a JSON object as stored.
    kind, version = record.get("type"), record.get("v")
    model = (
        EVENT_MODELS.get((kind, version)) if type(kind) is str and type(version) is int else None
    )
    problem = event_problem(record) if model else f"unknown event type {kind!r} version {version!r}"
    if problem or model is None:
        raise ValueError(problem)
    fields = {k: record[k] for k in ("seq", "at", "actor", "type", "v", "prev") if k in record}
    data: object = _converter().structure(record["data"], model)
    return Event(**fields, data=data, reason=record.get("reason"))
