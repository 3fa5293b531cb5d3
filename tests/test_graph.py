"""Diagrams (`playbooks graph`): ids Mermaid would misread, and titles that break a Markdown table."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

# Stage ids that are Mermaid keywords, or that meet once `-` becomes `_`; titles with `|` and `"`.
AWKWARD = """\
schema = 1
id = "awkward"
version = "1.0.0"
organization = "Org | with a pipe"
title = "Talks | phase \\"one\\""

[[stages]]
id = "state"
title = "Opening | entry"
initial = true

[[stages]]
id = "a-b"
title = "Dash"

[[stages]]
id = "a_b"
title = "Underscore"

[[stages]]
id = "end"
title = "The end | closed"
final = true

[[triggers]]
id = "go"
from = ["state"]
to = "a-b"
title = "Go"

[[triggers]]
id = "on"
from = ["a-b"]
to = "a_b"
title = "On"

[[triggers]]
id = "finish"
from = ["a_b"]
to = "end"
title = "Finish | done"
"""

MERMAID_NODE = re.compile(r"^s_[a-z0-9_]+$")


@pytest.fixture
def awkward(tmp_path: Path) -> Path:
    """A folder holding the awkward playbook."""
    folder = tmp_path / "pbs"
    folder.mkdir()
    (folder / "awkward.toml").write_text(AWKWARD, encoding="utf-8")
    return folder


def _graph(cli, folder: Path, fmt: str) -> list[str]:
    code, out, err = cli(
        "--playbooks", str(folder), "playbooks", "graph", "awkward", "--format", fmt
    )
    assert code == 0, err
    return out.splitlines()


def test_mermaid_never_emits_a_bare_keyword_id(cli, awkward: Path):
    """Every Mermaid node is prefixed (no bare `end` or `state`), and `a-b` and `a_b` stay apart."""
    lines = [line.strip() for line in _graph(cli, awkward, "mermaid")]
    declared = {
        line.rsplit(" as ", 1)[1] for line in lines if line.startswith("state ") and " as " in line
    }
    assert len(declared) == 4 and all(MERMAID_NODE.match(node) for node in declared)
    assert "end" not in declared and "state" not in declared
    edges = [line for line in lines if "-->" in line]
    for edge in edges:
        ends = edge.split(":")[0].split(" --> ")
        assert all(end == "[*]" or end in declared for end in ends), edge
    assert "[*] --> s_state" in lines and "s_end --> [*]" in lines
    assert "s_a_b --> s_a_b_: on" in lines


def test_markdown_escapes_pipes_in_titles(cli, awkward: Path):
    """In `--format md`, a `|` in a title is escaped, so every table row keeps its columns."""
    lines = _graph(cli, awkward, "md")
    assert lines[0] == '# Talks \\| phase "one"'
    rows = [line for line in lines if line.startswith("| `")]
    for row in rows:
        cells = re.split(r"(?<!\\)\|", row.strip().strip("|"))
        assert len(cells) in (3, 5), row
    assert "| `end` (final) | The end \\| closed | - |" in lines
