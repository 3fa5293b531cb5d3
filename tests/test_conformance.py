"""Issue #9 items 1, 2, 4 and 12: resume returns where support was suspended, the `unchecked`
flag, missed cadences, and trigger reasons; each through the engine, the CLI and the audit."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from lifecycle import Engine, audit_file, hookimpl, load_playbook, make_plugin_manager
from lifecycle.exceptions import PlaybookError, RefusedError
from test_tamper import rechain, split

from conftest import CORE_PATH, ROOT, drive_core

Cli = Callable[..., tuple[int, str, str]]
WHY = "The parties asked for a pause in the talks"


def findings(engine: Engine, eid: str = "eng-1") -> list[tuple[str, str, int | None]]:
    """(code, severity, seq) of every finding of *eid*'s audit."""
    report = audit_file(
        engine.workspace.path_of(eid), kinds=engine.rule_kinds, today=engine.today()
    )
    return [(f.code, f.severity, f.seq) for f in report.findings]


def messages(engine: Engine, code: str, eid: str = "eng-1") -> list[str]:
    """The messages of *eid*'s findings with *code*."""
    report = audit_file(
        engine.workspace.path_of(eid), kinds=engine.rule_kinds, today=engine.today()
    )
    return [f.message for f in report.findings if f.code == code]


