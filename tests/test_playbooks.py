"""Loading playbooks: core, `extends` merging, the sha256, TOML round trips, id conflicts."""

from __future__ import annotations

import shutil
from pathlib import Path

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lifecycle import Playbook, dump_playbook, load_playbook
from lifecycle._catalog import Catalog
from lifecycle._convert import structure_playbook, unstructure_playbook
from lifecycle._model import Activity, ChecklistItem, Fact, Rule, Stage, Trigger
from lifecycle._playbooks import playbook_digest, shipped_playbooks_dir
from lifecycle.exceptions import PlaybookError

from conftest import FIXTURES

SHIPPED = shipped_playbooks_dir()
DUPES = FIXTURES / "dupes"


def _resolve(playbook_id: str) -> Playbook:
    return Catalog.from_paths([SHIPPED, FIXTURES]).resolve(playbook_id).playbook


def _trigger(pb: Playbook, trigger_id: str) -> Trigger:
    return next(t for t in pb.triggers if t.id == trigger_id)


class TestLoadCore:
    def test_core_has_its_initial_and_final_stages(self) -> None:
        """load_playbook reads core with support-request initial and closed final."""
        pb = load_playbook(SHIPPED / "core.toml")
        assert (pb.id, pb.version) == ("core", "1.3.0")
        assert pb.initial_stage().id == "support-request"
        assert {s.id for s in pb.stages if s.final} == {"closed", "withdrawn"}
        assert pb.admin_roles == ("head-of-unit",)

    def test_core_star_triggers_are_expanded(self) -> None:
        """core's `from = ["*"]` becomes every non-final stage but the target."""
        pb = load_playbook(SHIPPED / "core.toml")
        open_stages = [s.id for s in pb.stages if not s.final]
        assert _trigger(pb, "suspend").from_ == tuple(s for s in open_stages if s != "suspended")
        assert _trigger(pb, "withdraw").from_ == tuple(open_stages)

    def test_rule_params_are_kept_apart_from_rule_fields(self) -> None:
        """A rule's kind parameters land in params, its own keys in fields."""
        pb = load_playbook(SHIPPED / "core.toml")
        rule = next(r for r in pb.rules if r.id == "gender-briefing-offered")
        assert rule.params == {"activity": "gender-inclusion-briefing", "min": 1}
        assert (rule.kind, rule.severity, rule.on) == (
            "activity-recorded",
            "warn",
            ("end-support",),
        )

    def test_extending_shipped_playbook_finds_core_without_search(self) -> None:
        """load_playbook always searches the shipped playbooks, so eac finds core by itself."""
        pb = load_playbook(SHIPPED / "eac.toml")
        assert pb.id == "eac"
        assert pb.stage("active-support") is not None


