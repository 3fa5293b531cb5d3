"""Running engagements: the whole core cycle via the CLI, the checklist gate, refusals, facts,
history, status/list JSON, and the lifecycle_event plugin hook."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import lifecycle
from lifecycle import Engine, make_plugin_manager

from conftest import CORE_PATH, FIXTURES, STORE_KINDS, drive_core, make_store

Cli = Callable[..., tuple[int, str, str]]
HEX64 = re.compile(r"^  checkpoint eng-1 (\d+) ([0-9a-f]{64})$", re.MULTILINE)


# The engine suite runs on every store (#11): the CLI on files and on PostgreSQL, the library on
# memory, files and PostgreSQL.
@pytest.fixture(params=["file", "postgresql"])
def cli(request: pytest.FixtureRequest, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> Cli:
    """The conftest CLI, on the workspace's files or on a fresh PostgreSQL schema."""
    if request.param == "postgresql":
        monkeypatch.setenv("LIFECYCLE_STORE", request.getfixturevalue("pg_url"))
    return cli


@pytest.fixture(params=STORE_KINDS)
def engine(request: pytest.FixtureRequest, workspace: Path, plugins: Any) -> Engine:
    """An engine on the workspace's store of each kind."""
    store = make_store(request.param, request, workspace)
    return Engine(store=store, plugins=plugins, playbook_dirs=[FIXTURES])


def audited(workspace: Path, engagement: str = "eng-1") -> list[str]:
    """The audit's arguments for *engagement*: its file, or (on a store) none."""
    return (
        []
        if os.environ.get("LIFECYCLE_STORE")
        else [str(workspace / f"{engagement}.history.jsonl")]
    )


def cli_drive(cli: Cli, engagement: str = "eng-1", *, until: str | None = None) -> None:
    """Open *engagement* under core and drive it along CORE_PATH with CLI commands only."""
    assert cli("new", engagement, "--playbook", "core", "--title", "Driven")[0] == 0
    for trigger, items, facts in CORE_PATH:
        if trigger == until:
            return
        for item in items:
            assert cli("check", engagement, item)[0] == 0, item
        if facts:
            assert cli("set", engagement, *facts)[0] == 0
        code, _, err = cli("advance", engagement, trigger)
        assert code == 0, err


def status(cli: Cli, engagement: str = "eng-1") -> dict[str, Any]:
    code, out, err = cli("status", engagement, "--json")
    assert code == 0, err
    return json.loads(out)


def events(cli: Cli, engagement: str = "eng-1") -> list[dict[str, Any]]:
    code, out, err = cli("history", engagement, "--json")
    assert code == 0, err
    return json.loads(out)["events"]


class TestWholeCycle:
    def test_cli_alone_drives_core_to_closed(self, cli: Cli) -> None:
        """new/check/set/advance take an engagement from support-request to closed."""
        cli_drive(cli)
        data = status(cli)
        assert (data["stage"], data["final"]) == ("closed", True)
        assert data["facts"]["envoy"] == "Amb. X"

    def test_audit_of_closed_engagement_is_clean_with_checkpoint(
        self, cli: Cli, workspace: Path
    ) -> None:
        """audit exits 0 and prints `checkpoint <id> <events> <64-hex>` with the event count."""
        cli_drive(cli)
        count = len(events(cli))
        code, out, err = cli("audit", *audited(workspace))
        assert code == 0, out + err
        match = HEX64.search(out)
        assert match is not None, out
        assert int(match.group(1)) == count
        assert match.group(2) == status(cli)["head"]


