"""Tamper probes on a 20-event history: every edit is caught by `audit`; truncation only with --against."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from lifecycle import Engine, audit_file
from lifecycle._audit import Checkpoint
from lifecycle._auditcache import AuditCache, audit_cached
from lifecycle._lines import decode_line, encode_line
from lifecycle.exceptions import RefusedError, TornTailError

ENG = "eng-t"
OVERRIDE_REASON = "The council decision is pending but the envoy must start now."
STAGE_ITEMS = [
    (["request-recorded", "entry-point-identified"], "accept-request"),
    (
        ["conflict-analysis-done", "stakeholder-map", "media-mapping", "previous-efforts-reviewed"],
        "complete-analysis",
    ),
]


def build(engine: Engine, eid: str = ENG, events: int = 20) -> Path:
    """Open *eid* under core, move it to selection advice, get one refusal and one override, then
    add notes up to *events* events; return the history file."""
    engine.open(eid, "core", actor="officer", title="Tamper target")
    for items, trigger in STAGE_ITEMS:
        for item in items:
            engine.check(eid, item, actor="officer")
        engine.advance(eid, trigger, actor="officer")
    for item in ["candidate-profile", "women-candidates", "impartiality-check"]:
        engine.check(eid, item, actor="officer")
    engine.set_facts(eid, ["envoy=Amb. X"], actor="officer")
    with pytest.raises(RefusedError):
        engine.advance(eid, "appoint", actor="officer")  # seq 14: refused
    engine.advance(eid, "appoint", actor="head", override=OVERRIDE_REASON)  # seq 15: overridden
    while engine.engagement(eid).seq < events:
        engine.note(eid, f"note after {engine.engagement(eid).seq}", actor="officer")
    return engine.workspace.path_of(eid)


def split(data: bytes) -> list[bytes]:
    """The lines of *data*, each with its newline."""
    return data.splitlines(keepends=True)


def rechain(
    lines: list[bytes], start: int, edit: Callable[[dict], None] | None = None
) -> list[bytes]:
    """Lines with line *start* re-encoded after *edit*, and every later line re-chained (hash and prev)."""
    out = list(lines[:start])
    _, prev = decode_line(lines[start - 1].rstrip(b"\n"))
    for index in range(start, len(lines)):
        record, _ = decode_line(lines[index].rstrip(b"\n"))
        if edit is not None and index == start:
            edit(record)
        record["prev"] = prev
        line = encode_line(record)
        out.append(line)
        _, prev = decode_line(line[:-1])
    return out


class Prober:
    """Writes tampered bytes to a file, audits it, and keeps the count."""

    def __init__(self, folder: Path, engine: Engine) -> None:
        folder.mkdir(exist_ok=True)
        self.path = folder / f"{ENG}.history.jsonl"
        self.engine = engine
        self.run = 0
        self.caught = 0
        self.missed: list[str] = []

    def audit(
        self,
        data: bytes,
        against: dict[str, Checkpoint] | None = None,
        cache: AuditCache | None = None,
    ):
        self.path.write_bytes(data)
        if cache is not None:
            kinds, today = self.engine.rule_kinds, self.engine.today()
            return audit_cached(
                self.path, kinds=kinds, today=today, against=against or {}, cache=cache
            )
        return audit_file(
            self.path, kinds=self.engine.rule_kinds, today=self.engine.today(), against=against
        )

    def probe(
        self,
        name: str,
        data: bytes,
        seqs: set[int],
        *,
        against: dict[str, Checkpoint] | None = None,
        codes: set[str] | None = None,
        cache: AuditCache | None = None,
    ) -> bool:
        """Count one probe; it is caught when an error finding names one of *seqs* (or has one of *codes*)."""
        report = self.audit(data, against, cache)
        errors = [f for f in report.findings if f.severity == "error"]
        hit = any(f.seq in seqs or (codes is not None and f.code in codes) for f in errors)
        self.run += 1
        self.caught += hit
        if not hit:
            self.missed.append(f"{name}: {[(f.code, f.seq) for f in report.findings]}")
        return hit

    def report(self, family: str) -> None:
        print(f"tamper probes ({family}): {self.run} run, {self.caught} caught")
        assert self.run > 0
        assert self.caught == self.run, self.missed[:10]


@pytest.fixture
def target(engine: Engine) -> tuple[Path, bytes]:
    """The 20-event history and its bytes."""
    path = build(engine)
    data = path.read_bytes()
    assert len(split(data)) == 21
    report = audit_file(path, kinds=engine.rule_kinds, today=engine.today())
    assert report.ok and report.findings == [] and report.events == 20
    return path, data


@pytest.fixture
def prober(tmp_path: Path, engine: Engine) -> Prober:
    """A prober writing to its own folder."""
    return Prober(tmp_path / "probe", engine)


def test_every_single_byte_change_is_caught(target, prober: Prober, cli) -> None:
    """Changing any one byte of any line (a one-bit flip) gives an error at that line's seq or the next."""
    _, data = target
    offset = 0
    for seq, line in enumerate(split(data)):
        for i in range(len(line)):
            pos = offset + i
            flipped = bytearray(data)
            flipped[pos] ^= 1 << (pos % 8)
            caught = prober.probe(f"line {seq + 1} byte {i}", bytes(flipped), {seq, seq + 1})
            if i == len(line) // 2 and caught:
                code, out, _ = cli("audit", str(prober.path))
                assert code == 1, out
        offset += len(line)
    assert prober.run == len(data)
    prober.report("single-byte changes")


