"""The history line codec (docs/history-format.md), checked against an independent verifier."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re

import pytest

from lifecycle._lines import (
    FORMAT,
    FORMAT_VERSION,
    MAX_LINE_BYTES,
    LineProblem,
    decode_line,
    encode_line,
    format_at,
    header_record,
    parse_at,
)

RECORDS = {
    "note": {
        "seq": 3,
        "at": "2026-01-05T09:00:00.000000Z",
        "actor": "officer",
        "type": "note_added",
        "v": 1,
        "data": {"text": "hello"},
        "prev": "0" * 64,
    },
    "unicode": {
        "seq": 1,
        "actor": "Amb. Ngozi Okonjo-Iweala",
        "data": {"text": "Genève, 停火, ✓ \u2028"},
    },
    "nested": {"a": [1, [2, [3, {"b": None, "c": True, "d": False}]]], "e": {}, "f": []},
    "big-int": {"n": 2**70, "m": -(2**63)},
    "escapes": {"text": 'quote " backslash \\ newline \n tab \t nul \x00'},
    "hash-lookalike": {"text": ',"hash":"' + "a" * 64 + '"}'},
}


def independent_line(record: dict) -> bytes:
    """The line as the format document says to build it, without lifecycle's code."""
    body = json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    digest = hashlib.sha256(body).hexdigest()
    assert body.endswith(b"}")
    return body[:-1] + b',"hash":"' + digest.encode() + b'"}\n'


def suffixed(body: bytes) -> bytes:
    """*body* (ending in ``}``) with a correct hash suffix, as a line without ``\\n``."""
    return body[:-1] + b',"hash":"' + hashlib.sha256(body).hexdigest().encode() + b'"}'


class TestEncode:
    @pytest.mark.parametrize("record", RECORDS.values(), ids=RECORDS.keys())
    def test_round_trip(self, record: dict) -> None:
        """Decoding an encoded record gives back the record and the hash written into the line."""
        line = encode_line(record)
        decoded, digest = decode_line(line[:-1])
        assert decoded == record
        assert json.loads(line)["hash"] == digest

    @pytest.mark.parametrize("record", RECORDS.values(), ids=RECORDS.keys())
    def test_bytes_match_the_format_document(self, record: dict) -> None:
        """The line is exactly compact UTF-8 JSON with the sha256 of that JSON appended as the last member."""
        assert encode_line(record) == independent_line(record)

    @pytest.mark.parametrize("record", RECORDS.values(), ids=RECORDS.keys())
    def test_hash_is_sha256_of_line_without_hash_member(self, record: dict) -> None:
        """Cutting the hash member off the raw line and rehashing gives the stored hash."""
        line = encode_line(record)
        assert line.endswith(b"\n") and line.count(b"\n") == 1
        match = re.search(rb',"hash":"([0-9a-f]{64})"\}\n$', line)
        assert match is not None
        body = line[: match.start()] + b"}"
        assert hashlib.sha256(body).hexdigest() == match.group(1).decode()
        assert list(json.loads(line))[-1] == "hash"

    def test_empty_record_refused(self) -> None:
        """An empty record is refused rather than written as a line no verifier could cut."""
        with pytest.raises(ValueError, match="must have members"):
            encode_line({})

    def test_non_ascii_is_stored_as_utf8_not_escapes(self) -> None:
        """Non-ASCII text is written as UTF-8 bytes, not as \\u escapes (ensure_ascii=False)."""
        line = encode_line({"text": "Genève ✓"})
        assert "Genève ✓".encode() in line
        assert b"\\u" not in line

    def test_member_order_is_kept(self) -> None:
        """Members keep their insertion order (the format fixes the order; no key sorting)."""
        line = encode_line({"seq": 1, "at": "x", "actor": "y"})
        assert list(json.loads(line)) == ["seq", "at", "actor", "hash"]

    @pytest.mark.parametrize(
        "record",
        [
            {"x": 1.0},
            {"data": {"deep": {"x": 0.5}}},
            {"data": [1, 2, [3.25]]},
            {"data": (1, 2.5)},
            {"x": float("nan")},
            {"x": float("inf")},
        ],
        ids=["top", "nested-dict", "nested-list", "tuple", "nan", "inf"],
    )
    def test_floats_refused(self, record: dict) -> None:
        """Any float anywhere in a record is refused, so hashed content stays canonical."""
        with pytest.raises(ValueError, match="float"):
            encode_line(record)

    def test_record_carrying_hash_refused(self) -> None:
        """A record that already carries 'hash' cannot be encoded (the codec computes it)."""
        with pytest.raises(ValueError, match="hash"):
            encode_line({"a": 1, "hash": "0" * 64})

    def test_header_record(self) -> None:
        """The header names the format, its version, the engagement and when it was created."""
        header = header_record("eng-9", "2026-01-05T09:00:00.000000Z")
        assert header == {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "engagement": "eng-9",
            "created": "2026-01-05T09:00:00.000000Z",
        }
        assert encode_line(header).startswith(b'{"format":"lifecycle-history","version":1,')

    def test_timestamps_are_fixed_width_utc(self) -> None:
        """`format_at` writes fixed-width UTC with microseconds that `parse_at` reads back."""
        moment = dt.datetime(2026, 3, 1, 12, 0, 0, 7, tzinfo=dt.timezone(dt.timedelta(hours=2)))
        text = format_at(moment)
        assert text == "2026-03-01T10:00:00.000007Z"
        assert parse_at(text) == moment


