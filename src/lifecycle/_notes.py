"""Signed checkpoints, in the C2SP signed-note form (https://c2sp.org/signed-note).

A note is its text (here the one line ``checkpoint <engagement> <events> <head>`` and its
newline), a blank line, then one signature line per signer: an em dash, a space, the key's
name, a space, and the base64 of the 4-byte key ID followed by the 64-byte Ed25519 signature of
the text. The key ID is the first 4 bytes of SHA-256(name, a newline, the byte 0x01, the 32
public key bytes). A checkpoint signed by the office proves a dropped or rewritten tail
against a record the holder of one actor's key cannot forge.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Final

from ._keys import PrivateKey, PublicKey, b64, unb64

__all__ = ["note_name", "sign_note", "verified_checkpoints"]

_DASH: Final = "\u2014 "
_CHECKPOINT: Final = re.compile(r"checkpoint\s+(\S+)\s+(\d+)\s+([0-9a-f]{64})")
_NAME: Final = re.compile(r"[^\s+]+")


def key_id(name: str, public: PublicKey) -> bytes:
    """The C2SP key ID of an Ed25519 key under *name*."""
    return hashlib.sha256(name.encode("utf-8") + b"\n\x01" + public.raw).digest()[:4]


def note_name(key: PrivateKey) -> str:
    """The name a note gives *key*: its file's stem, when that is a valid note key name."""
    return key.name if _NAME.fullmatch(key.name or "") else "lifecycle"


def sign_note(text: str, key: PrivateKey) -> str:
    """The signed note of *text* (one or more lines, each ending in a newline)."""
    name = note_name(key)
    signature = key.sign(text.encode("utf-8"))
    return f"{text}\n{_DASH}{name} {b64(key_id(name, key.public) + signature)}\n"


def _verifies(text: str, line: str, trusted: Sequence[PublicKey]) -> bool:
    name, _, blob = line[len(_DASH) :].partition(" ")
    try:
        raw = unb64(blob.strip())
    except ValueError:
        return False
    if len(raw) != 68:
        return False
    return any(
        key_id(name, key) == raw[:4] and key.verifies(raw[4:], text.encode("utf-8"))
        for key in trusted
    )


def _notes(lines: Sequence[str]) -> Iterator[tuple[tuple[str, int, str], str, list[str]]]:
    """((engagement, events, head), note text, signature lines) for each checkpoint line followed by a blank
    line and signature lines (each line stripped of surrounding blanks, as ``audit`` indents)."""
    for index, line in enumerate(lines):
        match = _CHECKPOINT.fullmatch(line)
        if match is None or index + 1 >= len(lines) or lines[index + 1] != "":
            continue
        sigs = []
        for following in lines[index + 2 :]:
            if not following.startswith(_DASH):
                break
            sigs.append(following)
        yield (match[1], int(match[2]), match[3]), line + "\n", sigs


def verified_checkpoints(text: str, trusted: Iterable[PublicKey]) -> set[tuple[str, int, str]]:
    """Each (engagement, events, head) of *text* (audit output, text or ``--json``) that is a
    note signed by one of the *trusted* keys."""
    keys = list(trusted)
    notes: list[str] = []
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("files"), list):
        notes = [f["signed_checkpoint"] for f in data["files"] if _has_note(f)]
    else:
        notes = [text]
    found: set[tuple[str, int, str]] = set()
    for note in notes:
        lines = [line.strip() for line in note.splitlines()]
        for checkpoint, body, sigs in _notes(lines):
            if any(_verifies(body, sig, keys) for sig in sigs):
                found.add(checkpoint)
    return found


def _has_note(entry: object) -> bool:
    return isinstance(entry, dict) and isinstance(entry.get("signed_checkpoint"), str)
