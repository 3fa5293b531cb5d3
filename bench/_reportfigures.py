"""The report figures (#15): `lifecycle report --format html` on 1,000 engagements against
`lifecycle list --json` on the same workspace, both whole CLI runs, interleaved; warm (each with
its caches filled: the audit verdicts and contributions, the portfolio index) and cold (every
cache emptied before each run).

Cold, the report audits every history in full, decodes the audited bytes' events and replays
them with the cadence watch, computes what is overdue, sums the period, renders the page (one
SVG timeline row per engagement) and writes its one entry file; `list` verifies and replays each
history into its index. Warm, the report reads and hashes every history's bytes and, the same
bytes, day, options and code as the report before, takes that report whole (#14, _report/_memo:
no verdict decoded, nothing rendered, Jinja2 not imported); `list` stats each history and
answers from its index. Target: at most 3x. A third figure, for reference (no target), is the
warm report with no report kept whole, as on the next day or for another period: it reads and
hashes every history, takes each verdict and contribution from its entry file (one read; the
audit machinery is not even imported), judges cites, recomputes what is overdue today and
renders. Quick mode uses the archive size of the quick run (60 engagements).
"""

from __future__ import annotations

import shutil
import statistics
from pathlib import Path

from _figures import Figure, Result, Sizes, _cli_seconds, _env, _result

__all__ = ["REPORT_FIGURES", "report_cold", "report_entries", "report_warm"]

EVENTS = 50  # per history: the engine's way to active support, then notes, facts, activities


def _workspace(work: Path, count: int) -> Path:
    from _gen import base_records, write_history

    folder = work / f"report-{count}"
    if not folder.exists():
        folder.mkdir()
        base = base_records()
        for i in range(count):
            write_history(folder / f"eng-{i:05d}.history.jsonl", EVENTS, base)
    return folder


def _spread(times: list[float]) -> str:
    return (
        f"{statistics.median(times):.2f} s ({min(times):.2f}-{max(times):.2f}, {len(times)} runs)"
    )


def _runs(
    work: Path, sizes: Sizes, *, cold: bool, whole: bool = True
) -> tuple[int, list[float], list[float]]:
    """Interleaved runs of `report --out F` and `list --json`: the engagements, their times
    (*whole*: a report kept whole may be taken; else the kept reports are removed first)."""
    count = min(1000, sizes.archive_files)
    folder = _workspace(work, count)
    cache = work / "report-audit-cache"  # verdicts and contributions (LIFECYCLE_CACHE_DIR)
    env = _env(LIFECYCLE_CACHE_DIR=str(cache))
    out = work / "report.html"

    def report() -> float:
        if cold:
            shutil.rmtree(cache, ignore_errors=True)
        if not whole:
            for kept in (cache / "report").glob("*/reports"):
                shutil.rmtree(kept, ignore_errors=True)
        return _cli_seconds("--workspace", str(folder), "report", "--out", str(out), env=env)

    def listing() -> float:
        if cold:
            for name in ("index.sqlite", "index.sqlite-wal", "index.sqlite-shm"):
                (folder / ".lifecycle" / name).unlink(missing_ok=True)
        return _cli_seconds("--workspace", str(folder), "list", "--json", env=env)

    if not cold:
        report(), listing()  # fill the caches
    runs = max(3, sizes.repeats)
    t_report, t_list = [], []
    for _ in range(runs):
        t_report.append(report())
        t_list.append(listing())
    return count, t_report, t_list


def _figure(work: Path, sizes: Sizes, *, cold: bool, whole: bool = True) -> Result:
    count, t_report, t_list = _runs(work, sizes, cold=cold, whole=whole)
    ratio = statistics.median(t_report) / statistics.median(t_list)
    how = "cold" if cold else "warm" if whole else "warm, none kept whole"
    return _result(
        f"{_spread(t_report)}, {how}, {count} engagements",
        f"`list --json` {'cold' if cold else 'warm'}: {_spread(t_list)}",
        ratio,
        ratio <= 3,
    )


def report_warm(work: Path, sizes: Sizes) -> Result:
    """`report --format html --out F` vs `list --json`, both with their caches filled."""
    return _figure(work, sizes, cold=False)


def report_entries(work: Path, sizes: Sizes) -> Result:
    """`report` warm with no report kept whole (the next day's, another period's) vs `list`."""
    result = _figure(work, sizes, cold=False, whole=False)
    result["met"] = "(reference)"
    return result


def report_cold(work: Path, sizes: Sizes) -> Result:
    """The same with every cache emptied before each run: the report audits every history."""
    return _figure(work, sizes, cold=True)


REPORT_FIGURES = (
    Figure(
        "report",
        "`report --format html`, 1,000 engagements, warm, vs `list --json` warm",
        "<= 3x",
        report_warm,
    ),
    Figure(
        "report-entries",
        "`report --format html`, 1,000 engagements, warm, no report kept whole, vs `list --json`",
        "(reference)",
        report_entries,
    ),
    Figure(
        "report-cold",
        "`report --format html`, 1,000 engagements, cold, vs `list --json` cold",
        "<= 3x",
        report_cold,
    ),
)
