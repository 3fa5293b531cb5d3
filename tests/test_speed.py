"""No cost that grows where it should not (#14): logs copied in O(1), an index of what rules ask,
one playbook per distinct embedded data, snapshots every eighth of the history, lean imports."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import click
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lifecycle import Engine, hookimpl, make_plugin_manager
from lifecycle._embedded import embedded_playbook, plain_playbook, playbook_sha256
from lifecycle._log import Log
from lifecycle._playbooks import load_playbook, playbook_digest, shipped_playbooks_dir
from lifecycle._snapshot import snapshot_path
from lifecycle._state import ActivityRecord, Engagement, Entry, Fired
from lifecycle._statecache import copy_engagement

from conftest import drive_core

DAY = dt.date(2026, 1, 1)


def _fresh(workspace: Path) -> Engine:
    return Engine(workspace, plugins=make_plugin_manager(load_entrypoints=False, environ={}))


# ---------------------------------------------------------------- logs

# An operation on one of the logs: append a value to log i, copy log i, or spill log i.
_OPS = st.lists(
    st.tuples(st.sampled_from(["append", "copy", "limit"]), st.integers(0, 7), st.integers(0, 99)),
    max_size=120,
)


@settings(max_examples=150, deadline=None)
@given(_OPS)
def test_log_copies_behave_as_independent_lists(ops: list[tuple[str, int, int]]):
    """Whatever is appended to which copy, and whatever spills, each log reads as its own list."""
    logs: list[Log[int]] = [Log()]
    models: list[list[int]] = [[]]
    for op, which, value in ops:
        i = which % len(logs)
        if op == "append":
            logs[i].append(value)
            models[i].append(value)
        elif op == "copy":
            logs.append(logs[i].copy())
            models.append(list(models[i]))
        else:
            logs[i].limit_memory(2 + value % 6)
    for log, model in zip(logs, models, strict=True):
        assert list(log) == model and len(log) == len(model)
        assert list(reversed(log)) == model[::-1]
        assert log == model and log[1:] == model[1:] and log[2:5] == model[2:5]
        assert [log[j] for j in range(-len(model), len(model))] == model + model
        if model:
            assert log.tail(len(model) // 2) == model[len(model) // 2 :]


def test_a_spilled_log_keeps_its_items_out_of_memory():
    """Past its limit a log keeps at most that many items in memory, and reads all back."""
    log: Log[int] = Log()
    log.limit_memory(10)
    for value in range(1000):
        log.append(value)
    assert len(log._items) <= 10
    assert list(log) == list(range(1000)) and log[3] == 3 and log[-1] == 999


def test_copy_of_an_engagement_shares_its_logs_and_keeps_them_its_own(engine: Engine):
    """A copy shares the logs' items (no per-event copying) and later appends stay apart."""
    drive_core(engine, until="end-support")
    original = engine.engagement("eng-1")
    copy = copy_engagement(original)
    assert copy.entries._items is original.entries._items  # shared, not copied
    before = list(original.entries)
    copy.entries.append(Entry("closed", 999, DAY))
    assert list(original.entries) == before and len(copy.entries) == len(before) + 1


def test_a_result_does_not_change_when_later_commands_run(engine: Engine):
    """The engagement of a command's result stays as it was after the next commands."""
    drive_core(engine, until="end-support")
    result = engine.record("eng-1", "peer-coaching", actor="officer")
    count = len(result.engagement.activities)
    engine.record("eng-1", "peer-coaching", actor="officer")
    engine.note("eng-1", "after", actor="officer")
    assert len(result.engagement.activities) == count
    assert engine.engagement("eng-1").activity_count("peer-coaching") == count + 1


# ---------------------------------------------------------------- the index


def _scan_came_from(eng: Engagement) -> str | None:
    return next((e.stage for e in reversed(list(eng.entries)) if e.stage != eng.stage), None)


def _scan_count(eng: Engagement, activity: str, since: str | None) -> int:
    after = 0
    if since is not None:
        entries = [e for e in eng.entries if e.stage == since]
        if not entries:
            return 0
        after = entries[-1].seq
    return sum(1 for a in eng.activities if a.activity == activity and a.seq > after)


