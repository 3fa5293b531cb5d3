"""Stores: where a workspace's histories live (docs/stores.md).

:class:`FileStore` (a folder, the embedded default), :class:`MemoryStore` (tests, embedding) and
:class:`PostgresStore` (a shared office) implement :class:`Store`; :func:`open_store` picks one
from a URL. Importing this package never imports psycopg: only a PostgreSQL store does.
"""

from __future__ import annotations

from ._base import Store
from ._file import FileStore
from ._memory import MemoryStore
from ._open import open_store
from ._postgres import PostgresStore

__all__ = ["FileStore", "MemoryStore", "PostgresStore", "Store", "open_store"]
