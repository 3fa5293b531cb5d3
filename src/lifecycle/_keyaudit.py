"""The audit with keys: every event signed by a key of the office keyring, by the actor it names.

A pass of its own over a history file's raw lines, run beside the main audit (which checks the
chain, schemas and conformance): for each event it cuts the ``sig`` member off the hashed bytes,
verifies the Ed25519 signature over the domain line, the engagement id and those bytes, then
decides who acted and with what authority from the keyring, never from what the event says
about itself (DESIGN principle 10).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Final

import attrs

from ._audit import _lines as lines_of
from ._conformance import Finding
from ._files import open_regular
from ._keyring import KeyInfo, Keyring, read_keyring
from ._keys import PublicKey
from ._lines import LineProblem, decode_line
from ._signing import cut_event_signature, event_message, is_canonical
from .exceptions import HistoryError, KeyringError

__all__ = ["KEY_CODES", "audit_signatures", "trusted_keyring"]

KEY_CODES: Final = (
    "unsigned",
    "bad-signature",
    "unknown-key",
    "revoked-key",
    "actor-mismatch",
    "role-not-held",
)
Record = dict[str, Any]  # Any: a JSON object as stored.
_GATE: Final = "checklist"


def trusted_keyring(path: Path, trust: PublicKey) -> Keyring:
    """Read *path* and check that *trust* is one of the roots its chain of root keys went through.

    Raises:
        KeyringError: The keyring fails, or *trust* never was its root.
    """
    keyring = read_keyring(path)
    if trust.fingerprint not in keyring.roots:
        raise KeyringError(
            path, f"its root keys ({', '.join(keyring.roots)}) do not include the trusted "
            f"key {trust.fingerprint}"
        )  # fmt: skip
    return keyring


def _error(code: str, seq: int, message: str) -> Finding:
    return Finding(code, "error", seq, message, seq + 1)


@attrs.define
class _Pass:
    keyring: Keyring
    engagement: str = ""
    playbook: Mapping[str, Any] = attrs.field(factory=dict)

    def header(self, raw: bytes) -> None:
        record, _ = decode_line(raw)
        engagement = record.get("engagement")
        self.engagement = engagement if isinstance(engagement, str) else ""

    def event(self, raw: bytes, seq: int) -> Iterator[Finding]:
        record, _ = decode_line(raw)
        if seq == 1:
            data = record.get("data")
            playbook = data.get("playbook") if isinstance(data, dict) else None
            self.playbook = playbook if isinstance(playbook, dict) else {}
        cut = cut_event_signature(raw[:-75] + b"}")
        if cut is None:
            code = "bad-signature" if "sig" in record else "unsigned"
            yield _error(code, seq, "no signature" if code == "unsigned" else "malformed sig")
            return
        body, (fingerprint, signature) = cut
        info = self.keyring.keys.get(fingerprint)
        if info is None:
            yield _error("unknown-key", seq, f"signed by {fingerprint}, not a key of the keyring")
        elif not info.public.verifies(signature, event_message(self.engagement, body)):
            yield _error("bad-signature", seq, f"the signature by {info.name!r} does not verify")
        elif not is_canonical(body):
            yield _error("bad-signature", seq, "the signed bytes are not in canonical form")
        else:
            yield from self._authority(record, seq, info)

    def _authority(self, record: Record, seq: int, info: KeyInfo) -> Iterator[Finding]:
        at, actor = str(record.get("at")), record.get("actor")
        if at < info.added:
            yield _error("unknown-key", seq, f"{info.name!r}'s key was added only at {info.added}")
        if info.revoked is not None and at >= info.revoked:
            yield _error(
                "revoked-key", seq, f"{info.name!r}'s key was revoked at {info.revoked} "
                f"({info.reason})"
            )  # fmt: skip
        if actor != info.name:
            yield _error(
                "actor-mismatch", seq, f"names actor {actor!r}; the key is {info.name!r}'s"
            )
        needed = self._needed_roles(record)
        held = self.keyring.roles_at(info.name, at)
        for what, allowed in needed:
            if not set(held) & set(allowed):
                yield _error(
                    "role-not-held",
                    seq,
                    f"{what} needs one of {list(allowed)}; by the keyring {info.name!r} held "
                    f"{list(held)} at {at}",
                )

    def _needed_roles(self, record: Record) -> list[tuple[str, list[str]]]:
        """(what, the roles that may do it) for each act of authority in the event."""
        data = record.get("data")
        data = data if isinstance(data, dict) else {}
        kind = record.get("type")
        if kind == "forced":
            return [("force", _strings(self.playbook.get("admin_roles")))]
        if kind not in ("advanced", "activity_recorded"):
            return []
        override = data.get("override")
        rules = override.get("rules") if isinstance(override, dict) else None
        by_id = {r.get("id"): r for r in _dicts(self.playbook.get("rules"))}
        return [
            (f"override of {rule!r}", _strings(by_id.get(rule, {}).get("override_roles")))
            for rule in (rules if isinstance(rules, list) else [])
        ]


def _strings(value: object) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _dicts(value: object) -> list[Mapping[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def audit_signatures(path: Path, keyring: Keyring) -> list[Finding]:
    """Findings (each an error at its event) for every event of the file at *path* not signed
    as the keyring allows. A file that cannot be read is left to the main audit."""
    try:
        fd = open_regular(path, os.O_RDONLY)
    except (OSError, HistoryError):
        return []  # the main audit reports a file it cannot read
    with os.fdopen(fd, "rb") as handle:
        return signature_findings(handle, keyring)


def signature_findings(chunks: Iterable[bytes], keyring: Keyring) -> list[Finding]:
    """:func:`audit_signatures` of a history given as byte chunks (a file, a store's lines).

    Lines that fail their own hash are left to the main audit, which reports them.
    """
    findings: list[Finding] = []
    check = _Pass(keyring)
    # The main audit's reader: memory stays bounded, an overlong line is cut (and fails).
    for number, raw, complete in lines_of(chunks):
        if not complete:
            break  # a torn tail: the main audit reports it
        try:
            if number == 1:
                check.header(raw)
            else:
                findings.extend(check.event(raw, number - 1))
        except LineProblem:
            continue
    return findings
