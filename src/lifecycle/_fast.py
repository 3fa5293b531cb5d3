"""The ``lifecycle`` command's front door: a repeated ``status`` answered from the status cache.

``lifecycle [--workspace DIR] [--actor NAME] [--playbooks DIR]... status ID [--json]``, with
plugins switched off (``LIFECYCLE_LOAD_PLUGINS=`` naming none) or none installed, no ``--key``
and no ``--store``,
is looked up in :mod:`lifecycle._statuscache`; when the entry is there and its key is that of
this very run, what the last full run printed is printed again and the process exits 0, without
importing click, attrs or the engine. Anything else, and any doubt (an option not listed here, no
entry, a stale or damaged one, any exception), runs the CLI in full, which behaves as it always
did (:func:`lifecycle.cli.main`).
"""

from __future__ import annotations

import os
import stat
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import TextIO

__all__ = ["main"]

# Options of the group this path understands (each takes one value); anything else goes to click.
_GLOBAL = ("--workspace", "--actor", "--playbooks")
# Where getpass finds the login name, the actor when none is given; else it asks the passwd database.
_LOGIN = ("LOGNAME", "USER", "LNAME", "USERNAME")
# Set at all, these make the run one the cache never answers (the key, a shared store).
_DECLINED = ("LIFECYCLE_KEY", "LIFECYCLE_STORE", "LIFECYCLE_TRACE_PLUGINS", "LIFECYCLE_DEBUG")


def main() -> None:
    """Run ``lifecycle``: from the status cache when it can answer, else the full CLI."""
    try:
        found = _cached(sys.argv[1:], os.environ)
    except Exception:  # noqa: BLE001 - any doubt at all: the full CLI decides
        found = None
    if found is None:
        from lifecycle.cli import main as full

        full()
    else:  # from here on the answer is given: nothing may hand over and print it twice
        sys.exit(_replay(*found))


def parse(argv: Sequence[str], environ: Mapping[str, str]) -> tuple[str, str, bool] | None:
    """The workspace, engagement and ``--json`` of a status command this path may answer, or
    None for any other command line (which the full CLI then parses)."""
    if any(name in environ for name in _DECLINED):
        return None
    if not (_plugins_off(environ) or _no_plugin_installed(environ)):
        return None
    if not _all_text(argv, environ):
        return None  # the full CLI refuses it, in its own words
    workspace = environ.get("LIFECYCLE_WORKSPACE", "engagements")
    if not workspace:
        return None  # click's reading of an empty variable is its business
    args = list(argv)
    actor_known = bool(environ.get("LIFECYCLE_ACTOR")) or any(environ.get(k) for k in _LOGIN)
    while args and args[0] != "status":
        name, sep, value = args.pop(0).partition("=")
        if name not in _GLOBAL or (not sep and not args):
            return None
        value = value if sep else args.pop(0)
        if name == "--workspace":
            workspace = value
        actor_known = actor_known or name == "--actor"
    if not args or not actor_known:  # a name only the password database knows: not cached
        return None
    rest = args[1:]
    as_json = "--json" in rest
    ids = [a for a in rest if a != "--json"]
    if len(ids) != 1 or not _is_engagement_id(ids[0]) or not workspace:
        return None
    return workspace, ids[0], as_json


def _all_text(argv: Sequence[str], environ: Mapping[str, str]) -> bool:
    """Whether every argument and ``LIFECYCLE_*`` variable is UTF-8 text (as
    :func:`lifecycle._inputs.text_problem` requires)."""
    values = [*argv, *(v for k, v in environ.items() if k.startswith("LIFECYCLE_"))]
    try:
        for value in values:
            value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _plugins_off(environ: Mapping[str, str]) -> bool:
    """Whether only the built-in plugin would be loaded (as :mod:`lifecycle.cli._lazyplugins`
    decides; the cache is written only then)."""
    only = environ.get("LIFECYCLE_LOAD_PLUGINS")
    if only is None or any(name.strip() for name in only.split(",")):
        return False
    disabled = environ.get("LIFECYCLE_DISABLE_PLUGINS", "")
    return "lifecycle._builtin" not in {name.strip() for name in disabled.split(",")}


# The entry-point group of plugins (lifecycle._plugins.ENTRY_POINT_GROUP; a test holds them equal).
PLUGIN_GROUP = "lifecycle.plugins"
_FINDERS = ("_frozen_importlib", "_frozen_importlib_external", "_distutils_hack")


