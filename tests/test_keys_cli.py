"""Keys and the keyring through the CLI (#12): keys new, ssh-keygen keys, passphrases, keyring
commands and their refusals, keyring tampering, published playbooks."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from lifecycle._lines import decode_line, encode_line
from lifecycle._playbooks import canonical_json

from conftest import run_cli


@pytest.fixture
def office(tmp_path: Path) -> dict[str, str]:
    """A workspace with a keyring (root, officer, head) made through the CLI; returns the env."""
    ws, keys = tmp_path / "ws", tmp_path / "keys"
    ws.mkdir()
    keys.mkdir()
    env = {**os.environ, "LIFECYCLE_WORKSPACE": str(ws)}
    env.pop("LIFECYCLE_KEY_PASSPHRASE", None)
    for name in ("root", "officer", "head"):
        assert run_cli("keys", "new", name, "--out", str(keys), env=env).returncode == 0
    root = ["--root", str(keys / "root.key")]
    assert run_cli("keyring", "init", *root, env=env).returncode == 0
    for name, roles in (("officer", ["officer"]), ("head", ["officer", "head-of-unit"])):
        args = ["keyring", "add", name, "--pub", str(keys / f"{name}.pub"), *root]
        done = run_cli(*args, *(a for r in roles for a in ("--role", r)), env=env)
        assert done.returncode == 0, done.stderr
    (ws / "lifecycle.toml").write_text("[signing]\nrequired = true\n")
    return env


def _keys(env: dict[str, str]) -> Path:
    return Path(env["LIFECYCLE_WORKSPACE"]).parent / "keys"


def test_keys_new_writes_private_0600_and_public_line(tmp_path: Path) -> None:
    """keys new writes NAME.key (mode 0600, OpenSSH) and NAME.pub (one line) that ssh-keygen reads."""
    done = run_cli("keys", "new", "alice", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE((tmp_path / "alice.key").stat().st_mode) == 0o600
    assert (tmp_path / "alice.key").read_text().startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    line = (tmp_path / "alice.pub").read_text()
    assert line.startswith("ssh-ed25519 ") and line.count("\n") == 1
    shown = subprocess.run(["ssh-keygen", "-lf", str(tmp_path / "alice.pub")],
                           capture_output=True, text=True, check=True)  # fmt: skip
    assert shown.stdout.split()[1] in done.stdout
    again = run_cli("keys", "new", "alice", "--out", str(tmp_path))
    assert again.returncode == 2 and "exists already" in again.stderr


def test_passphrase_protects_the_key(tmp_path: Path, office: dict[str, str]) -> None:
    """With LIFECYCLE_KEY_PASSPHRASE the key is encrypted: ssh-keygen opens it with the
    passphrase, and a command without it is a one-line usage error."""
    env = {**office, "LIFECYCLE_KEY_PASSPHRASE": "correct horse"}
    assert run_cli("keys", "new", "enc", "--out", str(tmp_path), env=env).returncode == 0
    subprocess.run(["ssh-keygen", "-y", "-P", "correct horse", "-f", str(tmp_path / "enc.key")],
                   capture_output=True, check=True)  # fmt: skip
    done = run_cli("--key", str(tmp_path / "enc.key"), "new", "e1", "--playbook", "core",
                   env=office)  # fmt: skip
    assert done.returncode == 2 and "LIFECYCLE_KEY_PASSPHRASE" in done.stderr
    assert len(done.stderr.splitlines()) == 1


def test_ssh_keygen_key_signs(tmp_path: Path, office: dict[str, str]) -> None:
    """A key made by `ssh-keygen -t ed25519` joins the keyring and signs events that audit clean."""
    assert shutil.which("ssh-keygen"), "make test installs openssh-client"
    keys = _keys(office)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "c@x", "-f",
                    str(keys / "carol")], check=True)  # fmt: skip
    add = ["keyring", "add", "carol", "--pub", str(keys / "carol.pub"), "--role", "officer",
           "--root", str(keys / "root.key")]  # fmt: skip
    assert run_cli(*add, env=office).returncode == 0
    env = {**office, "LIFECYCLE_KEY": str(keys / "carol")}
    done = run_cli("new", "e1", "--playbook", "core", env=env)
    assert done.returncode == 0, done.stderr
    ws = office["LIFECYCLE_WORKSPACE"]
    audit = run_cli("audit", ws, "--keyring", f"{ws}/keyring.jsonl", "--trust",
                    str(keys / "root.pub"), env=office)  # fmt: skip
    assert audit.returncode == 0, audit.stdout
    record = json.loads(Path(ws, "e1.history.jsonl").read_text().splitlines()[1])
    assert record["actor"] == "carol"


def test_unsigned_and_wrong_actor_are_refused(office: dict[str, str]) -> None:
    """In a workspace requiring signatures, an unsigned command and --actor naming someone else
    are refused (exit 1, one line) and write nothing."""
    keys = _keys(office)
    done = run_cli("new", "e1", "--playbook", "core", env=office)
    assert done.returncode == 1 and "requires signed events" in done.stderr
    done = run_cli("--key", str(keys / "officer.key"), "--actor", "head", "new", "e1",
                   "--playbook", "core", env=office)  # fmt: skip
    assert done.returncode == 1 and "not 'head'" in done.stderr
    assert not list(Path(office["LIFECYCLE_WORKSPACE"]).glob("*.history.jsonl"))


def test_revoke_and_show(office: dict[str, str]) -> None:
    """keyring revoke records the reason; show --json lists it; the revoked key is refused."""
    keys = _keys(office)
    root = ["--root", str(keys / "root.key")]
    done = run_cli("keyring", "revoke", "officer", "--reason", "left the office", *root, env=office)
    assert done.returncode == 0, done.stderr
    shown = json.loads(run_cli("keyring", "show", "--json", env=office).stdout)
    officer = next(k for k in shown["keys"] if k["name"] == "officer")
    assert officer["revoked"] and officer["reason"] == "left the office"
    done = run_cli("--key", str(keys / "officer.key"), "new", "e1", "--playbook", "core",
                   env=office)  # fmt: skip
    assert done.returncode == 1 and "revoked" in done.stderr
    again = run_cli("keyring", "revoke", "officer", "--reason", "twice", *root, env=office)
    assert again.returncode == 2 and "no active key" in again.stderr


def test_keyring_changes_need_the_root_key(office: dict[str, str]) -> None:
    """An actor's key cannot sign a keyring entry; an entry for a taken name is refused."""
    keys = _keys(office)
    done = run_cli("keyring", "roles", "officer", "--role", "head-of-unit", "--root",
                   str(keys / "officer.key"), env=office)  # fmt: skip
    assert done.returncode == 1 and "not the keyring's current root key" in done.stderr
    done = run_cli("keyring", "add", "officer", "--pub", str(keys / "head.pub"), "--root",
                   str(keys / "root.key"), env=office)  # fmt: skip
    assert done.returncode == 1 and "nothing written" in done.stderr


