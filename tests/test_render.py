"""The text the CLI prints: history timelines, status, list and due (cli/_render.py)."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lifecycle import Engine
from lifecycle.exceptions import RefusedError

from conftest import drive_core

EVENT_LINE = re.compile(r"^ {0,3}(\d+)  \d{4}-\d\d-\d\d \d\d:\d\d:\d\d  (\S+) +(.*)$")
OVERRIDE_REASON = "The council decision is pending publication this week"
FORCE_REASON = "Consent of the parties was withdrawn today"
MANDATE = "The mandating decision must be recorded before the envoy is appointed."


@pytest.fixture
def clocked(workspace: Path, plugins, fixed_clock) -> Engine:
    """An engine on the CLI's workspace whose clock the test sets."""
    return Engine(workspace, plugins=plugins, clock=fixed_clock)


def _blocks(out: str) -> dict[int, list[str]]:
    """The timeline by seq: each event's line followed by its indented detail lines."""
    blocks: dict[int, list[str]] = {}
    seq = 0
    for line in out.splitlines():
        match = EVENT_LINE.match(line)
        if match:
            seq = int(match.group(1))
            blocks[seq] = [line]
        else:
            assert line.startswith("      "), line
            blocks[seq].append(line.strip())
    return blocks


@pytest.fixture
def timeline(clocked: Engine, cli) -> dict[int, list[str]]:
    """eng-1 with one event of each kind (22 events), as `lifecycle history` prints it."""
    e, officer = clocked, {"actor": "officer"}
    e.open("eng-1", "core", title="Render test", **officer)
    e.set_facts("eng-1", ["conflict=Lake Amani dispute"], **officer)
    e.check("eng-1", "request-recorded", note="From the desk", **officer)
    e.uncheck("eng-1", "request-recorded", **officer)
    for item in ["request-recorded", "entry-point-identified"]:
        e.check("eng-1", item, **officer)
    e.advance("eng-1", "accept-request", **officer)
    for item in ["conflict-analysis-done", "stakeholder-map", "media-mapping",
                 "previous-efforts-reviewed"]:  # fmt: skip
        e.check("eng-1", item, **officer)
    e.advance("eng-1", "complete-analysis", **officer)
    for item in ["candidate-profile", "women-candidates", "impartiality-check"]:
        e.check("eng-1", item, **officer)
    e.set_facts("eng-1", ["envoy=Amb. X"], **officer)
    with pytest.raises(RefusedError):
        e.advance("eng-1", "appoint", **officer)
    with pytest.raises(RefusedError):
        e.advance("eng-1", "appoint", override="We have a very good reason here", **officer)
    e.advance("eng-1", "appoint", actor="head", override=OVERRIDE_REASON)
    e.record("eng-1", "gender-inclusion-briefing", note="With the gender adviser", **officer)
    e.note("eng-1", "A plain note", **officer)
    e.force("eng-1", "suspended", actor="head", reason=FORCE_REASON)
    code, out, err = cli("history", "eng-1")
    assert (code, err) == (0, "")
    return _blocks(out)


HISTORY = [
    pytest.param(1, ["opened under core@1.3.0: Render test"], id="opened"),
    pytest.param(2, ["set conflict=Lake Amani dispute"], id="fact_set"),
    pytest.param(3, ["checked request-recorded (From the desk)"], id="item_checked-note"),
    pytest.param(4, ["unchecked request-recorded"], id="item_unchecked"),
    pytest.param(
        7, ["advanced by accept-request: support-request -> conflict-analysis"], id="advanced"
    ),
    pytest.param(
        17,
        [
            f"REFUSED advance appoint: mandate-before-appointment: {MANDATE}",
            f"block: mandate-before-appointment: {MANDATE}",
        ],
        id="refused",
    ),
    pytest.param(
        18,
        ["REFUSED advance appoint: no role: rule 'mandate-before-appointment' can be overridden"],
        id="refused-override-attempt",
    ),
    pytest.param(
        19,
        [
            "advanced by appoint: selection-advice -> induction-briefing",
            f"override of mandate-before-appointment by head (officer, head-of-unit): "
            f"{OVERRIDE_REASON}",
            f"overridden: mandate-before-appointment: {MANDATE}",
        ],
        id="override",
    ),
    pytest.param(
        20,
        ["recorded gender-inclusion-briefing on 2026-01-05 (With the gender adviser)"],
        id="activity_recorded-note",
    ),
    pytest.param(21, ["note: A plain note"], id="note_added"),
    pytest.param(
        22, ["FORCED induction-briefing -> suspended", f"reason: {FORCE_REASON}"], id="forced"
    ),
]


