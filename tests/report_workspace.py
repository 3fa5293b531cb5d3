"""A generated workspace for the report tests: four engagements under core over a year and a half,
driven by the engine at moving times, with what the report should count by construction."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from lifecycle import Engine, make_plugin_manager

ROLES = (
    '[actors."officer"]\nroles = ["officer"]\n\n'
    '[actors."head"]\nroles = ["officer", "head-of-unit"]\n'
)
TO_SUPPORT: list[tuple[str, list[str]]] = [
    ("accept-request", ["request-recorded", "entry-point-identified"]),
    (
        "complete-analysis",
        ["conflict-analysis-done", "stakeholder-map", "media-mapping", "previous-efforts-reviewed"],
    ),
    ("appoint", ["candidate-profile", "women-candidates", "impartiality-check"]),
    ("complete-induction", ["briefing-pack", "lessons-pack", "mandate-attached"]),
    ("start-support", ["themes-agreed"]),
]
# Every day lies in the past (the audit refuses an `at` after its own day): 600 days ago on.
BASE = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=600)
START = dt.datetime.combine(BASE, dt.time(9), tzinfo=dt.UTC)
LATER_OPENED = BASE + dt.timedelta(days=510)  # the last engagement's day


def day(offset: int) -> dt.date:
    """*offset* days after the workspace's first day."""
    return BASE + dt.timedelta(days=offset)


class Clock:
    """A clock the generator moves forward."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> dt.datetime:
        return self.now

    def to(self, day: dt.date) -> None:
        self.now = dt.datetime.combine(day, dt.time(9), tzinfo=dt.UTC)


def _to_support(engine: Engine, engagement: str) -> None:
    for trigger, items in TO_SUPPORT:
        for item in items:
            engine.check(engagement, item, actor="officer")
        if trigger == "appoint":
            engine.set_facts(
                engagement, ["mandate.source=Decision 1/2025", "envoy=Amb. X"], actor="officer"
            )
        engine.advance(engagement, trigger, actor="officer")


def make_workspace(folder: Path) -> dict[str, Any]:
    """Write the workspace into *folder*; return the clock and the figures expected."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "lifecycle.toml").write_text(ROLES, encoding="utf-8")
    clock = Clock()
    engine = Engine(
        folder, plugins=make_plugin_manager(load_entrypoints=False, environ={}), clock=clock
    )
    services = 0

    def record(engagement: str, activity: str, **kw: Any) -> None:
        nonlocal services
        engine.record(engagement, activity, **kw)
        services += 1

    # amani: the whole cycle, a retreat held late (a missed cadence), then closed.
    engine.open(
        "amani",
        "core",
        actor="officer",
        title="Lake Amani <talks> | phase 1",
        facts=["country=KEN"],
    )
    _to_support(engine, "amani")
    record("amani", "gender-inclusion-briefing", actor="officer")
    record("amani", "civil-society-consultation", actor="officer", note="Women's groups forum")
    record("amani", "peer-coaching", actor="officer")
    clock.to(day(238))
    record("amani", "reflection-retreat", actor="officer")  # due on day 180: missed
    record("amani", "peer-coaching", actor="officer")
    for trigger, items in [
        ("end-support", ["support-plan"]),
        ("complete-debriefing", ["debriefing-template", "interviewer-not-evaluator"]),
        ("close", ["lessons-recorded", "dissemination-plan"]),
    ]:
        for item in items:
            engine.check("amani", item, actor="officer")
        engine.advance("amani", trigger, actor="officer")
    # beta: accepted, then withdrawn with a reason a month later.
    clock.to(day(56))
    engine.open("beta", "core", actor="officer", title="Beta dialogue", facts=["country=UGA"])
    engine.check("beta", "request-recorded", actor="officer")
    engine.check("beta", "entry-point-identified", actor="officer")
    engine.advance("beta", "accept-request", actor="officer")
    clock.to(day(86))
    engine.advance(
        "beta", "withdraw", actor="officer", reason="The parties withdrew their consent to talks"
    )
    # gamma: forced into active support, a training overridden, then left with cadences overdue.
    clock.to(day(119))
    engine.open("gamma", "core", actor="officer", title="Gamma process", facts=["country=KEN"])
    engine.force("gamma", "active-support", actor="head", reason="Support already under way there")
    record(
        "gamma",
        "training-conflict-party",
        actor="head",
        override="Training delivered by a third-party provider under our mandate",
    )
    record("gamma", "gender-inclusion-briefing", actor="officer")
    # later: opened last, at the support request.
    clock.to(LATER_OPENED)
    engine.open("later", "core", actor="officer", title="Later request")
    clock.to(day(540))
    return {
        "clock": clock,
        "engine": engine,
        "totals": {
            "engagements": 4,
            "opened": 4,
            "active": 4,
            "closed": 1,
            "withdrawn": 1,
            "services": services,
            "overrides": 1,
            "forced": 1,
            "lessons": 0,
        },
        "indicators": {
            "women-candidates-proposed": 1,
            "gender-briefings-offered": 2,
            "civil-society-consulted": 1,
        },
    }
