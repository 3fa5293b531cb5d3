"""The report's caches (#15): a warm report is the cold one, and nothing it has not checked counts."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import lifecycle.cli as lifecycle_cli
from lifecycle import Engine, make_plugin_manager
from lifecycle._lines import decode_line, encode_line
from lifecycle._report._cache import contribution_folder
from lifecycle.cli import run
from report_workspace import ROLES, Clock, day, make_workspace

Invoke = Callable[..., tuple[int, str, str]]
FORMATS = ("html", "md", "json")


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The generated workspace, made once; each test reports on its own copy."""
    return Path(make_workspace(tmp_path_factory.mktemp("cache") / "ws")["engine"].workspace.root)


@pytest.fixture
def workspace(generated: Path, tmp_path: Path) -> Path:
    """A copy of the generated workspace, with no report cache yet."""
    folder = tmp_path / "ws"
    shutil.copytree(generated, folder)
    shutil.rmtree(contribution_folder(folder), ignore_errors=True)
    return folder


@pytest.fixture
def clock() -> Clock:
    """The generated workspace's last day (day 540)."""
    moved = Clock()
    moved.to(day(540))
    return moved


@pytest.fixture
def report(
    clock: Clock, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Invoke:
    """Run `lifecycle --workspace WS ARGS` at *clock*; (code, stdout, stderr)."""
    monkeypatch.setenv("LIFECYCLE_LOAD_PLUGINS", "")
    monkeypatch.setenv("LIFECYCLE_ACTOR", "officer")

    def invoke(workspace: Path, *args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = run(["--workspace", str(workspace), *args], clock=clock)
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


def entry_file(workspace: Path) -> Path:
    """The report cache's one entry file of *workspace* (under the tests' code versions)."""
    [path] = contribution_folder(workspace).glob("entries-*.jsonl")
    return path


def entries(workspace: Path) -> dict[str, bytes]:
    """The report cache's entry lines, by engagement (none when no file is kept)."""
    if not list(contribution_folder(workspace).glob("entries-*.jsonl")):
        return {}
    lines = entry_file(workspace).read_bytes().splitlines(keepends=True)
    return {json.loads(line.partition(b"\t")[0])["engagement"]: line for line in lines}


def forget_reports(workspace: Path) -> None:
    """Remove the reports kept whole (_memo), so that the next report reads its entries."""
    shutil.rmtree(contribution_folder(workspace) / "reports", ignore_errors=True)


def replace_entry(workspace: Path, engagement: str, line: bytes) -> None:
    """Put *line* in place of *engagement*'s entry line, the other lines left as they are."""
    kept = entries(workspace)
    kept[engagement] = line
    entry_file(workspace).write_bytes(b"".join(kept.values()))


def parts(line: bytes) -> tuple[dict[str, Any], bytes]:
    """An entry line's first part (engagement, key, digest) and its entry, as bytes."""
    meta, _, body = line.rstrip(b"\n").partition(b"\t")
    return json.loads(meta), body


def sealed(meta: dict[str, Any], entry: dict[str, Any]) -> bytes:
    """An entry line of *entry* under *meta*, its digest made to match."""
    body = json.dumps(entry).encode()
    meta = {**meta, "sum": hashlib.sha256(body).hexdigest()}
    return json.dumps(meta).encode() + b"\t" + body + b"\n"


def rewritten(path: Path, seq: int, edit: Callable[[dict[str, Any]], None]) -> None:
    """Rewrite event *seq* of *path* with *edit*, re-chain every later line, keep the mtime."""
    lines = path.read_bytes().splitlines(keepends=True)
    stat = path.stat()
    _, prev = decode_line(lines[seq - 1].rstrip(b"\n"))
    for index in range(seq, len(lines)):
        record, _ = decode_line(lines[index].rstrip(b"\n"))
        if index == seq:
            edit(record)
        record["prev"] = prev
        lines[index] = encode_line(record)
        _, prev = decode_line(lines[index][:-1])
    path.write_bytes(b"".join(lines))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_size == stat.st_size


def seq_of(path: Path, kind: str, **data: Any) -> int:
    """The seq of the first *kind* event of *path* whose data holds *data*."""
    for line in path.read_bytes().splitlines()[1:]:
        record, _ = decode_line(line)
        if record["type"] == kind and data.items() <= record["data"].items():
            return int(record["seq"])
    raise AssertionError(f"no {kind} {data} in {path}")


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_warm_report_equals_a_cold_one_byte_for_byte(
    report: Invoke, workspace: Path, fmt: str
) -> None:
    """The report computed afresh, the one that fills the caches and the one served from them
    are the same bytes, in each form, on the same day."""
    code, fresh, err = report(workspace, "report", "--format", fmt, "--no-cache")
    assert code == 0 and err == "" and entries(workspace) == {}
    cold = report(workspace, "report", "--format", fmt)[1]
    assert sorted(entries(workspace)) == ["amani", "beta", "gamma", "later"]
    warm = report(workspace, "report", "--format", fmt)[1]
    assert fresh == cold == warm


def test_an_entry_holds_the_key_of_the_bytes_and_the_digest_of_its_body(
    report: Invoke, workspace: Path
) -> None:
    """Each entry line names the SHA-256 of its entry, which holds the verdict and the
    contribution, both naming the history's event count and head."""
    report(workspace, "report", "--format", "json")
    data = json.loads(report(workspace, "report", "--format", "json")[1])
    heads = {f["engagement"]: (f["events"], f["head"]) for f in data["files"]}
    for engagement, line in entries(workspace).items():
        meta, body = parts(line)
        kept = json.loads(body)
        assert meta["sum"] == hashlib.sha256(body).hexdigest() and len(meta["key"]) == 64
        for part in (kept["audit"], kept["contribution"]):
            assert (part["events"], part["head"]) == heads[engagement]


def test_a_history_rewritten_behind_the_cache_is_counted_as_it_now_is(
    report: Invoke, workspace: Path
) -> None:
    """A same-size, re-chained rewrite that audits clean (a title changed, mtime kept) is
    audited and counted afresh: the new title and head, never the cached ones."""
    report(workspace, "report", "--format", "json")
    history = workspace / "beta.history.jsonl"
    rewritten(history, 1, lambda r: r["data"].update(title="Beta Dialogue"))
    code, out, err = report(workspace, "report", "--format", "json")
    data = json.loads(out)
    assert code == 0 and err == "" and data["failed_audit"] == []
    [row] = [r for r in data["engagements"] if r["engagement"] == "beta"]
    assert row["title"] == "Beta Dialogue"
    [checkpoint] = [f for f in data["files"] if f["engagement"] == "beta"]
    _, head = decode_line(history.read_bytes().splitlines()[-1])
    assert checkpoint["head"] == head
    assert out == report(workspace, "report", "--format", "json", "--no-cache")[1]


def test_a_history_rewritten_behind_the_cache_to_fail_its_audit_is_left_out(
    report: Invoke, workspace: Path
) -> None:
    """A same-size, re-chained rewrite that the audit catches (an advance without the item its
    gate requires: the checked item renamed) is re-audited, not served from either cache: left
    out under `failed_audit`, with its checkpoint gone from the appendix."""
    report(workspace, "report", "--format", "json")
    assert report(workspace, "report", "--format", "json")[2] == ""
    history = workspace / "amani.history.jsonl"
    seq = seq_of(history, "item_checked", item="media-mapping")
    rewritten(history, seq, lambda r: r["data"].update(item="media-mappinX"))
    code, out, err = report(workspace, "report", "--format", "json")
    data = json.loads(out)
    assert code == 0 and err.startswith("warning: amani: not in the report: it does not audit")
    assert [f["engagement"] for f in data["failed_audit"]] == ["amani"]
    assert "amani" not in [f["engagement"] for f in data["files"]]
    assert "amani" not in [r["engagement"] for r in data["engagements"]]
    assert out == report(workspace, "report", "--format", "json", "--no-cache")[1]


def _truncated(kept: dict[str, bytes]) -> bytes:
    return kept["amani"][:-40] + b"\n"


def _body_edited(kept: dict[str, bytes]) -> bytes:
    """The contribution's event count made N+1, the digest left as it was."""
    meta, body = parts(kept["amani"])
    entry = json.loads(body)
    entry["contribution"]["events"] += 1
    return json.dumps(meta).encode() + b"\t" + json.dumps(entry).encode() + b"\n"


def _retyped(kept: dict[str, bytes]) -> bytes:
    """An entry whose digest matches but whose spans are not lists of six."""
    meta, body = parts(kept["amani"])
    entry = json.loads(body)
    entry["contribution"]["spans"] = [["x"]]
    return sealed(meta, entry)


def _foreign(kept: dict[str, bytes]) -> bytes:
    """Another history's entry under this one's name and key, its digest made to match."""
    return sealed(parts(kept["amani"])[0], json.loads(parts(kept["gamma"])[1]))


def _garbage(kept: dict[str, bytes]) -> bytes:
    return b"\x00\xff not json at all\n"


def _nested(kept: dict[str, bytes]) -> bytes:
    meta, _ = parts(kept["amani"])
    return json.dumps(meta).encode() + b"\t" + b"[" * 200_000 + b"\n"  # past Python's decoder


def _nested_meta(kept: dict[str, bytes]) -> bytes:
    return b"[" * 200_000 + b"\t{}\n"


@pytest.mark.parametrize(
    "damage", [_truncated, _body_edited, _retyped, _foreign, _garbage, _nested, _nested_meta]
)
def test_a_damaged_or_foreign_entry_is_ignored_and_rewritten(
    report: Invoke, workspace: Path, damage: Callable[[dict[str, bytes]], bytes]
) -> None:
    """An entry cut short, edited behind its digest, of the wrong types, another history's, no
    JSON at all, or nested deeper than Python decodes is ignored: the report is the one computed
    afresh, and the entry is written again as it should be."""
    fresh = report(workspace, "report", "--no-cache")[1]
    report(workspace, "report")
    kept = entries(workspace)
    replace_entry(workspace, "amani", damage(kept))
    forget_reports(workspace)
    code, out, err = report(workspace, "report")
    assert (code, err) == (0, "") and out == fresh
    assert entries(workspace)["amani"] == kept["amani"]


@pytest.mark.parametrize(
    "damage", ['{"engagement": "amani", "events": 1}', "[" * 200_000], ids=["partial", "nested"]
)
def test_a_damaged_audit_cache_entry_is_ignored(
    report: Invoke, workspace: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, damage: str
) -> None:
    """The verdicts `lifecycle audit` kept, which a report without entries of its own reuses:
    one damaged (partial, or nested deeper than Python decodes) is ignored and the history
    audited afresh, by the report and by `audit` itself."""
    monkeypatch.setenv("LIFECYCLE_CACHE_DIR", str(tmp_path / "audits"))
    fresh = report(workspace, "report", "--format", "json", "--no-cache")[1]
    assert report(workspace, "audit", str(workspace))[0] == 0
    verdicts = sorted((tmp_path / "audits" / "audit").rglob("*.json"))
    assert len(verdicts) == 4
    for path in verdicts:
        path.write_text(damage, encoding="utf-8")
    assert report(workspace, "audit", str(workspace))[0] == 0
    for path in verdicts:  # as damaged again: `audit` wrote its verdicts anew
        path.write_text(damage, encoding="utf-8")
    assert report(workspace, "report", "--format", "json")[1] == fresh
    assert report(workspace, "report", "--format", "json")[1] == fresh  # from its own entries


def test_a_cache_folder_that_cannot_be_written_means_computing_without_it(
    report: Invoke, workspace: Path
) -> None:
    """With the workspace's contribution folder not a folder (nothing can be kept there), the
    report is still the same, and says nothing about the cache."""
    fresh = report(workspace, "report", "--no-cache")[1]
    contribution_folder(workspace).parent.mkdir(parents=True, exist_ok=True)
    contribution_folder(workspace).write_text("in the way\n", encoding="utf-8")
    for _ in range(2):
        code, out, err = report(workspace, "report")
        assert (code, err, out) == (0, "", fresh)


def test_an_appended_history_yields_its_new_checkpoint(
    report: Invoke, workspace: Path, clock: Clock, tmp_path: Path
) -> None:
    """A history appended after a warm report is read anew: the appendix holds its new head,
    and `audit --against` the saved report accepts every history."""
    report(workspace, "report")
    engine = Engine(
        workspace, plugins=make_plugin_manager(load_entrypoints=False, environ={}), clock=clock
    )
    engine.note("gamma", "Talks resumed after the rains", actor="officer")
    out = tmp_path / "report.json"
    report(workspace, "report", "--format", "json", "--out", str(out))
    [gamma] = [f for f in json.loads(out.read_text())["files"] if f["engagement"] == "gamma"]
    assert gamma["events"] == engine.engagement("gamma").seq
    assert gamma["head"] == engine.engagement("gamma").head
    code, stdout, _ = report(workspace, "audit", str(workspace), "--against", str(out))
    assert code == 0 and stdout.count("checkpoint ") == 4


def test_the_next_day_recomputes_what_is_overdue(
    report: Invoke, tmp_path: Path, clock: Clock
) -> None:
    """A cadence due on day D is not overdue in the report of day D (computed, then served from
    the cache), and is overdue in the cached report of day D+1, as computed afresh."""
    folder = tmp_path / "fresh"
    folder.mkdir()
    (folder / "lifecycle.toml").write_text(ROLES, encoding="utf-8")
    clock.to(day(0))
    engine = Engine(
        folder, plugins=make_plugin_manager(load_entrypoints=False, environ={}), clock=clock
    )
    engine.open("delta", "core", actor="officer", title="Delta talks")
    engine.force("delta", "active-support", actor="head", reason="Support already under way")
    due = {i.id: i.due for i in engine.due()[0] if i.engagement == "delta"}
    on = due["peer-coaching"]
    clock.to(on)
    first = report(folder, "report", "--format", "json")[1]
    assert report(folder, "report", "--format", "json")[1] == first
    assert "peer-coaching" not in [i["id"] for i in json.loads(first)["cadences"]["overdue"]]
    clock.to(on + dt.timedelta(days=1))
    for fmt in FORMATS:
        cached = report(folder, "report", "--format", fmt)[1]
        assert cached == report(folder, "report", "--format", fmt, "--no-cache")[1]
    data = json.loads(report(folder, "report", "--format", "json")[1])
    assert "peer-coaching" in [i["id"] for i in data["cadences"]["overdue"]]
    assert data["totals"]["overdue"] == json.loads(first)["totals"]["overdue"] + 1


def test_a_kept_contribution_is_the_computed_one(generated: Path, clock: Clock) -> None:
    """Every contribution of the generated workspace, dumped as an entry's body and loaded
    again (as JSON text), is equal to the one computed, on its day and the next year's."""
    from lifecycle._report._cache import dump, load
    from lifecycle._report._contrib import as_of
    from lifecycle._report._data import gather
    from lifecycle._rules import CORE_RULE_KINDS
    from lifecycle._store import FileStore

    kinds = {kind.name: kind for kind in CORE_RULE_KINDS}
    computed, unreadable, failed = gather(FileStore(generated), clock().date(), kinds)
    assert len(computed) == 4 and unreadable == failed == []
    assert any(c.overdue for c in computed)
    for c in computed:
        again = load(json.loads(json.dumps(dump(c))), c.label)
        assert as_of(again, clock().date()) == c
        later = clock().date() + dt.timedelta(days=365)
        assert as_of(again, later) == as_of(c, later)


def test_another_plugin_set_never_serves_the_entries_of_this_one(
    report: Invoke, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Entries kept with no plugin loaded are served to the next such run (a forged title
    shows), never to a run with a plugin loaded (the true title shows), and neither run evicts
    the other's file."""
    report(workspace, "report", "--format", "json")
    forged = entries(workspace)["beta"]
    meta, body = parts(forged)
    entry = json.loads(body)
    entry["contribution"]["title"] = "Forged in the cache"
    replace_entry(workspace, "beta", sealed(meta, entry))
    forget_reports(workspace)

    def title() -> str:
        data = json.loads(report(workspace, "report", "--format", "json")[1])
        return str(next(r["title"] for r in data["engagements"] if r["engagement"] == "beta"))

    assert title() == "Forged in the cache"
    for plugins, served in (("mandate", False), ("", True)):
        monkeypatch.setenv("LIFECYCLE_LOAD_PLUGINS", plugins)
        monkeypatch.setattr(lifecycle_cli, "_PLUGINS", [])  # loaded anew, as by a new process
        assert (title() == "Forged in the cache") is served
    assert len(list(contribution_folder(workspace).glob("entries-*.jsonl"))) == 2


def test_the_events_of_audited_bytes_are_those_the_strict_reader_returns(
    generated: Path, clock: Clock
) -> None:
    """For each history that audits clean, the events decoded from its audited bytes are
    exactly the records the strict reader verifies and returns; bytes the audit did not find
    clean are refused."""
    from lifecycle._audit import audit_stream
    from lifecycle._history import _verify
    from lifecycle._report._data import audited_records
    from lifecycle._rules import CORE_RULE_KINDS
    from lifecycle.exceptions import CorruptHistoryError

    kinds = {kind.name: kind for kind in CORE_RULE_KINDS}
    for path in sorted(generated.glob("*.history.jsonl")):
        data, engagement = path.read_bytes(), path.name.removesuffix(".history.jsonl")
        audit = audit_stream(str(path), [data], kinds=kinds, today=clock().date())
        assert audit.ok
        strict = _verify(str(path), data, None, engagement)[0]
        assert audited_records(str(path), data, engagement, audit) == strict
        with pytest.raises(CorruptHistoryError):
            audited_records(str(path), data, "another", audit)
        cut = audit_stream(str(path), [data[:-40]], kinds=kinds, today=clock().date())
        with pytest.raises(CorruptHistoryError):
            audited_records(str(path), data[:-40], engagement, cut)


def test_compiled_templates_are_kept_and_a_damaged_one_is_compiled_again(
    report: Invoke, workspace: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`report --no-cache` keeps no compiled template; a report with the cache keeps one per
    form, and one made garbage is ignored (the page is the same) and written again."""
    from lifecycle._report import _render

    monkeypatch.setenv("LIFECYCLE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(_render, "_ENV", {})  # compiled anew, as by a new process
    folder = tmp_path / "cache" / "report" / "templates"
    fresh = {fmt: report(workspace, "report", "--format", fmt, "--no-cache")[1] for fmt in FORMATS}
    assert not folder.exists()
    assert all(report(workspace, "report", "--format", f)[1] == fresh[f] for f in FORMATS)
    compiled = sorted(folder.iterdir())
    assert len(compiled) == 2  # html and md; json needs none
    good = {path: path.read_bytes() for path in compiled}
    for path in compiled:
        path.write_bytes(b"\x00 not a compiled template")
    monkeypatch.setattr(_render, "_ENV", {})
    forget_reports(workspace)  # each form rendered again, not taken whole
    assert all(report(workspace, "report", "--format", f)[1] == fresh[f] for f in FORMATS)
    assert {path: path.read_bytes() for path in compiled} == good


AUDIT_PROBE = (
    "import sys; from lifecycle.cli import run; code = run(sys.argv[1:]); "
    "print(sorted({'lifecycle._audit', 'lifecycle._events'} & set(sys.modules)), "
    "file=sys.stderr); sys.exit(code)"
)


def probed(probe: str, workspace: Path, cache: Path, *args: str) -> tuple[str, str]:
    """Run `lifecycle --workspace WS report ARGS` through *probe* in a new process, with the
    report cache in *cache*: the last line *probe* wrote to standard error, and the page."""
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("LIFECYCLE_")}
    env.update(LIFECYCLE_LOAD_PLUGINS="", LIFECYCLE_CACHE_DIR=str(cache))
    done = subprocess.run(
        [sys.executable, "-c", probe, "--workspace", str(workspace), "report", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stderr.strip().splitlines()[-1], done.stdout


def test_a_warm_report_does_not_import_the_audit_machinery(workspace: Path, tmp_path: Path) -> None:
    """A report whose every history has its entry takes the verdicts from them without
    importing the audit (or the event schema it loads); the cold one before it does import it,
    and both write the same page. (No report is kept whole between them, so the second reads
    its entries.)"""
    seen, pages = [], []
    for _ in range(2):
        imported, page = probed(AUDIT_PROBE, workspace, tmp_path / "cache")
        seen.append(imported)
        pages.append(page)
        forget_reports_in(tmp_path / "cache")
    assert seen == ["['lifecycle._audit', 'lifecycle._events']", "[]"]
    assert pages[0] == pages[1]


def forget_reports_in(cache: Path) -> None:
    """Remove every report kept whole under the cache folder *cache*."""
    for kept in (cache / "report").glob("*/reports"):
        shutil.rmtree(kept)
