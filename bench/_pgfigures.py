"""The store figures (#11): appends per second with 1, 4 and 8 writer processes on distinct
engagements, PostgreSQL against the file store in the same run, and `list` on PostgreSQL.

Each PostgreSQL figure runs in a schema of its own in the test database (dropped after); the URL
is ``$LIFECYCLE_BENCH_POSTGRES`` (default ``postgresql://postgres@127.0.0.1/test``).
"""

from __future__ import annotations

import contextlib
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from _figures import Figure, Result, Sizes, _result

BASE = os.environ.get("LIFECYCLE_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1/test")

WORKER = """
import sys, time
from pathlib import Path
from lifecycle import FileStore, PostgresStore, testing
kind, where, engagement, count, go = sys.argv[1:6]
if kind == "bare":  # the floor: one INSERT and COMMIT per append, nothing else
    import psycopg
    conn = psycopg.connect(where)
    line = b"x" * 400
    def append(i):
        conn.execute("INSERT INTO bench_bare VALUES (%s, %s, %s)", (engagement, i, line))
        conn.commit()
else:
    store = PostgresStore(where) if kind == "postgresql" else FileStore(where)
    engine = testing.make_engine(store=store)
    engine.open(engagement, "core", actor="officer")
    def append(i):
        engine.note(engagement, f"note {i}", actor="officer")
print("ready", flush=True)
while not Path(go).exists():
    time.sleep(0.001)
started = time.time()
for i in range(int(count)):
    append(i)
print(started, time.time(), flush=True)
"""


@contextlib.contextmanager
def _schema() -> Iterator[str]:
    import psycopg

    from lifecycle import PostgresStore

    name = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(BASE, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {name}")
    url = f"{BASE}{'&' if '?' in BASE else '?'}options=-csearch_path%3D{name}"
    try:
        PostgresStore(url).init()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE TABLE bench_bare (k text, i int, line bytea, PRIMARY KEY (k, i))")
        yield url
    finally:
        with psycopg.connect(BASE, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {name} CASCADE")


def _rate(kind: str, where: str, writers: int, count: int, go: Path) -> float:
    """Appends per second of *writers* processes, each on its own engagement, started together."""
    go.unlink(missing_ok=True)
    env = {**os.environ, "LIFECYCLE_LOAD_PLUGINS": ""}
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                WORKER,
                kind,
                where,
                f"w{uuid.uuid4().hex[:8]}",
                str(count),
                str(go),
            ],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(writers)
    ]
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    go.touch()
    spans = []
    for proc in procs:
        out, _ = proc.communicate(timeout=600)
        assert proc.returncode == 0
        start, end = map(float, out.split())
        spans.append((start, end))
    wall = max(e for _, e in spans) - min(s for s, _ in spans)
    return writers * count / wall


def _appends(work: Path, sizes: Sizes, writers: int) -> Result:
    count = max(10, sizes.appends // 2)
    pg, files, bare = [], [], []
    with _schema() as url:
        for n in range(max(2, sizes.repeats)):  # interleaved: the noise hits all three
            folder = work / f"pg-appends-{writers}-{n}"
            folder.mkdir(parents=True)
            files.append(_rate("file", str(folder), writers, count, work / "go"))
            pg.append(_rate("postgresql", url, writers, count, work / "go"))
            bare.append(_rate("bare", url, writers, count, work / "go"))
    p, f = statistics.median(pg), statistics.median(files)
    ratio = p / f
    ours = f"{p:,.0f}/s (runs {_spread(pg)})"
    floor = (
        f"files {f:,.0f}/s (runs {_spread(files)}); bare INSERT+COMMIT "
        f"{statistics.median(bare):,.0f}/s (runs {_spread(bare)})"
    )
    return _result(ours, floor, ratio, ratio >= 0.5 if writers == 8 else True)


def _spread(rates: list[float]) -> str:
    return f"{min(rates):,.0f}-{max(rates):,.0f}"


def appends_1(work: Path, sizes: Sizes) -> Result:
    """One writer process."""
    return _appends(work, sizes, 1)


def appends_4(work: Path, sizes: Sizes) -> Result:
    """Four writer processes on distinct engagements."""
    return _appends(work, sizes, 4)


def appends_8(work: Path, sizes: Sizes) -> Result:
    """Eight writer processes on distinct engagements."""
    return _appends(work, sizes, 8)


def pg_list(work: Path, sizes: Sizes) -> Result:
    """`list` rows of every engagement held in PostgreSQL (warm: rows cached per head), vs the
    bare query fetching the same rows."""
    import psycopg

    from lifecycle import MemoryStore, PostgresStore, testing
    from lifecycle._listing import engagement_rows

    count = sizes.archive_files * 5  # 10,000 full, 300 quick
    memory = testing.make_engine(store=MemoryStore())
    for i in range(count):
        memory.open(f"e-{i:05d}", "core", actor="officer")
    histories = {e: b"".join(memory.store.lines(e)) for e in memory.engagements()}
    with _schema() as url:
        store = PostgresStore(url)
        store.load(histories)
        engine = testing.make_engine(store=store)
        started = time.perf_counter()
        engagement_rows(engine)  # cold: every engagement replayed once, its row cached
        cold = time.perf_counter() - started
        times, bare = [], []
        for _ in range(sizes.repeats):
            started = time.perf_counter()
            rows = engagement_rows(engine)
            times.append(time.perf_counter() - started)
            started = time.perf_counter()
            with psycopg.connect(url) as conn:
                conn.execute("SELECT id, summary FROM lifecycle_engagements").fetchall()
            bare.append(time.perf_counter() - started)
        assert len(rows) == count
        store.close()
    ours, floor = statistics.median(times), statistics.median(bare)
    return _result(
        f"{ours:.3f} s warm (runs {min(times):.3f}-{max(times):.3f}; cold {cold:.1f} s)",
        f"bare query {floor:.3f} s, {count:,} engagements",
        ours / floor,
        ours <= 0.5,
    )


PG_FIGURES: tuple[Figure, ...] = (
    Figure("pg-appends-1", "appends/s, 1 writer, PostgreSQL vs files", "(reference)", appends_1),
    Figure("pg-appends-4", "appends/s, 4 writers, PostgreSQL vs files", "(reference)", appends_4),
    Figure("pg-appends-8", "appends/s, 8 writers, PostgreSQL vs files", ">= 0.5x files", appends_8),
    Figure("pg-list", "`list` on PostgreSQL engagements", "<= 0.5 s", pg_list),
)
