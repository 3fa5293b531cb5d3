"""Library users who decide on a state read earlier pass `expected_seq`; a moved head is a conflict."""

from __future__ import annotations

import pytest

from lifecycle.exceptions import ConcurrencyConflict

from conftest import drive_core


class TestExpectedSeq:
    def test_matching_seq_appends(self, engine):
        """With the head's seq, the command goes through as usual."""
        drive_core(engine, until="appoint")
        seq = engine.engagement("eng-1").seq
        result = engine.note("eng-1", "Agreed with the desk.", actor="officer", expected_seq=seq)
        assert result.event["seq"] == seq + 1

    @pytest.mark.parametrize("command", ["note", "advance", "set_facts", "check", "force"])
    def test_stale_seq_is_a_conflict_and_writes_nothing(self, engine, command):
        """When another event came first, the command raises ConcurrencyConflict and appends nothing."""
        drive_core(engine, until="appoint")
        stale = engine.engagement("eng-1").seq
        engine.note("eng-1", "Another officer's note.", actor="officer")
        size = engine.workspace.path_of("eng-1").stat().st_size
        calls = {
            "note": lambda: engine.note("eng-1", "Mine.", actor="officer", expected_seq=stale),
            "advance": lambda: engine.advance(
                "eng-1", "suspend", actor="officer", expected_seq=stale
            ),
            "set_facts": lambda: engine.set_facts(
                "eng-1", ["envoy=Amb. Y"], actor="officer", expected_seq=stale
            ),
            "check": lambda: engine.check(
                "eng-1", "candidate-profile", actor="officer", expected_seq=stale
            ),
            "force": lambda: engine.force(
                "eng-1",
                "closed",
                actor="head",
                reason="Closing as agreed with the parties",
                expected_seq=stale,
            ),
        }
        with pytest.raises(ConcurrencyConflict) as caught:
            calls[command]()
        assert (caught.value.expected, caught.value.actual) == (stale, stale + 1)
        assert engine.workspace.path_of("eng-1").stat().st_size == size