class TestHistory:
    @pytest.mark.parametrize(("seq", "expected"), HISTORY)
    def test_event_line(self, timeline: dict[int, list[str]], seq: int, expected: list[str]):
        """Each event type has its own line, with its details on the lines below it."""
        block = timeline[seq]
        assert EVENT_LINE.match(block[0]).group(3).startswith(expected[0]), block
        assert all(any(line.startswith(text) for line in block[1:]) for text in expected[1:])

    def test_one_line_per_event(self, timeline: dict[int, list[str]]):
        """The timeline has one line per event, in seq order, naming the actor."""
        assert list(timeline) == list(range(1, 23))
        actors = {seq: EVENT_LINE.match(block[0]).group(2) for seq, block in timeline.items()}
        assert actors[19] == actors[22] == "head" and actors[1] == "officer"
        assert timeline[1][0].startswith("   1  2026-01-05 09:00:00  officer")

    def test_plain_events_have_no_details(self, timeline: dict[int, list[str]]):
        """A tick without a note and a plain note add no parentheses and no detail lines."""
        assert timeline[5][0].endswith("checked request-recorded")
        assert len(timeline[5]) == len(timeline[21]) == 1

    def test_refused_override_is_not_shown_as_accepted(self, timeline: dict[int, list[str]]):
        """A refused override attempt does not render as an accepted override."""
        assert not any(line.startswith("override of") for line in timeline[18])
        assert [line for line in timeline[19] if line.startswith("override of")]


class TestStatus:
    @pytest.fixture
    def at_selection(self, clocked: Engine) -> None:
        """eng-1 at selection-advice with one of three items ticked and no facts."""
        drive_core(clocked, until="appoint")
        clocked.check("eng-1", "candidate-profile", actor="officer")

    @pytest.mark.usefixtures("at_selection")
    def test_stage_checklist_and_blocks(self, cli):
        """Status shows the stage, [x]/[ ] marks, and each trigger from here with its blocks."""
        code, out, _ = cli("status", "eng-1")
        assert code == 0
        lines = [line.strip() for line in out.splitlines()]
        assert "stage     selection-advice: Advice on the selection of the envoy" in lines
        assert any(line.startswith("[x] candidate-profile:") for line in lines)
        assert any(line.startswith("[ ] women-candidates:") for line in lines)
        assert "appoint -> induction-briefing: blocked" in lines
        assert "suspend -> suspended: allowed" in lines
        assert not [line for line in lines if line.startswith(("close ->", "resume ->"))]
        blocks = {line.split(":")[0]: line for line in lines if line.startswith("x ")}
        assert (
            "(no role: rule 'mandate-before-appointment'" in blocks["x mandate-before-appointment"]
        )
        assert "(not overridable:" in blocks["x envoy-named"]
        assert "women-candidates, impartiality-check" in blocks["x checklist"]

    @pytest.mark.usefixtures("at_selection")
    def test_head_may_override(self, cli):
        """For an actor holding the override role, the block says they may override it."""
        _, out, _ = cli("--actor", "head", "status", "eng-1")
        mandate = next(line for line in out.splitlines() if "x mandate-before" in line)
        assert mandate.endswith("(you may override it)")
        envoy = next(line for line in out.splitlines() if "x envoy-named" in line)
        assert not envoy.endswith("(you may override it)")
        assert "actor head (officer, head-of-unit)" in out

    def test_warnings_and_due(self, clocked: Engine, fixed_clock, cli):
        """Warn rules show with `!`; due items show with their date, OVERDUE when late."""
        fixed_clock.now = dt.datetime.now(dt.UTC) - dt.timedelta(days=400)
        drive_core(clocked, until="end-support")
        assert cli("record", "eng-1", "peer-coaching")[0] == 0
        code, out, _ = cli("status", "eng-1")
        assert code == 0
        lines = [line.strip() for line in out.splitlines()]
        assert "end-support -> debriefing: blocked" in lines
        assert any(line.startswith("! gender-briefing-offered: A gender") for line in lines)
        retreat = next(line for line in lines if "activity reflection-retreat" in line)
        assert " OVERDUE " in f" {retreat} " and retreat.endswith("(every 180 days)")
        coaching = next(line for line in lines if "activity peer-coaching" in line)
        assert "OVERDUE" not in coaching and " due " in coaching
        assert lines.index("due") > lines.index("triggers")

    def test_final_stage_marked(self, clocked: Engine, cli):
        """A closed engagement's status says [final] and offers only the new-round trigger."""
        drive_core(clocked)
        _, out, _ = cli("status", "eng-1")
        assert "stage     closed: Closed  [final]" in out
        triggers = out.split("\ntriggers\n")[1].splitlines()
        assert [t for t in triggers if t.startswith("  ")] == [
            "  reopen -> support-request: allowed"
        ]


