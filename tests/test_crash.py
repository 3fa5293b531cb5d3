"""Crash injection: a child process appending through the Engine dies at the k-th os.write/os.fsync."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest

from lifecycle import Engine, FileHistoryStore, audit_file
from lifecycle._repair import repair_file

NOTES = 4
CRASHED = 77
FAILED = 3

CHILD = r"""
import errno, os, sys
from lifecycle import Engine, make_plugin_manager
from lifecycle.exceptions import HistoryError

workspace, engagement, action, target, k, mode = sys.argv[1:7]
k = int(k)
real = {"write": os.write, "fsync": os.fsync}
calls = {"write": 0, "fsync": 0}


def wrap(name):
    def patched(fd, *args):
        calls[name] += 1
        if mode == "short" and name == "write":
            return real["write"](fd, bytes(args[0][:7]))  # a short write; the caller must loop
        if name == target and calls[name] == k:
            if mode == "before":
                os._exit(77)
            if mode == "partial":
                data = bytes(args[0])
                real["write"](fd, data[: max(1, len(data) // 2)])
                os._exit(77)
            if mode == "eio":
                raise OSError(errno.EIO, "injected I/O error")
            real[name](fd, *args)
            os._exit(77)  # "after": the call completed, the process dies before returning
        return real[name](fd, *args)
    return patched


os.write, os.fsync = wrap("write"), wrap("fsync")
engine = Engine(workspace, plugins=make_plugin_manager(load_entrypoints=False, environ={}))
try:
    if action == "open":
        engine.open(engagement, "core", actor="crash")
        print(1, flush=True)
    else:
        for i in range(int(action)):
            print(engine.note(engagement, f"note {i}", actor="crash").event["seq"], flush=True)
except HistoryError as exc:
    print(f"calls {calls['write']} {calls['fsync']} error {exc}", file=sys.stderr, flush=True)
    sys.exit(3)
print(f"calls {calls['write']} {calls['fsync']}", file=sys.stderr, flush=True)
"""


@pytest.fixture
def child(tmp_path: Path) -> Path:
    """The child script, written to a file."""
    script = tmp_path / "child.py"
    script.write_text(CHILD, encoding="utf-8")
    return script


def run_child(
    script: Path,
    workspace: Path,
    action: str,
    target: str = "none",
    k: int = 0,
    mode: str = "none",
    engagement: str = "eng-1",
) -> tuple[int, list[int], str]:
    """Run the child; return its exit code, the seqs it acknowledged, and its stderr."""
    proc = subprocess.run(
        [sys.executable, str(script), str(workspace), engagement, action, target, str(k), mode],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return proc.returncode, [int(line) for line in proc.stdout.split()], proc.stderr


def calls_of(stderr: str) -> tuple[int, int]:
    """The (write, fsync) call counts the child reported."""
    words = next(line for line in stderr.splitlines() if line.startswith("calls")).split()
    return int(words[1]), int(words[2])


def check_after_crash(engine: Engine, path: Path, acked: list[int], before: int) -> bool:
    """Audit after a crash (clean or only torn-tail), repair if torn, and check every acknowledged
    event is there; return whether the file was torn."""
    report = audit_file(path, kinds=engine.rule_kinds, today=engine.today())
    codes = [f.code for f in report.findings if f.severity == "error"]
    assert codes in ([], ["torn-tail"]), report.findings
    torn = codes == ["torn-tail"]
    if torn:
        repair_file(path, actor="officer", now=dt.datetime.now(dt.UTC))
        report = audit_file(path, kinds=engine.rule_kinds, today=engine.today())
        assert report.ok and not report.findings, report.findings
    records = FileHistoryStore(path).read()
    notes = [r for r in records if r["type"] == "note_added"]
    assert [r["seq"] for r in records] == list(range(1, len(records) + 1))
    for i, seq in enumerate(acked):
        assert records[seq - 1]["type"] == "note_added"
        assert records[seq - 1]["data"]["text"] == f"note {i}"
    assert acked == list(range(before + 1, before + 1 + len(acked)))
    assert len(acked) <= len(notes) <= len(acked) + 1  # at most the one append in flight
    return torn


@pytest.fixture
def opened(engine: Engine) -> Path:
    """eng-1 opened under core; its file."""
    engine.open("eng-1", "core", actor="officer")
    return engine.workspace.path_of("eng-1")


def test_clean_run_makes_one_write_and_one_fsync_per_append(
    child: Path, workspace: Path, opened: Path, engine: Engine
) -> None:
    """Without faults every note is acknowledged, with exactly one write and one fsync each."""
    code, acked, err = run_child(child, workspace, str(NOTES))
    assert code == 0, err
    assert acked == list(range(2, NOTES + 2))
    assert calls_of(err) == (NOTES, NOTES)
    assert not check_after_crash(engine, opened, acked, 1)


CRASH_MODES = pytest.mark.parametrize(
    ("target", "mode"),
    [
        ("write", "before"),
        ("write", "partial"),
        ("write", "after"),
        ("fsync", "before"),
        ("fsync", "after"),
    ],
    ids=[
        "die-instead-of-write",
        "partial-write-then-die",
        "die-after-write",
        "die-instead-of-fsync",
        "die-after-fsync",
    ],
)


@CRASH_MODES
def test_crash_at_every_call(
    child: Path, workspace: Path, opened: Path, engine: Engine, target: str, mode: str
) -> None:
    """Killed at the k-th call for every k, the file is clean or only torn, repair makes it clean,
    and no acknowledged append is lost."""
    original = opened.read_bytes()
    _, _, err = run_child(child, workspace, str(NOTES))
    clean_calls = calls_of(err)[0 if target == "write" else 1]
    assert clean_calls == NOTES
    torn_seen = 0
    for k in range(1, clean_calls + 1):
        for stale in opened.parent.glob("*.torn-*"):
            stale.unlink()
        opened.write_bytes(original)
        code, acked, err = run_child(child, workspace, str(NOTES), target, k, mode)
        assert code == CRASHED, err
        assert len(acked) == k - 1
        torn = check_after_crash(engine, opened, acked, 1)
        torn_seen += torn
        assert torn == (mode == "partial")
        engine.note("eng-1", "life goes on", actor="officer")
    assert torn_seen == (clean_calls if mode == "partial" else 0)


def test_short_writes_are_completed(
    child: Path, workspace: Path, opened: Path, engine: Engine
) -> None:
    """When every os.write writes only a few bytes, the writer loops and each line lands whole."""
    code, acked, err = run_child(child, workspace, str(NOTES), mode="short")
    assert code == 0, err
    assert acked == list(range(2, NOTES + 2))
    assert calls_of(err)[0] > NOTES
    assert not check_after_crash(engine, opened, acked, 1)


@pytest.mark.parametrize("target", ["write", "fsync"])
def test_io_error_is_not_acknowledged_nor_retried(
    child: Path, workspace: Path, opened: Path, engine: Engine, target: str
) -> None:
    """An EIO from write or fsync fails the append (HistoryError), is never retried, and loses nothing acknowledged."""
    original = opened.read_bytes()
    for k in range(1, NOTES + 1):
        opened.write_bytes(original)
        code, acked, err = run_child(child, workspace, str(NOTES), target, k, "eio")
        assert code == FAILED, err
        assert "not acknowledged" in err
        assert len(acked) == k - 1
        assert calls_of(err) == ((k, k - 1) if target == "write" else (k, k))
        assert not check_after_crash(engine, opened, acked, 1)
        # The failed append was cut back under the lock: not a byte of it is left (#9).
        assert len(FileHistoryStore(opened).read()) == 1 + len(acked)


@CRASH_MODES
def test_crash_while_opening_leaves_no_engagement_or_a_whole_one(
    child: Path, workspace: Path, engine: Engine, target: str, mode: str
) -> None:
    """A crash while creating a history leaves either no file (so open can be retried) or a whole, clean one."""
    code, acked, _ = run_child(child, workspace, "open", target, 1, mode, engagement="eng-new")
    assert code == CRASHED and acked == []
    path = engine.workspace.path_of("eng-new")
    if path.exists():
        report = audit_file(path, kinds=engine.rule_kinds, today=engine.today())
        assert report.ok and report.events == 1, (path.read_bytes()[:80], report.findings)
    else:
        engine.open("eng-new", "core", actor="officer")
