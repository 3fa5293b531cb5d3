"""`lifecycle report` (#15): the track record of a generated workspace, the same figures in its
three forms, and an appendix of checkpoints that `audit --against` verifies."""

from __future__ import annotations

import datetime as dt
import html
import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lifecycle.cli import run
from report_workspace import LATER_OPENED, make_workspace

Invoke = Callable[..., tuple[int, str, str]]


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The generated workspace (made once: the tests only read it, or copy it first)."""
    return {**make_workspace(tmp_path_factory.mktemp("report") / "ws")}


@pytest.fixture
def report(
    generated: dict[str, Any], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Invoke:
    """Run `lifecycle ARGS` on the generated workspace at its clock; (code, stdout, stderr)."""
    monkeypatch.setenv("LIFECYCLE_LOAD_PLUGINS", "")
    monkeypatch.setenv("LIFECYCLE_ACTOR", "officer")

    def invoke(*args: str, workspace: Path | None = None) -> tuple[int, str, str]:
        folder = workspace or generated["engine"].workspace.root
        capsys.readouterr()
        code = run(["--workspace", str(folder), *args], clock=generated["clock"])
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


def html_totals(page: str) -> dict[str, int]:
    """The totals of the HTML form: each `data-total` box's number."""
    found = re.findall(r'data-total="(\w+)"><dt>[^<]*</dt><dd>(\d+)</dd>', page)
    return {key: int(value) for key, value in found}


