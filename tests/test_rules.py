"""Every core rule kind, both ways, through the CLI, on tests/playbooks/rules-fixture.toml."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest

from conftest import FIXTURES

Cli = Callable[..., tuple[int, str, str]]


def today() -> dt.date:
    """Today in UTC, read when used (a module constant goes stale across midnight)."""
    return dt.datetime.now(dt.UTC).date()


def ago(days: int) -> str:
    return (today() - dt.timedelta(days=days)).isoformat()


@pytest.fixture
def lc(cli: Cli) -> Cli:
    """The CLI with the fixture playbooks, on an engagement `r1` opened under rules-fixture."""

    def run(*args: str) -> tuple[int, str, str]:
        return cli("--playbooks", str(FIXTURES), *args)

    code, _, err = run("new", "r1", "--playbook", "rules-fixture")
    assert code == 0, err
    return run


def last_event(lc: Cli) -> dict[str, Any]:
    code, out, err = lc("history", "r1", "--json")
    assert code == 0, err
    return json.loads(out)["events"][-1]


def outcomes(event: dict[str, Any]) -> dict[str, str]:
    return {r["rule"]: r["outcome"] for r in event["data"]["rules"]}


def trigger_status(lc: Cli, trigger: str) -> dict[str, Any]:
    code, out, _ = lc("status", "r1", "--json")
    assert code == 0
    return next(t for t in json.loads(out)["triggers"] if t["id"] == trigger)


def assert_blocked(lc: Cli, trigger: str, rule: str, detail: str) -> None:
    code, _, err = lc("advance", "r1", trigger)
    assert code == 1, err
    assert f"{rule}: " in err and detail in err
    event = last_event(lc)
    assert event["type"] == "refused"
    assert outcomes(event)[rule] == "block"


def assert_passes(lc: Cli, trigger: str, rule: str) -> None:
    code, _, err = lc("advance", "r1", trigger)
    assert code == 0, err
    event = last_event(lc)
    assert event["type"] == "advanced"
    assert outcomes(event)[rule] == "pass"


class TestFactRules:
    def test_fact_required_without_values(self, lc: Cli) -> None:
        """fact-required blocks while the fact is unset, and passes once it has any value."""
        assert_blocked(lc, "go-required", "needs-mandate", "fact 'mandate' is not set")
        lc("set", "r1", "mandate=Council decision 7")
        assert_passes(lc, "go-required", "needs-mandate")

    @pytest.mark.parametrize(
        ("value", "detail"),
        [
            (None, "fact 'role' is not set"),
            ("support", "fact 'role' is 'support', not one of 'lead'"),
        ],
        ids=["unset", "other-value"],
    )
    def test_fact_required_with_values_blocks(
        self, lc: Cli, value: str | None, detail: str
    ) -> None:
        """fact-required with values blocks when the fact is unset or not one of them."""
        if value:
            lc("set", "r1", f"role={value}")
        assert_blocked(lc, "go-values", "needs-lead", detail)

    def test_fact_required_with_values_passes(self, lc: Cli) -> None:
        """fact-required with values passes when the fact is one of them."""
        lc("set", "r1", "role=lead")
        assert_passes(lc, "go-values", "needs-lead")

    def test_fact_required_after_unset_blocks_again(self, lc: Cli) -> None:
        """Unsetting a fact with `set KEY=` makes fact-required block again."""
        lc("set", "r1", "mandate=Council decision 7")
        lc("set", "r1", "mandate=")
        assert_blocked(lc, "go-required", "needs-mandate", "not set")

    @pytest.mark.parametrize("value", [None, "support"], ids=["unset", "other-value"])
    def test_fact_forbids_passes(self, lc: Cli, value: str | None) -> None:
        """fact-forbids passes while the fact is unset or has an allowed value."""
        if value:
            lc("set", "r1", f"role={value}")
        assert_passes(lc, "go-forbids", "no-lead")

    def test_fact_forbids_blocks(self, lc: Cli) -> None:
        """fact-forbids blocks while the fact has a forbidden value."""
        lc("set", "r1", "role=lead")
        assert_blocked(lc, "go-forbids", "no-lead", "fact 'role' is 'lead'")

    def test_fact_forbids_on_activity(self, lc: Cli) -> None:
        """A rule with on_activity guards recording that activity, and the refusal is recorded."""
        lc("set", "r1", "role=lead")
        code, _, err = lc("record", "r1", "training")
        assert code == 1 and "no-lead-training" in err
        event = last_event(lc)
        assert (event["type"], event["data"]["activity"]) == ("refused", "training")
        assert outcomes(event) == {"no-lead-training": "block"}
        lc("set", "r1", "role=support")
        assert lc("record", "r1", "training")[0] == 0
        assert outcomes(last_event(lc)) == {"no-lead-training": "pass"}


class TestStageRules:
    def test_stage_visited(self, lc: Cli) -> None:
        """stage-visited blocks until the stage was entered once."""
        assert_blocked(lc, "go-visited", "side-visited", "stage 'side' has not been visited")
        lc("advance", "r1", "to-side")
        lc("advance", "r1", "from-side")
        assert_passes(lc, "go-visited", "side-visited")

    def test_checklist_complete(self, lc: Cli) -> None:
        """checklist-complete blocks until another stage's required items are done."""
        assert_blocked(lc, "go-checklist", "side-done", "required items not done: side-item")
        lc("advance", "r1", "to-side")
        lc("advance", "r1", "from-side")
        assert lc("check", "r1", "side-item")[0] == 0  # a stage visited before
        assert_passes(lc, "go-checklist", "side-done")


