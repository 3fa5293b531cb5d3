"""One thing due (:class:`DueItem`), as ``due`` and ``status`` list it (see :mod:`~lifecycle._due`).

Its own module, free of the engine's imports: ``due`` answered from the portfolio index builds
these without loading the playbook model (#14).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal, NamedTuple

__all__ = ["DueItem"]


class DueItem(NamedTuple):
    """One thing due: an activity or trigger, by a date, and why.

    A named tuple, not an attrs class: ``due`` on an office's archive makes one per item, tens
    of thousands, and a tuple is built in a third of the time (#14).
    """

    engagement: str
    kind: Literal["activity", "trigger"]
    id: str
    title: str
    due: dt.date
    overdue: bool
    source: str

    def as_json(self) -> dict[str, Any]:
        """The item as ``due --json`` and ``status --json`` show it."""
        # Any: a JSON object.
        return {
            "engagement": self.engagement,
            "kind": self.kind,
            "id": self.id,
            "title": self.title,
            "due": self.due.isoformat(),
            "overdue": self.overdue,
            "source": self.source,
        }
