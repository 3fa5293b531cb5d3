"""Choosing a store from what the user gave: ``--store URL`` / ``LIFECYCLE_STORE``, or a folder."""

from __future__ import annotations

from pathlib import Path

from ..exceptions import InvalidInputError
from ._base import Store
from ._file import FileStore

__all__ = ["open_store"]


def open_store(url: str | None, workspace: Path | str) -> Store:
    """The store *url* names (``postgresql://...``), else the file store on *workspace*.

    Nothing connects here: a PostgreSQL store connects on first use.

    Raises:
        InvalidInputError: *url* is given but names no store kind lifecycle knows.
    """
    if url is None or url == "":
        return FileStore(workspace)
    from ._postgres import PostgresStore, is_postgres_url

    if is_postgres_url(url):
        return PostgresStore(url)
    raise InvalidInputError(
        f"Unknown store {url!r}: give a postgresql://... URL (or no --store for the files of "
        "--workspace)."
    )