class TestActivityRecorded:
    def test_min_counts_recordings(self, lc: Cli) -> None:
        """activity-recorded with min=2 blocks at 0 and 1 recordings and passes at 2."""
        assert_blocked(lc, "go-activity", "two-briefings", "recorded 0 time(s), 2 needed")
        lc("record", "r1", "briefing")
        assert_blocked(lc, "go-activity", "two-briefings", "recorded 1 time(s), 2 needed")
        lc("record", "r1", "briefing", "--on", ago(3))
        assert_passes(lc, "go-activity", "two-briefings")

    def test_since_stage_never_entered_counts_zero(self, lc: Cli) -> None:
        """With `since` a stage never entered, earlier recordings do not count."""
        lc("record", "r1", "briefing")
        assert_blocked(
            lc,
            "go-since",
            "briefing-since-side",
            "recorded 0 time(s) since stage 'side' was last entered, 1 needed",
        )

    def test_since_counts_only_after_last_entry(self, lc: Cli) -> None:
        """A recording after entering the since stage counts; one before the last entry does not."""
        lc("advance", "r1", "to-side")
        lc("record", "r1", "briefing")
        lc("advance", "r1", "from-side")
        assert_passes(lc, "go-since", "briefing-since-side")
        lc("advance", "r1", "back")
        lc("record", "r1", "briefing")
        lc("advance", "r1", "to-side")
        lc("advance", "r1", "from-side")
        assert_blocked(lc, "go-since", "briefing-since-side", "recorded 0 time(s)")


class TestWithinDays:
    def test_does_not_apply_when_after_never_happened(self, lc: Cli) -> None:
        """Without a kickoff, the within-days rule passes."""
        assert_passes(lc, "go-within", "soon-after-kickoff")

    @pytest.mark.parametrize("days", [0, 10], ids=["same-day", "last-day"])
    def test_passes_within_the_days(self, lc: Cli, days: int) -> None:
        """The guarded trigger passes up to and including `days` after the kickoff."""
        lc("record", "r1", "kickoff", "--on", ago(days))
        assert_passes(lc, "go-within", "soon-after-kickoff")

    def test_blocks_after_the_days(self, lc: Cli) -> None:
        """The guarded trigger is blocked the day after the deadline, naming the due date."""
        lc("record", "r1", "kickoff", "--on", ago(11))
        due = (today() - dt.timedelta(days=1)).isoformat()
        assert_blocked(lc, "go-within", "soon-after-kickoff", f"due by {due}")

    def test_counts_from_the_latest_after(self, lc: Cli) -> None:
        """A later kickoff restarts the clock, even when recorded with an earlier --on first."""
        lc("record", "r1", "kickoff", "--on", ago(2))
        lc("record", "r1", "kickoff", "--on", ago(40))
        assert_passes(lc, "go-within", "soon-after-kickoff")

    def test_counts_from_the_latest_after_before_the_action(self, lc: Cli) -> None:
        """A kickoff dated after the guarded activity does not hide lateness against the one before."""
        lc("record", "r1", "kickoff", "--on", ago(20))
        lc("record", "r1", "kickoff", "--on", ago(1))
        code, _, err = lc("record", "r1", "report", "--on", ago(14))
        assert code == 1 and "report-soon" in err and "1 day(s) late" in err
        assert outcomes(last_event(lc)) == {"report-soon": "block"}

    def test_guards_an_activity_by_its_own_date(self, lc: Cli) -> None:
        """On an activity, within-days compares the activity's --on date with the kickoff."""
        lc("record", "r1", "kickoff", "--on", ago(20))
        assert lc("record", "r1", "report", "--on", ago(16))[0] == 0
        assert outcomes(last_event(lc)) == {"report-soon": "pass"}
        code, _, err = lc("record", "r1", "report")
        assert code == 1 and "report-soon" in err
        assert outcomes(last_event(lc)) == {"report-soon": "block"}


