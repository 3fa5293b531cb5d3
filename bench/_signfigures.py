"""Benchmarks for signed histories (#12): a signed append vs an unsigned one, and the audit of a
signed history (main audit + signature pass) vs its floor, json.loads + sha256 + one Ed25519
verification per line with the same library, on the same bytes."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import statistics
import time
from pathlib import Path

from _figures import Figure, Result, Sizes, _median, _result


def _office(root: Path):
    """A workspace with a keyring holding one officer; returns the officer's key."""
    from lifecycle._keyring import change_keyring, init_keyring
    from lifecycle._keys import generate
    from lifecycle._lines import format_at

    root.mkdir(parents=True, exist_ok=True)
    # Before the benchmark histories begin (they lie in the past, see _gen.write_history).
    now = format_at(dt.datetime.now(dt.UTC) - dt.timedelta(days=60))
    owner, officer = generate("root"), generate("a.mensah")
    init_keyring(root / "keyring.jsonl", owner, now)
    entry = {"name": "a.mensah", "key": officer.public.line, "roles": ["officer"]}
    change_keyring(root / "keyring.jsonl", owner, "actor_added", entry, now)
    return officer


def signed_append(work: Path, sizes: Sizes) -> Result:
    """`note` through the engine, file store, signed (keyring, key) vs unsigned, interleaved."""
    from lifecycle import Engine, make_plugin_manager

    plugins = make_plugin_manager(load_entrypoints=False, environ={})
    key = _office(work / "signed-ws")
    (work / "plain-ws").mkdir(exist_ok=True)
    signed = Engine(work / "signed-ws", plugins=plugins, key=key)
    plain = Engine(work / "plain-ws", plugins=plugins)
    for engine in (signed, plain):
        engine.open("a", "core", actor="a.mensah")
    times: dict[str, list[float]] = {"signed": [], "plain": []}
    for _ in range(sizes.appends):
        for name, engine in (("signed", signed), ("plain", plain)):
            started = time.perf_counter()
            engine.note("a", "Call with the parties.", actor="a.mensah")
            times[name].append(time.perf_counter() - started)
    ours, floor = statistics.median(times["signed"]), statistics.median(times["plain"])
    ratio = ours / floor
    return _result(f"p50 {ours * 1e3:.3f} ms", f"p50 {floor * 1e3:.3f} ms", ratio, ratio <= 1.3)


def _signed_history(work: Path, events: int):
    """A signed history of *events* events (the engine's codec and signer), and its keyring."""
    from _gen import base_records, write_history

    from lifecycle._keyring import read_keyring
    from lifecycle._lines import decode_line, encode_line
    from lifecycle._signing import sign_event

    root = work / "signed-audit"
    key = _office(root)
    plain = root / "plain.jsonl"
    write_history(plain, events, base_records())
    path = root / "sa.history.jsonl"
    with open(plain, "rb") as source, open(path, "wb") as out:
        header, head = decode_line(source.readline().rstrip(b"\n"))
        header["engagement"] = "sa"
        line = encode_line(header)
        out.write(line)
        head = decode_line(line[:-1])[1]
        for raw in source:
            record, _ = decode_line(raw.rstrip(b"\n"))
            record["actor"], record["prev"] = "a.mensah", head
            if record["type"] == "opened":
                record["data"]["engagement"] = "sa"
            line = encode_line(sign_event(key, "sa", record))
            out.write(line)
            head = decode_line(line[:-1])[1]
    plain.unlink()
    return path, read_keyring(root / "keyring.jsonl"), key.public.key


def signed_audit(work: Path, sizes: Sizes) -> Result:
    """Audit + signature pass of a signed history vs json.loads + sha256 + one verify per line."""
    from lifecycle import audit_file, make_plugin_manager
    from lifecycle._keyaudit import audit_signatures
    from lifecycle._signing import cut_event_signature, event_message

    path, keyring, public = _signed_history(work, sizes.audit_events)
    kinds = make_plugin_manager(load_entrypoints=False, environ={}).rule_kinds()

    def ours() -> float:
        started = time.perf_counter()
        report = audit_file(path, kinds=kinds, today=dt.date.today())
        found = audit_signatures(path, keyring)
        elapsed = time.perf_counter() - started
        if not report.ok or found:
            raise RuntimeError(f"signed history does not audit clean: {found[:3]}")
        return elapsed

    # The floor verifies the same messages with the same library; cutting them out of the lines
    # is done before the clock starts, so the floor is only parse + hash + verify.
    work_items = []
    with open(path, "rb") as handle:
        handle.readline()
        for line in handle:
            body, (_, signature) = cut_event_signature(line.rstrip(b"\n")[:-75] + b"}")
            work_items.append((line, signature, event_message("sa", body)))

    def floor() -> float:
        started = time.perf_counter()
        for line, signature, message in work_items:
            json.loads(line)
            hashlib.sha256(line).digest()
            public.verify(signature, message)
        return time.perf_counter() - started

    t_ours, t_floor = _median(ours, sizes.repeats), _median(floor, sizes.repeats)
    ratio = t_ours / t_floor
    n = sizes.audit_events
    return _result(f"{n / t_ours:,.0f} events/s", f"{n / t_floor:,.0f} events/s", ratio, ratio <= 2)


SIGN_FIGURES = (
    Figure("sign-append", "signed `note` vs unsigned, file store, p50", "<= 1.3x", signed_append),
    Figure(
        "sign-audit",
        "audit of a signed history, with the keyring",
        "<= 2x the floor's time",
        signed_audit,
    ),
)
