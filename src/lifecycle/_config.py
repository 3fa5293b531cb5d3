"""A workspace's configuration, ``lifecycle.toml``: validated like a playbook.

Today it holds one section, ``[actors."NAME"] roles = [...]``. Each section is a field of
:class:`Config` with its own attrs model, so a new one (``[signing]``, a keyring) is a new field
and a new model; the converter below needs no change for it. Unknown keys and wrong types are
errors naming the file and the key path (a typo such as ``[actor."a.mensah"]`` would otherwise
leave the actor without roles).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import attrs

from ._inputs import ACTOR_NAME, parse_toml, read_toml
from .exceptions import ConfigError, InvalidInputError

if TYPE_CHECKING:  # cattrs is imported when a lifecycle.toml is read (#14)
    import cattrs
    from cattrs.errors import IterableValidationNote

__all__ = [
    "CONFIG_NAME",
    "MAX_CONFIG_BYTES",
    "ActorEntry",
    "Config",
    "SigningSection",
    "load_config",
    "parse_config",
]

CONFIG_NAME: Final = "lifecycle.toml"
MAX_CONFIG_BYTES: Final = 1024 * 1024
# cattrs words a table key as `['a.mensah']`; TOML users wrote `."a.mensah"`.
_QUOTED_KEY: Final = re.compile(r"\['([^']*)'\]")


@attrs.frozen
class ActorEntry:
    """One actor of the workspace (``[actors."NAME"]``): the roles they hold."""

    roles: tuple[str, ...]


@attrs.frozen
class SigningSection:
    """``[signing]``: ``required = true`` refuses every unsigned command (#12)."""

    required: bool = False


@attrs.frozen
class Config:
    """The whole of ``lifecycle.toml``; every section is optional."""

    actors: Mapping[str, ActorEntry] = attrs.field(factory=dict)
    signing: SigningSection = attrs.field(factory=SigningSection)

    def roles_of(self, actor: str) -> tuple[str, ...]:
        """The roles of *actor* (none when unlisted)."""
        entry = self.actors.get(actor)
        return entry.roles if entry is not None else ()


def load_config(root: Path) -> Config:
    """Read and validate ``lifecycle.toml`` in the workspace folder *root* (defaults if absent).

    Raises:
        ConfigError: The file cannot be read, or is not a valid configuration; the message
            lists every problem, each with its key path.
    """
    path = root / CONFIG_NAME
    try:
        data = read_toml(path, max_bytes=MAX_CONFIG_BYTES)
    except InvalidInputError as exc:
        raise ConfigError(path, str(exc)) from None
    if data is None:
        return Config()
    return _structured(data, path)


def parse_config(raw: bytes, label: str) -> Config:
    """A configuration kept as bytes by a shared store (#11), validated as the file would be.

    Raises:
        ConfigError: Over the size bound, not TOML, or not a valid configuration.
    """
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(label, f"larger than {MAX_CONFIG_BYTES} bytes")
    try:
        data = parse_toml(raw)
    except InvalidInputError as exc:
        raise ConfigError(label, str(exc)) from None
    return _structured(data, label)


def _structured(data: dict[str, Any], path: Path | str) -> Config:
    if (config := _plain_config(data)) is not None:
        return config
    from ._convert import structure_problems

    try:
        config = _converter().structure(data, Config)
    except Exception as exc:  # noqa: BLE001 - cattrs raises a group of any kind; reworded below
        problems = (_QUOTED_KEY.sub(r'."\1"', p) for p in structure_problems(exc))
        raise ConfigError(path, "; ".join(problems)) from None
    return config


def _plain_config(data: dict[str, Any]) -> Config | None:
    """*data* as a Config when it is plainly valid (known keys, exact types, valid names), else
    None: the converter then decides and words every problem. Reading a workspace's settings
    needs no cattrs on the common path (#14)."""
    # Any: parsed TOML.
    if set(data) - {"actors", "signing"}:
        return None
    actors, signing = data.get("actors", {}), data.get("signing", {})
    if type(actors) is not dict or type(signing) is not dict or set(signing) - {"required"}:
        return None
    required = signing.get("required", False)
    entries: dict[str, ActorEntry] = {}
    for name, entry in actors.items():
        roles = entry.get("roles") if type(entry) is dict and set(entry) == {"roles"} else None
        if not ACTOR_NAME.fullmatch(name) or type(roles) is not list:
            return None
        if any(type(role) is not str for role in roles):
            return None
        entries[name] = ActorEntry(tuple(roles))
    if type(required) is not bool:
        return None
    return Config(actors=entries, signing=SigningSection(required))


_NAMES: Final = {
    str: "a string",
    int: "an integer",
    bool: "true or false",
    float: "a number with a fraction",
    list: "an array",
    dict: "a table",
}


def _name(value: object) -> str:
    return _NAMES.get(type(value), type(value).__name__)


def _structure_actors(value: object, _: Any) -> dict[str, ActorEntry]:
    # Any: the Mapping[str, ActorEntry] alias.
    if not isinstance(value, dict):
        raise TypeError(f"expected a table of actors, got {_name(value)}")
    bad = [name for name in value if not ACTOR_NAME.fullmatch(name)]
    if bad:
        raise ValueError(
            f"actor name {bad[0]!r} must be letters, digits, '.', '_' or '-' (at most 128), "
            "starting with a letter or digit"
        )
    errors: list[Exception] = []
    actors: dict[str, ActorEntry] = {}
    for name, entry in value.items():
        try:
            actors[name] = _converter().structure(entry, ActorEntry)
        except Exception as exc:  # noqa: BLE001 - collected, re-raised as a group with paths
            exc.__notes__ = [*getattr(exc, "__notes__", []), _key_note(name)]
            errors.append(exc)
    if errors:
        import cattrs

        raise cattrs.IterableValidationError("invalid actors", errors, dict)
    return actors


def _key_note(name: str) -> IterableValidationNote:
    # An index note with the name as its index words the path as `$.actors.NAME` below.
    from cattrs.errors import IterableValidationNote

    return IterableValidationNote(f"Structuring actor {name}", name, ActorEntry)


@functools.cache
def _converter() -> cattrs.Converter:
    import cattrs

    from ._convert import is_tuple, strict, tuple_structurer

    conv = cattrs.Converter(forbid_extra_keys=True)
    conv.register_structure_hook(str, strict(str))
    conv.register_structure_hook(bool, strict(bool))
    conv.register_structure_hook_func(is_tuple, tuple_structurer(conv))
    conv.register_structure_hook_func(
        lambda kind: kind == Mapping[str, ActorEntry], _structure_actors
    )
    conv.register_structure_hook_func(
        lambda kind: isinstance(kind, type) and attrs.has(kind), _table_first(conv)
    )
    return conv


def _table_first(conv: cattrs.Converter) -> Callable[[object, type], object]:
    """Structure an attrs model from a table only (cattrs would fail on a string with a
    confusing message)."""
    from cattrs.gen import make_dict_structure_fn

    generated: dict[type, Callable[[Any, type], object]] = {}  # Any: a parsed TOML table

    def structure(value: object, kind: type) -> object:
        if not isinstance(value, dict):
            raise TypeError(f"expected a table, got {_name(value)}")
        if kind not in generated:
            generated[kind] = make_dict_structure_fn(kind, conv, _cattrs_forbid_extra_keys=True)
        return generated[kind](value, kind)

    return structure
