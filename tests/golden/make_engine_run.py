"""Write tests/golden/engine-run.history.jsonl: the engine driven through every kind of event and
decision it writes (each core rule kind passing and failing, the checklist gate, refusals, an
override, a returning trigger, a new round, a force, people and activity parameters), under
tests/golden/engine-run.toml and a fixed clock.

Run once by hand (``.venv/bin/python tests/golden/make_engine_run.py``) and commit the bytes;
tests/test_engine_golden.py runs the same commands and expects the same bytes. Never regenerate
the file to make a test pass: it pins what the engine writes.
"""

from __future__ import annotations

import datetime as dt
import shutil
import sys
import tempfile
from pathlib import Path

from lifecycle import Engine, make_plugin_manager
from lifecycle.exceptions import RefusedError

HERE = Path(__file__).parent
ENGAGEMENT = "engine-run"
OFFICER, HEAD = "officer", "head"


class Clock:
    """Starts at 2026-01-05 09:00 UTC and moves one day every time it is read."""

    def __init__(self) -> None:
        self.now = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        self.now += dt.timedelta(days=1)
        return self.now


def _refused(command: object, *args: object, **kwargs: object) -> None:
    """Run a command that must be refused (the refusal is an event too)."""
    try:
        command(*args, **kwargs)  # type: ignore[operator]
    except RefusedError:
        return
    raise AssertionError(f"expected {args!r} to be refused")


def _check(engine: Engine, items: list[str]) -> None:
    for item in items:
        engine.check(ENGAGEMENT, item, actor=OFFICER)


def _to_induction(engine: Engine) -> None:
    e = ENGAGEMENT
    _check(engine, ["request-recorded"])
    _refused(engine.advance, e, "accept-request", actor=OFFICER)  # the gate blocks
    _refused(engine.advance, e, "close", actor=OFFICER)  # cannot fire from here
    _check(engine, ["entry-point-identified"])
    engine.advance(e, "accept-request", actor=OFFICER)
    engine.record(e, "civil-society-consultation", actor=OFFICER, note="Two groups met.")
    _check(engine, ["conflict-analysis-done", "stakeholder-map", "media-mapping"])
    engine.uncheck(e, "media-mapping", actor=OFFICER)
    _check(engine, ["media-mapping", "previous-efforts-reviewed"])
    engine.advance(e, "complete-analysis", actor=OFFICER)
    _check(engine, ["candidate-profile", "women-candidates", "impartiality-check"])
    engine.set_facts(e, ["envoy=Amb. Golden"], actor=OFFICER)
    _refused(engine.advance, e, "appoint", actor=OFFICER)  # no mandate
    engine.advance(e, "appoint", actor=HEAD, override="The decision is due; appoint before it.")
    engine.set_facts(e, ["mandate.source=Council decision 7/2026"], actor=OFFICER)
    engine.add_person(e, "Amb. Golden", role="envoy", actor=OFFICER)
    engine.record(e, "envoy-induction", actor=OFFICER, params={"person": "Amb. Golden"})


def _support(engine: Engine, clock: Clock) -> None:
    e = ENGAGEMENT
    _check(engine, ["briefing-pack", "lessons-pack", "mandate-attached"])
    engine.record(e, "gender-inclusion-briefing", actor=OFFICER)
    engine.advance(e, "complete-induction", actor=OFFICER)
    engine.record(e, "thematic-briefing", actor=OFFICER, on=clock.now.date())
    _check(engine, ["themes-agreed"])
    engine.advance(e, "start-support", actor=OFFICER, on=clock.now.date())
    audience = {"audience": "conflict-parties"}
    engine.record(e, "training", actor=OFFICER, params={**audience, "provider": "academia-ngo"})
    engine.record(e, "training", actor=OFFICER, params={**audience, "provider": "own"})
    engine.set_facts(e, ["organization.role=lead"], actor=OFFICER)
    own = {**audience, "provider": "own"}
    _refused(engine.record, e, "training", actor=OFFICER, params=own)
    engine.record(
        e, "training", actor=HEAD, params=own, override="No partner could run it this month."
    )
    engine.set_facts(e, ["organization.role=support"], actor=OFFICER)
    engine.note(e, "Première réunion avec l'envoyé ✓", actor=OFFICER)
    _refused(engine.advance, e, "suspend", actor=OFFICER)  # no reason
    engine.advance(e, "suspend", actor=OFFICER, reason="The parties asked for a pause in talks.")
    engine.advance(e, "resume", actor=OFFICER)
    _check(engine, ["support-plan"])
    engine.advance(e, "request-briefing", actor=OFFICER)
    _check(engine, ["themes-agreed"])
    engine.advance(e, "start-support", actor=OFFICER)
    _check(engine, ["support-plan"])


def _close_and_reopen(engine: Engine) -> None:
    e = ENGAGEMENT
    engine.advance(e, "end-support", actor=OFFICER)  # two warnings
    engine.uncheck(e, "support-plan", actor=OFFICER)
    engine.leave_person(e, "Amb. Golden", actor=OFFICER, reason="The mandate period ended.")
    _check(engine, ["debriefing-template", "interviewer-not-evaluator"])
    engine.advance(e, "complete-debriefing", actor=OFFICER)  # the support plan: a warning
    _check(engine, ["lessons-recorded", "dissemination-plan"])
    engine.advance(e, "close", actor=OFFICER)  # late: a warning
    engine.note(e, "Closed after review.", actor=OFFICER)
    engine.advance(e, "reopen", actor=OFFICER, reason="A new request came from the same parties.")
    engine.set_facts(e, ["organization.role=lead"], actor=OFFICER)
    _refused(engine.advance, e, "withdraw", actor=OFFICER, reason="The parties left the table.")
    engine.set_facts(e, ["organization.role=support"], actor=OFFICER)
    engine.advance(e, "withdraw", actor=OFFICER, reason="The parties left the table.")
    engine.force(e, "closed", actor=HEAD, reason="Filed as closed by the head of unit.")


def write(folder: Path) -> bytes:
    """Drive the engagement in a new workspace *folder*; return its history's bytes."""
    (folder / "lifecycle.toml").write_text(
        '[actors."officer"]\nroles = ["officer"]\n\n'
        '[actors."head"]\nroles = ["officer", "head-of-unit"]\n',
        encoding="utf-8",
    )
    clock = Clock()
    plugins = make_plugin_manager(load_entrypoints=False, environ={})
    engine = Engine(folder, plugins=plugins, playbook_dirs=[HERE], clock=clock)
    facts = ["conflict=Golden Valley", "organization.role=support"]
    engine.open(ENGAGEMENT, "engine-run", actor=OFFICER, title="Engine run", facts=facts)
    _to_induction(engine)
    _support(engine, clock)
    _close_and_reopen(engine)
    return engine.workspace.path_of(ENGAGEMENT).read_bytes()


def main() -> None:
    folder = Path(tempfile.mkdtemp())
    try:
        (HERE / f"{ENGAGEMENT}.history.jsonl").write_bytes(write(folder))
    finally:
        shutil.rmtree(folder)


if __name__ == "__main__":
    main()
    sys.exit(0)
