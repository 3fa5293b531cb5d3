"""The signed bytes of events and keyring entries (docs/history-format.md, "Signatures").

A signed record is serialized without ``sig`` (or ``sigs``) and ``hash``, compactly, to bytes
**S**; its signature is over a domain-separation line, for an event the engagement id and a
newline, then S. The record stored is S with ``,"sig":{"key":FINGERPRINT,"ed25519":BASE64}``
inserted before its closing brace, then hashed as every line is. A verifier cuts the hash suffix,
then this fixed-form suffix, off the raw bytes: nothing is re-serialized.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from ._keys import PrivateKey, b64, unb64
from ._lines import _ENCODER

__all__ = [
    "EVENT_DOMAIN",
    "KEYRING_DOMAIN",
    "Signature",
    "cut_event_signature",
    "cut_keyring_signatures",
    "event_message",
    "is_canonical",
    "keyring_message",
    "sign_entry",
    "sign_event",
]

EVENT_DOMAIN: Final = b"lifecycle-event-signature-v1\n"
KEYRING_DOMAIN: Final = b"lifecycle-keyring-signature-v1\n"
_ONE: Final = rb'\{"key":"(SHA256:[A-Za-z0-9+/]{43})","ed25519":"([A-Za-z0-9+/]{86}==)"\}'
_EVENT_SIG: Final = re.compile(rb',"sig":' + _ONE + rb"\}\Z")
_ENTRY_SIGS: Final = re.compile(rb',"sigs":\[(' + _ONE + rb"(?:," + _ONE + rb")*)\]\}\Z")
_EACH: Final = re.compile(_ONE)

Signature = tuple[str, bytes]  # (key fingerprint, 64 signature bytes)


def _signature(key: PrivateKey, message: bytes) -> dict[str, str]:
    return {"key": key.public.fingerprint, "ed25519": b64(key.sign(message))}


def event_message(engagement: str, body: bytes) -> bytes:
    """What an event's key signs: the domain line, the engagement id and a newline, then S."""
    return EVENT_DOMAIN + engagement.encode("utf-8") + b"\n" + body


def keyring_message(body: bytes) -> bytes:
    """What the root key signs for a keyring entry: the domain line, then S."""
    return KEYRING_DOMAIN + body


def sign_event(key: PrivateKey, engagement: str, record: Mapping[str, Any]) -> dict[str, Any]:
    """*record* (``seq`` ... ``prev``, no ``hash``) with its ``sig`` member appended last."""
    # Any: records are JSON objects.
    body = _ENCODER.encode(record).encode("utf-8")
    return {**record, "sig": _signature(key, event_message(engagement, body))}


def sign_entry(keys: Sequence[PrivateKey], record: Mapping[str, Any]) -> dict[str, Any]:
    """A keyring *record* with ``sigs`` appended last: one signature by each of *keys*."""
    # Any: records are JSON objects.
    body = _ENCODER.encode(record).encode("utf-8")
    message = keyring_message(body)
    return {**record, "sigs": [_signature(k, message) for k in keys]}


def cut_event_signature(body: bytes) -> tuple[bytes, Signature] | None:
    """Split a line's hashed bytes B into S and its signature (None: no well-formed ``sig``)."""
    match = _EVENT_SIG.search(body)
    if match is None:
        return None
    return body[: match.start()] + b"}", (match[1].decode("ascii"), unb64(match[2].decode()))


def cut_keyring_signatures(body: bytes) -> tuple[bytes, list[Signature]] | None:
    """Split a keyring line's hashed bytes into S and its signatures (None: no ``sigs``)."""
    match = _ENTRY_SIGS.search(body)
    if match is None:
        return None
    sigs = [(m[1].decode("ascii"), unb64(m[2].decode())) for m in _EACH.finditer(match[1])]
    return body[: match.start()] + b"}", sigs


def is_canonical(body: bytes) -> bool:
    """Whether S is exactly what the engine would serialize from what it parses to: no
    duplicate member (which JSON readers resolve differently), no spacing, no odd escapes."""
    try:
        text = body.decode("utf-8")
        return bool(_ENCODER.encode(json.loads(text, object_pairs_hook=_unique)) == text)
    except (ValueError, RecursionError):
        return False


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Any: JSON values.
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate member")
    return result
