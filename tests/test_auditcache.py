"""The audit cache: same bytes and code give the same verdict; anything else is audited afresh."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from lifecycle._auditcache import AuditCache, audit_cached

from conftest import drive_core


def _cache(tmp_path: Path, *versions: str) -> AuditCache:
    return AuditCache(tmp_path / "cache", versions or ("lifecycle=test",))


class TestAuditCache:
    def test_second_audit_comes_from_the_cache(self, engine, tmp_path):
        """A re-audit of unchanged bytes returns the stored verdict without replaying."""
        drive_core(engine, until="end-support")
        path = engine.workspace.path_of("eng-1")
        cache = _cache(tmp_path)
        first = audit_cached(
            path, kinds=engine.rule_kinds, today=engine.today(), against={}, cache=cache
        )
        entries = list((tmp_path / "cache" / "audit").rglob("*.json"))
        assert first.ok and len(entries) == 1
        # Poison the stored entry: if the second audit reads it, the poison shows.
        data = json.loads(entries[0].read_text())
        data["stage"] = "from-the-cache"
        entries[0].write_text(json.dumps(data))
        second = audit_cached(
            path, kinds=engine.rule_kinds, today=engine.today(), against={}, cache=cache
        )
        assert second.stage == "from-the-cache"
        assert (second.events, second.head, second.ok) == (first.events, first.head, first.ok)

    def test_changed_bytes_are_audited_afresh(self, engine, tmp_path):
        """Appending an event (or tampering) changes the key, so the cache is not used."""
        drive_core(engine, until="end-support")
        path = engine.workspace.path_of("eng-1")
        cache = _cache(tmp_path)
        first = audit_cached(
            path, kinds=engine.rule_kinds, today=engine.today(), against={}, cache=cache
        )
        engine.note("eng-1", "One more call with the parties.", actor="officer")
        second = audit_cached(
            path, kinds=engine.rule_kinds, today=engine.today(), against={}, cache=cache
        )
        assert second.events == first.events + 1
        raw = bytearray(path.read_bytes())
        raw[-20] ^= 1
        path.write_bytes(bytes(raw))
        third = audit_cached(
            path, kinds=engine.rule_kinds, today=engine.today(), against={}, cache=cache
        )
        assert not third.ok

    def test_other_code_versions_miss(self, engine, tmp_path):
        """A different lifecycle or plugin version does not reuse the entry."""
        drive_core(engine, until="end-support")
        path = engine.workspace.path_of("eng-1")
        assert _cache(tmp_path, "a=1").key(path) != _cache(tmp_path, "a=2").key(path)

    def test_overdue_is_recomputed_for_today(self, engine, tmp_path):
        """A cached report's `overdue` warnings follow the day of the re-audit, not the first one."""
        drive_core(engine, until="end-support")
        path = engine.workspace.path_of("eng-1")
        cache = _cache(tmp_path)
        today = engine.today()
        fresh = audit_cached(path, kinds=engine.rule_kinds, today=today, against={}, cache=cache)
        assert not any(f.code == "overdue" for f in fresh.findings)
        later = today + dt.timedelta(days=400)
        cached = audit_cached(path, kinds=engine.rule_kinds, today=later, against={}, cache=cache)
        overdue = [f.message for f in cached.findings if f.code == "overdue"]
        assert any("reflection-retreat" in m for m in overdue)

    def test_cli_no_cache_and_env_folder(self, engine, cli, tmp_path, monkeypatch):
        """`audit` fills LIFECYCLE_CACHE_DIR, and `--no-cache` writes nothing there."""
        drive_core(engine, until="end-support")
        folder = tmp_path / "cli-cache"
        monkeypatch.setenv("LIFECYCLE_CACHE_DIR", str(folder))
        code, _, _ = cli("audit", "--no-cache", str(engine.workspace.root))
        assert code == 0 and not folder.exists()
        code, out, _ = cli("audit", str(engine.workspace.root))
        again, out2, _ = cli("audit", str(engine.workspace.root))
        assert code == again == 0 and out == out2
        assert len(list(folder.rglob("*.json"))) == 1
