"""The shipped playbooks: each checks clean, and each drives from its initial to a final stage."""

from __future__ import annotations

from pathlib import Path

import pytest

from lifecycle import Engine, audit_file
from lifecycle._playbooks import shipped_playbooks_dir
from lifecycle.exceptions import RefusedError
from lifecycle.testing import drive, make_engine
from test_tamper import rechain, split

PATH = [
    "accept-request",
    "complete-analysis",
    "appoint",
    "complete-induction",
    "start-support",
    "end-support",
    "complete-debriefing",
    "close",
]
COMMON = {"envoy": "Amb. X", "mandate.source": "Decision 1/2026"}
FACTS: dict[str, dict[str, str]] = {
    "core": {},
    "au": {"au.authorizing-decision": "psc"},
    "commonwealth": {
        "commonwealth.government-agreement": "invitation",
        "commonwealth.envoy-concurrence": "true",
    },
    "eac": {"eac.un-au-consulted": "true"},
    "eccas": {"eccas.authorizing-body": "copax"},
    "ecowas": {"ecowas.authorizing-body": "mediation-and-security-council"},
    "eu": {"organization.role": "facilitate"},
    "igad": {},
    "oas": {"oas.mandate-path": "iadc-art-18", "consent.government": "true"},
    "oic": {"oic.authorizing-body": "cfm"},
    "osce": {"osce.mediator-role": "cio-special-representative"},
    "sadc": {"sadc.authorizing-body": "organ-troika"},
    "un": {"un.mandate-type": "security-council"},
}
ORGANIZATIONS = {"au", "commonwealth", "eac", "eccas", "eu", "igad", "oas", "oic", "osce", "un"}


def test_every_organization_is_shipped():
    """The ten organizations of the seed (and core) have a playbook file."""
    shipped = {p.stem for p in shipped_playbooks_dir().glob("*.toml")}
    assert {"core", *ORGANIZATIONS} <= shipped
    assert set(FACTS) == shipped, "a shipped playbook has no drive test"


@pytest.mark.parametrize("playbook", sorted(FACTS))
def test_playbook_checks_clean(cli, playbook: str):
    """`playbooks check` passes for the shipped file."""
    code, out, err = cli("playbooks", "check", str(shipped_playbooks_dir() / f"{playbook}.toml"))
    assert code == 0, err
    assert out.startswith("OK")


@pytest.mark.parametrize("playbook", sorted(FACTS))
def test_drives_to_closed(tmp_path: Path, playbook: str):
    """An engagement goes from the initial stage to `closed` with the facts its rules need."""
    engine = make_engine(tmp_path / "ws")
    final = drive(engine, "e1", playbook, PATH, facts={**COMMON, **FACTS[playbook]})
    assert final.stage == "closed" and final.final


@pytest.mark.parametrize("playbook", sorted(p for p in FACTS if p != "core"))
def test_extends_core_and_cites_its_rules(tmp_path: Path, playbook: str):
    """Each organization playbook extends core and gives every rule a basis."""
    resolved = make_engine(tmp_path / "ws").catalog.resolve(playbook)
    assert resolved.chain[0].playbook.id == "core"
    assert all(rule.basis for rule in resolved.playbook.rules)


@pytest.mark.parametrize(
    ("playbook", "fact", "trigger"),
    [
        ("oas", "consent.government", "appoint"),
        ("commonwealth", "commonwealth.government-agreement", "accept-request"),
        ("au", "au.authorizing-decision", "appoint"),
        ("eu", "organization.role", "accept-request"),
    ],
    ids=["oas-consent", "commonwealth-invitation", "au-psc-decision", "eu-role"],
)
def test_mandate_rule_blocks_without_its_fact(
    tmp_path: Path, playbook: str, fact: str, trigger: str
):
    """The organization's mandate rule refuses the trigger until its fact is recorded."""
    engine = make_engine(tmp_path / "ws")
    facts = {k: v for k, v in {**COMMON, **FACTS[playbook]}.items() if k != fact}
    before = PATH[: PATH.index(trigger)]
    drive(engine, "e1", playbook, before, facts=facts)
    with pytest.raises(RefusedError):
        drive(engine, "e1", playbook, [trigger])