class TestChecklistGate:
    def test_required_items_block_leaving(self, cli: Cli) -> None:
        """Advancing with required items unchecked exits 1 naming each missing item."""
        cli("new", "eng-1", "--playbook", "core")
        cli("check", "eng-1", "request-recorded")
        code, _, err = cli("advance", "eng-1", "accept-request")
        assert code == 1
        assert "checklist" in err and "entry-point-identified" in err
        assert "request-recorded" not in err.split("not done:")[1]
        assert status(cli)["stage"] == "support-request"

    def test_optional_items_do_not_block(self, cli: Cli) -> None:
        """conflict-analysis can be left with its optional local-dynamics item unchecked."""
        cli_drive(cli, until="complete-analysis")
        for item in CORE_PATH[1][1]:
            cli("check", "eng-1", item)
        assert not next(i for i in status(cli)["checklist"] if i["id"] == "local-dynamics")["done"]
        assert cli("advance", "eng-1", "complete-analysis")[0] == 0

    def test_item_of_future_stage_is_refused(self, cli: Cli) -> None:
        """An item of a stage not yet reached cannot be checked (exit 1, nothing recorded)."""
        cli("new", "eng-1", "--playbook", "core")
        code, _, err = cli("check", "eng-1", "briefing-pack")
        assert code == 1
        assert "not reached" in err and len(err.strip().splitlines()) == 1
        assert [e["type"] for e in events(cli)] == ["opened"]

    def test_item_of_stage_visited_before_can_be_checked(self, cli: Cli) -> None:
        """An optional item of induction-briefing can be ticked after the stage was left."""
        cli_drive(cli, until="start-support")
        code, _, err = cli("check", "eng-1", "team-composition")
        assert code == 0, err
        assert events(cli)[-1]["data"] == {
            "item": "team-composition",
            "stage": "induction-briefing",
        }

    def test_reentering_a_stage_reopens_its_checklist(self, cli: Cli) -> None:
        """handover-retreat -> complete-handover -> induction-briefing: its items are unchecked again."""
        cli_drive(cli, until="end-support")
        cli("check", "eng-1", "support-plan")
        assert cli("advance", "eng-1", "begin-handover")[0] == 0
        cli("check", "eng-1", "handover-note")
        cli("check", "eng-1", "open-tracks-status")
        assert cli("advance", "eng-1", "complete-handover")[0] == 0
        data = status(cli)
        assert data["stage"] == "induction-briefing"
        assert data["checklist"] and not any(i["done"] for i in data["checklist"])
        gate = next(t for t in data["triggers"] if t["id"] == "complete-induction")
        assert not gate["allowed"]
        assert [b["rule"] for b in gate["blocked_by"]] == ["checklist"]

    def test_uncheck_reopens_an_item(self, cli: Cli) -> None:
        """Unchecking an item makes the gate block again; unchecking twice is refused."""
        cli("new", "eng-1", "--playbook", "core")
        for item in CORE_PATH[0][1]:
            cli("check", "eng-1", item)
        assert cli("uncheck", "eng-1", "request-recorded")[0] == 0
        assert cli("uncheck", "eng-1", "request-recorded")[0] == 1
        assert cli("advance", "eng-1", "accept-request")[0] == 1


class TestRefusals:
    def test_refused_advance_records_every_reason(self, cli: Cli) -> None:
        """A blocked appoint is recorded as a `refused` event listing both rules and the gate."""
        cli_drive(cli, until="appoint")
        code, _, err = cli("advance", "eng-1", "appoint")
        assert code == 1
        assert "recorded as event" in err
        last = events(cli)[-1]
        assert last["type"] == "refused"
        why = " | ".join(last["data"]["why"])
        for rule in ("mandate-before-appointment", "envoy-named", "checklist"):
            assert rule in why
        assert len(last["data"]["why"]) == 3
        outcomes = {r["rule"]: r["outcome"] for r in last["data"]["rules"]}
        assert outcomes == {
            "mandate-before-appointment": "block",
            "envoy-named": "block",
            "checklist": "block",
        }

    def test_trigger_from_wrong_stage_is_refused_and_recorded(self, cli: Cli) -> None:
        """A known trigger that cannot fire from the current stage exits 1 and is recorded."""
        cli("new", "eng-1", "--playbook", "core")
        code, _, err = cli("advance", "eng-1", "close")
        assert code == 1 and "cannot fire from stage 'support-request'" in err
        assert events(cli)[-1]["type"] == "refused"

    @pytest.mark.parametrize(
        "args",
        [
            ("status", "nope"),
            ("advance", "eng-1", "no-such-trigger"),
            ("check", "eng-1", "no-such-item"),
            ("set", "eng-1", "no-such-fact=1"),
            ("record", "eng-1", "no-such-activity"),
            ("history", "eng-1", "--at", "99"),
            ("no-such-command",),
            ("status", "eng-1", "--no-such-option"),
        ],
        ids=[
            "engagement",
            "trigger",
            "item",
            "fact",
            "activity",
            "history-at",
            "command",
            "option",
        ],
    )
    def test_unknown_names_exit_2_with_one_line(self, cli: Cli, args: tuple[str, ...]) -> None:
        """An unknown engagement, trigger, item, fact, command or option exits 2 with one stderr line."""
        cli("new", "eng-1", "--playbook", "core")
        before = len(events(cli))
        code, _, err = cli(*args)
        assert code == 2
        assert len(err.strip().splitlines()) == 1, err
        assert "Traceback" not in err
        assert len(events(cli)) == before

    def test_final_stage_allows_only_notes(self, cli: Cli) -> None:
        """Once closed, check/set/advance/record/uncheck are refused, a note is recorded."""
        cli_drive(cli)
        for args in (
            ("check", "eng-1", "lessons-recorded"),
            ("set", "eng-1", "envoy=Y"),
            ("advance", "eng-1", "suspend"),
            ("record", "eng-1", "peer-coaching"),
            ("uncheck", "eng-1", "lessons-recorded"),
        ):
            code, _, err = cli(*args)
            assert code == 1, args
            assert "final stage 'closed'" in err
        assert cli("note", "eng-1", "Archived with the lessons.")[0] == 0
        assert events(cli)[-1]["type"] == "note_added"


