"""The benchmarks keep working: `bench/run.py --quick` prints every figure (no time is asserted)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent


def test_quick_benchmarks_print_every_figure():
    """A quick run exits 0 and prints a table row, with a ratio, for each figure."""
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from _figures import FIGURES as BASE
        from _indexfigures import INDEX_FIGURES

        FIGURES = BASE + INDEX_FIGURES  # as bench/run.py runs them
    finally:
        sys.path.remove(str(ROOT / "bench"))
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--quick", "--no-write"],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    rows = [
        line for line in result.stdout.splitlines() if line.startswith("| ") and "---" not in line
    ]
    assert len(rows) == len(FIGURES) + 1  # the header, then one row per figure
    for figure in FIGURES:
        row = next(r for r in rows if r.startswith(f"| {figure.title} |"))
        ratio = row.split("|")[4].strip()
        assert re.match(r"-?\d+\.\d\d", ratio), row
