"""Ed25519 keys in OpenSSH formats, through ``cryptography`` (no hand-written crypto).

A private key is an OpenSSH private key file (``NAME.key``, mode 0600, encrypted when
``LIFECYCLE_KEY_PASSPHRASE`` is set); a public key is one OpenSSH line (``NAME.pub``). Keys made
with ``ssh-keygen -t ed25519`` read the same. A key is named by its OpenSSH fingerprint,
``SHA256:`` and the unpadded base64 of the SHA-256 of its wire-format blob (what
``ssh-keygen -l`` prints).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import os
from pathlib import Path
from typing import Final

import attrs
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ._files import open_regular
from .exceptions import HistoryError, InvalidInputError, KeyFileError

__all__ = [
    "PASSPHRASE_ENV",
    "PrivateKey",
    "PublicKey",
    "load_private",
    "load_public",
    "new_key",
    "parse_public",
]

PASSPHRASE_ENV: Final = "LIFECYCLE_KEY_PASSPHRASE"
_MAX_KEY_BYTES: Final = 64 * 1024
_SSH_TYPE: Final = b"ssh-ed25519"


@attrs.frozen
class PublicKey:
    """An Ed25519 public key, with its OpenSSH line and fingerprint."""

    key: Ed25519PublicKey = attrs.field(eq=False)
    raw: bytes

    @property
    def line(self) -> str:
        """``ssh-ed25519 AAAA...`` (no comment)."""
        return "ssh-ed25519 " + base64.b64encode(_blob(self.raw)).decode("ascii")

    @functools.cached_property
    def fingerprint(self) -> str:
        """``SHA256:...`` as ``ssh-keygen -l`` prints it (computed once: every signed event and
        every keyring check names the key by it)."""
        digest = hashlib.sha256(_blob(self.raw)).digest()
        return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")

    def verifies(self, signature: bytes, message: bytes) -> bool:
        """Whether *signature* is this key's signature of *message*."""
        try:
            self.key.verify(signature, message)
        except InvalidSignature:
            return False
        return True


@attrs.frozen
class PrivateKey:
    """An Ed25519 private key and its public half."""

    key: Ed25519PrivateKey = attrs.field(eq=False)
    public: PublicKey
    name: str = ""

    def sign(self, message: bytes) -> bytes:
        """The 64-byte Ed25519 signature of *message*."""
        return self.key.sign(message)


def _blob(raw: bytes) -> bytes:
    """The SSH wire format of an Ed25519 public key: string "ssh-ed25519", string key."""
    return _ssh_string(_SSH_TYPE) + _ssh_string(raw)


def _ssh_string(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + data


def _public_of(key: Ed25519PublicKey) -> PublicKey:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return PublicKey(key, raw)


def private_of(key: Ed25519PrivateKey, name: str = "") -> PrivateKey:
    """Wrap a ``cryptography`` private key."""
    return PrivateKey(key, _public_of(key.public_key()), name)


def generate(name: str = "") -> PrivateKey:
    """A fresh key (tests and the demo make keys this way too)."""
    return private_of(Ed25519PrivateKey.generate(), name)


def _passphrase() -> bytes | None:
    value = os.environ.get(PASSPHRASE_ENV)
    return value.encode("utf-8") if value else None


def new_key(name: str, out: Path) -> tuple[Path, Path]:
    """Write ``NAME.key`` (0600, OpenSSH format) and ``NAME.pub`` into folder *out*.

    Raises:
        InvalidInputError: *out* is not a folder, or either file exists already.
    """
    if not out.is_dir():
        raise InvalidInputError(f"Folder {str(out)!r} does not exist.")
    key = generate(name)
    phrase = _passphrase()
    crypt: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(phrase) if phrase else serialization.NoEncryption()
    )
    private = key.key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, crypt
    )
    secret, public = out / f"{name}.key", out / f"{name}.pub"
    for path in (secret, public):
        if os.path.lexists(path):
            raise InvalidInputError(f"{path} exists already; nothing written.")
    _write_new(secret, private, 0o600)
    _write_new(public, f"{key.public.line} {name}\n".encode(), 0o644)
    return secret, public


def _write_new(path: Path, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def _read(path: Path) -> bytes:
    if not os.path.lexists(path):
        raise KeyFileError(path, "no such key file")
    try:
        fd = open_regular(path, os.O_RDONLY)
    except FileNotFoundError:
        raise KeyFileError(path, "no such key file") from None
    except (OSError, HistoryError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else str(exc).removeprefix(f"{path}: ")
        raise KeyFileError(path, f"cannot read the key file: {why}") from None
    try:
        data = os.read(fd, _MAX_KEY_BYTES + 1)
    except OSError as exc:
        raise KeyFileError(path, f"cannot read the key file: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if len(data) > _MAX_KEY_BYTES:
        raise KeyFileError(path, f"a key file is at most {_MAX_KEY_BYTES} bytes")
    return data


def load_private(path: Path) -> PrivateKey:
    """Read an OpenSSH Ed25519 private key (``LIFECYCLE_KEY_PASSPHRASE`` decrypts it).

    Raises:
        KeyFileError: The file is missing, unreadable, encrypted without the right passphrase,
            or holds no Ed25519 private key.
    """
    data = _read(path)
    try:
        key = serialization.load_ssh_private_key(data, password=_passphrase())
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        hint = " (set LIFECYCLE_KEY_PASSPHRASE?)" if "password" in str(exc).lower() else ""
        raise KeyFileError(path, f"not a readable OpenSSH private key{hint}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(path, "not an Ed25519 key (make one with `lifecycle keys new`)")
    return private_of(key, path.stem)


def load_public(path: Path) -> PublicKey:
    """Read a one-line OpenSSH Ed25519 public key file.

    Raises:
        KeyFileError: The file is missing, unreadable, or holds no such line.
    """
    text = _read(path).decode("utf-8", errors="replace").strip()
    try:
        return parse_public(text)
    except ValueError as exc:
        raise KeyFileError(path, str(exc)) from None


def parse_public(text: str) -> PublicKey:
    """Parse ``ssh-ed25519 AAAA... [comment]``.

    Raises:
        ValueError: It is not an OpenSSH Ed25519 public key line.
    """
    parts = text.split()
    if len(parts) < 2 or parts[0] != "ssh-ed25519":
        raise ValueError("not an OpenSSH Ed25519 public key line ('ssh-ed25519 AAAA...')")
    try:
        key = serialization.load_ssh_public_key(f"{parts[0]} {parts[1]}".encode("ascii"))
    except (ValueError, UnicodeEncodeError, UnsupportedAlgorithm):
        raise ValueError("not an OpenSSH Ed25519 public key line ('ssh-ed25519 AAAA...')") from None
    if not isinstance(key, Ed25519PublicKey):  # pragma: no cover - the type word says ed25519
        raise ValueError("not an Ed25519 public key")
    return _public_of(key)


def b64(data: bytes) -> str:
    """Standard base64 with padding."""
    return base64.b64encode(data).decode("ascii")


def unb64(text: str) -> bytes:
    """Decode standard base64 strictly.

    Raises:
        ValueError: *text* is not such base64.
    """
    return base64.b64decode(text.encode("ascii"), validate=True)
