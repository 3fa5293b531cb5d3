"""The status cache (#14): a repeated `lifecycle status` prints what the full run printed, byte
for byte, and any change to what that output depends on makes the next run a full one (real
subprocesses, real files; a probe file says whether the run imported click, i.e. ran in full)."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lifecycle import Engine, make_plugin_manager
from lifecycle._keyring import change_keyring, init_keyring
from lifecycle._keys import generate
from lifecycle._lines import format_at
from lifecycle._statuscache import MAX_ENTRY_BYTES, cache_path

from conftest import drive_core

# Runs the `python -m lifecycle` entry (lifecycle/__main__.py) as it runs for a user, moving the
# clock the status cache reads by argv[2] seconds, and writes to argv[1] which heavy modules the
# process imported: click means the full CLI ran.
LAUNCH = """
import runpy, sys, time
probe, shift = sys.argv[1], float(sys.argv[2])
if shift:
    real = time.time
    time.time = lambda: real() + shift
sys.argv = ["lifecycle", *sys.argv[3:]]
try:
    runpy.run_module("lifecycle", run_name="__main__", alter_sys=True)
finally:
    with open(probe, "w") as out:
        out.write(",".join(m for m in ("click", "attrs") if m in sys.modules))
"""


class Run:
    """One finished `lifecycle` process: its exit code, output bytes, and whether it ran in full."""

    def __init__(self, done: subprocess.CompletedProcess[bytes], imported: str) -> None:
        self.code, self.out, self.err = done.returncode, done.stdout, done.stderr
        self.imported = set(imported.split(",")) - {""}

    @property
    def full(self) -> bool:
        """Whether the full CLI ran (it imports click); else the cache answered."""
        return "click" in self.imported


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIFECYCLE_")}
    return {**env, "LIFECYCLE_ACTOR": "officer", "LIFECYCLE_LOAD_PLUGINS": "", **extra}


def _status(
    workspace: Path,
    *args: str,
    env: dict[str, str] | None = None,
    shift: float = 0,
    pythonpath: Path | None = None,
) -> Run:
    probe = workspace.parent / "probe.txt"
    env = env if env is not None else _env()
    if pythonpath is not None:
        env = {**env, "PYTHONPATH": str(pythonpath)}
    argv = ["--workspace", str(workspace), "status", *args]
    done = subprocess.run(
        [sys.executable, "-c", LAUNCH, str(probe), str(shift), *argv],
        capture_output=True,
        env=env,
        timeout=60,
        check=False,
    )
    return Run(done, probe.read_text())


def _warm(workspace: Path, *args: str, **kwargs: Any) -> Run:
    """Run status until it is answered from the cache (the first run writes the entry)."""
    first = _status(workspace, *args, **kwargs)
    again = _status(workspace, *args, **kwargs)
    assert first.full and not again.full, (first.err, again.err)
    assert (again.code, again.out, again.err) == (first.code, first.out, first.err)
    return again


def _engine(workspace: Path) -> Engine:
    return Engine(workspace, plugins=make_plugin_manager(load_entrypoints=False, environ={}))


def _uncached(workspace: Path, *args: str, **kwargs: Any) -> Run:
    """A full run: the status cache folder's entries removed first."""
    for entry in (workspace / ".lifecycle").glob("*.status-*"):
        entry.unlink()
    done = _status(workspace, *args, **kwargs)
    assert done.full
    return done


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    """A workspace with three engagements: just opened, mid-way, and long (a snapshot)."""
    workspace = tmp_path / "ws"
    engine = _engine(workspace)
    engine.open("fresh", "core", actor="officer", title="Fresh — ünïcode")
    drive_core(engine, "midway", until="appoint")
    drive_core(engine, "long", until="end-support")
    while engine.engagement("long").seq < 150:
        engine.note("long", "a note", actor="officer")
    return workspace


