"""Stores: where a workspace's histories live (docs/stores.md).

:class:`FileStore` (a folder, the embedded default), :class:`MemoryStore` (tests, embedding) and
:class:`PostgresStore` (a shared office) implement :class:`Store`; :func:`open_store` picks one
from a URL. Importing this package never imports psycopg: only a PostgreSQL store does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._base import Store
from ._file import FileStore
from ._memory import MemoryStore
from ._open import open_store

if TYPE_CHECKING:
    from ._postgres import PostgresStore


def __getattr__(name: str) -> Any:
    """PostgresStore, imported when first asked for (#14: a file command never loads it)."""
    # Any: the class.
    if name == "PostgresStore":
        from ._postgres import PostgresStore

        return PostgresStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["FileStore", "MemoryStore", "PostgresStore", "Store", "open_store"]
