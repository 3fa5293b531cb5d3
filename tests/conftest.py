"""Shared fixtures: fresh objects for every test, no globals."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from lifecycle import Engine, make_plugin_manager
from lifecycle.cli import run

FIXTURES = Path(__file__).parent / "playbooks"
GOLDEN = Path(__file__).parent / "golden"
ROOT = Path(__file__).parent.parent

# A path through `core` from its initial stage to `closed`: (trigger, required items of the
# stage being left, facts its rules need).
CORE_PATH: list[tuple[str, list[str], list[str]]] = [
    ("accept-request", ["request-recorded", "entry-point-identified"], []),
    (
        "complete-analysis",
        ["conflict-analysis-done", "stakeholder-map", "media-mapping", "previous-efforts-reviewed"],
        [],
    ),
    (
        "appoint",
        ["candidate-profile", "women-candidates", "impartiality-check"],
        ["mandate.source=Council decision 1/2026", "envoy=Amb. X"],
    ),
    ("complete-induction", ["briefing-pack", "lessons-pack", "mandate-attached"], []),
    ("start-support", ["themes-agreed"], []),
    ("end-support", ["support-plan"], []),
    ("complete-debriefing", ["debriefing-template", "interviewer-not-evaluator"], []),
    ("close", ["lessons-recorded", "dissemination-plan"], []),
]


@pytest.fixture(autouse=True)
def _private_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every test gets its own audit cache folder (subprocesses inherit it)."""
    monkeypatch.setenv("LIFECYCLE_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture
def plugins():
    """A plugin manager with the built-ins only (no installed entry points)."""
    return make_plugin_manager(load_entrypoints=False, environ={})


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """An empty workspace folder with two actors and their roles."""
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "lifecycle.toml").write_text(
        '[actors."officer"]\nroles = ["officer"]\n\n'
        '[actors."head"]\nroles = ["officer", "head-of-unit"]\n',
        encoding="utf-8",
    )
    return ws


@pytest.fixture
def engine(workspace: Path, plugins) -> Engine:
    """An engine on the workspace, with the built-in playbooks and the fixture playbooks."""
    return Engine(workspace, plugins=plugins, playbook_dirs=[FIXTURES])


def drive_core(engine: Engine, engagement: str = "eng-1", *, until: str | None = None) -> None:
    """Open *engagement* under core and drive it along CORE_PATH (stopping before *until*)."""
    engine.open(engagement, "core", actor="officer", title="Test engagement")
    for trigger, items, facts in CORE_PATH:
        if trigger == until:
            return
        for item in items:
            engine.check(engagement, item, actor="officer")
        if facts:
            engine.set_facts(engagement, facts, actor="officer")
        engine.advance(engagement, trigger, actor="officer")


@pytest.fixture
def archive(engine: Engine) -> tuple[Path, int, int]:
    """'old' with a lesson at its debriefing, 'new' in its induction citing it (the lessons
    audit and its forgeries); returns the workspace, the lesson's seq and the citing tick's seq."""
    drive_core(engine, "old", until="complete-debriefing")
    engine.set_facts("old", ["country=KEN"], actor="officer")
    lesson = engine.lesson(
        "old",
        title="Elders first",
        text="Meet the elders.",
        themes=["local-dynamics"],
        sections={"context": "A land dispute"},
        actor="officer",
    ).event["seq"]
    engine.note("old", "after the lesson", actor="officer")
    drive_core(engine, "new", until="complete-induction")
    engine.set_facts("new", ["country=KEN"], actor="officer")
    tick = engine.check("new", "lessons-pack", cites=[f"old:{lesson}"], actor="officer")
    engine.note("new", "after the tick", actor="officer")
    return engine.workspace.path_of("old").parent, lesson, tick.event["seq"]


@pytest.fixture
def cli(
    workspace: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., tuple[int, str, str]]:
    """Run the CLI in-process on the workspace as actor 'officer'; return (code, stdout, stderr)."""
    monkeypatch.setenv("LIFECYCLE_WORKSPACE", str(workspace))
    monkeypatch.setenv("LIFECYCLE_ACTOR", "officer")
    monkeypatch.setenv("LIFECYCLE_LOAD_PLUGINS", "")
    monkeypatch.delenv("LIFECYCLE_PLAYBOOKS", raising=False)

    def invoke(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = run(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


def run_cli(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run `python -m lifecycle` in a real subprocess."""
    full_env = {**os.environ, "LIFECYCLE_LOAD_PLUGINS": "", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "lifecycle", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def fixed_clock() -> Iterator[Callable[[], dt.datetime]]:
    """A clock a test can move: call .advance(days=N)."""

    class Clock:
        def __init__(self) -> None:
            self.now = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)

        def __call__(self) -> dt.datetime:
            return self.now

        def advance(self, **delta: float) -> None:
            self.now += dt.timedelta(**delta)

    yield Clock()


def pip_install_target(target: Path, *distributions: Path) -> None:
    """pip-install distribution folders into *target* (no deps, no build isolation): a real
    install, kept out of the test venv; run with PYTHONPATH=target to see it."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            *map(str, distributions),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )


# PostgreSQL (#11): the server `make test` starts; each test gets a schema of its own, dropped after.
PG_BASE = os.environ.get("LIFECYCLE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1/test")


def pg_admin():
    """An autocommit connection to the test database, for creating and dropping schemas."""
    import psycopg

    return psycopg.connect(PG_BASE, autocommit=True)


def schema_url(schema: str) -> str:
    """The store URL of *schema* in the test database (its search_path)."""
    sep = "&" if "?" in PG_BASE else "?"
    return f"{PG_BASE}{sep}options=-csearch_path%3D{schema}"


@pytest.fixture
def pg_schema() -> Iterator[Callable[[], str]]:
    """Make fresh initialized store schemas (call it); every one is dropped after the test."""
    import uuid

    from lifecycle import PostgresStore

    made: list[str] = []

    def make() -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        with pg_admin() as conn:
            conn.execute(f"CREATE SCHEMA {name}")
        made.append(name)
        PostgresStore(schema_url(name)).init()
        return schema_url(name)

    yield make
    with pg_admin() as conn:
        for name in made:
            conn.execute(f"DROP SCHEMA {name} CASCADE")


@pytest.fixture
def pg_url(pg_schema: Callable[[], str], workspace: Path) -> str:
    """A fresh initialized store schema holding the workspace's lifecycle.toml."""
    from lifecycle import PostgresStore

    url = pg_schema()
    store = PostgresStore(url)
    store.put_settings("lifecycle.toml", (workspace / "lifecycle.toml").read_bytes())
    store.close()
    return url


def make_store(kind: str, request: pytest.FixtureRequest, workspace: Path):
    """A store of *kind* (memory, file, postgresql) with the workspace's settings."""
    from lifecycle import FileStore, MemoryStore, PostgresStore

    if kind == "file":
        return FileStore(workspace)
    if kind == "memory":
        return MemoryStore(settings={"lifecycle.toml": (workspace / "lifecycle.toml").read_bytes()})
    store = PostgresStore(request.getfixturevalue("pg_url"))
    request.addfinalizer(store.close)
    return store


STORE_KINDS = ["memory", "file", "postgresql"]