def test_root_rotation(tmp_path: Path, office: dict[str, str]) -> None:
    """After a rotation signed by old and new root, both roots verify the keyring, the old one
    can no longer change it, and the new one can."""
    keys = _keys(office)
    assert run_cli("keys", "new", "root2", "--out", str(keys), env=office).returncode == 0
    done = run_cli("keyring", "rotate", "--new-root", str(keys / "root2.key"), "--root",
                   str(keys / "root.key"), env=office)  # fmt: skip
    assert done.returncode == 0, done.stderr
    ws = office["LIFECYCLE_WORKSPACE"]
    signed = run_cli("--key", str(keys / "officer.key"), "new", "e1", "--playbook", "core",
                     env=office)  # fmt: skip
    assert signed.returncode == 0, signed.stderr
    for root in ("root.pub", "root2.pub"):
        audit = run_cli("audit", ws, "--keyring", f"{ws}/keyring.jsonl", "--trust",
                        str(keys / root), env=office)  # fmt: skip
        assert audit.returncode == 0, audit.stdout + audit.stderr
    old = run_cli("keyring", "roles", "head", "--root", str(keys / "root.key"), env=office)
    assert old.returncode == 1
    new = run_cli("keyring", "roles", "head", "--root", str(keys / "root2.key"), env=office)
    assert new.returncode == 0, new.stderr


def test_tampered_keyring_fails_the_audit(office: dict[str, str]) -> None:
    """Granting head-of-unit to the officer by editing and re-chaining the keyring fails its root
    signature: the audit refuses the keyring (exit 1), the engine refuses to sign with it."""
    ws = Path(office["LIFECYCLE_WORKSPACE"])
    path = ws / "keyring.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    record, _ = decode_line(lines[2].rstrip(b"\n"))
    record["data"]["roles"] = ["officer", "head-of-unit"]
    lines[2] = encode_line(record)
    for index in range(3, len(lines)):
        later, _ = decode_line(lines[index].rstrip(b"\n"))
        later["prev"] = decode_line(lines[index - 1].rstrip(b"\n"))[1]
        lines[index] = encode_line(later)
    path.write_bytes(b"".join(lines))
    keys = _keys(office)
    (ws / "x.history.jsonl").write_bytes(b"")
    audit = run_cli("audit", str(ws), "--keyring", str(path), "--trust", str(keys / "root.pub"),
                    env=office)  # fmt: skip
    assert audit.returncode == 1 and "root signature does not verify" in audit.stderr
    done = run_cli("--key", str(keys / "officer.key"), "new", "e1", "--playbook", "core",
                   env=office)  # fmt: skip
    assert done.returncode == 1 and "line 3" in done.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["audit", "keyring.jsonl", "--keyring", "keyring.jsonl"], "--keyring needs --trust"),
        (["--key", "nope.key", "new", "e1", "--playbook", "core"], "no such key file"),
        (["keyring", "add", "x", "--pub", "lifecycle.toml", "--root", "k"], "not an OpenSSH"),
        (["keys", "new", "bad name"], "Invalid key name"),
    ],
    ids=["keyring-without-trust", "missing-key", "bad-pub", "bad-key-name"],
)
def test_bad_input_is_one_line_exit_2(office: dict[str, str], args, message: str) -> None:
    """Bad key options are a one-line usage error (exit 2), no traceback."""
    result = run_cli(*args, cwd=Path(office["LIFECYCLE_WORKSPACE"]), env=office)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and len(result.stderr.splitlines()) == 1