class TestExtends:
    def test_child_replaces_entries_by_id_in_place(self) -> None:
        """A child's fact or stage with an inherited id replaces it at the parent's position."""
        pb = _resolve("ext-child")
        assert pb.facts[0] == Fact("alpha", "Alpha, replaced")
        middle = pb.stage("middle")
        assert middle is not None and middle.title == "Middle, replaced"
        assert [s.id for s in pb.stages].index("middle") == 1
        assert [i.id for i in middle.checklist] == ["middle-new"]

    def test_child_adds_new_ids_after_inherited_ones(self) -> None:
        """New facts, stages, triggers and rules are appended after the inherited ones."""
        pb = _resolve("ext-child")
        assert [f.id for f in pb.facts] == ["alpha", "gamma"]
        assert [s.id for s in pb.stages][-1] == "extra"
        assert [t.id for t in pb.triggers][-3:] == ["detour", "return", "pause"]
        assert [r.id for r in pb.rules] == ["alpha-first", "gamma-first"]

    @pytest.mark.parametrize(
        "removed", ["beta", "beta-first", "start-two"], ids=["fact", "rule", "checklist-item"]
    )
    def test_remove_drops_inherited_entries(self, removed: str) -> None:
        """`remove` drops an inherited fact, rule or checklist item by id."""
        pb = _resolve("ext-child")
        ids = {f.id for f in pb.facts} | {r.id for r in pb.rules}
        ids |= {i.id for s in pb.stages for i in s.checklist}
        assert removed not in ids
        assert pb.remove == ()

    def test_top_level_checklist_adds_item_to_inherited_stage(self) -> None:
        """A top-level [[checklist]] with stage= appends an item to that inherited stage."""
        pb = _resolve("ext-child")
        start = pb.stage("start")
        assert start is not None
        assert list(start.checklist) == [
            ChecklistItem("start-one", "Start one"),
            ChecklistItem("start-added", "Added to an inherited stage", False),
        ]
        assert pb.checklist == ()

    def test_child_star_expands_over_non_final_stages_but_target(self) -> None:
        """The child's own `from = ["*"]` covers every non-final stage but its target."""
        pb = _resolve("ext-child")
        assert set(_trigger(pb, "pause").from_) == {"start", "middle"}

    def test_inherited_star_covers_stages_the_child_adds(self) -> None:
        """A parent's `from = ["*"]` trigger expands over the resolved child, new stages included."""
        pb = _resolve("ext-child")
        assert set(_trigger(pb, "drop").from_) == {"start", "middle", "extra"}

    @pytest.mark.parametrize(
        ("playbook_id", "roles"),
        [
            ("ext-child", ("base-admin",)),
            ("ext-admins", ("child-admin",)),
            ("eac", ("head-of-unit",)),
        ],
        ids=["inherited", "replaced", "shipped-inherits-core"],
    )
    def test_admin_roles_inherited_unless_given(
        self, playbook_id: str, roles: tuple[str, ...]
    ) -> None:
        """admin_roles come from the parent unless the child names its own."""
        assert _resolve(playbook_id).admin_roles == roles

    def test_organization_and_description_inherited_when_empty(self) -> None:
        """A child without organization or description takes the parent's."""
        pb = _resolve("ext-child")
        assert (pb.organization, pb.description) == ("Base organization", "The base playbook.")

    def test_remove_of_unknown_id_is_an_error_naming_the_file(self, tmp_path: Path) -> None:
        """Removing an id nothing inherited has names the child file and `$.remove[i]`."""
        child = tmp_path / "bad-remove.toml"
        child.write_text(
            'schema = 1\nid = "bad-remove"\nversion = "1"\ntitle = "x"\n'
            'extends = "ext-base"\nremove = ["alpha-first", "nope"]\n',
            encoding="utf-8",
        )
        with pytest.raises(PlaybookError) as info:
            Catalog.from_paths([FIXTURES, child]).resolve("bad-remove")
        assert any(
            f"{child}: $.remove[1]: nothing inherited has id 'nope'" in p
            for p in info.value.problems
        )


class TestDigest:
    def test_digest_is_stable_across_loads(self) -> None:
        """Loading the same playbook twice gives the same sha256 (64 hex digits)."""
        first = Catalog.from_paths([SHIPPED]).resolve("core").sha256
        second = playbook_digest(load_playbook(SHIPPED / "core.toml"))
        assert first == second
        assert len(first) == 64 and int(first, 16) >= 0

    def test_digest_ignores_comments_and_layout(self, tmp_path: Path) -> None:
        """Comments do not change the canonical form, so the sha256 stays."""
        copy = tmp_path / "core.toml"
        copy.write_text(
            "# a comment\n" + (SHIPPED / "core.toml").read_text(encoding="utf-8"), encoding="utf-8"
        )
        assert playbook_digest(load_playbook(copy)) == playbook_digest(
            load_playbook(SHIPPED / "core.toml")
        )

    def test_digest_changes_when_content_changes(self, tmp_path: Path) -> None:
        """Changing one title changes the sha256."""
        copy = tmp_path / "core.toml"
        text = (SHIPPED / "core.toml").read_text(encoding="utf-8")
        copy.write_text(
            text.replace('title = "Closed"', 'title = "Closed for good"'), encoding="utf-8"
        )
        assert playbook_digest(load_playbook(copy)) != playbook_digest(
            load_playbook(SHIPPED / "core.toml")
        )