def test_training_a_party_differs_between_un_and_eu(tmp_path: Path):
    """In the lead role, training a conflict party is refused under EU but allowed under UN."""
    engine = make_engine(tmp_path / "ws")
    to_support = PATH[:5]
    drive(engine, "eu1", "eu", to_support, facts={**COMMON, "organization.role": "lead"})
    with pytest.raises(RefusedError, match="impartial-lead-no-training"):
        engine.record("eu1", "training-conflict-party", actor="officer")
    drive(
        engine,
        "un1",
        "un",
        to_support,
        facts={**COMMON, **FACTS["un"], "organization.role": "lead"},
    )
    result = engine.record("un1", "training-conflict-party", actor="officer")
    assert result.event["type"] == "activity_recorded"


def test_eac_induction_deadline_is_due_after_appointment(tmp_path: Path):
    """Under EAC, appointing the envoy makes the induction briefing due within 7 days."""
    engine = make_engine(tmp_path / "ws")
    drive(engine, "e1", "eac", PATH[:3], facts={**COMMON, **FACTS["eac"]})
    items, _ = engine.due()
    item = next(i for i in items if i.id == "complete-induction")
    appointed = next(
        e
        for e in engine.history("e1")
        if e["type"] == "advanced" and e["data"]["trigger"] == "appoint"
    )
    assert (item.due - engine.today()).days == 7 and appointed["at"][
        :10
    ] == engine.today().isoformat()


def _outcome(event: dict, rule: str) -> str:
    """The outcome *event* records for *rule*."""
    return next(r["outcome"] for r in event["data"]["rules"] if r["rule"] == rule)


def _audit_errors(engine, path: Path) -> list[tuple[str, int | None]]:
    """The audit's error findings for the history at *path*, as (code, seq)."""
    report = audit_file(path, kinds=engine.rule_kinds, today=engine.today())
    return [(f.code, f.seq) for f in report.findings if f.severity == "error"]


def _forge_fact(path: Path, seq: int, fact: str, value: str) -> None:
    """Rewrite the fact_set event *seq* to set *fact* to *value*, re-chaining every later line."""

    def edit(record: dict) -> None:
        assert record["type"] == "fact_set" and fact in record["data"]["facts"]
        record["data"]["facts"][fact] = value

    path.write_bytes(b"".join(rechain(split(path.read_bytes()), seq, edit)))


class TestOas:
    @pytest.mark.parametrize("path", ["iadc-art-20", "oas-charter-arts-84-90"])
    def test_paths_without_government_consent_drive_to_closed(self, tmp_path: Path, path: str):
        """On the Art. 20 and Charter Arts. 84-90 paths, no government consent is needed to appoint."""
        engine = make_engine(tmp_path / "ws")
        final = drive(engine, "e1", "oas", PATH, facts={**COMMON, "oas.mandate-path": path})
        assert final.stage == "closed"
        appoint = next(e for e in engine.history("e1") if e["data"].get("trigger") == "appoint")
        assert _outcome(appoint, "oas-government-consent") == "pass"

    @pytest.mark.parametrize("path", ["iadc-art-17", "iadc-art-18", "other"])
    def test_consent_paths_still_block_without_consent(self, tmp_path: Path, path: str):
        """On the Art. 17 and 18 paths (and any other mandate), appointing needs the consent fact."""
        engine = make_engine(tmp_path / "ws")
        drive(engine, "e1", "oas", PATH[:2], facts={**COMMON, "oas.mandate-path": path})
        with pytest.raises(RefusedError, match="oas-government-consent"):
            drive(engine, "e1", "oas", ["appoint"])

    def test_forged_path_is_an_audit_error(self, tmp_path: Path):
        """A history re-chained to read Art. 18 where the appointment passed on Art. 20 fails its audit."""
        engine = make_engine(tmp_path / "ws")
        engine.open("e1", "oas", actor="officer", facts=COMMON)
        seq = engine.set_facts("e1", ["oas.mandate-path=iadc-art-20"], actor="officer").event["seq"]
        final = drive(engine, "e1", "oas", PATH[:3])
        path = engine.workspace.path_of("e1")
        assert final.stage == "induction-briefing" and _audit_errors(engine, path) == []
        _forge_fact(path, seq, "oas.mandate-path", "iadc-art-18")
        appoint = next(e for e in engine.history("e1") if e["data"].get("trigger") == "appoint")
        assert ("block-without-override", appoint["seq"]) in _audit_errors(engine, path)


