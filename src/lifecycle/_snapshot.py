"""Snapshots: a cache of an engagement's replayed state, so long histories load fast.

A snapshot is an accelerator, never the truth (DESIGN principle 1): it records the state after
event N together with the byte range and hash of event N's line. It is used only when that line
is still there, unchanged; the lines after it are verified and replayed as usual. A missing,
unreadable, stale or foreign snapshot is ignored and rewritten. The audit never reads snapshots.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Final

from ._codeversion import code_version
from ._embedded import embedded_playbook, plain_playbook
from ._files import read_regular
from ._history import Anchor
from ._layout import FOLDER as FOLDER
from ._layout import SUFFIX
from ._lesson_replay import dump_lessons, load_lessons
from ._lines import MAX_LINE_BYTES
from ._practice_state import dump_practice, load_practice
from ._state import ActivityRecord, Engagement, Entry, Fired

__all__ = ["MIN_EVENTS", "load_snapshot", "remove_snapshot", "save_snapshot", "snapshot_path"]

FORMAT: Final = "lifecycle-snapshot"
VERSION: Final = 1
MIN_EVENTS: Final = 100  # below this a full replay is as fast as reading a snapshot
HEX64: Final = re.compile(r"[0-9a-f]{64}")


def snapshot_path(history: Path) -> Path:
    """Where the snapshot of *history* lives: ``<workspace>/.lifecycle/<id>.snapshot.json``."""
    return history.parent / FOLDER / (history.name.removesuffix(SUFFIX) + ".snapshot.json")


def save_snapshot(history: Path, engagement: Engagement, anchor: Anchor) -> None:
    """Write the snapshot atomically (temp file, fsync, rename); a failure only loses the cache."""
    path = snapshot_path(history)
    data = {
        "format": FORMAT,
        "version": VERSION,
        "lifecycle": code_version(),
        "anchor": [anchor.seq, anchor.head, anchor.start, anchor.end],
        "state": _dump(engagement),
    }
    try:
        path.parent.mkdir(exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(json.dumps(data, separators=(",", ":")).encode())
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, path)
        except BaseException:  # cleanup, then re-raised
            Path(temp).unlink(missing_ok=True)
            raise
    except OSError:
        return  # a read-only workspace (an auditor's copy) simply has no cache


def remove_snapshot(history: Path) -> None:
    """Remove a stale snapshot (a failure only leaves a cache that will be ignored)."""
    try:
        snapshot_path(history).unlink(missing_ok=True)
    except OSError:
        return


def load_snapshot(history: Path) -> tuple[Engagement, Anchor] | None:
    """The cached state and its anchor, or None when there is no usable snapshot."""
    try:
        data = json.loads(read_regular(snapshot_path(history)))
        if (data.get("format"), data.get("version"), data.get("lifecycle")) != (
            FORMAT,
            VERSION,
            code_version(),
        ):
            return None  # another format, or state built by other replay code: replay afresh
        seq, head, start, end = data["anchor"]
        anchor = Anchor(int(seq), str(head), int(start), int(end))
        engagement = _load(data["state"])
    except Exception:  # noqa: BLE001 - a cache that cannot be read, whatever the reason, is ignored
        return None
    sane = (
        0 <= anchor.start < anchor.end <= anchor.start + MAX_LINE_BYTES + 1
        and anchor.seq >= 1
        and HEX64.fullmatch(anchor.head) is not None
    )
    if (
        not sane
        or engagement is None
        or (engagement.seq, engagement.head) != (anchor.seq, anchor.head)
    ):
        return None
    return engagement, anchor


def _dump(e: Engagement) -> dict[str, Any]:
    # Any: a JSON object.
    return {
        "id": e.id,
        "title": e.title,
        "playbook": plain_playbook(e.playbook),
        "playbook_sha256": e.playbook_sha256,
        "stage": e.stage,
        "opened_on": e.opened_on.isoformat(),
        "facts": e.facts,
        "done": e.done,
        "entries": [[x.stage, x.seq, x.on.isoformat()] for x in e.entries],
        "activities": [[a.activity, a.on.isoformat(), a.seq, a.stage] for a in e.activities],
        "fired": [[f.trigger, f.on.isoformat(), f.seq, f.source, f.dest] for f in e.fired],
        "notes": e.notes,
        "seq": e.seq,
        "head": e.head,
        "last_at": e.last_at,
        "practice": dump_practice(e),  # #13
        "lessons": dump_lessons(e),  # #15
    }


def _load(d: dict[str, Any]) -> Engagement | None:
    # Any: a JSON object.
    playbook, digest = embedded_playbook(d["playbook"], validate=False)  # once per process
    if digest != d["playbook_sha256"]:
        return None
    day = dt.date.fromisoformat
    engagement = Engagement(
        id=d["id"],
        title=d["title"],
        playbook=playbook,
        playbook_sha256=d["playbook_sha256"],
        stage=d["stage"],
        opened_on=day(d["opened_on"]),
        facts=dict(d["facts"]),
        done=dict(d["done"]),
        entries=[Entry(s, q, day(o)) for s, q, o in d["entries"]],
        activities=[ActivityRecord(a, day(o), q, s) for a, o, q, s in d["activities"]],
        fired=[Fired(t, day(o), q, s, x) for t, o, q, s, x in d["fired"]],
        notes=d["notes"],
        seq=d["seq"],
        head=d["head"],
        last_at=d["last_at"],
    )
    load_practice(engagement, d["practice"])  # #13
    load_lessons(engagement, d["lessons"])  # #15
    return engagement
