"""The playbook keys of lessons (#15): the `[lessons]` table with its headings and
`lessons = true` on checklist items, validated like the rest and merged through `extends`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import attrs
import pytest

from lifecycle import Engine, load_playbook
from lifecycle._convert import unstructure_playbook
from lifecycle._playbooks import playbook_digest, shipped_playbooks_dir
from lifecycle.exceptions import InvalidInputError

Cli = Callable[..., tuple[int, str, str]]

CHILD = """schema = 1
id = "child"
version = "1.0.0"
title = "A child of core"
extends = "core"
{extra}
"""


def write(folder: Path, extra: str) -> Path:
    """A playbook extending core with *extra* TOML, in *folder*."""
    path = folder / "child.toml"
    path.write_text(CHILD.format(extra=extra), encoding="utf-8")
    return path


def test_core_names_the_headings_and_marks_the_lessons_pack() -> None:
    """core 1.3.0 names four lesson headings and marks `lessons-pack` lessons = true; its
    handover, retreat and debriefing steps point at `lifecycle lesson`."""
    core = load_playbook(shipped_playbooks_dir() / "core.toml")
    assert core.version == "1.3.0"
    assert core.lessons is not None
    assert [h.id for h in core.lessons.headings] == [
        "context",
        "what-worked",
        "what-did-not",
        "recommendations",
    ]
    found = core.item("lessons-pack")
    assert found is not None and found[0].id == "induction-briefing" and found[1].lessons
    marked = [i.id for s in core.stages for i in s.checklist if i.lessons]
    assert marked == ["lessons-pack"]
    for stage in ("active-support", "handover-retreat", "debriefing"):
        spec = core.stage(stage)
        assert spec is not None and any("lifecycle lesson" in step for step in spec.steps), stage


def test_organization_playbooks_inherit_the_headings() -> None:
    """Every shipped playbook extending core inherits its headings and lessons item."""
    for path in sorted(shipped_playbooks_dir().glob("*.toml")):
        playbook = load_playbook(path)
        assert playbook.lessons is not None and len(playbook.lessons.headings) == 4, path.name
        found = playbook.item("lessons-pack")
        assert found is not None and found[1].lessons, path.name


def test_child_replaces_headings_and_marks_an_added_item(tmp_path: Path) -> None:
    """A child's `[lessons]` replaces the parent's; `lessons = true` on a top-level
    `[[checklist]]` addition carries through."""
    path = write(
        tmp_path,
        """
[[lessons.headings]]
id = "situation"
title = "Situation"

[[checklist]]
stage = "handover-retreat"
id = "successor-lessons"
text = "Lessons handed to the successor"
lessons = true
""",
    )
    playbook = load_playbook(path)
    assert playbook.lessons is not None
    assert [h.id for h in playbook.lessons.headings] == ["situation"]
    found = playbook.item("successor-lessons")
    assert found is not None and found[1].lessons is True


def test_a_lesson_uses_the_headings_of_its_own_playbook(
    tmp_path: Path, workspace: Path, plugins
) -> None:
    """Under a child with its own headings, `--section` takes those, not core's."""
    write(tmp_path, '[[lessons.headings]]\nid = "situation"\ntitle = "Situation"\n')
    engine = Engine(workspace, plugins=plugins, playbook_dirs=[tmp_path])
    engine.open("c", "child", actor="officer")
    event = engine.lesson("c", title="T", text="t", sections={"situation": "s"}, actor="officer")
    assert event.event["data"]["sections"] == {"situation": "s"}
    with pytest.raises(InvalidInputError, match="no lesson heading"):
        engine.lesson("c", title="T", text="t", sections={"context": "c"}, actor="officer")


BROKEN = [
    (
        '[[lessons.headings]]\nid = "a"\ntitle = "A"\n\n[[lessons.headings]]\nid = "a"\ntitle = "B"\n',
        "$.lessons.headings[1].id: duplicate heading 'a'",
    ),
    (
        '[[lessons.headings]]\nid = "What Worked"\ntitle = "A"\n',
        "$.lessons.headings[0].id: heading id 'What Worked' must be",
    ),
    (
        '[[lessons.headings]]\nid = "a"\ntitle = " "\n',
        "$.lessons.headings[0].title: a heading needs a title",
    ),
    ('[[lessons.headings]]\nid = "a"\n', "$.lessons.headings[0].title: missing required key"),
    ("[lessons]\nheading = []\n", "$.lessons: unknown key heading"),
    (
        '[[checklist]]\nstage = "debriefing"\nid = "x"\ntext = "X"\nlessons = "yes"\n',
        "$.checklist[0].lessons: expected true or false, got a string",
    ),
]


@pytest.mark.parametrize(("extra", "fragment"), BROKEN, ids=[b[1].split(":")[1] for b in BROKEN])
def test_broken_lesson_keys_are_reported(
    cli: Cli, tmp_path: Path, extra: str, fragment: str
) -> None:
    """Each broken lesson key is an ERROR naming the file and key path (exit 1)."""
    path = write(tmp_path, extra)
    code, _, err = cli("playbooks", "check", str(path))
    assert code == 1
    assert f"{path}: {fragment}" in err, err


def test_older_core_digests_hold() -> None:
    """A playbook without the lesson keys has the digest it always had: the new keys are
    absent from its canonical form (the golden histories' embedded cores still match)."""
    core = load_playbook(shipped_playbooks_dir() / "core.toml")
    stages = tuple(
        attrs.evolve(s, checklist=tuple(attrs.evolve(i, lessons=None) for i in s.checklist))
        for s in core.stages
    )
    bare = attrs.evolve(core, lessons=None, stages=stages)
    text = str(unstructure_playbook(bare))
    assert "lessons': " not in text and "'headings'" not in text
    assert playbook_digest(bare) != playbook_digest(core)
