"""The practice (#13), driven through the CLI: entry points, people, occurrence dates, rounds,
links, places and training as a service; with a tamper probe for each new event field."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from lifecycle import Engine, audit_file
from test_tamper import rechain, split

from conftest import CORE_PATH

TODAY = dt.datetime.now(dt.UTC).date()


def _days_ago(n: int) -> str:
    return (TODAY - dt.timedelta(days=n)).isoformat()


def _audit(workspace: Path, eid: str):
    engine = Engine(workspace)
    # Today as the audit runs, not as the module was imported: a run that crosses midnight UTC
    # records events dated after the import's day, which the audit rightly calls future times.
    today = dt.datetime.now(dt.UTC).date()
    return audit_file(workspace / f"{eid}.history.jsonl", kinds=engine.rule_kinds, today=today)


def _errors(workspace: Path, eid: str) -> list[tuple[str, int | None]]:
    report = _audit(workspace, eid)
    return [(f.code, f.seq) for f in report.findings if f.severity == "error"]


def _status(cli, eid: str) -> dict:
    code, out, err = cli("status", eid, "--json")
    assert code == 0, err
    return json.loads(out)


def _ok(cli, *args: str) -> str:
    code, out, err = cli(*args)
    assert code == 0, (args, err)
    return out


def _adhoc(cli, eid: str = "adhoc-1") -> None:
    _ok(
        cli,
        "new",
        eid,
        "--playbook",
        "core",
        "--entry",
        "active-support",
        "--channel",
        "conference-margins",
        "--set",
        "country=KEN",
        "--set",
        "mandate.source=AU PSC",
    )
    for item in (
        "support-plan",
        "adhoc-requester-recorded",
        "adhoc-scope-agreed",
        "adhoc-mandate-known",
    ):
        _ok(cli, "check", eid, item)


def _close_from_active(cli, eid: str) -> None:
    _ok(cli, "advance", eid, "end-support")
    for item in ("debriefing-template", "interviewer-not-evaluator"):
        _ok(cli, "check", eid, item)
    _ok(cli, "advance", eid, "complete-debriefing")
    for item in ("lessons-recorded", "dissemination-plan"):
        _ok(cli, "check", eid, item)
    _ok(cli, "advance", eid, "close")


def _forge(workspace: Path, eid: str, seq: int, edit) -> None:
    path = workspace / f"{eid}.history.jsonl"
    lines = split(path.read_bytes())
    path.write_bytes(b"".join(rechain(lines, seq, edit)))


class TestEntry:
    def test_adhoc_engagement_from_conference_margins_to_closing(self, cli, workspace: Path):
        """An engagement entered at active support from a conference margin closes with nothing
        ticked of the stages it never visited, and audits clean."""
        _adhoc(cli)
        data = _status(cli, "adhoc-1")
        assert (data["entry"], data["channel"]) == ("active-support", "conference-margins")
        _close_from_active(cli, "adhoc-1")
        events = [
            json.loads(line)
            for line in (workspace / "adhoc-1.history.jsonl").read_text().splitlines()[1:]
        ]
        ticked = {e["data"]["stage"] for e in events if e["type"] == "item_checked"}
        assert ticked == {"active-support", "debriefing", "lessons-learned"}
        assert _errors(workspace, "adhoc-1") == []

    def test_entry_checklist_gates_leaving(self, cli):
        """The ad hoc entry checklist (who asked, scope, mandate) is owed before leaving the entry stage."""
        _ok(cli, "new", "adhoc-2", "--playbook", "core", "--entry", "active-support")
        _ok(cli, "check", "adhoc-2", "support-plan")
        code, _, err = cli("advance", "adhoc-2", "end-support")
        assert code == 1 and "adhoc-scope-agreed" in err

    def test_not_an_entry_stage_is_refused(self, cli, workspace: Path):
        """Opening at a stage that is no entry point is refused in one line, and nothing is written."""
        code, _, err = cli("new", "bad-1", "--playbook", "core", "--entry", "debriefing")
        assert code == 2 and "no entry point" in err and "Traceback" not in err
        assert not (workspace / "bad-1.history.jsonl").exists()

    def test_unknown_channel_is_refused(self, cli):
        """A channel that is not one of the playbook's is refused."""
        code, _, err = cli("new", "bad-2", "--playbook", "core", "--channel", "telepathy")
        assert code == 2 and "channel" in err

    def test_forged_entry_is_an_audit_error(self, cli, workspace: Path):
        """An `opened` event edited to start at a non-entry stage is an error at seq 1."""
        _adhoc(cli, "adhoc-3")
        _forge(workspace, "adhoc-3", 1, lambda r: r["data"].update(entry="debriefing"))
        assert ("replay", 1) in _errors(workspace, "adhoc-3")


