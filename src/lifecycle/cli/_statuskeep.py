"""Keeping what a full ``status`` run printed in the status cache (:mod:`lifecycle._statuscache`).

The key is computed before the command runs and again after it: the entry is written only when
both are the same (nothing it depends on changed meanwhile, not even the date), the command
raised nothing, printed exactly what it rendered, and read no other history (its ``lessons``).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from typing import IO, Any

from .. import _statuscache as cache
from . import current_args
from ._lazyplugins import _builtin_only

__all__ = ["keeping"]


class _Recorded:
    """A text stream that keeps a copy of the text written through it (click probes a stream
    with an empty bytes write; any other bytes make the record unusable)."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self.parts: list[str] = []
        self.whole = True

    def write(self, text: str) -> int:
        if isinstance(text, str):
            self.parts.append(text)
        elif text:
            self.whole = False
        return self._stream.write(text)

    @property
    def text(self) -> str | None:
        """What was written, or None when it was not all text."""
        return "".join(self.parts) if self.whole else None

    def __getattr__(self, name: str) -> Any:
        # Any: whatever the wrapped stream has (flush, encoding, isatty...); click asks for them.
        return getattr(self._stream, name)


class Keeper:
    """What the status command tells the cache: the text it printed, and its lessons."""

    def __init__(self) -> None:
        self.printed: str | None = None
        self.cacheable = True

    def printing(self, text: str, lessons: object) -> None:
        """The command prints *text* (a line); a status with *lessons* depended on other
        histories and is not kept."""
        self.printed = text + "\n"
        self.cacheable = lessons is None


@contextlib.contextmanager
def keeping(env: Any, engagement: str, as_json: bool, today: Callable[[], str]) -> Iterator[Keeper]:
    """Run the block (the status command), then keep what it wrote if the cache may serve it.

    *env* is the CLI's Env; *today* tells the date by its clock, as ``YYYY-MM-DD``, asked again
    at the end (a run across midnight printed the second day's status: it keeps nothing).
    """
    # Any: cli.Env (imported lazily by the commands to keep the import graph one-way).
    keeper = Keeper()
    key = _key(env, engagement, today())
    saved = sys.stdout, sys.stderr
    out, err = _Recorded(saved[0]), _Recorded(saved[1])
    sys.stdout, sys.stderr = out, err  # duck-typed text streams
    try:
        yield keeper
    finally:
        sys.stdout, sys.stderr = saved
    printed, warned = keeper.printed, err.text
    if key is None or not keeper.cacheable or printed is None or out.text != printed:
        return
    if warned is None:
        return
    if _key(env, engagement, today()) != key:
        return  # something changed while the command ran: its output may be of either side
    try:
        entry = cache.entry_of(key, printed, warned)
    except UnicodeEncodeError:
        return
    cache.write_entry(cache.cache_path(str(env.workspace), engagement, as_json), entry)


def _none_installed(env: Any) -> bool:
    """Whether plugins are loaded as by default (``LIFECYCLE_LOAD_PLUGINS`` unset) and none
    is installed: the run loaded the built-in plugin alone (the fast path checks the same
    before it answers)."""
    # Any: cli.Env.
    if "LIFECYCLE_LOAD_PLUGINS" in os.environ or os.environ.get("LIFECYCLE_TRACE_PLUGINS"):
        return False
    return all(report.builtin for report in env.plugins.reports)


def _key(env: Any, engagement: str, today: str) -> bytes | None:
    """The cache key of this run, or None when the cache never answers it (a key, a shared
    store, plugins loaded, or a history the key cannot be taken of)."""
    # Any: cli.Env.
    if env.key is not None or env.store_url is not None:
        return None
    if not (_builtin_only() or _none_installed(env)):
        return None
    try:
        args = current_args()
        return cache.key_of(str(env.workspace), engagement, args, os.environ, today)
    except (cache.Miss, OSError, UnicodeEncodeError):
        return None