def test_published_playbooks(tmp_path: Path, office: dict[str, str]) -> None:
    """--published passes a history under the installed core; a history whose embedded playbook
    was rewritten (sha256 recomputed, id@version kept) is `playbook-mismatch`; an id@version not
    published is the warning `playbook-unknown`."""
    keys, ws = _keys(office), Path(office["LIFECYCLE_WORKSPACE"])
    key = ["--key", str(keys / "officer.key")]
    assert run_cli(*key, "new", "e1", "--playbook", "core", env=office).returncode == 0
    audit = run_cli("audit", str(ws), "--published", env=office)
    assert audit.returncode == 0 and "playbook-" not in audit.stdout, audit.stdout
    empty = tmp_path / "none"
    empty.mkdir()
    audit = run_cli("audit", str(ws), "--playbooks", str(empty), env=office)
    assert audit.returncode == 0 and "playbook-unknown" in audit.stdout
    path = ws / "e1.history.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    record, _ = decode_line(lines[1].rstrip(b"\n"))
    record["data"]["playbook"]["rules"] = []
    record["data"]["playbook_sha256"] = hashlib.sha256(
        canonical_json(record["data"]["playbook"])
    ).hexdigest()
    lines[1] = encode_line(record)
    path.write_bytes(b"".join(lines))
    audit = run_cli("audit", str(ws), "--published", env=office)
    assert audit.returncode == 1 and "playbook-mismatch" in audit.stdout, audit.stdout


def _torn_signed(office: dict[str, str]) -> tuple[Path, list[str], Path, Path]:
    """A signed engagement e1 whose history ends in a torn tail: the keys' folder, the officer's
    `--key` option, the workspace and the history's path."""
    keys = _keys(office)
    key = ["--key", str(keys / "officer.key")]
    assert run_cli(*key, "new", "e1", "--playbook", "core", env=office).returncode == 0
    ws = Path(office["LIFECYCLE_WORKSPACE"])
    path = ws / "e1.history.jsonl"
    with path.open("ab") as handle:
        handle.write(b'{"seq": 2, "at": "20')  # a torn tail
    return keys, key, ws, path


def test_repair_in_a_signed_workspace_signs_the_repaired_event(office: dict[str, str]) -> None:
    """In a workspace requiring signatures, `repair` without a key is refused and changes
    nothing; with the officer's key the `repaired` event is signed, names the officer, and the
    history audits clean with the keyring."""
    keys, key, ws, path = _torn_signed(office)
    torn = path.read_bytes()
    done = run_cli("repair", str(path), env=office)
    assert done.returncode == 1 and "requires signed events" in done.stderr, done.stderr
    assert len(done.stderr.splitlines()) == 1
    assert path.read_bytes() == torn and not list(ws.glob("*.torn-*"))
    done = run_cli(*key, "repair", str(path), env=office)
    assert done.returncode == 0, done.stderr
    record, _ = decode_line(path.read_bytes().splitlines()[-1])
    assert record["type"] == "repaired" and record["actor"] == "officer" and "sig" in record
    audit = run_cli("audit", str(path), "--keyring", str(ws / "keyring.jsonl"), "--trust",
                    str(keys / "root.pub"), env=office)  # fmt: skip
    assert audit.returncode == 0, audit.stdout


def test_a_forged_signed_repair_is_caught_by_the_keyed_audit(office: dict[str, str]) -> None:
    """The signed `repaired` event edited and re-chained (another cut length) fails its
    signature, and the same event with its signature dropped is `unsigned`."""
    from test_tamper import rechain, split

    keys, key, ws, path = _torn_signed(office)
    assert run_cli(*key, "repair", str(path), env=office).returncode == 0
    signed = path.read_bytes()
    audit = ["audit", str(path), "--keyring", str(ws / "keyring.jsonl"), "--trust",
             str(keys / "root.pub")]  # fmt: skip
    forgeries = {
        "bad-signature": lambda r: r["data"].update(cut_bytes=3),
        "unsigned": lambda r: r.pop("sig"),
    }
    for code, change in forgeries.items():
        path.write_bytes(b"".join(rechain(split(signed), 2, change)))
        done = run_cli(*audit, env=office)
        assert done.returncode == 1 and code in done.stdout, (code, done.stdout)
