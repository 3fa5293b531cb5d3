"""Signed histories (#12): the forgeries that pass an unsigned audit, each caught with --keyring
--trust at the forged event; authority from the keyring; an insider's limits; the engine's
refusals."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest

from lifecycle import audit_file, make_plugin_manager
from lifecycle._audit import Checkpoint
from lifecycle._keyaudit import audit_signatures
from lifecycle._keys import b64, generate
from lifecycle._lines import _HASH_KEY, decode_line, encode_line
from lifecycle._notes import sign_note
from lifecycle._signing import event_message
from lifecycle.exceptions import RefusedError
from signed import Office, append_signed
from test_forgery import reforge
from test_tamper import rechain, split

ENG = "eng-s"
REASON = "The council decision is pending but the envoy must start now."
ITEMS = [
    (["request-recorded", "entry-point-identified"], "accept-request"),
    (
        ["conflict-analysis-done", "stakeholder-map", "media-mapping", "previous-efforts-reviewed"],
        "complete-analysis",
    ),
]


@pytest.fixture
def office(tmp_path: Path, plugins) -> Office:
    """A workspace requiring signatures, with officer and head in its keyring."""
    return Office(tmp_path / "office", plugins)


def build(office: Office, eid: str = ENG) -> Path:
    """A signed 20-event history: a refusal at 14 and head's override at 15, notes to 20."""
    officer, head = office.engine("officer"), office.engine("head")
    officer.open(eid, "core", actor="officer", title="Signed target")
    for items, trigger in ITEMS:
        for item in items:
            officer.check(eid, item, actor="officer")
        officer.advance(eid, trigger, actor="officer")
    for item in ["candidate-profile", "women-candidates", "impartiality-check"]:
        officer.check(eid, item, actor="officer")
    officer.set_facts(eid, ["envoy=Amb. X"], actor="officer")
    with pytest.raises(RefusedError):
        officer.advance(eid, "appoint", actor="officer")  # seq 14
    head.advance(eid, "appoint", actor="head", override=REASON)  # seq 15
    while officer.engagement(eid).seq < 20:
        officer.note(eid, f"note {officer.engagement(eid).seq}", actor="officer")
    return office.root / f"{eid}.history.jsonl"


@pytest.fixture
def signed(office: Office) -> tuple[Path, bytes]:
    """The signed history and its bytes; it audits clean, with keys too."""
    path = build(office)
    engine = office.engine(None)
    assert audit_file(path, kinds=engine.rule_kinds, today=engine.today()).ok
    assert audit_signatures(path, office.keyring()) == []
    return path, path.read_bytes()


def errors_at(path: Path, office: Office, data: bytes) -> dict[int | None, set[str]]:
    """Write *data*, audit it with the keyring; return the error codes by seq."""
    path.write_bytes(data)
    found: dict[int | None, set[str]] = {}
    for f in audit_signatures(path, office.keyring()):
        assert f.severity == "error"
        found.setdefault(f.seq, set()).add(f.code)
    return found


def main_errors(path: Path) -> dict[int | None, set[str]]:
    """The error codes by seq of the main audit of *path* (which reads every line's form; the
    signature pass leaves a line that does not verify to it)."""
    kinds = make_plugin_manager(load_entrypoints=False, environ={}).rule_kinds()
    found: dict[int | None, set[str]] = {}
    for f in audit_file(path, kinds=kinds, today=dt.date.today()).findings:
        if f.severity == "error":
            found.setdefault(f.seq, set()).add(f.code)
    return found


def edit(data: bytes, seq: int, change) -> bytes:
    """The history with event *seq* edited by *change* and every later line re-chained."""
    return b"".join(rechain(split(data), seq, change))


def _event(data: bytes, seq: int) -> dict:
    return decode_line(split(data)[seq].rstrip(b"\n"))[0]


FORGERIES = {
    "fact changed": (13, lambda r: r["data"]["facts"].update(envoy="Amb. Y")),
    "actor renamed": (8, lambda r: r.update(actor="head")),
    "override roles forged": (15, lambda r: r["data"]["override"].update(roles=["officer"])),
    "event without actor": (9, lambda r: r.pop("actor")),
    "override reason rewritten": (15, lambda r: r.update(reason="Because I said so, really.")),
    "playbook rewritten": (
        1,
        lambda r: r["data"]["playbook"]["rules"].clear(),
    ),
    # The last digit of the seconds changes whatever it was (a fixed "9" would change nothing
    # when the engine happened to write a 9).
    "timestamp moved": (
        12,
        lambda r: r.update(at=r["at"][:-2] + ("8" if r["at"][-2] == "9" else "9") + "Z"),
    ),
}