class TestPeople:
    def test_handover_owes_induction_debriefing_and_retreat(self, cli, workspace: Path):
        """A handover: the incoming envoy's induction is due (overdue when missed), the leaving
        envoy's debriefing and the handover retreat are owed; the envoy fact follows."""
        _adhoc(cli, "eng-p")
        _ok(
            cli, "person", "add", "eng-p", "Amina Diallo", "--role", "envoy", "--on", _days_ago(100)
        )
        _ok(
            cli,
            "record",
            "eng-p",
            "envoy-induction",
            "--set",
            "person=Amina Diallo",
            "--on",
            _days_ago(90),
        )
        _ok(
            cli,
            "handover",
            "eng-p",
            "--from",
            "Amina Diallo",
            "--to",
            "Jonas Berg",
            "--on",
            _days_ago(40),
        )
        data = _status(cli, "eng-p")
        assert data["envoy"] == data["facts"]["envoy"] == "Jonas Berg"
        owed = {
            (d["id"], d["overdue"])
            for d in data["due"]
            if d["id"].startswith(("envoy-", "handover"))
        }
        assert owed == {
            ("envoy-induction", True),
            ("envoy-debriefing", False),
            ("handover-retreat", True),
        }
        assert [p["name"] for p in data["people"] if p["active"]] == ["Jonas Berg"]
        codes = [f.code for f in _audit(workspace, "eng-p").findings]
        assert "overdue" in codes and _errors(workspace, "eng-p") == []

    def test_backdated_appointment_counts_from_occurrence(self, cli):
        """A backdated appointment's induction deadline counts from the day it happened."""
        _adhoc(cli, "eng-b")
        _ok(cli, "person", "add", "eng-b", "Lea Moreau", "--role", "envoy", "--on", _days_ago(10))
        due = [d for d in _status(cli, "eng-b")["due"] if d["id"] == "envoy-induction"]
        assert due[0]["due"] == (TODAY + dt.timedelta(days=20)).isoformat()

    def test_person_leave_needs_reason_and_presence(self, cli):
        """Leaving needs --reason (usage error) and a person in the engagement (refused)."""
        _adhoc(cli, "eng-l")
        assert cli("person", "leave", "eng-l", "Nobody")[0] == 2
        code, _, err = cli("person", "leave", "eng-l", "Nobody", "--reason", "gone")
        assert code == 2 and "Nobody" in err

    def test_co_mediator_needs_org(self, cli):
        """A co-mediator is added with their organization, never without."""
        _adhoc(cli, "eng-c")
        code, _, err = cli("person", "add", "eng-c", "K. Osei", "--role", "co-mediator")
        assert code == 2 and "--org" in err
        _ok(cli, "person", "add", "eng-c", "K. Osei", "--role", "co-mediator", "--org", "IGAD")

    def test_forged_person_role_is_an_audit_error(self, cli, workspace: Path):
        """A `person_added` edited to an unknown role is a not-allowed error at that event."""
        _adhoc(cli, "eng-f")
        _ok(cli, "person", "add", "eng-f", "Amina Diallo", "--role", "envoy")
        _forge(workspace, "eng-f", 6, lambda r: r["data"].update(role="emperor"))
        assert ("not-allowed", 6) in _errors(workspace, "eng-f")


