"""The history line codec: one JSON object per line, ending in its own sha256.

A line is the compact JSON serialization ``B`` of a record without ``hash``, with
``,"hash":"<sha256 of B>"`` inserted before its closing brace, and a ``\\n``. A verifier cuts that
suffix off the raw bytes and rehashes, so the verdict never depends on a JSON library's
re-serialization (docs/history-format.md is the contract).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import json.scanner
import re
import typing
from collections.abc import Callable, Iterable, Mapping
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from typing import Any, Final

__all__ = [
    "AT_FORMAT",
    "FORMAT",
    "FORMAT_VERSION",
    "LineProblem",
    "count_members",
    "decode_common",
    "decode_hashed",
    "decode_line",
    "encode_hashed",
    "encode_line",
    "format_at",
    "header_record",
    "is_timestamp",
    "is_timestamp_after",
]

FORMAT: Final = "lifecycle-history"
FORMAT_VERSION: Final = 1
MAX_LINE_BYTES: Final = 16 * 1024 * 1024
_HEX64: Final = re.compile(rb"[0-9a-f]{64}")
# Months, days, hours, minutes and seconds in range (a day past its month's end is caught by
# parsing the date: real_day).
AT_FORMAT: Final = re.compile(
    r"\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{6}Z\Z"
)
# The clock of a timestamp as the engine writes it ("THH:MM:" and "SS."): looked up in a set,
# it proves what AT_FORMAT's clock part would, at a fraction of the regex's cost (the audit
# checks every event's at).
_HOURS_MINUTES: Final = frozenset(f"T{h:02d}:{m:02d}:" for h in range(24) for m in range(60))
_SECONDS: Final = frozenset(f"{s:02d}." for s in range(60))
_DATE_FORMAT: Final = re.compile(r"\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])\Z")
_HASH_KEY: Final = b',"hash":"'
# One encoder and one decoder, built once: json.dumps/loads with options build new ones per call.
_ENCODER: Final = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _encode(record: Mapping[str, Any]) -> str:
    """``_ENCODER.encode(record)`` for a mapping, without its Python layers: the C encoder
    ``JSONEncoder.iterencode`` makes, made here with the same arguments (and a fresh ``markers``
    dict each time, as there)."""
    # Any: records are JSON objects.
    if c_make_encoder is None:  # pragma: no cover - CPython always has the _json accelerator
        return _ENCODER.encode(record)
    encoder = c_make_encoder(
        {}, _ENCODER.default, encode_basestring, None, ":", ",", False, False, False
    )
    return "".join(encoder(record, 0))


def _no_float(text: str) -> object:
    raise ValueError(f"{text} is not allowed: history lines hold no floats, NaN or Infinity")


_DECODER: Final = json.JSONDecoder(parse_float=_no_float, parse_constant=_no_float)
# What _DECODER.raw_decode calls, built alike (raw_decode maps its StopIteration to a
# JSONDecodeError).
_SCAN: Final[Callable[[str, int], tuple[Any, int]]] = json.scanner.make_scanner(
    _DECODER  # type: ignore[arg-type]  # typeshed types the context as the scanner class
)


class LineProblem(ValueError):
    """A line that is not a well-formed history line; ``code`` names what is wrong."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)


def encode_line(record: Mapping[str, Any]) -> bytes:
    """Serialize *record* (without ``hash``) to a complete history line, ``\\n`` included.

    Raises:
        ValueError: *record* holds a float or a value JSON cannot hold (hashed content is
            kept float-free so its serialization is canonical).
    """
    # Any: records are JSON objects.
    return encode_hashed(record)[0]


def encode_hashed(record: Mapping[str, Any]) -> tuple[bytes, str]:
    """:func:`encode_line`, also returning the line's hash (writers need it for the chain)."""
    # Any: records are JSON objects.
    if "hash" in record:
        raise ValueError("a record to encode must not carry 'hash'")
    if not record:
        raise ValueError("a record to encode must have members")
    _reject_floats(record)
    raw = _encode(record).encode("utf-8")
    digest = hashlib.sha256(raw).hexdigest()
    return raw[:-1] + _HASH_KEY + digest.encode("ascii") + b'"}\n', digest