@pytest.mark.parametrize("name", list(FORGERIES))
def test_rechained_edit_breaks_the_signature(signed, office: Office, name: str) -> None:
    """An edited and re-chained event is a bad-signature error at that event (and every later
    event, whose signed prev changed)."""
    path, data = signed
    seq, change = FORGERIES[name]
    found = errors_at(path, office, edit(data, seq, change))
    assert min(found) == seq and found[seq] == {"bad-signature"}, found
    assert set(found) == set(range(seq, 21)), found


def test_refusal_deleted_is_caught_at_its_place(signed, office: Office) -> None:
    """Deleting the refusal (seq 14) and re-chaining the rest breaks the signature now at seq 14."""
    path, data = signed
    lines = split(data)
    tampered = _renumber_from(lines[:14] + lines[15:], 14)
    found = errors_at(path, office, tampered)
    assert min(found) == 14 and found[14] == {"bad-signature"}, found


def _renumber_from(lines: list[bytes], start: int) -> bytes:
    """Lines with every line from *start* on given seq = its line number - 1, re-chained."""
    out = list(lines[:start])
    _, prev = decode_line(lines[start - 1].rstrip(b"\n"))
    for index in range(start, len(lines)):
        record, _ = decode_line(lines[index].rstrip(b"\n"))
        record["seq"], record["prev"] = index, prev
        line = encode_line(record)
        out.append(line)
        _, prev = decode_line(line[:-1])
    return b"".join(out)


def test_duplicate_key_added_by_a_forger_is_caught(signed, office: Office) -> None:
    """A duplicate "actor" member (read last-wins by Python) inserted in a signed event is an
    error at that event."""
    path, data = signed
    lines = split(data)
    line = lines[8].replace(b'"actor":"officer",', b'"actor":"officer","actor":"head",')
    errors_at(path, office, reforge(lines, 8, _rehash(line)))
    assert "duplicate-key" in main_errors(path)[8]


def _rehash(line: bytes) -> bytes:
    body = line.rstrip(b"\n")[:-75] + b"}"
    return body[:-1] + _HASH_KEY + hashlib.sha256(body).hexdigest().encode() + b'"}\n'


def test_duplicate_key_signed_by_the_insider_is_caught(signed, office: Office) -> None:
    """Even signed by the actor's own key, an event with a duplicate member is an error: the
    engine never writes one, and readers disagree on what it says."""
    path, _ = signed
    lines = split(path.read_bytes())
    last, head = decode_line(lines[-1].rstrip(b"\n"))
    body = (
        f'{{"seq":21,"at":"{last["at"]}","actor":"officer","actor":"head","type":"note_added",'
        f'"v":1,"data":{{"text":"x"}},"prev":"{head}"}}'
    ).encode()
    sig = b64(office.keys["officer"].sign(event_message(ENG, body)))
    fingerprint = office.keys["officer"].public.fingerprint
    signed_body = body[:-1] + f',"sig":{{"key":"{fingerprint}","ed25519":"{sig}"}}}}'.encode()
    digest = hashlib.sha256(signed_body).hexdigest().encode()
    line = signed_body[:-1] + _HASH_KEY + digest + b'"}\n'
    errors_at(path, office, b"".join(lines) + line)
    found = main_errors(path)
    assert list(found) == [21] and "duplicate-key" in found[21], found


def test_event_spliced_from_another_engagement_is_caught(signed, office: Office) -> None:
    """A signed event of another engagement, re-chained into this history in the right seq, fails:
    the engagement id and prev are in its signed bytes."""
    path, data = signed
    other = build(office, "eng-other").read_bytes()
    lines = split(data)
    lines[10] = split(other)[10]
    found = errors_at(path, office, b"".join(rechain(lines, 10, None)))
    assert min(found) == 10 and found[10] == {"bad-signature"}, found