def test_deleting_each_line_is_caught(target, prober: Prober, cli) -> None:
    """Deleting any line breaks seq or chain; deleting the last is seen only against a checkpoint."""
    _, data = target
    lines = split(data)
    kept = Checkpoint(ENG, 20, decode_line(lines[-1].rstrip(b"\n"))[1])
    for seq in range(len(lines)):
        tampered = b"".join(lines[:seq] + lines[seq + 1 :])
        if seq == len(lines) - 1:
            assert prober.audit(tampered).ok  # a shorter chain is still a valid chain
            assert prober.probe(
                "delete last", tampered, set(), against={ENG: kept}, codes={"truncated"}
            )
        else:
            prober.probe(f"delete line {seq + 1}", tampered, {seq, seq + 1})
        code, _, _ = cli(
            "audit", "--against", str(write_checkpoint(prober.path, kept)), str(prober.path)
        )
        assert code == 1
    prober.report("deleted lines")


def write_checkpoint(history: Path, checkpoint: Checkpoint) -> Path:
    """Save *checkpoint* as audit prints it, beside (not inside) the probe folder."""
    saved = history.parent.parent / "checkpoint.txt"
    saved.write_text(checkpoint.line() + "\n", encoding="utf-8")
    return saved


@pytest.mark.parametrize("family", ["duplicate", "swap"])
def test_duplicating_and_swapping_lines_is_caught(target, prober: Prober, cli, family: str) -> None:
    """Duplicating any line, or swapping any adjacent pair, gives an error at that seq or the next."""
    _, data = target
    lines = split(data)
    count = len(lines) if family == "duplicate" else len(lines) - 1
    for seq in range(count):
        if family == "duplicate":
            tampered = [*lines[: seq + 1], lines[seq], *lines[seq + 1 :]]
        else:
            tampered = [*lines[:seq], lines[seq + 1], lines[seq], *lines[seq + 2 :]]
        prober.probe(f"{family} line {seq + 1}", b"".join(tampered), {seq, seq + 1})
        code, _, _ = cli("audit", str(prober.path))
        assert code == 1
    prober.report(f"{family}d lines" if family == "duplicate" else "swapped pairs")


def test_lines_spliced_from_another_engagement_are_caught(
    target, prober: Prober, engine: Engine, cli
) -> None:
    """A line from another engagement, replacing a line or inserted after it, breaks the chain there."""
    _, data = target
    lines = split(data)
    other = split(build(engine, "eng-other").read_bytes())
    for seq in range(1, len(lines)):
        replaced = [*lines[:seq], other[seq], *lines[seq + 1 :]]
        prober.probe(f"replace {seq}", b"".join(replaced), {seq, seq + 1})
        assert cli("audit", str(prober.path))[0] == 1
        inserted = [*lines[: seq + 1], other[seq], *lines[seq + 1 :]]
        prober.probe(f"insert after {seq}", b"".join(inserted), {seq + 1, seq + 2})
        assert cli("audit", str(prober.path))[0] == 1
    prober.report("spliced from another engagement")


