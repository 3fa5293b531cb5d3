"""Tests of the lifecycle-mandate plugin, installed the way an organization would install it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import lifecycle_mandate
import pytest

from lifecycle import make_plugin_manager
from lifecycle.exceptions import PlaybookError, RefusedError
from lifecycle.testing import drive, make_engine

FACTS = {
    "un.mandate-type": "security-council",
    "envoy": "Amb. X",
    "mandate.source": "S/RES/9999 (2026)",
}
TO_SUPPORT = ["accept-request", "complete-analysis", "appoint", "complete-induction"]


class Clock:
    """A clock the tests move."""

    def __init__(self) -> None:
        self.now = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    """A fixed clock on 2026-03-01."""
    return Clock()


@pytest.fixture
def engine(tmp_path: Path, clock: Clock):
    """An engine with the plugin registered directly."""
    return make_engine(tmp_path / "ws", plugins=[lifecycle_mandate], clock=clock)


def test_entry_point_loads_the_plugin():
    """The installed distribution is found through the `lifecycle.plugins` entry point."""
    host = make_plugin_manager(environ={})
    report = next(r for r in host.reports if r.name == "mandate")
    host.catalog()
    assert report.status == "loaded", report.error
    assert report.distribution == "lifecycle-mandate"
    assert report.rule_kinds == ["mandate.in-force"]
    assert "un-mandated" in report.playbooks


def test_support_allowed_while_the_mandate_is_in_force(engine):
    """Starting support before the expiry date passes the rule."""
    drive(engine, "e1", "un-mandated", TO_SUPPORT, facts={**FACTS, "mandate.expires": "2026-12-31"})
    assert drive(engine, "e1", "un-mandated", ["start-support"]).stage == "active-support"


def test_support_blocked_after_expiry_until_renewed(engine, clock):
    """After the expiry date support is refused, and recording a renewal lets it through."""
    drive(engine, "e1", "un-mandated", TO_SUPPORT, facts={**FACTS, "mandate.expires": "2026-02-01"})
    with pytest.raises(RefusedError, match="expired on 2026-02-01"):
        drive(engine, "e1", "un-mandated", ["start-support"])
    engine.set_facts("e1", ["mandate.expires=2027-02-01"], actor="officer")
    assert drive(engine, "e1", "un-mandated", ["start-support"]).stage == "active-support"
    refused = [e for e in engine.history("e1") if e["type"] == "refused"]
    assert refused[-1]["data"]["rules"][0]["plugin"] == "lifecycle_mandate"


def test_missing_expiry_date_blocks(engine):
    """Without a recorded expiry date the rule fails closed."""
    drive(engine, "e1", "un-mandated", TO_SUPPORT, facts=FACTS)
    with pytest.raises(RefusedError, match="not recorded"):
        drive(engine, "e1", "un-mandated", ["start-support"])


def test_activity_after_expiry_can_be_overridden_by_head(engine, clock):
    """A head of unit may override the block with a reason; the override is recorded."""
    drive(
        engine,
        "e1",
        "un-mandated",
        [*TO_SUPPORT, "start-support"],
        facts={**FACTS, "mandate.expires": "2026-03-01"},
    )
    clock.now += dt.timedelta(days=10)
    with pytest.raises(RefusedError):
        engine.record("e1", "peer-coaching", actor="officer")
    result = engine.record(
        "e1",
        "peer-coaching",
        actor="head",
        override="The renewal resolution was adopted but not yet published",
    )
    assert result.event["data"]["override"]["rules"] == ["mandate-in-force"]


def test_bad_parameters_are_load_errors(tmp_path):
    """A negative grace period and a non-date fact are reported with their key paths."""
    (tmp_path / "bad.toml").write_text(
        'schema = 1\nid = "bad"\nversion = "1"\ntitle = "Bad"\nextends = "core"\n'
        '[[rules]]\nid = "r"\non = ["appoint"]\nkind = "mandate.in-force"\nfact = "conflict"\n'
        "grace_days = -3\n",
        encoding="utf-8",
    )
    engine = make_engine(tmp_path / "ws", plugins=[lifecycle_mandate], playbook_dirs=[tmp_path])
    with pytest.raises(PlaybookError) as caught:
        engine.catalog.resolve("bad")
    text = "\n".join(caught.value.problems)
    assert "$.rules[0].grace_days: must not be negative" in text
    assert "$.rules[0].fact: 'conflict' must be a date fact" in text
