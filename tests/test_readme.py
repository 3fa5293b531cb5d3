"""The README's examples run as written: the shell walk command by command, and the Python doctest."""

from __future__ import annotations

import doctest
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
LIFECYCLE = Path(sys.executable).parent / "lifecycle"


def _example_section() -> str:
    """The README's "A short example" section."""
    return README.split("## A short example\n", 1)[1].split("\n## ", 1)[0]


def _blocks(section: str, lang: str) -> list[str]:
    """The fenced code blocks of *section* opened with *lang* ("" for a bare fence)."""
    blocks: list[tuple[str, list[str]]] = []
    inside = False
    for line in section.splitlines():
        if line.startswith("```"):
            inside = not inside
            if inside:
                blocks.append((line[3:].strip(), []))
        elif inside:
            blocks[-1][1].append(line)
    return ["\n".join(lines) + "\n" for opened, lines in blocks if opened == lang]


def _shell_commands() -> list[list[str]]:
    """Each `$ ` line of the example's shell block, split as a shell would (comments dropped)."""
    (block,) = [b for b in _blocks(_example_section(), "") if b.startswith("$ ")]
    return [shlex.split(line[2:], comments=True) for line in block.splitlines()]


@pytest.fixture
def walk_dir(tmp_path: Path) -> Path:
    """A fresh folder holding `engagements/lifecycle.toml` exactly as the README shows it."""
    toml = _blocks(_example_section(), "toml")[0]  # the first: lifecycle.toml; then a playbook
    (tmp_path / "engagements").mkdir()
    (tmp_path / "engagements" / "lifecycle.toml").write_text(toml, encoding="utf-8")
    return tmp_path


def test_the_example_shows_the_lifecycle_toml_and_says_where_roles_come_from():
    """The example section shows the lifecycle.toml it needs and says roles come from it."""
    section = _example_section()
    assert "`lifecycle.toml`" in section and "Roles come from" in section
    assert '[actors."a.mensah"]' in _blocks(section, "toml")[0]


def test_shell_example_runs_as_written(walk_dir: Path):
    """Every command of the README's shell example exits 0 in a fresh workspace, refusing nothing."""
    commands = _shell_commands()
    assert commands[0][0] == "export" and len(commands) >= 10
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIFECYCLE_")}
    env["LIFECYCLE_CACHE_DIR"] = os.environ["LIFECYCLE_CACHE_DIR"]  # the test's own cache
    for argv in commands:
        if argv[0] == "export":
            env.update(assignment.split("=", 1) for assignment in argv[1:])
            continue
        assert argv[0] == "lifecycle", argv
        done = subprocess.run(
            [str(LIFECYCLE), *argv[1:]],
            cwd=walk_dir,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, f"{shlex.join(argv)}\n{done.stdout}{done.stderr}"
        assert "internal error" not in done.stderr and "Traceback" not in done.stderr
    history = walk_dir / "engagements" / "amani-2026.history.jsonl"
    lines = history.read_text(encoding="utf-8").splitlines()[1:]  # after the header
    types = [json.loads(line)["type"] for line in lines]
    assert "refused" not in types and types.count("advanced") == 3


def test_python_example_runs():
    """The README's Python example runs as written (doctest)."""
    result = doctest.testfile(
        str(ROOT / "README.md"), module_relative=False, optionflags=doctest.ELLIPSIS
    )
    assert result.attempted >= 3 and result.failed == 0
