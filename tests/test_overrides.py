"""Overrides of blocking rules, `force`, and the replay re-check of recorded decisions."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from lifecycle import Engine
from lifecycle._replay import Mismatch, replay

from conftest import CORE_PATH, drive_core

Cli = Callable[..., tuple[int, str, str]]
REASON = "The council confirmed the mandate orally today"


def history(cli: Cli, engagement: str = "eng-1") -> list[dict[str, Any]]:
    code, out, err = cli("history", engagement, "--json")
    assert code == 0, err
    return json.loads(out)["events"]


@pytest.fixture
def at_appoint(engine: Engine) -> Engine:
    """eng-1 in selection-advice with its items done and the envoy named, but no mandate."""
    drive_core(engine, until="appoint")
    for item in CORE_PATH[2][1]:
        engine.check("eng-1", item, actor="officer")
    engine.set_facts("eng-1", ["envoy=Amb. X"], actor="officer")
    return engine


class TestOverrideRefused:
    @pytest.mark.parametrize(
        ("reason", "condition"),
        [
            ("", "no reason: no reason given"),
            ("   ", "no reason: no reason given"),
            ("ok fine", "no reason: the reason must be a real sentence"),
            ("a b c d", "no reason: the reason must be a real sentence"),
            ("Approved-by-head-of-unit", "no reason: the reason must be a real sentence"),
        ],
        ids=["empty", "blank", "two-words", "short-words", "one-long-word"],
    )
    def test_bad_reason_is_refused(
        self, at_appoint: Engine, cli: Cli, reason: str, condition: str
    ) -> None:
        """An override without a real reason (>= 3 words, >= 15 chars) exits 1 saying "no reason"."""
        code, _, err = cli("--actor", "head", "advance", "eng-1", "appoint", "--override", reason)
        assert code == 1
        assert condition in err
        assert "no role" not in err and "not overridable" not in err
        assert at_appoint.engagement("eng-1").stage == "selection-advice"

    def test_actor_without_listed_role_is_refused(self, at_appoint: Engine, cli: Cli) -> None:
        """An officer (role officer) cannot override a rule for head-of-unit: "no role"."""
        code, _, err = cli("advance", "eng-1", "appoint", "--override", REASON)
        assert code == 1
        assert "no role: rule 'mandate-before-appointment' can be overridden by head-of-unit" in err
        assert "the actor has officer" in err and "no reason" not in err

    def test_unlisted_actor_has_no_roles(self, at_appoint: Engine, cli: Cli) -> None:
        """An actor missing from lifecycle.toml holds no roles and is refused."""
        code, _, err = cli(
            "--actor", "visitor", "advance", "eng-1", "appoint", "--override", REASON
        )
        assert code == 1 and "no role" in err and "no roles" in err

    def test_rule_without_override_roles_is_refused(self, at_appoint: Engine, cli: Cli) -> None:
        """envoy-named has no override_roles: even head is refused with "not overridable"."""
        cli("set", "eng-1", "mandate.source=Decision 1", "envoy=")
        code, _, err = cli("--actor", "head", "advance", "eng-1", "appoint", "--override", REASON)
        assert code == 1
        assert "not overridable: rule 'envoy-named' cannot be overridden by anyone" in err

    def test_checklist_gate_is_not_overridable(self, engine: Engine, cli: Cli) -> None:
        """The checklist gate cannot be overridden, whatever the role and reason."""
        engine.open("eng-1", "core", actor="officer")
        code, _, err = cli(
            "--actor", "head", "advance", "eng-1", "accept-request", "--override", REASON
        )
        assert code == 1
        assert "not overridable: rule 'checklist'" in err

    def test_every_failed_condition_is_named(self, at_appoint: Engine, cli: Cli) -> None:
        """With no role and a bad reason, both conditions appear in one refusal."""
        code, _, err = cli("advance", "eng-1", "appoint", "--override", "ok fine")
        assert code == 1
        assert "no role" in err and "no reason" in err
        assert len(err.strip().splitlines()) == 1

    def test_refused_attempts_are_recorded(self, at_appoint: Engine, cli: Cli) -> None:
        """Each refused override is a `refused` event with the reason tried and the actor's roles."""
        cli("advance", "eng-1", "appoint", "--override", REASON)
        cli("--actor", "head", "advance", "eng-1", "appoint", "--override", "ok fine")
        refused = [e for e in history(cli) if e["type"] == "refused"]
        assert [(e["actor"], e["data"]["override"]) for e in refused] == [
            ("officer", {"reason": REASON, "roles": ["officer"]}),
            ("head", {"reason": "ok fine", "roles": ["officer", "head-of-unit"]}),
        ]
        assert all(e["data"]["trigger"] == "appoint" for e in refused)


