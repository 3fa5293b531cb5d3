"""Realistic history files for the benchmarks, made fast.

The first events come from the engine itself (an engagement driven to active support under
`core`); the rest are notes, fact changes and activities on cadence, chained with the engine's own
line codec. Every file audits clean.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from pathlib import Path
from typing import Any

from lifecycle._lines import encode_line, format_at
from lifecycle.testing import drive, make_engine

TO_SUPPORT = [
    "accept-request",
    "complete-analysis",
    "appoint",
    "complete-induction",
    "start-support",
]
FACTS = {
    "envoy": "Amb. X",
    "mandate.source": "Decision 1/2026",
    "conflict": "Lake Amani (fictional)",
}


def base_records() -> list[dict[str, Any]]:
    """Header and events (without hashes) of an engagement driven by the engine to active support."""
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(folder)
        drive(engine, "base", "core", TO_SUPPORT, facts=FACTS)
        lines = (Path(folder) / "base.history.jsonl").read_bytes().splitlines()
    records = [json.loads(line) for line in lines]
    for record in records:
        del record["hash"]
    return records


def write_history(path: Path, events: int, base: list[dict[str, Any]]) -> None:
    """Write a history of *events* events for the engagement named by *path*."""
    engagement = path.name.removesuffix(".history.jsonl")
    header, *prefix = (dict(r) for r in base)
    header["engagement"] = engagement
    # One event a second after the engine's prefix, all in the past (the audit refuses an `at`
    # after its day): the prefix is moved back by as long as the events take, and a day.
    made = _parse(prefix[-1]["at"])
    start = made - dt.timedelta(seconds=events, days=1)
    for record in (header, *prefix):
        key = "created" if record is header else "at"
        record[key] = format_at(_parse(record[key]) - (made - start))
    first_day = start.date() - dt.timedelta(days=3000)
    with open(path, "wb") as out:
        line = encode_line(header)
        out.write(line)
        head = json.loads(line)["hash"]
        for number in range(1, events + 1):
            if number <= len(prefix):
                record = prefix[number - 1]
                if record["type"] == "opened":
                    record["data"] = {**record["data"], "engagement": engagement}
            else:
                record = _event(number, start, first_day)
            record["prev"] = head
            line = encode_line(record)
            out.write(line)
            head = json.loads(line)["hash"]


def _parse(at: str) -> dt.datetime:
    return dt.datetime.strptime(at, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)


def _event(seq: int, start: dt.datetime, first_day: dt.date) -> dict[str, Any]:
    at = format_at(start + dt.timedelta(seconds=seq))
    kind = seq % 10
    if kind < 6:
        body = {
            "type": "note_added",
            "v": 1,
            "data": {"text": f"Call with the parties, round {seq}."},
        }
    elif kind < 8:
        body = {
            "type": "fact_set",
            "v": 1,
            "data": {"facts": {"conflict": f"Lake Amani, phase {seq}"}},
        }
    else:
        on = min(first_day + dt.timedelta(days=seq // 50), start.date())
        body = {
            "type": "activity_recorded",
            "v": 1,
            "data": {
                "activity": ("reflection-retreat", "peer-coaching")[seq % 2],
                "on": on.isoformat(),
                "stage": "active-support",
                "rules": [],
            },
        }
    return {"seq": seq, "at": at, "actor": "a.mensah", **body}
