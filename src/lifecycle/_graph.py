"""Diagrams of a playbook, drawn from its compiled machine: Mermaid, Graphviz dot, Markdown.

None needs a system package: they are text. The Markdown form is a transition table an auditor
can read: each trigger, where it may fire from, where it leads, and the rules that guard it.
"""

from __future__ import annotations

from typing import Final

from ._machine import compile_machine
from ._model import Playbook

__all__ = ["FORMATS", "draw"]

FORMATS: Final = ("mermaid", "dot", "md")


def draw(playbook: Playbook, sha256: str, fmt: str) -> str:
    """Return the diagram of *playbook* in *fmt* (one of :data:`FORMATS`)."""
    return {"mermaid": _mermaid, "dot": _dot, "md": _markdown}[fmt](playbook, sha256)


def _nodes(pb: Playbook) -> dict[str, str]:
    """A Mermaid id per stage: prefixed, so no stage id is read as a keyword (`end`, `state`)."""
    nodes: dict[str, str] = {}
    for stage in pb.stages:
        node = "s_" + stage.id.replace("-", "_")
        while node in nodes.values():  # `a-b` and `a_b` are both valid stage ids
            node += "_"
        nodes[stage.id] = node
    return nodes


def _mermaid(pb: Playbook, sha256: str) -> str:
    node = _nodes(pb)
    lines = ["stateDiagram-v2", f"    %% {pb.id}@{pb.version} sha256 {sha256}"]
    for stage in pb.stages:
        lines.append(f'    state "{_quote(stage.title)}" as {node[stage.id]}')
    lines.append(f"    [*] --> {node[pb.initial_stage().id]}")
    for trigger, source, dest in compile_machine(pb, sha256).edges():
        lines.append(f"    {node[source]} --> {node[dest]}: {trigger}")
    lines += [f"    {node[s.id]} --> [*]" for s in pb.stages if s.final]
    return "\n".join(lines)


def _dot(pb: Playbook, sha256: str) -> str:
    lines = [
        f'digraph "{pb.id}" {{',
        f'    label="{pb.id}@{pb.version} ({sha256[:12]})";',
        "    rankdir=LR;",
        "    node [shape=box, style=rounded];",
    ]
    for stage in pb.stages:
        shape = ", peripheries=2" if stage.final else ""
        bold = ", penwidth=2" if stage.initial else ""
        lines.append(f'    "{stage.id}" [label="{_quote(stage.title)}"{shape}{bold}];')
    for trigger, source, dest in compile_machine(pb, sha256).edges():
        lines.append(f'    "{source}" -> "{dest}" [label="{trigger}"];')
    lines.append("}")
    return "\n".join(lines)


def _markdown(pb: Playbook, sha256: str) -> str:
    lines = [
        f"# {_cell(pb.title)}",
        "",
        f"Playbook `{pb.id}@{pb.version}`, sha256 `{sha256}`.",
        "",
        "| trigger | from | to | checklist gate | rules |",
        "|---|---|---|---|---|",
    ]
    for trigger in pb.triggers:
        rules = [
            f"{r.id} ({r.kind}, {r.severity}"
            + (f", override: {_cell(', '.join(r.override_roles))}" if r.override_roles else "")
            + ")"
            for r in pb.rules
            if trigger.id in r.on
        ]
        lines.append(
            f"| `{trigger.id}` | {', '.join(trigger.from_)} | {trigger.to} | "
            f"{'yes' if trigger.gate else 'no'} | {'; '.join(rules) or '-'} |"
        )
    lines += ["", "| stage | title | required checklist items |", "|---|---|---|"]
    for stage in pb.stages:
        items = ", ".join(i.id for i in stage.checklist if i.required) or "-"
        mark = " (initial)" if stage.initial else " (final)" if stage.final else ""
        lines.append(f"| `{stage.id}`{mark} | {_cell(stage.title)} | {items} |")
    return "\n".join(lines)


def _quote(text: str) -> str:
    return text.replace('"', "'")


def _cell(text: str) -> str:
    """*text* safe in a Markdown table cell: `|` escaped, line breaks as spaces."""
    return " ".join(text.replace("|", "\\|").splitlines())
