"""An auditor's own verifier, written from docs/history-format.md alone (cryptography, hashlib,
json, base64, re; no lifecycle import), checks the golden signed history and its keyring."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

GOLDEN = Path(__file__).parent / "golden"
HASH = re.compile(rb',"hash":"([0-9a-f]{64})"\}$')
ONE = rb'\{"key":"(SHA256:[A-Za-z0-9+/]{43})","ed25519":"([A-Za-z0-9+/]{86}==)"\}'
SIG = re.compile(rb',"sig":' + ONE + rb"\}$")
SIGS = re.compile(rb',"sigs":\[(' + ONE + rb"(?:," + ONE + rb")*)\]\}$")


def line_body(raw: bytes) -> tuple[dict, bytes, str]:
    """The record, its hashed bytes B, and its hash, checked as the document says."""
    line = raw.rstrip(b"\n")
    m = HASH.search(line)
    body = line[: m.start()] + b"}"
    assert hashlib.sha256(body).hexdigest() == m.group(1).decode()
    record = json.loads(line)
    assert record["hash"] == m.group(1).decode()
    return record, body, record["hash"]


def public_key(openssh_line: str) -> tuple[Ed25519PublicKey, str]:
    """An `ssh-ed25519 AAAA...` line: the key and its SHA256 fingerprint."""
    blob = base64.b64decode(openssh_line.split()[1])
    assert blob[:15] == b"\x00\x00\x00\x0bssh-ed25519" and blob[15:19] == b"\x00\x00\x00\x20"
    fingerprint = "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
    return Ed25519PublicKey.from_public_bytes(blob[19:]), fingerprint


def canonical(signed: bytes) -> bool:
    text = signed.decode()
    return json.dumps(json.loads(text), ensure_ascii=False, separators=(",", ":")) == text


def read_keyring(path: Path, trusted_line: str) -> dict:
    """Names, keys and roles by fingerprint, verified against the trusted root."""
    lines = path.read_bytes().splitlines(keepends=True)
    _, _, prev = line_body(lines[0])
    root = None
    roots: list[str] = []
    keys: dict[str, dict] = {}
    for seq, raw in enumerate(lines[1:], start=1):
        record, body, digest = line_body(raw)
        assert record["seq"] == seq and record["prev"] == prev
        m = SIGS.search(body)
        signed = body[: m.start()] + b"}"
        assert canonical(signed)
        message = b"lifecycle-keyring-signature-v1\n" + signed
        pairs = re.findall(ONE, m.group(1))
        signers = [] if root is None else [root]
        if record["type"] in ("root", "root_rotated"):
            signers.append(public_key(record["data"]["key"]))
        assert [fp.decode() for fp, _ in pairs] == [fp for _, fp in signers]
        for (key, _), (_, sig) in zip(signers, pairs, strict=True):
            key.verify(base64.b64decode(sig), message)
        data = record["data"]
        if record["type"] in ("root", "root_rotated"):
            root = public_key(data["key"])
            roots.append(root[1])
        elif record["type"] == "actor_added":
            key, fp = public_key(data["key"])
            keys[fp] = {"name": data["name"], "key": key, "roles": [(record["at"], data["roles"])]}
        prev = digest
    assert public_key(trusted_line)[1] in roots
    return keys


def verify_history(path: Path, keys: dict) -> int:
    """Verify every event's hash, chain and signature, and the actor and override roles."""
    lines = path.read_bytes().splitlines(keepends=True)
    header, _, prev = line_body(lines[0])
    engagement = header["engagement"]
    playbook = None
    for seq, raw in enumerate(lines[1:], start=1):
        record, body, digest = line_body(raw)
        assert record["seq"] == seq and record["prev"] == prev
        m = SIG.search(body)
        signed = body[: m.start()] + b"}"
        message = b"lifecycle-event-signature-v1\n" + engagement.encode() + b"\n" + signed
        holder = keys[m.group(1).decode()]
        holder["key"].verify(base64.b64decode(m.group(2)), message)
        assert canonical(signed)
        assert record["actor"] == holder["name"]
        if seq == 1:
            playbook = record["data"]["playbook"]
        override = record["data"].get("override") if record["type"] != "refused" else None
        for rule_id in (override or {}).get("rules", []):
            rule = next(r for r in playbook["rules"] if r["id"] == rule_id)
            held = [roles for at, roles in holder["roles"] if at <= record["at"]][-1]
            assert set(held) & set(rule["override_roles"])
        prev = digest
    return len(lines) - 1


def test_independent_verifier_accepts_the_golden_signed_history() -> None:
    """Every signature of the golden signed history and its keyring verifies, by the document."""
    trusted = (GOLDEN / "signed-root.pub").read_text()
    keys = read_keyring(GOLDEN / "signed.keyring.jsonl", trusted)
    assert sorted(k["name"] for k in keys.values()) == ["head", "officer"]
    assert verify_history(GOLDEN / "signed.history.jsonl", keys) == 17


def test_independent_verifier_rejects_an_edit(tmp_path: Path) -> None:
    """The same verifier rejects a signed event whose text was changed and re-hashed."""
    keys = read_keyring(GOLDEN / "signed.keyring.jsonl", (GOLDEN / "signed-root.pub").read_text())
    lines = (GOLDEN / "signed.history.jsonl").read_bytes().splitlines(keepends=True)
    line = lines[-1].rstrip(b"\n")
    body = line[:-75].replace(b"induction next", b"induction later") + b"}"
    lines[-1] = body[:-1] + b',"hash":"' + hashlib.sha256(body).hexdigest().encode() + b'"}\n'
    forged = tmp_path / "signed.history.jsonl"
    forged.write_bytes(b"".join(lines))
    with pytest.raises(InvalidSignature):
        verify_history(forged, keys)
