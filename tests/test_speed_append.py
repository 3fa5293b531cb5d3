"""The file session's fast paths (#14, `advance` append latency) held to the general ones.

An anchored session reads with one ``pread`` of the anchor's line and a byte more, knows the lines
this process wrote (no sha256 again for the same bytes), and cuts a failed append back to the end
it read, without ``fstat``. Each test below holds one of these to what the code before it did,
on hostile files, anchors and failures; the reference is that code, kept here verbatim.
"""

from __future__ import annotations

import errno
import hashlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lifecycle import FileHistoryStore
from lifecycle._files import MAX_HISTORY_BYTES, lock, open_regular, read_bounded
from lifecycle._history import _WRITTEN, _WRITTEN_MAX, Anchor, _line_holds, _verify
from lifecycle._lines import encode_line
from lifecycle.exceptions import HistoryBusyError, HistoryError

CREATED = "2026-01-05T09:00:00.000000Z"
SUFFIX = ".history.jsonl"


def first_event() -> dict[str, Any]:
    """The fields of event 1 (what the strict reader needs: any JSON object)."""
    return {"at": CREATED, "actor": "officer", "type": "opened", "v": 1, "data": {}}


def note(text: str) -> dict[str, Any]:
    """The fields of a note event."""
    return {"at": CREATED, "actor": "officer", "type": "note_added", "v": 1, "data": {"text": text}}


def make_history(folder: Path, events: int, name: str = "eng") -> FileHistoryStore:
    """A history file of *events* events, the notes appended through sessions (so known)."""
    store = FileHistoryStore(folder / f"{name}{SUFFIX}")
    store.create(name, CREATED, first_event())
    for i in range(events - 1):
        with store.session() as session:
            session.append(note(f"note {i}"))
    return store


def line_anchors(data: bytes) -> list[Anchor]:
    """The anchor of every whole line of *data* (the header's is seq 0)."""
    anchors, start = [], 0
    for seq, line in enumerate(data.split(b"\n")[:-1]):
        end = start + len(line) + 1
        anchors.append(Anchor(seq, line[-66:-2].decode("ascii", "replace"), start, end))
        start = end
    return anchors


def old_anchor_holds(fd: int, anchor: Anchor) -> bool:
    """``_anchor_holds`` as it was: pread the line, cut its hash suffix off, rehash."""
    raw = os.pread(fd, anchor.end - anchor.start, anchor.start)
    suffix = b',"hash":"' + anchor.head.encode("ascii") + b'"}\n'
    if not raw.endswith(suffix):
        return False
    body = raw[: -len(suffix)] + b"}"
    return hashlib.sha256(body).hexdigest() == anchor.head


def old_read(store: FileHistoryStore, after: Anchor | None) -> tuple[list[Any], Anchor]:
    """``FileHistoryStore._read_verified`` as it was, on a fresh descriptor."""
    fd = open_regular(store.path, os.O_RDONLY)
    try:
        if after is not None and old_anchor_holds(fd, after):
            return _verify(store.label, read_bounded(store.path, fd, after.end), after)
        return _verify(store.label, read_bounded(store.path, fd), None, store.engagement)
    finally:
        os.close(fd)


def outcome(read: Callable[[], tuple[list[Any], Anchor]]) -> tuple[Any, ...]:
    """What a read returned, or the type and words of what it raised."""
    try:
        records, anchor = read()
    except Exception as exc:  # noqa: BLE001 - the comparison is of whatever is raised
        return ("raised", type(exc), str(exc))
    return ("read", records, anchor)


def session_read(store: FileHistoryStore, after: Anchor | None) -> tuple[list[Any], Anchor]:
    """What an exclusive session reads: its records and anchor."""
    with store.session(after) as session:
        assert session.anchor is not None
        return session.records, session.anchor