class TestResumeReturns:
    def test_un_suspend_resume_returns_to_the_first_stage(self, engine: Engine, cli: Cli) -> None:
        """Under `un`, new + suspend + resume lands back in support-request, and audits clean."""
        assert cli("new", "eng-1", "--playbook", "un")[0] == 0
        assert cli("advance", "eng-1", "suspend", "--reason", WHY)[0] == 0
        code, out, err = cli("advance", "eng-1", "resume")
        assert code == 0, err
        assert "suspended -> support-request" in out
        assert engine.engagement("eng-1").stage == "support-request"
        assert findings(engine) == []

    def test_from_debriefing_resume_reopens_debriefing(self, engine: Engine) -> None:
        """Suspended from debriefing, resume returns to debriefing, not to active support."""
        drive_core(engine, until="complete-debriefing")
        engine.advance("eng-1", "suspend", actor="officer", reason=WHY)
        assert engine.advance("eng-1", "resume", actor="officer").engagement.stage == "debriefing"
        assert findings(engine) == []

    def test_status_shows_where_resume_leads(self, engine: Engine, cli: Cli) -> None:
        """While suspended, status lists resume with its real destination; elsewhere `@return`."""
        drive_core(engine, until="start-support")
        before = json.loads(cli("status", "eng-1", "--json")[1])
        assert next(t for t in before["triggers"] if t["id"] == "resume")["to"] == "@return"
        engine.advance("eng-1", "suspend", actor="officer", reason=WHY)
        status = json.loads(cli("status", "eng-1", "--json")[1])
        resume = next(t for t in status["triggers"] if t["id"] == "resume")
        assert (resume["to"], resume["allowed"]) == ("thematic-briefings", True)

    def test_forced_in_from_a_final_stage_cannot_resume(self, engine: Engine) -> None:
        """Forced from `closed` into suspended, resume has no trigger back there: refused, recorded."""
        drive_core(engine)
        engine.force("eng-1", "suspended", actor="head", reason="Reopened to pause the archive")
        with pytest.raises(RefusedError, match="cannot fire from stage 'suspended'"):
            engine.advance("eng-1", "resume", actor="officer")
        assert engine.history("eng-1")[-1]["type"] == "refused"
        assert [f for f in findings(engine) if f[1] == "error"] == []

    def test_every_shipped_playbook_resumes_where_it_was(self, engine: Engine) -> None:
        """In core and every playbook shipped, resume from a stage's suspension returns there."""
        for path in sorted((ROOT / "playbooks").glob("*.toml")):
            pb = engine.catalog.resolve(path.stem).playbook
            resume = pb.trigger("resume")
            assert resume is not None and resume.returns, path.name
            eid = f"eng-{path.stem}"
            consent = ["consent.government=true"] if pb.fact("consent.government") else []
            engine.open(eid, path.stem, actor="officer", facts=consent)
            engine.advance(eid, "suspend", actor="officer", reason=WHY)
            after = engine.advance(eid, "resume", actor="officer").engagement
            assert after.stage == pb.initial_stage().id, path.name

    def test_old_playbook_resume_elsewhere_is_an_error(self, tmp_path: Path, plugins) -> None:
        """Under a playbook from before `@return`, a resume to active support from support-request is
        `return-elsewhere`; one back to active support, where it was suspended, stays valid."""
        folder = tmp_path / "old"
        folder.mkdir()
        text = (ROOT / "playbooks" / "core.toml").read_text(encoding="utf-8")
        text = text.replace('id = "core"', 'id = "oldcore"').replace('reason = "required"\n', "")
        (folder / "oldcore.toml").write_text(
            text.replace('to = "@return"', 'to = "active-support"'), encoding="utf-8"
        )
        engine = Engine(tmp_path / "ws", plugins=plugins, playbook_dirs=[folder])
        engine.open("eng-1", "oldcore", actor="officer")
        engine.advance("eng-1", "suspend", actor="officer")
        engine.advance("eng-1", "resume", actor="officer")  # the old meaning: active support
        assert ("return-elsewhere", "error", 3) in findings(engine)
        engine.open("eng-2", "oldcore", actor="officer")
        for trigger, items, facts in CORE_PATH[:5]:
            for item in items:
                engine.check("eng-2", item, actor="officer")
            if facts:
                engine.set_facts("eng-2", facts, actor="officer")
            engine.advance("eng-2", trigger, actor="officer")
        engine.advance("eng-2", "suspend", actor="officer")
        engine.advance("eng-2", "resume", actor="officer")
        assert engine.engagement("eng-2").stage == "active-support"
        assert [f for f in findings(engine, "eng-2") if f[1] == "error"] == []

    @pytest.mark.parametrize(
        ("triggers", "problem"),
        [
            (
                '[[triggers]]\nid = "back"\nfrom = ["a"]\nto = "@return"\n',
                "$.triggers[1].from[0]: no trigger enters stage 'a', so '@return' has nowhere",
            ),
            (
                '[[triggers]]\nid = "back"\nfrom = ["b"]\nto = "@return"\nreason = "yes"\n',
                "$.triggers[1].reason: 'yes' is not one of 'required'",
            ),
            (
                '[[triggers]]\nid = "back"\nfrom = ["b"]\nto = "@return"\nreason = true\n',
                "$.triggers[1].reason:",
            ),
        ],
        ids=["nowhere-to-return", "reason-word", "reason-type"],
    )
    def test_playbook_errors(self, tmp_path: Path, cli: Cli, triggers: str, problem: str) -> None:
        """A returning trigger from a stage nothing enters, or a bad `reason`, is a load error."""
        path = tmp_path / "bad.toml"
        path.write_text(
            'schema = 1\nid = "bad"\nversion = "1"\ntitle = "Bad"\n'
            '[[stages]]\nid = "a"\ntitle = "A"\ninitial = true\n'
            '[[stages]]\nid = "b"\ntitle = "B"\n'
            '[[stages]]\nid = "c"\ntitle = "C"\nfinal = true\n'
            '[[triggers]]\nid = "go"\nfrom = ["a", "b"]\nto = "c"\n' + triggers,
            encoding="utf-8",
        )
        code, out, err = cli("playbooks", "check", str(path))
        assert code == 1 and "Traceback" not in out + err
        assert problem in out + err
        with pytest.raises(PlaybookError):
            load_playbook(path)


