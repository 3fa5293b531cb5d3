"""Docs are part of the feature: every CLI command and every hook is documented."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import click
import pytest

from lifecycle import hookspecs
from lifecycle.cli import cli

ROOT = Path(__file__).parent.parent
CLI_DOC = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
HOOKS_DOC = (ROOT / "docs" / "plugin-hooks.md").read_text(encoding="utf-8")
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _commands(group: click.Group, prefix: str = "lifecycle") -> list[str]:
    names = []
    for name, command in sorted(group.commands.items()):
        names.append(f"{prefix} {name}")
        if isinstance(command, click.Group):
            names += _commands(command, f"{prefix} {name}")
    return names


def _hookspecs() -> list[str]:
    return [
        name
        for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
        if hasattr(fn, "lifecycle_spec")
    ]


@pytest.mark.parametrize("command", _commands(cli))
def test_every_command_has_a_section_in_cli_md(command: str):
    """Each CLI command and subcommand has its own heading in docs/cli.md."""
    assert f"### {command}\n" in CLI_DOC


@pytest.mark.parametrize("command", _commands(cli))
def test_every_option_is_documented(command: str):
    """Each option of each command appears in docs/cli.md."""
    group: click.Command = cli
    for part in command.split()[1:]:
        assert isinstance(group, click.Group)
        group = group.commands[part]
    for param in group.params:
        if isinstance(param, click.Option):
            assert any(opt in CLI_DOC for opt in param.opts), f"{command}: {param.opts}"


def test_hookspecs_exist():
    """The hookspec module declares the four hooks of the plugin contract."""
    assert set(_hookspecs()) >= {
        "register_playbooks",
        "register_rule_kinds",
        "register_commands",
        "lifecycle_event",
    }


@pytest.mark.parametrize("hook", _hookspecs())
def test_every_hook_is_documented_with_its_signature(hook: str):
    """Each hookspec has a section in docs/plugin-hooks.md headed by its exact signature."""
    params = ", ".join(inspect.signature(getattr(hookspecs, hook)).parameters)
    assert f"## {hook}({params})\n" in HOOKS_DOC
    section = HOOKS_DOC.split(f"## {hook}(")[1].split("\n## ")[0]
    for part in (
        "**When it fires:**",
        "**Arguments:**",
        "**Returns:**",
        "**Errors:**",
        "**Example:**",
    ):
        assert part in section, f"{hook}: {part}"


def test_readme_shows_the_two_commands_and_links_the_docs():
    """The README has the quickstart commands and links every doc."""
    assert "make demo" in README and "make test" in README
    for doc in sorted((ROOT / "docs").glob("*.md")):
        assert f"docs/{doc.name}" in README


def test_readme_mentions_every_top_level_command():
    """The README's CLI table names every top-level command."""
    for name in cli.commands:
        assert re.search(rf"`lifecycle {re.escape(name)}\b|\b{re.escape(name)} ", README), name


def test_every_rule_kind_documented_with_example():
    """docs/playbook-schema.md has a section with a TOML example for each core rule kind."""
    from lifecycle._rules import CORE_RULE_KINDS

    doc = (ROOT / "docs" / "playbook-schema.md").read_text(encoding="utf-8")
    for kind in CORE_RULE_KINDS:
        section = doc.split(f"#### {kind.name}\n")[1].split("\n####")[0]
        assert f'kind = "{kind.name}"' in section


def test_writing_plugins_example_playbook_path_matches_core():
    """The trigger path in docs/writing-plugins.md is core's path from its first stage to closed."""
    from conftest import CORE_PATH

    doc = (ROOT / "docs" / "writing-plugins.md").read_text(encoding="utf-8")
    path = ", ".join(f'"{trigger}"' for trigger, _, _ in CORE_PATH)
    assert path.replace(" ", "") in doc.replace("\n", "").replace(" ", "")
