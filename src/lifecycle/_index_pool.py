"""Reading the histories an index update must read: in worker processes when there are many.

A cold build (no index, ``index --rebuild``, a workspace copied in) reads every history, and
each is read, verified and replayed on its own, so the reads spread over processes: with *jobs*
above 1 and at least :data:`PARALLEL_MIN` histories to read, a process pool reads them while this
process writes what comes back, in the histories' order, as one process would. What a worker
returns is what :func:`read_one` returns here; nothing is shared but the files, read as every
reader reads them. A pool that cannot start or loses a worker (killed, out of memory) costs only
time: what it had not returned is read here.

The library reads in one process unless asked (``Portfolio(jobs=...)``): a pool is not a thing to
start behind a caller's back. The CLI asks for one worker per CPU it may use (docs/portfolio.md).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Final

from ._layout import SUFFIX
from ._pool import in_order
from .exceptions import LifecycleError

if TYPE_CHECKING:
    from ._history import Anchor
    from ._index_read import Fresh

__all__ = ["PARALLEL_MIN", "read_all", "read_one"]

PARALLEL_MIN: Final = 200  # fewer histories read faster here than a pool starts and hands back

Work = tuple[str, str, "Anchor | None"]  # the workspace folder, the engagement, what is known


def read_one(work: Work) -> Fresh | str:
    """One history read after what is known of it, or why it cannot be read (one line)."""
    from ._index_read import read_history

    root, name, known = work
    try:
        return read_history(Path(root, name + SUFFIX), name, known)
    except LifecycleError as exc:
        return str(exc)


def read_all(
    root: str, names: Sequence[str], known: Mapping[str, Anchor], jobs: int
) -> Iterator[tuple[str, Fresh | str]]:
    """Each of *names* with :func:`read_one`'s answer, in *names*' order."""
    work = [(root, name, known.get(name)) for name in names]
    done = 0
    if jobs > 1 and len(work) >= PARALLEL_MIN:
        for answer in in_order(read_one, work, jobs):
            yield work[done][1], answer
            done += 1
    for item in work[done:]:  # all of them, or what a broken pool did not return
        yield item[1], read_one(item)