def mutate(data: bytes, how: str, at: int, byte: int) -> bytes:
    """*data* changed as another process (or a hostile hand) might have changed it."""
    if how == "append-event":
        last = line_anchors(data)[-1]
        return data + encode_line({"seq": last.seq + 1, **note("theirs"), "prev": last.head})
    if how == "append-garbage":
        return data + b'{"not": "a line"}\n'
    if how == "append-torn":
        return data + b'{"seq":'
    if how == "truncate":
        return data[: at % (len(data) + 1)]
    if how == "flip":
        i = at % len(data)
        return data[:i] + bytes([data[i] ^ (byte or 1)]) + data[i + 1 :]
    if how == "rewrite-tail":
        cut = data[:-1].rfind(b"\n") + 1
        prev = line_anchors(data[:cut])[-1]
        return data[:cut] + encode_line(
            {"seq": prev.seq + 1, **note("rewritten"), "prev": prev.head}
        )
    return data


MUTATIONS = [
    "none",
    "append-event",
    "append-garbage",
    "append-torn",
    "truncate",
    "flip",
    "rewrite-tail",
]


@st.composite
def anchors(draw: st.DrawFn, data: bytes) -> Anchor | None:
    """A real line's anchor, a forged one (spans inverted, empty, past the end or the size bound,
    heads of other lines, non-hex, non-ASCII), or None."""
    real = line_anchors(data)
    kind = draw(st.sampled_from(["line", "line", "forged", "huge", "none"]))
    if kind == "none":
        return None
    if kind == "line":
        return draw(st.sampled_from(real))
    heads = [a.head for a in real] + ["0" * 64, "é" * 64]
    head = draw(st.sampled_from(heads) | st.text(max_size=70))
    seq = draw(st.integers(-2, len(real) + 2))
    if kind == "huge":
        start = draw(st.integers(MAX_HISTORY_BYTES - 300, MAX_HISTORY_BYTES + 300))
        return Anchor(seq, head, start, start + draw(st.integers(-2, 400)))
    size = len(data) + 5
    return Anchor(seq, head, draw(st.integers(-3, size)), draw(st.integers(-3, size)))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    events=st.integers(1, 4),
    how=st.sampled_from(MUTATIONS),
    at=st.integers(0, 1 << 20),
    byte=st.integers(0, 255),
    pick=st.data(),
)
def test_an_anchored_read_is_the_general_read(
    events: int, how: str, at: int, byte: int, pick: st.DataObject
) -> None:
    """For any anchor, real or forged, on a history appended to, torn, truncated, flipped or
    rewritten, a session and a shared read return (or raise) exactly what the code before did."""
    with tempfile.TemporaryDirectory() as folder:
        store = make_history(Path(folder), events)
        before = store.path.read_bytes()
        anchor = pick.draw(anchors(before))
        store.path.write_bytes(mutate(before, how, at, byte))
        expected = outcome(lambda: old_read(store, anchor))
        assert outcome(lambda: store.read_after(anchor)) == expected
        assert outcome(lambda: session_read(store, anchor)) == expected


def test_a_history_over_the_size_bound_ending_at_its_anchor_is_refused(tmp_path: Path) -> None:
    """A (sparse) file over the 1 GiB bound whose last line is the anchor's is refused for its size,
    as before, not read as having nothing new."""
    store = make_history(tmp_path, 2)
    data = store.path.read_bytes()
    last = line_anchors(data)[-1]
    line = data[last.start : last.end]
    start = MAX_HISTORY_BYTES - len(line) // 2
    with open(store.path, "r+b") as handle:
        handle.seek(start)
        handle.write(line)
    anchor = Anchor(last.seq, last.head, start, start + len(line))
    expected = outcome(lambda: old_read(store, anchor))
    assert expected[0] == "raised" and "byte limit for a history" in expected[2]
    assert outcome(lambda: store.read_after(anchor)) == expected
    assert outcome(lambda: session_read(store, anchor)) == expected