def test_au_chairperson_own_initiative_is_a_choice_not_an_override(tmp_path: Path):
    """Under AU, the Chairperson's own initiative (PSC Protocol Art. 10(2)(c)) lets `appoint` pass."""
    engine = make_engine(tmp_path / "ws")
    facts = {**COMMON, "au.authorizing-decision": "chairperson-own-initiative"}
    final = drive(engine, "e1", "au", PATH, facts=facts)
    appoint = next(e for e in engine.history("e1") if e["data"].get("trigger") == "appoint")
    assert final.stage == "closed" and "override" not in appoint["data"]
    assert _outcome(appoint, "au-psc-or-assembly-decision") == "pass"


class TestEacHandover:
    def _to_handover(self, tmp_path: Path, clock) -> Engine:
        """An EAC engagement appointed on day 0 and handed over on day 198."""
        engine = make_engine(tmp_path / "ws", clock=clock)
        drive(engine, "e1", "eac", PATH[:5], facts={**COMMON, **FACTS["eac"]})
        clock.advance(days=196)
        drive(engine, "e1", "eac", ["begin-handover"])
        clock.advance(days=2)
        drive(engine, "e1", "eac", ["complete-handover"])
        return engine

    def test_incoming_envoy_inducted_two_days_after_handover_is_not_late(
        self, tmp_path: Path, fixed_clock
    ):
        """Inducting the incoming envoy two days after the handover passes the 7-day rule, audit clean."""
        engine = self._to_handover(tmp_path, fixed_clock)
        items, _ = engine.due()
        item = next(i for i in items if i.id == "complete-induction")
        assert (item.due - engine.today()).days == 7 and "complete-handover" in item.source
        fixed_clock.advance(days=2)
        result = drive(engine, "e1", "eac", ["complete-induction"])
        induction = engine.history("e1")[-1]
        assert result.stage == "thematic-briefings"
        assert _outcome(induction, "eac-induction-within-7-days") == "pass"
        assert _audit_errors(engine, engine.workspace.path_of("e1")) == []

    def test_late_after_handover_still_warns(self, tmp_path: Path, fixed_clock):
        """Eight days after the handover, the induction is recorded as a warning, one day late."""
        engine = self._to_handover(tmp_path, fixed_clock)
        fixed_clock.advance(days=8)
        drive(engine, "e1", "eac", ["complete-induction"])
        induction = engine.history("e1")[-1]
        rule = next(
            r for r in induction["data"]["rules"] if r["rule"] == "eac-induction-within-7-days"
        )
        assert rule["outcome"] == "warn"
        assert "7 days after 'complete-handover'), 1 day(s) late" in rule["message"]

    def test_forged_lateness_from_the_first_appointment_is_an_audit_error(
        self, tmp_path: Path, fixed_clock
    ):
        """An induction re-chained as late (counted from the first appointment) fails its audit."""
        engine = self._to_handover(tmp_path, fixed_clock)
        fixed_clock.advance(days=2)
        drive(engine, "e1", "eac", ["complete-induction"])
        path = engine.workspace.path_of("e1")
        seq = engine.history("e1")[-1]["seq"]

        def forge(record: dict) -> None:
            for rule in record["data"]["rules"]:
                if rule["rule"] == "eac-induction-within-7-days":
                    rule["outcome"] = "warn"

        path.write_bytes(b"".join(rechain(split(path.read_bytes()), seq, forge)))
        assert ("decision-mismatch", seq) in _audit_errors(engine, path)