@pytest.mark.parametrize("engagement", ["fresh", "midway", "long"])
@pytest.mark.parametrize("form", [(), ("--json",)], ids=["text", "json"])
def test_cached_status_is_byte_for_byte_the_full_one(
    ws: Path, engagement: str, form: tuple[str, ...]
) -> None:
    """The cached answer equals an uncached run's stdout, stderr and exit code exactly."""
    cached = _warm(ws, engagement, *form)
    full = _uncached(ws, engagement, *form)
    assert (cached.code, cached.out, cached.err) == (full.code, full.out, full.err)
    assert cached.code == 0 and engagement.encode() in cached.out


def test_text_and_json_are_kept_apart(ws: Path) -> None:
    """The text and the --json answers are separate entries, each printed for its own form."""
    text, json_ = _warm(ws, "midway"), _warm(ws, "midway", "--json")
    assert json_.out.startswith(b"{") and not text.out.startswith(b"{")
    assert _status(ws, "midway").out == text.out


def test_the_cached_path_imports_neither_click_nor_attrs(ws: Path) -> None:
    """A status answered from the cache imports neither click nor attrs."""
    assert _warm(ws, "long").imported == set()


def test_the_console_script_answers_from_the_cache_too(ws: Path) -> None:
    """The `lifecycle` script prints the cached answer the full run printed."""
    script = Path(sys.executable).parent / "lifecycle"
    assert "lifecycle._fast" in script.read_text(encoding="utf-8")
    args = [str(script), "--workspace", str(ws), "status", "midway"]
    first = subprocess.run(args, capture_output=True, env=_env(), timeout=60, check=True)
    again = subprocess.run(args, capture_output=True, env=_env(), timeout=60, check=True)
    assert again.stdout == first.stdout and b"midway" in again.stdout
    assert Path(cache_path(str(ws), "midway", as_json=False)).is_file()


def test_an_append_by_another_process_is_seen(ws: Path) -> None:
    """After another process appends an event, status runs in full and counts it."""
    before = _warm(ws, "midway", "--json")
    note = subprocess.run(
        [sys.executable, "-m", "lifecycle", "--workspace", str(ws), "note", "midway", "hello"],
        env=_env(),
        capture_output=True,
        check=True,
    )
    assert note.returncode == 0
    after = _status(ws, "midway", "--json")
    assert after.full and after.out != before.out
    assert after.out == _uncached(ws, "midway", "--json").out


def test_a_head_line_rewritten_at_the_same_size_is_refused_again(ws: Path) -> None:
    """Rewriting the last line's bytes in place (same size) makes status read the history
    again, which refuses it, instead of printing the cached answer."""
    _warm(ws, "midway")
    path = ws / "midway.history.jsonl"
    data = path.read_bytes()
    at = data.rindex(b'"officer"')
    path.write_bytes(data[:at] + b'"offices"' + data[at + len(b'"officer"') :])
    assert len(path.read_bytes()) == len(data)
    done = _status(ws, "midway")
    assert done.full and done.code != 0 and b"midway" in done.err


def test_another_day_is_not_answered_from_yesterday(ws: Path) -> None:
    """With the clock a day later, the entry written today is not used."""
    _warm(ws, "midway")
    assert _status(ws, "midway", shift=86_400).full
    assert not _status(ws, "midway").full


@pytest.mark.parametrize(
    ("how", "env", "args"),
    [
        ("option", _env(), ("--actor", "someone-else")),
        ("variable", _env(LIFECYCLE_ACTOR="someone-else"), ()),
    ],
)
def test_another_actor_is_not_answered_from_the_cache(
    ws: Path, how: str, env: dict[str, str], args: tuple[str, ...]
) -> None:
    """Another actor (by option or by variable) gets a full run naming them."""
    _warm(ws, "midway")
    probe = ws.parent / "probe.txt"
    argv = [*args, "--workspace", str(ws), "status", "midway"]
    done = subprocess.run(
        [sys.executable, "-c", LAUNCH, str(probe), "0", *argv], env=env, capture_output=True
    )
    assert done.returncode == 0 and b"someone-else" in done.stdout
    assert "click" in probe.read_text()