@settings(max_examples=150, deadline=None)
@given(
    text=st.text(max_size=40),
    cut=st.integers(0, 400),
    flip=st.integers(0, 400),
    extra=st.binary(max_size=3),
    other=st.booleans(),
)
def test_a_known_line_holds_only_byte_for_byte(
    text: str, cut: int, flip: int, extra: bytes, other: bool
) -> None:
    """A line this process wrote vouches for exactly its own bytes under its own head: any other
    bytes, or another line's head, are checked by the hash as before, with the same verdict."""
    with tempfile.TemporaryDirectory() as folder:
        store = make_history(Path(folder), 2)
        _WRITTEN.clear()  # both lines below are then known, whatever was written before
        with store.session() as session:
            session.append(note(text))
            session.append(note(text + "!"))
        data = store.path.read_bytes()
    mine, theirs = line_anchors(data)[-2:]
    assert _WRITTEN.get(mine.head) == data[mine.start : mine.end]
    line = data[mine.start : mine.end]
    i = flip % len(line)
    candidates = [
        line,
        line[: cut % len(line)],
        line + extra,
        line[:i] + bytes([line[i] ^ 0x20]) + line[i + 1 :],
        data[theirs.start : theirs.end],
    ]
    anchor = theirs if other else mine
    for raw in candidates:
        with tempfile.TemporaryFile() as handle:
            handle.write(raw)
            handle.flush()
            fd = handle.fileno()
            at_zero = Anchor(anchor.seq, anchor.head, 0, len(raw))
            assert _line_holds(raw, anchor) == old_anchor_holds(fd, at_zero)


def test_the_known_lines_are_bounded(tmp_path: Path) -> None:
    """However many lines a process writes, it keeps at most 64 of them, and none over 64 KiB."""
    store = make_history(tmp_path, 2)
    with store.session() as session:
        for i in range(3 * _WRITTEN_MAX):
            session.append(note(f"n{i}"))
        assert 0 < len(_WRITTEN) <= _WRITTEN_MAX
        big = session.append(note("b" * (70 << 10)))
    assert big["hash"] not in _WRITTEN
    assert all(len(line) <= 1 << 16 for line in _WRITTEN.values())


# ------------------------------------------------------------------ failed appends in a session


