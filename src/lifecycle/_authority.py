"""Who is acting, with what roles, and the signature on what they write (#12).

The engine asks this module three things: whether *actor* may act with the key given (the
keyring's name for that key, and signing when the workspace requires it), the roles of an actor
(the keyring's when the workspace has one, else ``lifecycle.toml``'s), and the finished fields of
an event (``seq``, ``prev`` and its ``sig``, which binds the event to its place and history).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

import attrs

from ._config import CONFIG_NAME, Config, parse_config
from ._lines import encode_hashed, header_record
from ._store import FileStore, Store
from .exceptions import HistoryError, KeyringError, RefusedError

if TYPE_CHECKING:  # keys and signatures (cryptography) are imported only where they are used
    from ._history import Session
    from ._keyring import Keyring
    from ._keys import PrivateKey

KEYRING_NAME: Final = "keyring.jsonl"  # as _keyring.KEYRING_NAME (a test holds them equal)

__all__ = ["Authority"]


@attrs.define
class Authority:
    """The signing policy of one workspace, for one key (or none).

    The keyring and ``lifecycle.toml`` are read through the store's settings, so every user of a
    shared store (PostgreSQL) sees the same ones (docs/stores.md); on files they are the
    workspace folder's ``keyring.jsonl`` and ``lifecycle.toml``.
    """

    store: Store
    key: PrivateKey | None = None
    _keyring: Keyring | None = attrs.field(default=None, init=False)
    _raw: bytes | None = attrs.field(default=None, init=False)
    _parsed: Config | None = attrs.field(default=None, init=False)
    _config_raw: bytes | None = attrs.field(default=None, init=False)

    @property
    def keyring_path(self) -> str:
        """Where the keyring is: ``<workspace>/keyring.jsonl``, or the store's settings."""
        return self._label(KEYRING_NAME)

    def _label(self, name: str) -> str:
        if isinstance(self.store, FileStore):
            return str(self.store.workspace.root / name)
        return f"{self.store.label} (settings {name})"

    @property
    def keyring(self) -> Keyring | None:
        """The workspace's keyring, verified against its own root (None when it has none).

        Read again whenever its bytes changed (an engine may outlive a keyring change).
        """
        try:
            raw = self.store.settings(KEYRING_NAME)
        except HistoryError as exc:
            raise KeyringError(self.keyring_path, str(exc)) from None
        if raw is None:
            self._keyring, self._raw = None, None
            return None
        if raw != self._raw or self._keyring is None:
            from ._keyring import parse_keyring

            self._keyring, self._raw = parse_keyring(self.keyring_path, raw), raw
        return self._keyring

    def _config(self) -> Config:
        raw = self.store.settings(CONFIG_NAME)
        if raw is None:
            return Config()
        if raw != self._config_raw or self._parsed is None:  # parsed again when it changed
            self._parsed, self._config_raw = parse_config(raw, self._label(CONFIG_NAME)), raw
        return self._parsed

    @property
    def required(self) -> bool:
        """Whether ``lifecycle.toml`` says ``[signing] required = true``."""
        return self._config().signing.required

    def warnings(self) -> list[str]:
        """What the user should know: roles in both the keyring and ``lifecycle.toml``."""
        if self.keyring is not None and self._config().actors:
            return [
                f"{self.keyring_path} holds the roles: the [actors] roles of lifecycle.toml "
                "are ignored"
            ]
        return []

    def name(self) -> str | None:
        """The keyring's name for the key (None without a key).

        Raises:
            RefusedError: The workspace has no keyring, or the key is not an active key of it.
        """
        if self.key is None:
            return None
        keyring = self.keyring
        fingerprint = self.key.public.fingerprint
        if keyring is None:
            raise RefusedError(
                f"Cannot sign with {fingerprint}: the workspace has no keyring "
                f"({self.keyring_path}; create it with `lifecycle keyring init`)."
            )
        info = keyring.keys.get(fingerprint)
        if info is None or info.revoked:
            what = "is not in" if info is None else f"was revoked ({info.reason}) in"
            raise RefusedError(f"The key {fingerprint} {what} the keyring; nothing written.")
        return info.name

    def check_actor(self, actor: str) -> None:
        """Refuse, before anything is written, an actor the key does not prove.

        Raises:
            RefusedError: *actor* is not the keyring's name for the key, or the workspace
                requires signatures and no key was given.
        """
        name = self.name()
        if name is None and self.required:
            raise RefusedError(
                "This workspace requires signed events ([signing] required = true in "
                "lifecycle.toml): give --key FILE (or LIFECYCLE_KEY); nothing written."
            )
        if name is not None and actor != name:
            raise RefusedError(
                f"The keyring names this key {name!r}, not {actor!r}; nothing written."
            )

    def roles_of(self, actor: str) -> tuple[str, ...] | None:
        """The keyring's roles for *actor* now (None when the workspace has no keyring)."""
        keyring = self.keyring
        return None if keyring is None else keyring.roles_at(actor)

    def first(self, engagement: str, at: str, fields: Mapping[str, Any]) -> Mapping[str, Any]:
        """:meth:`finish` for event 1 of a new history created at *at* (its header's hash is
        its ``prev``)."""
        # Any: records are JSON objects.
        if self.key is None:
            return fields
        return self.finish(engagement, fields, 1, encode_hashed(header_record(engagement, at))[1])

    def next(
        self, engagement: str, session: Session, fields: Mapping[str, Any]
    ) -> Mapping[str, Any]:
        """:meth:`finish` for the event *session* appends next (under its lock)."""
        # Any: records are JSON objects.
        return self.finish(engagement, fields, session.head_seq + 1, session.head_hash)

    def finish(
        self, engagement: str, fields: Mapping[str, Any], seq: int, prev: str
    ) -> Mapping[str, Any]:
        """The event's fields as stored: signed, with ``seq`` and ``prev``, when there is a key.

        The store fills ``seq`` and ``prev`` in again, with the same values, in place.
        """
        # Any: records are JSON objects.
        if self.key is None:
            return fields
        from ._signing import sign_event

        return sign_event(self.key, engagement, {"seq": seq, **fields, "prev": prev})
