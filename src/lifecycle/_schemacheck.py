"""Checks derived from attrs models: what the history readers run on every line.

:func:`compile_check` turns an annotation (``str``, a ``Literal``, ``X | None``, ``tuple[X, ...]``,
``dict[str, X]``, an attrs class) into a function returning "" when a JSON value fits it, or
what is wrong with its path (``.rules[2].outcome: 'maybe' is not one of ...``). Models compile
to generated code, as attrs and cattrs generate theirs: this is the audit's hot path. A field's
``metadata["check"]`` adds a check on a value of the right type.

An object may hold only the members its model names, and those its class lists in
``ALSO_WRITTEN`` (members the engine writes that the model leaves unchecked): any other is a
member the engine never writes, and the check says so.
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from types import NoneType, UnionType
from typing import Any, Final, Literal

import attrs

__all__ = [
    "ALSO_WRITTEN",
    "TYPE_NAMES",
    "Check",
    "compile_check",
    "members_of",
    "model_lines",
    "one_of",
    "type_name",
]

Check = Callable[[object], str]  # "" when the value fits, else what is wrong (with its path)


TYPE_NAMES: Final = {str: "a string", int: "an integer", bool: "true or false", dict: "an object"}


def type_name(value: object) -> str:
    if value is None:
        return "null"
    return TYPE_NAMES.get(
        type(value), "an array" if isinstance(value, list) else type(value).__name__
    )


def compile_check(kind: Any) -> Check:
    """A check for values of the annotation *kind* (as the models use them)."""
    # Any: a typing form.
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if kind is Any:
        return lambda value: ""
    if kind in (str, int, bool):
        return _exact(kind)
    if origin is Literal:
        return one_of(args)
    if origin in (UnionType, typing.Union):
        return _optional([compile_check(a) for a in args if a is not NoneType], NoneType in args)
    if origin is tuple:
        return _array(compile_check(args[0]))
    if origin is dict:
        return _mapping(compile_check(args[1]), _plain_types(args[1]))
    if attrs.has(kind):
        return _model(kind)
    raise TypeError(f"no check for {kind!r}")  # pragma: no cover - a model uses a new type


def _exact(kind: type) -> Check:
    expected = TYPE_NAMES[kind]
    return lambda value: (
        "" if type(value) is kind else f"expected {expected}, got {type_name(value)}"
    )


def one_of(allowed: tuple[object, ...]) -> Check:
    words = ", ".join(repr(a) for a in allowed)

    def check(value: object) -> str:
        if type(value) is type(allowed[0]) and value in allowed:
            return ""
        return f"{value!r} is not one of {words}"

    return check


def _optional(checks: list[Check], nullable: bool) -> Check:
    (inner,) = checks if len(checks) == 1 else (_either(checks),)

    def check(value: object) -> str:
        return "" if value is None and nullable else inner(value)

    return check


def _either(checks: list[Check]) -> Check:
    def check(value: object) -> str:
        problems = [c(value) for c in checks]
        if "" in problems:
            return ""
        expected = " or ".join(p.partition(", got ")[0].removeprefix("expected ") for p in problems)
        return f"expected {expected}, got {type_name(value)}"

    return check


def _array(item: Check) -> Check:
    def check(value: object) -> str:
        if type(value) is not list:
            return f"expected an array, got {type_name(value)}"
        for index, element in enumerate(value):
            if problem := item(element):
                return _at(f"[{index}]", problem)
        return ""

    return check


def _plain_types(kind: Any) -> frozenset[type]:
    """The exact types a union of plain types allows (empty for anything else)."""
    # Any: a typing form.
    if typing.get_origin(kind) in (UnionType, typing.Union):
        allowed = frozenset(typing.get_args(kind))
        if allowed <= {str, int, bool, NoneType}:
            return allowed
    return frozenset()


def _mapping(item: Check, plain: frozenset[type] = frozenset()) -> Check:
    def check(value: object) -> str:
        if plain and type(value) is dict:  # the common case: plain values, checked in one loop
            for element in value.values():
                if type(element) not in plain:
                    break
            else:
                return ""
        if type(value) is not dict:
            return f"expected an object, got {type_name(value)}"
        for key, element in value.items():
            if problem := item(element):
                return _at(f".{key}", problem)
        return ""

    return check


def _at(path: str, problem: str) -> str:
    return f"{path}{problem}" if problem[:1] in ".[" else f"{path}: {problem}"


ALSO_WRITTEN: Final = "ALSO_WRITTEN"  # a model's class attribute: members it leaves unchecked


def members_of(cls: type) -> frozenset[str]:
    """Every member an object of model *cls* may hold: its fields' and its ``ALSO_WRITTEN``."""
    named = frozenset(f.name.removesuffix("_") for f in attrs.fields(cls))
    also: frozenset[str] = getattr(cls, ALSO_WRITTEN, frozenset())
    return named | also


