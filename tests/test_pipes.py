"""A closed pipe ends output quietly (issue #10): `lifecycle demo | head` still drives the whole
engagement, and no command prints a traceback or an internal error when its reader goes away."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lifecycle import Engine, audit_file, make_plugin_manager

from conftest import drive_core


def piped_to_head(*args: str, lines: int = 1, cwd: Path | None = None) -> tuple[int, str, str]:
    """Run ``python -m lifecycle ARGS | head -n LINES`` for real; return lifecycle's exit code,
    what head printed and lifecycle's stderr."""
    env = {**os.environ, "LIFECYCLE_LOAD_PLUGINS": "", "LIFECYCLE_ACTOR": "officer"}
    producer = subprocess.Popen(
        [sys.executable, "-m", "lifecycle", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=cwd,
    )
    assert producer.stdout is not None and producer.stderr is not None
    head = subprocess.run(
        ["head", "-n", str(lines)], stdin=producer.stdout, capture_output=True, timeout=300
    )
    producer.stdout.close()  # only head holds the read end now: it exits, the pipe closes
    with producer.stderr:
        err = producer.stderr.read().decode()
    return producer.wait(timeout=300), head.stdout.decode(), err


def test_demo_piped_to_head_drives_the_whole_engagement(tmp_path: Path, plugins) -> None:
    """`demo | head -n 2` exits 0 quietly, and the engagement is closed and audits clean."""
    ws = tmp_path / "demo"
    code, shown, err = piped_to_head("demo", "--workspace", str(ws), lines=2)
    assert (code, err) == (0, "")
    assert shown.startswith(f"Workspace: {ws}\n")
    engine = Engine(ws, plugins=plugins)
    assert engine.engagement("amani-2026").stage == "closed"
    assert audit_file(
        ws / "amani-2026.history.jsonl", kinds=engine.rule_kinds, today=engine.today()
    ).ok


@pytest.fixture(scope="module")
def long_history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A closed engagement with 1,200 long notes more: far more output than a pipe buffers."""
    workspace = tmp_path_factory.mktemp("long")
    engine = Engine(workspace, plugins=make_plugin_manager(load_entrypoints=False, environ={}))
    drive_core(engine, "long")
    for index in range(1200):
        engine.note("long", f"note {index} " + "x" * 100, actor="officer")
    return workspace


@pytest.mark.parametrize(
    "args",
    [("history", "long"), ("history", "long", "--json"), ("audit", "."), ("status", "long")],
    ids=["history", "history-json", "audit", "status"],
)
def test_reading_commands_end_quietly_on_a_closed_pipe(long_history: Path, args: tuple) -> None:
    """A reading command whose reader closes the pipe exits with its own code and prints nothing more."""
    before = (long_history / "long.history.jsonl").read_bytes()
    code, shown, err = piped_to_head("--workspace", str(long_history), *args, cwd=long_history)
    assert err == "", err
    assert code == 0
    assert len(shown.splitlines()) == 1
    assert (long_history / "long.history.jsonl").read_bytes() == before


def _to_full_device(workspace: Path, *args: str, stderr_full: bool = False) -> tuple[int, str]:
    """Run ``python -m lifecycle ARGS`` with stdout (or stderr) on /dev/full; return the exit
    code and what reached the other stream."""
    env = {**os.environ, "LIFECYCLE_LOAD_PLUGINS": "", "LIFECYCLE_ACTOR": "officer"}
    with open("/dev/full", "wb") as full:
        done = subprocess.run(
            [sys.executable, "-m", "lifecycle", "--workspace", str(workspace), *args],
            stdout=subprocess.PIPE if stderr_full else full,
            stderr=full if stderr_full else subprocess.PIPE,
            env=env,
            cwd=workspace,
            timeout=300,
            check=False,
        )
    return done.returncode, (done.stdout if stderr_full else done.stderr).decode()


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full")
@pytest.mark.parametrize(
    "args",
    [("history", "long"), ("history", "long", "--json"), ("audit", "."), ("playbooks", "list")],
    ids=["history", "history-json", "audit", "playbooks"],
)
def test_output_to_a_full_disk_is_one_line_and_exit_1(long_history: Path, args: tuple) -> None:
    """Stdout on a full device: one line naming standard output and the reason, exit 1, no
    traceback and no internal error; the history is untouched."""
    before = (long_history / "long.history.jsonl").read_bytes()
    code, err = _to_full_device(long_history, *args)
    assert code == 1
    assert err == "lifecycle: error: cannot write to standard output: No space left on device\n"
    assert (long_history / "long.history.jsonl").read_bytes() == before


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full")
def test_an_error_to_a_full_stderr_keeps_its_exit_code(long_history: Path) -> None:
    """A usage error whose stderr is a full device still exits 2, and prints nothing on stdout."""
    code, out = _to_full_device(long_history, "no-such-command", stderr_full=True)
    assert (code, out) == (2, "")