class TestDates:
    def test_advance_on_before_previous_is_refused(self, cli):
        """An occurrence before the previous one on the engagement is refused."""
        _adhoc(cli, "eng-d")
        _ok(
            cli,
            "advance",
            "eng-d",
            "suspend",
            "--reason",
            "the talks stalled in the capital",
            "--on",
            _days_ago(5),
        )
        code, _, err = cli("advance", "eng-d", "resume", "--on", _days_ago(6))
        assert code == 2 and "precedes" in err

    def test_forged_occurrence_after_recording_is_an_audit_error(self, cli, workspace: Path):
        """An `advanced` v2 event edited to a day after it was recorded is an error there."""
        _adhoc(cli, "eng-o")
        _ok(
            cli,
            "advance",
            "eng-o",
            "suspend",
            "--reason",
            "the talks stalled in the capital",
            "--on",
            _days_ago(3),
        )
        _forge(workspace, "eng-o", 6, lambda r: r["data"].update(on=_days_ago(-5)))
        assert ("not-allowed", 6) in _errors(workspace, "eng-o")


class TestRounds:
    def test_suspended_resumes_in_stage_it_left(self, cli):
        """A suspended engagement resumes in the stage it was suspended from."""
        _adhoc(cli, "eng-s")
        _ok(cli, "advance", "eng-s", "suspend", "--reason", "consent was withdrawn by the parties")
        _ok(cli, "advance", "eng-s", "resume")
        assert _status(cli, "eng-s")["stage"] == "active-support"

    def test_closed_reopened_for_second_round_and_closed(self, cli, workspace: Path):
        """A closed engagement is reopened (with a reason) into round 2, owes its checklists
        again, is closed again, and audits clean."""
        _adhoc(cli, "eng-r")
        _close_from_active(cli, "eng-r")
        assert cli("advance", "eng-r", "reopen")[0] == 1  # a reason is required
        _ok(cli, "advance", "eng-r", "reopen", "--reason", "talks resume after the elections")
        data = _status(cli, "eng-r")
        assert data["round"] == 2 and data["stage"] == "support-request"
        assert not any(i["done"] for i in data["checklist"])
        for trigger, items, facts in CORE_PATH:  # round 2: the whole cycle, every item owed again
            if facts:
                _ok(cli, "set", "eng-r", *facts)
            for item in items:
                _ok(cli, "check", "eng-r", item)
            _ok(cli, "advance", "eng-r", trigger)
        data = _status(cli, "eng-r")
        assert (data["round"], data["stage"]) == (2, "closed")
        assert "round 2" in _ok(cli, "history", "eng-r")
        assert _errors(workspace, "eng-r") == []

    def test_forged_round_is_an_audit_error(self, cli, workspace: Path):
        """A reopen whose recorded round is not the next one is an error at that event."""
        _adhoc(cli, "eng-x")
        _ok(cli, "advance", "eng-x", "withdraw", "--reason", "support ended early at their request")
        _ok(cli, "advance", "eng-x", "reopen", "--reason", "new talks begin after the elections")
        _forge(workspace, "eng-x", 7, lambda r: r["data"].update(round=5))
        assert ("not-allowed", 7) in _errors(workspace, "eng-x")


