"""Store edges: the line size cap before a write, a failed append cut back on a real full disk,
ids matched whole, the workspace checked before it is used, and `audit` of nothing."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lifecycle import Engine, FileHistoryStore, audit_file, make_plugin_manager
from lifecycle._lines import MAX_LINE_BYTES, decode_line, encode_line
from lifecycle.exceptions import HistoryError, InvalidInputError

from conftest import run_cli

SUFFIX = ".history.jsonl"


def one_line(err: str) -> str:
    """The single stderr line of a failed command (no traceback, no internal error)."""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err and "internal error" not in err, err
    return lines[0]


def files_under(folder: Path) -> dict[str, bytes]:
    """Every regular file under *folder* and its bytes."""
    return {str(p): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# ---------------------------------------------------------------------------- line size cap


def test_an_event_over_the_line_limit_is_refused_before_writing(engine: Engine) -> None:
    """A note whose line would exceed the reader's 16 MiB limit is refused and nothing is written,
    so the engagement stays usable."""
    engine.open("eng-1", "core", actor="officer")
    path = engine.workspace.path_of("eng-1")
    before = path.read_bytes()
    with pytest.raises(HistoryError, match="over the 16777216 byte limit"):
        engine.note("eng-1", "x" * (MAX_LINE_BYTES + 1), actor="officer")
    assert path.read_bytes() == before
    assert engine.note("eng-1", "still usable", actor="officer").event["seq"] == 2


def test_a_first_event_over_the_line_limit_creates_no_file(workspace: Path) -> None:
    """Creating a history whose first event is over the line limit fails (HistoryError) and
    leaves no file, not even a temporary one."""
    store = FileHistoryStore(workspace / f"big{SUFFIX}")
    first = {"at": "2026-01-05T10:00:00.000000Z", "actor": "o", "type": "opened", "v": 1}
    with pytest.raises(HistoryError, match="nothing written"):
        store.create("big", first["at"], {**first, "data": {"x": "y" * (MAX_LINE_BYTES + 1)}})
    assert sorted(p.name for p in workspace.iterdir()) == ["lifecycle.toml"]


def test_cli_refuses_an_oversized_note_in_one_line(workspace: Path, engine: Engine) -> None:
    """Through the CLI (a real process), a 17 MB note exits 1 with one line, and the history is
    unchanged (argv cannot carry 17 MB, so the process calls the CLI's own entry point)."""
    engine.open("eng-1", "core", actor="officer")
    path = engine.workspace.path_of("eng-1")
    before = path.read_bytes()
    script = (
        "import sys; from lifecycle.cli import main; "
        "main(['--workspace', sys.argv[1], '--actor', 'officer', 'note', 'eng-1', 'n' * (17 << 20)])"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, str(workspace)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "LIFECYCLE_LOAD_PLUGINS": ""},
    )
    assert proc.returncode == 1, proc.stderr
    assert "nothing written" in one_line(proc.stderr)
    assert path.read_bytes() == before