def edit_raw(line: bytes, key: str, record: dict) -> bytes:
    """*line* with the value of member *key* changed in place, hash left as it was."""
    value = record[key]
    old = f'"{key}":{json.dumps(value)}'.encode()
    new_value = value + 100 if isinstance(value, int) else value[::-1]
    assert line.count(old) == 1
    return line.replace(old, f'"{key}":{json.dumps(new_value)}'.encode())


def test_editing_seq_prev_or_hash_alone_is_caught(target, prober: Prober, cli) -> None:
    """Editing seq, prev or hash alone (raw, or with the line's own hash recomputed) is caught."""
    _, data = target
    lines = split(data)
    for seq in range(1, len(lines)):
        record, digest = decode_line(lines[seq].rstrip(b"\n"))
        record["hash"] = digest
        probes = {
            f"raw {key}": edit_raw(lines[seq], key, record) for key in ("seq", "prev", "hash")
        }
        del record["hash"]
        for key in ("seq", "prev"):
            changed = dict(record, **{key: record[key] + 100 if key == "seq" else "f" * 64})
            probes[f"rehashed {key}"] = encode_line(changed)
        for name, line in probes.items():
            tampered = b"".join([*lines[:seq], line, *lines[seq + 1 :]])
            prober.probe(f"{name} at seq {seq}", tampered, {seq, seq + 1})
            assert cli("audit", str(prober.path))[0] == 1
    header = json.loads(lines[0])
    del header["hash"]
    header["engagement"] = "eng-other"
    prober.probe("rehashed header", b"".join([encode_line(header), *lines[1:]]), {0, 1})
    prober.report("seq/prev/hash edits")


def test_truncation_inside_last_lines_is_only_a_torn_tail(
    target, engine: Engine, prober: Prober, cli
) -> None:
    """Cutting inside any of the last three lines gives only `torn-tail` (clean at a line boundary) and
    the engine refuses to append until repaired."""
    path, data = target
    lines = split(data)
    start = len(data) - sum(len(line) for line in lines[-3:])
    torn = clean = 0
    for cut in range(start, len(data) + 1):
        report = prober.audit(data[:cut])
        if data[:cut].endswith(b"\n"):
            assert report.findings == [], cut
            clean += 1
            continue
        seq = data[:cut].count(b"\n")
        assert [(f.code, f.seq) for f in report.findings] == [("torn-tail", seq)], cut
        path.write_bytes(data[:cut])
        with pytest.raises(TornTailError, match="repair"):
            engine.note(ENG, "must not land", actor="officer")
        with pytest.raises(TornTailError, match="repair"):
            engine.advance(ENG, "complete-induction", actor="officer")
        assert path.read_bytes() == data[:cut]
        torn += 1
    assert clean == 4 and torn == len(data) - start - 3
    path.write_bytes(data[:-40])
    code, _, err = cli("advance", ENG, "complete-induction")
    assert code == 1
    assert "repair" in err and "Traceback" not in err


@pytest.mark.parametrize("form", ["text", "json"])
def test_audit_against_checkpoints(
    engine: Engine, workspace: Path, tmp_path: Path, cli, form: str
) -> None:
    """`audit --against` saved output flags a dropped last event and a rewritten, re-chained tail."""
    for eid in ("eng-a", "eng-b", "eng-c"):
        engine.open(eid, "core", actor="officer")
        for i in range(4):
            engine.note(eid, f"{eid} note {i}", actor="officer")
    args = ["audit", "--json", str(workspace)] if form == "json" else ["audit", str(workspace)]
    code, out, _ = cli(*args)
    assert code == 0
    saved = tmp_path / f"checkpoints.{form}"
    saved.write_text(out, encoding="utf-8")

    a, b = engine.workspace.path_of("eng-a"), engine.workspace.path_of("eng-b")
    a.write_bytes(b"".join(split(a.read_bytes())[:-1]))
    lines = split(b.read_bytes())
    b.write_bytes(
        b"".join(rechain(lines, len(lines) - 2, lambda r: r["data"].update(text="rewritten")))
    )
    engine.note("eng-c", "eng-c extends its checkpoint", actor="officer")

    assert cli("audit", str(workspace))[0] == 0  # both still valid chains on their own
    code, out, _ = cli("audit", "--against", str(saved), "--json", str(workspace))
    assert code == 1
    found = {
        Path(f["path"]).name.split(".")[0]: [
            x["code"] for x in f["findings"] if x["severity"] == "error"
        ]
        for f in json.loads(out)["files"]
    }
    assert found == {"eng-a": ["truncated"], "eng-b": ["checkpoint-mismatch"], "eng-c": []}
    code, out, _ = cli("audit", "--against", str(saved), str(workspace))
    assert code == 1
    assert "truncated" in out and "checkpoint-mismatch" in out


