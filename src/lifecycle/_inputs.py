"""What people type and the TOML files they write, checked before anything uses them.

Dates are ``YYYY-MM-DD`` exactly and not before 1945-01-01 (the earliest date any engagement of
an intergovernmental organization can concern); actor names follow the engagement-id rule; TOML
files (playbooks, ``lifecycle.toml``) are opened only as regular files, never by a blocking open,
and read with a size bound and a nesting bound (issue #10).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from .exceptions import InvalidInputError

__all__ = [
    "ACTOR_NAME",
    "CONTROL_CHARS",
    "MAX_TOML_NESTING",
    "MIN_DATE",
    "actor_problem",
    "check_actor",
    "date_problem",
    "free_text_actor",
    "read_toml",
    "text_problem",
]

MIN_DATE: Final = dt.date(1945, 1, 1)
_DATE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# The engagement-id rule (docs/cli.md), matched in full: a name is one line of plain characters.
ACTOR_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
MAX_TOML_NESTING: Final = 32
# C0 and C1 controls, DEL, line and paragraph separators, and the bidirectional overrides and
# isolates ("Trojan source"): anything that could start a line or make text read otherwise (#10).
CONTROL_CHARS: Final = re.compile(
    "[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)


def date_problem(text: object) -> str | None:
    """Why *text* is not a date as lifecycle writes and reads them, or None when it is one."""
    if not isinstance(text, str) or not _DATE.fullmatch(text):
        return f"{text!r} is not a date of the form YYYY-MM-DD"
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        return f"{text!r} is not a date of the form YYYY-MM-DD"
    if day < MIN_DATE:
        return f"{text!r} is before {MIN_DATE.isoformat()}"
    return None


def actor_problem(name: object) -> str | None:
    """Why a recorded ``actor`` is not a name the engine accepts, or None (the audit's check)."""
    if isinstance(name, str) and ACTOR_NAME.fullmatch(name):
        return None
    return f"actor {name!r} is not a valid actor name (letters, digits, '.', '_', '-')"


def free_text_actor(name: object) -> bool:
    """Whether *name*, though not a valid actor name, is one an earlier version recorded: before
    the actor-name rule (#10), ``--actor`` was free text, so "A. Mensah" may stand in an old
    history. One line of printable characters; a control character or line break never was
    harmless (it fakes lines when shown), so it is not free text."""
    return (
        isinstance(name, str)
        and bool(name.strip())
        and len(name) <= 256
        and CONTROL_CHARS.search(name) is None
    )


def check_actor(name: str) -> str:
    """Return *name* if it is a valid actor name.

    Raises:
        InvalidInputError: It is empty, too long, or holds anything but letters, digits, ``.``,
            ``_`` and ``-`` (a newline or a control character would forge lines when shown).
    """
    if not name.strip():
        raise InvalidInputError("An actor name is needed (--actor or LIFECYCLE_ACTOR).")
    if not ACTOR_NAME.fullmatch(name):
        raise InvalidInputError(
            f"Invalid actor name {name!r}: use letters, digits, '.', '_' and '-' (at most 128), "
            "starting with a letter or digit (--actor or LIFECYCLE_ACTOR)."
        )
    return name


def read_toml(path: Path, *, max_bytes: int) -> dict[str, Any] | None:
    """Parse the TOML file *path*; None when there is no such file.

    Raises:
        InvalidInputError: It is not a regular file, is larger than *max_bytes*, is not UTF-8,
            is not TOML, or nests arrays and tables more than :data:`MAX_TOML_NESTING` deep.
            The message does not name the file: callers do, in their own error.
    """
    # Any: parsed TOML.
    raw = _read_regular(path, max_bytes)
    if raw is None:
        return None
    return parse_toml(raw)


def parse_toml(raw: bytes) -> dict[str, Any]:
    """Parse TOML bytes as :func:`read_toml` does (a store keeps settings as bytes, #11).

    Raises:
        InvalidInputError: Not UTF-8, not TOML, or nested too deep.
    """
    # Any: parsed TOML.
    import tomllib  # here: the commands that read no TOML do not load the parser (#14)

    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInputError("not UTF-8 text") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInputError(f"TOML syntax: {exc}") from None
    except RecursionError:
        data = None  # tomllib recurses per level: deeper than the interpreter allows
    if data is None or _depth(data) > MAX_TOML_NESTING:
        raise InvalidInputError(
            f"arrays and tables are nested more than {MAX_TOML_NESTING} levels deep"
        )
    return data


def _read_regular(path: Path, max_bytes: int) -> bytes | None:
    """The bytes of *path*, opened without blocking (a FIFO) and read only if it is a regular
    file (not a directory or a device such as /dev/zero), at most *max_bytes* of them."""
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise InvalidInputError(f"cannot read: {exc.strerror or exc}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise InvalidInputError("not a regular file")
        chunks: list[bytes] = []
        size = 0
        while size <= max_bytes:
            chunk = os.read(fd, min(1 << 20, max_bytes + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise InvalidInputError(f"cannot read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if size > max_bytes:
        raise InvalidInputError(f"file is larger than {_size(max_bytes)}")
    return b"".join(chunks)


def _size(count: int) -> str:
    return f"{count // (1 << 20)} MiB" if count % (1 << 20) == 0 else f"{count} bytes"


def _depth(data: object) -> int:
    """How deep arrays and tables nest in *data* (iterative: the data may be very deep)."""
    deepest = 0
    stack: list[tuple[object, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children: list[object] = list(value.values())
        elif isinstance(value, list):
            children = value
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > MAX_TOML_NESTING:
            return deepest
        stack.extend((child, depth + 1) for child in children)
    return deepest


def text_problem(args: Sequence[str], environ: Mapping[str, str]) -> str | None:
    """Why the command line is not text, or None: an argument or a ``LIFECYCLE_*`` variable
    holding bytes that are not UTF-8 (Python hands them over as lone surrogates, which no
    history line, file name or terminal could take as they are)."""
    named = [(f"argument {i}", arg) for i, arg in enumerate(args, 1)]
    named += [
        (f"environment variable {k}", v) for k, v in environ.items() if k.startswith("LIFECYCLE_")
    ]
    for name, value in named:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return f"{name} is not UTF-8 text: {_shown(value)}"
    return None


def _shown(value: str) -> str:
    """*value* with its undecodable bytes as ``\\xNN``, cut to 60 characters."""
    try:
        raw = value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate that is no escaped byte (only from Python callers)
        raw = value.encode("utf-8", "backslashreplace")
    text = raw.decode("utf-8", "backslashreplace")
    return "'" + text[:60] + ("...'" if len(text) > 60 else "'")
