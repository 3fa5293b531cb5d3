"""Deadlines as data: cadences and within-days rules in `due`, `due --json` and `status`."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lifecycle import Engine

from conftest import CORE_PATH, FIXTURES, drive_core

Cli = Callable[..., tuple[int, str, str]]


def today() -> dt.date:
    """Today in UTC, read when used (a module constant goes stale across midnight)."""
    return dt.datetime.now(dt.UTC).date()


def ago(days: int) -> dt.date:
    return today() - dt.timedelta(days=days)


def due_json(cli: Cli) -> list[dict[str, Any]]:
    code, out, err = cli("due", "--json")
    assert code == 0, err
    return json.loads(out)["due"]


def find(items: list[dict[str, Any]], engagement: str, item: str) -> dict[str, Any] | None:
    return next((i for i in items if i["engagement"] == engagement and i["id"] == item), None)


@pytest.fixture
def overdue(engine: Engine) -> Engine:
    """eng-1 in active-support, its reflection retreat last held 200 days ago."""
    drive_core(engine, until="end-support")
    engine.record("eng-1", "reflection-retreat", actor="officer", on=ago(200))
    return engine


@pytest.fixture
def clocked(workspace: Path, plugins: Any, fixed_clock: Any) -> Engine:
    """An engine on the workspace whose clock the test moves."""
    return Engine(workspace, plugins=plugins, playbook_dirs=[FIXTURES], clock=fixed_clock)


class TestCadence:
    def test_due_lists_overdue_retreat_with_its_date(self, overdue: Engine, cli: Cli) -> None:
        """`lifecycle due` shows the retreat OVERDUE on the day 180 days after the last one."""
        code, out, _ = cli("due")
        assert code == 0
        line = next(line for line in out.splitlines() if "reflection-retreat" in line)
        assert line.startswith(f"{ago(20).isoformat()}  OVERDUE  eng-1 ")
        assert "activity reflection-retreat  (every 180 days)" in line

    def test_due_json_marks_it_overdue(self, overdue: Engine, cli: Cli) -> None:
        """`due --json` has the retreat with "overdue": true and its due date."""
        item = find(due_json(cli), "eng-1", "reflection-retreat")
        assert item is not None
        assert (item["overdue"], item["due"], item["kind"]) == (
            True,
            ago(20).isoformat(),
            "activity",
        )

    def test_not_yet_due_is_listed_but_not_overdue(self, overdue: Engine, cli: Cli) -> None:
        """Peer coaching never held counts 90 days from entering active-support: due, not overdue."""
        item = find(due_json(cli), "eng-1", "peer-coaching")
        assert item is not None and item["overdue"] is False
        entered = overdue.engagement("eng-1").last_entry("active-support")
        assert entered is not None
        assert item["due"] == (entered.on + dt.timedelta(days=90)).isoformat()

    def test_status_shows_the_engagements_own_due(self, overdue: Engine, cli: Cli) -> None:
        """status (text and JSON) shows the overdue retreat of this engagement."""
        code, out, _ = cli("status", "eng-1")
        assert code == 0
        assert f"{ago(20).isoformat()}  OVERDUE  activity reflection-retreat" in out
        code, out, _ = cli("status", "eng-1", "--json")
        due = json.loads(out)["due"]
        assert (due[0]["id"], due[0]["overdue"]) == ("reflection-retreat", True)

    def test_recording_the_retreat_clears_the_overdue(self, overdue: Engine, cli: Cli) -> None:
        """After a retreat today the next one is due in 180 days, not overdue."""
        assert cli("record", "eng-1", "reflection-retreat")[0] == 0
        item = find(due_json(cli), "eng-1", "reflection-retreat")
        assert item is not None
        assert (item["overdue"], item["due"]) == (
            False,
            (today() + dt.timedelta(days=180)).isoformat(),
        )

    def test_moving_clock_makes_cadence_overdue(self, clocked: Engine, fixed_clock: Any) -> None:
        """With the engine's clock moved past 180 days, the never-held retreat becomes overdue."""
        drive_core(clocked, until="end-support")
        (item,) = [i for i in clocked.due()[0] if i.id == "reflection-retreat"]
        assert item.overdue is False
        assert item.due == dt.date(2026, 1, 5) + dt.timedelta(days=180)
        fixed_clock.advance(days=181)
        (item,) = [i for i in clocked.due()[0] if i.id == "reflection-retreat"]
        assert item.overdue is True

    def test_cadence_only_during_its_stages(self, engine: Engine, cli: Cli) -> None:
        """No cadence is due before active-support, nor once the engagement is closed."""
        drive_core(engine, "early", until="start-support")
        drive_core(engine, "done")
        assert due_json(cli) == []
        code, out, _ = cli("due")
        assert code == 0 and out.strip() == "Nothing due."


