"""Write tests/golden/core-closed.history.jsonl: `core` driven from its first stage to closed, with a
refusal and an override, under a fixed clock.

Run once by hand (``.venv/bin/python tests/golden/make_core_closed.py``) and commit the bytes. The
golden file is the format as it was when it was written: never regenerate it to make a test pass; add
a new golden file for a new format version instead.
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
ENGAGEMENT = "core-closed"
OVERRIDE = "The council decision is delayed; the envoy must be appointed before the summit."


class Clock:
    """Starts at 2026-01-05 09:00 UTC and moves one hour every time it is read."""

    def __init__(self) -> None:
        self.now = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        self.now += dt.timedelta(hours=1)
        return self.now


def main() -> None:
    folder = Path(tempfile.mkdtemp())
    try:
        (folder / "lifecycle.toml").write_text(
            '[actors."officer"]\nroles = ["officer"]\n\n'
            '[actors."head"]\nroles = ["officer", "head-of-unit"]\n',
            encoding="utf-8",
        )
        engine = Engine(
            folder, plugins=make_plugin_manager(load_entrypoints=False, environ={}), clock=Clock()
        )
        e, who = ENGAGEMENT, "officer"
        engine.open(
            e,
            "core",
            actor=who,
            title="Golden engagement",
            facts=["conflict=Golden Valley", "organization.role=support"],
        )
        for item in ["request-recorded", "entry-point-identified"]:
            engine.check(e, item, actor=who)
        engine.advance(e, "accept-request", actor=who)
        for item in [
            "conflict-analysis-done",
            "stakeholder-map",
            "media-mapping",
            "previous-efforts-reviewed",
        ]:
            engine.check(e, item, actor=who)
        engine.advance(e, "complete-analysis", actor=who)
        for item in ["candidate-profile", "women-candidates", "impartiality-check"]:
            engine.check(e, item, actor=who)
        engine.set_facts(e, ["envoy=Amb. Golden"], actor=who)
        try:
            engine.advance(e, "appoint", actor=who)
        except RefusedError:
            pass
        else:
            raise SystemExit("expected the appointment to be refused")
        engine.advance(e, "appoint", actor="head", override=OVERRIDE)
        engine.set_facts(e, ["mandate.source=Council decision 7/2026"], actor=who)
        for item in ["briefing-pack", "lessons-pack", "mandate-attached"]:
            engine.check(e, item, actor=who)
        engine.record(e, "gender-inclusion-briefing", actor=who, note="Offered and held.")
        engine.advance(e, "complete-induction", actor=who)
        engine.check(e, "themes-agreed", actor=who)
        engine.advance(e, "start-support", actor=who)
        engine.note(e, "Première réunion avec l'envoyé ✓", actor=who)
        engine.check(e, "support-plan", actor=who)
        engine.advance(e, "end-support", actor=who)
        for item in ["debriefing-template", "interviewer-not-evaluator"]:
            engine.check(e, item, actor=who)
        engine.advance(e, "complete-debriefing", actor=who)
        for item in ["lessons-recorded", "dissemination-plan"]:
            engine.check(e, item, actor=who)
        engine.advance(e, "close", actor=who)
        assert engine.engagement(e).stage == "closed"
        shutil.copyfile(engine.workspace.path_of(e), HERE / f"{ENGAGEMENT}.history.jsonl")
    finally:
        shutil.rmtree(folder)


if __name__ == "__main__":
    main()
    sys.exit(0)
