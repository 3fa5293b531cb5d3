"""Write tests/golden/signed.history.jsonl, signed.keyring.jsonl and signed-root.pub: a signed
engagement under `core` with a refusal and an override by head-of-unit, keys from fixed seeds,
under a fixed clock.

Run once by hand (``.venv/bin/python tests/golden/make_signed.py``) and commit the bytes; never
regenerate them to make a test pass.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from lifecycle import Engine, make_plugin_manager
from lifecycle._keyring import change_keyring, init_keyring
from lifecycle._keys import private_of
from lifecycle._lines import format_at
from lifecycle.exceptions import RefusedError

HERE = Path(__file__).parent
ENGAGEMENT = "signed"
OVERRIDE = "The council decision is delayed; the envoy must be appointed before the summit."


class Clock:
    """Starts at 2026-03-02 09:00 UTC and moves one hour every time it is read."""

    def __init__(self) -> None:
        self.now = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        self.now += dt.timedelta(hours=1)
        return self.now


def _key(name: str):
    seed = hashlib.sha256(f"lifecycle golden {name}".encode()).digest()
    return private_of(Ed25519PrivateKey.from_private_bytes(seed), name)


def main() -> None:
    folder = Path(tempfile.mkdtemp())
    clock = Clock()
    try:
        (folder / "lifecycle.toml").write_text("[signing]\nrequired = true\n")
        root, officer, head = _key("root"), _key("officer"), _key("head")
        ring = folder / "keyring.jsonl"
        init_keyring(ring, root, format_at(clock()))
        for key, roles in ((officer, ["officer"]), (head, ["officer", "head-of-unit"])):
            data = {"name": key.name, "key": key.public.line, "roles": roles}
            change_keyring(ring, root, "actor_added", data, format_at(clock()))
        pm = make_plugin_manager(load_entrypoints=False, environ={})
        mine = Engine(folder, plugins=pm, clock=clock, key=officer)
        boss = Engine(folder, plugins=pm, clock=clock, key=head)
        mine.open(ENGAGEMENT, "core", actor="officer", title="Signed golden")
        for item in ["request-recorded", "entry-point-identified"]:
            mine.check(ENGAGEMENT, item, actor="officer")
        mine.advance(ENGAGEMENT, "accept-request", actor="officer")
        mine.set_facts(ENGAGEMENT, ["envoy=Amb. Golden"], actor="officer")
        try:
            mine.advance(ENGAGEMENT, "suspend", actor="officer")
        except RefusedError:
            pass
        for item in ["conflict-analysis-done", "stakeholder-map", "media-mapping",
                     "previous-efforts-reviewed"]:  # fmt: skip
            mine.check(ENGAGEMENT, item, actor="officer")
        mine.advance(ENGAGEMENT, "complete-analysis", actor="officer")
        for item in ["candidate-profile", "women-candidates", "impartiality-check"]:
            mine.check(ENGAGEMENT, item, actor="officer")
        try:
            mine.advance(ENGAGEMENT, "appoint", actor="officer")
        except RefusedError:
            pass
        boss.advance(ENGAGEMENT, "appoint", actor="head", override=OVERRIDE)
        mine.note(ENGAGEMENT, "Appointed; induction next.", actor="officer")
        shutil.copy(folder / f"{ENGAGEMENT}.history.jsonl", HERE / "signed.history.jsonl")
        shutil.copy(ring, HERE / "signed.keyring.jsonl")
        (HERE / "signed-root.pub").write_text(root.public.line + " root\n")
    finally:
        shutil.rmtree(folder)


if __name__ == "__main__":
    main()
