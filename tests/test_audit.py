"""Audit conformance and completeness: each finding code an auditor acts on, and the CLI around it."""

from __future__ import annotations

import datetime as dt
import json
import os
import pty
import select
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lifecycle import Engine, Param, RuleKind, Verdict, audit_file, hookimpl, make_plugin_manager
from lifecycle._lines import decode_line, encode_line

from conftest import CORE_PATH, drive_core

TO_SUPPORT = [step for step in CORE_PATH if step[0] != "end-support"][:5]


def _rewrite(path: Path, change: Callable[[dict[str, Any]], bool]) -> None:
    """Apply *change* to each event it accepts, then re-chain every line from there (a forger's edit)."""
    lines = path.read_bytes().splitlines()
    records = [decode_line(line)[0] for line in lines]
    out, head = [], None
    for index, record in enumerate(records):
        if index > 0:
            change(record)
            record["prev"] = head
        line = encode_line(record)
        out.append(line)
        head = decode_line(line[:-1])[1]
    path.write_bytes(b"".join(out))


def _codes(
    engine: Engine, engagement: str = "eng-1", today: dt.date | None = None
) -> dict[str, str]:
    report = audit_file(
        engine.workspace.path_of(engagement), kinds=engine.rule_kinds, today=today or engine.today()
    )
    return {f.code: f.severity for f in report.findings}


@pytest.fixture
def clocked(workspace: Path, plugins, fixed_clock) -> Engine:
    """An engine whose clock the test moves."""
    return Engine(workspace, plugins=plugins, clock=fixed_clock)


class TestCompleteness:
    def test_forced_close_without_debriefing_and_overdue(self, clocked: Engine, fixed_clock):
        """Forcing an engagement closed from active support, retreat long overdue, gives two warnings."""
        drive_core(clocked, until="end-support")
        fixed_clock.advance(days=200)
        clocked.force(
            "eng-1", "closed", actor="head", reason="The mandate ended with the ceasefire signature"
        )
        codes = _codes(clocked)
        assert codes == {"closed-without-debriefing": "warning", "overdue-at-closing": "warning"}
        report = audit_file(
            clocked.workspace.path_of("eng-1"), kinds=clocked.rule_kinds, today=clocked.today()
        )
        assert report.ok  # warnings only
        assert report.overrides[0]["rules"] == ["force"]

    def test_full_cycle_has_no_completeness_finding(self, engine: Engine):
        """An engagement that went through debriefing and lessons learned is complete."""
        drive_core(engine)
        assert _codes(engine) == {}

    def test_open_engagement_overdue_is_a_warning(self, clocked: Engine, fixed_clock):
        """An open engagement whose retreat is overdue today gets an `overdue` warning."""
        drive_core(clocked, until="end-support")
        fixed_clock.advance(days=181)
        assert _codes(clocked, today=clocked.today())["overdue"] == "warning"


class TestConformance:
    def test_outcome_edited_is_a_decision_mismatch(self, engine: Engine):
        """A warn outcome rewritten to pass (and re-chained) is reported as a decision mismatch."""
        drive_core(engine)

        def edit(record: dict[str, Any]) -> bool:
            for rule in record["data"].get("rules", []):
                if rule["rule"] == "gender-briefing-offered":
                    rule["outcome"] = "pass"
            return True

        _rewrite(engine.workspace.path_of("eng-1"), edit)
        assert _codes(engine)["decision-mismatch"] == "error"

    def test_newer_event_version_is_reported_not_dropped(self, engine: Engine):
        """An event of a version newer than this code is an error finding, and still counted."""
        drive_core(engine, until="appoint")
        engine.note("eng-1", "Last event, from the future.", actor="officer")

        def edit(record: dict[str, Any]) -> bool:
            if record["type"] == "note_added":
                record["v"] = 99
            return True

        path = engine.workspace.path_of("eng-1")
        _rewrite(path, edit)
        report = audit_file(path, kinds=engine.rule_kinds, today=engine.today())
        assert {f.code for f in report.findings} >= {"unknown-version"}
        assert report.events == len(path.read_bytes().splitlines()) - 1

    def test_override_by_a_role_not_allowed(self, engine: Engine):
        """An override whose recorded roles do not include an allowed one is an error."""
        drive_core(engine, until="appoint")
        for item in CORE_PATH[2][1]:
            engine.check("eng-1", item, actor="officer")
        engine.set_facts("eng-1", ["envoy=Amb. X"], actor="officer")
        engine.advance(
            "eng-1",
            "appoint",
            actor="head",
            override="The council decided orally; the text follows next week",
        )
        assert _codes(engine) == {}

        def edit(record: dict[str, Any]) -> bool:
            if "override" in record["data"] and record["type"] == "advanced":
                record["data"]["override"]["roles"] = ["officer"]
            return True

        _rewrite(engine.workspace.path_of("eng-1"), edit)
        assert _codes(engine)["override-role"] == "error"

    def test_force_by_a_non_admin(self, engine: Engine):
        """A forced move whose recorded roles hold no admin role is an error."""
        drive_core(engine, until="complete-analysis")
        engine.force(
            "eng-1", "withdrawn", actor="head", reason="The parties withdrew their consent today"
        )

        def edit(record: dict[str, Any]) -> bool:
            if record["type"] == "forced":
                record["data"]["roles"] = ["officer"]
            return True

        _rewrite(engine.workspace.path_of("eng-1"), edit)
        assert _codes(engine)["force-role"] == "error"