class TestReasons:
    @pytest.mark.parametrize("trigger", ["suspend", "withdraw"])
    def test_missing_reason_is_refused_and_recorded(
        self, engine: Engine, cli: Cli, trigger: str
    ) -> None:
        """Core's suspend and withdraw without --reason (or with a non-sentence) exit 1 and record
        a refusal naming the missing reason; nothing moves."""
        cli("new", "eng-1", "--playbook", "core")
        for args in ((), ("--reason", "ok"), ("--reason", "   ")):
            code, _, err = cli("advance", "eng-1", trigger, *args)
            assert code == 1, args
            assert f"no reason: trigger {trigger!r} needs a reason (--reason)" in err
            assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
        events = json.loads(cli("history", "eng-1", "--json")[1])["events"]
        refused = [e for e in events if e["type"] == "refused"]
        assert len(refused) == 3
        assert refused[1]["data"]["reason"] == "ok" and "reason" not in refused[2]["data"]
        assert json.loads(cli("status", "eng-1", "--json")[1])["stage"] == "support-request"
        assert findings(engine) == []

    def test_reason_is_recorded_in_data(self, engine: Engine, cli: Cli) -> None:
        """A required reason given is stored as `data.reason`; the audit is clean."""
        cli("new", "eng-1", "--playbook", "core")
        assert cli("advance", "eng-1", "withdraw", "--reason", f"  {WHY}  ")[0] == 0
        event = engine.history("eng-1")[-1]
        assert (event["type"], event["data"]["reason"]) == ("advanced", WHY)
        assert "reason" not in event
        assert findings(engine) == []

    def test_reason_not_needed_is_recorded(self, engine: Engine, cli: Cli) -> None:
        """A reason given to a trigger that needs none is recorded, never dropped."""
        cli("new", "eng-1", "--playbook", "core")
        for item in CORE_PATH[0][1]:
            cli("check", "eng-1", item)
        assert cli("advance", "eng-1", "accept-request", "--reason", "ok")[0] == 0
        assert engine.history("eng-1")[-1]["data"]["reason"] == "ok"
        assert findings(engine) == []

    def test_override_with_nothing_to_override_is_recorded_for_activities(
        self, engine: Engine, cli: Cli
    ) -> None:
        """`record --override` when no rule blocks keeps the text, with no rule overridden."""
        drive_core(engine, until="end-support")
        code, _, err = cli("--actor", "head", "record", "eng-1", "peer-coaching", "--override", WHY)
        assert code == 0, err
        event = engine.history("eng-1")[-1]
        assert event["reason"] == WHY and event["data"]["override"]["rules"] == []
        assert findings(engine) == []


class Failing:
    """A plugin whose rule kind `failing.check` always raises."""

    @hookimpl
    def register_rule_kinds(self):
        """The failing kind."""
        from lifecycle import Param, RuleKind

        def boom(rule, engagement, action):
            raise RuntimeError("registry unreachable")

        return [RuleKind("failing.check", boom, {"fact": Param("str", ref="fact")})]


class TestUnchecked:
    def test_failing_plugin_rule_is_unchecked_and_accepted(self, tmp_path: Path) -> None:
        """A plugin rule that fails is recorded unchecked (a block, overridable); its refusal and
        its override audit with a warning only."""
        (tmp_path / "pb").mkdir()
        (tmp_path / "pb" / "failorg.toml").write_text(
            'schema = 1\nid = "failorg"\nversion = "1"\ntitle = "F"\nextends = "core"\n'
            '[[rules]]\nid = "r"\non = ["accept-request"]\nkind = "failing.check"\n'
            'fact = "envoy"\noverride_roles = ["head-of-unit"]\n',
            encoding="utf-8",
        )
        workspace = tmp_path / "ws"
        workspace.mkdir()
        (workspace / "lifecycle.toml").write_text(
            '[actors."head"]\nroles = ["head-of-unit"]\n', encoding="utf-8"
        )
        plugins = make_plugin_manager(load_entrypoints=False, extra_plugins=[Failing()], environ={})
        engine = Engine(workspace, plugins=plugins, playbook_dirs=[tmp_path / "pb"])
        engine.open("eng-1", "failorg", actor="head")
        for item in CORE_PATH[0][1]:
            engine.check("eng-1", item, actor="head")
        with pytest.raises(RefusedError):
            engine.advance("eng-1", "accept-request", actor="head")
        engine.advance("eng-1", "accept-request", actor="head", override=WHY)
        recorded = [e["data"]["rules"][0] for e in engine.history("eng-1")[-2:]]
        assert [(r["outcome"], r["unchecked"]) for r in recorded] == [
            ("block", True),
            ("overridden", True),
        ]
        assert [f for f in findings(engine) if f[1] == "error"] == []
        assert ("rule-unchecked-when-recorded", "warning", 5) in findings(engine)

        def erase(record: dict) -> None:
            record["data"]["rules"][0]["outcome"] = "pass"
            del record["data"]["override"], record["reason"]

        path = engine.workspace.path_of("eng-1")
        path.write_bytes(b"".join(rechain(split(path.read_bytes()), 5, erase)))
        assert ("unchecked-not-possible", "error", 5) in findings(engine)


