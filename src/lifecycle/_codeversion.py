"""Which code is running: the version and a digest of lifecycle's own source files.

Caches of derived results (snapshots of replayed state, audit verdicts) are reused only by the
code that wrote them. A version number alone is not enough: a working copy, or a fix released
without a version bump, changes what replay and audit decide while the number stays the same.
"""

from __future__ import annotations

import functools
import hashlib
import os
import sys
from pathlib import Path

__all__ = ["code_version", "installed_version"]


@functools.cache
def code_version() -> str:
    """``<version>+<sha256 prefix of every module of the package>``, computed once a process."""
    number = installed_version("lifecycle")
    digest = hashlib.sha256()
    package = Path(__file__).parent
    for source in sorted(package.rglob("*.py")):
        digest.update(source.relative_to(package).as_posix().encode() + b"\0")
        digest.update(source.read_bytes() + b"\0")
    return f"{number}+{digest.hexdigest()[:16]}"


@functools.cache
def installed_version(distribution: str) -> str:
    """The installed version of *distribution* ("unknown": none found), as
    ``importlib.metadata.version`` finds it (the first ``<name>-<version>.dist-info`` on
    ``sys.path``, the name compared case-blind), without importing that module and the e-mail
    parser it brings (#14: every snapshot read asks for the code version)."""
    prefix = f"{distribution.lower()}-"
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for name in names:
            if name.lower().startswith(prefix) and name.endswith(".dist-info"):
                return name[len(prefix) :].removesuffix(".dist-info")
    return "unknown"
