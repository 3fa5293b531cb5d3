"""The PostgreSQL store's schema: versioned SQL, applied in order by ``lifecycle store init``.

The version applied is recorded in ``lifecycle_schema``; a store refuses to run on a schema newer
than the code knows, or on one not initialized. Every table lives in the connection's
``search_path`` (its first schema), so one database can hold several workspaces.
"""

from __future__ import annotations

from typing import Final

__all__ = ["MIGRATIONS", "SCHEMA_VERSION"]

# (version, statements). Never edit a released step: add the next one.
MIGRATIONS: Final[tuple[tuple[int, tuple[str, ...]], ...]] = (
    (
        1,
        (
            # One row per engagement: locked (FOR UPDATE) for a command's session, and the head
            # an append must extend.
            """CREATE TABLE lifecycle_engagements (
                id text PRIMARY KEY,
                head_seq bigint NOT NULL,
                head_hash text NOT NULL,
                summary_seq bigint,
                summary jsonb
            )""",
            # Each line's exact bytes, as the file store writes them (seq 0 is the header).
            """CREATE TABLE lifecycle_events (
                engagement text NOT NULL REFERENCES lifecycle_engagements (id),
                seq bigint NOT NULL CHECK (seq >= 0),
                hash text NOT NULL,
                line bytea NOT NULL,
                PRIMARY KEY (engagement, seq)
            )""",
            # Workspace settings files by name (lifecycle.toml, ...), for every user of the store.
            """CREATE TABLE lifecycle_settings (
                name text PRIMARY KEY,
                body bytea NOT NULL
            )""",
        ),
    ),
)

SCHEMA_VERSION: Final = MIGRATIONS[-1][0]
