"""Opening history files safely: regular files only, locks with a bounded wait, bounded reads,
and durable writes (one ``write``, ``fsync``, a failed append cut back).

A history is opened with ``O_NOFOLLOW`` (a symlink never speaks for another file) and
``O_NONBLOCK`` (a FIFO never hangs the open), then ``fstat`` must say it is a regular file.
Locks are ``flock`` taken with a bounded wait (``LIFECYCLE_LOCK_TIMEOUT`` seconds, default 10):
a hung writer makes other commands fail, saying who holds the lock, instead of wait for ever.
"""

from __future__ import annotations

import fcntl
import os
import stat
import time
from pathlib import Path
from typing import Final

from .exceptions import HistoryBusyError, HistoryError, InvalidInputError

__all__ = [
    "DEFAULT_LOCK_TIMEOUT",
    "MAX_HISTORY_BYTES",
    "NotRegularFileError",
    "append_at",
    "append_durably",
    "lock",
    "lock_holder",
    "lock_timeout",
    "open_regular",
    "read_bounded",
    "read_regular",
    "replace_file",
]

DEFAULT_LOCK_TIMEOUT: Final = 10.0
LOCK_TIMEOUT_ENV: Final = "LIFECYCLE_LOCK_TIMEOUT"
# The engine reads a history whole; 1 GiB is tens of thousands of long events (the audit streams
# and has no such bound).
MAX_HISTORY_BYTES: Final = 1 << 30
# Never blocking in the kernel: a held lock is waited for in :func:`lock`'s bounded loop.
_EXCLUSIVE: Final = fcntl.LOCK_EX | fcntl.LOCK_NB
_SHARED: Final = fcntl.LOCK_SH | fcntl.LOCK_NB
_KINDS: Final = {
    stat.S_IFDIR: "a directory",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
    stat.S_IFLNK: "a symbolic link",
}


class NotRegularFileError(HistoryError):
    """What has a history's name is a directory, FIFO, device, socket or symlink."""


def kind_of(mode: int) -> str:
    """What a file of *mode* is, in words ("a directory", "a FIFO", ...)."""
    return _KINDS.get(stat.S_IFMT(mode), "not a regular file")


def open_regular(path: Path, flags: int) -> int:
    """Open *path* only if it is a regular file (never following a symlink, never blocking).

    Raises:
        HistoryError: No such file, or it is a directory, FIFO, device, socket or symlink.
    """
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise HistoryError(path, "no such history file") from None
    except OSError as exc:
        kind = _kind_at(path)
        if kind is not None:
            raise NotRegularFileError(path, f"is {kind}, not a regular file") from None
        raise HistoryError(path, f"cannot open: {exc.strerror or exc}") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFileError(path, f"is {kind_of(mode)}, not a regular file")
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _kind_at(path: Path) -> str | None:
    """What is at *path* when opening it failed (ELOOP: a symlink; EISDIR: a directory), or
    None when it is a regular file (or gone)."""
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return None
    return None if stat.S_ISREG(mode) else kind_of(mode)


def lock_timeout() -> float:
    """The lock wait in seconds: ``$LIFECYCLE_LOCK_TIMEOUT``, else 10.

    Raises:
        InvalidInputError: The variable is not a number of seconds (0 or more).
    """
    text = os.environ.get(LOCK_TIMEOUT_ENV, "").strip()
    if not text:
        return DEFAULT_LOCK_TIMEOUT
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise InvalidInputError(
            f"{LOCK_TIMEOUT_ENV}={text!r} is not a number of seconds (0 or more)."
        )
    return value


def lock(path: Path, fd: int, *, exclusive: bool, timeout: float | None = None) -> None:
    """``flock`` *fd*, waiting at most *timeout* seconds (default :func:`lock_timeout`).

    Raises:
        HistoryBusyError: Another process held the lock all that time.
    """
    wait = lock_timeout() if timeout is None else timeout
    operation = _EXCLUSIVE if exclusive else _SHARED
    try:
        fcntl.flock(fd, operation)
    except BlockingIOError:
        _wait_for_lock(path, fd, operation, wait)


def _wait_for_lock(path: Path, fd: int, operation: int, wait: float) -> None:
    """Try the held lock again, with growing pauses, until *wait* seconds are over."""
    deadline = time.monotonic() + wait
    pause = 0.001
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise HistoryBusyError(path, wait, lock_holder(fd))
        time.sleep(min(pause, left))
        pause = min(pause * 2, 0.05)
        try:
            fcntl.flock(fd, operation)
            return
        except BlockingIOError:
            pass