class TestOverrideAccepted:
    def test_listed_role_with_real_reason_advances(self, at_appoint: Engine, cli: Cli) -> None:
        """head-of-unit with a real reason overrides the mandate rule and moves on."""
        code, out, err = cli("--actor", "head", "advance", "eng-1", "appoint", "--override", REASON)
        assert code == 0, err
        assert "induction-briefing" in out
        assert at_appoint.engagement("eng-1").stage == "induction-briefing"

    def test_history_shows_override_reason_roles_and_refusals(
        self, at_appoint: Engine, cli: Cli
    ) -> None:
        """history --json has the override with its reason and roles, after the refused tries."""
        cli("advance", "eng-1", "appoint")
        cli("advance", "eng-1", "appoint", "--override", REASON)
        cli("--actor", "head", "advance", "eng-1", "appoint", "--override", f"  {REASON} ")
        events = history(cli)
        assert [e["type"] for e in events[-3:]] == ["refused", "refused", "advanced"]
        done = events[-1]
        assert (done["actor"], done["reason"]) == ("head", REASON)
        assert done["data"]["override"] == {
            "rules": ["mandate-before-appointment"],
            "roles": ["officer", "head-of-unit"],
        }
        by_rule = {r["rule"]: r["outcome"] for r in done["data"]["rules"]}
        assert by_rule == {
            "mandate-before-appointment": "overridden",
            "envoy-named": "pass",
            "checklist": "pass",
        }

    def test_override_not_needed_is_recorded(self, at_appoint: Engine, cli: Cli) -> None:
        """When nothing blocks, --override overrides nothing but is recorded, never dropped (#9)."""
        cli("set", "eng-1", "mandate.source=Decision 1")
        assert cli("--actor", "head", "advance", "eng-1", "appoint", "--override", REASON)[0] == 0
        done = history(cli)[-1]
        assert done["data"]["override"] == {"rules": [], "roles": ["officer", "head-of-unit"]}
        assert done["reason"] == REASON
        assert all(r["outcome"] == "pass" for r in done["data"]["rules"])
        assert cli("audit", str(at_appoint.workspace.path_of("eng-1")))[0] == 0

    def test_status_says_who_may_override(self, at_appoint: Engine, cli: Cli) -> None:
        """status marks the mandate rule overridable for head, not for officer."""
        for actor, expected in (("head", True), ("officer", False)):
            code, out, _ = cli("--actor", actor, "status", "eng-1", "--json")
            assert code == 0
            appoint = next(t for t in json.loads(out)["triggers"] if t["id"] == "appoint")
            assert [(b["rule"], b["overridable"]) for b in appoint["blocked_by"]] == [
                ("mandate-before-appointment", expected)
            ]

    def test_activity_rule_override(self, engine: Engine, cli: Cli) -> None:
        """A blocking on_activity rule can be overridden on `record` by a listed role."""
        drive_core(engine, until="end-support")
        cli("set", "eng-1", "organization.role=lead")
        assert cli("record", "eng-1", "training-conflict-party")[0] == 1
        code, _, err = cli(
            "--actor",
            "head",
            "record",
            "eng-1",
            "training-conflict-party",
            "--override",
            "No third-party provider is available in country",
        )
        assert code == 0, err
        done = history(cli)[-1]
        assert done["type"] == "activity_recorded"
        assert done["data"]["override"]["rules"] == ["impartial-lead-no-training"]

    def test_audit_lists_the_override(self, at_appoint: Engine, cli: Cli, workspace: Any) -> None:
        """audit stays clean and lists the override with actor, roles and reason."""
        cli("--actor", "head", "advance", "eng-1", "appoint", "--override", REASON)
        code, out, _ = cli("audit", str(workspace))
        assert code == 0, out
        assert "mandate-before-appointment by head (officer, head-of-unit): " + REASON in out


