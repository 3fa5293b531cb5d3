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


def _command(path: str) -> click.Command:
    """The click command at *path* ("lifecycle playbooks graph"), walking the command tree."""
    command: click.Command = cli
    for part in path.split()[1:]:
        assert isinstance(command, click.Group)
        command = command.commands[part]
    return command


def _section(command: str) -> str:
    """The text of *command*'s own section of docs/cli.md: from its heading to the next heading.

    The top-level `lifecycle` group's section is the preamble, where the global options are.
    """
    if command == "lifecycle":
        return CLI_DOC.split("\n## ", 1)[0]
    rest = CLI_DOC.split(f"### {command}\n", 1)[1]
    return re.split(r"^##+ ", rest, maxsplit=1, flags=re.MULTILINE)[0]


def _options(command: click.Command) -> list[click.Option]:
    return [p for p in command.params if isinstance(p, click.Option) and not p.hidden]


@pytest.mark.parametrize("command", ["lifecycle", *_commands(cli)])
def test_every_option_is_documented_in_its_commands_section(command: str):
    """Each option of each command (global options included) is named in that command's section."""
    section = _section(command)
    for option in _options(_command(command)):
        named = [
            opt
            for opt in option.opts
            if re.search(rf"(?<![\w-]){re.escape(opt)}(?![\w-])", section)
        ]
        assert named, f"{command}: {option.opts} not in its section of docs/cli.md"


def test_sections_are_told_apart():
    """An option documented only under another command does not count for this one."""
    assert "--format" in CLI_DOC and "--format" not in _section("lifecycle playbooks check")


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


def _readme_table_commands() -> set[str]:
    """The commands the README's CLI table names: each code span of a row's first cell, read as
    `lifecycle NAME ...` or `NAME ...` (as in "`check ID ITEM` / `uncheck ID ITEM`")."""
    table = README.split("## CLI\n", 1)[1].split("\n## ", 1)[0]
    names = set()
    for row in table.splitlines():
        if not row.startswith("| `"):
            continue
        for span in re.findall(r"`([^`]+)`", row.split(" | ", 1)[0]):
            words = span.split()
            names.add(words[1] if words[0] == "lifecycle" and len(words) > 1 else words[0])
    return names


def test_readme_mentions_every_top_level_command():
    """The README's CLI table has a row (or a span in one) for every top-level command."""
    missing = set(cli.commands) - _readme_table_commands()
    assert not missing, missing


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