class TestMissedCadences:
    @pytest.fixture
    def clocked(self, workspace: Path, plugins, fixed_clock) -> Engine:
        """An engine on a clock the test moves."""
        return Engine(workspace, plugins=plugins, clock=fixed_clock)

    def test_leaving_active_support_overdue_is_reported(self, clocked: Engine, fixed_clock) -> None:
        """Ending support 200 days in, with no retreat or coaching, gives a `cadence-missed` warning
        for each at the end-support event, with due date and days late, down to closed."""
        drive_core(clocked, until="end-support")
        fixed_clock.advance(days=200)
        drive_rest(clocked)
        end = next(e for e in clocked.history("eng-1") if e["data"].get("trigger") == "end-support")
        found = [f for f in findings(clocked) if f[0] == "cadence-missed"]
        assert found == [("cadence-missed", "warning", end["seq"])] * 2
        texts = messages(clocked, "cadence-missed")
        assert any(
            "activity reflection-retreat was due 2026-07-04" in t and "20 day(s) late" in t
            for t in texts
        )
        assert any("activity peer-coaching was due 2026-04-05" in t for t in texts)

    def test_recorded_late_and_recorded_after_due(self, clocked: Engine, fixed_clock) -> None:
        """A coaching held 10 days late, and one held in time but recorded 5 days after it was due,
        each give one warning at their own event."""
        drive_core(clocked, until="end-support")
        fixed_clock.advance(days=100)
        first = clocked.record("eng-1", "peer-coaching", actor="officer").event["seq"]
        fixed_clock.advance(days=95)
        held = fixed_clock.now.date() - dt_days(10)
        second = clocked.record("eng-1", "peer-coaching", actor="officer", on=held).event["seq"]
        texts = dict(
            zip(
                [f[2] for f in findings(clocked) if f[0] == "cadence-missed"],
                messages(clocked, "cadence-missed"),
                strict=True,
            )
        )
        assert "10 day(s) late" in texts[first] and "held 2026-04-15" in texts[first]
        assert "recorded only on" in texts[second] and "5 day(s) late" in texts[second]

    def test_a_span_is_reported_once(self, clocked: Engine, fixed_clock) -> None:
        """Leaving active support with coaching overdue, coming back and recording it late reports
        that span once, at the leaving event."""
        drive_core(clocked, until="end-support")
        clocked.record("eng-1", "peer-coaching", actor="officer")
        fixed_clock.advance(days=100)
        left = clocked.advance("eng-1", "request-briefing", actor="officer").event["seq"]
        clocked.check("eng-1", "themes-agreed", actor="officer")
        clocked.advance("eng-1", "start-support", actor="officer")
        clocked.record("eng-1", "peer-coaching", actor="officer")
        found = [f for f in findings(clocked) if f[0] == "cadence-missed"]
        assert found == [("cadence-missed", "warning", left)]


def dt_days(days: int) -> dt.timedelta:
    """A timedelta of *days*."""
    return dt.timedelta(days=days)


def drive_rest(engine: Engine) -> None:
    """Drive eng-1 from active support to closed along CORE_PATH."""
    for trigger, items, _ in CORE_PATH[5:]:
        for item in items:
            engine.check("eng-1", item, actor="officer")
        engine.advance("eng-1", trigger, actor="officer")