def test_unsigned_event_is_an_error(signed, office: Office, plugins) -> None:
    """An event appended without a key (signing not required) is `unsigned` under the keyring."""
    path, _ = signed
    (office.root / "lifecycle.toml").write_text("", encoding="utf-8")
    office.engine(None).note(ENG, "unsigned", actor="officer")
    assert errors_at(path, office, path.read_bytes()) == {21: {"unsigned"}}


def test_unknown_key_is_an_error(signed, office: Office) -> None:
    """An event signed by a key the keyring does not hold is `unknown-key`."""
    path, data = signed
    stranger = generate("stranger")
    append_signed(path, stranger, _note_fields(data, "officer"))
    assert errors_at(path, office, path.read_bytes()) == {21: {"unknown-key"}}


def _note_fields(data: bytes, actor: str, kind: str = "note_added", body=None) -> dict:
    last = _event(data, len(split(data)) - 1)
    return {"at": last["at"], "actor": actor, "type": kind, "v": 1,
            "data": body if body is not None else {"text": "appended"}}  # fmt: skip


def test_insider_naming_another_actor_is_an_error(signed, office: Office) -> None:
    """The officer's key signing an event that names head is `actor-mismatch`."""
    path, data = signed
    append_signed(path, office.keys["officer"], _note_fields(data, "head"))
    assert errors_at(path, office, path.read_bytes()) == {21: {"actor-mismatch"}}


def test_override_with_copied_roles_the_keyring_denies(signed, office: Office) -> None:
    """An override by the officer, whose keyring roles do not allow it, is `role-not-held` even
    though the event's copied roles claim head-of-unit."""
    path, data = signed
    forged = _event(data, 15)
    fields = {k: forged[k] for k in ("at", "type", "v", "data", "reason")}
    fields["actor"] = "officer"
    fields["data"]["override"]["roles"] = ["officer", "head-of-unit"]
    # Cut the history back to the refusal, and let the officer sign the override.
    path.write_bytes(b"".join(split(data)[:15]))
    append_signed(path, office.keys["officer"], fields)
    assert errors_at(path, office, path.read_bytes()) == {15: {"role-not-held"}}


def test_roles_are_taken_at_the_events_time(signed, office: Office) -> None:
    """Head losing head-of-unit after the override leaves that override valid; a later one is not."""
    path, data = signed
    office.change("roles_changed", {"name": "head", "roles": ["officer"]})
    assert errors_at(path, office, data) == {}
    forged = _event(data, 15)
    fields = {k: forged[k] for k in ("type", "v", "data", "reason")}
    fields.update(actor="head", at=office.now())
    append_signed(path, office.keys["head"], fields)
    assert errors_at(path, office, path.read_bytes()) == {21: {"role-not-held"}}


def test_force_by_actor_without_admin_role(signed, office: Office) -> None:
    """A force signed by the officer (not head-of-unit by the keyring) is `role-not-held`."""
    path, data = signed
    fields = _note_fields(
        data,
        "officer",
        "forced",
        {"from": "induction-briefing", "to": "closed", "roles": ["head-of-unit"]},
    )
    fields["reason"] = "Closing this engagement by decision of the board."
    append_signed(path, office.keys["officer"], fields)
    assert errors_at(path, office, path.read_bytes()) == {21: {"role-not-held"}}


def test_revoked_key_later_events_are_errors(signed, office: Office) -> None:
    """After the officer's key is revoked, the engine refuses it, and an event it signs anyway
    is `revoked-key`; its earlier events stay valid."""
    path, data = signed
    office.change("key_revoked", {"name": "officer", "reason": "laptop stolen",
                                  "key": office.keys["officer"].public.fingerprint})  # fmt: skip
    with pytest.raises(RefusedError, match="revoked"):
        office.engine("officer").note(ENG, "after revocation", actor="officer")
    assert path.read_bytes() == data
    fields = _note_fields(data, "officer")
    fields["at"] = office.now()
    append_signed(path, office.keys["officer"], fields)
    assert errors_at(path, office, path.read_bytes()) == {21: {"revoked-key"}}


