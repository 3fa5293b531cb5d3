"""The status cache: what ``lifecycle status ID [--json]`` printed, and everything it depended on.

An accelerator like the snapshot, never the truth (DESIGN principle 1). After a plain ``status``
run (no plugins loaded, no ``--key``, no ``--store``, no lessons of other histories), the CLI
keeps what the command wrote to stdout and stderr in ``<workspace>/.lifecycle/<id>.status-text``
(or ``.status-json``), under a digest of its *key*: the command line, the ``LIFECYCLE_*``
variables and the login variables, the working directory, whether stdout and stderr are
terminals, today's date (UTC), the history file's identity, size, times and last line, the
identity of ``keyring.jsonl`` and ``lifecycle.toml`` (through a symlink, the target's too),
the snapshot and ``/etc/passwd`` (or their absence), and the running code: the interpreter, its
flags, ``-X`` and ``-W`` options and ``sys.path`` (each entry's identity, which changes when a
distribution is installed, removed or upgraded there) and every file of this package. The next
identical run (:mod:`lifecycle._fast`) computes the key again and prints the entry only when it
is the same; anything else runs the command in full.

This module is imported before anything else on that path: only ``os``, ``sys``, ``time`` and
the C modules for SHA-256 and ``flock``.
"""

from __future__ import annotations

import fcntl
import os
import stat
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence
    from hashlib import sha256
else:
    try:
        from _sha256 import sha256  # what hashlib wraps, without OpenSSL's 6 ms import
    except ImportError:  # an interpreter built without it
        from hashlib import sha256

__all__ = ["cache_path", "entry_of", "key_of", "read_entry", "write_entry"]

MAGIC = b"lifecycle-status-cache 1\n"
MAX_ENTRY_BYTES = 1 << 20  # what a status prints is a few kB; a larger file is not ours
MAX_TAIL_BYTES = 1 << 16  # the last line of a history is read from at most this tail
FOLDER = ".lifecycle"
SUFFIX = ".history.jsonl"
# What the CLI reads from the environment besides LIFECYCLE_*: the login name (getpass).
LOGIN_VARIABLES = ("LOGNAME", "USER", "LNAME", "USERNAME")
SECRET_VARIABLES = frozenset({"LIFECYCLE_KEY_PASSPHRASE"})  # never hashed into a cache file
SETTINGS = ("keyring.jsonl", "lifecycle.toml")


class Miss(Exception):
    """The cache cannot answer: the command runs in full."""


def cache_path(workspace: str, engagement: str, as_json: bool) -> str:
    """Where the entry of ``status engagement [--json]`` lives in *workspace*."""
    form = "json" if as_json else "text"
    return os.path.join(workspace, FOLDER, f"{engagement}.status-{form}")


def today_utc() -> str:
    """Today's date (UTC) by the system clock, as the engine's default clock gives it."""
    now = time.gmtime(time.time())
    return f"{now.tm_year:04d}-{now.tm_mon:02d}-{now.tm_mday:02d}"


def key_of(
    workspace: str,
    engagement: str,
    argv: Sequence[str],
    environ: Mapping[str, str],
    today: str,
) -> bytes:
    """The digest of everything ``status`` output depends on (see the module docstring).

    Raises:
        Miss: The history is missing, not a regular file, locked by a writer, or its last line
            is longer than the tail read.
    """
    parts: list[bytes] = [MAGIC, _texts(argv), _environment(environ), _texts([os.getcwd()])]
    parts.append(_texts([today, str(os.getuid()), str(os.isatty(1)), str(os.isatty(2))]))
    parts.append(_history(os.path.join(workspace, engagement + SUFFIX)))
    for name in SETTINGS:  # lifecycle.toml is read through a symlink: the target's too
        parts.append(_identity(os.path.join(workspace, name), follow=True))
    # The snapshot the full run would start from (it is trusted like the workspace, DESIGN 1).
    parts.append(_identity(os.path.join(workspace, FOLDER, engagement + ".snapshot.json")))
    parts.append(_identity("/etc/passwd"))
    parts.append(_code())
    return sha256(b"".join(_field(p) for p in parts)).digest()


def _field(data: bytes) -> bytes:
    return b"%d:" % len(data) + data


def _texts(values: Iterable[str]) -> bytes:
    return b"".join(_field(v.encode("utf-8", "surrogateescape")) for v in values)


def _environment(environ: Mapping[str, str]) -> bytes:
    names = sorted(k for k in environ if k.startswith("LIFECYCLE_") and k not in SECRET_VARIABLES)
    names += [k for k in LOGIN_VARIABLES if k in environ]
    return _texts(x for k in names for x in (k, environ[k]))


def _stat_fields(info: os.stat_result) -> bytes:
    return b"%o %d %d %d %d %d" % (
        info.st_mode,
        info.st_dev,
        info.st_ino,
        info.st_size,
        info.st_mtime_ns,
        info.st_ctime_ns,
    )


def _identity(path: str, follow: bool = False) -> bytes:
    """The file's kind, identity, size and times (its change time moves with every write), or
    that there is nothing there; with *follow*, a symlink's target's too (or that it dangles)."""
    try:
        info = os.lstat(path)
        if not follow or not stat.S_ISLNK(info.st_mode):
            return _stat_fields(info)
        return _stat_fields(info) + b" -> " + _identity(os.path.realpath(path))
    except FileNotFoundError:
        return b"absent"
    except OSError as exc:
        raise Miss(f"cannot stat {path}") from exc


