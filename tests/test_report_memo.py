"""The reports kept whole (#14, _report/_memo): the same bytes, day, options and code give the
report kept then; anything else, or a kept file that is not one, gives the report made afresh."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

import test_report_cache as shared
from lifecycle._report._cache import contribution_folder
from test_report_cache import FORMATS, Invoke, probed, rewritten, seq_of

# The fixtures of the report cache's tests: the generated workspace, a copy, its clock, `report`.
generated, workspace, clock, report = (
    shared.generated,
    shared.workspace,
    shared.clock,
    shared.report,
)


def kept(workspace: Path) -> list[Path]:
    """The reports kept whole for *workspace*."""
    found = (contribution_folder(workspace) / "reports").glob("*.json")
    return sorted(p for p in found if len(p.stem) == 64)  # named by their key


PROBE = (
    "import sys; from lifecycle.cli import run; code = run(sys.argv[1:]); "
    "print(sorted({'jinja2', 'lifecycle._report._render', 'lifecycle._audit'} & set(sys.modules)),"
    " file=sys.stderr); sys.exit(code)"
)


def test_a_report_asked_again_is_taken_whole_without_rendering(
    workspace: Path, tmp_path: Path
) -> None:
    """In a new process, the second report of unchanged histories imports neither Jinja2 nor
    the renderer nor the audit, and is the first one byte for byte (and `--no-cache`'s)."""
    runs = [
        probed(PROBE, workspace, tmp_path / "cache", *extra) for extra in (["--no-cache"], [], [])
    ]
    seen, pages = [imported for imported, _ in runs], [page for _, page in runs]
    assert seen[1:] == ["['jinja2', 'lifecycle._audit', 'lifecycle._report._render']", "[]"]
    assert pages[0] == pages[1] == pages[2]


def test_each_form_and_period_is_kept_apart(report: Invoke, workspace: Path) -> None:
    """A report in another form or over another period is never the one kept for the first:
    each is its own `--no-cache` report, kept under its own key."""
    asked = [("--format", fmt) for fmt in FORMATS] + [("--from", "2025-03-01")]
    for args in asked * 2:
        out = report(workspace, "report", *args)[1]
        assert out == report(workspace, "report", *args, "--no-cache")[1]
    assert len(kept(workspace)) == len(asked)


def _damaged(path: Path) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    data["report"]["text"] = data["report"]["text"].replace("amani", "forged")
    path.write_text(json.dumps(data), encoding="utf-8")


def _garbage(path: Path) -> None:
    path.write_bytes(b"\x00\xff not a report")


def _retyped(path: Path) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    data["report"]["engagements"] = True
    path.write_text(json.dumps(data), encoding="utf-8")


def _nested(path: Path) -> None:
    path.write_bytes(b"[" * 200_000)  # past what Python's JSON decoder decodes


def _surrogate(path: Path) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    text = "x\ud800y"  # no report is rendered with it, and none can be printed
    data["report"]["text"] = text
    data["sum"] = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    path.write_text(json.dumps(data), encoding="utf-8")


def _folder(path: Path) -> None:
    path.unlink()
    path.mkdir()


def _fifo(path: Path) -> None:
    path.unlink()
    os.mkfifo(path)


@pytest.mark.parametrize(
    "damage", [_damaged, _garbage, _retyped, _nested, _surrogate, _folder, _fifo]
)
def test_a_damaged_kept_report_is_ignored(report: Invoke, workspace: Path, damage: object) -> None:
    """A kept report edited behind its digest, no JSON, of the wrong types, nested too deep,
    holding a lone surrogate, or a folder or FIFO in its place is ignored without a word: the
    report is made afresh (and never hangs)."""
    fresh = report(workspace, "report", "--no-cache")[1]
    report(workspace, "report")
    [path] = kept(workspace)
    damage(path)  # type: ignore[operator]
    assert report(workspace, "report") == (0, fresh, "")


def test_a_kept_report_of_another_key_is_ignored(report: Invoke, workspace: Path) -> None:
    """The kept report of one period, put in the place of another's, names its own key: it is
    ignored, and the other period's report is made afresh."""
    report(workspace, "report")
    [whole] = kept(workspace)
    report(workspace, "report", "--from", "2025-03-01")
    [other] = [p for p in kept(workspace) if p != whole]
    other.write_bytes(whole.read_bytes())
    out = report(workspace, "report", "--from", "2025-03-01")[1]
    assert out == report(workspace, "report", "--from", "2025-03-01", "--no-cache")[1]


def test_a_report_with_a_history_that_fails_its_audit_is_never_kept(
    report: Invoke, workspace: Path
) -> None:
    """While a history does not audit clean, no report is kept whole: every report made says
    so again on standard error, and each is the `--no-cache` one."""
    history = workspace / "amani.history.jsonl"
    seq = seq_of(history, "item_checked", item="media-mapping")
    rewritten(history, seq, lambda r: r["data"].update(item="media-mappinX"))
    fresh = report(workspace, "report", "--no-cache")
    for _ in range(2):
        code, out, err = report(workspace, "report")
        assert err.startswith("warning: amani: not in the report: it does not audit clean")
        assert (code, out, err) == fresh
    assert kept(workspace) == []


def test_a_report_with_a_history_that_cannot_be_read_is_never_kept(
    report: Invoke, workspace: Path
) -> None:
    """A FIFO where a history should be is named on standard error by every report, none of
    which is kept whole or hangs."""
    os.mkfifo(workspace / "zeta.history.jsonl")
    for _ in range(2):
        code, _, err = report(workspace, "report")
        assert code == 0 and err.startswith("warning: zeta: not in the report:")
    assert kept(workspace) == []


def test_only_the_newest_reports_are_kept_and_nothing_else_is_removed(
    report: Invoke, workspace: Path
) -> None:
    """Past eight kept reports the oldest go, and only files named as kept reports: another
    file in the folder stays, and a `reports` folder that is a symlink is never written or
    pruned (its target's files stay as they were)."""
    folder = contribution_folder(workspace) / "reports"
    folder.mkdir(parents=True)
    (folder / "notes.json").write_text("{}", encoding="utf-8")
    for day in range(1, 11):
        report(workspace, "report", "--from", f"2025-03-{day:02d}")
    assert len(kept(workspace)) == 8 and (folder / "notes.json").exists()
    victim = workspace.parent / "victim"
    victim.mkdir()
    for n in range(10):
        (victim / f"settings{n}.json").write_text("{}", encoding="utf-8")
    shutil.rmtree(folder)
    folder.symlink_to(victim)
    for day in range(1, 11):
        out = report(workspace, "report", "--from", f"2025-04-{day:02d}")[1]
        assert out == report(workspace, "report", "--from", f"2025-04-{day:02d}", "--no-cache")[1]
    assert sorted(p.name for p in victim.iterdir()) == [f"settings{n}.json" for n in range(10)]


def test_a_cache_used_for_two_reports_serves_each_its_own_bytes(
    workspace: Path, clock: shared.Clock
) -> None:
    """One ReportCache that has decoded the entries of a report, asked (a history appended)
    for another: the second is the report of the histories as they now are, never the old
    entry's figures under the new bytes' key, and neither is what is kept for them."""
    from lifecycle import Engine, make_plugin_manager
    from lifecycle._report import ReportCache, report_text

    engine = Engine(
        workspace, plugins=make_plugin_manager(load_entrypoints=False, environ={}), clock=clock
    )
    versions = ["lifecycle=test"]
    report_text(engine, "json", cache=ReportCache.of(engine.store, versions))  # the entries
    cache = ReportCache.of(engine.store, versions)
    report_text(engine, "md", cache=cache)  # another form: the entries decoded, not a memo
    engine.note("gamma", "Talks resumed after the rains", actor="officer")
    second = report_text(engine, "json", cache=cache)[0].text
    fresh = report_text(engine, "json")[0].text
    assert second == fresh
    [gamma] = [f for f in json.loads(second)["files"] if f["engagement"] == "gamma"]
    assert gamma["events"] == engine.engagement("gamma").seq
    again = ReportCache.of(engine.store, versions)  # the report kept for the new bytes
    assert report_text(engine, "json", cache=again)[0].text == fresh


def test_a_history_added_or_removed_is_another_report(
    report: Invoke, workspace: Path, clock: shared.Clock
) -> None:
    """A history opened, or one removed, since the report was kept makes another key: each
    report after it is the `--no-cache` one, with or without `--playbook`."""
    from lifecycle import Engine, make_plugin_manager

    asked = [(), ("--playbook", "core")]
    for args in asked:  # kept whole, as the same reports of the same histories would be taken
        report(workspace, "report", "--format", "json", *args)
    engine = Engine(
        workspace, plugins=make_plugin_manager(load_entrypoints=False, environ={}), clock=clock
    )
    engine.open("delta", "core", actor="officer", title="Delta talks")
    for args in asked:
        out = report(workspace, "report", "--format", "json", *args)[1]
        assert "delta" in [r["engagement"] for r in json.loads(out)["engagements"]]
        assert out == report(workspace, "report", "--format", "json", *args, "--no-cache")[1]
    (workspace / "beta.history.jsonl").unlink()
    for args in asked:
        out = report(workspace, "report", "--format", "json", *args)[1]
        assert "beta" not in [r["engagement"] for r in json.loads(out)["engagements"]]
        assert out == report(workspace, "report", "--format", "json", *args, "--no-cache")[1]
