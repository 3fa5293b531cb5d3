"""The portfolio index figures (#14): `list`, `due` and `search` on 100 and 10,000 engagements of
30 events each, warm (index up to date) and cold (no index), and the peak memory of `list`; and
`lessons` (#15) on 10,000 engagements of 30 events and two lessons each, warm.

Every figure is measured in one run: each timing is the median of several runs of the real CLI
in a subprocess, printed with its spread (min-max) and the number of runs; ratios are of medians
measured side by side (small and big workspaces alternated, so the machine's noise hits both).
Reproduce one with ``python bench/run.py --only index-list`` (``--quick``: 100 and 1,000).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _figures import Figure, Result, Sizes, _env, _result

EVENTS = 30
_made: dict[int, Path] = {}


def _big(sizes: Sizes) -> int:
    return 10_000 if sizes.audit_events >= 100_000 else 1_000


def _workspace(work: Path, count: int) -> Path:
    """A workspace of *count* engagements of EVENTS events, its index built and settled."""
    if count in _made:
        return _made[count]
    from _gen import base_records, write_history

    folder = work / f"portfolio-{count}"
    folder.mkdir()
    base = base_records()
    for i in range(count):
        write_history(folder / f"eng-{i:05d}.history.jsonl", EVENTS, base)
    time.sleep(2.1)  # past the index's racy window: the files are then trusted on their stat
    _run("--workspace", str(folder), "index")
    _made[count] = folder
    return folder


_TOPICS = ("elders", "ceasefire", "monitors", "women", "delegates", "council", "water", "land")


def _lessons_workspace(work: Path, count: int) -> Path:
    """A workspace of *count* engagements of EVENTS events and two lessons each, index settled."""
    key = -count
    if key in _made:
        return _made[key]
    from _gen import base_records, write_history

    from lifecycle._lines import encode_line, format_at

    folder = work / f"lessons-{count}"
    folder.mkdir()
    base = base_records()
    for i in range(count):
        path = folder / f"eng-{i:05d}.history.jsonl"
        write_history(path, EVENTS, base)
        last = json.loads(path.read_bytes().splitlines()[-1])
        at = dt.datetime.strptime(last["at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)
        head = last["hash"]
        with open(path, "ab") as out:
            for n in (1, 2):
                topic = _TOPICS[(i * n) % len(_TOPICS)]
                line = encode_line(
                    {
                        "seq": EVENTS + n,
                        "at": format_at(at + dt.timedelta(seconds=n)),
                        "actor": "a.mensah",
                        "type": "lesson",
                        "v": 1,
                        "prev": head,
                        "data": {
                            "title": f"{topic.title()} first, case {i}-{n}",
                            "text": f"What the {topic} of round {i % 97} taught the team.",
                            "themes": ["local-dynamics"] if n == 1 else ["ceasefire"],
                            "sections": {},
                            "stage": "active-support",
                        },
                    }
                )
                out.write(line)
                head = json.loads(line)["hash"]
    time.sleep(2.1)
    _run("--workspace", str(folder), "index")
    _made[key] = folder
    return folder


def _run(*args: str) -> float:
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "lifecycle", *args], capture_output=True, env=_env(), check=False
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"lifecycle {' '.join(args)} failed: {result.stderr.decode()[-500:]}")
    return elapsed


_HWM = """
import sys, threading, time
from pathlib import Path
from lifecycle.cli import run

peak = [0]

def pss(pid):  # the process's share of the pages it maps: a page shared by N counts 1/N
    try:
        lines = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
    except OSError:  # gone meanwhile
        return 0
    return next((int(l.split()[1]) for l in lines if l.startswith("Pss:")), 0)

def sample():  # this process and its workers together (a cold build reads in a pool)
    while True:
        kids = Path(f"/proc/self/task/{threading.main_thread().native_id}/children")
        pids = ["self", *kids.read_text().split()]
        peak[0] = max(peak[0], sum(pss(pid) for pid in pids))
        time.sleep(0.005)

threading.Thread(target=sample, daemon=True).start()
code = run(sys.argv[1:])
# VmHWM: this process's own peak. ru_maxrss would carry the parent's over fork+exec (the
# bench's own process holds the 10,000-engagement workspace it generated).
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0]
sys.stderr.write(f"VmHWM {hwm.split()[1]} {peak[0]}\\n")
sys.exit(code)
"""


def _peak_rss_mb(*args: str) -> tuple[float, float]:
    """The peak resident memory of one `lifecycle ARGS` process (VmHWM), and the peak of its
    own and its workers' proportional set sizes summed (sampled every 5 ms: the memory the
    processes take together, a page shared since the fork counted once), in MB."""
    proc = subprocess.run(
        [sys.executable, "-c", _HWM, *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"lifecycle {' '.join(args)} failed ({proc.returncode})")
    line = [x for x in proc.stderr.splitlines() if x.startswith("VmHWM ")][-1]
    own, together = line.split()[1:]
    return int(own) / 1024, int(together) / 1024


def _spread(times: list[float]) -> str:
    return (
        f"{statistics.median(times):.3f} s ({min(times):.3f}-{max(times):.3f}, {len(times)} runs)"
    )


def _side_by_side(work: Path, sizes: Sizes, *command: str) -> tuple[list[float], list[float]]:
    small, big = _workspace(work, 100), _workspace(work, _big(sizes))
    runs = max(5, sizes.repeats)
    t_small: list[float] = []
    t_big: list[float] = []
    for _ in range(runs):
        t_small.append(_run("--workspace", str(small), *command))
        t_big.append(_run("--workspace", str(big), *command))
    return t_small, t_big


def _warm(work: Path, sizes: Sizes, command: str) -> Result:
    t_small, t_big = _side_by_side(work, sizes, command)
    big, ratio = statistics.median(t_big), statistics.median(t_big) / statistics.median(t_small)
    return _result(
        f"{_big(sizes):,}: {_spread(t_big)}",
        f"100: {_spread(t_small)}",
        ratio,
        big <= 0.5 and ratio <= 3,
    )


def warm_list(work: Path, sizes: Sizes) -> Result:
    """`list` on the big workspace, warm, against the same on 100 engagements."""
    return _warm(work, sizes, "list")


def warm_due(work: Path, sizes: Sizes) -> Result:
    """`due` on the big workspace, warm, against the same on 100 engagements."""
    return _warm(work, sizes, "due")


def warm_search(work: Path, sizes: Sizes) -> Result:
    """`search` on the big workspace, warm: at most 0.3 s."""
    t_small, t_big = _side_by_side(work, sizes, "search", "parties", "round", "--limit", "20")
    big = statistics.median(t_big)
    return _result(
        f"{_big(sizes):,}: {_spread(t_big)}",
        f"100: {_spread(t_small)}",
        big / statistics.median(t_small),
        big <= 0.3,
    )


def warm_lessons(work: Path, sizes: Sizes) -> Result:
    """`lessons QUERY --theme` on the big workspace of lessons, warm: at most 0.3 s."""
    small, big = _lessons_workspace(work, 100), _lessons_workspace(work, _big(sizes))
    command = ("lessons", "elders round", "--theme", "local-dynamics")
    t_small, t_big = [], []
    for _ in range(max(5, sizes.repeats)):
        t_small.append(_run("--workspace", str(small), *command))
        t_big.append(_run("--workspace", str(big), *command))
    median = statistics.median(t_big)
    return _result(
        f"{_big(sizes):,}: {_spread(t_big)}",
        f"100: {_spread(t_small)}",
        median / statistics.median(t_small),
        median <= 0.3,
    )


def cold_list(work: Path, sizes: Sizes) -> Result:
    """`list` with no index (it is built) against `audit --no-cache` of the same archive,
    alternated, three runs each, compared by the best of each (as the full audit's figure): the
    host's noise only adds time, and is ~20% of a 20-second run here (medians of two runs gave
    0.92x and 1.02x for the same code)."""
    folder = _workspace(work, _big(sizes))
    index = folder / ".lifecycle" / "index.sqlite"
    colds, audits = [], []
    for _ in range(3):
        index.unlink(missing_ok=True)
        colds.append(_run("--workspace", str(folder), "list"))
        audits.append(_run("audit", "--no-cache", "--json", str(folder)))
    _run("--workspace", str(folder), "index")  # settled again for the figures after this one
    cold, audit = min(colds), min(audits)
    return _result(
        f"{_big(sizes):,}: best {cold:.3f} s; {_spread(colds)}",
        f"audit --no-cache: best {audit:.3f} s; {_spread(audits)}",
        cold / audit,
        cold <= audit,
    )


def list_memory(work: Path, sizes: Sizes) -> Result:
    """Peak RSS of `list` on the big workspace, warm and cold (with its workers, summed): at
    most 100 MB."""
    folder = _workspace(work, _big(sizes))
    warm, _ = _peak_rss_mb("--workspace", str(folder), "list")
    scratch = work / "portfolio-rss"
    shutil.rmtree(scratch, ignore_errors=True)
    shutil.copytree(folder, scratch, ignore=shutil.ignore_patterns(".lifecycle"))
    own, together = _peak_rss_mb("--workspace", str(scratch), "list")
    shutil.rmtree(scratch, ignore_errors=True)
    worst = max(warm, own, together)
    return _result(
        f"warm {warm:.0f} MB, cold {own:.0f} MB (with its workers, PSS summed: {together:.0f} MB)",
        "100 MB",
        worst / 100,
        worst <= 100,
    )


INDEX_FIGURES: tuple[Figure, ...] = (
    Figure(
        "index-list", "`list`, 10,000 engagements, warm index", "<= 0.5 s, <= 3x 100", warm_list
    ),
    Figure("index-due", "`due`, 10,000 engagements, warm index", "<= 0.5 s, <= 3x 100", warm_due),
    Figure("index-search", "`search`, 10,000 engagements, warm index", "<= 0.3 s", warm_search),
    Figure(
        "index-lessons",
        "`lessons` search, 10,000 engagements of 2 lessons, warm index",
        "<= 0.3 s",
        warm_lessons,
    ),
    Figure(
        "index-cold",
        "`list`, 10,000 engagements, no index (built)",
        "<= `audit --no-cache`",
        cold_list,
    ),
    Figure("index-rss", "peak RSS of `list`, 10,000 engagements", "<= 100 MB", list_memory),
)