class TestFacts:
    def test_empty_value_unsets(self, cli: Cli) -> None:
        """`set KEY=` removes the fact."""
        cli("new", "eng-1", "--playbook", "core", "--set", "envoy=Amb. X")
        assert status(cli)["facts"] == {"envoy": "Amb. X"}
        assert cli("set", "eng-1", "envoy=")[0] == 0
        assert "envoy" not in status(cli)["facts"]

    @pytest.mark.parametrize(
        ("assignment", "stored"),
        [
            ("consent.parties=yes", True),
            ("consent.parties=false", False),
            ("mandate.date=2026-02-01", "2026-02-01"),
            ("organization.role=co-lead", "co-lead"),
            ("conflict=Any text, even = signs", "Any text, even = signs"),
        ],
        ids=["bool-yes", "bool-false", "date", "choice", "text"],
    )
    def test_typed_values_are_stored_typed(self, cli: Cli, assignment: str, stored: object) -> None:
        """Valid values of each fact type are stored with their type."""
        cli("new", "eng-1", "--playbook", "core")
        assert cli("set", "eng-1", assignment)[0] == 0
        key = assignment.split("=")[0]
        assert status(cli)["facts"][key] == stored

    @pytest.mark.parametrize(
        "assignment",
        [
            "consent.parties=maybe",
            "mandate.date=2026-13-01",
            "mandate.date=yesterday",
            "organization.role=boss",
            "envoy",
        ],
        ids=["bool", "date-month", "date-word", "choice", "no-equals"],
    )
    def test_bad_values_are_usage_errors(self, cli: Cli, assignment: str) -> None:
        """A value not of the fact's type exits 2, one line, nothing recorded."""
        cli("new", "eng-1", "--playbook", "core")
        code, _, err = cli("set", "eng-1", assignment)
        assert code == 2
        assert len(err.strip().splitlines()) == 1
        assert [e["type"] for e in events(cli)] == ["opened"]


class TestHistoryAndJson:
    def test_history_at_shows_the_past_state(self, cli: Cli) -> None:
        """`history --at 1 --json` shows the engagement as opened, not as it is now."""
        cli_drive(cli, until="complete-analysis")
        cli("set", "eng-1", "envoy=Amb. Y")
        code, out, _ = cli("history", "eng-1", "--at", "1", "--json")
        assert code == 0
        past = json.loads(out)
        assert past["at"] == 1
        assert (past["status"]["stage"], past["status"]["facts"], past["status"]["events"]) == (
            "support-request",
            {},
            1,
        )
        assert status(cli)["stage"] == "conflict-analysis"

    def test_history_at_text(self, cli: Cli) -> None:
        """The text form of `history --at` names the event and the past stage."""
        cli_drive(cli, until="complete-analysis")
        code, out, _ = cli("history", "eng-1", "--at", "1")
        assert code == 0
        assert "As it stood at event 1" in out and "support-request" in out

    def test_status_json_shape(self, cli: Cli) -> None:
        """status --json has the documented keys, with the checklist gate as rule "checklist"."""
        cli("new", "eng-1", "--playbook", "core")
        data = status(cli)
        for key in ("engagement", "playbook", "stage", "final", "facts", "checklist", "triggers"):
            assert key in data
        assert data["engagement"] == "eng-1" and data["final"] is False
        assert set(data["playbook"]) >= {"id", "version", "sha256"}
        assert (data["playbook"]["id"], len(data["playbook"]["sha256"])) == ("core", 64)
        assert all(set(i) >= {"id", "text", "required", "done"} for i in data["checklist"])
        accept = next(t for t in data["triggers"] if t["id"] == "accept-request")
        assert set(accept) >= {"id", "to", "allowed", "blocked_by", "warnings"}
        assert accept["to"] == "conflict-analysis" and accept["allowed"] is False
        block = accept["blocked_by"][0]
        assert set(block) >= {"rule", "severity", "message", "overridable"}
        assert (block["rule"], block["severity"], block["overridable"]) == (
            "checklist",
            "block",
            False,
        )

    def test_status_json_trigger_allowed_once_items_done(self, cli: Cli) -> None:
        """After the required items are ticked the trigger is allowed with no blockers."""
        cli("new", "eng-1", "--playbook", "core")
        for item in CORE_PATH[0][1]:
            cli("check", "eng-1", item)
        accept = next(t for t in status(cli)["triggers"] if t["id"] == "accept-request")
        assert (accept["allowed"], accept["blocked_by"]) == (True, [])

    def test_list_json(self, cli: Cli) -> None:
        """list --json lists each engagement with its playbook, stage and event count."""
        cli("new", "eng-1", "--playbook", "core")
        cli("new", "eng-2", "--playbook", "eac", "--title", "Second")
        code, out, _ = cli("list", "--json")
        assert code == 0
        rows = {r["engagement"]: r for r in json.loads(out)["engagements"]}
        assert set(rows) == {"eng-1", "eng-2"}
        assert (rows["eng-2"]["playbook"], rows["eng-2"]["stage"], rows["eng-2"]["events"]) == (
            "eac",
            "support-request",
            1,
        )
        assert rows["eng-1"]["final"] is False and rows["eng-1"]["error"] is None


