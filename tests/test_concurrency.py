"""Concurrent writers: real processes appending to one engagement at once."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path

from lifecycle import Engine, FileHistoryStore

from conftest import run_cli

NOTER = r"""
import sys
from lifecycle import Engine, make_plugin_manager

workspace, engagement, name, count = sys.argv[1:5]
engine = Engine(workspace, plugins=make_plugin_manager(load_entrypoints=False, environ={}))
print("ready", flush=True)
sys.stdin.readline()  # wait for "go", so the writers really overlap
for i in range(int(count)):
    print(engine.note(engagement, f"{name} {i}", actor=name).event["seq"], flush=True)
"""

RACER = r"""
import sys
from lifecycle import FileHistoryStore
from lifecycle.exceptions import ConcurrencyConflict

path, name, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
store = FileHistoryStore(__import__("pathlib").Path(path))
conflicts = 0
head = store.read()[-1]["seq"]   # read before the race: every racer holds the same head
print("ready", flush=True)
sys.stdin.readline()
done = 0
while done < count:
    try:
        with store.session() as session:
            at = session.records[-1]["at"]
            stored = session.append({"at": at, "actor": name, "type": "note_added", "v": 1,
                                     "data": {"text": f"{name} {done}"}}, expected_seq=head)
        done += 1
        head = stored["seq"]
        print("ok", stored["seq"], flush=True)
    except ConcurrencyConflict as exc:
        conflicts += 1
        print("conflict", exc.expected, exc.actual, flush=True)
        head = exc.actual   # reload and retry
print("conflicts", conflicts, flush=True)
"""


def start_all(script: Path, argvs: list[list[str]]) -> list[subprocess.Popen[str]]:
    """Start one child per argv, wait until each says it is ready, then tell them all to go."""
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), *argv],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for argv in argvs
    ]
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    return procs


def finish(procs: list[subprocess.Popen[str]]) -> list[list[str]]:
    """Wait for every child; return each one's remaining stdout lines (a failure shows stderr)."""
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        outputs.append(out.split("\n")[:-1])
    return outputs


def test_two_processes_appending_50_notes_each(
    engine: Engine, workspace: Path, tmp_path: Path
) -> None:
    """Two processes adding 50 notes each at once leave 101 gapless events and a clean audit."""
    engine.open("eng-1", "core", actor="officer")
    script = tmp_path / "noter.py"
    script.write_text(NOTER, encoding="utf-8")
    outputs = finish(
        start_all(script, [[str(workspace), "eng-1", name, "50"] for name in ("alice", "bob")])
    )
    acked = [[int(seq) for seq in out] for out in outputs]
    assert all(len(seqs) == 50 and seqs == sorted(seqs) for seqs in acked)
    assert sorted(acked[0] + acked[1]) == list(range(2, 102))
    records = FileHistoryStore(engine.workspace.path_of("eng-1")).read()
    assert [r["seq"] for r in records] == list(range(1, 102))
    for name, seqs in zip(("alice", "bob"), acked, strict=True):
        mine = [r for r in records if r["actor"] == name]
        assert [r["seq"] for r in mine] == seqs
        assert [r["data"]["text"] for r in mine] == [f"{name} {i}" for i in range(50)]
    interleaved = sum(1 for a, b in itertools.pairwise(records) if a["actor"] != b["actor"])
    print(f"writer switches: {interleaved}")
    result = run_cli("--workspace", str(workspace), "audit", str(workspace))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "101 events" in result.stdout


def test_two_cli_processes_appending_notes(engine: Engine, workspace: Path) -> None:
    """Two shell loops of `python -m lifecycle note` running at once lose no note."""
    engine.open("eng-1", "core", actor="officer")
    env = {**os.environ, "LIFECYCLE_LOAD_PLUGINS": "", "LIFECYCLE_WORKSPACE": str(workspace)}
    loop = (
        'for i in $(seq 1 10); do "$0" -m lifecycle --actor "$1" note eng-1 "$1 $i" || exit 1; done'
    )
    procs = [
        subprocess.Popen(
            ["sh", "-c", loop, sys.executable, name],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("carol", "dave")
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        assert out.count("Noted") == 10
    records = FileHistoryStore(engine.workspace.path_of("eng-1")).read()
    assert [r["seq"] for r in records] == list(range(1, 22))
    for name in ("carol", "dave"):
        assert [r["data"]["text"] for r in records if r["actor"] == name] == [
            f"{name} {i}" for i in range(1, 11)
        ]
    result = run_cli("--workspace", str(workspace), "audit", str(workspace))
    assert result.returncode == 0, result.stdout + result.stderr


def test_stale_expected_seq_conflicts_and_file_stays_valid(
    engine: Engine, workspace: Path, tmp_path: Path
) -> None:
    """Racers appending with expected_seq see conflicts, retry, and leave a gapless, valid file."""
    engine.open("eng-1", "core", actor="officer")
    path = engine.workspace.path_of("eng-1")
    script = tmp_path / "racer.py"
    script.write_text(RACER, encoding="utf-8")
    names = [f"racer{i}" for i in range(4)]
    outputs = finish(start_all(script, [[str(path), name, "20"] for name in names]))
    conflicts = [int(out[-1].split()[1]) for out in outputs]
    print(f"conflicts seen: {sum(conflicts)}")
    assert sum(conflicts) >= 1
    for out in outputs:
        for line in out:
            if line.startswith("conflict "):
                _, expected, actual = line.split()
                assert int(expected) < int(actual)
    records = FileHistoryStore(path).read()
    assert [r["seq"] for r in records] == list(range(1, 82))
    for name in names:
        assert [r["data"]["text"] for r in records if r["actor"] == name] == [
            f"{name} {i}" for i in range(20)
        ]
    result = run_cli("--workspace", str(workspace), "audit", str(workspace))
    assert result.returncode == 0, result.stdout + result.stderr