def test_override_is_reported(target, engine: Engine, cli) -> None:
    """An overridden block shows in the report's overrides and in the text output."""
    path, _ = target
    report = audit_file(path, kinds=engine.rule_kinds, today=engine.today())
    assert report.overrides == [
        {
            "seq": 15,
            "actor": "head",
            "roles": ["officer", "head-of-unit"],
            "rules": ["mandate-before-appointment"],
            "reason": OVERRIDE_REASON,
        }
    ]
    code, out, _ = cli("audit", str(path))
    assert code == 0
    assert (
        f"override seq 15 mandate-before-appointment by head (officer, head-of-unit): {OVERRIDE_REASON}"
        in out
    )


def test_removing_an_override_is_block_without_override(target, engine: Engine, cli) -> None:
    """A history re-chained after erasing an override (outcome set to pass) reports block-without-override."""
    path, data = target

    def erase(record: dict) -> None:
        for rule in record["data"]["rules"]:
            if rule["rule"] == "mandate-before-appointment":
                assert rule["outcome"] == "overridden"
                rule["outcome"] = "pass"
        del record["data"]["override"]
        del record["reason"]

    path.write_bytes(b"".join(rechain(split(data), 15, erase)))
    report = audit_file(path, kinds=engine.rule_kinds, today=engine.today())
    assert report.overrides == []
    assert [(f.code, f.seq) for f in report.findings if f.severity == "error"] == [
        ("block-without-override", 15)
    ]
    code, out, _ = cli("audit", str(path))
    assert code == 1 and "block-without-override" in out


def rename_and_drop_override(data: bytes, new_id: str, *, drop_override: bool) -> bytes:
    """*data* with the engagement renamed in its header and opened event (and, if asked, the
    override at seq 15 erased), every line re-chained: what a forger who read the format writes."""
    out, prev = [], None
    for index, line in enumerate(split(data)):
        record, _ = decode_line(line.rstrip(b"\n"))
        if index == 0:
            record["engagement"] = new_id
        elif index == 1:
            record["data"]["engagement"] = new_id
        elif index == 15 and drop_override:
            for rule in record["data"]["rules"]:
                if rule["outcome"] == "overridden":
                    rule["outcome"] = "pass"
            del record["data"]["override"], record["reason"]
        if prev is not None:
            record["prev"] = prev
        encoded = encode_line(record)
        out.append(encoded)
        prev = decode_line(encoded[:-1])[1]
    return b"".join(out)


def test_header_rename_and_cached_verdicts_are_caught(
    target, prober: Prober, tmp_path: Path, cli
) -> None:
    """A header/opened rename kept under the file name is an error at the header, with or without
    a checkpoint; and a verdict cached by a plain audit never stands in for `--against`."""
    _, data = target
    head = decode_line(split(data)[-1].rstrip(b"\n"))[1]
    kept = {ENG: Checkpoint(ENG, 20, head)}
    cache = AuditCache(tmp_path / "cache", ["probe"])
    for drop in (False, True):
        forged = rename_and_drop_override(data, "eng-renamed", drop_override=drop)
        name = "rename" + (" + drop override" if drop else "")
        prober.probe(f"{name}", forged, {0}, codes={"file-name"})
        prober.probe(f"{name}, cached", forged, {0}, cache=cache)
        # The plain audit above filled the cache; a checkpoint must still be checked.
        prober.probe(
            f"{name}, cached, --against",
            forged,
            set(),
            against=kept,
            cache=cache,
            codes={"checkpoint-mismatch", "truncated"},
        )
        saved = write_checkpoint(prober.path, kept[ENG])
        assert cli("audit", str(prober.path.parent))[0] == 1
        code, out, _ = cli("audit", "--against", str(saved), str(prober.path.parent))
        assert code == 1 and "checkpoint-mismatch" in out, out
    prober.report("renamed engagement, cache and --against")
