"""Authoring commands: playbooks list/show/graph/new, plugins, plugin subcommands, and the demo."""

from __future__ import annotations

import importlib.metadata
import json
import shutil
import tomllib
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

import lifecycle
import lifecycle.cli as lifecycle_cli
from lifecycle import Engine, load_playbook
from lifecycle._playbooks import playbook_digest, shipped_playbooks_dir

from conftest import FIXTURES, run_cli

LIST_KEYS = set("id version organization title extends source sha256 ok error".split())
ORG_IDS = "au commonwealth eac eccas ecowas eu igad oas oic osce sadc un".split()
CORE_KINDS = (
    "fact-required fact-forbids stage-visited activity-recorded within-days checklist-complete"
).split()


def _node(stage: str) -> str:
    return "s_" + stage.replace("-", "_")


def _edges(engine: Engine, pid: str) -> list[tuple[str, str, str]]:
    """Every (trigger, source, dest) of the resolved playbook, stars expanded, and a returning
    trigger's `@return` as each stage it may lead back to."""
    pb = engine.catalog.resolve(pid).playbook
    return [
        (t.id, source, dest)
        for t in pb.triggers
        for source in t.from_
        for dest in (pb.entered_from(source) if t.returns else [t.to])
    ]


@pytest.fixture
def mixed_dir(tmp_path: Path) -> Path:
    """A --playbooks folder with one valid, one unparsable and one unresolvable playbook."""
    folder = tmp_path / "pbs"
    folder.mkdir()
    shutil.copy(FIXTURES / "ext-base.toml", folder)
    shutil.copy(FIXTURES / "broken" / "syntax.toml", folder)
    shutil.copy(FIXTURES / "broken" / "unknown-kind.toml", folder)
    return folder


class TestPlaybooksList:
    def test_json_lists_core_and_organizations_ok(self, cli):
        """`playbooks list --json` has core and every organization playbook, valid and hashed."""
        code, out, _ = cli("playbooks", "list", "--json")
        assert code == 0
        rows = {row["id"]: row for row in json.loads(out)["playbooks"]}
        for pid in ["core", *ORG_IDS]:
            assert rows[pid]["ok"] is True and rows[pid]["error"] is None
            assert len(rows[pid]["sha256"]) == 64
        assert rows["au"]["organization"] == "African Union"
        assert rows["core"]["version"] == "1.3.0"

    def test_json_extends_names_the_parent(self, cli):
        """`extends` in `playbooks list --json` names the parent: core for au, null for core."""
        _, out, _ = cli("playbooks", "list", "--json")
        rows = {row["id"]: row for row in json.loads(out)["playbooks"]}
        assert rows["core"]["extends"] is None
        assert rows["au"]["extends"] == "core"

    def test_json_rows_have_documented_keys(self, cli, mixed_dir: Path):
        """Every row, the invalid ones included, has exactly the keys docs/cli.md names."""
        code, out, _ = cli("--playbooks", str(mixed_dir), "playbooks", "list", "--json")
        assert code == 0
        for row in json.loads(out)["playbooks"]:
            assert set(row) == LIST_KEYS, row

    def test_invalid_playbooks_listed_with_error_others_still_listed(self, cli, mixed_dir: Path):
        """Invalid playbooks show ok false with their problem; valid ones still list."""
        code, out, _ = cli("--playbooks", str(mixed_dir), "playbooks", "list", "--json")
        assert code == 0
        rows = json.loads(out)["playbooks"]
        by_source = {Path(row["source"]).name: row for row in rows if "pbs" in row["source"]}
        assert by_source["ext-base.toml"]["ok"] is True
        assert by_source["syntax.toml"]["ok"] is False
        assert "TOML syntax" in by_source["syntax.toml"]["error"]
        assert by_source["unknown-kind.toml"]["ok"] is False
        assert "fact-requird" in by_source["unknown-kind.toml"]["error"]
        assert {"core", "au"} <= {row["id"] for row in rows if row["ok"]}

    def test_text_marks_invalid(self, cli, mixed_dir: Path):
        """The text list shows INVALID with the problem, and the valid playbooks with titles."""
        code, out, _ = cli("--playbooks", str(mixed_dir), "playbooks", "list")
        assert code == 0
        lines = out.splitlines()
        assert any(line.startswith("broken-unknown-kind") and "INVALID" in line for line in lines)
        assert any(line.startswith("?") and "TOML syntax" in line for line in lines)
        core = next(line for line in lines if line.startswith("core "))
        assert "1.3.0" in core and "Holistic mediation support cycle" in core