def test_insider_can_rewrite_only_a_tail_of_their_own(signed, office: Office, cli) -> None:
    """The officer re-signing the last event (their own note) passes without a checkpoint; a
    checkpoint signed by the office catches it, and a rewritten checkpoint is not trusted."""
    path, data = signed
    lines = split(data)
    kept = Checkpoint(ENG, 20, decode_line(lines[-1].rstrip(b"\n"))[1])
    path.write_bytes(b"".join(lines[:20]))
    fields = _note_fields(b"".join(lines[:20]), "officer", body={"text": "rewritten tail"})
    append_signed(path, office.keys["officer"], fields)
    assert errors_at(path, office, path.read_bytes()) == {}
    saved = path.parent.parent / "checkpoints.txt"
    saved.write_text(sign_note(kept.line() + "\n", office.root_key), encoding="utf-8")
    root_pub = path.parent.parent / "root.pub"
    root_pub.write_text(office.root_key.public.line + "\n", encoding="utf-8")
    args = ["--workspace", str(office.root), "audit", str(path), "--against", str(saved),
            "--trust", str(root_pub), "--keyring", str(office.keyring_path)]  # fmt: skip
    code, out, _ = cli(*args)
    assert code == 1 and "checkpoint-mismatch" in out and "checkpoint-signature" not in out
    forged = Checkpoint(ENG, 20, decode_line(path.read_bytes().splitlines()[-1])[1])
    saved.write_text(forged.line() + "\n", encoding="utf-8")
    code, out, _ = cli(*args)
    assert code == 1 and "checkpoint-signature" in out


def test_dropped_tail_is_caught_by_a_signed_checkpoint(signed, office: Office, cli) -> None:
    """A history cut back by two events audits clean with keys alone, and fails against the
    checkpoint the office signed with `audit --sign-checkpoints`."""
    path, data = signed
    root_key = office.root.parent / "root.key"
    _write_root(office)
    common = ["--workspace", str(office.root), "audit", str(path), "--keyring",
              str(office.keyring_path), "--trust", str(office.root.parent / "root.pub")]  # fmt: skip
    code, out, _ = cli(*common, "--sign-checkpoints", str(root_key))
    assert code == 0, out
    saved = office.root.parent / "saved.txt"
    saved.write_text(out, encoding="utf-8")
    path.write_bytes(b"".join(split(data)[:19]))
    code, out, _ = cli(*common)
    assert code == 0, out
    code, out, _ = cli(*common, "--against", str(saved))
    assert code == 1 and "truncated" in out and "checkpoint-signature" not in out, out


def _write_root(office: Office) -> None:
    from cryptography.hazmat.primitives import serialization

    pem = office.root_key.key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    (office.root.parent / "root.key").write_bytes(pem)
    (office.root.parent / "root.pub").write_text(office.root_key.public.line + "\n")


def test_required_signing_refuses_unsigned_commands(signed, office: Office) -> None:
    """With [signing] required, an unsigned command is refused and nothing is written."""
    path, data = signed
    with pytest.raises(RefusedError, match="requires signed events"):
        office.engine(None).note(ENG, "unsigned", actor="officer")
    with pytest.raises(RefusedError, match="requires signed events"):
        office.engine(None).open("eng-new", "core", actor="officer")
    assert path.read_bytes() == data
    assert not (office.root / "eng-new.history.jsonl").exists()


def test_key_names_the_actor(signed, office: Office) -> None:
    """A key signs only as the keyring's name for it: another --actor is refused, nothing written."""
    path, data = signed
    with pytest.raises(RefusedError, match="names this key 'officer', not 'head'"):
        office.engine("officer").note(ENG, "x", actor="head")
    assert path.read_bytes() == data


def test_keyring_roles_replace_the_config_roles(office: Office) -> None:
    """With a keyring, roles come from it; lifecycle.toml's [actors] roles are ignored, with a
    warning."""
    (office.root / "lifecycle.toml").write_text(
        '[signing]\nrequired = true\n[actors."officer"]\nroles = ["head-of-unit"]\n'
    )
    engine = office.engine("officer")
    assert engine.roles_of("officer") == ("officer",)
    assert engine.roles_of("head") == ("officer", "head-of-unit")
    assert any("ignored" in w for w in engine.authority.warnings())


def test_signed_event_json_carries_sig_last(signed) -> None:
    """Every signed event's last member before hash is sig, naming the key and the signature."""
    _, data = signed
    for line in split(data)[1:]:
        record = json.loads(line)
        assert list(record)[-2:] == ["sig", "hash"]
        assert record["sig"]["key"].startswith("SHA256:")