def test_a_keyring_and_its_changes_are_seen(ws: Path) -> None:
    """Creating the keyring, and then changing it, each make the next status a full run; the
    keyring's roles show, and the warning about lifecycle.toml's roles is replayed."""
    (ws / "lifecycle.toml").write_text('[actors."officer"]\nroles = ["head-of-unit"]\n')
    assert b"head-of-unit" in _warm(ws, "midway").out
    keyring, root = ws / "keyring.jsonl", generate("root")
    now = format_at(dt.datetime.now(dt.UTC))
    init_keyring(keyring, root, now)
    added = {"name": "officer", "key": generate("officer").public.line, "roles": ["officer"]}
    change_keyring(keyring, root, "actor_added", added, now)
    done = _warm(ws, "midway")
    assert b"(officer)" in done.out and b"ignored" in done.err
    other = {"name": "head", "key": generate("head").public.line, "roles": ["officer"]}
    change_keyring(keyring, root, "actor_added", other, now)
    after = _status(ws, "midway")
    assert after.full and (after.out, after.err) == (done.out, done.err)


def test_lifecycle_toml_changes_are_seen(ws: Path) -> None:
    """Giving the actor roles in lifecycle.toml makes the next status a full run showing them."""
    assert b"no roles" in _warm(ws, "midway").out
    (ws / "lifecycle.toml").write_text('[actors."officer"]\nroles = ["head-of-unit"]\n')
    done = _status(ws, "midway")
    assert done.full and b"head-of-unit" in done.out


def test_plugins_loaded_are_never_answered_from_the_cache(ws: Path) -> None:
    """With plugins loaded (all of them, or one named), status always runs in full."""
    _warm(ws, "midway")
    everything = {k: v for k, v in _env().items() if k != "LIFECYCLE_LOAD_PLUGINS"}
    for env in (everything, _env(LIFECYCLE_LOAD_PLUGINS="lifecycle-mandate")):
        for _ in range(2):
            done = _status(ws, "midway", env=env)
            assert done.full and done.code == 0 and b"midway" in done.out