class TestSeverityAndRecording:
    def test_warn_allows_records_and_shows(self, lc: Cli) -> None:
        """A failing warn rule lets the trigger fire, prints a warning and records `warn`."""
        warning = trigger_status(lc, "go-warn")
        assert warning["allowed"] is True and warning["blocked_by"] == []
        assert [w["rule"] for w in warning["warnings"]] == ["mandate-advised"]
        code, _, err = lc("advance", "r1", "go-warn")
        assert code == 0
        assert "warning: mandate-advised: A mandate should be recorded." in err
        assert outcomes(last_event(lc)) == {"mandate-advised": "warn"}

    def test_every_rule_evaluated_is_recorded(self, lc: Cli) -> None:
        """A refusal lists each rule on the trigger with its own outcome, and every reason."""
        lc("set", "r1", "consent=no")
        code, _, err = lc("advance", "r1", "go-two")
        assert code == 1 and "two-a: " in err and "two-b: " in err
        event = last_event(lc)
        assert outcomes(event) == {"two-a": "block", "two-b": "block"}
        assert len(event["data"]["why"]) == 2
        lc("set", "r1", "mandate=Decision 9")
        assert lc("advance", "r1", "go-two")[0] == 1
        assert outcomes(last_event(lc)) == {"two-a": "pass", "two-b": "block"}
        lc("set", "r1", "consent=yes")
        assert lc("advance", "r1", "go-two")[0] == 0
        assert outcomes(last_event(lc)) == {"two-a": "pass", "two-b": "pass"}

    def test_recorded_rules_carry_kind_severity_message(self, lc: Cli) -> None:
        """Each recorded rule names its kind and severity, with the message when it failed."""
        lc("advance", "r1", "go-required")
        (rule,) = last_event(lc)["data"]["rules"]
        assert rule == {
            "rule": "needs-mandate",
            "kind": "fact-required",
            "severity": "block",
            "outcome": "block",
            "message": "Record the mandate. (fact 'mandate' is not set)",
        }

    def test_gated_trigger_records_the_checklist_gate(self, lc: Cli) -> None:
        """A trigger with the gate records rule "checklist" among its outcomes."""
        assert lc("advance", "r1", "finish")[0] == 1
        assert outcomes(last_event(lc)) == {"checklist": "block"}
        lc("check", "r1", "hub-item")
        assert lc("advance", "r1", "finish")[0] == 0
        assert outcomes(last_event(lc)) == {"checklist": "pass"}


class TestRecordActivities:
    def test_activity_outside_its_stages_is_refused_and_recorded(self, lc: Cli) -> None:
        """Recording kickoff (during hub) while in side exits 1 and records a refusal."""
        lc("advance", "r1", "to-side")
        code, _, err = lc("record", "r1", "kickoff")
        assert code == 1
        assert "recorded during hub, not 'side'" in err
        event = last_event(lc)
        assert (event["type"], event["data"]["action"], event["data"]["activity"]) == (
            "refused",
            "record",
            "kickoff",
        )

    def test_future_date_is_refused(self, lc: Cli) -> None:
        """`record --on` tomorrow fails with one line and records nothing."""
        tomorrow = (today() + dt.timedelta(days=1)).isoformat()
        code, _, err = lc("record", "r1", "briefing", "--on", tomorrow)
        assert code != 0
        assert "future" in err and len(err.strip().splitlines()) == 1
        assert last_event(lc)["type"] == "opened"

    def test_date_before_opening_is_accepted(self, lc: Cli) -> None:
        """`record --on` a date years before the engagement was opened is recorded as given."""
        assert lc("record", "r1", "briefing", "--on", "2020-02-29")[0] == 0
        event = last_event(lc)
        assert (event["type"], event["data"]["on"]) == ("activity_recorded", "2020-02-29")

    @pytest.mark.parametrize("bad", ["2026-02-30", "yesterday"], ids=["no-such-day", "word"])
    def test_malformed_date_is_a_usage_error(self, lc: Cli, bad: str) -> None:
        """A malformed --on date exits 2 without recording anything."""
        code, _, _ = lc("record", "r1", "briefing", "--on", bad)
        assert code == 2
        assert last_event(lc)["type"] == "opened"


