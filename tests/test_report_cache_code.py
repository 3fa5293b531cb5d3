"""The report's compiled templates against a code change (#15 review): a template compiled by
other code is never used, since the environment's options are compiled into it (real
subprocesses, a copy of the package, real files)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from lifecycle import Engine, make_plugin_manager

from conftest import drive_core


def _report(src: Path, workspace: Path, cache: Path, *args: str) -> bytes:
    """The Markdown report of *workspace* by the package copy in *src* (stdout; exit 0)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIFECYCLE_")}
    env.update(
        PYTHONPATH=str(src),
        LIFECYCLE_CACHE_DIR=str(cache),
        LIFECYCLE_LOAD_PLUGINS="",
        LIFECYCLE_ACTOR="officer",
    )
    argv = ["--workspace", str(workspace), "report", "--format", "md", *args]
    done = subprocess.run(
        [sys.executable, "-m", "lifecycle", *argv],
        capture_output=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_template_compiled_by_other_code_is_compiled_again(tmp_path: Path) -> None:
    """After an edit of the package that changes how templates compile (not the templates), a
    cached report prints what `report --no-cache` prints."""
    import lifecycle

    workspace, cache, src = tmp_path / "ws", tmp_path / "cache", tmp_path / "src"
    engine = Engine(workspace, plugins=make_plugin_manager(load_entrypoints=False, environ={}))
    drive_core(engine, "midway", until="appoint")
    shutil.copytree(
        Path(lifecycle.__file__).parent,
        src / "lifecycle",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    before = _report(src, workspace, cache)
    render = src / "lifecycle" / "_report" / "_render.py"
    text = render.read_text(encoding="utf-8")
    assert "trim_blocks=True," in text
    render.write_text(text.replace("trim_blocks=True,", "trim_blocks=False,"), encoding="utf-8")
    fresh = _report(src, workspace, cache, "--no-cache")
    assert fresh != before  # the edit changes the page
    assert _report(src, workspace, cache) == fresh