def md_totals(text: str) -> dict[str, int]:
    """The totals of the Markdown form: the rows of its "At a glance" table."""
    from lifecycle._report import TOTALS

    words = {w: key for key, w in TOTALS}
    section = text.split("## At a glance", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| ([^|]+) \| (\d+) \|$", section, flags=re.MULTILINE)
    return {words[w]: int(n) for w, n in rows if w in words}


def test_the_three_forms_give_the_same_totals(report: Invoke, generated: dict[str, Any]):
    """html, md and json carry the same totals, and they are what the workspace was built with."""
    forms = {fmt: report("report", "--format", fmt) for fmt in ("html", "md", "json")}
    assert all(code == 0 and err == "" for code, _, err in forms.values()), forms
    data = json.loads(forms["json"][1])
    assert html_totals(forms["html"][1]) == data["totals"]
    assert md_totals(forms["md"][1]) == data["totals"]
    for key, value in generated["totals"].items():
        assert data["totals"][key] == value, key
    assert data["totals"]["cadences_missed"] >= 1  # amani's retreat, held late
    assert data["totals"]["overdue"] >= 1  # gamma's cadences, never held


def test_appendix_checkpoints_verify_with_audit_against(
    report: Invoke, generated: dict[str, Any], tmp_path: Path
):
    """Each form saved with --out is a checkpoint file `audit --against` accepts for every
    history; a history cut short afterwards is then `truncated`."""
    workspace = tmp_path / "ws"
    shutil.copytree(generated["engine"].workspace.root, workspace)
    for fmt in ("html", "md", "json"):
        out = tmp_path / f"report.{fmt}"
        code, stdout, _ = report("report", "--format", fmt, "--out", str(out), workspace=workspace)
        assert code == 0 and str(out) in stdout
        code, stdout, stderr = report("audit", str(workspace), "--against", str(out))
        assert code == 0, stdout + stderr
        assert stdout.count("checkpoint ") == 4
    history = workspace / "amani.history.jsonl"
    history.write_bytes(b"".join(history.read_bytes().splitlines(keepends=True)[:-1]))
    code, stdout, _ = report("audit", str(workspace), "--against", str(tmp_path / "report.html"))
    assert code == 1 and "truncated" in stdout


def test_appendix_names_each_history_at_its_head(report: Invoke, generated: dict[str, Any]):
    """The JSON appendix holds one entry per engagement: its path, events and head hash."""
    data = json.loads(report("report", "--format", "json")[1])
    engine = generated["engine"]
    for entry in data["files"]:
        last = engine.history(entry["engagement"])[-1]
        assert (entry["events"], entry["head"]) == (last["seq"], last["hash"])
        assert (
            entry["checkpoint"] == f"checkpoint {entry['engagement']} {last['seq']} {last['hash']}"
        )
        assert entry["path"].endswith(f"{entry['engagement']}.history.jsonl")
    assert sorted(f["engagement"] for f in data["files"]) == ["amani", "beta", "gamma", "later"]


def test_indicators_count_what_core_marks(report: Invoke, generated: dict[str, Any]):
    """Women candidates proposed, gender briefings offered and civil society consulted are
    counted from the items and activities core marks with them."""
    data = json.loads(report("report", "--format", "json")[1])
    found = {i["indicator"]: i["occurrences"] for i in data["indicators"]}
    assert found == generated["indicators"]
    gender = next(i for i in data["indicators"] if i["indicator"] == "gender-briefings-offered")
    assert (gender["engagements"], gender["recorded_as"]) == (
        2,
        ["activity gender-inclusion-briefing"],
    )


def test_services_overrides_and_forced_moves(report: Invoke):
    """Services are counted by kind, organization and country; the override and the forced
    move are listed with their reasons."""
    data = json.loads(report("report", "--format", "json")[1])
    kinds = data["services"]["by_kind"]
    assert (kinds["briefing"], kinds["coaching"], kinds["retreat"], kinds["training"]) == (
        2,
        2,
        1,
        1,
    )
    assert kinds["other"] == 1  # the civil-society consultation
    assert sum(data["services"]["by_country"]["KEN"].values()) == 7
    moves = {(o["engagement"], o["kind"]): o for o in data["overrides"]}
    assert moves[("gamma", "forced")]["reason"] == "Support already under way there"
    assert moves[("gamma", "override")]["rules"] == ["impartial-lead-no-training"]


def test_period_keeps_what_falls_in_it(report: Invoke):
    """--to before the last engagement was opened leaves it out, with its checkpoint."""
    to = (LATER_OPENED - dt.timedelta(days=1)).isoformat()
    data = json.loads(report("report", "--format", "json", "--to", to)[1])
    assert [e["engagement"] for e in data["engagements"]] == ["amani", "beta", "gamma"]
    assert [f["engagement"] for f in data["files"]] == ["amani", "beta", "gamma"]
    assert data["period"] == {"from": None, "to": to}
    after = json.loads(report("report", "--format", "json", "--from", LATER_OPENED.isoformat())[1])
    assert [e["engagement"] for e in after["engagements"]] == ["gamma", "later"]  # gamma: active
    assert after["totals"]["opened"] == 1 and after["totals"]["closed"] == 0


def test_one_timeline_row_per_engagement_in_html(report: Invoke):
    """The page has one timeline row per engagement, each with an inline SVG and no script."""
    page = report("report")[1]
    rows = re.findall(r'<tr class="timeline-row" data-engagement="([^"]+)">', page)
    assert rows == ["amani", "beta", "gamma", "later"]
    assert page.count('<svg class="timeline"') == 4
    assert "<script" not in page and "http://" not in page and "https://" not in page


def test_text_from_a_history_is_escaped(report: Invoke):
    """A title holding markup is escaped in HTML and its `|` escaped in Markdown."""
    page = report("report")[1]
    assert "Lake Amani <talks>" not in page
    assert html.escape("Lake Amani <talks> | phase 1", quote=False) in page
    text = report("report", "--format", "md")[1]
    assert r"Lake Amani \<talks\> \| phase 1" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "2025-13-01"], "is not a date"),
        (["--from", "2026-02-01", "--to", "2026-01-01"], "--from 2026-02-01 is after --to"),
        (["--to", "2999-01-01"], "is after today"),
        (["--playbook", "nosuch"], "--playbook 'nosuch': no such playbook"),
        (["--format", "pdf"], "'pdf' is not one of"),
        (["--out", "/nonexistent/dir/r.html"], "folder /nonexistent/dir does not exist"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(report: Invoke, args: list[str], message: str):
    """Each bad option is one line on stderr naming it, exit 2, nothing on stdout."""
    code, out, err = report("report", *args)
    assert (code, out) == (2, "")
    assert message in err and err.count("\n") == 1 and err.startswith("lifecycle: error:")


def test_out_is_written_whole_or_not_at_all(report: Invoke, tmp_path: Path):
    """--out onto a folder is refused and leaves nothing behind; onto a file it replaces it."""
    folder = tmp_path / "a-folder"
    folder.mkdir()
    code, _, err = report("report", "--out", str(folder))
    assert code == 2 and "is a directory" in err and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == [folder]
    target = tmp_path / "r.md"
    target.write_text("old", encoding="utf-8")
    assert report("report", "--format", "md", "--out", str(target))[0] == 0
    assert target.read_text(encoding="utf-8").startswith("# Track record")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-folder", "r.md"]


def test_playbook_filter_keeps_only_those(report: Invoke):
    """--playbook au keeps no engagement of this workspace (all run core); core keeps all."""
    data = json.loads(report("report", "--format", "json", "--playbook", "au")[1])
    assert (data["engagements"], data["files"], data["playbooks"]) == ([], [], ["au"])
    data = json.loads(report("report", "--format", "json", "--playbook", "core")[1])
    assert data["totals"]["engagements"] == 4


def test_an_unreadable_history_is_named_not_counted(
    report: Invoke, generated: dict[str, Any], tmp_path: Path
):
    """A damaged history is listed as unreadable with a warning on stderr; the rest is counted."""
    workspace = tmp_path / "ws"
    shutil.copytree(generated["engine"].workspace.root, workspace)
    history = workspace / "beta.history.jsonl"
    history.write_bytes(history.read_bytes().replace(b"Beta dialogue", b"Beta dialogu3"))
    code, out, err = report("report", "--format", "json", workspace=workspace)
    data = json.loads(out)
    assert code == 0 and err.startswith("warning: beta: not in the report:")
    assert [u["engagement"] for u in data["unreadable"]] == ["beta"]
    assert data["totals"]["engagements"] == 3 and data["totals"]["withdrawn"] == 0


def test_report_of_a_missing_workspace_is_a_usage_error(report: Invoke, tmp_path: Path):
    """A workspace that does not exist: exit 2, one line naming it."""
    code, out, err = report("report", workspace=tmp_path / "nowhere")
    assert (code, out) == (2, "") and "nowhere" in err and err.count("\n") == 1


def test_demo_writes_a_report_next_to_its_history(tmp_path: Path, capsys, monkeypatch):
    """`lifecycle demo` names the report it wrote beside the history; its checkpoint verifies."""
    monkeypatch.setenv("LIFECYCLE_LOAD_PLUGINS", "")
    assert run(["demo", "--workspace", str(tmp_path / "demo")]) == 0
    out = capsys.readouterr().out
    path = tmp_path / "demo" / "amani-2026.report.html"
    assert f"Report: {path}" in out and path.is_file()
    assert "<svg" in path.read_text(encoding="utf-8")
    code = run(["audit", str(tmp_path / "demo"), "--against", str(path)])
    assert code == 0, capsys.readouterr().out
