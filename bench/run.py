"""lifecycle's benchmarks: each figure beside its floor or peer, measured in the same run.

    python bench/run.py            # full sizes; writes bench/RESULTS.md
    python bench/run.py --quick    # small sizes, to keep the benchmarks working (CI)

Times are medians of repeated runs. No test asserts a time: the table says whether each target
is met on the machine it ran on.
"""

from __future__ import annotations

import argparse
import compileall
import datetime as dt
import importlib.util
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _figures import FIGURES, Figure, Sizes  # noqa: E402
from _indexfigures import INDEX_FIGURES  # noqa: E402 - the portfolio index figures (#14)

FULL = Sizes(
    transitions=20_000,
    appends=300,
    audit_events=100_000,
    archive_files=2000,
    archive_events=500,
    status_small=200,
    status_large=20_000,
    memory_events=1_000_000,
    es_events=100_000,
    repeats=5,
)
QUICK = Sizes(
    transitions=5_000,
    appends=40,
    audit_events=10_000,
    archive_files=60,
    archive_events=100,
    status_small=200,
    status_large=2_000,
    memory_events=50_000,
    es_events=5_000,
    repeats=2,
)


def machine() -> str:
    """One line about the machine: CPU, cores, Python, OS."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )


def table(rows: list[tuple[Figure, dict[str, object]]]) -> str:
    """The results as a Markdown table."""
    lines = [
        "| figure | ours | floor or peer | ratio | target | met |",
        "|---|---|---|---|---|---|",
    ]
    for figure, result in rows:
        lines.append(
            f"| {figure.title} | {result['ours']} | {result['floor']} | "
            f"{result['ratio']} | {figure.target} | {result['met']} |"
        )
    return "\n".join(lines)


def compile_package() -> None:
    """Write the package's bytecode, as an installed package has it: with
    PYTHONDONTWRITEBYTECODE set (as in some CI shells) an editable install has none, and every
    `lifecycle` process the figures start would compile the sources again (~200 ms of `status`)."""
    spec = importlib.util.find_spec("lifecycle")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        compileall.compile_dir(folder, quiet=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (CI)")
    parser.add_argument("--no-write", action="store_true", help="do not write bench/RESULTS.md")
    parser.add_argument("--only", action="append", default=[], help="run only this figure (key)")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    work = Path(tempfile.mkdtemp(prefix="lifecycle-bench-"))
    compile_package()
    rows = []
    try:
        for figure in FIGURES + INDEX_FIGURES:
            if args.only and figure.key not in args.only:
                continue
            print(f"running {figure.key} ...", file=sys.stderr, flush=True)
            started = time.perf_counter()
            result = figure.run(work, sizes)
            print(
                f"  {figure.key}: {result['ratio']} ({time.perf_counter() - started:.0f} s)",
                file=sys.stderr,
                flush=True,
            )
            rows.append((figure, result))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    text = table(rows)
    print(text)
    if not args.no_write:
        mode = "quick" if args.quick else "full"
        notes = (
            (HERE / "NOTES.md").read_text(encoding="utf-8") if (HERE / "NOTES.md").exists() else ""
        )
        (HERE / "RESULTS.md").write_text(
            f"# Benchmark results\n\nRun {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {mode} sizes, "
            f"on {machine()}.\n\nEach figure is a ratio against a floor or peer measured in the same "
            f"run (`make bench`).\n\n{text}\n\n{notes}",
            encoding="utf-8",
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