def decode_line(line: bytes) -> tuple[dict[str, Any], str]:
    """Verify one line (without its ``\\n``) and return the record and its hash.

    Raises:
        LineProblem: ``too-long``, ``not-utf8``, ``not-json``, ``not-object``, ``no-hash``
            or ``hash-mismatch``.
    """
    # Any: records are JSON objects.
    record = decode_hashed(line)
    return record, record.pop("hash")


def decode_hashed(line: bytes) -> dict[str, Any]:
    """:func:`decode_line`, keeping the verified ``hash`` member in the record (the audit
    hands records on with their hash).

    Raises:
        LineProblem: As :func:`decode_line`.
    """
    # Any: records are JSON objects.
    if len(line) > MAX_LINE_BYTES:
        raise LineProblem("too-long", f"line is longer than {MAX_LINE_BYTES} bytes")
    # The suffix sits at a fixed offset: `,"hash":"` + 64 hex digits + `"}` (75 bytes).
    if line[-75:-66] != _HASH_KEY or line[-2:] != b'"}':
        raise LineProblem("no-hash", 'line does not end with its "hash" member')
    claimed = line[-66:-2]
    expected = hashlib.sha256(line[:-75] + b"}").hexdigest()
    if expected.encode("ascii") != claimed:
        _mismatch(line, claimed, expected)
    text, record = _decoded(line)
    if record.get("hash") != expected:
        raise LineProblem("hash-mismatch", f"the line's hash member is not {expected[:12]}")
    # `find`, not `in`: bytes' `in` first tries its operand as an integer, and words and clears
    # a TypeError at every line.
    if line.find(b"\\u") != -1 or line.count(b":") != _counted(record):  # hash counts too
        _check_closely(text)
    return record


def decode_common(line: bytes) -> dict[str, Any] | None:
    """The record of *line* as :func:`decode_hashed` returns it, for a line it would return
    without a closer look save the duplicate-member proof, which the caller owes (its colons
    against the members it counts; :mod:`~lifecycle._eventfits`). None for any other line: an
    escape, a problem, a hash that does not match (the general path words why).
    """
    # Any: records are JSON objects.
    if line[-75:-66] != _HASH_KEY or line[-2:] != b'"}' or len(line) > MAX_LINE_BYTES:
        return None
    expected = hashlib.sha256(line[:-75] + b"}").hexdigest()
    if expected.encode("ascii") != line[-66:-2] or line.find(b"\\u") != -1:  # see decode_hashed
        return None
    try:  # what _decoded does, without a Python frame between the text and the C scanner
        text = line.decode("utf-8")
        record, end = _SCAN(text, 0)
    except (ValueError, StopIteration, RecursionError):  # UnicodeDecodeError is a ValueError
        return None
    if end != len(text) or type(record) is not dict or record.get("hash") != expected:
        return None
    return record


def _mismatch(line: bytes, claimed: bytes, actual: str) -> None:
    """Raise the problem of a line whose claimed hash is not its bytes' hash."""
    if _HEX64.fullmatch(claimed) is None:
        raise LineProblem("no-hash", 'line does not end with its "hash" member')
    _decoded(line)  # a line that is no JSON object is that problem first
    expected = claimed.decode("ascii")
    raise LineProblem("hash-mismatch", f"line hashes to {actual[:12]}, not {expected[:12]}")


def _decoded(line: bytes) -> tuple[str, dict[str, Any]]:
    """The text of *line* and the JSON object it holds.

    Raises:
        LineProblem: ``not-utf8``, ``not-json`` or ``not-object``.
    """
    # Any: records are JSON objects.
    try:
        text = line.decode("utf-8")
        record, end = _DECODER.raw_decode(text)  # a line has no surrounding whitespace
        if end != len(text):
            raise ValueError(f"extra data after the object at character {end}")
    except UnicodeDecodeError as exc:
        raise LineProblem("not-utf8", f"line is not UTF-8 ({exc.reason})") from None
    except (ValueError, RecursionError) as exc:
        raise LineProblem("not-json", f"line is not JSON ({exc})") from None
    if type(record) is not dict:
        raise LineProblem("not-object", "line is not a JSON object")
    return text, record


