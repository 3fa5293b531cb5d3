"""Cache files (snapshots, audit verdicts) are opened like histories, and tied to the running code."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from lifecycle import Engine, make_plugin_manager
from lifecycle._snapshot import snapshot_path

from conftest import drive_core


def _engine(workspace: Path) -> Engine:
    return Engine(workspace, plugins=make_plugin_manager(load_entrypoints=False, environ={}))


def _lifecycle(workspace: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LIFECYCLE_WORKSPACE": str(workspace), "LIFECYCLE_ACTOR": "a.mensah"}
    return subprocess.run(
        [sys.executable, "-m", "lifecycle", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_a_fifo_at_the_snapshot_path_neither_hangs_nor_breaks_status(tmp_path: Path) -> None:
    """A FIFO planted where a snapshot belongs is ignored: status answers from the history."""
    engine = _engine(tmp_path)
    drive_core(engine, "eng-1")
    fifo = snapshot_path(tmp_path / "eng-1.history.jsonl")
    fifo.parent.mkdir(exist_ok=True)
    fifo.unlink(missing_ok=True)
    os.mkfifo(fifo)
    done = _lifecycle(tmp_path, "status", "eng-1", "--json")
    assert done.returncode == 0, done.stderr
    assert '"stage"' in done.stdout


def test_code_version_changes_with_any_module(tmp_path: Path) -> None:
    """Editing one module of the package changes the code version that keys the caches."""
    import lifecycle

    copy = tmp_path / "src" / "lifecycle"
    shutil.copytree(Path(lifecycle.__file__).parent, copy)
    probe = "from lifecycle._codeversion import code_version; print(code_version())"

    def version() -> str:
        env = {**os.environ, "PYTHONPATH": str(tmp_path / "src")}
        out = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True
        )
        return out.stdout.strip()

    before = version()
    with (copy / "_replay.py").open("a", encoding="utf-8") as module:
        module.write("\n# a fix released without a version bump\n")
    after = version()
    assert before != after
    assert before.split("+")[0] == after.split("+")[0]
