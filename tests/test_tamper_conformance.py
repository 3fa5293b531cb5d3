"""Tamper probes for issue #9's conformance items: the `unchecked` flag, resume bypass, trigger
reasons and overrides, missed cadences. Each re-chained forgery must be an error at the forged
event (the cadence probes: an error, or the missed cadence still reported)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from lifecycle import Engine
from lifecycle._lines import decode_line, encode_line
from test_tamper import ENG, Prober, build, rechain, split

WHY = "The parties asked for a pause in the talks"
NO_OP = "Nothing blocks but the head wants this on file"

Edit = Callable[[dict], None]


@pytest.fixture
def prober(tmp_path: Path, engine: Engine) -> Prober:
    """A prober writing to its own folder."""
    return Prober(tmp_path / "probe", engine)


def record_at(lines: list[bytes], seq: int) -> dict:
    """The decoded event *seq* of *lines*."""
    return decode_line(lines[seq].rstrip(b"\n"))[0]


def forge(lines: list[bytes], seq: int, edit: Edit) -> bytes:
    """The history with event *seq* edited and every later line re-chained."""
    return b"".join(rechain(lines, seq, edit))


def drop(lines: list[bytes], seq: int) -> bytes:
    """The history without event *seq*, later events renumbered and re-chained."""
    kept = lines[:seq] + lines[seq + 1 :]
    out = list(kept[:seq])
    _, prev = decode_line(out[-1].rstrip(b"\n"))
    for line in kept[seq:]:
        record, _ = decode_line(line.rstrip(b"\n"))
        record["seq"] -= 1
        record["prev"] = prev
        encoded = encode_line(record)
        out.append(encoded)
        _, prev = decode_line(encoded[:-1])
    return b"".join(out)


def clean(prober: Prober, data: bytes) -> None:
    """The untouched history audits without errors (so every error below is the forgery's)."""
    report = prober.audit(data)
    assert [f.code for f in report.findings if f.severity == "error"] == []


def test_unchecked_flag_is_no_pass(engine: Engine, prober: Prober) -> None:
    """Flagging any recorded rule outcome or the gate `unchecked` (keeping it, turning it into a
    pass, or erasing the override with it) is an error at that event: core rules always run."""
    data = build(engine).read_bytes()
    lines = split(data)
    clean(prober, data)
    for seq in range(1, len(lines)):
        event = record_at(lines, seq)
        for index, rule in enumerate(event["data"].get("rules", [])):
            for variant in ("flag", "flag-pass", "flag-word"):

                def edit(r: dict, i: int = index, v: str = variant) -> None:
                    target = r["data"]["rules"][i]
                    target["unchecked"] = "yes" if v == "flag-word" else True
                    if v == "flag-pass":
                        target["outcome"] = "pass"
                        r["data"].pop("override", None)
                        r.pop("reason", None)

                prober.probe(f"{variant} {rule['rule']} at {seq}", forge(lines, seq, edit), {seq})
    assert prober.run >= 20
    prober.report("unchecked flag")


def test_resume_bypass_is_caught(engine: Engine, prober: Prober, cli) -> None:
    """A re-chained history whose resume lands anywhere but the stage suspended from is an
    error at the resume (`return-elsewhere`), exit 1."""
    engine.open(ENG, "core", actor="officer")
    engine.advance(ENG, "suspend", actor="officer", reason=WHY)
    engine.advance(ENG, "resume", actor="officer")
    for n in range(3):
        engine.note(ENG, f"note {n}", actor="officer")
    data = engine.workspace.path_of(ENG).read_bytes()
    lines = split(data)
    clean(prober, data)
    pb = engine.engagement(ENG).playbook
    for stage in [s.id for s in pb.stages if s.id != "support-request"]:

        def edit(r: dict, to: str = stage) -> None:
            r["data"]["to"] = to

        tampered = forge(lines, 3, edit)
        assert prober.probe(f"resume to {stage}", tampered, {3}, codes={"return-elsewhere"})
        code, out, _ = cli("audit", str(prober.path))
        assert code == 1 and "return-elsewhere" in out
    prober.report("resume bypass")


@pytest.fixture
def reasons(engine: Engine) -> bytes:
    """A history with a suspension (seq 2, reasoned), a no-op override (seq 6) and a withdrawal
    (seq 7, reasoned)."""
    engine.open(ENG, "core", actor="officer")
    engine.advance(ENG, "suspend", actor="officer", reason=WHY)
    engine.advance(ENG, "resume", actor="officer")
    engine.check(ENG, "request-recorded", actor="officer")
    engine.check(ENG, "entry-point-identified", actor="head")
    engine.advance(ENG, "accept-request", actor="head", override=NO_OP)
    engine.advance(ENG, "withdraw", actor="officer", reason=WHY)
    engine.note(ENG, "archived", actor="officer")
    return engine.workspace.path_of(ENG).read_bytes()


def test_reason_removal_is_caught(reasons: bytes, prober: Prober, cli) -> None:
    """Removing, blanking, shortening or retyping the required reason of suspend or withdraw is
    `advance-without-reason` at that event; so is a non-text reason on any trigger."""
    lines = split(reasons)
    clean(prober, reasons)
    forgeries: dict[str, Edit] = {
        "removed": lambda r: r["data"].pop("reason"),
        "blank": lambda r: r["data"].update(reason=" "),
        "short": lambda r: r["data"].update(reason="paused"),
        "number": lambda r: r["data"].update(reason=5),
        "moved to top": lambda r: r.update(reason=r["data"].pop("reason")),
    }
    for seq in (2, 7):
        assert record_at(lines, seq)["data"]["reason"] == WHY
        for name, edit in forgeries.items():
            tampered = forge(lines, seq, edit)
            assert prober.probe(f"{name} at {seq}", tampered, {seq})
    assert prober.probe(
        "non-text reason where none is needed",
        forge(lines, 3, lambda r: r["data"].update(reason=["x"])),
        {3},
    )
    assert cli("audit", str(prober.path))[0] == 1
    prober.report("trigger reasons")


def test_override_shape_is_checked(reasons: bytes, engine: Engine, prober: Prober) -> None:
    """An override recorded with nothing to override keeps its reason and names no rule; one
    that overrides names exactly the overridden rules: every other shape is `override-mismatch`."""
    lines = split(reasons)
    assert record_at(lines, 6)["data"]["override"]["rules"] == []
    forgeries: dict[str, tuple[int, Edit]] = {
        "no-op override without reason": (6, lambda r: r.pop("reason")),
        "no-op reason without override": (6, lambda r: r["data"].pop("override")),
        "no-op override naming a rule": (
            6,
            lambda r: r["data"]["override"].update(rules=["checklist"]),
        ),
        "reason on a plain advance": (3, lambda r: r.update(reason=NO_OP)),
    }
    for name, (seq, edit) in forgeries.items():
        assert prober.probe(name, forge(lines, seq, edit), {seq}, codes=None)
    overridden = split(build(engine, "eng-o").read_bytes())
    assert prober.probe(
        "real override naming no rule",
        forge(overridden, 15, lambda r: r["data"]["override"].update(rules=[])),
        {15},
    )
    prober.report("override shape")


@pytest.fixture
def late(workspace: Path, plugins, fixed_clock) -> tuple[Engine, bytes]:
    """Core in active support; 100 days on a note, then peer coaching recorded 10 days late
    (seq 21 note, seq 22 record), then two notes."""
    engine = Engine(workspace, plugins=plugins, clock=fixed_clock)
    engine.open(ENG, "core", actor="officer")
    for trigger, items in (
        ("accept-request", ["request-recorded", "entry-point-identified"]),
        (
            "complete-analysis",
            [
                "conflict-analysis-done",
                "stakeholder-map",
                "media-mapping",
                "previous-efforts-reviewed",
            ],
        ),
    ):
        for item in items:
            engine.check(ENG, item, actor="officer")
        engine.advance(ENG, trigger, actor="officer")
    for item in ["candidate-profile", "women-candidates", "impartiality-check"]:
        engine.check(ENG, item, actor="officer")
    engine.set_facts(ENG, ["envoy=Amb. X", "mandate.source=Decision 1"], actor="officer")
    engine.advance(ENG, "appoint", actor="officer")
    for item in ["briefing-pack", "lessons-pack", "mandate-attached"]:
        engine.check(ENG, item, actor="officer")
    engine.advance(ENG, "complete-induction", actor="officer")
    engine.check(ENG, "themes-agreed", actor="officer")
    engine.advance(ENG, "start-support", actor="officer")
    fixed_clock.advance(days=100)
    engine.note(ENG, "coaching slipped", actor="officer")
    assert engine.record(ENG, "peer-coaching", actor="officer").event["seq"] == 22
    engine.note(ENG, "after", actor="officer")
    engine.note(ENG, "after again", actor="officer")
    return engine, engine.workspace.path_of(ENG).read_bytes()


def test_missed_cadence_cannot_be_hidden(late: tuple[Engine, bytes], tmp_path: Path) -> None:
    """Hiding the late coaching is caught: dating it after its recording, or moving its recording
    back before its due date, is an error at that event; backdating its `on` into time, or deleting
    it, still leaves the cadence reported as missed."""
    engine, data = late
    prober = Prober(tmp_path / "probe", engine)
    lines = split(data)
    report = prober.audit(data)
    assert [(f.code, f.seq) for f in report.findings if f.code == "cadence-missed"] == [
        ("cadence-missed", 22)
    ]
    errors: dict[str, tuple[int, Edit]] = {
        "on after at": (22, lambda r: r["data"].update(on="2026-12-31")),
        "at before due": (
            22,
            lambda r: (
                r.update(at="2026-04-01T09:00:00.000000Z") or r["data"].update(on="2026-04-01")
            ),
        ),
    }
    for name, (seq, edit) in errors.items():
        assert prober.probe(name, forge(lines, seq, edit), {seq})
    warned = {
        "on backdated into time": forge(lines, 22, lambda r: r["data"].update(on="2026-04-05")),
        "late record deleted": drop(lines, 22),
    }
    for name, tampered in warned.items():
        found = prober.audit(tampered).findings
        codes = {f.code for f in found if f.severity == "warning"}
        prober.run += 1
        still = bool(codes & {"cadence-missed", "overdue"})
        prober.caught += still
        if not still:
            prober.missed.append(f"{name}: {[(f.code, f.seq) for f in found]}")
    print(json.dumps({"errors": len(errors), "still reported": len(warned)}))
    prober.report("missed cadences")
