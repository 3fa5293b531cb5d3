"""Reader fuzzing: `audit_file` returns findings for any bytes and never raises; the CLI never shows a
traceback."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lifecycle import Engine, FileReport, audit_file, make_plugin_manager
from lifecycle._lines import MAX_LINE_BYTES, decode_line, encode_line

from conftest import drive_core

FUZZ = settings(
    deadline=None,
    max_examples=200,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
KINDS = make_plugin_manager(load_entrypoints=False, environ={}).rule_kinds()


def _today() -> dt.date:
    """The audit's day: never before the events the engine writes now (a later `at` is an
    error), asked at each audit so that a run crossing midnight UTC stays right."""
    return max(dt.date(2026, 6, 1), dt.datetime.now(dt.UTC).date())


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


class History(bytes):
    """A history's bytes, with a short repr so failing examples stay readable."""

    def __repr__(self) -> str:
        lines = self.count(b"\n")
        return f"<history: {lines} lines, {len(self)} bytes>"


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> History:
    """The bytes of a real history: core driven from its first stage to closed."""
    ws = tmp_path_factory.mktemp("fuzz-ws")
    (ws / "lifecycle.toml").write_text(
        '[actors."officer"]\nroles = ["officer"]\n', encoding="utf-8"
    )
    engine = Engine(ws, plugins=make_plugin_manager(load_entrypoints=False, environ={}))
    drive_core(engine, "fuzz")
    return History(engine.workspace.path_of("fuzz").read_bytes())


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The file each example is written to (named like the engagement, to avoid a file-name warning)."""
    return tmp_path_factory.mktemp("fuzz") / "fuzz.history.jsonl"


def audit_bytes(path: Path, data: bytes) -> FileReport:
    """Write *data* to *path* and audit it; any exception fails the test."""
    path.write_bytes(data)
    report = audit_file(path, kinds=KINDS, today=_today())
    assert isinstance(report, FileReport)
    for finding in report.findings:
        assert finding.severity in ("error", "warning") and finding.code and finding.message
    return report


def line_prefix(mutated: bytes, original: bytes) -> bool:
    """Whether *mutated* is *original* cut at a line boundary (a valid, shorter history)."""
    return original.startswith(mutated) and (mutated.endswith(b"\n") or not mutated)


def rechained(original: bytes, index: int, record: dict) -> bytes:
    """*original* with event line *index* replaced by *record*, and every later line re-chained."""
    lines = original.splitlines()
    out = lines[:index]
    _, prev = decode_line(lines[index - 1])
    for number in range(index, len(lines)):
        current = record if number == index else decode_line(lines[number])[0]
        current["prev"] = prev
        line = encode_line(current)
        out.append(line[:-1])
        _, prev = decode_line(line[:-1])
    return b"\n".join(out) + b"\n"


def with_hash(body: bytes) -> bytes:
    """*body* (a JSON-ish object ending in ``}``) as a line with its correct hash, newline included."""
    return body[:-1] + b',"hash":"' + hashlib.sha256(body).hexdigest().encode() + b'"}\n'


def next_event_body(original: bytes, data: bytes) -> bytes:
    """The body of a note event after the last one of *original*, with raw *data* bytes as its data."""
    last, head = decode_line(original.splitlines()[-1])
    return (
        b'{"seq":'
        + str(last["seq"] + 1).encode()
        + b',"at":"'
        + last["at"].encode()
        + b'","actor":"fuzz","type":"note_added","v":1,"data":'
        + data
        + b',"prev":"'
        + head.encode()
        + b'"}'
    )


class TestReader:
    @FUZZ
    @given(data=st.binary(max_size=4096))
    def test_random_bytes(self, target: Path, data: bytes) -> None:
        """Random bytes give an error report, never an exception."""
        assert not audit_bytes(target, data).ok

    @FUZZ
    @given(lines=st.lists(st.binary(max_size=200), max_size=20), tail=st.booleans())
    def test_random_lines(self, target: Path, lines: list[bytes], tail: bool) -> None:
        """Random lines (newline-separated junk) give an error report, never an exception."""
        assert not audit_bytes(target, b"\n".join(lines) + (b"\n" if tail else b"")).ok

    @FUZZ
    @given(
        edits=st.lists(
            st.tuples(
                st.sampled_from(["flip", "insert", "delete", "truncate"]),
                st.floats(min_value=0, max_value=1),
                st.integers(min_value=0, max_value=255),
                st.binary(min_size=1, max_size=8),
            ),
            min_size=1,
            max_size=4,
        )
    )
    def test_mutated_history(self, target: Path, original: bytes, edits) -> None:
        """A real history with bits flipped, bytes inserted or deleted, or cut short is reported, and
        passes only if it is still the original cut at a line boundary."""
        data = bytearray(original)
        for op, where, byte, chunk in edits:
            pos = min(int(where * len(data)), max(len(data) - 1, 0))
            if op == "flip" and data:
                data[pos] ^= 1 << (byte % 8)
            elif op == "insert":
                data[pos:pos] = chunk
            elif op == "delete":
                del data[pos : pos + 1 + byte % 64]
            elif op == "truncate":
                del data[pos:]
        report = audit_bytes(target, bytes(data))
        if report.ok:
            assert line_prefix(bytes(data), original), report.findings

    @FUZZ
    @given(
        depth=st.integers(min_value=1, max_value=100_000), shape=st.sampled_from(["list", "object"])
    )
    def test_deeply_nested_json(
        self, target: Path, original: bytes, depth: int, shape: str
    ) -> None:
        """A correctly hashed and chained event nested arbitrarily deep is reported, never a RecursionError."""
        if shape == "list":
            nested = b"[" * depth + b"]" * depth
        else:
            nested = b'{"a":' * depth + b"1" + b"}" * depth
        body = next_event_body(original, b'{"text":' + nested + b"}")
        report = audit_bytes(target, original + with_hash(body))
        if depth > 10_000:
            assert "not-json" in [f.code for f in report.findings]

    @FUZZ
    @given(
        bad=st.sampled_from(
            [b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\x80", b"\xf8\x88\x80\x80\x80", b"\xe2\x82"]
        ),
        text=st.text(max_size=10),
    )
    def test_non_utf8(self, target: Path, original: bytes, bad: bytes, text: str) -> None:
        """A correctly hashed event holding bytes that are not UTF-8 gives a `not-utf8` error at its seq."""
        raw_text = json.dumps(text, ensure_ascii=False).encode()[:-1] + bad + b'"'
        body = next_event_body(original, b'{"text":' + raw_text + b"}")
        report = audit_bytes(target, original + with_hash(body))
        seq = original.count(b"\n")
        assert ("not-utf8", seq) in [(f.code, f.seq) for f in report.findings]

    @FUZZ
    @given(choice=st.data(), value=JSON_VALUES)
    def test_wrong_types_in_a_rewritten_history(
        self, target: Path, original: bytes, choice, value
    ) -> None:
        """An event whose field holds any JSON value, re-hashed and re-chained, is reported, never raised."""
        lines = original.splitlines()
        index = choice.draw(st.integers(min_value=1, max_value=len(lines) - 1), label="line")
        record, _ = decode_line(lines[index])
        container, key = record, choice.draw(st.sampled_from([*record, "extra"]), label="key")
        while isinstance(container.get(key), dict | list) and choice.draw(
            st.booleans(), label="deeper"
        ):
            inner = container[key]
            if isinstance(inner, list):
                if not inner:
                    break
                inner = inner[choice.draw(st.integers(0, len(inner) - 1), label="item")]
                if not isinstance(inner, dict):
                    break
            container, key = inner, choice.draw(st.sampled_from([*inner, "extra"]), label="key")
        container[key] = value
        audit_bytes(target, rechained(original, index, record))


def test_huge_line_over_the_cap(target: Path, original: bytes) -> None:
    """A line over the 16 MiB cap is reported as `too-long` at its seq and the reader carries on."""
    body = next_event_body(original, b'{"text":"' + b"x" * (MAX_LINE_BYTES + 10) + b'"}')
    report = audit_bytes(
        target, original + with_hash(body) + original.splitlines(keepends=True)[-1]
    )
    seq = original.count(b"\n")
    codes = [(f.code, f.seq) for f in report.findings]
    assert ("too-long", seq) in codes
    assert ("seq", seq + 1) in codes or ("chain", seq + 1) in codes


def set_in(record: dict, path: tuple, value: object) -> dict:
    """*record* with the member at *path* (keys and list indexes) set to *value*."""
    container = record
    for key in path[:-1]:
        container = container[key]
    container[path[-1]] = value
    return record


WRONG_TYPES = {
    "type-is-a-list": ("opened", ("type",), []),
    "opened-facts-a-number": ("opened", ("data", "facts"), 5),
    "opened-facts-a-string": ("opened", ("data", "facts"), "ab"),
    "advanced-rules-a-number": ("advanced", ("data", "rules"), 5),
    "advanced-trigger-a-number": ("advanced", ("data", "trigger"), 5),
    "advanced-trigger-unknown": ("advanced", ("data", "trigger"), "no-such-trigger"),
    "advanced-rule-id-an-object": ("advanced", ("data", "rules", 0, "rule"), {"x": 1}),
    "closing-at-not-a-date": ("close", ("at",), "2026-99-99T00:00:00.000000Z"),
    "item-an-object": ("item_checked", ("data", "item"), {"a": 1}),
    "seq-a-string": ("item_checked", ("seq",), "2"),
}


@pytest.mark.parametrize("case", WRONG_TYPES.values(), ids=WRONG_TYPES.keys())
def test_wrong_types_are_findings(target: Path, original: bytes, case) -> None:
    """A re-hashed, re-chained event with a value of the wrong type gives error findings, not an exception."""
    kind, path, value = case
    lines = original.splitlines()
    if kind == "close":
        index = len(lines) - 1
    else:
        index = next(i for i, line in enumerate(lines) if f'"type":"{kind}"'.encode() in line)
    record = set_in(decode_line(lines[index])[0], path, value)
    report = audit_bytes(target, rechained(original, index, record))
    assert not report.ok
    assert all(f.seq is None or f.seq >= index for f in report.findings), report.findings


def samples(original: bytes) -> dict[str, bytes]:
    """A handful of bad inputs for the CLI."""
    rng = random.Random(1234)
    flipped = bytearray(original)
    for _ in range(5):
        flipped[rng.randrange(len(flipped))] ^= 1 << rng.randrange(8)
    lines = original.splitlines()
    opened, _ = decode_line(lines[1])
    opened["data"]["facts"] = 5
    advanced_index = next(i for i, line in enumerate(lines) if b'"type":"advanced"' in line)
    advanced, _ = decode_line(lines[advanced_index])
    advanced["data"]["rules"] = [{"rule": {"not": "a string"}, "outcome": "overridden"}]
    unknown, _ = decode_line(lines[advanced_index])
    unknown["data"]["trigger"] = "no-such-trigger"
    depth = 50_000
    return {
        "random": rng.randbytes(3000),
        "empty": b"",
        "only-newlines": b"\n" * 100,
        "flipped": bytes(flipped),
        "non-utf8": original[:100] + b"\xff\xfe" + original[100:],
        "nested": original + with_hash(next_event_body(original, b"[" * depth + b"]" * depth)),
        "facts-not-an-object": rechained(original, 1, opened),
        "rule-id-not-a-string": rechained(original, advanced_index, advanced),
        "unknown-trigger": rechained(original, advanced_index, unknown),
    }


SAMPLES = [
    "random",
    "empty",
    "only-newlines",
    "flipped",
    "non-utf8",
    "nested",
    "facts-not-an-object",
    "rule-id-not-a-string",
    "unknown-trigger",
]


@pytest.mark.parametrize("name", SAMPLES)
def test_cli_audit_never_shows_a_traceback(
    workspace: Path, original: bytes, cli, name: str
) -> None:
    """`lifecycle audit` on bad input exits 0 or 1 and prints no traceback."""
    path = workspace / "fuzz.history.jsonl"
    path.write_bytes(samples(original)[name])
    code, out, err = cli("audit", str(path))
    assert code in (0, 1)
    assert "Traceback" not in out + err and "internal error" not in out + err
    code, out, err = cli("audit", "--json", str(path))
    assert code in (0, 1) and "Traceback" not in out + err and "internal error" not in out + err
    if code == 1 and out:
        assert json.loads(out)["ok"] is False


# Every command that reads a history; `repair` last, as it may change the file.
READERS = [
    ("status", "fuzz"),
    ("status", "fuzz", "--json"),
    ("history", "fuzz"),
    ("history", "fuzz", "--json"),
    ("history", "fuzz", "--at", "1"),
    ("history", "fuzz", "--at", "12"),
    ("list",),
    ("list", "--json"),
    ("due",),
    ("due", "--json"),
    ("audit", "fuzz.history.jsonl"),
    ("repair", "fuzz.history.jsonl"),
]


def assert_readers_cope(workspace: Path, cli, data: bytes) -> None:
    """Every reading command on *data* as a history ends in its own exit code, never in a
    traceback or an internal error, and every error is one line."""
    path = workspace / "fuzz.history.jsonl"
    path.write_bytes(data)
    for args in READERS:
        args = tuple(str(path) if a == "fuzz.history.jsonl" else a for a in args)
        code, out, err = cli(*args)
        shown = f"{args}: {err[:300]}"
        assert code in (0, 1, 2), shown
        assert "Traceback" not in out + err and "internal error" not in out + err, shown
        assert all(
            line.startswith(("lifecycle: error: ", "warning: ")) for line in err.splitlines()
        ), shown


@pytest.mark.parametrize("name", SAMPLES)
def test_every_reading_command_copes_with_bad_input(
    workspace: Path, original: bytes, cli, name: str
) -> None:
    """Each reading command (`status`, `history`, `history --at`, `list`, `due`, `audit`, `repair`) copes
    with each bad sample: no traceback, no internal error."""
    assert_readers_cope(workspace, cli, samples(original)[name])


@settings(
    FUZZ,
    max_examples=40,
    suppress_health_check=[*FUZZ.suppress_health_check, HealthCheck.function_scoped_fixture],
)
@given(
    edits=st.lists(
        st.tuples(
            st.sampled_from(["flip", "insert", "delete", "truncate"]),
            st.floats(min_value=0, max_value=1),
            st.integers(min_value=0, max_value=255),
            st.binary(min_size=1, max_size=8),
        ),
        min_size=1,
        max_size=3,
    )
)
def test_every_reading_command_copes_with_a_mutated_history(
    workspace: Path, original: bytes, cli, edits
) -> None:
    """Every reading command on a real history with bytes flipped, inserted, deleted or cut: no traceback."""
    data = bytearray(original)
    for op, where, byte, chunk in edits:
        pos = min(int(where * len(data)), max(len(data) - 1, 0))
        if op == "flip" and data:
            data[pos] ^= 1 << (byte % 8)
        elif op == "insert":
            data[pos:pos] = chunk
        elif op == "delete":
            del data[pos : pos + 1 + byte % 64]
        elif op == "truncate":
            del data[pos:]
    assert_readers_cope(workspace, cli, bytes(data))


@settings(
    FUZZ,
    max_examples=60,
    suppress_health_check=[*FUZZ.suppress_health_check, HealthCheck.function_scoped_fixture],
)
@given(choice=st.data(), value=JSON_VALUES)
def test_every_reading_command_copes_with_wrong_types(
    workspace: Path, original: bytes, cli, choice, value
) -> None:
    """Every reading command on a re-hashed, re-chained history with any JSON value in any field: no traceback."""
    lines = original.splitlines()
    index = choice.draw(st.integers(min_value=1, max_value=len(lines) - 1), label="line")
    record, _ = decode_line(lines[index])
    container, key = record, choice.draw(st.sampled_from([*record, "extra"]), label="key")
    while isinstance(container.get(key), dict) and choice.draw(st.booleans(), label="deeper"):
        container = container[key]
        key = choice.draw(st.sampled_from([*container, "extra"]), label="key")
    container[key] = value
    assert_readers_cope(workspace, cli, rechained(original, index, record))


@pytest.mark.parametrize("value", [[], {}, ["note_added"]], ids=["array", "object", "list"])
def test_an_event_type_that_is_not_a_string_is_one_line(
    workspace: Path, original: bytes, cli, value: object
) -> None:
    """Found by the fuzz test above: an event whose ``type`` is an array or object (re-hashed,
    re-chained) once made status, list, due and history --at end in an internal error."""
    record, _ = decode_line(original.splitlines()[2])
    record["type"] = value
    assert_readers_cope(workspace, cli, rechained(original, 2, record))