_STEPS = st.lists(
    st.tuples(st.sampled_from(["enter", "activity", "fire"]), st.sampled_from("abc")),
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(_STEPS, st.integers(0, 60))
def test_the_index_answers_as_a_scan_of_the_logs(steps: list[tuple[str, str]], ask_at: int):
    """visited, last_entry, came_from, last_occurrence and activity_count equal a scan, asked
    midway (the index catches up) and after a copy."""
    pb = load_playbook(shipped_playbooks_dir() / "core.toml")
    eng = Engagement("e", "", pb, "", "a", DAY, entries=[Entry("a", 1, DAY)])
    for seq, (kind, name) in enumerate(steps, start=2):
        on = DAY + dt.timedelta(days=seq % 7)
        if kind == "enter":
            eng.entries.append(Entry(name, seq, on))
            eng.stage = name
        elif kind == "activity":
            eng.activities.append(ActivityRecord(f"act-{name}", on, seq, eng.stage))
        else:
            eng.fired.append(Fired(f"go-{name}", on, seq, eng.stage, eng.stage))
        if seq == ask_at:
            eng.visited("a")  # the index is built here, and must catch up afterwards
    for engagement in (eng, copy_engagement(eng)):
        for name in "abc":
            assert engagement.visited(name) == any(e.stage == name for e in engagement.entries)
            last = [e for e in engagement.entries if e.stage == name]
            assert engagement.last_entry(name) == (last[-1] if last else None)
            for key in (f"act-{name}", f"go-{name}"):
                dates = [a.on for a in engagement.activities if a.activity == key]
                dates += [f.on for f in engagement.fired if f.trigger == key]
                assert engagement.last_occurrence(key) == (max(dates) if dates else None)
            for since in (None, "a", "b", "c"):
                want = _scan_count(engagement, f"act-{name}", since)
                assert engagement.activity_count(f"act-{name}", since) == want
        assert engagement.came_from() == _scan_came_from(engagement)


# ---------------------------------------------------------------- one playbook per digest


def test_engagements_under_one_playbook_share_one_object(engine: Engine, workspace: Path):
    """Two engagements under the same playbook, read by a fresh engine, share one Playbook."""
    engine.open("eng-1", "core", actor="officer")
    engine.open("eng-2", "core", actor="officer")
    fresh = _fresh(workspace)
    assert fresh.engagement("eng-1").playbook is fresh.engagement("eng-2").playbook


@pytest.mark.parametrize("path", sorted(shipped_playbooks_dir().glob("*.toml")), ids=str)
def test_fast_structuring_matches_the_converter(path: Path):
    """Each shipped playbook structures to the same object and digest without cattrs."""
    from lifecycle._convert import structure_playbook, unstructure_playbook

    playbook = load_playbook(path)
    data = unstructure_playbook(playbook)
    assert json.dumps(plain_playbook(playbook), sort_keys=True) == json.dumps(data, sort_keys=True)
    built, digest = embedded_playbook(json.loads(json.dumps(data)), validate=True)
    assert built == structure_playbook(data) == playbook
    assert digest == playbook_digest(playbook) == playbook_sha256(playbook)


def test_data_not_in_canonical_form_goes_to_the_converter():
    """Data with a default left out still structures (through cattrs), with its own digest."""
    playbook = load_playbook(shipped_playbooks_dir() / "core.toml")
    data = plain_playbook(playbook)
    assert data["triggers"][0]["gate"] is True
    del data["triggers"][0]["gate"]  # a default: the same playbook, not the same bytes
    built, digest = embedded_playbook(data, validate=False)
    assert built == playbook and digest == playbook_digest(playbook)


def test_a_wrong_type_is_refused_not_coerced():
    """An embedded playbook whose trigger gate is 1, not true, is invalid (strict, as cattrs)."""
    data = plain_playbook(load_playbook(shipped_playbooks_dir() / "core.toml"))
    data["triggers"][0]["gate"] = 1
    with pytest.raises(ValueError, match="embedded playbook is invalid"):
        embedded_playbook(data, validate=False)


# ---------------------------------------------------------------- snapshots


def test_snapshots_are_written_every_eighth_of_the_history(engine: Engine, workspace: Path):
    """Past 800 events a snapshot is refreshed only once it is an eighth of the history behind."""
    engine.open("eng-1", "core", actor="officer")
    path = engine.workspace.path_of("eng-1")

    def anchor() -> int:
        return int(json.loads(snapshot_path(path).read_bytes())["anchor"][0])

    def upto(events: int) -> None:
        while engine.engagement("eng-1").seq < events:
            engine.note("eng-1", "n", actor="officer")

    upto(1000)
    # Every 100 events up to 800; then once 1/8 behind: 914 - 800 = 114 >= 914 // 8 = 114.
    assert anchor() == 914
    upto(1100)
    assert anchor() == 1044  # 1044 - 914 = 130 >= 1044 // 8 = 130 (at 1043: 129 < 130)


# ---------------------------------------------------------------- the lazy command group


class _Shadow:
    """A plugin that tries to replace the built-in `status` command."""

    @hookimpl
    def register_commands(self, cli):  # type: ignore[no-untyped-def]
        @cli.command("status")
        def status() -> None:
            click.echo("shadow")


def test_a_plugin_cannot_replace_a_built_in_command(cli, monkeypatch: pytest.MonkeyPatch):
    """A plugin adding a command of a built-in name is shown failed; the built-in one runs."""
    import lifecycle.cli as lifecycle_cli

    host = make_plugin_manager(load_entrypoints=False, extra_plugins=[_Shadow()], environ={})
    monkeypatch.setattr(lifecycle_cli, "_PLUGINS", [host])
    code, out, _ = cli("plugins", "--json")
    report = next(p for p in json.loads(out)["plugins"] if p["name"] == "_Shadow")
    assert code == 0 and report["status"] == "failed" and "built in" in report["error"]
    assert "shadow" not in cli("status", "nope")[1]
