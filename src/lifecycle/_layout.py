"""Where things are in a workspace folder: the names every part agrees on.

A history is ``<id>.history.jsonl`` (:data:`SUFFIX`) beside the others; what lifecycle derives
from them (snapshots, the portfolio index, the status cache) lives in ``.lifecycle``
(:data:`FOLDER`). Kept free of imports beyond the standard library's ``os`` and ``re``: the
portfolio commands read these names without loading the engine (#14). The status cache's front
door, which must not even import ``re``, keeps its own copies (``lifecycle._statuscache``).
"""

from __future__ import annotations

import os
import re
from typing import Final

__all__ = ["ENGAGEMENT_ID", "FOLDER", "SUFFIX", "check_root", "is_engagement_id"]

SUFFIX: Final = ".history.jsonl"
FOLDER: Final = ".lifecycle"
# Always used with fullmatch: `$` would also match before a final newline (#9).
ENGAGEMENT_ID: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def is_engagement_id(text: str) -> bool:
    """Whether *text* is a valid engagement id (the whole of it: no trailing newline).

    >>> is_engagement_id("amani-2026"), is_engagement_id("amani-2026\\n")
    (True, False)
    """
    return ENGAGEMENT_ID.fullmatch(text) is not None and not text.endswith(".history")


def check_root(root: os.PathLike[str] | str) -> None:
    """Refuse a workspace folder that does not exist (a mistyped --workspace).

    Raises:
        InvalidInputError: It does not exist, or is not a folder.
    """
    if not os.path.isdir(root):
        from .exceptions import InvalidInputError

        what = "is not a folder" if os.path.lexists(root) else "does not exist"
        raise InvalidInputError(f"Workspace {str(root)!r} {what}.")