class TestListAndDue:
    def test_list_shows_each_and_error(self, clocked: Engine, workspace: Path, cli):
        """`list` shows each engagement's playbook, stage, events, title and envoy, and an unreadable one as ERROR."""
        clocked.open("eng-1", "core", actor="officer")
        drive_core(clocked, "eng-2")
        (workspace / "broken.history.jsonl").write_bytes(b"this is not a history\n")
        code, out, _ = cli("list")
        assert code == 0
        rows = {line.split()[0]: line for line in out.splitlines()}
        assert set(rows) == {"broken", "eng-1", "eng-2"}
        assert re.search(r"core@1\.3\.0 +support-request  \(1 events\)$", rows["eng-1"])
        events = len(clocked.history("eng-2"))
        assert (
            f"closed [final]  ({events} events) 'Test engagement'  [envoy Amb. X]" in rows["eng-2"]
        )
        assert rows["broken"].split()[1] == "ERROR" and "broken.history.jsonl" in rows["broken"]

    def test_list_empty(self, cli):
        """An empty workspace says it has no engagements."""
        assert cli("list")[1].strip() == "No engagements in this workspace."

    def test_due_overdue(self, clocked: Engine, fixed_clock, cli):
        """`due` lists overdue cadences with OVERDUE and the engagement."""
        fixed_clock.now = dt.datetime.now(dt.UTC) - dt.timedelta(days=400)
        drive_core(clocked, until="end-support")
        code, out, _ = cli("due")
        assert code == 0
        lines = out.splitlines()
        assert len(lines) == 2
        assert all(line.split()[1:3] == ["OVERDUE", "eng-1"] for line in lines)
        assert lines[0].endswith("activity peer-coaching  (every 90 days)")

    @pytest.mark.parametrize("opened", [False, True], ids=["empty", "nothing-due-yet"])
    def test_nothing_due(self, clocked: Engine, cli, opened: bool):
        """With nothing due, `due` says so."""
        if opened:
            drive_core(clocked, until="complete-analysis")
        code, out, _ = cli("due")
        assert (code, out) == (0, "Nothing due.\n")


def test_the_control_sets_of_the_fast_escape_are_the_escape_s_own():
    """Over every character of the Basic Multilingual Plane, the one-pass pattern matches what
    CONTROL_CHARS matches but the newline, and the ASCII byte set is its ASCII part."""
    from lifecycle._inputs import CONTROL_CHARS
    from lifecycle.cli._render import _ASCII_CONTROLS_BUT_NEWLINE, _CONTROL_BUT_NEWLINE

    for code in range(0x10000):
        char = chr(code)
        expected = bool(CONTROL_CHARS.match(char)) and char != "\n"
        assert bool(_CONTROL_BUT_NEWLINE.match(char)) == expected, hex(code)
        if code < 0x80:
            assert (code in _ASCII_CONTROLS_BUT_NEWLINE) == expected, hex(code)


@given(
    st.lists(
        st.text(
            alphabet=st.sampled_from(list("aZ \n\r\t\x1b\x7f\x85\u202e\u2028\u00e9{\\")),
            max_size=12,
        ),
        max_size=8,
    )
)
def test_joined_lines_escape_as_each_line_alone(lines: list[str]):
    """`_joined` (one pass over the whole text, or a check in C) gives what escaping each line
    and joining them gives, for lines with and without newlines and control characters."""
    from lifecycle.cli._render import _joined, escape

    assert _joined(lines) == "\n".join(escape(line) for line in lines)
