"""The report figure (#15): `lifecycle report --format html` on 1,000 engagements against
`lifecycle list --json` on the same workspace, both whole CLI runs, interleaved.

Both read and replay every history; the report also runs the cadence watch per event, computes
what is overdue, sums the period and renders the page (one SVG timeline row per engagement).
Target: at most 3x. Quick mode uses the archive size of the quick run (60 engagements).
"""

from __future__ import annotations

from pathlib import Path

from _figures import Figure, Result, Sizes, _best_interleaved, _cli_seconds, _result

__all__ = ["REPORT_FIGURES", "report_html"]

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


def report_html(work: Path, sizes: Sizes) -> Result:
    """`report --format html --out F` vs `list --json`, best of interleaved runs."""
    count = min(1000, sizes.archive_files)
    folder = _workspace(work, count)
    out = work / "report.html"
    t_report, t_list = _best_interleaved(
        lambda: _cli_seconds("--workspace", str(folder), "report", "--out", str(out)),
        lambda: _cli_seconds("--workspace", str(folder), "list", "--json"),
        sizes.repeats,
    )
    ratio = t_report / t_list
    return _result(
        f"{t_report:.2f} s ({count} engagements)",
        f"{t_list:.2f} s (`list --json`)",
        ratio,
        ratio <= 3,
    )


REPORT_FIGURES = (
    Figure(
        "report",
        "`report --format html`, 1,000 engagements, vs `list --json`",
        "<= 3x",
        report_html,
    ),
)