class TestPluginHook:
    def _engine(self, workspace: Path, hook: Callable[..., None]) -> Engine:
        @lifecycle.hookimpl
        def lifecycle_event(engagement: Any, event: dict[str, Any]) -> None:
            hook(engagement, event)

        plugin = SimpleNamespace(lifecycle_event=lifecycle_event)
        plugins = make_plugin_manager(load_entrypoints=False, extra_plugins=[plugin], environ={})
        return Engine(workspace, plugins=plugins, playbook_dirs=[FIXTURES])

    def test_hook_hears_each_event_after_append(self, workspace: Path) -> None:
        """lifecycle_event gets every appended event, with the state after it, refusals included."""
        heard: list[tuple[int, str, str, int]] = []
        file = workspace / "eng-1.history.jsonl"
        engine = self._engine(
            workspace,
            lambda eng, ev: heard.append(
                (ev["seq"], ev["type"], eng.stage, file.read_bytes().count(b"\n") - 1)
            ),
        )
        engine.open("eng-1", "core", actor="officer")
        engine.check("eng-1", "request-recorded", actor="officer")
        with pytest.raises(lifecycle.exceptions.RefusedError):
            engine.advance("eng-1", "accept-request", actor="officer")
        assert heard == [
            (1, "opened", "support-request", 1),
            (2, "item_checked", "support-request", 2),
            (3, "refused", "support-request", 3),
        ]

    def test_hook_error_does_not_lose_the_event(self, workspace: Path) -> None:
        """An error raised in the hook is reported and the event stays in the history."""

        def boom(engagement: Any, event: dict[str, Any]) -> None:
            raise RuntimeError("listener down")

        engine = self._engine(workspace, boom)
        opened = engine.open("eng-1", "core", actor="officer")
        result = engine.check("eng-1", "request-recorded", actor="officer")
        assert any("listener down" in str(e) for e in result.plugin_errors)
        assert opened.plugin_errors
        assert [e["type"] for e in engine.history("eng-1")] == ["opened", "item_checked"]
        assert engine.engagement("eng-1").is_done("request-recorded")

    def test_engine_drive_matches_cli_drive(self, engine: Engine, cli: Cli) -> None:
        """The library and the CLI reach the same stage and event types on the same path."""
        drive_core(engine, "lib-1")
        cli_drive(cli, "cli-1")
        lib = [e["type"] for e in engine.history("lib-1")]
        assert lib == [e["type"] for e in events(cli, "cli-1")]
        assert engine.engagement("lib-1").stage == status(cli, "cli-1")["stage"] == "closed"


def test_apply_refuses_an_unhashable_event_type_as_a_replay_error(engine: Engine) -> None:
    """An event whose `type` is a list is a ReplayError naming it (not a TypeError from the
    lookup), as every other unknown type is."""
    from lifecycle._replay import ReplayError, apply

    engine.open("e1", "core", actor="officer")
    state = engine.engagement("e1")
    with pytest.raises(ReplayError, match="unknown event type"):
        apply(state, {"seq": 2, "type": ["note_added"], "v": 1, "data": {"text": "x"}})
