"""Helpers for signed workspaces: an office (root key, keyring, actors' keys) and raw appends by
an insider holding one actor's key."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from lifecycle import Engine
from lifecycle._keyring import Keyring, change_keyring, init_keyring, read_keyring
from lifecycle._keys import PrivateKey, generate
from lifecycle._lines import decode_line, encode_line, format_at
from lifecycle._signing import sign_event

ROLES = {"officer": ["officer"], "head": ["officer", "head-of-unit"]}
REQUIRED = "[signing]\nrequired = true\n"


class Office:
    """A workspace requiring signatures, its keyring, and a key per actor."""

    def __init__(self, root: Path, plugins, clock=None) -> None:
        self.root = root
        root.mkdir(exist_ok=True)
        (root / "lifecycle.toml").write_text(REQUIRED, encoding="utf-8")
        self.plugins, self.clock = plugins, clock
        self.root_key = generate("root")
        self.keys: dict[str, PrivateKey] = {name: generate(name) for name in ROLES}
        init_keyring(self.keyring_path, self.root_key, self.now())
        for name, roles in ROLES.items():
            self.change("actor_added", {"name": name, "key": self.keys[name].public.line,
                                        "roles": roles})  # fmt: skip

    @property
    def keyring_path(self) -> Path:
        return self.root / "keyring.jsonl"

    def now(self) -> str:
        return format_at(self.clock() if self.clock else dt.datetime.now(dt.UTC))

    def change(self, kind: str, data: dict) -> Keyring:
        return change_keyring(self.keyring_path, self.root_key, kind, data, self.now())

    def keyring(self) -> Keyring:
        return read_keyring(self.keyring_path)

    def engine(self, actor: str | None) -> Engine:
        key = self.keys[actor] if actor else None
        return Engine(self.root, plugins=self.plugins, key=key, clock=self.clock)


def append_signed(path: Path, key: PrivateKey, fields: dict) -> None:
    """Append an event signed by *key* the way an insider with that key could (chained to the
    head)."""
    lines = path.read_bytes().splitlines(keepends=True)
    header, _ = decode_line(lines[0].rstrip(b"\n"))
    last, head = decode_line(lines[-1].rstrip(b"\n"))
    record = {"seq": last["seq"] + 1, **fields, "prev": head}
    signed = sign_event(key, header["engagement"], record)
    with path.open("ab") as handle:
        handle.write(encode_line(signed))