class Registry:
    """A plugin whose rule kind checks a fact against an outside registry (here: a set)."""

    @hookimpl
    def register_rule_kinds(self):
        """One kind, `registry.known-envoy`."""

        def known(rule, engagement, action) -> Verdict:
            return Verdict(engagement.facts.get("envoy") in {"Amb. X"}, "envoy not in the roster")

        return [RuleKind("registry.known-envoy", known, {"fact": Param("str", ref="fact")})]


def test_plugin_rules_rechecked_only_when_installed(workspace: Path, tmp_path: Path):
    """Audit re-runs a plugin's rule when the plugin is there, and otherwise warns it did not."""
    folder = tmp_path / "pb"
    folder.mkdir()
    (folder / "roster.toml").write_text(
        'schema = 1\nid = "roster"\nversion = "1"\ntitle = "R"\nextends = "core"\n'
        '[[rules]]\nid = "envoy-on-roster"\non = ["appoint"]\nkind = "registry.known-envoy"\n'
        'fact = "envoy"\n',
        encoding="utf-8",
    )
    host = make_plugin_manager(load_entrypoints=False, extra_plugins=[Registry()], environ={})
    engine = Engine(workspace, plugins=host, playbook_dirs=[folder])
    engine.open("eng-1", "roster", actor="officer")
    for trigger, items, facts in CORE_PATH[:3]:
        for item in items:
            engine.check("eng-1", item, actor="officer")
        if facts:
            engine.set_facts("eng-1", facts, actor="officer")
        engine.advance("eng-1", trigger, actor="officer")
    path = engine.workspace.path_of("eng-1")
    with_plugin = audit_file(path, kinds=host.rule_kinds(), today=engine.today())
    without = audit_file(
        path,
        kinds=make_plugin_manager(load_entrypoints=False, environ={}).rule_kinds(),
        today=engine.today(),
    )
    assert with_plugin.findings == []
    assert [(f.code, f.severity) for f in without.findings] == [
        ("plugin-rule-not-rechecked", "warning")
    ]
    assert without.ok


def _archive(engine: Engine, count: int) -> None:
    for i in range(count):
        drive_core(engine, f"eng-{i:02d}", until="appoint" if i % 2 else None)


def test_jobs_give_the_same_report(engine: Engine, cli):
    """`--jobs 2` reports exactly what `--jobs 1` does, file for file."""
    _archive(engine, 4)
    raw = bytearray(engine.workspace.path_of("eng-01").read_bytes())
    raw[200] ^= 1
    engine.workspace.path_of("eng-01").write_bytes(bytes(raw))
    one = cli("audit", "--no-cache", "--json", "--jobs", "1", str(engine.workspace.root))
    two = cli("audit", "--no-cache", "--json", "--jobs", "2", str(engine.workspace.root))
    assert one[0] == two[0] == 1
    assert json.loads(one[1]) == json.loads(two[1])