def lock_holder(fd: int) -> int | None:
    """The pid holding an ``flock`` on *fd*'s file, from ``/proc/locks`` (None when unknown)."""
    info = os.fstat(fd)
    inode = f"{os.major(info.st_dev):02x}:{os.minor(info.st_dev):02x}:{info.st_ino}"
    try:
        with open("/proc/locks", encoding="ascii", errors="replace") as handle:
            for line in handle:
                fields = line.split()
                # "1: FLOCK  ADVISORY  WRITE 1234 fe:00:1466553 0 EOF" ("->" marks a waiter)
                if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5] == inode:
                    return int(fields[4])
    except (OSError, ValueError):
        return None
    return None


def read_bounded(path: Path, fd: int, start: int = 0) -> bytes:
    """The bytes of *fd* from *start* to its end, refusing a file over MAX_HISTORY_BYTES.

    Raises:
        HistoryError: The file is larger than the bound.
    """
    size = os.fstat(fd).st_size
    if size > MAX_HISTORY_BYTES:
        raise HistoryError(
            path, f"is {size} bytes, over the {MAX_HISTORY_BYTES} byte limit for a history"
        )
    os.lseek(fd, start, os.SEEK_SET)
    chunks = []
    left = MAX_HISTORY_BYTES + 1 - start
    while left > 0 and (chunk := os.read(fd, min(1 << 20, left))):
        chunks.append(chunk)
        left -= len(chunk)
    if left <= 0:
        raise HistoryError(path, f"grew over the {MAX_HISTORY_BYTES} byte limit for a history")
    return b"".join(chunks)


def read_regular(path: Path) -> bytes:
    """The whole of the regular file *path* (a cache file: a snapshot, an audit verdict), opened
    as histories are, so a FIFO or symlink planted there never hangs or redirects a command.

    Raises:
        HistoryError: No such file, not a regular file, or over the size bound.
    """
    fd = open_regular(path, os.O_RDONLY)
    try:
        return read_bounded(path, fd)
    finally:
        os.close(fd)


def _write_durably(path: Path, fd: int, line: bytes) -> None:
    """One ``write`` of the whole line (looping only on a short write), then ``fsync``.

    An error here is final: after a failed fsync the kernel may have dropped the dirty pages,
    so a retry could "succeed" without the data (fsyncgate). Raise, never retry.
    """
    try:
        _write_all(fd, line)
    except OSError as exc:
        raise HistoryError(
            path, f"append failed, not acknowledged: {exc.strerror or exc}"
        ) from None


def _write_all(fd: int, line: bytes) -> None:
    written = os.write(fd, line)
    if written < len(line):  # a short write: the rest, as many times as it takes
        view = memoryview(line)[written:]
        while view:
            written = os.write(fd, view)
            view = view[written:]
    os.fsync(fd)


def append_durably(path: Path, fd: int, line: bytes) -> None:
    """:func:`_write_durably` at the end of *fd*; a failure cuts the file back to where it ended.

    The caller holds the exclusive lock, so the file's size before the write is the previous
    head's end: after a short write on a full disk (or a failed fsync) the file is valid at once,
    never left with a torn tail (#9).
    """
    append_at(path, fd, os.fstat(fd).st_size, line)


def append_at(path: Path, fd: int, size: int, line: bytes) -> None:
    """:func:`append_durably` to a file the caller knows ends at *size* (it holds the lock and
    has read the file to its end): a failure cuts the file back to *size*."""
    try:
        _write_all(fd, line)
    except OSError as exc:
        failed = f"append failed, not acknowledged: {exc.strerror or exc}"
        try:
            # No fsync after the cut: it would retry a failed one (fsyncgate). The file is valid
            # at once; should a crash bring the bytes back, they are a torn tail `repair` cuts.
            os.ftruncate(fd, size)
        except OSError as cut:
            raise HistoryError(
                path,
                f"{failed}; cutting the partial line back failed too ({cut.strerror or cut}): "
                f"run `lifecycle repair {path}`",
            ) from None
        raise HistoryError(path, f"{failed} (the file is as it was)") from None


def replace_file(path: Path, data: bytes) -> None:
    """Put *data* at *path* whole, for a cache: a temporary file in the folder (made if need
    be), renamed over *path*; not synced, as a cache lost to a crash only costs time.

    Raises:
        OSError: The folder or file cannot be written (nothing is left behind).
    """
    import tempfile  # only a command that keeps something writes

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