class TestPlaybooksShow:
    def test_as_written(self, cli):
        """`playbooks show core` prints the shipped TOML file byte for byte."""
        code, out, _ = cli("playbooks", "show", "core")
        assert code == 0
        assert out == (shipped_playbooks_dir() / "core.toml").read_text(encoding="utf-8")

    def test_resolved_round_trips(self, cli, tmp_path: Path):
        """`--resolved` is TOML of the merged playbook: core's stages included, same sha256."""
        code, out, _ = cli("playbooks", "show", "au", "--resolved")
        assert code == 0
        sha = out.splitlines()[0].split()[-1]
        data = tomllib.loads(out)
        assert data["id"] == "au" and "extends" not in data
        core = tomllib.loads((shipped_playbooks_dir() / "core.toml").read_text(encoding="utf-8"))
        assert {s["id"] for s in core["stages"]} <= {s["id"] for s in data["stages"]}
        path = tmp_path / "au-resolved.toml"
        path.write_text(out, encoding="utf-8")
        assert playbook_digest(load_playbook(path)) == sha

    @pytest.mark.parametrize("resolved", [False, True], ids=["as-written", "resolved"])
    def test_json(self, cli, resolved: bool):
        """`--json` has id, source, sha256, resolved and the playbook (stages merged if resolved)."""
        args = ["playbooks", "show", "au", "--json"] + (["--resolved"] if resolved else [])
        code, out, _ = cli(*args)
        assert code == 0
        data = json.loads(out)
        assert set(data) == {"id", "source", "sha256", "resolved", "playbook"}
        assert data["id"] == "au" and data["resolved"] is resolved
        assert data["source"].endswith("au.toml") and len(data["sha256"]) == 64
        stages = {s["id"] for s in data["playbook"].get("stages", [])}
        assert ("active-support" in stages) is resolved

    def test_unknown_exits_2(self, cli):
        """Showing an unknown playbook is a usage error."""
        code, _, err = cli("playbooks", "show", "nope")
        assert code == 2 and "nope" in err


