"""The playbook embedded in a history: one structured, validated object per distinct playbook (#14).

Every engagement's ``opened`` event (and every snapshot) carries its playbook as plain data and
its sha256. An office's engagements mostly share a handful of playbooks, so this module keeps one
:class:`~lifecycle.Playbook` per distinct embedded data in the process, keyed by the sha256 of
that data's canonical JSON: the same bytes can only structure to the same playbook.

Structuring the canonical data the engine writes needs neither cattrs nor its start-up cost: a
small structurer (exact types, every key known, Literal values checked) builds the playbook and
the round trip proves it, since the playbook's own canonical form must hash to the data's. Any
doubt (data not in canonical form, a value of an unexpected type) hands the data to the cattrs
converter (:mod:`~lifecycle._convert`), which is the definition and words every problem.
"""

from __future__ import annotations

import functools
import hashlib
import json
import types
import typing
from collections.abc import Mapping
from typing import Any, Final

import attrs

from . import _model
from ._model import Playbook, Rule, Trigger

__all__ = ["check_embedded", "drop_empty", "embedded_playbook", "plain_playbook", "playbook_sha256"]

_CACHE: Final[dict[str, tuple[Playbook, str]]] = {}  # sha256 of the data -> playbook, digest
_VALID: Final[dict[str, tuple[str, ...]]] = {}  # digest -> validation problems
_CACHE_LIMIT: Final = 256
_RULE_FIELDS: Final = frozenset(a.name for a in attrs.fields(Rule)) - {"params"}


class _Doubt(Exception):
    """The fast structurer cannot vouch for the data: the converter decides."""


def canonical(data: object) -> bytes:
    """Sorted keys, no spaces, UTF-8: the form hashed (as ``_playbooks.canonical_json``)."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def playbook_sha256(playbook: Playbook) -> str:
    """The sha256 of *playbook*'s canonical JSON form (``playbook_digest``, without cattrs)."""
    return hashlib.sha256(canonical(plain_playbook(playbook))).hexdigest()


def embedded_playbook(data: object, *, validate: bool) -> tuple[Playbook, str]:
    """The playbook *data* structures to and its digest, once per distinct data in a process.

    With *validate*, the resolved playbook's checks must pass too (once per digest).

    Raises:
        ValueError: The data does not structure to a playbook, or (with *validate*) the
            playbook is invalid; the message says which.
    """
    if not isinstance(data, dict):
        raise ValueError("embedded playbook is invalid (not an object)")
    key = hashlib.sha256(canonical(data)).hexdigest()
    hit = _CACHE.get(key)
    if hit is None:
        hit = _structured(data, key)
        if len(_CACHE) >= _CACHE_LIMIT:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = hit
    if validate:
        check_embedded(*hit)
    return hit


def check_embedded(playbook: Playbook, digest: str) -> None:
    """Pass when the resolved *playbook* (of *digest*) passes its checks (once per digest).

    Raises:
        ValueError: The first problem found.
    """
    problems = _VALID.get(digest)
    if problems is None:
        from ._validate import Origins, validate_resolved

        problems = tuple(validate_resolved(playbook, Origins(top="opened"), any_kind=True))
        _VALID[digest] = problems
    if problems:
        raise ValueError(f"embedded playbook is invalid: {problems[0]}")


def _structured(data: dict[str, Any], key: str) -> tuple[Playbook, str]:
    # Any: parsed JSON.
    try:
        playbook = _build(data, Playbook)
        if playbook_sha256(playbook) == key:  # the data is exactly this playbook's form
            return playbook, key
    except (_Doubt, KeyError, TypeError, ValueError, AttributeError):
        pass
    from ._convert import structure_playbook

    try:
        playbook = structure_playbook(data)
    except Exception as exc:  # noqa: BLE001 - any structuring error: a bad embedded playbook
        raise ValueError(f"embedded playbook is invalid ({type(exc).__name__})") from None
    return playbook, playbook_sha256(playbook)


# ---------------------------------------------------------------- structuring, strictly


@functools.cache
def _hints(kind: type) -> dict[str, Any]:
    # Any: typing forms.
    return typing.get_type_hints(kind, vars(_model))


def _build(value: object, kind: Any) -> Any:
    """*value* as *kind* (an attrs class or a typing form), or :class:`_Doubt`."""
    # Any: typing forms in, model objects out.
    if attrs.has(kind):
        return _build_class(value, kind)
    origin = typing.get_origin(kind)
    args = typing.get_args(kind)
    if kind in (str, int, bool):
        if type(value) is not kind:
            raise _Doubt(kind)
        return value
    if origin is tuple:
        if type(value) is not list:
            raise _Doubt(kind)
        return tuple(_build(item, args[0]) for item in value)
    if origin is typing.Literal:
        if value not in args or type(value) is not type(args[0]):
            raise _Doubt(kind)
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        return _build(value, next(a for a in args if a is not type(None)))
    if origin is Mapping:
        if type(value) is not dict:
            raise _Doubt(kind)
        return {_build(k, args[0]): _build(v, args[1]) for k, v in value.items()}
    raise _Doubt(kind)


def _build_class(value: object, kind: type) -> Any:
    # Any: a model object.
    if type(value) is not dict:
        raise _Doubt(kind)
    hints = _hints(kind)
    given = dict(value)
    params: dict[str, object] = {}
    if kind is Rule:
        params = {k: v for k, v in given.items() if k not in _RULE_FIELDS}
        given = {k: v for k, v in given.items() if k in _RULE_FIELDS}
    if kind is Trigger and "from" in given:
        given["from_"] = given.pop("from")
    fields = {a.name for a in attrs.fields(kind)}
    if set(given) - fields:
        raise _Doubt(kind)
    built = {name: _build(item, hints[name]) for name, item in given.items()}
    if kind is Rule:
        built["params"] = params
    return kind(**built)


# ---------------------------------------------------------------- unstructuring


def plain_playbook(playbook: Playbook) -> dict[str, Any]:
    """*playbook* as plain data, as ``_convert.unstructure_playbook`` gives it (no cattrs)."""
    # Any: a JSON/TOML document.
    data: dict[str, Any] = _plain(playbook)
    return drop_empty(data)


def _plain(value: object) -> Any:
    # Any: plain data of any shape.
    kind = type(value)
    if attrs.has(kind):
        out = {
            ("from" if a.name == "from_" else a.name): _plain(getattr(value, a.name))
            for a in attrs.fields(kind)
        }
        if isinstance(value, Rule):
            del out["params"]
            out.update(value.params)
        return out
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def drop_empty(data: dict[str, Any]) -> dict[str, Any]:
    """Drop ``None`` values (TOML has no null) and the merge-only keys when empty."""
    # Any: a JSON/TOML document is heterogeneous by nature.
    out: dict[str, Any] = {}
    for key, value in data.items():
        if value is None or (key in ("remove", "checklist") and value == []):
            continue
        if isinstance(value, list):
            value = [drop_empty(v) if isinstance(v, dict) else v for v in value]
        out[key] = value
    return out