# ---------------------------------------------------------------- what the engine never writes
#
# The engine writes no member twice in an object and no text a UTF-8 encoder refuses (a lone
# surrogate, which only a ``\u`` escape can spell). Re-reading every line to prove it would
# double the audit's cost, so a cheap count proves it for the common line: every member name
# is followed by exactly one colon, and a line without ``\u`` escapes spells every colon of a
# decoded string as a colon. A line's colon count is therefore at least its members as written
# plus the colons of its ``at``; when the decoded record holds exactly that many members, none
# was lost to a duplicate. Counting fewer members than the record holds (only where the engine
# puts objects: the top level, ``data`` and ``sig``) keeps the proof sound: a line with objects
# elsewhere is merely re-read. Any other line (an escape, a colon in some text, a duplicate) is
# re-read member by member.


def _counted(record: dict[str, Any]) -> int:
    """The members of *record* where the engine writes objects, plus the colons of its ``at``
    (at most as many colons as a line without duplicates and escapes holds)."""
    # Any: a JSON object.
    count, data, at = len(record), record.get("data"), record.get("at")
    if type(data) is dict:  # the first level inline: most data holds no object at all
        count += len(data)
        for item in data.values():
            kind = type(item)
            if kind is dict:
                count += _members(item)
            elif kind is list and item:
                count += _list_members(item)
    if "sig" in record and type(sig := record["sig"]) is dict:
        key = sig.get("key")
        count += len(sig) + (key.count(":") if type(key) is str else 0)  # "SHA256:..."
    return count + at.count(":") if type(at) is str else count


def _members(value: dict[str, Any]) -> int:
    """How many members *value* and the objects inside it hold."""
    # Any: a JSON object.
    count = len(value)
    for item in value.values():
        kind = type(item)
        if kind is dict:
            count += _members(item)
        elif kind is list:
            count += _list_members(item)
    return count


def count_members(value: object) -> int:
    """How many members the objects in JSON value *value* hold (0 for a plain value)."""
    kind = type(value)
    if kind is dict:
        return _members(typing.cast(dict[str, Any], value))
    if kind is list:
        return _list_members(typing.cast(list[Any], value))
    return 0


def _list_members(value: list[Any]) -> int:
    # Any: a JSON array.
    count = 0
    for item in value:
        kind = type(item)
        if kind is dict:
            count += _members(item)
        elif kind is list:
            count += _list_members(item)
    return count


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Any: JSON values.
    record = dict(pairs)
    if len(record) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise LineProblem("duplicate-key", f"line holds member {key!r} twice in one object")
            seen.add(key)
    return record


_STRICT_DECODER: Final = json.JSONDecoder(
    parse_float=_no_float, parse_constant=_no_float, object_pairs_hook=_unique
)


def _check_closely(text: str) -> None:
    """Raise :class:`LineProblem` when *text* (a line that parsed) repeats a member in an object
    (``duplicate-key``) or holds text UTF-8 cannot encode (``bad-event``)."""
    try:
        _ENCODER.encode(_STRICT_DECODER.decode(text)).encode("utf-8")
    except UnicodeEncodeError as exc:
        spelled = exc.object[exc.start : exc.end]
        raise LineProblem(
            "bad-event", f"line holds text UTF-8 cannot encode ({exc.reason}: {spelled!r})"
        ) from None
    except RecursionError:  # pragma: no cover - it parsed once at this depth
        raise LineProblem("not-json", "line is nested too deeply") from None


_CONTAINERS: Final = (dict, list, tuple, float)


