"""A cold index build read in worker processes (#14): the same answers, warnings and errors as
one process, the workers really used, and a pool that breaks or is left early costing only time."""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lifecycle import Engine, _index_pool, _pool, make_plugin_manager
from lifecycle._index import Portfolio
from lifecycle._index_pool import PARALLEL_MIN, read_all, read_one
from test_tamper import rechain, split

from conftest import FIXTURES, run_cli

COUNT = PARALLEL_MIN + 40
TODAY = dt.date(2027, 1, 1)
_PARENT = os.getpid()


@pytest.fixture(scope="module")
def many(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace of COUNT engagements (notes in some, a due date in others), one of them a
    history damaged in the middle, built once for the module."""
    ws = tmp_path_factory.mktemp("many")
    (ws / "lifecycle.toml").write_text('[actors."officer"]\nroles = ["officer"]\n', "utf-8")
    plugins = make_plugin_manager(load_entrypoints=False, environ={})
    engine = Engine(ws, plugins=plugins, playbook_dirs=[FIXTURES])
    for i in range(COUNT):
        name = f"e-{i:04d}"
        engine.open(name, "core", actor="officer", title=f"Talks {i}", facts={"country": "KEN"})
        if i % 3 == 0:
            engine.note(name, f"Shuttle round {i} with the elders", actor="officer")
    damaged = ws / "e-0007.history.jsonl"
    lines = damaged.read_bytes().splitlines(keepends=True)
    damaged.write_bytes(lines[0] + lines[1].replace(b"Talks", b"Tal ks") + b"".join(lines[2:]))
    return ws


def _copy(many: Path, tmp_path: Path, name: str) -> Path:
    target = tmp_path / name
    shutil.copytree(many, target, ignore=shutil.ignore_patterns(".lifecycle"))
    return target


def _plain(value: object, ws: Path) -> str:
    """*value* as JSON with the workspace's path taken out (errors name their file)."""
    return json.dumps(value, sort_keys=True, default=str).replace(str(ws), "WS")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def test_a_pooled_build_answers_as_one_process_does(many: Path, tmp_path: Path):
    """Rows, due items, search hits, counts and the damaged history's error are the same whether
    COUNT histories are read by two worker processes or by this one, and the workers did read."""
    one, two = _copy(many, tmp_path, "one"), _copy(many, tmp_path, "two")
    rows_one, update_one = Portfolio(one, jobs=1).rows()
    before = _children_cpu()
    rows_two, update_two = Portfolio(two, jobs=2).rows()
    assert _children_cpu() - before > 0  # the reading was done in other processes
    assert _plain(rows_two, two) == _plain(rows_one, one) and len(rows_one) == COUNT
    assert update_two.new == update_one.new == COUNT - 1
    assert list(update_two.unreadable) == list(update_one.unreadable) == ["e-0007"]
    assert _plain(update_two.unreadable, two) == _plain(update_one.unreadable, one)
    for ws in (one, two):  # what the pool built serves the same answers, warm
        again, update = Portfolio(ws, jobs=1).rows()
        assert _plain(again, ws) == _plain(rows_one, one)
        assert update.new == 0 and update.trusted + update.verified == COUNT - 1
    due = [_plain(Portfolio(ws).due(TODAY)[:2], ws) for ws in (one, two)]
    assert due[0] == due[1]
    hits = [Portfolio(ws).search("elders")[0] for ws in (one, two)]
    assert hits[0].hits == hits[1].hits and hits[0].total == (COUNT + 2) // 3


def test_a_history_changed_behind_the_index_is_reported_by_a_pooled_read(
    many: Path, tmp_path: Path
):
    """A history re-chained behind a built index (other bytes under the known head) is read
    again whole and warned of, as one process would, when the rebuild's reads run in the pool."""
    ws = _copy(many, tmp_path, "changed")
    Portfolio(ws, jobs=1).update()
    for path in ws.glob("*.history.jsonl"):
        path.write_bytes(path.read_bytes())  # touched: every history must be read again

    def edit(record: dict) -> None:
        record["data"]["text"] = record["data"]["text"].replace("elders", "donors")

    target = ws / "e-0003.history.jsonl"
    target.write_bytes(b"".join(rechain(split(target.read_bytes()), 2, edit)))
    update = Portfolio(ws, jobs=2).update()
    assert update.verified == COUNT - 2  # read whole, found the same chain
    assert update.changed == 1 and list(update.unreadable) == ["e-0007"]
    assert len(update.warnings) == 1 and "e-0003" in update.warnings[0]
    assert "changed behind the index" in update.warnings[0]
    hits = Portfolio(ws).search("donors")[0].hits
    assert [(h["engagement"], h["seq"]) for h in hits] == [("e-0003", 2)]


_GRAVES: list[Path] = []  # where a dying worker leaves its mark (set before the pool forks)


def _dying(work: _index_pool.Work) -> object:
    """read_one, except in a worker process, which dies at once (as one the OOM killer takes)."""
    if os.getpid() != _PARENT:
        (_GRAVES[0] / str(os.getpid())).touch()
        os._exit(3)
    return read_one(work)


def test_a_broken_pool_costs_only_time(many: Path, tmp_path: Path, monkeypatch):
    """When every worker dies, each history is still answered, in order, by this process."""
    ws = _copy(many, tmp_path, "broken")
    names = sorted(p.name.removesuffix(".history.jsonl") for p in ws.glob("*.history.jsonl"))
    expected = [(n, a) for n, a in read_all(str(ws), names, {}, 1)]
    graves = tmp_path / "graves"
    graves.mkdir()
    monkeypatch.setattr(_index_pool, "read_one", _dying)
    monkeypatch.setattr(sys.modules[__name__], "_GRAVES", [graves])
    got = list(read_all(str(ws), names, {}, 2))
    assert list(graves.iterdir())  # a worker did start, and died
    assert [n for n, _ in got] == names
    assert [a if isinstance(a, str) else a.row for _, a in got] == [
        a if isinstance(a, str) else a.row for _, a in expected
    ]


def test_leaving_a_pooled_read_early_stops_its_workers(many: Path):
    """A caller that stops after the first answer (a damaged index found mid-build) leaves no
    worker process behind."""
    names = [f"e-{i:04d}" for i in range(COUNT)]
    reads = read_all(str(many), names, {}, 2)
    first = next(reads)
    assert first[0] == "e-0000"
    reads.close()
    assert multiprocessing.active_children() == []


def test_the_cli_builds_a_cold_index_in_workers_with_the_same_answer(many: Path, tmp_path: Path):
    """`list --json` on a workspace with no index (built by the CLI's pool) equals `--no-index`,
    and `index --json` then finds every readable history already read."""
    ws = _copy(many, tmp_path, "cli")
    args = ("--workspace", str(ws), "--actor", "officer")
    truth = run_cli(*args, "list", "--json", "--no-index")
    cold = run_cli(*args, "list", "--json")
    assert cold.returncode == truth.returncode == 0, cold.stderr
    assert json.loads(cold.stdout) == json.loads(truth.stdout)
    assert "line 2" in json.loads(cold.stdout)["engagements"][7]["error"]  # e-0007
    assert "internal error" not in cold.stderr and "Traceback" not in cold.stderr
    settled = json.loads(run_cli(*args, "index", "--json").stdout)
    assert settled["new"] == 0 and settled["trusted"] + settled["verified"] == COUNT - 1


_CHILD_CPU = (
    "import resource, sys; from lifecycle.cli import run; code = run(sys.argv[1:]); "
    "u = resource.getrusage(resource.RUSAGE_CHILDREN); "
    "sys.stderr.write(f'children {u.ru_utime + u.ru_stime}\\n'); sys.exit(code)"
)


@pytest.mark.skipif(_pool.available_jobs() < 2, reason="one CPU: the CLI reads in one process")
def test_the_cli_reads_a_cold_build_in_workers(many: Path, tmp_path: Path):
    """On a machine of two CPUs or more, the CLI's cold `index` spends CPU in worker processes,
    and a warm one (nothing to read) starts none."""
    ws = _copy(many, tmp_path, "workers")
    env = {**os.environ, "LIFECYCLE_LOAD_PLUGINS": ""}

    def children_cpu() -> float:
        result = subprocess.run(
            [sys.executable, "-c", _CHILD_CPU, "--workspace", str(ws), "index", "--json"],
            capture_output=True, text=True, env=env, check=False, timeout=120,
        )
        assert result.returncode == 0, result.stderr
        return float(result.stderr.split("children ")[-1])

    assert children_cpu() > 0
    time.sleep(2.1)  # past the racy window: every history is then trusted on its stat
    children_cpu()
    assert children_cpu() == 0