class TestUn:
    def test_sbt_deployment_can_be_recorded_at_the_support_request(self, tmp_path: Path):
        """The steps of support-request say to consider an SBT deployment: it can be recorded there."""
        engine = make_engine(tmp_path / "ws")
        drive(engine, "e1", "un", [], facts=COMMON)
        result = engine.record("e1", "un-sbt-deployment", actor="officer")
        assert result.event["type"] == "activity_recorded"
        assert engine.engagement("e1").stage == "support-request"

    @pytest.mark.parametrize("mandate", ["regional-organization-request", "member-state-request"])
    def test_support_requested_by_others_drives_to_closed(self, tmp_path: Path, mandate: str):
        """Support requested by a regional organization or a member state satisfies un-mandate-type."""
        engine = make_engine(tmp_path / "ws")
        final = drive(engine, "e1", "un", PATH, facts={**COMMON, "un.mandate-type": mandate})
        assert final.stage == "closed"


class TestCoreTrainingRule:
    @pytest.mark.parametrize("role", ["lead", "co-lead", None], ids=["lead", "co-lead", "unset"])
    def test_lead_co_lead_and_unset_role_are_blocked(self, tmp_path: Path, role: str | None):
        """Training a conflict party is refused in the lead or co-lead role, and when no role is set."""
        engine = make_engine(tmp_path / "ws")
        facts = {**COMMON, **({"organization.role": role} if role else {})}
        drive(engine, "e1", "core", PATH[:5], facts=facts)
        with pytest.raises(RefusedError, match="impartial-lead-no-training"):
            engine.record("e1", "training-conflict-party", actor="officer")

    def test_supporting_role_may_train(self, tmp_path: Path):
        """In a supporting role, training a conflict party is recorded."""
        engine = make_engine(tmp_path / "ws")
        drive(engine, "e1", "core", PATH[:5], facts={**COMMON, "organization.role": "support"})
        result = engine.record("e1", "training-conflict-party", actor="officer")
        assert _outcome(result.event, "impartial-lead-no-training") == "pass"

    def test_forged_role_is_an_audit_error(self, tmp_path: Path):
        """A history re-chained to read co-lead where a supporting role trained a party fails its audit."""
        engine = make_engine(tmp_path / "ws")
        engine.open("e1", "core", actor="officer", facts=COMMON)
        seq = engine.set_facts("e1", ["organization.role=support"], actor="officer").event["seq"]
        drive(engine, "e1", "core", PATH[:5])
        trained = engine.record("e1", "training-conflict-party", actor="officer").event["seq"]
        path = engine.workspace.path_of("e1")
        assert _audit_errors(engine, path) == []
        _forge_fact(path, seq, "organization.role", "co-lead")
        assert ("block-without-override", trained) in _audit_errors(engine, path)

    def test_civil_society_and_rumours_items_exist(self, tmp_path: Path):
        """Core's analysis stage has items for civil society inclusion and rumours in the media strategy."""
        stage = (
            make_engine(tmp_path / "ws").catalog.resolve("core").playbook.stage("conflict-analysis")
        )
        assert stage is not None
        assert {"civil-society-inclusion", "media-rumours"} <= {i.id for i in stage.checklist}


def test_eccas_selection_criteria_warn_but_do_not_block(tmp_path: Path):
    """Under ECCAS, appointing without the ACCORD selection criteria is recorded as a warning."""
    engine = make_engine(tmp_path / "ws")
    drive(engine, "e1", "eccas", PATH[:3], facts={**COMMON, **FACTS["eccas"]})
    appoint = next(e for e in engine.history("e1") if e["data"].get("trigger") == "appoint")
    assert _outcome(appoint, "eccas-selection-criteria") == "warn"


class TestOsce:
    def test_chairmanship_review_has_no_365_day_cadence(self, tmp_path: Path, fixed_clock):
        """The chairmanship review is not due 365 days after entering active support."""
        engine = make_engine(tmp_path / "ws", clock=fixed_clock)
        drive(engine, "e1", "osce", PATH[:5], facts={**COMMON, **FACTS["osce"]})
        fixed_clock.advance(days=400)
        items, _ = engine.due()
        assert "osce-chairmanship-review" not in {i.id for i in items}
        assert engine.record("e1", "osce-chairmanship-review", actor="officer").event["seq"]

    def test_co_chair_format_drives_to_closed(self, tmp_path: Path):
        """A mediator in a co-chair format is a recorded OSCE mediator role."""
        engine = make_engine(tmp_path / "ws")
        final = drive(
            engine, "e1", "osce", PATH, facts={**COMMON, "osce.mediator-role": "co-chair"}
        )
        assert final.stage == "closed"