def _reject_floats(value: object) -> None:
    # Exact types on purpose: this runs for every line written (the encoder takes only these).
    if type(value) is float:
        raise ValueError("history records hold no floats")
    items: Iterable[object] = ()
    if isinstance(value, dict):
        items = value.values()
    elif isinstance(value, list | tuple):
        items = value
    for item in items:
        kind = type(item)
        # A str or an int is none of _CONTAINERS (the most common members, asked first).
        if kind is not str and kind is not int and kind in _CONTAINERS:
            _reject_floats(item)


def header_record(engagement: str, created: str) -> dict[str, Any]:
    """The header record (line 1) of a new history file."""
    # Any: a JSON object.
    return {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "engagement": engagement,
        "created": created,
    }


def format_at(moment: dt.datetime) -> str:
    """RFC 3339 UTC with microseconds, fixed width, so strings compare as times do."""
    # isoformat is several times faster than strftime; the offset part becomes "Z".
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds")[:26] + "Z"


def parse_at(text: str) -> dt.datetime:
    """Parse an ``at`` written by :func:`format_at`.

    Raises:
        ValueError: *text* is not such a timestamp.
    """
    if not AT_FORMAT.match(text):
        raise ValueError(f"{text!r} is not a timestamp of the form YYYY-MM-DDTHH:MM:SS.ffffffZ")
    return dt.datetime.fromisoformat(text[:-1]).replace(tzinfo=dt.UTC)


def date_of(text: str) -> dt.date:
    """The UTC date of an ``at`` (cheaper than :func:`parse_at` when only the date matters;
    the audit checks the full form of every ``at``).

    Raises:
        ValueError: *text* is not such a timestamp.
    """
    if len(text) != 27 or text[10] != "T" or text[26] != "Z":
        raise ValueError(f"{text!r} is not a timestamp of the form YYYY-MM-DDTHH:MM:SS.ffffffZ")
    return _day(text[:10])


def is_timestamp(at: str) -> bool:
    """Whether *at* is a real moment in the engine's form (``YYYY-MM-DDTHH:MM:SS.ffffffZ``):
    :data:`AT_FORMAT` matches and its day is in the calendar."""
    if (  # the engine's clock, proven by lookups; anything else is left to the regex
        len(at) == 27
        and at[10:17] in _HOURS_MINUTES
        and at[17:20] in _SECONDS
        and at[20:26].isdecimal()  # what the regex's \d matches: Unicode category Nd
        and at[26] == "Z"
    ):
        return _real_date(at[:10])
    return AT_FORMAT.match(at) is not None and real_day(at[:10])


def is_timestamp_after(at: str, minute: str) -> bool:
    """:func:`is_timestamp` for *at*, *minute* being the first 17 characters of a timestamp it
    passed (``YYYY-MM-DDTHH:MM:``: the audit's previous event's): an *at* in that minute needs
    only its seconds checked (consecutive events mostly share their minute)."""
    if (
        at.startswith(minute)
        and len(at) == 27
        and at[17:20] in _SECONDS
        and at[20:26].isdecimal()
        and at[26] == "Z"
    ):
        return True  # what is_timestamp checks of the rest; the day and the minute passed
    return is_timestamp(at)


@functools.lru_cache(maxsize=4096)  # consecutive events mostly share a day
def _real_date(text: str) -> bool:
    """Whether *text* is AT_FORMAT's date part and a day of the calendar."""
    return _DATE_FORMAT.match(text) is not None and real_day(text)


@functools.lru_cache(maxsize=4096)  # consecutive events mostly share a day
def real_day(text: str) -> bool:
    """Whether *text* (``YYYY-MM-DD``) is a day of the calendar (not February 30)."""
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True


@functools.lru_cache(maxsize=4096)  # consecutive events mostly share a day; parsing is pure
def _day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def days_after(day: dt.date, days: int) -> dt.date:
    """*days* days after *day*, capped at the last date there is (a recorded day near year 9999
    plus a cadence has no later date: it is due "never", not a crash)."""
    try:
        return day + dt.timedelta(days=days)
    except OverflowError:
        return dt.date.max if days > 0 else dt.date.min