def _history(path: str) -> bytes:
    """The history's identity and its last line, read under a shared lock taken without waiting
    (a writer at work: the command runs in full, and waits as it always does)."""
    fd, info = _open_regular(path, "no readable history")
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as exc:
            raise Miss("the history is locked") from exc
        start = max(0, info.st_size - MAX_TAIL_BYTES)
        tail = os.pread(fd, info.st_size - start, start)
    finally:
        os.close(fd)
    cut = tail.rfind(b"\n", 0, len(tail) - 1)
    if cut < 0 and start > 0:
        raise Miss("the last line is longer than the tail read")
    return _stat_fields(info) + b"\n" + tail[cut + 1 :]


_CODE: list[bytes] = []  # once a process: the code that runs is the code that was imported


def _code() -> bytes:
    """The running code: interpreter, flags, every ``sys.path`` entry's identity (installing,
    removing or upgrading a distribution there changes it), and every file of this package."""
    if not _CODE:
        _CODE.append(_code_now())
    return _CODE[0]


def _code_now() -> bytes:
    interpreter = [sys.version, sys.executable, repr(sys.flags), repr(sys._xoptions)]
    parts = [_texts([*interpreter, *sys.warnoptions])]
    for entry in sys.path:
        parts.append(_texts([entry]) + _identity(entry or "."))
    parts.append(_tree(os.path.dirname(os.path.abspath(__file__))))
    return b"".join(_field(p) for p in parts)


def _tree(folder: str) -> bytes:
    """Every file and folder under *folder* (bytecode caches aside): name, kind, identity, size
    and times, in a stable order."""
    out: list[bytes] = []
    with os.scandir(folder) as entries:
        found = sorted(entries, key=lambda e: e.name)
    for entry in found:
        if entry.name == "__pycache__":
            continue
        out.append(_texts([entry.name]) + _stat_fields(entry.stat(follow_symlinks=False)))
        if entry.is_dir(follow_symlinks=False):
            out.append(_field(_tree(entry.path)))
    return b"".join(out)


def entry_of(key: bytes, stdout: str, stderr: str) -> bytes:
    """A cache file: the magic line, a digest of the rest, the key, then both outputs.

    Raises:
        UnicodeEncodeError: An output is not text (it holds a lone surrogate).
    """
    out, err = stdout.encode("utf-8"), stderr.encode("utf-8")
    body = key + b"%d %d\n" % (len(out), len(err)) + out + err
    return MAGIC + sha256(body).hexdigest().encode() + b"\n" + body


def read_entry(path: str, key: bytes) -> tuple[str, str]:
    """The stdout and stderr kept under *key* at *path*.

    Raises:
        Miss: No entry, or it is not a regular file, too large, damaged, or of another key.
    """
    data = _read_small(path)
    digest_end = len(MAGIC) + 65
    if not data.startswith(MAGIC) or len(data) < digest_end + len(key):
        raise Miss("not a status cache entry")
    body = data[digest_end:]
    if data[len(MAGIC) : digest_end] != sha256(body).hexdigest().encode() + b"\n":
        raise Miss("damaged entry")
    if body[: len(key)] != key:
        raise Miss("stale entry")
    sizes, newline, rest = body[len(key) :].partition(b"\n")
    try:
        out_size, err_size = (int(n) for n in sizes.split(b" "))
        if not newline or min(out_size, err_size) < 0 or out_size + err_size != len(rest):
            raise Miss("damaged entry")
        return rest[:out_size].decode("utf-8"), rest[out_size:].decode("utf-8")
    except ValueError as exc:  # not two numbers, or not UTF-8
        raise Miss("damaged entry") from exc


def _open_regular(path: str, missing: str) -> tuple[int, os.stat_result]:
    """A descriptor of the regular file *path* and its stat, opened as histories are (no
    symlink followed, no FIFO waited on); Miss (*missing*, or "not a regular file")."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise Miss(missing) from exc
    try:
        info = os.fstat(fd)
    except OSError as exc:
        os.close(fd)
        raise Miss(missing) from exc
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise Miss("not a regular file")
    return fd, info


def _read_small(path: str) -> bytes:
    """The bytes of the regular file *path*, opened as histories are (no symlink followed, no
    FIFO waited on), at most MAX_ENTRY_BYTES."""
    fd, info = _open_regular(path, "no entry")
    try:
        if info.st_size > MAX_ENTRY_BYTES:
            raise Miss("not a small regular file")
        data = os.read(fd, MAX_ENTRY_BYTES + 1)
    finally:
        os.close(fd)
    if len(data) > MAX_ENTRY_BYTES:
        raise Miss("grew too large")
    return data


def write_entry(path: str, entry: bytes) -> None:
    """Put *entry* at *path* atomically (a temporary file renamed over it). Not synced: a torn
    entry fails its digest and is ignored. A failure only loses the cache.
    """
    if len(entry) > MAX_ENTRY_BYTES:
        return
    import tempfile  # only the writing (slow) path pays for it

    folder = os.path.dirname(path)
    try:
        if not os.path.isdir(folder):
            os.mkdir(folder)  # only the cache folder: never a workspace that is not there
        fd, temp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".status")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(entry)
            os.replace(temp, path)
        except BaseException:  # cleanup, then re-raised
            os.unlink(temp)
            raise
    except OSError:
        return  # a read-only workspace (an auditor's copy) simply has no cache