class TestWithinDaysDeadline:
    def _to_appoint(self, engine: Engine) -> None:
        engine.open("eac-1", "eac", actor="officer")
        for trigger, items, _ in CORE_PATH[:2]:
            for item in items:
                engine.check("eac-1", item, actor="officer")
            engine.advance("eac-1", trigger, actor="officer")
        for item in CORE_PATH[2][1]:
            engine.check("eac-1", item, actor="officer")
        engine.set_facts("eac-1", [*CORE_PATH[2][2], "eac.un-au-consulted=yes"], actor="officer")

    def test_deadline_appears_once_after_happened(self, clocked: Engine) -> None:
        """eac's complete-induction deadline shows only after appoint, due seven days later."""
        self._to_appoint(clocked)
        assert [i for i in clocked.due()[0] if i.id == "complete-induction"] == []
        clocked.advance("eac-1", "appoint", actor="officer")
        (item,) = [i for i in clocked.due()[0] if i.id == "complete-induction"]
        assert (item.kind, item.due, item.overdue) == ("trigger", dt.date(2026, 1, 12), False)
        assert item.source == "rule eac-induction-within-7-days: within 7 days of appoint"

    def test_deadline_goes_overdue_then_disappears_once_done(
        self, clocked: Engine, fixed_clock: Any
    ) -> None:
        """Eight days on it is overdue; once complete-induction fires it is gone."""
        self._to_appoint(clocked)
        clocked.advance("eac-1", "appoint", actor="officer")
        fixed_clock.advance(days=8)
        (item,) = [i for i in clocked.due()[0] if i.id == "complete-induction"]
        assert item.overdue is True
        for item_id in [*CORE_PATH[3][1], "eac-tor-attached"]:
            clocked.check("eac-1", item_id, actor="officer")
        result = clocked.advance("eac-1", "complete-induction", actor="officer")
        assert any("eac-induction-within-7-days" in w for w in result.warnings)
        assert [i for i in clocked.due()[0] if i.id == "complete-induction"] == []

    def test_activity_deadline_via_cli(self, cli: Cli) -> None:
        """A within-days rule on an activity is due after its `after`, and gone once recorded."""
        run = lambda *a: cli("--playbooks", str(FIXTURES), *a)  # noqa: E731
        run("new", "r1", "--playbook", "rules-fixture")
        assert find(due_json(cli), "r1", "report") is None
        run("record", "r1", "kickoff", "--on", ago(7).isoformat())
        item = find(due_json(cli), "r1", "report")
        assert item is not None
        assert (item["due"], item["overdue"], item["kind"]) == (
            ago(2).isoformat(),
            True,
            "activity",
        )
        assert run("record", "r1", "report", "--on", ago(3).isoformat())[0] == 0
        assert find(due_json(cli), "r1", "report") is None


class TestOrdering:
    def test_items_sorted_soonest_first_across_engagements(self, engine: Engine, cli: Cli) -> None:
        """due interleaves engagements by date, the soonest first."""
        for name, retreat, coaching in (("eng-a", 200, None), ("eng-b", 190, 50)):
            drive_core(engine, name, until="end-support")
            engine.record(name, "reflection-retreat", actor="officer", on=ago(retreat))
            if coaching:
                engine.record(name, "peer-coaching", actor="officer", on=ago(coaching))
        items = due_json(cli)
        assert [(i["engagement"], i["id"]) for i in items] == [
            ("eng-a", "reflection-retreat"),
            ("eng-b", "reflection-retreat"),
            ("eng-b", "peer-coaching"),
            ("eng-a", "peer-coaching"),
        ]
        assert [i["due"] for i in items] == sorted(i["due"] for i in items)
        code, out, _ = cli("due")
        assert code == 0
        assert [line.split()[2] for line in out.splitlines()] == [
            "eng-a",
            "eng-b",
            "eng-b",
            "eng-a",
        ]

    def test_unreadable_engagement_is_reported_not_fatal(
        self, overdue: Engine, cli: Cli, workspace: Path
    ) -> None:
        """A broken history file is named in a warning; the others are still listed."""
        (workspace / "broken.history.jsonl").write_text("not json\n", encoding="utf-8")
        code, out, err = cli("due", "--json")
        assert code == 0
        data = json.loads(out)
        assert find(data["due"], "eng-1", "reflection-retreat") is not None
        assert len(data["unreadable"]) == 1 and data["unreadable"][0].startswith("broken: ")
        assert "warning: broken: " in err