class TestPlaybooksGraph:
    @pytest.mark.parametrize("pid", ["core", "au"], ids=["core", "au"])
    def test_mermaid_has_every_edge(self, cli, engine: Engine, pid: str):
        """Mermaid is a stateDiagram-v2 with one edge line per trigger source."""
        code, out, _ = cli("playbooks", "graph", pid, "--format", "mermaid")
        assert code == 0
        lines = [line.strip() for line in out.splitlines()]
        assert lines[0] == "stateDiagram-v2"
        assert "[*] --> s_support_request" in lines
        edges = _edges(engine, pid)
        for trigger, source, dest in edges:
            assert f"{_node(source)} --> {_node(dest)}: {trigger}" in lines
        assert len([line for line in lines if ": " in line and "-->" in line]) == len(edges)
        assert "s_support_request --> s_conflict_analysis: accept-request" in lines
        assert "s_suspended --> s_withdrawn: withdraw" in lines  # from = ["*"], expanded

    @pytest.mark.parametrize("pid", ["core", "au"], ids=["core", "au"])
    def test_dot_labels_each_edge(self, cli, engine: Engine, pid: str):
        """Dot output is a digraph with every trigger as an edge label."""
        code, out, _ = cli("playbooks", "graph", pid, "--format", "dot")
        assert code == 0
        lines = [line.strip() for line in out.splitlines()]
        assert lines[0] == f'digraph "{pid}" {{' and lines[-1] == "}"
        edges = _edges(engine, pid)
        for trigger, source, dest in edges:
            assert f'"{source}" -> "{dest}" [label="{trigger}"];' in lines
        assert len([line for line in lines if " -> " in line]) == len(edges)

    @pytest.mark.parametrize("pid", ["core", "au"], ids=["core", "au"])
    def test_md_one_row_per_trigger(self, cli, engine: Engine, pid: str):
        """The Markdown table has one row per trigger with its sources, target and gate."""
        code, out, _ = cli("playbooks", "graph", pid, "--format", "md")
        assert code == 0
        rows = {}
        for line in out.splitlines():
            cells = [c.strip() for c in line.strip("|").split("|")]
            if len(cells) == 5 and cells[0].startswith("`"):
                rows[cells[0].strip("`")] = cells
        triggers = engine.catalog.resolve(pid).playbook.triggers
        assert set(rows) == {t.id for t in triggers}
        for t in triggers:
            assert rows[t.id][1:4] == [", ".join(t.from_), t.to, "yes" if t.gate else "no"]
        assert rows["request-briefing"][3] == "no" and rows["appoint"][3] == "yes"
        assert "mandate-before-appointment" in rows["appoint"][4]

    def test_md_expands_star_sources(self, cli):
        """The `suspend` row lists every non-final stage of core.toml except `suspended`."""
        core = tomllib.loads((shipped_playbooks_dir() / "core.toml").read_text(encoding="utf-8"))
        expected = [
            s["id"] for s in core["stages"] if not s.get("final") and s["id"] != "suspended"
        ]
        _, out, _ = cli("playbooks", "graph", "core", "--format", "md")
        row = next(line for line in out.splitlines() if line.startswith("| `suspend`"))
        assert row.split("|")[2].strip() == ", ".join(expected)

    @pytest.mark.parametrize(
        "args", [["nope"], ["core", "--format", "svg"]], ids=["unknown-id", "unknown-format"]
    )
    def test_usage_errors_exit_2(self, cli, args: list[str]):
        """An unknown playbook id or format exits 2 with one error line."""
        code, out, err = cli("playbooks", "graph", *args)
        assert code == 2 and out == ""
        assert err.startswith("lifecycle: error:")


class TestPlaybooksNew:
    def test_writes_a_playbook_check_accepts(self, cli, tmp_path: Path):
        """`playbooks new` writes ORG.toml extending core, which `playbooks check` accepts."""
        folder = tmp_path / "new"
        code, _, _ = cli("playbooks", "new", "acme", "--dir", str(folder))
        path = folder / "acme.toml"
        assert code == 0 and path.is_file()
        assert tomllib.loads(path.read_text(encoding="utf-8"))["extends"] == "core"
        code, out, err = cli("playbooks", "check", str(path))
        assert (code, err) == (0, "") and out.startswith("OK")
        code, _, _ = cli("--playbooks", str(folder), "new", "e1", "--playbook", "acme")
        assert code == 0

    def test_refuses_to_overwrite(self, cli, tmp_path: Path):
        """A second `playbooks new` for the same org exits 2 and leaves the file as it was."""
        assert cli("playbooks", "new", "acme", "--dir", str(tmp_path))[0] == 0
        path = tmp_path / "acme.toml"
        path.write_text(path.read_text(encoding="utf-8") + "# edited\n", encoding="utf-8")
        before = path.read_bytes()
        code, _, err = cli("playbooks", "new", "acme", "--dir", str(tmp_path))
        assert code == 2 and "exists" in err
        assert path.read_bytes() == before

    @pytest.mark.parametrize("org", ["Acme", "acme_org", "-acme", "ac me"], ids=str)
    def test_bad_org_id_exits_2(self, cli, tmp_path: Path, org: str):
        """An org id that is not lowercase letters, digits and '-' exits 2, writing nothing."""
        folder = tmp_path / "new"
        code, _, err = cli("playbooks", "new", org, "--dir", str(folder))
        assert code == 2 and err.startswith("lifecycle: error:")
        assert not folder.exists()