class TestDumpRoundTrip:
    @pytest.mark.parametrize(
        ("playbook_id", "parent"),
        [
            ("core", None),
            ("rules-fixture", None),
            ("eac", SHIPPED / "core.toml"),
            ("un", SHIPPED / "core.toml"),
            ("ext-child", FIXTURES / "ext-base.toml"),
        ],
        ids=["core", "rules-fixture", "eac", "un-removes", "ext-child-removes"],
    )
    def test_load_of_dump_is_equal(
        self, playbook_id: str, parent: Path | None, tmp_path: Path
    ) -> None:
        """load_playbook(dump_playbook(p)) gives back a playbook equal to the resolved p."""
        pb = _resolve(playbook_id)
        search = tmp_path / "search"
        search.mkdir()
        if parent is not None:
            shutil.copy(parent, search / parent.name)
        path = tmp_path / f"{playbook_id}.toml"
        path.write_text(dump_playbook(pb), encoding="utf-8")
        assert load_playbook(path, search=[search]) == pb

    def test_dump_of_resolved_playbook_keeps_removed_entries_out(self, tmp_path: Path) -> None:
        """Reading back a dumped resolved `un` does not bring back the core rule it removed."""
        search = tmp_path / "search"
        search.mkdir()
        shutil.copy(SHIPPED / "core.toml", search / "core.toml")
        path = tmp_path / "un.toml"
        path.write_text(dump_playbook(_resolve("un")), encoding="utf-8")
        back = load_playbook(path, search=[search])
        assert "impartial-lead-no-training" not in {r.id for r in back.rules}

    @pytest.mark.parametrize("playbook_id", ["core", "eac", "un", "ext-child"])
    def test_resolved_playbook_equals_its_embedded_form(self, playbook_id: str) -> None:
        """A resolved playbook survives unstructure/structure (as embedded in a history) unchanged."""
        pb = _resolve(playbook_id)
        assert structure_playbook(unstructure_playbook(pb)) == pb

    def test_structure_of_unstructure_is_equal_for_core(self) -> None:
        """structure(unstructure(core)) == core, with TOML's own key `from`."""
        pb = load_playbook(SHIPPED / "core.toml")
        data = unstructure_playbook(pb)
        assert "from" in data["triggers"][0] and "from_" not in data["triggers"][0]
        assert structure_playbook(data) == pb


_IDS = st.from_regex(r"[a-z][a-z0-9-]{0,6}", fullmatch=True)
_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
_PARAM = st.one_of(_TEXT, st.integers(-5, 500), st.booleans(), st.lists(_TEXT, max_size=3))
_FACTS = st.builds(
    Fact,
    _IDS,
    _TEXT,
    type=st.sampled_from(["text", "date", "bool", "choice"]),
    choices=st.lists(_TEXT, max_size=3).map(tuple),
)
_ITEMS = st.builds(ChecklistItem, _IDS, _TEXT, required=st.booleans())
_STAGES = st.builds(
    Stage,
    _IDS,
    _TEXT,
    initial=st.booleans(),
    final=st.booleans(),
    steps=st.lists(_TEXT, max_size=2).map(tuple),
    checklist=st.lists(_ITEMS, max_size=2).map(tuple),
)
_TRIGGERS = st.builds(
    Trigger, _IDS, st.lists(_IDS, max_size=3).map(tuple), _IDS, title=_TEXT, gate=st.booleans()
)
_ACTIVITIES = st.builds(
    Activity,
    _IDS,
    _TEXT,
    during=st.lists(_IDS, max_size=2).map(tuple),
    every_days=st.none() | st.integers(1, 400),
)
_RULES = st.builds(
    Rule,
    _IDS,
    st.sampled_from(["fact-required", "within-days", "x.custom"]),
    on=st.lists(_IDS, max_size=2).map(tuple),
    on_activity=st.lists(_IDS, max_size=2).map(tuple),
    severity=st.sampled_from(["block", "warn"]),
    message=_TEXT,
    override_roles=st.lists(_IDS, max_size=2).map(tuple),
    params=st.dictionaries(
        st.sampled_from(["fact", "values", "days", "after", "stage", "min"]), _PARAM, max_size=3
    ),
)
_PLAYBOOKS = st.builds(
    Playbook,
    _IDS,
    _TEXT,
    _TEXT,
    organization=_TEXT,
    extends=st.none() | _IDS,
    admin_roles=st.none() | st.lists(_IDS, max_size=2).map(tuple),
    facts=st.lists(_FACTS, max_size=2).map(tuple),
    stages=st.lists(_STAGES, max_size=3).map(tuple),
    triggers=st.lists(_TRIGGERS, max_size=2).map(tuple),
    activities=st.lists(_ACTIVITIES, max_size=2).map(tuple),
    rules=st.lists(_RULES, max_size=2).map(tuple),
)


