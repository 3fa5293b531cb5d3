"""What whole processes pay (#14): the libraries `lifecycle status` imports, and the audit's peak
memory, which must not grow with the history (real subprocesses, real files)."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from lifecycle import Engine
from lifecycle._lines import encode_line, format_at
from lifecycle._snapshot import snapshot_path

from conftest import drive_core

HEAVY = {"cattrs", "transitions", "pluggy", "cryptography", "pycountry", "psycopg"}
PROBE = (
    "import sys; from lifecycle.cli import run; code = run(sys.argv[1:]); "
    "print(sorted({m.split('.')[0] for m in sys.modules} & %r), file=sys.stderr); sys.exit(code)"
)


def _status(
    workspace: Path, *extra: str, plugins: str | None = ""
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIFECYCLE_")}
    env["LIFECYCLE_ACTOR"] = "officer"
    if plugins is not None:
        env["LIFECYCLE_LOAD_PLUGINS"] = plugins
    return subprocess.run(
        [
            sys.executable,
            "-c",
            PROBE % HEAVY,
            "--workspace",
            str(workspace),
            "status",
            "eng-1",
            *extra,
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def _imported(done: subprocess.CompletedProcess[str]) -> set[str]:
    return set(json.loads(done.stderr.strip().splitlines()[-1].replace("'", '"')))


def test_status_imports_none_of_the_heavy_libraries(engine: Engine, workspace: Path):
    """`status` (plugins off) imports no cattrs, transitions, pluggy, cryptography, pycountry or
    psycopg, from a snapshot or from a full replay, and prints the same either way."""
    drive_core(engine, until="end-support")
    while engine.engagement("eng-1").seq < 150:  # long enough for a snapshot
        engine.note("eng-1", "n", actor="officer")
    first = _status(workspace, "--json")
    assert first.returncode == 0, first.stderr
    assert snapshot_path(engine.workspace.path_of("eng-1")).exists()
    again = _status(workspace, "--json")
    assert again.returncode == 0 and _imported(again) == set()
    assert json.loads(again.stdout) == json.loads(first.stdout)


def test_a_damaged_snapshot_is_ignored(engine: Engine, workspace: Path):
    """A snapshot file of garbage is ignored: status replays and answers as before."""
    drive_core(engine, until="end-support")
    while engine.engagement("eng-1").seq < 150:
        engine.note("eng-1", "n", actor="officer")
    before = _status(workspace, "--json")
    snapshot_path(engine.workspace.path_of("eng-1")).write_bytes(b"\x00not json{")
    after = _status(workspace, "--json")
    assert after.returncode == 0, after.stderr
    assert json.loads(after.stdout) == json.loads(before.stdout)


def test_status_with_plugins_on_still_loads_them(engine: Engine, workspace: Path):
    """With entry-point plugins allowed, status loads them (pluggy) to know every rule kind."""
    drive_core(engine, until="end-support")
    done = _status(workspace, plugins=None)
    assert done.returncode == 0, done.stderr
    assert "pluggy" in _imported(done)


# ---------------------------------------------------------------- audit memory


def _write_history(path: Path, base: list[bytes], events: int) -> None:
    """*base* (an engine-written history in active support), then notes and activities (one in
    five events, each held the day it is recorded: on time, so no finding grows with them)."""
    records = [json.loads(line) for line in base]
    head = records[-1]["hash"]
    start = dt.datetime.fromisoformat(records[-1]["at"][:-1]).replace(tzinfo=dt.UTC)
    with path.open("wb") as out:
        out.write(b"".join(base))
        for seq in range(len(records), events + 1):
            at = start + dt.timedelta(seconds=seq)
            if seq % 5:
                body = {"type": "note_added", "v": 1, "data": {"text": f"Call {seq}."}}
            else:
                data = {
                    "activity": "peer-coaching",
                    "on": at.date().isoformat(),
                    "stage": "active-support",
                    "rules": [],
                }
                body = {"type": "activity_recorded", "v": 1, "data": data}
            record = {"seq": seq, "at": format_at(at), "actor": "a.mensah", **body, "prev": head}
            line = encode_line(record)
            out.write(line)
            head = line[-67:-3].decode()


def _peak_mb(path: Path) -> tuple[float, int, bool]:
    code = (
        "import datetime as dt, sys; from pathlib import Path; "
        "from lifecycle import audit_file, make_plugin_manager; "
        "k = make_plugin_manager(load_entrypoints=False, environ={}).rule_kinds(); "
        f"r = audit_file(Path({str(path)!r}), kinds=k, today=dt.date(2100, 1, 1)); "
        # VmHWM: this process's own peak (ru_maxrss would carry the parent's over fork+exec).
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0]; "
        "print(hwm.split()[1], len(r.findings), r.ok)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    return int(out[0]) / 1024, int(out[1]), out[2] == "True"


def test_audit_memory_does_not_grow_with_the_history(
    engine: Engine, workspace: Path, tmp_path: Path
):
    """Past the logs' memory limit (8,192 items each), auditing 3x the events and activities
    raises the peak by under 3 MB (measured: 0.2 MB); before the logs spilled, these 240,000
    more events grew it by about 10 MB (the activities list)."""
    drive_core(engine, until="end-support")
    base = engine.workspace.path_of("eng-1").read_bytes().splitlines(keepends=True)
    small, large = tmp_path / "s" / "eng-1.history.jsonl", tmp_path / "l" / "eng-1.history.jsonl"
    for path, events in ((small, 120_000), (large, 360_000)):
        path.parent.mkdir()
        _write_history(path, base, events)
    small_mb, small_findings, small_ok = _peak_mb(small)
    large_mb, large_findings, large_ok = _peak_mb(large)
    assert small_ok and large_ok and small_findings == large_findings
    assert large_mb - small_mb < 3, (small_mb, large_mb)


INDEX_PROBE = (
    "import sys; from lifecycle.cli import run; code = run(sys.argv[1:]); "
    "print(sorted({'sqlite3', 'lifecycle._index', 'lifecycle._index_db'} & set(sys.modules)), "
    "file=sys.stderr); sys.exit(code)"
)


def _probed(probe: str, workspace: Path, *command: str) -> set[str]:
    """What of its set *probe* says `lifecycle --workspace WORKSPACE COMMAND` imported (plugins
    off, a known actor), the command having succeeded."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIFECYCLE_")}
    env.update(LIFECYCLE_ACTOR="officer", LIFECYCLE_LOAD_PLUGINS="")
    done = subprocess.run(
        [sys.executable, "-c", probe, "--workspace", str(workspace), *command],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return _imported(done)


def test_status_does_not_import_the_portfolio_index(engine: Engine, workspace: Path):
    """`status` starts without the portfolio index or sqlite3, which only index, search, list
    and due use (#14), while `list` in the same workspace does import them."""
    drive_core(engine, until="end-support")
    seen = {}
    for command in (["status", "eng-1"], ["list"]):
        seen[command[0]] = _probed(INDEX_PROBE, workspace, *command)
    assert seen["status"] == set()
    assert seen["list"] == {"sqlite3", "lifecycle._index", "lifecycle._index_db"}


ENGINE_PROBE = (
    "import sys; from lifecycle.cli import run; code = run(sys.argv[1:]); "
    "print(sorted({'attrs', 'attr', 'lifecycle._engine', 'lifecycle._model', "
    "'lifecycle._index_read', 'tomllib', 'tempfile'} & set(sys.modules)), file=sys.stderr); "
    "sys.exit(code)"
)


def test_warm_portfolio_commands_import_no_engine(engine: Engine, workspace: Path):
    """`list`, `due`, `search` and `index` on an index that is up to date read the index alone:
    they import neither the engine, the playbook model, attrs, the history reader, the TOML
    parser nor tempfile (#14), while the first `list` (which reads the histories) does."""
    drive_core(engine, until="end-support")

    def imported(*command: str) -> set[str]:
        return _probed(ENGINE_PROBE, workspace, *command)

    time.sleep(2.2)  # past the index's racy window: the history can be trusted once read
    assert "lifecycle._index_read" in imported("list")  # new to the index: read, replayed
    for command in (["list"], ["due"], ["search", "envoy"], ["index"]):
        assert imported(*command) == set(), command
