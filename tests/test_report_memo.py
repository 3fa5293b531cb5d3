"""The reports kept whole (#14, _report/_memo): the same bytes, day, options and code give the
report kept then; anything else, or a kept file that is not one, gives the report made afresh."""

from __future__ import annotations

import json
import os
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
    return sorted((contribution_folder(workspace) / "reports").glob("*.json"))


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


def _folder(path: Path) -> None:
    path.unlink()
    path.mkdir()


def _fifo(path: Path) -> None:
    path.unlink()
    os.mkfifo(path)


@pytest.mark.parametrize("damage", [_damaged, _garbage, _retyped, _folder, _fifo])
def test_a_damaged_kept_report_is_ignored(report: Invoke, workspace: Path, damage: object) -> None:
    """A kept report edited behind its digest, no JSON, of the wrong types, or a folder or FIFO
    in its place is ignored without a word: the report is made afresh (and never hangs)."""
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
