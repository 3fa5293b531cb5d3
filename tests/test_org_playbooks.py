"""The shipped playbooks: each checks clean, and each drives from its initial to a final stage."""

from __future__ import annotations

from pathlib import Path

import pytest

from lifecycle._playbooks import shipped_playbooks_dir
from lifecycle.exceptions import RefusedError
from lifecycle.testing import drive, make_engine

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
