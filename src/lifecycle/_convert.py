"""The one cattrs converter: TOML/JSON data <-> playbook models.

The models carry no (de)serialization code; every rule for turning a TOML document into a
:class:`~lifecycle._model.Playbook` and back lives here (cattrs: "rules are separate from models").
Structuring is strict: a wrong type is an error, never coerced (cattrs would turn ``5`` into
``"5"``), and unknown keys are errors, so a typo such as ``intial = true`` is reported.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Callable, Mapping
from typing import Any, Final

import attrs
import cattrs
from cattrs.errors import IterableValidationNote
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from ._embedded import drop_empty
from ._model import Playbook, Rule, Trigger

__all__ = [
    "is_tuple",
    "strict",
    "structure_playbook",
    "structure_problems",
    "tuple_structurer",
    "unstructure_playbook",
]

_RULE_FIELDS: Final = frozenset(a.name for a in attrs.fields(Rule)) - {"params"}
_PRIMITIVES: Final = (str, int, bool)


def strict(kind: type) -> Callable[[object, type], object]:
    """A structure hook taking values of exactly *kind*: no coercion (cattrs would turn ``5``
    into ``"5"``), and bool is not an int."""

    def structure(value: object, _: type) -> object:
        # `type(...) is` on purpose: bool is an int subclass, and True is no stage count.
        if type(value) is not kind:
            raise TypeError(f"expected {_type_name(kind)}, got {_type_name(type(value))}")
        return value

    return structure


def _type_name(kind: type) -> str:
    return {
        str: "a string",
        int: "an integer",
        bool: "true or false",
        list: "an array",
        dict: "a table",
        float: "a number with a fraction",
    }.get(kind, kind.__name__)


def tuple_structurer(conv: cattrs.Converter) -> Callable[[object, Any], tuple[object, ...]]:
    """A structure hook for ``tuple[X, ...]`` on *conv*: an array (never a string or a table),
    each item structured, every bad item reported with its index."""

    def structure(value: object, kind: Any) -> tuple[object, ...]:
        # Any: a typing alias such as tuple[str, ...]; cattrs hands it over as is.
        if not isinstance(value, list | tuple):
            raise TypeError(f"expected an array, got {_type_name(type(value))}")
        (item_type, *_) = typing.get_args(kind)
        errors: list[Exception] = []
        items: list[object] = []
        for index, item in enumerate(value):
            try:
                items.append(conv.structure(item, item_type))
            except Exception as exc:  # noqa: BLE001 - collected, re-raised as a group with paths
                note = IterableValidationNote(f"Structuring item @ index {index}", index, item_type)
                exc.__notes__ = [*getattr(exc, "__notes__", []), note]
                errors.append(exc)
        if errors:
            raise cattrs.IterableValidationError("invalid items", errors, kind)
        return tuple(items)

    return structure


def _structure_literal(value: object, kind: Any) -> object:
    # Any: a typing.Literal special form.
    allowed = typing.get_args(kind)
    if value not in allowed or type(value) is not type(allowed[0]):
        raise ValueError(f"{value!r} is not one of {', '.join(repr(a) for a in allowed)}")
    return value


def _structure_rule(value: object, _: type) -> Rule:
    if not isinstance(value, dict):
        raise TypeError(f"expected a table, got {_type_name(type(value))}")
    known = {k: v for k, v in value.items() if k in _RULE_FIELDS}
    params = {k: v for k, v in value.items() if k not in _RULE_FIELDS}
    rule = _rule_fields(known, Rule)
    return attrs.evolve(rule, params=params)


def _unstructure_rule(rule: Rule) -> dict[str, object]:
    data = _rule_unfields(rule)
    data.pop("params", None)
    data.update(rule.params)
    return data


def is_tuple(kind: Any) -> bool:
    """Whether *kind* is a ``tuple[...]`` annotation."""
    # Any: a typing form; get_origin is typed too narrowly for a plain comparison.
    origin: object = typing.get_origin(kind)
    return origin is tuple


def _is_literal(kind: Any) -> bool:
    # Any: a typing form.
    origin: object = typing.get_origin(kind)
    return origin is typing.Literal


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter(forbid_extra_keys=True, omit_if_default=False)
    for kind in _PRIMITIVES:
        conv.register_structure_hook(kind, strict(kind))
    conv.register_structure_hook_func(is_tuple, tuple_structurer(conv))
    conv.register_structure_hook_func(_is_literal, _structure_literal)
    conv.register_structure_hook(
        Trigger, make_dict_structure_fn(Trigger, conv, from_=override(rename="from"))
    )
    conv.register_unstructure_hook(
        Trigger, make_dict_unstructure_fn(Trigger, conv, from_=override(rename="from"))
    )
    conv.register_structure_hook(Rule, _structure_rule)
    conv.register_unstructure_hook(Rule, _unstructure_rule)
    return conv


_CONVERTER: Final = _make_converter()
_rule_fields = make_dict_structure_fn(Rule, _CONVERTER, params=override(omit=True))
_rule_unfields = make_dict_unstructure_fn(Rule, _CONVERTER)


def structure_playbook(data: Mapping[str, object]) -> Playbook:
    """Build a :class:`Playbook` from parsed TOML or JSON.

    Raises:
        cattrs.BaseValidationError: With every problem; :func:`structure_problems` words them.
    """
    return _CONVERTER.structure(dict(data), Playbook)


def unstructure_playbook(playbook: Playbook) -> dict[str, Any]:
    """Return *playbook* as plain data (TOML-writable: no ``None``, keys as the schema spells them)."""
    # Any: a JSON/TOML document is heterogeneous by nature.
    data: dict[str, Any] = _CONVERTER.unstructure(playbook)
    return drop_empty(data)


def structure_problems(exc: Exception) -> list[str]:
    """Word a cattrs validation error as ``$.key.path: problem`` lines."""
    if not isinstance(exc, cattrs.BaseValidationError):
        return [f"$: {exc}"]
    return [_reword(line) for line in cattrs.transform_error(exc, path="$", format_exception=_fmt)]


def _fmt(exc: BaseException, kind: type | None) -> str:
    if isinstance(exc, KeyError):
        return "missing required key"
    if isinstance(exc, cattrs.ForbiddenExtraKeysError):
        return (
            f"unknown key{'s' * (len(exc.extra_fields) > 1)} {', '.join(sorted(exc.extra_fields))}"
        )
    if isinstance(exc, TypeError | ValueError):
        return str(exc)
    return str(exc)


def _reword(line: str) -> str:
    message, _, path = line.rpartition(" @ ")
    # cattrs names attributes; users wrote TOML keys (`from_` is the attribute for `from`).
    path = re.sub(r"\.from_\b", ".from", path)
    return f"{path}: {message}" if path else line
