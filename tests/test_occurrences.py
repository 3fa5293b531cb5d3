"""The latest occurrence of a trigger or activity, which the engine and the audit ask per event,
is kept up incrementally and stays right as the lists grow or are replaced."""

from __future__ import annotations

import datetime as dt

from lifecycle._state import ActivityRecord, Fired

from conftest import drive_core


def test_last_occurrence_follows_appends_and_replaced_lists(engine) -> None:
    """Appends, a backdated occurrence and a replaced list each give the latest date by id."""
    drive_core(engine, "eng-1", until="end-support")
    eng = engine.engagement("eng-1")
    appointed = eng.last_occurrence("appoint")
    assert appointed is not None and eng.last_occurrence("reflection-retreat") is None
    eng.activities.append(ActivityRecord("reflection-retreat", dt.date(2026, 3, 1), 90, "x"))
    assert eng.last_occurrence("reflection-retreat") == dt.date(2026, 3, 1)
    eng.activities.append(ActivityRecord("reflection-retreat", dt.date(2026, 2, 1), 91, "x"))
    assert eng.last_occurrence("reflection-retreat") == dt.date(2026, 3, 1)  # backdated: not later
    eng.fired.append(Fired("appoint", appointed + dt.timedelta(days=9), 92, "a", "b"))
    assert eng.last_occurrence("appoint") == appointed + dt.timedelta(days=9)
    eng.activities = [ActivityRecord("reflection-retreat", dt.date(2026, 1, 1), 93, "x")]
    assert eng.last_occurrence("reflection-retreat") == dt.date(2026, 1, 1)
    eng.fired = []
    assert eng.last_occurrence("appoint") is None
