"""A workspace: a folder of history files and its ``lifecycle.toml`` (actors and their roles)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Final

import attrs

from ._config import Config, load_config
from ._inputs import date_problem
from ._layout import ENGAGEMENT_ID as ENGAGEMENT_ID
from ._layout import SUFFIX, check_root
from ._layout import is_engagement_id as is_engagement_id
from ._places import place_problem
from .exceptions import HistoryError, InvalidInputError, NotFoundError

if TYPE_CHECKING:
    from ._model import Fact  # annotations only: the store's folder needs no playbook model

__all__ = [
    "Workspace",
    "check_engagement_id",
    "fact_values",
    "parse_assignments",
    "parse_fact_value",
]

CONFIG_NAME: Final = "lifecycle.toml"


@attrs.define
class Workspace:
    """The folder engagements live in."""

    root: Path
    _config: Config | None = attrs.field(default=None, init=False)

    def path_of(self, engagement: str) -> Path:
        """The history file of *engagement*.

        Raises:
            InvalidInputError: *engagement* is not a valid engagement id.
        """
        check_engagement_id(engagement)
        return self.root / f"{engagement}{SUFFIX}"

    def existing(self, engagement: str) -> Path:
        """The history file of an existing engagement.

        Raises:
            NotFoundError: No such engagement in this workspace.
        """
        path = self.path_of(engagement)
        self.check_root()
        # lexists: a symlink or FIFO of that name is refused when opened, not called missing.
        if not os.path.lexists(path):
            raise NotFoundError("engagement", engagement, f"(no {path.name} in {self.root})")
        return path

    def engagements(self) -> list[str]:
        """Every engagement id with an entry named like a history here, sorted (entries that are
        not regular files are listed too: reading them says what is wrong).

        Raises:
            InvalidInputError: The workspace folder does not exist.
        """
        self.check_root()
        names = (p.name[: -len(SUFFIX)] for p in self.root.glob(f"*{SUFFIX}"))
        return sorted(n for n in names if is_engagement_id(n))

    def check_root(self) -> None:
        """Refuse a workspace folder that does not exist (a mistyped --workspace).

        Raises:
            InvalidInputError: It does not exist, or is not a folder.
        """
        check_root(self.root)

    def create_root(self) -> None:
        """Create the workspace folder if needed, but only inside a folder that exists.

        Raises:
            InvalidInputError: Its parent does not exist or is not a folder.
            HistoryError: The folder cannot be created.
        """
        if self.root.is_dir():
            return
        parent = self.root.absolute().parent
        if not parent.is_dir():
            what = "is not a folder" if os.path.lexists(parent) else "does not exist"
            raise InvalidInputError(
                f"Cannot create workspace {str(self.root)!r}: {str(parent)!r} {what}."
            )
        try:
            self.root.mkdir()
        except FileExistsError:
            self.check_root()  # created meanwhile by another command, or not a folder
        except OSError as exc:
            raise HistoryError(
                self.root, f"cannot create the workspace folder: {exc.strerror or exc}"
            ) from None

    def roles_of(self, actor: str) -> tuple[str, ...]:
        """The roles ``lifecycle.toml`` gives *actor* (none when unlisted or no file)."""
        if self._config is None:
            self._config = load_config(self.root)
        return self._config.roles_of(actor)


def check_engagement_id(engagement: str) -> None:
    """Refuse an invalid engagement id (every store names engagements alike, #11).

    Raises:
        InvalidInputError: *engagement* is not a valid engagement id.
    """
    if not is_engagement_id(engagement):
        raise InvalidInputError(
            f"Invalid engagement id {engagement!r}: use letters, digits, '.', '_' and '-' "
            "(at most 128), starting with a letter or digit."
        )


def parse_fact_value(fact: Fact, text: str) -> object:
    """Turn the text a user gave for *fact* into its typed value; "" means unset (None).

    Raises:
        InvalidInputError: *text* is not a value of the fact's type.
    """
    if text == "":
        return None
    if fact.type == "bool":
        lowered = text.strip().lower()
        if lowered in ("true", "yes", "1"):
            return True
        if lowered in ("false", "no", "0"):
            return False
        raise InvalidInputError(f"Fact {fact.id!r} is true or false, not {text!r}.")
    if fact.type == "date":
        if problem := date_problem(text):
            raise InvalidInputError(f"Fact {fact.id!r} is a date: {problem}.")
        return text
    if fact.type in ("country", "subdivision") and (problem := place_problem(fact.type, text)):
        raise InvalidInputError(f"Fact {fact.id!r}: {problem}.")
    if fact.type == "choice" and text not in fact.choices:
        raise InvalidInputError(
            f"Fact {fact.id!r} is one of {', '.join(fact.choices)}; not {text!r}."
        )
    return text


def fact_values(facts: Sequence[Fact], pairs: Mapping[str, str]) -> dict[str, object]:
    """Typed values for the ``KEY=VALUE`` texts in *pairs*, checked against *facts*.

    Raises:
        NotFoundError: A key names no fact.
        InvalidInputError: A value is not of its fact's type.
    """
    by_id = {f.id: f for f in facts}
    values: dict[str, object] = {}
    for key, text in pairs.items():
        fact = by_id.get(key)
        if fact is None:
            raise NotFoundError("fact", key, f"(known: {', '.join(sorted(by_id)) or 'none'})")
        values[key] = parse_fact_value(fact, text)
    return values


def parse_assignments(pairs: Mapping[str, str] | list[str]) -> dict[str, str]:
    """``KEY=VALUE`` strings to a dict.

    Raises:
        InvalidInputError: A pair has no ``=``.
    """
    if isinstance(pairs, Mapping):
        return dict(pairs)
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InvalidInputError(f"Expected KEY=VALUE, got {pair!r}.")
        out[key.strip()] = value
    return out
