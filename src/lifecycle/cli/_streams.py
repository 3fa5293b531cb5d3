"""Standard streams that survive a closed pipe: ``lifecycle history x | head`` ends quietly.

When the reader of a pipe goes away, writing raises ``BrokenPipeError``. Every command does its
work before or regardless of what it prints (a demo, an audit of an archive), so a closed pipe
must not stop it halfway: from the first failed write on, output to that stream is dropped and
the command carries on to its own exit code (#10).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import IO, Any

__all__ = ["guarded_streams"]


class _PipeGuard:
    """A text stream that drops everything once its pipe is closed."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self.broken = False

    def write(self, text: str) -> int:
        if not self.broken:
            with self._guard():
                return self._stream.write(text)
        return len(text)

    def flush(self) -> None:
        if not self.broken:
            with self._guard():
                self._stream.flush()

    def __getattr__(self, name: str) -> Any:
        # Any: whatever the wrapped stream has (encoding, isatty, fileno...); click asks for them.
        return getattr(self._stream, name)

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        try:
            yield
        except BrokenPipeError:
            self.broken = True
            _silence(self._stream)


def _silence(stream: IO[str]) -> None:
    """Point the stream's descriptor at /dev/null, so that the interpreter's final flush of
    what is still buffered cannot fail with 'Exception ignored ... BrokenPipeError'."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):  # a stream without a descriptor (a test's)
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


@contextlib.contextmanager
def guarded_streams() -> Iterator[None]:
    """Run the block with ``sys.stdout`` and ``sys.stderr`` guarded against a closed pipe."""
    saved = sys.stdout, sys.stderr
    sys.stdout = _PipeGuard(saved[0])  # a duck-typed text stream
    sys.stderr = _PipeGuard(saved[1])
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved
