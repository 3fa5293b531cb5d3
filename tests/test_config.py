"""`lifecycle.toml` is validated like a playbook: unknown keys and wrong types are named with the
file and key path, and every command that reads it exits 2 in one line (issue #10)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from lifecycle import Engine
from lifecycle.exceptions import ConfigError

from conftest import run_cli

ENG = "e1"
OVERRIDE = "The council decision is adopted but not yet published."


@pytest.fixture
def ws(workspace: Path, plugins) -> Path:
    """The conftest workspace with e1 opened under core."""
    Engine(workspace, plugins=plugins).open(ENG, "core", actor="officer")
    return workspace


def lifecycle(ws: Path, *args: str, actor: str = "officer") -> subprocess.CompletedProcess:
    """Run the CLI in a subprocess on *ws*."""
    return run_cli("--workspace", str(ws), *args, env={"LIFECYCLE_ACTOR": actor})


BAD_CONFIGS = {
    "typo-section": ('[actor."a.mensah"]\nroles = ["officer"]\n', "$: unknown key actor"),
    "typo-key": (
        '[actors."a.mensah"]\nrole = ["officer"]\n',
        '$.actors."a.mensah": unknown key role',
    ),
    "roles-a-string": (
        '[actors."a.mensah"]\nroles = "officer"\n',
        '$.actors."a.mensah".roles: expected an array, got a string',
    ),
    "role-a-number": (
        '[actors."a.mensah"]\nroles = ["officer", 5]\n',
        '$.actors."a.mensah".roles[1]: expected a string, got an integer',
    ),
    "roles-missing": ('[actors."a.mensah"]\n', '$.actors."a.mensah".roles: missing required key'),
    "actors-not-a-table": ("actors = 5\n", "$.actors: expected a table of actors, got an integer"),
    "actor-not-a-table": ('actors = {"a.mensah" = 5}\n', '$.actors."a.mensah": expected a table'),
    "actor-name-with-space": ('[actors."A Mensah"]\nroles = []\n', "actor name 'A Mensah'"),
    "actor-name-with-newline": ('[actors."a\\nb"]\nroles = []\n', "actor name 'a\\nb'"),
    "toml-syntax": ("[actors\n", "TOML syntax"),
    "not-utf8": (b"# \xff\n", "not UTF-8 text"),
    "too-deep": ("x = " + "[" * 40 + "]" * 40 + "\n", "nested more than 32 levels"),
    "too-large": ("# " + "x" * (1024 * 1024) + "\n", "larger than 1 MiB"),
}


@pytest.mark.parametrize("case", BAD_CONFIGS.values(), ids=BAD_CONFIGS.keys())
def test_bad_config_is_a_usage_error_naming_the_key(ws: Path, case) -> None:
    """`status` with a bad lifecycle.toml exits 2 with one line naming the file and what is wrong."""
    text, needle = case
    config = ws / "lifecycle.toml"
    config.write_bytes(text if isinstance(text, bytes) else text.encode())
    result = lifecycle(ws, "status", ENG)
    lines = result.stderr.splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and "internal error" not in lines[0], lines
    assert f"{config}: " in lines[0] and needle in lines[0], lines[0]


@pytest.mark.parametrize(
    "args",
    [
        ("status", ENG),
        ("advance", ENG, "accept-request", "--override", OVERRIDE),
        ("record", ENG, "peer-coaching", "--override", OVERRIDE),
        ("force", ENG, "--to", "closed", "--reason", OVERRIDE),
        ("history", ENG, "--at", "1"),
    ],
    ids=["status", "advance", "record", "force", "history-at"],
)
def test_every_command_reading_roles_refuses_a_bad_config(ws: Path, args: tuple) -> None:
    """Each command that reads roles exits 2 on a typo'd lifecycle.toml and appends nothing."""
    (ws / "lifecycle.toml").write_text('[actor."officer"]\nroles = ["officer"]\n', encoding="utf-8")
    before = (ws / f"{ENG}.history.jsonl").read_bytes()
    result = lifecycle(ws, *args)
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.splitlines()) == 1 and "unknown key actor" in result.stderr
    assert (ws / f"{ENG}.history.jsonl").read_bytes() == before


@pytest.mark.parametrize("kind", ["fifo", "directory", "dev-zero"])
def test_config_that_is_no_regular_file_is_refused_without_blocking(ws: Path, kind: str) -> None:
    """A lifecycle.toml that is a FIFO, a folder or a link to /dev/zero is refused at once, exit 2."""
    config = ws / "lifecycle.toml"
    config.unlink()
    if kind == "fifo":
        os.mkfifo(config)
    elif kind == "directory":
        config.mkdir()
    else:
        config.symlink_to("/dev/zero")
    result = run_cli(
        "--workspace", str(ws), "status", ENG, env={"LIFECYCLE_ACTOR": "officer"}, timeout=60
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == f"lifecycle: error: {config}: not a regular file"


def test_valid_config_gives_roles(ws: Path) -> None:
    """A valid lifecycle.toml gives its actors their roles (shown by `status`)."""
    result = lifecycle(ws, "status", ENG, actor="head")
    assert result.returncode == 0, result.stderr
    assert "actor head (officer, head-of-unit)" in result.stdout


def test_missing_config_means_no_roles(ws: Path) -> None:
    """Without lifecycle.toml every actor has no roles; that is not an error."""
    (ws / "lifecycle.toml").unlink()
    result = lifecycle(ws, "status", ENG, actor="head")
    assert result.returncode == 0, result.stderr
    assert "actor head (no roles)" in result.stdout


def test_library_raises_config_error_with_the_path(ws: Path, plugins) -> None:
    """Engine.roles_of raises ConfigError carrying the file for a typo'd section."""
    config = ws / "lifecycle.toml"
    config.write_text('[actor."officer"]\nroles = ["officer"]\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\$: unknown key actor") as caught:
        Engine(ws, plugins=plugins).roles_of("officer")
    assert caught.value.path == config