class TestPluginsCommand:
    def test_no_plugins_says_so(self, cli, monkeypatch: pytest.MonkeyPatch):
        """With only the built-ins loaded, `plugins` says no plugins are installed."""
        host = lifecycle.make_plugin_manager(load_entrypoints=False, environ={})
        monkeypatch.setattr(lifecycle_cli, "_PLUGINS", [host])
        code, out, _ = cli("plugins")
        assert code == 0 and "No plugins installed" in out

    def test_all_json_lists_builtin(self, cli):
        """`plugins --all --json` lists lifecycle._builtin with its hooks, playbooks, rule kinds."""
        code, out, _ = cli("plugins", "--all", "--json")
        assert code == 0
        builtin = next(p for p in json.loads(out)["plugins"] if p["name"] == "lifecycle._builtin")
        assert builtin["builtin"] is True and builtin["status"] == "loaded"
        assert builtin["hooks"] == ["register_playbooks", "register_rule_kinds"]
        assert set(builtin["playbooks"]) >= {"core", *ORG_IDS}
        assert builtin["rule_kinds"] == CORE_KINDS


class _Hello:
    """A plugin adding `hello-test NAME`, which greets as the acting actor."""

    @lifecycle.hookimpl
    def register_commands(self, cli: click.Group) -> None:
        @cli.command("hello-test")
        @click.argument("name")
        def hello(name: str) -> None:
            actor = click.get_current_context().obj.actor
            click.echo(f"hello {name} from {actor}")


class _Broken:
    """A plugin whose register_commands raises."""

    @lifecycle.hookimpl
    def register_commands(self, cli: click.Group) -> None:
        raise RuntimeError("no commands today")


@pytest.fixture
def cleanup_commands() -> Iterator[None]:
    """Remove the test plugins' commands from the shared click group afterwards."""
    yield
    lifecycle_cli.cli.commands.pop("hello-test", None)


@pytest.mark.usefixtures("cleanup_commands")
class TestPluginCommands:
    def test_register_commands_adds_a_working_subcommand(self, cli):
        """A plugin's register_commands adds a subcommand that runs with the global options."""
        host = lifecycle.make_plugin_manager(
            load_entrypoints=False, extra_plugins=[_Hello()], environ={}
        )
        host.add_commands(lifecycle_cli.cli)
        assert cli("hello-test", "world") == (0, "hello world from officer\n", "")
        assert cli("--actor", "head", "hello-test", "you")[1] == "hello you from head\n"

    def test_failing_register_commands_is_reported(self, cli, monkeypatch: pytest.MonkeyPatch):
        """A plugin whose register_commands raises is marked failed; the CLI still runs."""
        host = lifecycle.make_plugin_manager(
            load_entrypoints=False, extra_plugins=[_Broken(), _Hello()], environ={}
        )
        monkeypatch.setattr(lifecycle_cli, "_PLUGINS", [host])
        code, out, _ = cli("plugins", "--json")
        assert code == 0
        report = next(p for p in json.loads(out)["plugins"] if p["name"] == "_Broken")
        assert report["status"] == "failed" and "no commands today" in report["error"]
        assert cli("hello-test", "x")[0] == 0
        assert cli("playbooks", "list")[0] == 0


class TestDemoAndVersion:
    def test_demo_with_workspace_option(self, cli, tmp_path: Path):
        """`lifecycle demo --workspace DIR` ends with a clean verdict and leaves an auditable history."""
        folder = tmp_path / "demo"
        code, out, err = cli("demo", "--workspace", str(folder))
        assert (code, err) == (0, "")
        assert out.rstrip().splitlines()[-1] == "audit verdict: OK"
        assert cli("audit", str(folder))[0] == 0

    def test_demo_with_global_workspace(self, cli, tmp_path: Path):
        """`lifecycle --workspace DIR demo` drives amani-2026 to closed; `audit` accepts it."""
        folder = tmp_path / "demo"
        code, out, _ = cli("--workspace", str(folder), "demo")
        assert code == 0
        assert out.rstrip().splitlines()[-1] == "audit verdict: OK"
        assert (folder / "amani-2026.history.jsonl").is_file()
        code, out, _ = cli("audit", str(folder), "--json")
        report = json.loads(out)
        assert code == 0 and report["ok"] is True
        assert report["files"][0]["stage"] == "closed"

    def test_python_m_version(self):
        """`python -m lifecycle --version` prints the installed version."""
        proc = run_cli("--version")
        assert proc.returncode == 0
        assert importlib.metadata.version("lifecycle") in proc.stdout