def test_progress_bar_on_a_terminal_only(engine: Engine):
    """With stderr on a terminal and many files a progress bar shows; piped, it does not."""
    _archive(engine, 20)
    args = [sys.executable, "-m", "lifecycle", "audit", "--no-cache", str(engine.workspace.root)]
    env = {**os.environ, "LIFECYCLE_LOAD_PLUGINS": ""}
    piped = subprocess.run(args, capture_output=True, text=True, env=env, timeout=120, check=False)
    assert piped.returncode == 0 and "auditing" not in piped.stderr
    leader, follower = pty.openpty()
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=follower, env=env)
    os.close(follower)
    seen = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(leader, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    assert process.wait(timeout=60) == 0
    os.close(leader)
    assert b"auditing" in seen


class TestAgainstCannotBeDodged:
    def test_renamed_engagement_still_meets_its_checkpoint(
        self, engine: Engine, cli, tmp_path: Path
    ):
        """A file whose engagement id was edited (and re-chained) is still matched by file name."""
        drive_core(engine)
        code, out, _ = cli("audit", str(engine.workspace.root))
        checkpoints = tmp_path / "checkpoints.txt"
        checkpoints.write_text(out, encoding="utf-8")
        path = engine.workspace.path_of("eng-1")
        lines = path.read_bytes().splitlines()
        header = decode_line(lines[0])[0]
        header["engagement"] = "eng-1-copy"
        path.write_bytes(encode_line(header) + b"\n".join(lines[1:20]) + b"\n")
        _rewrite(path, lambda record: True)
        code, out, _ = cli(
            "audit", "--no-cache", "--against", str(checkpoints), str(engine.workspace.root)
        )
        assert code == 1
        assert "truncated" in out and "file-name" in out and "engagement-mismatch" in out

    def test_checkpoint_without_a_file_is_missing(self, engine: Engine, cli, tmp_path: Path):
        """A checkpoint no audited file answers is reported as missing, and the audit fails."""
        drive_core(engine, until="appoint")
        code, out, _ = cli("audit", str(engine.workspace.root))
        checkpoints = tmp_path / "checkpoints.txt"
        checkpoints.write_text(out, encoding="utf-8")
        empty = tmp_path / "empty"
        empty.mkdir()
        code, out, _ = cli("audit", "--json", "--against", str(checkpoints), str(empty))
        report = json.loads(out)
        assert code == 1 and not report["ok"]
        assert [f["code"] for f in report["files"][0]["findings"]] == ["missing"]
        assert report["files"][0]["engagement"] == "eng-1"


def test_engine_conditions_are_rechecked(engine: Engine):
    """Events the engine would refuse (an item of a stage not reached, an unknown fact) are errors."""
    drive_core(engine, until="complete-analysis")

    def forge(record: dict[str, Any]) -> bool:
        if record["type"] == "item_checked" and record["data"]["item"] == "request-recorded":
            record["data"] = {"item": "briefing-pack", "stage": "induction-briefing"}
        if record["type"] == "fact_set":
            record["data"] = {"facts": {"no-such-fact": "1"}}  # well-typed: not a bad-event
        return True

    engine.set_facts("eng-1", ["envoy=Amb. X"], actor="officer")
    _rewrite(engine.workspace.path_of("eng-1"), forge)
    report = audit_file(
        engine.workspace.path_of("eng-1"), kinds=engine.rule_kinds, today=engine.today()
    )
    messages = [f.message for f in report.findings if f.code == "not-allowed"]
    assert any("had not reached" in m for m in messages)
    assert any("unknown fact 'no-such-fact'" in m for m in messages)


def test_warn_word_cannot_hide_a_block(engine: Engine):
    """A failing block rule recorded as `warn` (override removed, re-chained) is still caught."""
    drive_core(engine, until="appoint")
    for item in CORE_PATH[2][1]:
        engine.check("eng-1", item, actor="officer")
    engine.set_facts("eng-1", ["envoy=Amb. X"], actor="officer")
    engine.advance(
        "eng-1", "appoint", actor="head", override="The council decided orally; text next week"
    )

    def forge(record: dict[str, Any]) -> bool:
        if record["type"] == "advanced" and "override" in record["data"]:
            del record["data"]["override"]
            record.pop("reason", None)
            for rule in record["data"]["rules"]:
                if rule["outcome"] == "overridden":
                    rule["outcome"] = "warn"
        return True

    _rewrite(engine.workspace.path_of("eng-1"), forge)
    assert _codes(engine)["block-without-override"] == "error"