class TestLinks:
    def test_national_with_two_local_children_and_outside_same_process(self, cli, workspace: Path):
        """A national engagement links two local children and another organization's reference."""
        _ok(
            cli,
            "new",
            "nat-1",
            "--playbook",
            "core",
            "--set",
            "country=KEN",
            "--set",
            "level=national",
        )
        for child in ("loc-1", "loc-2"):
            _ok(
                cli,
                "new",
                child,
                "--playbook",
                "core",
                "--set",
                "area=KE-30",
                "--set",
                "level=local",
            )
            _ok(cli, "link", "nat-1", child, "--as", "child")
            _ok(cli, "link", child, "nat-1", "--as", "parent")
        _ok(
            cli, "link", "nat-1", "IGAD:KEN-2026-04", "--as", "same-process", "--note", "IGAD leads"
        )
        links = _status(cli, "nat-1")["links"]
        assert [(x["other"], x["relation"]) for x in links] == [
            ("loc-1", "child"),
            ("loc-2", "child"),
            ("IGAD:KEN-2026-04", "same-process"),
        ]
        assert "child loc-1" in _ok(cli, "list")
        rows = [line.split()[0] for line in _ok(cli, "list", "--country", "KEN").splitlines()]
        assert rows == ["nat-1"]
        _ok(cli, "unlink", "nat-1", "loc-2", "--as", "child")
        assert len(_status(cli, "nat-1")["links"]) == 2
        assert _errors(workspace, "nat-1") == []

    def test_link_to_missing_engagement_is_refused(self, cli):
        """A link to an engagement of this workspace that does not exist is refused."""
        _ok(cli, "new", "nat-2", "--playbook", "core")
        code, _, err = cli("link", "nat-2", "nowhere-9", "--as", "child")
        assert code == 2 and "nowhere-9" in err

    def test_forged_outside_child_link_is_an_audit_error(self, cli, workspace: Path):
        """A link edited to an outside reference as a child is an error at that event."""
        _ok(cli, "new", "nat-3", "--playbook", "core")
        _ok(cli, "link", "nat-3", "UN:ABC", "--as", "same-process")
        _forge(workspace, "nat-3", 2, lambda r: r["data"].update(relation="child"))
        assert ("not-allowed", 2) in _errors(workspace, "nat-3")


class TestPlaces:
    @pytest.mark.parametrize(
        ("fact", "value"), [("country", "XYZ"), ("area", "KE-999")], ids=["country", "area"]
    )
    def test_bad_codes_are_refused(self, cli, fact, value):
        """A country or subdivision code pycountry does not know is refused in one line."""
        code, _, err = cli("new", "pl-1", "--playbook", "core", "--set", f"{fact}={value}")
        assert code == 2 and "ISO 3166" in err


class TestTraining:
    def _training(self, cli, eid: str, role: str) -> None:
        _adhoc(cli, eid)
        _ok(cli, "set", eid, f"organization.role={role}")

    def test_lead_training_parties_itself_is_blocked(self, cli):
        """A lead organization training conflict parties itself is blocked."""
        self._training(cli, "tr-1", "lead")
        code, _, err = cli(
            "record",
            "tr-1",
            "training",
            "--set",
            "audience=conflict-parties",
            "--set",
            "provider=own",
        )
        assert code == 1 and "impartial-lead-no-party-training" in err

    def test_partner_delivering_it_is_allowed(self, cli, workspace: Path):
        """The same training delivered by a partner organization is allowed, and audits clean."""
        self._training(cli, "tr-2", "lead")
        _ok(
            cli,
            "record",
            "tr-2",
            "training",
            "--set",
            "audience=conflict-parties",
            "--set",
            "provider=partner-organization",
        )
        assert _errors(workspace, "tr-2") == []

    def test_forged_provider_is_an_audit_error(self, cli, workspace: Path):
        """A recorded training edited from a partner to the organization itself is caught."""
        self._training(cli, "tr-3", "lead")
        _ok(
            cli,
            "record",
            "tr-3",
            "training",
            "--set",
            "audience=conflict-parties",
            "--set",
            "provider=partner-organization",
        )
        _forge(workspace, "tr-3", 7, lambda r: r["data"]["params"].update(provider="own"))
        assert any(
            code in ("block-without-override", "decision-mismatch") and seq == 7
            for code, seq in _errors(workspace, "tr-3")
        )

    def test_unknown_parameter_is_refused(self, cli):
        """An activity parameter the playbook does not declare is refused."""
        self._training(cli, "tr-4", "support")
        code, _, err = cli("record", "tr-4", "training", "--set", "colour=blue")
        assert code == 2 and "colour" in err
