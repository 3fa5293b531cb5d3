"""The office keyring: a hash-chained, append-only file of actors, their keys and roles.

Same line format as a history (``_lines``): a header, then entries with ``seq``, ``at``,
``type``, ``data``, ``prev``, each signed by the office's root key in a ``sigs`` member (a
rotation by the old root and the new one). Reading verifies the chain and every signature
against the root of its moment, so a keyring speaks only for its root; the audit then checks
that root against the key the auditor trusts (TUF's root, delegating to actors' keys).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import attrs

from ._files import lock, open_regular, read_bounded
from ._history import append_durably
from ._inputs import ACTOR_NAME
from ._keys import PrivateKey, PublicKey, parse_public
from ._lines import LineProblem, decode_line, encode_hashed, encode_line
from ._signing import cut_keyring_signatures, is_canonical, keyring_message, sign_entry
from .exceptions import HistoryError, KeyringError

__all__ = ["KEYRING_FORMAT", "KEYRING_NAME", "KeyInfo", "Keyring", "change_keyring", "init_keyring"]

KEYRING_FORMAT: Final = "lifecycle-keyring"
KEYRING_NAME: Final = "keyring.jsonl"
ENTRY_TYPES: Final = ("root", "actor_added", "roles_changed", "key_revoked", "root_rotated")
Record = dict[str, Any]  # Any: a JSON object as stored.


@attrs.define
class KeyInfo:
    """One actor key: whose it is, from when, and when (and why) it was revoked."""

    name: str
    public: PublicKey
    added: str
    revoked: str | None = None
    reason: str = ""


@attrs.define
class Keyring:
    """The keyring as its entries built it."""

    path: str
    root: PublicKey | None = None
    roots: list[str] = attrs.field(factory=list)  # every root fingerprint, oldest first
    keys: dict[str, KeyInfo] = attrs.field(factory=dict)  # by fingerprint
    roles: dict[str, list[tuple[str, tuple[str, ...]]]] = attrs.field(factory=dict)
    head_seq: int = 0
    head_hash: str = ""
    last_at: str = ""

    def active_key(self, name: str) -> KeyInfo | None:
        """The unrevoked key of *name*, if any."""
        return next((k for k in self.keys.values() if k.name == name and not k.revoked), None)

    def roles_at(self, name: str, at: str | None = None) -> tuple[str, ...]:
        """The roles *name* held at *at* (now, when None): the last change at or before it."""
        held: tuple[str, ...] = ()
        for when, roles in self.roles.get(name, []):
            if at is None or when <= at:
                held = roles
        return held

    def names(self) -> list[str]:
        """Every actor name, sorted."""
        return sorted({k.name for k in self.keys.values()})

    def apply(self, record: Record) -> None:
        """Fold one verified entry in (its signatures were checked against ``root``).

        Raises:
            ValueError: The entry is not one the keyring commands could have written.
        """
        kind, data, at = record.get("type"), record.get("data"), record.get("at")
        if not isinstance(data, dict) or not isinstance(at, str) or at < self.last_at:
            raise ValueError("entry without data or at, or at going backwards")
        getattr(self, f"_apply_{kind}")(data, at)
        self.last_at = at

    def _apply_root(self, data: Record, at: str) -> None:
        if self.root is not None:
            raise ValueError("a second root entry")
        self._set_root(data)

    def _apply_root_rotated(self, data: Record, at: str) -> None:
        self._set_root(data)

    def _set_root(self, data: Record) -> None:
        self.root = parse_public(_text(data, "key"))
        self.roots.append(self.root.fingerprint)

    def _apply_actor_added(self, data: Record, at: str) -> None:
        name, public = _name(data), parse_public(_text(data, "key"))
        if self.active_key(name) is not None or public.fingerprint in self.keys:
            raise ValueError(f"actor {name!r} has a key already, or the key is taken")
        self.keys[public.fingerprint] = KeyInfo(name, public, at)
        self.roles.setdefault(name, []).append((at, _roles(data)))

    def _apply_roles_changed(self, data: Record, at: str) -> None:
        name = _name(data)
        if self.active_key(name) is None:
            raise ValueError(f"no actor {name!r} with a key")
        self.roles[name].append((at, _roles(data)))

    def _apply_key_revoked(self, data: Record, at: str) -> None:
        info = self.keys.get(_text(data, "key"))
        if info is None or info.revoked or info.name != _name(data):
            raise ValueError("revokes a key that is not an active key of that actor")
        info.revoked, info.reason = at, _text(data, "reason")


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"data.{key} is not a non-blank string")
    return value


def _name(data: Mapping[str, Any]) -> str:
    name = _text(data, "name")
    if not ACTOR_NAME.fullmatch(name):
        raise ValueError(f"{name!r} is not an actor name")
    return name


def _roles(data: Mapping[str, Any]) -> tuple[str, ...]:
    roles = data.get("roles")
    if not isinstance(roles, list) or not all(isinstance(r, str) and r for r in roles):
        raise ValueError("data.roles is not an array of role names")
    return tuple(roles)


def read_keyring(path: Path) -> Keyring:
    """Read and verify a keyring file whole: chain, sequence, every root signature.

    Raises:
        KeyringError: The file is missing or unreadable, or any line fails.
    """
    if not os.path.lexists(path):
        raise KeyringError(path, "no such keyring (create one with `lifecycle keyring init`)")
    try:
        fd = open_regular(path, os.O_RDONLY)
    except (OSError, HistoryError) as exc:
        raise KeyringError(path, f"cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        return parse_keyring(str(path), read_bounded(path, fd))
    except HistoryError as exc:
        raise KeyringError(path, str(exc).removeprefix(f"{path}: ")) from None
    finally:
        os.close(fd)


def parse_keyring(label: str, data: bytes) -> Keyring:
    """Verify the bytes of a keyring (see :func:`read_keyring`)."""
    if not data.endswith(b"\n"):
        raise KeyringError(label, "empty, or the last line is incomplete")
    keyring = Keyring(label)
    for number, raw in enumerate(data.split(b"\n")[:-1], start=1):
        try:
            _line(keyring, raw, number)
        except (LineProblem, ValueError) as exc:
            raise KeyringError(label, f"line {number}: {exc}") from None
    if keyring.root is None:
        raise KeyringError(label, "no root entry")
    return keyring


def _line(keyring: Keyring, raw: bytes, number: int) -> None:
    record, digest = decode_line(raw)
    if number == 1:
        if record.get("format") != KEYRING_FORMAT or record.get("version") != 1:
            raise ValueError(f"not a {KEYRING_FORMAT} v1 header")
    else:
        if record.get("seq") != number - 1 or record.get("prev") != keyring.head_hash:
            raise ValueError("seq or prev out of chain (an entry deleted, moved or edited?)")
        if record.get("type") not in ENTRY_TYPES or (number == 2) != (record["type"] == "root"):
            raise ValueError(f"unexpected entry type {record.get('type')!r}")
        _check_signatures(keyring, raw, record)
        keyring.apply(record)
    keyring.head_seq, keyring.head_hash = number - 1, digest


def _check_signatures(keyring: Keyring, raw: bytes, record: Record) -> None:
    cut = cut_keyring_signatures(raw[:-75] + b"}")
    if cut is None:
        raise ValueError("no sigs member in the form the keyring writes")
    body, sigs = cut
    if not is_canonical(body):
        raise ValueError("not in the canonical form the keyring writes (duplicate members?)")
    data = record.get("data")
    new_line = data.get("key") if isinstance(data, dict) else None
    signers = [] if keyring.root is None else [keyring.root]
    if record["type"] in ("root", "root_rotated") and isinstance(new_line, str):
        signers.append(parse_public(new_line))  # the new root signs its own entry
    wanted = [s.fingerprint for s in signers]
    message = keyring_message(body)
    if [fp for fp, _ in sigs] != wanted or not all(
        key.verifies(sig, message) for key, (_, sig) in zip(signers, sigs, strict=True)
    ):
        raise ValueError("a root signature does not verify")


def init_keyring(path: Path, root: PrivateKey, now: str) -> Keyring:
    """Create a keyring whose root is *root*, refusing if the file exists.

    Raises:
        KeyringError: The file exists or cannot be written.
    """
    header, head = encode_hashed({"format": KEYRING_FORMAT, "version": 1, "created": now})
    entry = {"seq": 1, "at": now, "type": "root", "data": {"key": root.public.line}, "prev": head}
    data = header + encode_line(sign_entry([root], entry))
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    except OSError as exc:
        raise KeyringError(path, f"cannot create: {exc.strerror or exc}") from None
    try:
        append_durably(path, fd, data)
    finally:
        os.close(fd)
    return parse_keyring(str(path), data)


def change_keyring(
    path: Path,
    root: PrivateKey,
    kind: str,
    data: Record,
    now: str,
    new_root: PrivateKey | None = None,
) -> Keyring:
    """Append one entry signed by *root* (and *new_root*, for ``root_rotated``), under the lock.

    Raises:
        KeyringError: The keyring fails, *root* is not its root, or the change is not allowed.
    """
    try:
        fd = open_regular(path, os.O_RDWR | os.O_APPEND)
    except (OSError, HistoryError):
        read_keyring(path)  # words the problem
        raise  # pragma: no cover - read_keyring raised already
    try:
        lock(path, fd, exclusive=True)
        keyring = parse_keyring(str(path), read_bounded(path, fd))
        return _append(
            path, fd, keyring, [root, *([new_root] if new_root else [])], kind, data, now
        )
    except HistoryError as exc:
        raise KeyringError(path, str(exc).removeprefix(f"{path}: ")) from None
    finally:
        os.close(fd)


def _append(
    path: Path,
    fd: int,
    keyring: Keyring,
    keys: Sequence[PrivateKey],
    kind: str,
    data: Record,
    now: str,
) -> Keyring:
    assert keyring.root is not None  # parse_keyring guarantees a root
    if keys[0].public.fingerprint != keyring.root.fingerprint:
        raise KeyringError(path, "the key given is not the keyring's current root key")
    at = max(now, keyring.last_at)
    record = {"seq": keyring.head_seq + 1, "at": at, "type": kind, "data": data,
              "prev": keyring.head_hash}  # fmt: skip
    try:
        keyring.apply(record)  # refuses what reading would refuse, before anything is written
    except ValueError as exc:
        raise KeyringError(path, f"refused: {exc}; nothing written") from None
    line, digest = encode_hashed(sign_entry(keys, record))
    append_durably(path, fd, line)
    keyring.head_seq, keyring.head_hash = keyring.head_seq + 1, digest
    return keyring
