"""Helpers for playbook and plugin authors' tests.

Use them directly, or as pytest fixtures with ``pytest_plugins = ["lifecycle.testing"]`` in a
``conftest.py``:

- :func:`plugin_manager` builds a fresh plugin manager with the given plugins (and the built-ins);
- :func:`make_engine` builds an engine on a temporary workspace, with actors and their roles;
- :func:`drive` runs an engagement along a path of triggers, ticking each stage's required items
  and setting the facts given, and returns the engagement as it ends.

>>> import tempfile
>>> engine = make_engine(tempfile.mkdtemp())
>>> drive(engine, "e-1", "core", ["accept-request"]).stage
'conflict-analysis'
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path

from ._engine import Engine
from ._plugins import Plugins, make_plugin_manager
from ._state import Engagement
from ._store import FileStore, Store

__all__ = ["DEFAULT_ROLES", "drive", "make_engine", "plugin_manager"]

DEFAULT_ROLES: Mapping[str, Sequence[str]] = {
    "officer": ["officer"],
    "head": ["officer", "head-of-unit"],
}


def plugin_manager(*plugins: object, entrypoints: bool = False) -> Plugins:
    """A fresh plugin manager: the built-ins, *plugins* (modules or objects with ``@hookimpl``s),
    and installed entry points only when *entrypoints* is true."""
    return make_plugin_manager(load_entrypoints=entrypoints, extra_plugins=plugins, environ={})


def make_engine(
    workspace: Path | str | None = None,
    *,
    store: Store | None = None,
    plugins: Iterable[object] = (),
    playbook_dirs: Sequence[Path | str] = (),
    roles: Mapping[str, Sequence[str]] = DEFAULT_ROLES,
    clock: Callable[[], dt.datetime] | None = None,
    entrypoints: bool = False,
) -> Engine:
    """An engine on *workspace* (or on *store*, e.g. a :class:`~lifecycle.MemoryStore`), whose
    ``lifecycle.toml`` setting gives *roles* to actors.

    >>> from lifecycle import MemoryStore
    >>> make_engine(store=MemoryStore()).roles_of("head")
    ('officer', 'head-of-unit')
    """
    if store is None:
        if workspace is None:
            raise TypeError("make_engine() needs a workspace or a store")
        Path(workspace).mkdir(parents=True, exist_ok=True)
        store = FileStore(workspace)
    lines = []
    for actor, held in roles.items():
        listed = ", ".join(f'"{r}"' for r in held)
        lines += [f'[actors."{actor}"]', f"roles = [{listed}]", ""]
    store.put_settings("lifecycle.toml", "\n".join(lines).encode("utf-8"))
    return Engine(
        store=store,
        plugins=plugin_manager(*plugins, entrypoints=entrypoints),
        playbook_dirs=[Path(d) for d in playbook_dirs],
        clock=clock,
    )


def drive(
    engine: Engine,
    engagement: str,
    playbook: str,
    path: Sequence[str],
    *,
    actor: str = "officer",
    facts: Mapping[str, str] | None = None,
) -> Engagement:
    """Open *engagement* under *playbook* (unless it exists) and fire each trigger of *path*.

    Before each trigger, every required checklist item of the current stage is ticked and the
    *facts* are set (once, at the start). A blocked trigger raises
    :class:`~lifecycle.exceptions.RefusedError`, as it would for a user.
    """
    if engagement not in engine.engagements():
        engine.open(
            engagement, playbook, actor=actor, facts=[f"{k}={v}" for k, v in (facts or {}).items()]
        )
    for trigger in path:
        state = engine.engagement(engagement)
        for item in state.missing_items(state.stage):
            engine.check(engagement, item, actor=actor)
        engine.advance(engagement, trigger, actor=actor)
    return engine.engagement(engagement)


try:  # Fixtures, when pytest is there: `pytest_plugins = ["lifecycle.testing"]`.
    import pytest
except ImportError:  # pragma: no cover - the helpers above work without pytest
    pass
else:

    @pytest.fixture
    def lifecycle_plugins() -> Plugins:
        """A fresh plugin manager with the built-ins only."""
        return plugin_manager()

    @pytest.fixture
    def lifecycle_engine(tmp_path: Path) -> Iterator[Engine]:
        """An engine on a temporary workspace with the actors of :data:`DEFAULT_ROLES`."""
        yield make_engine(tmp_path / "workspace")

    __all__ += ["lifecycle_engine", "lifecycle_plugins"]
