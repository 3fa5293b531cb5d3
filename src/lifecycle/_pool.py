"""Worker processes for work that splits by history: how many, how much per task, in order.

``audit --jobs`` and a cold index build (:mod:`~lifecycle._index_pool`) both hand histories to
a process pool. Each task is small (at most :data:`CHUNK_MAX` items), so that no worker idles
while another ends a long chunk: a task's round trip costs far less than one history's work.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from typing import Final, TypeVar

__all__ = ["CHUNK_MAX", "available_jobs", "chunk_size", "in_order"]

CHUNK_MAX: Final = 8  # 2,000 files in chunks of 125 left a core idle ~0.4 s at the end
_JOBS_MAX: Final = 4  # for a cold build: each worker holds one history at a time

W = TypeVar("W")
R = TypeVar("R")


def available_jobs() -> int:
    """The CPUs this process may run on (at most 4)."""
    try:
        count = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux: what the machine has
        count = os.cpu_count() or 1
    return max(1, min(_JOBS_MAX, count))


def chunk_size(items: int, jobs: int) -> int:
    """Items per task for *items* over *jobs* workers: about a sixteenth of each worker's share,
    at most :data:`CHUNK_MAX`."""
    return max(1, min(CHUNK_MAX, items // (jobs * 8)))


def in_order(fn: Callable[[W], R], work: Sequence[W], jobs: int) -> Iterator[R]:
    """``fn(item)`` of each item of *work*, computed in *jobs* worker processes and yielded in
    order, until the pool breaks (a worker killed, none could start): then it stops, and the
    caller does the rest itself (it knows how many it got)."""
    from concurrent.futures import ProcessPoolExecutor  # only when asked: ~7 ms to import
    from concurrent.futures.process import BrokenProcessPool

    try:
        pool = ProcessPoolExecutor(max_workers=jobs)
    except (OSError, ValueError):  # no process can be started here
        return
    try:
        answers = pool.map(fn, work, chunksize=chunk_size(len(work), jobs))
        while True:
            try:
                answer = next(answers)
            except StopIteration:
                return
            except (BrokenProcessPool, OSError):  # a worker died, or none could start
                return
            yield answer
    finally:
        # Also when the caller stops early (a damaged index found mid-build): what was not
        # started is cancelled, not done for nothing.
        pool.shutdown(wait=True, cancel_futures=True)