class TestForce:
    def test_admin_role_forces_with_reason(self, engine: Engine, cli: Cli) -> None:
        """head (head-of-unit, core's admin role) forces a move, recorded as `forced` with reason."""
        engine.open("eng-1", "core", actor="officer")
        reason = "The request was already analysed by the regional office"
        code, _, err = cli(
            "--actor", "head", "force", "eng-1", "--to", "selection-advice", "--reason", reason
        )
        assert code == 0, err
        done = history(cli)[-1]
        assert (done["type"], done["reason"], done["data"]["to"]) == (
            "forced",
            reason,
            "selection-advice",
        )
        assert done["data"]["roles"] == ["officer", "head-of-unit"]
        assert engine.engagement("eng-1").stage == "selection-advice"

    def test_officer_cannot_force(self, engine: Engine, cli: Cli) -> None:
        """An officer's force exits 1 with "no role", recorded as a refusal; the stage stays."""
        engine.open("eng-1", "core", actor="officer")
        code, _, err = cli("force", "eng-1", "--to", "closed", "--reason", REASON)
        assert code == 1
        assert "no role: force needs one of head-of-unit" in err
        last = history(cli)[-1]
        assert (last["type"], last["data"]["action"]) == ("refused", "force")
        assert engine.engagement("eng-1").stage == "support-request"

    def test_force_needs_a_real_reason(self, engine: Engine, cli: Cli) -> None:
        """Even head is refused a force with a too-short reason."""
        engine.open("eng-1", "core", actor="officer")
        code, _, err = cli(
            "--actor", "head", "force", "eng-1", "--to", "closed", "--reason", "ok fine"
        )
        assert code == 1 and "no reason" in err

    def test_force_to_unknown_stage_is_usage_error(self, engine: Engine, cli: Cli) -> None:
        """Forcing to a stage the playbook lacks exits 2 and records nothing."""
        engine.open("eng-1", "core", actor="officer")
        code, _, err = cli(
            "--actor", "head", "force", "eng-1", "--to", "nowhere", "--reason", REASON
        )
        assert code == 2 and "nowhere" in err
        assert len(history(cli)) == 1

    def test_forced_entry_reopens_checklist(self, engine: Engine, cli: Cli) -> None:
        """Forcing back into a stage reopens its checklist like any entry."""
        drive_core(engine, until="complete-analysis")
        cli("--actor", "head", "force", "eng-1", "--to", "support-request", "--reason", REASON)
        assert not engine.engagement("eng-1").is_done("request-recorded")


class TestReplayRecheck:
    def _records(self, engine: Engine) -> list[dict[str, Any]]:
        drive_core(engine, until="appoint")
        for item in CORE_PATH[2][1]:
            engine.check("eng-1", item, actor="officer")
        engine.set_facts("eng-1", ["envoy=Amb. X"], actor="officer")
        with pytest.raises(Exception, match="Refused"):
            engine.advance("eng-1", "appoint", actor="officer")
        engine.advance("eng-1", "appoint", actor="head", override=REASON)
        engine.record("eng-1", "thematic-briefing", actor="officer")
        return engine.history("eng-1")

    def test_honest_history_has_no_mismatch(self, engine: Engine) -> None:
        """Replaying an honest history with overrides and refusals re-checks every decision cleanly."""
        records = self._records(engine)
        mismatches: list[Mismatch] = []
        eng = replay(records, kinds=engine.rule_kinds, mismatches=mismatches)
        assert mismatches == []
        assert eng.stage == "induction-briefing"

    def test_tampered_outcome_is_a_mismatch(self, engine: Engine) -> None:
        """A recorded outcome flipped from block to pass is found by the re-check."""
        records = copy.deepcopy(self._records(engine))
        refused = next(r for r in records if r["type"] == "refused")
        for rule in refused["data"]["rules"]:
            if rule["rule"] == "mandate-before-appointment":
                rule["outcome"] = "pass"
        mismatches: list[Mismatch] = []
        replay(records, kinds=engine.rule_kinds, mismatches=mismatches)
        assert [(m.seq, m.rule, m.recorded, m.now) for m in mismatches] == [
            (refused["seq"], "mandate-before-appointment", "pass", "block")
        ]