class TestStructureProperty:
    @settings(max_examples=150, deadline=None)
    @given(pb=_PLAYBOOKS)
    def test_structure_unstructure_round_trip(self, pb: Playbook) -> None:
        """For any small playbook, structure(unstructure(p)) == p."""
        assert structure_playbook(unstructure_playbook(pb)) == pb

    @settings(max_examples=50, deadline=None)
    @given(pb=_PLAYBOOKS)
    def test_digest_depends_only_on_content(self, pb: Playbook) -> None:
        """Equal playbooks have equal digests, and a changed title changes it."""
        copy = structure_playbook(unstructure_playbook(pb))
        assert playbook_digest(copy) == playbook_digest(pb)
        assert playbook_digest(attrs.evolve(pb, title=pb.title + "!")) != playbook_digest(pb)


class TestConflicts:
    def test_same_id_from_two_files_names_both(self) -> None:
        """Two different files defining one id is an error naming both files."""
        catalog = Catalog.from_paths([DUPES])
        with pytest.raises(PlaybookError) as info:
            catalog.resolve("dupe")
        message = str(info.value)
        assert str(DUPES / "dupe-a.toml") in message
        assert str(DUPES / "dupe-b.toml") in message

    def test_conflict_does_not_affect_other_ids(self) -> None:
        """Other playbooks in the catalog still resolve when one id is defined twice."""
        catalog = Catalog.from_paths([SHIPPED, DUPES])
        assert catalog.resolve("core").playbook.id == "core"

    def test_same_file_reached_twice_is_not_a_conflict(self) -> None:
        """A file given directly and through its folder counts once."""
        catalog = Catalog.from_paths([FIXTURES, FIXTURES / "rules-fixture.toml", FIXTURES])
        assert catalog.conflicts == {}
        assert catalog.resolve("rules-fixture").playbook.id == "rules-fixture"

    def test_same_file_through_another_path_spelling_is_not_a_conflict(
        self, tmp_path: Path
    ) -> None:
        """A file reached as a relative and an absolute path (or a symlink) counts once."""
        folder = tmp_path / "pbs"
        folder.mkdir()
        shutil.copy(FIXTURES / "rules-fixture.toml", folder / "rules-fixture.toml")
        (tmp_path / "link").symlink_to(folder)
        catalog = Catalog.from_paths([folder, tmp_path / "link" / "rules-fixture.toml"])
        assert catalog.resolve("rules-fixture").playbook.id == "rules-fixture"

    def test_extends_cycle_is_an_error(self, tmp_path: Path) -> None:
        """Two playbooks extending each other is reported as a cycle, not a crash."""
        for me, parent in (("cyc-a", "cyc-b"), ("cyc-b", "cyc-a")):
            (tmp_path / f"{me}.toml").write_text(
                f'schema = 1\nid = "{me}"\nversion = "1"\ntitle = "x"\nextends = "{parent}"\n',
                encoding="utf-8",
            )
        with pytest.raises(PlaybookError, match="cycle"):
            Catalog.from_paths([tmp_path]).resolve("cyc-a")
