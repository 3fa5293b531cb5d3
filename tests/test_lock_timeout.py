"""A hung writer hangs no one: locks are taken with a bounded wait, then the command exits 1 saying
the engagement is busy and which process holds it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lifecycle import Engine

from conftest import run_cli

HOLDER = r"""
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY)
fcntl.flock(fd, fcntl.LOCK_EX if sys.argv[2] == "ex" else fcntl.LOCK_SH)
print("locked", flush=True)
time.sleep(120)
"""


@pytest.fixture
def history(engine: Engine) -> Path:
    """eng-1 opened under core; its history file."""
    engine.open("eng-1", "core", actor="officer")
    return engine.workspace.path_of("eng-1")


def hold(path: Path, mode: str) -> subprocess.Popen[str]:
    """A real process holding an flock on *path* (``ex`` or ``sh``) until killed."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path), mode], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    return proc


def release(proc: subprocess.Popen[str]) -> None:
    """End a holder process (and close its pipe)."""
    proc.kill()
    proc.wait()
    assert proc.stdout is not None
    proc.stdout.close()


@pytest.fixture
def holder(history: Path) -> Iterator[subprocess.Popen[str]]:
    """A process holding eng-1's history exclusively, as a hung writer would."""
    proc = hold(history, "ex")
    yield proc
    release(proc)


def timed(
    workspace: Path, *args: str, timeout: str | None
) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run the CLI on *workspace* with LIFECYCLE_LOCK_TIMEOUT=*timeout*; return it and its duration."""
    env = (
        {"LIFECYCLE_LOCK_TIMEOUT": timeout}
        if timeout is not None
        else {"LIFECYCLE_LOCK_TIMEOUT": ""}
    )
    started = time.monotonic()
    proc = run_cli("--workspace", str(workspace), "--actor", "officer", *args, env=env, timeout=60)
    return proc, time.monotonic() - started


@pytest.mark.parametrize(
    "args",
    [
        ("note", "eng-1", "waits"),
        ("status", "eng-1"),
        ("history", "eng-1"),
        ("check", "eng-1", "request-recorded"),
    ],
    ids=["note", "status", "history", "check"],
)
def test_commands_give_up_on_a_held_lock(
    workspace: Path, history: Path, holder: subprocess.Popen[str], args: tuple[str, ...]
) -> None:
    """Writes and reads wait LIFECYCLE_LOCK_TIMEOUT seconds, then exit 1 naming the holder's pid,
    in one line, with the history unchanged."""
    before = history.read_bytes()
    proc, took = timed(workspace, *args, timeout="0.5")
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "is busy" in lines[0] and f"process {holder.pid}" in lines[0], lines[0]
    assert "0.5 s" in lines[0]
    assert 0.5 <= took < 8, took
    assert history.read_bytes() == before


def test_a_reader_holding_the_lock_also_bounds_a_writer(workspace: Path, history: Path) -> None:
    """A shared (reading) holder makes a writer give up too, after the same bounded wait."""
    proc = hold(history, "sh")
    try:
        before = history.read_bytes()
        result, took = timed(workspace, "note", "eng-1", "waits", timeout="0.3")
        assert result.returncode == 1 and "is busy" in result.stderr, result.stderr
        assert took < 8
        assert history.read_bytes() == before
        result, _ = timed(workspace, "status", "eng-1", timeout="0.3")
        assert result.returncode == 0, result.stderr  # readers share the lock
    finally:
        release(proc)


def test_default_wait_is_ten_seconds(
    workspace: Path, history: Path, holder: subprocess.Popen[str]
) -> None:
    """Without LIFECYCLE_LOCK_TIMEOUT, a command gives up after about 10 s, not never."""
    proc, took = timed(workspace, "status", "eng-1", timeout=None)
    assert proc.returncode == 1 and "held its lock for 10 s" in proc.stderr, proc.stderr
    assert 9.5 <= took < 30, took


def test_lock_released_lets_the_command_through(workspace: Path, history: Path) -> None:
    """A lock released during the wait is taken: the command succeeds."""
    proc = hold(history, "ex")
    try:
        late = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "lifecycle",
                "--workspace",
                str(workspace),
                "--actor",
                "officer",
                "note",
                "eng-1",
                "after the wait",
            ],
            env={**os.environ, "LIFECYCLE_LOAD_PLUGINS": "", "LIFECYCLE_LOCK_TIMEOUT": "20"},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(1.5)
        assert late.poll() is None  # still waiting
    finally:
        release(proc)
    out, err = late.communicate(timeout=60)
    assert late.returncode == 0, err
    assert "Noted (event 2)" in out


@pytest.mark.parametrize("value", ["soon", "-1", "inf", "nan"])
def test_a_bad_timeout_is_a_usage_error(workspace: Path, history: Path, value: str) -> None:
    """A LIFECYCLE_LOCK_TIMEOUT that is not a number of seconds exits 2 naming the variable."""
    before = history.read_bytes()
    proc, _ = timed(workspace, "note", "eng-1", "x", timeout=value)
    assert proc.returncode == 2, proc.stderr
    assert "LIFECYCLE_LOCK_TIMEOUT" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert history.read_bytes() == before