def failing(real: Callable[..., Any], path: Path, *, half: bool) -> Callable[..., Any]:
    """*real* (os.write or os.fsync) failing once with ENOSPC on a descriptor of *path*, after
    writing half the line when *half*."""
    inode = path.stat().st_ino
    left = [1]

    def call(target: int, *args: Any) -> Any:
        if os.fstat(target).st_ino != inode or left[0] == 0:
            return real(target, *args)
        left[0] -= 1
        if half:
            real(target, bytes(args[0])[: len(args[0]) // 2])
        raise OSError(errno.ENOSPC, "No space left on device (injected)")

    return call


@pytest.mark.parametrize(
    ("target", "half"),
    [("write", True), ("write", False), ("fsync", False)],
    ids=["half-written", "nothing-written", "fsync-failed"],
)
def test_a_failed_later_append_is_cut_back_to_the_one_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, target: str, half: bool
) -> None:
    """When the second append of a session fails, the file is cut back to the end of the first
    (the end the session keeps, not the one it read), and a third append follows the first."""
    store = make_history(tmp_path, 1)
    with store.session() as session:
        session.append(note("first"))
        after_first = store.path.read_bytes()
        monkeypatch.setattr(os, target, failing(getattr(os, target), store.path, half=half))
        with pytest.raises(HistoryError, match="the file is as it was"):
            session.append(note("second"))
        assert store.path.read_bytes() == after_first
        third = session.append(note("third"))
    records = store.read()
    assert [r["seq"] for r in records] == [1, 2, 3]
    assert records[-1] == third and records[1]["data"]["text"] == "first"


# ----------------------------------------------------------------- other processes, real files

OTHER = r"""
import os, sys
from pathlib import Path
from lifecycle import FileHistoryStore
from lifecycle._lines import encode_line

path, how = Path(sys.argv[1]), sys.argv[2]
store = FileHistoryStore(path)
note = {"at": "2026-01-05T09:00:00.000000Z", "actor": "other", "type": "note_added", "v": 1,
        "data": {"text": "theirs"}}
if how == "append":
    with store.session() as session:
        session.append(note)
elif how == "truncate":
    data = path.read_bytes()
    os.truncate(path, data[:-1].rfind(b"\n") + 1)
elif how == "rewrite":
    data = path.read_bytes()
    cut = data[:-1].rfind(b"\n") + 1
    last = store.read()[-2]
    with open(path, "r+b") as handle:
        handle.truncate(cut)
        handle.seek(cut)
        handle.write(encode_line({"seq": last["seq"] + 1, **note, "prev": last["hash"]}))
elif how == "replace":
    other = path.with_name("copy.tmp")
    other.write_bytes(path.read_bytes())
    os.replace(other, path)
elif how == "delete":
    path.unlink()
print("done", flush=True)
"""


@pytest.mark.parametrize("how", ["append", "truncate", "rewrite", "replace", "delete"])
def test_another_process_between_two_sessions_is_noticed_as_before(
    tmp_path: Path, how: str
) -> None:
    """Whatever another process did between two anchored sessions (appended, truncated, rewrote
    the tail, renamed a copy over the file, deleted it), the next session reads or refuses exactly
    as the code before, and an append after it lands on the file at the path."""
    store = make_history(tmp_path, 3)
    with store.session() as session:
        session.append(note("mine"))
        anchor = session.anchor
    script = tmp_path / "other.py"
    script.write_text(OTHER, encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, str(script), str(store.path), how],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0 and proc.stdout.strip() == "done", proc.stderr
    expected = outcome(lambda: old_read(store, anchor)) if store.path.exists() else None
    try:
        with store.session(anchor) as session:
            got = ("read", list(session.records), session.anchor)
            session.append(note("after"))
    except HistoryError as exc:
        got = ("raised", type(exc), str(exc))
    if how == "delete":
        assert got[0] == "raised" and "no such history file" in got[2]
        return
    assert got == expected
    assert store.read()[-1]["data"]["text"] == "after"


# ------------------------------------------------------------------------------------- the lock

HOLDER = r"""
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
sys.stdin.readline()
"""


def test_a_held_lock_is_still_waited_for_then_refused(tmp_path: Path) -> None:
    """With another process holding the lock, no wait refuses at once and a 0.3 s wait refuses
    after 0.3 s, both naming the holder; once it lets go, the lock is taken at the first try."""
    store = make_history(tmp_path, 1)
    fd = os.open(store.path, os.O_RDONLY)
    with subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(store.path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as holder:
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
            with pytest.raises(HistoryBusyError) as busy:
                lock(store.path, fd, exclusive=True, timeout=0)
            assert busy.value.pid == holder.pid
            started = time.monotonic()
            with pytest.raises(HistoryBusyError):
                lock(store.path, fd, exclusive=False, timeout=0.3)
            assert time.monotonic() - started >= 0.3
            holder.communicate("go\n", timeout=30)
            lock(store.path, fd, exclusive=True, timeout=0)
        finally:
            os.close(fd)
            holder.kill()


PROBE = r"""
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
try:
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    print("free")
except BlockingIOError:
    print("held")
"""


def probe(path: Path) -> str:
    """Whether another process could take the history's lock now."""
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, str(path)], capture_output=True, text=True, timeout=60
    )
    return proc.stdout.strip()


def test_a_session_holds_the_lock_until_it_ends_even_by_raising(tmp_path: Path) -> None:
    """Another process cannot lock the file during a session, and can once the session has ended,
    whether it ended normally or by an exception from its body."""
    store = make_history(tmp_path, 1)
    with store.session() as session:
        assert probe(store.path) == "held"
        session.append(note("x"))
    assert probe(store.path) == "free"
    with pytest.raises(RuntimeError, match="body"), store.session():
        assert probe(store.path) == "held"
        raise RuntimeError("body")
    assert probe(store.path) == "free"
