"""Packaging: a non-editable install carries the shipped playbooks; the scaffold's plugin works."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import pip_install_target

ROOT = Path(__file__).parent.parent
ORGANIZATIONS = {"au", "commonwealth", "eac", "eccas", "eu", "igad", "oas", "oic", "osce", "un"}


def _clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("LIFECYCLE_", "PYTHON", "VIRTUAL_ENV"))
    }
    return {**env, **extra}


def _lifecycle(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m lifecycle ARGS` in a real subprocess, in a clean environment."""
    return subprocess.run(
        [sys.executable, "-m", "lifecycle", *args],
        env=env or _clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new venv with lifecycle installed from this tree, non-editable, by pip."""
    venv = tmp_path_factory.mktemp("fresh") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(ROOT)],
        check=True,
        capture_output=True,
        timeout=600,
        env=_clean_env(),
    )
    return venv


def test_non_editable_install_lists_the_shipped_playbooks(fresh_venv: Path, tmp_path: Path):
    """After `pip install .` in a fresh venv, `playbooks list --json` has core and the ten."""
    result = subprocess.run(
        [str(fresh_venv / "bin" / "lifecycle"), "playbooks", "list", "--json"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        env=_clean_env(),
        check=False,
    )
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)["playbooks"]
    ids = {row["id"] for row in rows if row["ok"]}
    assert {"core", *ORGANIZATIONS} <= ids
    assert all(str(fresh_venv) in row["source"] for row in rows if row["id"] in ORGANIZATIONS)


def test_non_editable_install_runs_the_demo(fresh_venv: Path, tmp_path: Path):
    """The installed console script runs the demo to a clean audit verdict."""
    result = subprocess.run(
        [str(fresh_venv / "bin" / "lifecycle"), "demo"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        env=_clean_env(),
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.rstrip().endswith("audit verdict: OK")


def test_scaffolded_plugin_installs_and_its_tests_pass(tmp_path: Path):
    """`plugins new` writes a distribution that pip installs and whose generated tests pass."""
    made = subprocess.run(
        [
            sys.executable,
            "-m",
            "lifecycle",
            "plugins",
            "new",
            "acme-rules",
            "--org",
            "acme",
            "--dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    root = tmp_path / "lifecycle-acme-rules"
    expected = {
        "pyproject.toml",
        "README.md",
        "src/lifecycle_acme_rules/__init__.py",
        "src/lifecycle_acme_rules/playbooks/acme.toml",
        "tests/test_plugin.py",
    }
    assert {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()} == expected
    site = tmp_path / "site"
    pip_install_target(site, root)
    env = _clean_env(PYTHONPATH=str(site))
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "3 passed" in tests.stdout
    listing = _lifecycle("plugins", "--json", env=env)
    acme = next(p for p in json.loads(listing.stdout)["plugins"] if p["name"] == "acme-rules")
    assert acme["status"] == "loaded" and acme["rule_kinds"] == ["acme-rules.min-words"]


def test_scaffold_refuses_bad_names_and_overwrites(tmp_path: Path):
    """A bad plugin name is a usage error (exit 2), and an existing folder is never overwritten."""
    bad = _lifecycle("plugins", "new", "Bad_Name", "--org", "x", "--dir", str(tmp_path))
    assert bad.returncode == 2 and "Plugin name 'Bad_Name'" in bad.stderr
    (tmp_path / "lifecycle-dup").mkdir()
    dup = _lifecycle("plugins", "new", "dup", "--org", "x", "--dir", str(tmp_path))
    assert dup.returncode == 2 and "exists already" in dup.stderr


# Runs `lifecycle` as its console script does (lifecycle._fast.main) and writes to argv[1]
# whether the process imported click, i.e. whether the full CLI ran.
_PROBED = """
import sys
probe = sys.argv.pop(1)
try:
    from lifecycle._fast import main
    main()
finally:
    with open(probe, "w") as out:
        out.write("full" if "click" in sys.modules else "cached")
"""


def _probed_status(venv: Path, ws: Path, probe: Path, **extra: str) -> tuple[str, str, str]:
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-c", _PROBED, str(probe), "--workspace", str(ws),
         "status", "e1"],
        env=_clean_env(LIFECYCLE_ACTOR="officer", **extra),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )  # fmt: skip
    return probe.read_text(), done.stdout, done.stderr


def test_status_of_an_install_without_plugins_is_answered_from_its_cache(
    fresh_venv: Path, tmp_path: Path
) -> None:
    """With plugin loading on (the default) and no plugin installed, a repeated status is
    answered from the status cache, byte for byte; a plugin put on the path (a real pip
    install) makes the next run a full one again."""
    ws, probe = tmp_path / "ws", tmp_path / "probe.txt"
    new = [str(fresh_venv / "bin" / "lifecycle"), "--workspace", str(ws), "new", "e1",
           "--playbook", "core"]  # fmt: skip
    subprocess.run(new, env=_clean_env(LIFECYCLE_ACTOR="officer"), check=True, timeout=120)
    first = _probed_status(fresh_venv, ws, probe)
    again = _probed_status(fresh_venv, ws, probe)
    assert first[0] == "full" and again[0] == "cached"
    assert again[1:] == first[1:] and "e1" in first[1]
    plugins = tmp_path / "plugins"
    pip_install_target(plugins, ROOT / "plugins" / "lifecycle-mandate")
    with_plugin = _probed_status(fresh_venv, ws, probe, PYTHONPATH=str(plugins))
    assert with_plugin[0] == "full"
    assert _probed_status(fresh_venv, ws, probe, PYTHONPATH=str(plugins))[0] == "full"


def test_the_fast_path_knows_the_plugin_group() -> None:
    """The status cache's scan for plugins looks for the group the plugin manager loads."""
    from lifecycle._fast import PLUGIN_GROUP
    from lifecycle._plugins import ENTRY_POINT_GROUP

    assert PLUGIN_GROUP == ENTRY_POINT_GROUP
