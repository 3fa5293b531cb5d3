"""Benchmarks for issue #14, deliverable 3: no cost that grows where it should not.

- ``Engine.advance`` per call at 20,000 events vs at 200 (amortized: the mean over a window long
  enough to hold the snapshot writes of its size), target <= 1.5x;
- ``lifecycle status`` on 200 events vs ``python -c pass``, target <= 6x;
- which modules ``lifecycle status`` imports (cattrs, transitions, pluggy: none is needed);
- audit peak memory on a 1,000,000-event history with 200,000 activities, target <= 80 MB (the
  issue asks for 100,000 activities; this history holds twice as many).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

from _figures import (
    HERE,
    Figure,
    Result,
    Sizes,
    _cli_seconds,
    _env,
    _history,
    _result,
)

_CYCLE = ("start", "brief-again")


def _engine_at(work: Path, events: int):
    """An engine whose engagement ``a`` (bench-cycle) has *events* events; the calls made."""
    from lifecycle.testing import drive, make_engine

    engine = make_engine(work, playbook_dirs=[HERE])
    drive(engine, "a", "bench-cycle", [], facts={"mandate.source": "Decision 1"})
    calls = 0
    while engine.engagement("a").seq < events:
        engine.advance("a", _CYCLE[calls % 2], actor="officer")
        calls += 1
    return engine, calls


def advance_growth(work: Path, sizes: Sizes) -> Result:
    """`Engine.advance` per call on a long engagement vs on a short one: the mean over a window
    that holds the snapshot writes of its size, the two interleaved in rounds so that the disk's
    and the machine's noise hit both alike."""
    large = sizes.status_large  # 20,000 (full), 2,000 (quick)
    window = max(200, large // 8)  # a snapshot is written every eighth of the history
    engines = [_engine_at(work / "advance-small", sizes.status_small)]
    engines.append(_engine_at(work / "advance-large", large))
    spent = [0.0, 0.0]
    rounds = 10
    for _ in range(rounds):
        for which, (engine, calls) in enumerate(engines):
            started = time.perf_counter()
            for i in range(window // rounds):
                engine.advance("a", _CYCLE[(calls + i) % 2], actor="officer")
            spent[which] += time.perf_counter() - started
            engines[which] = (engine, calls + window // rounds)
    small, big = (t / (window // rounds * rounds) for t in spent)
    ratio = big / small
    return _result(
        f"{big * 1e3:.3f} ms/call at {large:,} events",
        f"{small * 1e3:.3f} ms/call at {sizes.status_small} events ({window:,} calls each)",
        ratio,
        ratio <= 1.5,
    )


def _pass_seconds() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True, env=_env())
    return time.perf_counter() - started


def status_vs_python(work: Path, sizes: Sizes) -> Result:
    """`lifecycle status` on 200 events vs a bare interpreter, interleaved (medians)."""
    workspace = work / "status"
    workspace.mkdir(exist_ok=True)
    _history(workspace, "small", sizes.status_small)
    env = _env(LIFECYCLE_ACTOR="bench")
    args = ("--workspace", str(workspace), "status", "small")
    _cli_seconds(*args, env=env)  # warm the snapshot
    ours, floor = [], []
    for _ in range(max(7, sizes.repeats * 3)):
        floor.append(_pass_seconds())
        ours.append(_cli_seconds(*args, env=env))
    t_ours, t_floor = statistics.median(ours), statistics.median(floor)
    spread = (max(ours) - min(ours)) * 1000
    ratio = t_ours / t_floor
    return _result(
        f"{t_ours * 1000:.0f} ms (runs {len(ours)}, spread {spread:.0f} ms)",
        f"{t_floor * 1000:.0f} ms (`python -c pass`)",
        ratio,
        ratio <= 6,
    )


_PROBE = (
    "import sys; from lifecycle.cli import run; code = run(sys.argv[1:]); "
    "heavy = sorted({m.split('.')[0] for m in sys.modules} & "
    "{'cattrs', 'transitions', 'pluggy', 'cryptography', 'pycountry', 'psycopg'}); "
    "print(','.join(heavy) or 'none', file=sys.stderr); sys.exit(code)"
)


def status_imports(work: Path, sizes: Sizes) -> Result:
    """The heavy libraries `lifecycle status` imports (none is needed on that path)."""
    workspace = work / "status"
    workspace.mkdir(exist_ok=True)
    _history(workspace, "small", sizes.status_small)
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, "--workspace", str(workspace), "status", "small"],
        capture_output=True,
        text=True,
        env=_env(LIFECYCLE_ACTOR="bench"),
        check=True,
    )
    heavy = out.stderr.strip().splitlines()[-1]
    count = 0 if heavy == "none" else len(heavy.split(","))
    return _result(heavy, "cattrs, transitions, pluggy: none needed", count, count == 0, unit="")


def audit_memory_activities(work: Path, sizes: Sizes) -> Result:
    """Peak resident memory of a process auditing a history of 1,000,000 events of which
    200,000 are activities (the quick run: 50,000 and 10,000)."""
    path = _history(work, "memory", sizes.memory_events)
    code = (
        "import datetime as dt, sys; from pathlib import Path; "
        "from lifecycle import audit_file, make_plugin_manager; "
        "k = make_plugin_manager(load_entrypoints=False, environ={}).rule_kinds(); "
        f"r = audit_file(Path({str(path)!r}), kinds=k, today=dt.date.today()); "
        # VmHWM: this process's own peak. ru_maxrss would carry the parent's over fork+exec.
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0]; "
        "print(hwm.split()[1], r.ok)"
    )
    peaks = []
    for _ in range(2):
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=_env()
        ).stdout.split()
        peaks.append(int(out[0]) / 1024)
    peak = max(peaks)
    return _result(
        f"{peak:.0f} MB peak (max of {len(peaks)})",
        f"{sizes.memory_events:,} events, {sizes.memory_events // 5:,} activities",
        peak,
        peak <= 80,
        unit=" MB",
    )


SPEED_FIGURES: tuple[Figure, ...] = (
    Figure(
        "advance-growth",
        "`Engine.advance` per call, 20,000 events vs 200 (amortized)",
        "<= 1.5x",
        advance_growth,
    ),
    Figure(
        "status-python",
        "`lifecycle status`, 200 events, vs `python -c pass`",
        "<= 6x",
        status_vs_python,
    ),
    Figure(
        "status-imports",
        "heavy libraries `lifecycle status` imports",
        "none of cattrs, transitions, pluggy",
        status_imports,
    ),
    Figure(
        "memory-activities",
        "audit peak memory, 1,000,000 events, 200,000 activities",
        "<= 80 MB (#14)",
        audit_memory_activities,
    ),
)