def _no_plugin_installed(environ: Mapping[str, str]) -> bool:
    """With plugin loading on (``LIFECYCLE_LOAD_PLUGINS`` unset, the default), whether no
    distribution on ``sys.path`` declares a plugin: then the full run loads the built-in plugin
    alone, as with loading off (the cache is written only when it found so).

    Conservative where :mod:`importlib.metadata` could see more than this scan: a finder of its
    own that finds distributions, or a ``sys.path`` entry that is a file (a zip), is a "yes"."""
    if "LIFECYCLE_LOAD_PLUGINS" in environ:
        return False  # set: _plugins_off decides
    disabled = environ.get("LIFECYCLE_DISABLE_PLUGINS", "")
    if "lifecycle._builtin" in {name.strip() for name in disabled.split(",")}:
        return False
    for finder in sys.meta_path:
        if hasattr(finder, "find_distributions") and finder.__module__ not in _FINDERS:
            return False
    return all(_no_plugin_in(entry or ".") for entry in sys.path)


def _no_plugin_in(folder: str) -> bool:
    """Whether no ``*.dist-info`` or ``*.egg-info`` folder in *folder* names the plugin group
    in its ``entry_points.txt`` (a folder that does not exist holds none; a file is a "yes")."""
    try:
        items = os.scandir(folder)
    except NotADirectoryError:
        return False
    except OSError:
        return True  # as importlib.metadata, which skips what it cannot list
    with items:
        for item in items:
            if item.name.lower().endswith((".dist-info", ".egg-info")) and item.is_dir():
                if PLUGIN_GROUP.encode() in _entry_points(item.path):
                    return False
    return True


def _entry_points(folder: str) -> bytes:
    """The bytes of *folder*'s ``entry_points.txt`` (empty when it has none); a huge or odd
    one reads as naming the group."""
    path = os.path.join(folder, "entry_points.txt")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return b""
    except OSError:
        return PLUGIN_GROUP.encode()
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # a FIFO, a folder: not read here
            return PLUGIN_GROUP.encode()
        data = os.read(fd, 1 << 20)
        return data if len(data) < 1 << 20 else PLUGIN_GROUP.encode()
    finally:
        os.close(fd)


def _is_engagement_id(text: str) -> bool:
    """As :func:`lifecycle._workspace.is_engagement_id`, without ``re``."""
    return (
        0 < len(text) <= 128
        and text.isascii()
        and text[0].isalnum()
        and all(c.isalnum() or c in "._-" for c in text)
        and not text.endswith(".history")
    )


def _cached(argv: Sequence[str], environ: Mapping[str, str]) -> tuple[bytes, bytes] | None:
    """The stdout and stderr bytes of this status command as the cache holds them, encoded for
    this process's streams, or None when the cache cannot answer."""
    found = parse(argv, environ)
    if found is None:
        return None
    from lifecycle import _statuscache as cache

    workspace, engagement, as_json = found
    key = cache.key_of(workspace, engagement, argv, environ, cache.today_utc())
    try:
        out, err = cache.read_entry(cache.cache_path(workspace, engagement, as_json), key)
    except cache.Miss:
        return None
    # Encoded first: a stream that cannot take the text is the full CLI's to report.
    return _encoded(out, sys.stdout), _encoded(err, sys.stderr)


def _encoded(text: str, stream: TextIO) -> bytes:
    """*text* as the stream would write it (UnicodeEncodeError when it cannot). LookupError for
    an ASCII stream, which click writes to in UTF-8 instead, and for an encoding with a byte
    order mark, which a stream writes once, if at all: the full CLI's to do."""
    import codecs  # loaded with the interpreter's encodings: costs nothing

    if codecs.lookup(stream.encoding or "ascii").name == "ascii" or "".encode(stream.encoding):
        raise LookupError(f"a {stream.encoding} stream: the full CLI writes to it")
    return text.encode(stream.encoding, stream.errors or "strict")


def _replay(out: bytes, err: bytes) -> int:
    """Write what the full run wrote (its warnings first, as it did), and its exit code, 0."""
    for fd, data, name in ((2, err, "standard error"), (1, out, "standard output")):
        try:
            _write(fd, data)
        except OSError as exc:  # worded as the full CLI words it (lifecycle.cli._streams)
            message = f"lifecycle: error: cannot write to {name}: {exc.strerror or exc}\n"
            try:
                os.write(2, message.encode("utf-8", "backslashreplace"))
            except OSError:
                pass  # stderr cannot take it either: the exit code says it
            return 1
    return 0


def _write(fd: int, data: bytes) -> None:
    """Write all of *data* to *fd*; a closed pipe drops it, as the CLI does (#10)."""
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(fd, view) :]
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, fd)
        finally:
            os.close(devnull)