def _unwritten(allowed: frozenset[str]) -> Check:
    def check(value: object) -> str:
        extra = sorted(
            str(key) for key in typing.cast(dict[str, object], value) if key not in allowed
        )
        return f".{extra[0]}: a member the engine never writes" if extra else ""

    return check


def _model(cls: type) -> Check:
    """A check for a JSON object holding *cls*: generated code, as attrs and cattrs generate
    theirs (this runs for every line an audit reads)."""
    names: dict[str, object] = {}
    lines = ["def check(value):", *model_lines(cls, names), "    return ''"]
    namespace: dict[str, Any] = {}
    exec(compile("\n".join(lines), f"<event check {cls.__name__}>", "exec"), names, namespace)
    return typing.cast(Check, namespace["check"])


def model_lines(cls: type, names: dict[str, object], fail: str | None = None) -> list[str]:
    """The lines (indented once) that check the JSON value ``value`` against model *cls*, each
    problem a ``return`` of its wording, or of *fail* when given; *names* gets the names they
    use. A value that fits runs past the last line."""
    hints = typing.get_type_hints(cls)
    allowed = members_of(cls)
    names.update(
        _missing=_MISSING, _describe=_describe, _allowed=allowed, _unwritten=_unwritten(allowed)
    )
    names["_at"] = lambda key, problem: _at(f".{key}", problem)
    lines = ["    if type(value) is not dict:", f"        return {fail or _NOT_AN_OBJECT}"]
    if fail is None:  # the wording names a member the engine never writes first
        lines += ["    if not _allowed.issuperset(value):", "        return _unwritten(value)"]
    for index, field in enumerate(attrs.fields(cls)):
        key = field.name.removesuffix("_")
        kind, extra = hints[field.name], field.metadata.get("check")
        lines.append(f"    m = value.get({key!r}, _missing)")
        lines.append("    if m is _missing:")
        missing = f"return {fail or repr(f'.{key}: missing')}"
        lines.append(f"        {'pass' if field.default is not attrs.NOTHING else missing}")
        check = compile_check(kind)
        names[f"_c{index}"] = _then(check, extra) if extra else check
        test = _inline(kind, f"_a{index}", names)
        if typing.get_origin(kind) is tuple and extra is None:  # most arrays are empty
            lines.append(f"    elif type(m) is not list or m and _c{index}(m):")
        elif test is None:
            lines.append(f"    elif (p := _c{index}(m)):")
        elif extra is not None:
            names[f"_x{index}"] = extra
            lines.append(f"    elif {test} or _x{index}(m):")
        else:
            lines.append(f"    elif {test}:")
        lines.append(f"        return {fail or f'_at({key!r}, _c{index}(m))'}")
    if fail is not None:  # the required members all there: only more can hold another
        required = sum(field.default is attrs.NOTHING for field in attrs.fields(cls))
        lines += [
            f"    if len(value) != {required} and not _allowed.issuperset(value):",
            f"        return {fail}",
        ]
    return lines


_MISSING: Final = object()
_NOT_AN_OBJECT: Final = "_describe(value, 'an object')"


def _inline(kind: Any, name: str, names: dict[str, object]) -> str | None:
    """A cheap failing test for *kind* written inline, or None to call its check."""
    # Any: a typing form.
    if kind in (str, int, bool):
        return f"type(m) is not {kind.__name__}"
    if typing.get_origin(kind) is Literal:
        allowed = typing.get_args(kind)
        names[name] = frozenset(allowed)
        return f"type(m) is not {type(allowed[0]).__name__} or m not in {name}"
    return None


def _describe(value: object, expected: str) -> str:
    return f"expected {expected}, got {type_name(value)}"


def _then(first: Check, second: Callable[[Any], str]) -> Check:
    # Any: the value *first* accepted.
    return lambda value: first(value) or second(value)
