"""Standard streams that survive a closed pipe: ``lifecycle history x | head`` ends quietly.

When the reader of a pipe goes away, writing raises ``BrokenPipeError``. Every command does its
work before or regardless of what it prints (a demo, an audit of an archive), so a closed pipe
must not stop it halfway: from the first failed write on, output to that stream is dropped and
the command carries on to its own exit code (#10).

Any other failed write (a full disk, a device error) is an :class:`OutputError`, raised again
by every later write to that stream (a caller that swallowed it cannot make the output look
whole); the CLI reports it in one line, after the command, and exits 1 (:func:`failure`).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import IO, Any

from ..exceptions import LifecycleError

__all__ = ["OutputError", "failure", "guarded_streams"]


class OutputError(LifecycleError):
    """A standard stream could not be written (other than a closed pipe)."""


class _PipeGuard:
    """A text stream that drops everything once its pipe is closed."""

    def __init__(self, stream: IO[str], name: str) -> None:
        self._stream = stream
        self._name = name
        self.broken = False
        self.failed: OutputError | None = None

    def write(self, text: str) -> int:
        if self.failed is not None:
            raise self.failed
        if not self.broken:
            with self._guard():
                return self._stream.write(text)
        return len(text)

    def flush(self) -> None:
        if self.failed is not None:
            raise self.failed
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
        except OSError as exc:
            self.failed = OutputError(f"cannot write to {self._name}: {exc.strerror or exc}")
            raise self.failed from None


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


def failure() -> OutputError | None:
    """The first failed write of this run's guarded streams (stdout's first), after writing out
    what they still buffer; a failed stream then points at /dev/null, so that the interpreter's
    last flush cannot print 'Exception ignored'."""
    found = None
    for stream in (sys.stdout, sys.stderr):
        if not isinstance(stream, _PipeGuard):
            continue
        with contextlib.suppress(OutputError):
            stream.flush()
        if stream.failed is not None:
            found = found or stream.failed
            _silence(stream._stream)
    return found


@contextlib.contextmanager
def guarded_streams() -> Iterator[None]:
    """Run the block with ``sys.stdout`` and ``sys.stderr`` guarded against a closed pipe."""
    saved = sys.stdout, sys.stderr
    sys.stdout = _PipeGuard(saved[0], "standard output")  # a duck-typed text stream
    sys.stderr = _PipeGuard(saved[1], "standard error")
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved
