"""Histories are opened only as regular files: directories, FIFOs, devices and symlinks named like a
history are refused in one line (never a hang, a traceback or a read of another engagement's file)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from lifecycle import Engine

from conftest import run_cli

SUFFIX = ".history.jsonl"


def snapshot(*folders: Path) -> dict[str, bytes]:
    """The bytes of every regular file under *folders* (what must not change)."""
    out = {}
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and not path.is_symlink():
                out[str(path)] = path.read_bytes()
    return out


def one_line_error(err: str) -> str:
    """The single stderr line of a failed command (no traceback, no internal error)."""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err and "internal error" not in err, err
    return lines[0]


def make_special(workspace: Path, kind: str, other: Path) -> Path:
    """Put a *kind* of non-regular entry at ``odd.history.jsonl`` in *workspace*."""
    path = workspace / f"odd{SUFFIX}"
    if kind == "directory":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "dev-zero":
        path.symlink_to("/dev/zero")
    elif kind == "dangling":
        path.symlink_to(workspace / "nowhere")
    else:  # a symlink to another workspace's history
        path.symlink_to(other)
    return path


KINDS = ["directory", "fifo", "dev-zero", "dangling", "other-workspace"]
EXPECTED = {
    "directory": "is a directory",
    "fifo": "is a FIFO",
    "dev-zero": "is a symbolic link",
    "dangling": "is a symbolic link",
    "other-workspace": "is a symbolic link",
}


@pytest.fixture
def other(tmp_path: Path, plugins) -> Path:
    """Another workspace with engagement 'other' opened; its history file."""
    folder = tmp_path / "ws2"
    folder.mkdir()
    Engine(folder, plugins=plugins).open("other", "core", actor="officer")
    return folder / f"other{SUFFIX}"


ENGAGEMENT_COMMANDS = [
    ("status", "odd"),
    ("history", "odd"),
    ("history", "--at", "1", "odd"),
    ("note", "odd", "must not land"),
    ("check", "odd", "request-recorded"),
    ("advance", "odd", "accept-request"),
]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("args", ENGAGEMENT_COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_engagement_commands_refuse_a_special_history(
    workspace: Path, other: Path, kind: str, args: tuple[str, ...]
) -> None:
    """status, history, note, check and advance on a non-regular history exit 1 naming what it is,
    at once, and change no file (the other workspace's history included)."""
    make_special(workspace, kind, other)
    before = snapshot(workspace, other.parent)
    proc = run_cli("--workspace", str(workspace), "--actor", "officer", *args, timeout=30)
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    line = one_line_error(proc.stderr)
    assert f"odd{SUFFIX}" in line and EXPECTED[kind] in line, line
    assert snapshot(workspace, other.parent) == before


@pytest.mark.parametrize("kind", KINDS)
def test_repair_refuses_a_special_file(workspace: Path, other: Path, kind: str) -> None:
    """`repair` on a non-regular history is refused in one line (a FIFO no longer gives Illegal
    seek) and writes nothing."""
    path = make_special(workspace, kind, other)
    before = snapshot(workspace, other.parent)
    proc = run_cli("--actor", "officer", "repair", str(path), timeout=30)
    assert proc.returncode in (1, 2), (proc.stdout, proc.stderr)
    one_line_error(proc.stderr)
    assert snapshot(workspace, other.parent) == before
    assert not list(workspace.glob("*.torn-*"))


@pytest.mark.parametrize("kind", KINDS)
def test_list_and_due_name_a_special_entry(workspace: Path, other: Path, kind: str) -> None:
    """`list` shows a non-regular entry as an error row (never as the engagement a symlink points
    at), and `due` warns about it; neither hangs nor writes."""
    make_special(workspace, kind, other)
    before = snapshot(workspace, other.parent)
    proc = run_cli("--workspace", str(workspace), "list", timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert "odd" in proc.stdout and EXPECTED[kind] in proc.stdout, proc.stdout
    assert "other" not in proc.stdout.replace(str(other.parent), "")
    proc = run_cli("--workspace", str(workspace), "due", timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert EXPECTED[kind] in proc.stderr and "Traceback" not in proc.stderr
    # Only the portfolio index (a cache in .lifecycle/, #14) may have been written.
    after = snapshot(workspace, other.parent)
    assert {k: v for k, v in after.items() if "/.lifecycle/" not in k} == before


def test_a_copy_of_another_engagement_is_refused(workspace: Path, other: Path) -> None:
    """A regular copy named `link.history.jsonl` whose header says 'other' is refused by status and
    note (its header id is not the id asked for), and nothing is appended to it."""
    shutil.copyfile(other, workspace / f"link{SUFFIX}")
    before = snapshot(workspace, other.parent)
    for args in (("status", "link"), ("note", "link", "into the other file")):
        proc = run_cli("--workspace", str(workspace), "--actor", "officer", *args, timeout=30)
        assert proc.returncode == 1, (proc.stdout, proc.stderr)
        line = one_line_error(proc.stderr)
        assert "names engagement 'other', not 'link'" in line, line
    proc = run_cli("--workspace", str(workspace), "list", timeout=30)
    assert "names engagement 'other'" in proc.stdout
    with open(workspace / f"link{SUFFIX}", "ab") as out:
        out.write(b'{"seq":2')  # torn: repair must still refuse to append to the copy
    before = snapshot(workspace, other.parent)
    proc = run_cli("--actor", "officer", "repair", str(workspace / f"link{SUFFIX}"), timeout=30)
    assert proc.returncode == 1 and "names engagement 'other'" in one_line_error(proc.stderr)
    assert snapshot(workspace, other.parent) == before


def test_audit_names_every_special_entry(workspace: Path, other: Path, engine: Engine) -> None:
    """`audit FOLDER` reports each directory, FIFO and symlink named like a history as a
    `not-regular-file` error (never skipped), and an explicit FIFO is one too."""
    engine.open("good", "core", actor="officer")
    (workspace / f"dir{SUFFIX}").mkdir()
    os.mkfifo(workspace / f"fifo{SUFFIX}")
    (workspace / f"dangling{SUFFIX}").symlink_to(workspace / "nowhere")
    (workspace / f"zero{SUFFIX}").symlink_to("/dev/zero")
    (workspace / f"link{SUFFIX}").symlink_to(other)
    before = snapshot(workspace, other.parent)
    proc = run_cli("audit", "--no-cache", str(workspace), timeout=60)
    assert proc.returncode == 1, proc.stdout
    for name in ("dir", "fifo", "dangling", "zero", "link"):
        block = proc.stdout.split(f"{name}{SUFFIX}", 1)[1].split("\n", 2)[1]
        assert "error" in block and "not-regular-file" in block, proc.stdout
    assert "OK     " in proc.stdout and f"good{SUFFIX}" in proc.stdout
    proc = run_cli("audit", str(workspace / f"fifo{SUFFIX}"), timeout=30)
    assert proc.returncode == 1 and "is a FIFO" in proc.stdout, proc.stdout
    assert snapshot(workspace, other.parent) == before