class TestDecodeProblems:
    def test_line_without_hash(self) -> None:
        """A JSON object with no hash member is refused with code 'no-hash'."""
        with pytest.raises(LineProblem) as info:
            decode_line(b'{"seq":1,"at":"x"}')
        assert info.value.code == "no-hash"

    def test_hash_not_last(self) -> None:
        """A hash member that is not the last member is refused with code 'no-hash'."""
        body = b'{"seq":1}'
        digest = hashlib.sha256(body).hexdigest()
        with pytest.raises(LineProblem) as info:
            decode_line(b'{"hash":"' + digest.encode() + b'","seq":1}')
        assert info.value.code == "no-hash"

    def test_uppercase_hash_refused(self) -> None:
        """The hash must be lowercase hex; an uppercase one is not a hash suffix."""
        line = suffixed(b'{"seq":1}')
        upper = line[:-66] + line[-66:-2].upper() + line[-2:]
        with pytest.raises(LineProblem) as info:
            decode_line(upper)
        assert info.value.code == "no-hash"

    def test_non_utf8(self) -> None:
        """A line with a correct hash suffix but bytes that are not UTF-8 gives 'not-utf8'."""
        with pytest.raises(LineProblem) as info:
            decode_line(suffixed(b'{"text":"\xff\xfe"}'))
        assert info.value.code == "not-utf8"

    @pytest.mark.parametrize(
        "body",
        [
            b'{"text":"unterminated}',
            b'{"a":1,,"b":2}',
            b"{nope}",
            b"{'a':1}",
        ],
        ids=["unterminated-string", "double-comma", "bare-word", "single-quotes"],
    )
    def test_non_json(self, body: bytes) -> None:
        """A line with a correct hash suffix whose bytes are not JSON gives 'not-json'."""
        with pytest.raises(LineProblem) as info:
            decode_line(suffixed(body))
        assert info.value.code == "not-json"

    @pytest.mark.parametrize("token", [b"NaN", b"Infinity", b"-Infinity"])
    def test_non_standard_number_tokens_are_not_json(self, token: bytes) -> None:
        """NaN and Infinity are not JSON (RFC 8259), so a line holding one gives 'not-json'."""
        with pytest.raises(LineProblem) as info:
            decode_line(suffixed(b'{"a":' + token + b"}"))
        assert info.value.code == "not-json"

    def test_deeply_nested_json_is_not_json(self) -> None:
        """JSON nested too deep for the parser is reported as 'not-json', not a RecursionError."""
        depth = 200_000
        body = b'{"a":' + b"[" * depth + b"]" * depth + b"}"
        with pytest.raises(LineProblem) as info:
            decode_line(suffixed(body))
        assert info.value.code == "not-json"

    @pytest.mark.parametrize(
        "line",
        [
            b"[1,2,3]",
            b'"text"',
            b"42",
            b"null",
            b'[{"a":1},"hash":"' + b"0" * 64 + b'"}',
            b'["x","hash":"' + b"0" * 64 + b'"}',
        ],
        ids=["array", "string", "number", "null", "array-with-suffix", "list-with-suffix"],
    )
    def test_non_object(self, line: bytes) -> None:
        """A JSON value that is not an object is refused; it can never carry a valid hash suffix."""
        with pytest.raises(LineProblem) as info:
            decode_line(line)
        assert info.value.code in {"not-object", "no-hash", "not-json"}
        # JSON ending in '}' is always an object, so the suffix check or the parser refuses first.
        expected = "no-hash" if not line.endswith(b'"}') else "not-json"
        assert info.value.code == expected

    def test_hash_mismatch_on_a_changed_byte(self) -> None:
        """Changing one byte of the body makes the line fail its own hash ('hash-mismatch')."""
        line = encode_line({"text": "hello"})[:-1]
        tampered = line.replace(b"hello", b"hellp")
        with pytest.raises(LineProblem) as info:
            decode_line(tampered)
        assert info.value.code == "hash-mismatch"

    def test_too_long(self) -> None:
        """A line over the 16 MiB cap is refused with 'too-long' before anything else is tried."""
        line = suffixed(b'{"text":"' + b"x" * MAX_LINE_BYTES + b'"}')
        with pytest.raises(LineProblem) as info:
            decode_line(line)
        assert info.value.code == "too-long"

    def test_problem_is_a_value_error_with_message(self) -> None:
        """LineProblem is a ValueError whose message says what is wrong."""
        with pytest.raises(ValueError, match="hash"):
            decode_line(b"{}")
