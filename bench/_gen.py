"""Generate realistic history files fast, for benchmarks (the engine's own lines, no fsync per line)."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

from lifecycle._lines import encode_line, format_at
from lifecycle.testing import drive, make_engine

TO_SUPPORT = ["accept-request", "complete-analysis", "appoint", "complete-induction", "start-support"]
FACTS = {"envoy": "Amb. X", "mandate.source": "Decision 1/2026", "conflict": "Lake Amani (fictional)"}


def prefix(engagement: str = "bench") -> bytes:
    """The bytes of an engagement driven by the engine to active support (about 20 events)."""
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(folder)
        drive(engine, engagement, "core", TO_SUPPORT, facts=FACTS)
        return (Path(folder) / f"{engagement}.history.jsonl").read_bytes()


def write_history(path: Path, events: int, engagement: str | None = None, base: bytes | None = None) -> None:
    """Write a history of *events* events: the engine's prefix, then notes, facts and activities."""
    engagement = engagement or path.name.removesuffix(".history.jsonl")
    data = base if base is not None else prefix(engagement)
    if base is not None and engagement != "bench":
        raise ValueError("a shared base is only for the engagement it was made for")
    lines = data.splitlines(keepends=True)
    import json

    last = json.loads(lines[-1])
    seq, head = last["seq"], last["hash"]
    start = dt.datetime.strptime(last["at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)
    day = start.date() - dt.timedelta(days=3000)
    with open(path, "wb") as out:
        out.write(data)
        for i in range(events - seq):
            seq += 1
            at = format_at(start + dt.timedelta(seconds=seq))
            kind = i % 10
            if kind < 6:
                body = {"type": "note_added", "v": 1, "data": {"text": f"Call with the parties, round {i}."}}
            elif kind < 8:
                body = {"type": "fact_set", "v": 1, "data": {"facts": {"conflict": f"Lake Amani, phase {i}"}}}
            else:
                activity = ("reflection-retreat", "peer-coaching")[i % 2]
                on = min(day + dt.timedelta(days=i // 50), start.date())
                body = {"type": "activity_recorded", "v": 1, "data": {
                    "activity": activity, "on": on.isoformat(), "stage": "active-support", "rules": []}}
            record = {"seq": seq, "at": at, "actor": "a.mensah", **body, "prev": head}
            line = encode_line(record)
            out.write(line)
            head = json.loads(line)["hash"]
