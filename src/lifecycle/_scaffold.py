"""``lifecycle plugins new``: a plugin distribution that installs, and whose tests pass as generated."""

from __future__ import annotations

import re
from pathlib import Path
from string import Template
from typing import Final

from .exceptions import InvalidInputError

__all__ = ["new_plugin"]

NAME: Final = re.compile(r"^[a-z][a-z0-9-]{0,40}$")

_PYPROJECT = Template("""\
[build-system]
requires = ["hatchling>=1.24"]
build-backend = "hatchling.build"

[project]
name = "lifecycle-$name"
version = "0.1.0"
description = "lifecycle playbook and rules of $org"
readme = "README.md"
requires-python = ">=3.11"
keywords = ["lifecycle-plugin"]
dependencies = ["lifecycle>=0.1"]

[project.optional-dependencies]
test = ["pytest>=8"]

[project.entry-points."lifecycle.plugins"]
$name = "$package"

[tool.hatch.build.targets.wheel]
packages = ["src/$package"]

[tool.pytest.ini_options]
testpaths = ["tests"]
""")

_INIT = Template('''\
"""lifecycle-$name: the playbook of $org, and a rule kind TOML cannot express."""

from __future__ import annotations

from pathlib import Path

from lifecycle import Action, Engagement, Param, Rule, RuleKind, Verdict, hookimpl

PLAYBOOKS = Path(__file__).parent / "playbooks"


def min_words(rule: Rule, engagement: Engagement, action: Action) -> Verdict:
    """Pass when the text fact named by the rule has at least `words` words."""
    fact = str(rule.params["fact"])
    words = len(str(engagement.facts.get(fact, "")).split())
    wanted = int(str(rule.params["words"]))
    if words >= wanted:
        return Verdict(True)
    return Verdict(False, f"fact {fact!r} has {words} word(s), {wanted} needed")


@hookimpl
def register_rule_kinds() -> list[RuleKind]:
    """Rule kinds of this plugin, used in TOML as kind = "$name.<kind>"."""
    return [RuleKind("$name.min-words", min_words,
                     {"fact": Param("str", ref="fact"), "words": Param("int")},
                     description="A text fact has at least `words` words.")]


@hookimpl
def register_playbooks() -> list[Path]:
    """The playbooks shipped in this package."""
    return [PLAYBOOKS]


@hookimpl
def lifecycle_event(engagement: Engagement, event: dict) -> None:
    """Called after each event is durably appended; errors here never undo the event."""
''')

_PLAYBOOK = Template("""\
# Playbook of $org, extending the core cycle (schema: lifecycle docs/playbook-schema.md).
schema = 1
id = "$org"
version = "0.1.0"
organization = "$org"
title = "$org mediation support cycle"
extends = "core"

[[facts]]
id = "$org.mandate-summary"
title = "Summary of the mandate, in the authorizing body's words"
type = "text"

[[rules]]
id = "$org-mandate-summarized"
on = ["appoint"]
kind = "$name.min-words"
fact = "$org.mandate-summary"
words = 5
severity = "block"
message = "Summarize the mandate before the envoy is appointed."
override_roles = ["head-of-unit"]
basis = "to be completed: cite the source"
""")

_TEST = Template('''\
"""Tests of lifecycle-$name: the playbook loads and its rule kind blocks and passes."""

import pytest

import $package
from lifecycle.exceptions import RefusedError
from lifecycle.testing import drive, make_engine

TO_SELECTION = ["accept-request", "complete-analysis"]
FACTS = {"envoy": "Amb. X", "mandate.source": "Decision 1/2026"}


@pytest.fixture
def engine(tmp_path):
    """An engine on a temporary workspace with this plugin registered."""
    return make_engine(tmp_path / "ws", plugins=[$package])


def test_playbook_is_registered(engine):
    """The plugin's playbook resolves, extending core."""
    resolved = engine.catalog.resolve("$org")
    assert [document.id for document in resolved.chain] == ["core", "$org"]


def test_rule_blocks_without_summary(engine):
    """Appointing without a mandate summary is refused."""
    drive(engine, "e1", "$org", TO_SELECTION, facts=FACTS)
    with pytest.raises(RefusedError, match="$org-mandate-summarized"):
        drive(engine, "e1", "$org", ["appoint"])


def test_rule_passes_with_summary(engine):
    """With a summary of five words or more, the envoy can be appointed."""
    facts = {**FACTS, "$org.mandate-summary": "Support the talks between the parties"}
    assert drive(engine, "e1", "$org", [*TO_SELECTION, "appoint"], facts=facts).stage == "induction-briefing"
''')

_README = Template("""\
# lifecycle-$name

The playbook of $org for [lifecycle](https://pypi.org/project/lifecycle/), and a rule kind that
TOML cannot express (`$name.min-words`).

```
pip install -e '.[test]'
lifecycle plugins          # shows "$name"
lifecycle playbooks show $org --resolved
pytest
```

Edit `src/$package/playbooks/$org.toml` (check it with `lifecycle playbooks check`), and add rule
kinds in `src/$package/__init__.py`.
""")


def new_plugin(name: str, org: str, folder: Path) -> Path:
    """Write the ``lifecycle-<name>`` distribution under *folder*; return its root.

    Raises:
        InvalidInputError: *name* or *org* is not a valid name, or the target exists.
    """
    if not NAME.fullmatch(name):
        raise InvalidInputError(f"Plugin name {name!r} must be lowercase letters, digits and '-'.")
    if not NAME.fullmatch(org):
        raise InvalidInputError(
            f"Organization id {org!r} must be lowercase letters, digits and '-'."
        )
    root = folder / f"lifecycle-{name}"
    if root.exists():
        raise InvalidInputError(f"{root} exists already; not overwriting it.")
    package = "lifecycle_" + name.replace("-", "_")
    values = {"name": name, "org": org, "package": package}
    files = {
        "pyproject.toml": _PYPROJECT,
        "README.md": _README,
        f"src/{package}/__init__.py": _INIT,
        f"src/{package}/playbooks/{org}.toml": _PLAYBOOK,
        "tests/test_plugin.py": _TEST,
    }
    for relative, template in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(template.substitute(values), encoding="utf-8")
    return root
