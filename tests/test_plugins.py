"""Plugins: real distributions installed with pip, broken ones included, seen by the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import ClassVar

import pytest

from lifecycle import Verdict, hookimpl, make_plugin_manager
from lifecycle.exceptions import RefusedError
from lifecycle.testing import drive, make_engine

from conftest import pip_install_target

PLAYBOOK = """\
schema = 1
id = "goodorg"
version = "1.0.0"
title = "Good org"
extends = "core"

[[facts]]
id = "goodorg.code"
title = "Office code"
type = "text"

[[rules]]
id = "code-is-upper"
on = ["accept-request"]
kind = "good.upper"
fact = "goodorg.code"
severity = "block"
message = "The office code is written in capitals."
"""

GOOD = """\
from pathlib import Path
from lifecycle import Param, RuleKind, Verdict, hookimpl

@hookimpl
def register_playbooks():
    return [Path(__file__).parent / "goodorg.toml"]

def upper(rule, engagement, action):
    value = str(engagement.facts.get(rule.params["fact"], ""))
    return Verdict(bool(value) and value.isupper(), f"{value!r} is not in capitals")

@hookimpl
def register_rule_kinds():
    return [RuleKind("good.upper", upper, {"fact": Param("str", ref="fact")})]
"""

BROKEN = {
    "importfail": "raise ImportError('this plugin cannot be imported')\n",
    "unknownhook": "from lifecycle import hookimpl\n\n@hookimpl\ndef no_such_hook():\n    pass\n",
    "badsig": "from lifecycle import hookimpl\n\n@hookimpl\ndef register_playbooks(surplus):\n"
    "    return []\n",
}


def _distribution(root: Path, name: str, module: str, files: dict[str, str]) -> Path:
    folder = root / f"lifecycle-{name}"
    package = folder / module
    package.mkdir(parents=True)
    for relative, text in files.items():
        (package / relative).write_text(text, encoding="utf-8")
    (folder / "pyproject.toml").write_text(
        textwrap.dedent(f"""\
        [build-system]
        requires = ["hatchling"]
        build-backend = "hatchling.build"

        [project]
        name = "lifecycle-{name}"
        version = "1.2.3"

        [project.entry-points."lifecycle.plugins"]
        {name} = "{module}"

        [tool.hatch.build.targets.wheel]
        packages = ["{module}"]
        """),
        encoding="utf-8",
    )
    return folder


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding four plugin distributions installed with pip: one good, three broken."""
    root = tmp_path_factory.mktemp("dists")
    dists = [
        _distribution(
            root, "good", "lifecycle_good", {"__init__.py": GOOD, "goodorg.toml": PLAYBOOK}
        )
    ]
    for name, code in BROKEN.items():
        dists.append(_distribution(root, name, f"lifecycle_{name}", {"__init__.py": code}))
    target = root / "site"
    pip_install_target(target, *dists)
    return target