def test_another_code_version_is_not_answered_from_the_cache(ws: Path, tmp_path: Path) -> None:
    """Editing any file of the package makes the next status a full run."""
    import lifecycle

    src = tmp_path / "src"
    shutil.copytree(
        Path(lifecycle.__file__).parent,
        src / "lifecycle",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    _warm(ws, "midway", pythonpath=src)
    with (src / "lifecycle" / "_status.py").open("a", encoding="utf-8") as module:
        module.write("# an edit\n")
    assert _status(ws, "midway", pythonpath=src).full
    assert not _status(ws, "midway", pythonpath=src).full


def _hostile(entry: Path, kind: str) -> None:
    """Put something that is not a valid entry of this run at *entry*."""
    good = entry.read_bytes()
    entry.unlink()
    if kind == "garbage":
        entry.write_bytes(b'{"format": "lifecycle-status", "stdout": "forged"}\n')
    elif kind == "huge":
        entry.write_bytes(good + b"x" * MAX_ENTRY_BYTES)
    elif kind == "flipped":
        entry.write_bytes(good[:-3] + bytes([good[-3] ^ 1]) + good[-2:])
    elif kind == "truncated":
        entry.write_bytes(good[: len(good) // 2])
    elif kind == "fifo":
        os.mkfifo(entry)
    elif kind == "directory":
        entry.mkdir()
    elif kind == "symlink":
        target = entry.parent.parent.parent / "elsewhere"
        target.write_bytes(good)
        entry.symlink_to(target)
    elif kind == "foreign":  # a valid entry, of another engagement
        other = entry.with_name(entry.name.replace("midway", "fresh"))
        entry.write_bytes(other.read_bytes())


@pytest.mark.parametrize(
    "kind",
    ["garbage", "huge", "flipped", "truncated", "fifo", "directory", "symlink", "foreign"],
)
def test_a_hostile_entry_is_ignored_and_status_is_right(ws: Path, kind: str) -> None:
    """A damaged, foreign, oversized or special entry is never printed, never hangs or breaks
    status: the full run answers, as an uncached one does."""
    _warm(ws, "fresh")
    expected = _warm(ws, "midway")
    _hostile(Path(cache_path(str(ws), "midway", as_json=False)), kind)
    done = _status(ws, "midway")
    assert done.full and (done.code, done.out, done.err) == (0, expected.out, expected.err)


def test_a_failed_status_is_not_kept(ws: Path) -> None:
    """A status that fails (no such engagement) writes no entry and fails the same each time."""
    runs = [_status(ws, "nope") for _ in range(2)]
    assert all(r.full and r.code == 2 for r in runs) and runs[0].err == runs[1].err
    assert not Path(cache_path(str(ws), "nope", as_json=False)).exists()


def test_status_with_lessons_is_not_kept(ws: Path) -> None:
    """A status that lists lessons of other histories (a lessons stage) is always a full run."""
    engine = _engine(ws)
    drive_core(engine, "briefing", until="complete-induction")
    assert engine.status("briefing", actor="officer")["lessons"] is not None
    for _ in range(2):
        assert _status(ws, "briefing").full
    assert not Path(cache_path(str(ws), "briefing", as_json=False)).exists()


def test_a_closed_pipe_ends_the_cached_answer_quietly(ws: Path) -> None:
    """`status | head -c 1` answered from the cache exits 0 with nothing on stderr."""
    _warm(ws, "long")
    probe = ws.parent / "probe.txt"
    argv = [sys.executable, "-c", LAUNCH, str(probe), "0", "--workspace", str(ws), "status", "long"]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env()) as p:
        assert p.stdout is not None and p.stderr is not None
        p.stdout.close()
        err = p.stderr.read()
        assert p.wait(timeout=60) == 0 and err == b""
    assert probe.read_text() == ""


def test_a_rewritten_snapshot_is_seen(ws: Path) -> None:
    """Rewriting the engagement's snapshot (the full run starts from it) makes the next status a
    full run."""
    _warm(ws, "long")
    snapshot = ws / ".lifecycle" / "long.snapshot.json"
    snapshot.write_bytes(snapshot.read_bytes())
    assert _status(ws, "long").full
    assert not _status(ws, "long").full


def test_a_variable_that_is_not_text_is_refused_as_before(ws: Path) -> None:
    """A LIFECYCLE_* variable holding bytes that are not UTF-8 (even the passphrase, which the
    key leaves out) is refused by the full CLI, exit 2, cache or not."""
    _warm(ws, "midway")
    done = _status(ws, "midway", env=_env(LIFECYCLE_KEY_PASSPHRASE="\udcff"))
    assert done.full and done.code == 2 and b"not UTF-8" in done.err


def test_an_actor_only_the_password_database_names_is_not_answered_from_the_cache(
    ws: Path,
) -> None:
    """With no actor given and no login variable set, status always runs in full."""
    env = {
        k: v
        for k, v in _env().items()
        if k not in ("LIFECYCLE_ACTOR", "LOGNAME", "USER", "LNAME", "USERNAME")
    }
    runs = [_status(ws, "midway", env=env) for _ in range(2)]
    assert all(r.full and r.code == 0 for r in runs) and runs[0].out == runs[1].out
    with_login = _warm(ws, "midway", env={**env, "USER": "login-name"})
    assert b"login-name" in with_login.out


def test_the_status_cache_names_the_workspace_layout_as_everything_else_does():
    """The status cache's own copies of the history suffix and the derived-files folder (kept
    so that its front door imports nothing) are the names lifecycle._layout gives everyone."""
    from lifecycle import _layout, _statuscache

    assert (_statuscache.FOLDER, _statuscache.SUFFIX) == (_layout.FOLDER, _layout.SUFFIX)
