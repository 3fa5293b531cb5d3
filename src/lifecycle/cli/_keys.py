"""Commands for keys and the office keyring: keys new; keyring init, add, roles, revoke, rotate,
show (#12)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import click

from .._inputs import ACTOR_NAME, check_actor
from .._keyring import KEYRING_NAME, Keyring, change_keyring, init_keyring, read_keyring
from .._keys import load_private, load_public, new_key
from .._lines import format_at
from ..exceptions import InvalidInputError
from ._render import escape

__all__ = ["COMMANDS"]


def _env() -> Any:
    # Any: cli.Env.
    return click.get_current_context().obj


def _now() -> str:
    return format_at(dt.datetime.now(dt.UTC))


def _file(file: Path | None) -> Path:
    return file if file is not None else Path(_env().workspace) / KEYRING_NAME


_FILE = click.option(
    "--file",
    type=click.Path(dir_okay=False, path_type=Path),
    help=f"The keyring file (default: <workspace>/{KEYRING_NAME}).",
)
_ROOT = click.option(
    "--root",
    "root",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The office's root private key, which signs the entry.",
)


@click.group("keys")
def keys() -> None:
    """Ed25519 keys: every event a key signs names the keyring's actor for it."""


@keys.command("new")
@click.argument("name")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Folder to write NAME.key and NAME.pub in.",
)
def keys_new(name: str, out: Path) -> None:
    """Write NAME.key (OpenSSH private key, mode 0600; encrypted with LIFECYCLE_KEY_PASSPHRASE
    when set) and NAME.pub (one OpenSSH public key line)."""
    secret, public = new_key(_name(name, "key"), out)
    fingerprint = load_public(public).fingerprint
    click.echo(f"Wrote {secret} and {public} ({fingerprint})")


@click.group("keyring")
def keyring() -> None:
    """The office keyring: actors, their public keys and roles, signed by the root key."""


@keyring.command("init")
@_ROOT
@_FILE
def keyring_init(root: Path, file: Path | None) -> None:
    """Create a keyring whose root is ROOT.key."""
    key = load_private(root)
    path = _file(file)
    init_keyring(path, key, _now())
    click.echo(f"Created {path} with root key {key.public.fingerprint}")


@keyring.command("add")
@click.argument("name")
@click.option(
    "--pub",
    "pub",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The actor's public key (NAME.pub, or an ssh-keygen .pub).",
)
@click.option("--role", "roles", multiple=True, help="A role the actor holds; repeatable.")
@_ROOT
@_FILE
def keyring_add(
    name: str, pub: Path, roles: tuple[str, ...], root: Path, file: Path | None
) -> None:
    """Add actor NAME with a public key and roles."""
    public = load_public(pub)
    data = {"name": check_actor(name), "key": public.line, "roles": _roles(roles)}
    _change(root, file, "actor_added", data, f"Added {name} ({public.fingerprint})")


@keyring.command("roles")
@click.argument("name")
@click.option("--role", "roles", multiple=True, help="A role the actor holds; repeatable.")
@_ROOT
@_FILE
def keyring_roles(name: str, roles: tuple[str, ...], root: Path, file: Path | None) -> None:
    """Replace the roles of actor NAME (no --role: none)."""
    data = {"name": check_actor(name), "roles": _roles(roles)}
    _change(root, file, "roles_changed", data, f"Roles of {name}: {', '.join(roles) or 'none'}")


@keyring.command("revoke")
@click.argument("name")
@click.option("--reason", required=True, help="Why the key is revoked.")
@_ROOT
@_FILE
def keyring_revoke(name: str, reason: str, root: Path, file: Path | None) -> None:
    """Revoke the key of actor NAME: events it signs from now on are audit errors."""
    if not reason.strip():
        raise InvalidInputError("Give a --reason for the revocation.")
    ring = read_keyring(_file(file))
    info = ring.active_key(check_actor(name))
    if info is None:
        raise InvalidInputError(f"Actor {name!r} has no active key in {_file(file)}.")
    data = {"name": name, "key": info.public.fingerprint, "reason": reason.strip()}
    _change(root, file, "key_revoked", data, f"Revoked {name}'s key {info.public.fingerprint}")


@keyring.command("rotate")
@click.option(
    "--new-root",
    "new_root",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The new root private key (signs the entry with the old one).",
)
@_ROOT
@_FILE
def keyring_rotate(new_root: Path, root: Path, file: Path | None) -> None:
    """Replace the root key; the entry is signed by the old and the new root."""
    new = load_private(new_root)
    path = _file(file)
    change_keyring(path, load_private(root), "root_rotated", {"key": new.public.line}, _now(), new)
    click.echo(f"Rotated the root of {path} to {new.public.fingerprint}")


@keyring.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (docs/cli.md).")
@_FILE
def keyring_show(as_json: bool, file: Path | None) -> None:
    """Show the keyring's root, actors, keys and roles (after verifying it)."""
    ring = read_keyring(_file(file))
    data = _shown(ring)
    if as_json:
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    click.echo(f"root {data['root']} ({data['entries']} entries)")
    for key in data["keys"]:
        state = f"revoked {key['revoked']}: {key['reason']}" if key["revoked"] else "active"
        roles = ", ".join(key["roles"]) or "no roles"
        click.echo(escape(f"  {key['name']:<20} {key['fingerprint']}  {roles}  ({state})"))


def _shown(ring: Keyring) -> dict[str, Any]:
    # Any: a JSON object.
    assert ring.root is not None  # a keyring read has a root
    return {
        "root": ring.root.fingerprint,
        "roots": ring.roots,
        "entries": ring.head_seq,
        "keys": [
            {
                "name": info.name,
                "fingerprint": fingerprint,
                "key": info.public.line,
                "roles": list(ring.roles_at(info.name)),
                "added": info.added,
                "revoked": info.revoked,
                "reason": info.reason or None,
            }
            for fingerprint, info in ring.keys.items()
        ],
    }


def _roles(roles: tuple[str, ...]) -> list[str]:
    for role in roles:
        _name(role, "role")  # role names follow the same rule as actor names
    return list(roles)


def _name(name: str, what: str) -> str:
    if not ACTOR_NAME.fullmatch(name):
        raise InvalidInputError(
            f"Invalid {what} name {name!r}: use letters, digits, '.', '_' and '-' (at most 128), "
            "starting with a letter or digit."
        )
    return name


def _change(root: Path, file: Path | None, kind: str, data: dict[str, Any], done: str) -> None:
    # Any: a JSON object.
    change_keyring(_file(file), load_private(root), kind, data, _now())
    click.echo(escape(done))


COMMANDS = (keys, keyring)