# ---------------------------------------------------------------------------- a real full disk


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs mounted for the test (we run as root), unmounted after."""
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def fill(folder: Path, leave: int) -> Path:
    """Fill the filesystem of *folder* with a filler file, then free *leave* bytes of it."""
    filler = folder / "filler"
    with open(filler, "wb", buffering=0) as out:
        try:
            while True:
                out.write(b"\0" * 4096)
        except OSError:
            pass
    size = filler.stat().st_size
    with open(filler, "r+b") as out:
        out.truncate(max(0, size - leave))
    return filler


def test_a_short_write_on_a_full_disk_is_cut_back(small_disk: Path) -> None:
    """On a real full filesystem the append that fails half-way is cut back at once: the command
    exits 1 in one line, the file is byte for byte as before and audits clean, and the next command
    works without `repair`."""
    ws = small_disk / "ws"
    engine = Engine(ws, plugins=make_plugin_manager(load_entrypoints=False, environ={}))
    engine.open("eng-1", "core", actor="officer")
    path = ws / f"eng-1{SUFFIX}"
    before = path.read_bytes()
    filler = fill(small_disk, leave=8192)
    proc = run_cli("--workspace", str(ws), "--actor", "o", "note", "eng-1", "z" * 60_000)
    assert proc.returncode == 1, proc.stderr
    assert "not acknowledged" in one_line(proc.stderr)
    assert "the file is as it was" in proc.stderr
    assert path.read_bytes() == before
    report = audit_file(path, kinds=engine.rule_kinds, today=engine.today())
    assert report.ok and report.findings == [], report.findings
    filler.unlink()
    proc = run_cli("--workspace", str(ws), "--actor", "o", "note", "eng-1", "disk freed")
    assert proc.returncode == 0, proc.stderr


def test_repair_on_a_full_disk_leaves_no_debris(small_disk: Path) -> None:
    """`repair` that cannot save the torn bytes (disk full) exits 1, changes nothing and leaves no
    zero-byte `.torn-*` file, however often it is tried."""
    ws = small_disk / "ws"
    engine = Engine(ws, plugins=make_plugin_manager(load_entrypoints=False, environ={}))
    engine.open("eng-1", "core", actor="officer")
    path = ws / f"eng-1{SUFFIX}"
    with open(path, "ab") as out:
        out.write(b'{"seq":2,"at":"2026' + b"t" * 20_000)  # a torn tail, bigger than what is left
    before = path.read_bytes()
    filler = fill(small_disk, leave=0)
    for _ in range(3):
        proc = run_cli("--actor", "o", "repair", str(path))
        assert proc.returncode == 1, proc.stderr
        assert "cannot save the torn bytes" in one_line(proc.stderr)
    assert path.read_bytes() == before
    assert sorted(p.name for p in ws.iterdir()) == [f"eng-1{SUFFIX}"]
    filler.unlink()
    proc = run_cli("--actor", "o", "repair", str(path))
    assert proc.returncode == 0, proc.stderr
    assert len(list(ws.glob("*.torn-*"))) == 1


# ---------------------------------------------------------------------------- ids matched whole


def test_an_id_with_a_trailing_newline_is_refused(workspace: Path, engine: Engine) -> None:
    """`new $'nl1\\n'` exits 2 (the id pattern must match the whole id) and creates nothing;
    the library refuses it too."""
    before = files_under(workspace)
    proc = run_cli(
        "--workspace", str(workspace), "--actor", "o", "new", "nl1\n", "--playbook", "core"
    )
    assert proc.returncode == 2, proc.stderr
    assert "Invalid engagement id" in proc.stderr and "Traceback" not in proc.stderr
    assert files_under(workspace) == before
    with pytest.raises(InvalidInputError):
        engine.open("nl1\n", "core", actor="officer")


def test_a_header_id_with_a_newline_gives_no_checkpoint(engine: Engine, cli) -> None:
    """A history whose header id ends in a newline (re-chained) is a `header-engagement` error,
    and no checkpoint line is printed for it (it could not be read back unambiguously)."""
    engine.open("eng-1", "core", actor="officer")
    path = engine.workspace.path_of("eng-1")
    lines = path.read_bytes().splitlines(keepends=True)
    header, _ = decode_line(lines[0].rstrip(b"\n"))
    opened, _ = decode_line(lines[1].rstrip(b"\n"))
    header["engagement"] = opened["data"]["engagement"] = "eng-1\n"
    first = encode_line(header)
    opened["prev"] = decode_line(first[:-1])[1]
    path.write_bytes(first + encode_line(opened))
    code, out, _ = cli("audit", "--no-cache", str(path))
    assert code == 1
    assert "header-engagement" in out and "checkpoint" not in out.replace("checkpoint-", "")


# ---------------------------------------------------------------------------- the workspace


@pytest.mark.parametrize(
    ("where", "code", "says"),
    [
        ("missing-parent", 2, "does not exist"),
        ("under-a-file", 2, "is not a folder"),
        ("proc", 1, "cannot create the workspace folder"),
    ],
)
def test_new_creates_a_workspace_only_inside_a_folder(
    tmp_path: Path, where: str, code: int, says: str
) -> None:
    """`new` refuses a workspace whose parent is missing, is a file, or cannot hold a folder
    (/proc): one line, exit 1 or 2, and nothing is created."""
    (tmp_path / "afile").write_text("not a folder", encoding="utf-8")
    folder = {
        "missing-parent": tmp_path / "nonexistent" / "dir",
        "under-a-file": tmp_path / "afile" / "sub",
        "proc": Path("/proc/lifecycle-test-x"),
    }[where]
    before = files_under(tmp_path)
    proc = run_cli("--workspace", str(folder), "--actor", "o", "new", "x1", "--playbook", "core")
    assert proc.returncode == code, proc.stderr
    assert says in one_line(proc.stderr)
    assert not folder.exists()
    assert files_under(tmp_path) == before


def test_new_creates_a_missing_workspace_in_an_existing_folder(tmp_path: Path) -> None:
    """`new` still creates the workspace folder itself when its parent exists."""
    proc = run_cli(
        "--workspace", str(tmp_path / "fresh"), "--actor", "o", "new", "x1", "--playbook", "core"
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "fresh" / f"x1{SUFFIX}").is_file()


@pytest.mark.parametrize(
    "args", [("list",), ("due",), ("status", "x1"), ("history", "x1"), ("note", "x1", "t")]
)
def test_reading_commands_on_a_missing_workspace_exit_2(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    """list, due, status, history and note on a workspace that does not exist exit 2 naming it,
    and create nothing (no more "No engagements" with exit 0)."""
    folder = tmp_path / "typo"
    proc = run_cli("--workspace", str(folder), "--actor", "o", *args)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    line = one_line(proc.stderr)
    assert str(folder) in line and "does not exist" in line
    assert not folder.exists()


# ---------------------------------------------------------------------------- audit of nothing


def test_auditing_an_empty_folder_is_a_usage_error(tmp_path: Path) -> None:
    """`audit EMPTYDIR` exits 2 in one line instead of saying OK about nothing."""
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("not a history", encoding="utf-8")
    proc = run_cli("audit", str(empty))
    assert proc.returncode == 2, proc.stdout
    assert "nothing to audit" in one_line(proc.stderr)
    assert "OK" not in proc.stdout


def test_repair_still_works_after_the_changes(engine: Engine) -> None:
    """A plain torn tail is still repaired through the regular-file open and bounded read."""
    from lifecycle._repair import repair_file

    engine.open("eng-1", "core", actor="officer")
    path = engine.workspace.path_of("eng-1")
    with open(path, "ab") as out:
        out.write(b'{"seq":2')
    record = repair_file(path, actor="officer", now=dt.datetime.now(dt.UTC))
    assert record["data"]["cut_bytes"] == 8
    assert audit_file(path, kinds=engine.rule_kinds, today=engine.today()).ok


@pytest.mark.parametrize(
    "args",
    [
        ("playbooks", "new", "org\n"),
        ("plugins", "new", "name\n", "--org", "org"),
        ("plugins", "new", "name", "--org", "org\n"),
    ],
    ids=["playbook-id", "plugin-name", "plugin-org"],
)
def test_authoring_names_with_a_trailing_newline_are_refused(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    """Playbook ids and plugin names given to the scaffolds are matched whole: a trailing newline
    exits 2 and writes nothing."""
    proc = run_cli(*args, "--dir", str(tmp_path / "out"))
    assert proc.returncode == 2, proc.stderr
    assert "must be lowercase letters" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()


def test_a_playbook_id_with_a_trailing_newline_fails_check(tmp_path: Path) -> None:
    """`playbooks check` refuses ids (playbook, stage, item) that end in a newline."""
    source = (Path(__file__).parent / "playbooks" / "ext-admins.toml").read_text(encoding="utf-8")
    bad = tmp_path / "bad.toml"
    bad.write_text(source.replace('id = "ext-admins"', 'id = "ext-admins\\n"'), encoding="utf-8")
    proc = run_cli("playbooks", "check", str(bad))
    assert proc.returncode == 1, proc.stdout
    assert "playbook id 'ext-admins\\n' must be" in proc.stdout + proc.stderr