def _lifecycle(
    site: Path, *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("LIFECYCLE_")}
    environ.update({"PYTHONPATH": str(site), "LIFECYCLE_ACTOR": "officer", **(env or {})})
    return subprocess.run(
        [sys.executable, "-m", "lifecycle", "--workspace", str(cwd / "ws"), *args],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


class TestInstalledPlugins:
    def test_plugins_lists_good_and_broken(self, site: Path, tmp_path: Path):
        """`plugins --json` shows the good plugin loaded and each broken one failed with its error."""
        result = _lifecycle(site, "plugins", "--json", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        reports = {p["name"]: p for p in json.loads(result.stdout)["plugins"]}
        good = reports["good"]
        assert (good["status"], good["distribution"], good["version"]) == (
            "loaded",
            "lifecycle-good",
            "1.2.3",
        )
        assert good["playbooks"] == ["goodorg"] and good["rule_kinds"] == ["good.upper"]
        assert good["hooks"] == ["register_playbooks", "register_rule_kinds"]
        assert reports["importfail"]["status"] == "failed"
        assert "cannot be imported" in reports["importfail"]["error"]
        assert "unknown hook" in reports["unknownhook"]["error"]
        assert "surplus" in reports["badsig"]["error"]
        assert "Traceback" not in result.stderr

    def test_text_listing_shows_the_error(self, site: Path, tmp_path: Path):
        """The text form of `plugins` names the failed plugin and its error."""
        result = _lifecycle(site, "plugins", cwd=tmp_path)
        assert result.returncode == 0
        assert "failed: ImportError: this plugin cannot be imported" in result.stdout

    def test_other_commands_keep_working(self, site: Path, tmp_path: Path):
        """Broken plugins stop neither `playbooks list` nor an engagement under another playbook."""
        listing = _lifecycle(site, "playbooks", "list", "--json", cwd=tmp_path)
        ids = {p["id"] for p in json.loads(listing.stdout)["playbooks"]}
        assert {"core", "goodorg", "au", "un"} <= ids
        assert _lifecycle(site, "new", "e1", "--playbook", "core", cwd=tmp_path).returncode == 0
        assert _lifecycle(site, "check", "e1", "request-recorded", cwd=tmp_path).returncode == 0

    def test_plugin_playbook_and_rule_kind_work(self, site: Path, tmp_path: Path):
        """The plugin's playbook opens and its Python rule kind blocks, then passes."""
        assert (
            _lifecycle(
                site,
                "new",
                "g1",
                "--playbook",
                "goodorg",
                "--set",
                "goodorg.code=abc",
                cwd=tmp_path,
            ).returncode
            == 0
        )
        for item in ("request-recorded", "entry-point-identified"):
            _lifecycle(site, "check", "g1", item, cwd=tmp_path)
        refused = _lifecycle(site, "advance", "g1", "accept-request", cwd=tmp_path)
        assert refused.returncode == 1 and "code-is-upper" in refused.stderr
        _lifecycle(site, "set", "g1", "goodorg.code=ABC", cwd=tmp_path)
        assert _lifecycle(site, "advance", "g1", "accept-request", cwd=tmp_path).returncode == 0

    def test_disable_and_load_switches(self, site: Path, tmp_path: Path):
        """LIFECYCLE_DISABLE_PLUGINS blocks a plugin; LIFECYCLE_LOAD_PLUGINS loads only those named."""
        off = _lifecycle(
            site, "plugins", "--json", cwd=tmp_path, env={"LIFECYCLE_DISABLE_PLUGINS": "good"}
        )
        assert {p["name"]: p["status"] for p in json.loads(off.stdout)["plugins"]}[
            "good"
        ] == "disabled"
        only = _lifecycle(
            site, "plugins", "--json", cwd=tmp_path, env={"LIFECYCLE_LOAD_PLUGINS": "good"}
        )
        statuses = {p["name"]: p["status"] for p in json.loads(only.stdout)["plugins"]}
        assert statuses["good"] == "loaded" and statuses["importfail"] == "not loaded"

    def test_trace_switch_traces_hook_calls(self, site: Path, tmp_path: Path):
        """LIFECYCLE_TRACE_PLUGINS=1 writes each hook call to stderr."""
        result = _lifecycle(
            site, "playbooks", "list", cwd=tmp_path, env={"LIFECYCLE_TRACE_PLUGINS": "1"}
        )
        assert "register_playbooks -> good" in result.stderr


class Raising:
    """A plugin object whose rule kind raises."""

    @hookimpl
    def register_rule_kinds(self):
        """A kind that always fails."""
        from lifecycle import Param, RuleKind

        def boom(rule, engagement, action) -> Verdict:
            raise RuntimeError("registry unreachable")

        return [RuleKind("raising.boom", boom, {"fact": Param("str", ref="fact")})]


class TestFailClosed:
    def test_raising_rule_blocks_naming_the_plugin(self, tmp_path: Path):
        """A plugin rule that raises blocks the trigger, and the refusal names the plugin."""
        (tmp_path / "pb").mkdir()
        (tmp_path / "pb" / "boomorg.toml").write_text(
            'schema = 1\nid = "boomorg"\nversion = "1"\ntitle = "B"\nextends = "core"\n'
            '[[rules]]\nid = "r"\non = ["accept-request"]\nkind = "raising.boom"\nfact = "envoy"\n',
            encoding="utf-8",
        )
        engine = make_engine(tmp_path / "ws", plugins=[Raising()], playbook_dirs=[tmp_path / "pb"])
        with pytest.raises(RefusedError, match="registry unreachable") as caught:
            drive(engine, "e1", "boomorg", ["accept-request"])
        assert "Raising" in str(caught.value)
        assert engine.history("e1")[-1]["type"] == "refused"

    def test_event_hook_error_keeps_the_event(self, tmp_path: Path):
        """An exception in lifecycle_event is reported and the event stays in the history."""

        class Noisy:
            @hookimpl
            def lifecycle_event(self, engagement, event):
                """Fail on every event."""
                raise ValueError("mailer down")

        engine = make_engine(tmp_path / "ws", plugins=[Noisy()])
        result = engine.open("e1", "core", actor="officer")
        assert "mailer down" in str(result.plugin_errors[0])
        assert engine.history("e1")[0]["type"] == "opened"

    def test_duplicate_playbook_id_names_both_sources(self, tmp_path: Path):
        """Two sources defining the same playbook id give an error naming both."""

        class Twice:
            @hookimpl
            def register_playbooks(self):
                """Register core again, from another file."""
                copy = tmp_path / "copy.toml"
                copy.write_text(
                    (Path(__file__).parent.parent / "playbooks" / "core.toml").read_text()
                )
                return [copy]

        host = make_plugin_manager(load_entrypoints=False, extra_plugins=[Twice()], environ={})
        from lifecycle.exceptions import PlaybookError

        with pytest.raises(PlaybookError, match="defined twice") as caught:
            host.catalog().resolve("core")
        assert "copy.toml" in str(caught.value) and "core.toml" in str(caught.value)


# ---------------------------------------------------------------- plugins that misbehave

EVIL = """\
import sys
from pathlib import Path
from lifecycle import Param, RuleKind, Verdict, hookimpl

def fill(rule, engagement, action):
    for item in engagement.playbook.stage(engagement.stage).checklist:
        engagement.done[item.id] = 1
    return True

def close(rule, engagement, action):
    engagement.stage = "closed"
    return True

def leave(rule, engagement, action):
    sys.exit(0)

def maybe(rule, engagement, action):
    return Verdict("yes", "a string is no answer")

def huge(rule, engagement, action):
    return Verdict(False, "x" * 100_000)

@hookimpl
def register_playbooks():
    return [Path(__file__).parent]

@hookimpl
def register_rule_kinds():
    return [RuleKind(f"evil.{f.__name__}", f) for f in (fill, close, leave, maybe, huge)]
"""

LISTENER = """\
import os, sys
from pathlib import Path
from lifecycle import hookimpl

@hookimpl(wrapper=True)
def lifecycle_event(engagement, event):
    result = yield
    Path(os.environ["MARKER"]).open("a").write(f"wrapped {event['seq']} {engagement.stage}\\n")
    return result

@hookimpl
def lifecycle_event(engagement, event):
    sys.exit(3)
"""


WRAPS_KINDS = """\
from lifecycle import hookimpl

@hookimpl(wrapper=True)
def register_rule_kinds():
    return (yield)
"""


def _evil_playbook(kind: str) -> str:
    return (
        f'schema = 1\nid = "evil-{kind}"\nversion = "1"\ntitle = "Evil {kind}"\nextends = "core"\n'
        f'[[rules]]\nid = "evil-{kind}"\non = ["accept-request"]\nkind = "evil.{kind}"\n'
    )


EVIL_KINDS = ["fill", "close", "leave", "maybe", "huge"]


@pytest.fixture(scope="module")
def evil_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Installed with pip: rule kinds that mutate, exit or answer wrongly; an event listener that
    exits, beside a wrapper; a wrapper on register_rule_kinds."""
    root = tmp_path_factory.mktemp("evil")
    files = {"__init__.py": EVIL} | {f"evil-{k}.toml": _evil_playbook(k) for k in EVIL_KINDS}
    wrapper, _, plain = LISTENER.partition("@hookimpl\ndef")
    dists = [
        _distribution(root, "evil", "lifecycle_evil", files),
        _distribution(root, "listener", "lifecycle_listener", {"__init__.py": wrapper}),
        _distribution(
            root,
            "exiter",
            "lifecycle_exiter",
            {"__init__.py": "import sys\nfrom lifecycle import hookimpl\n\n@hookimpl\ndef" + plain},
        ),
        _distribution(root, "wrapskinds", "lifecycle_wrapskinds", {"__init__.py": WRAPS_KINDS}),
    ]
    target = root / "site"
    pip_install_target(target, *dists)
    return target


def _ready(site: Path, cwd: Path, playbook: str, env: dict[str, str]) -> None:
    """Open e1 under *playbook* with the first stage's required items ticked."""
    assert _lifecycle(site, "new", "e1", "--playbook", playbook, cwd=cwd, env=env).returncode == 0
    _lifecycle(site, "check", "e1", "request-recorded", cwd=cwd, env=env)


def _events(site: Path, cwd: Path, env: dict[str, str]) -> list[dict]:
    result = _lifecycle(site, "history", "--json", "e1", cwd=cwd, env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["events"]


class TestMisbehavingPlugins:
    ONLY_EVIL: ClassVar[dict[str, str]] = {"LIFECYCLE_LOAD_PLUGINS": "evil"}

    @pytest.mark.parametrize(
        ("kind", "error"),
        [
            ("fill", "TypeError"),
            ("close", "read-only"),
            ("leave", "SystemExit"),
            ("maybe", "not a bool"),
        ],
    )
    def test_rule_fails_closed_and_is_recorded(self, evil_site, tmp_path, kind, error):
        """A rule that mutates the engagement, exits or answers a non-bool blocks: `advance` exits 1,
        the refusal is recorded with the gate still blocking and the stage unchanged."""
        env = self.ONLY_EVIL
        _ready(evil_site, tmp_path, f"evil-{kind}", env)
        result = _lifecycle(evil_site, "advance", "e1", "accept-request", cwd=tmp_path, env=env)
        assert result.returncode == 1, result.stdout + result.stderr
        assert error in result.stderr and "'evil'" in result.stderr, result.stderr
        last = _events(evil_site, tmp_path, env)[-1]
        assert last["type"] == "refused"
        outcomes = {r["rule"]: r for r in last["data"]["rules"]}
        assert outcomes[f"evil-{kind}"]["outcome"] == "block"
        assert outcomes[f"evil-{kind}"]["unchecked"] is True
        assert outcomes["checklist"]["outcome"] == "block"  # items were not filled in
        status = _lifecycle(evil_site, "status", "--json", "e1", cwd=tmp_path, env=env)
        assert json.loads(status.stdout)["stage"] == "support-request"

    def test_long_plugin_detail_is_capped(self, evil_site, tmp_path):
        """A 100,000-character detail is stored cut to the documented cap, marked with an ellipsis."""
        env = self.ONLY_EVIL
        _ready(evil_site, tmp_path, "evil-huge", env)
        _lifecycle(evil_site, "check", "e1", "entry-point-identified", cwd=tmp_path, env=env)
        result = _lifecycle(evil_site, "advance", "e1", "accept-request", cwd=tmp_path, env=env)
        assert result.returncode == 1
        rule = _events(evil_site, tmp_path, env)[-1]["data"]["rules"][0]
        assert len(rule["message"]) == 2000 and rule["message"].endswith("…")

    def test_event_hook_exit_does_not_set_the_exit_code(self, evil_site, tmp_path):
        """A lifecycle_event hook's sys.exit(3) is a warning naming the plugin; the command exits 0,
        the event is recorded, and a wrapper=True implementation runs around it."""
        marker = tmp_path / "marker.txt"
        env = {"LIFECYCLE_LOAD_PLUGINS": "listener,exiter", "MARKER": str(marker)}
        result = _lifecycle(evil_site, "new", "e1", "--playbook", "core", cwd=tmp_path, env=env)
        assert result.returncode == 0, result.stderr
        assert "plugin 'exiter': lifecycle_event failed: SystemExit: 3" in result.stderr
        noted = _lifecycle(evil_site, "note", "e1", "hello there", cwd=tmp_path, env=env)
        assert noted.returncode == 0, noted.stderr
        assert [e["type"] for e in _events(evil_site, tmp_path, env)] == ["opened", "note_added"]
        assert marker.read_text() == "wrapped 1 support-request\nwrapped 2 support-request\n"

    def test_wrapper_on_register_rule_kinds_is_refused_at_load(self, evil_site, tmp_path):
        """A wrapper on register_rule_kinds marks its plugin failed, saying why."""
        env = {"LIFECYCLE_LOAD_PLUGINS": "wrapskinds"}
        result = _lifecycle(evil_site, "plugins", "--json", cwd=tmp_path, env=env)
        report = {p["name"]: p for p in json.loads(result.stdout)["plugins"]}["wrapskinds"]
        assert report["status"] == "failed"
        assert "wrapper implementation of register_rule_kinds" in report["error"]
