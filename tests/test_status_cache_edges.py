"""The status cache against a careless officer (#14 review): a settings file reached through a
symlink, a stream encoding click rewrites, a failed write, and a run across midnight; each time
the cached answer must be what the full run says now (real subprocesses, real files)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from test_status_cache import LAUNCH, _env, _status, _uncached, _warm, ws  # noqa: F401


def test_a_symlinked_lifecycle_toml_edited_is_seen(ws: Path) -> None:  # noqa: F811
    """An edit of the file a symlinked lifecycle.toml points at makes the next status a full
    run showing the new roles."""
    shared = ws.parent / "office.toml"
    shared.write_text('[actors."officer"]\nroles = ["head-of-unit"]\n')
    (ws / "lifecycle.toml").symlink_to(shared)
    assert b"head-of-unit" in _warm(ws, "midway").out
    shared.write_text('[actors."officer"]\nroles = ["director"]\n')
    done = _status(ws, "midway")
    assert done.full and b"director" in done.out


@pytest.mark.parametrize(
    "encoding", ["ascii:backslashreplace", "ascii:replace", "utf-16", "utf-8-sig", "cp1252"]
)
def test_an_odd_stream_encoding_gets_what_the_full_run_prints(ws: Path, encoding: str) -> None:  # noqa: F811
    """With an ASCII stdout that does not refuse (which click writes to as UTF-8) or an encoding
    with a byte order mark (never written for no text), the answer is the bytes an uncached run
    prints, not the cached text encoded otherwise."""
    _warm(ws, "fresh")
    env = {**_env(), "PYTHONIOENCODING": encoding}
    answered = _status(ws, "fresh", env=env)
    full = _uncached(ws, "fresh", env=env)
    assert full.code == 0 and full.out and not full.err
    assert (answered.code, answered.out, answered.err) == (full.code, full.out, full.err)


def _to_full_disk(ws: Path) -> tuple[int, bytes]:  # noqa: F811
    """Exit code and stderr of a status whose stdout is /dev/full."""
    probe = ws.parent / "probe.txt"
    argv = ["--workspace", str(ws), "status", "midway"]
    with open("/dev/full", "wb") as full:
        done = subprocess.run(
            [sys.executable, "-c", LAUNCH, str(probe), "0", *argv],
            stdout=full,
            stderr=subprocess.PIPE,
            env=_env(),
            timeout=60,
            check=False,
        )
    return done.returncode, done.stderr


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full")
def test_a_failed_write_is_reported_as_the_full_run_reports_it(ws: Path) -> None:  # noqa: F811
    """Stdout on a full disk: the cached answer fails with the full run's exit code and its
    very line on stderr."""
    _warm(ws, "midway")
    answered = _to_full_disk(ws)
    _uncached(ws, "midway")
    (ws / ".lifecycle" / "midway.status-text").unlink()
    assert answered == _to_full_disk(ws)
    assert answered == (1, b"lifecycle: error: cannot write to standard output: No space left on device\n")


# Runs status in-process with a clock that passes midnight UTC after its first reading, then
# says whether an entry is kept under the first day's key (the key of this very process).
MIDNIGHT = """
import datetime as dt, os, sys
from lifecycle import _statuscache as cache
from lifecycle.cli import run
first = iter([dt.datetime(2026, 12, 1, 23, 59, 59, 999000, tzinfo=dt.UTC)])
late = dt.datetime(2026, 12, 2, 0, 0, 1, tzinfo=dt.UTC)
argv = ["--workspace", sys.argv[1], "status", "midway"]
code = run(argv, clock=lambda: next(first, late))
key = cache.key_of(sys.argv[1], "midway", argv, os.environ, "2026-12-01")
try:
    cache.read_entry(cache.cache_path(sys.argv[1], "midway", False), key)
    print(code, "kept", file=sys.stderr)
except cache.Miss:
    print(code, "not kept", file=sys.stderr)
"""


def test_a_run_across_midnight_keeps_no_entry_of_the_day_before(ws: Path) -> None:  # noqa: F811
    """A status whose clock passes midnight while it runs keeps nothing under the first day's
    key (what it printed is of the second day)."""
    done = subprocess.run(
        [sys.executable, "-c", MIDNIGHT, str(ws)],
        capture_output=True,
        env=_env(),
        timeout=60,
        check=False,
    )
    assert done.stderr == b"0 not kept\n"