def test_long_fact_values_are_capped_in_messages(tmp_path):
    """A 120 KB fact quoted by 150 rules makes a small refusal line: each quote is cut to
    QUOTE_CHARS characters and marked with an ellipsis, the same way every time, and it audits."""
    from lifecycle._rules import QUOTE_CHARS

    from conftest import run_cli

    rules = "".join(
        f'[[rules]]\nid = "r{i}"\non = ["accept-request"]\nkind = "fact-required"\n'
        'fact = "envoy"\nvalues = ["Amb. Y"]\n'
        for i in range(150)
    )
    (tmp_path / "pb").mkdir()
    (tmp_path / "pb" / "many.toml").write_text(
        'schema = 1\nid = "many"\nversion = "1"\ntitle = "Many"\nextends = "core"\n' + rules,
        encoding="utf-8",
    )
    base = ["--workspace", str(tmp_path / "ws"), "--playbooks", str(tmp_path / "pb")]
    env = {"LIFECYCLE_ACTOR": "officer"}
    opened = run_cli(
        *base, "new", "m1", "--playbook", "many", "--set", "envoy=" + "z" * 120_000, env=env
    )
    assert opened.returncode == 0, opened.stderr
    refused = run_cli(*base, "advance", "m1", "accept-request", env=env)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    last = (tmp_path / "ws" / "m1.history.jsonl").read_bytes().splitlines()[-1]
    assert len(last) < 200_000  # uncapped: 150 quotes of 120 KB, about 18 MB
    record = json.loads(last)
    quoted = "'" + "z" * QUOTE_CHARS + "…'"
    assert all(quoted in r["message"] for r in record["data"]["rules"] if r["rule"] != "checklist")
    run_cli(*base, "advance", "m1", "accept-request", env=env)  # the same text again
    assert (
        json.loads((tmp_path / "ws" / "m1.history.jsonl").read_bytes().splitlines()[-1])["data"][
            "rules"
        ]
        == record["data"]["rules"]
    )
    audit = run_cli(*base, "audit", str(tmp_path / "ws"), env=env)
    assert audit.returncode == 0, audit.stdout


def test_uncapped_messages_of_old_histories_still_audit_clean(tmp_path):
    """The audit compares outcomes, not message text: a history written before the cap, whose
    messages quote a long fact whole, audits clean."""
    from lifecycle import audit_file
    from lifecycle.exceptions import RefusedError
    from lifecycle.testing import make_engine
    from test_tamper import rechain, split

    (tmp_path / "pb").mkdir()
    (tmp_path / "pb" / "few.toml").write_text(
        'schema = 1\nid = "few"\nversion = "1"\ntitle = "Few"\nextends = "core"\n'
        + "".join(
            f'[[rules]]\nid = "r{i}"\non = ["accept-request"]\nkind = "fact-required"\n'
            'fact = "envoy"\nvalues = ["Amb. Y"]\n'
            for i in range(3)
        ),
        encoding="utf-8",
    )
    engine = make_engine(tmp_path / "ws", playbook_dirs=[tmp_path / "pb"])
    engine.open("old-1", "few", actor="officer", facts=["envoy=" + "w" * 5000])
    with pytest.raises(RefusedError):
        engine.advance("old-1", "accept-request", actor="officer")
    path = engine.workspace.path_of("old-1")
    capped, whole = "'" + "w" * 200 + "…'", repr("w" * 5000)

    def uncap(record):
        for rule in record["data"]["rules"]:
            rule["message"] = rule["message"].replace(capped, whole)
        record["data"]["why"] = [w.replace(capped, whole) for w in record["data"]["why"]]

    lines = rechain(split(path.read_bytes()), 2, uncap)
    assert lines[2].count(whole.encode()) == 6  # three rules, each in `rules` and in `why`
    path.write_bytes(b"".join(lines))
    report = audit_file(path, kinds=engine.rule_kinds, today=engine.today())
    assert report.ok, report.findings
