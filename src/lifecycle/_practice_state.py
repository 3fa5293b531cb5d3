"""The practice's part of an engagement's state (#13), as a snapshot stores it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ._log import Log
from ._state import Engagement, Person

__all__ = ["dump_practice", "load_practice"]


def dump_practice(e: Engagement) -> dict[str, Any]:
    """Entry, channel, round, people, links, last occurrence and activity parameters as JSON."""
    # Any: a JSON object.
    return {
        "entry": e.entry,
        "channel": e.channel,
        "round": e.round,
        "last_on": e.last_on.isoformat() if e.last_on else None,
        "people": [
            [
                p.name,
                p.role,
                p.since.isoformat(),
                p.seq,
                p.org,
                p.left.isoformat() if p.left else None,
                p.left_seq,
                p.by_handover,
            ]
            for p in e.people
        ],
        "links": [[o, r, n] for (o, r), n in e.links.items()],
        "params": [[list(pair) for pair in a.params] for a in e.activities],
    }


def load_practice(e: Engagement, d: dict[str, Any]) -> None:
    """Restore what :func:`dump_practice` stored into *e*, in place."""
    # Any: a JSON object.
    day = dt.date.fromisoformat
    e.entry, e.channel, e.round = d["entry"], d["channel"], d["round"]
    e.last_on = day(d["last_on"]) if d["last_on"] else None
    e.people = [
        Person(n, r, day(s), q, o, day(left) if left else None, lq, h)
        for n, r, s, q, o, left, lq, h in d["people"]
    ]
    e.links = {(o, r): n for o, r, n in d["links"]}
    e.activities = Log(
        a._replace(params=tuple((k, v) for k, v in params))
        for a, params in zip(e.activities, d["params"], strict=True)
    )
