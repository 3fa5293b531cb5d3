"""``lifecycle demo``: a sample engagement driven end to end under ``core``, audited, and its
report written next to its history."""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .._audit import audit_file
from .._engine import Engine
from .._keyaudit import audit_signatures, trusted_keyring
from .._keyring import KEYRING_NAME, change_keyring, init_keyring
from .._keys import PrivateKey, load_private, load_public, new_key
from .._lines import format_at
from .._report import make_report, render
from ..exceptions import RefusedError
from . import _render
from ._audit import _text
from ._report import write_file

__all__ = ["run_demo"]

ENGAGEMENT = "amani-2026"
OFFICER = "a.mensah"
HEAD = "h.osei"
CONFIG = """\
# Every event must be signed; roles come from the office keyring (keyring.jsonl).
[signing]
required = true
"""

_PATH: list[tuple[str, list[str]]] = [
    ("accept-request", ["request-recorded", "entry-point-identified"]),
    (
        "complete-analysis",
        ["conflict-analysis-done", "stakeholder-map", "media-mapping", "previous-efforts-reviewed"],
    ),
    ("appoint", ["candidate-profile", "women-candidates", "impartiality-check"]),
    ("complete-induction", ["briefing-pack", "lessons-pack", "mandate-attached"]),
    ("start-support", ["themes-agreed"]),
]
_CLOSING: list[tuple[str, list[str]]] = [
    ("end-support", ["support-plan"]),
    ("complete-debriefing", ["debriefing-template", "interviewer-not-evaluator"]),
    ("close", ["lessons-recorded", "dissemination-plan"]),
]


def run_demo(env: Any, echo: Callable[[str], Any], *, workspace: Path | None) -> int:
    """Run the demo in *workspace* (a fresh temporary folder when None); return the exit code."""
    # Any: cli.Env.
    root = workspace or Path(tempfile.mkdtemp(prefix="lifecycle-demo-"))
    root.mkdir(parents=True, exist_ok=True)
    config = root / "lifecycle.toml"
    if not config.exists():
        config.write_text(CONFIG, encoding="utf-8")
    echo(f"Workspace: {root}")
    keys = _office(root, echo)
    engine, head = (
        Engine(root, plugins=env.plugins, playbook_dirs=env.playbook_dirs, key=keys[name])
        for name in (OFFICER, HEAD)
    )
    _drive(engine, head, echo)
    echo("")
    echo("Timeline")
    echo(_render.timeline(engine.history(ENGAGEMENT)))
    echo("")
    path = engine.workspace.path_of(ENGAGEMENT)
    report = audit_file(path, kinds=engine.rule_kinds, today=engine.today())
    keyring = trusted_keyring(root / KEYRING_NAME, load_public(root / "keys" / "root.pub"))
    report.findings.extend(audit_signatures(path, keyring))
    echo(f"Audit (signatures against {root / KEYRING_NAME}, trusting keys/root.pub)")
    echo(_text(report))
    echo(f"Report: {_write_report(engine, path)}")
    echo(f"audit verdict: {'OK' if report.ok else 'FAILED'}")
    return 0 if report.ok else 1


def _write_report(engine: Engine, history: Path) -> Path:
    """The engagement's track record as HTML, next to its history (``lifecycle report``)."""
    out = history.with_name(f"{ENGAGEMENT}.report.html")
    write_file(out, render(make_report(engine), "html"))
    return out


def _office(root: Path, echo: Callable[[str], Any]) -> dict[str, PrivateKey]:
    """Keys for the office root and both actors in ``<root>/keys``, and the keyring."""
    folder = root / "keys"
    if not (root / KEYRING_NAME).exists():
        folder.mkdir(exist_ok=True)
        for name in ("root", OFFICER, HEAD):
            new_key(name, folder)
        now = format_at(dt.datetime.now(dt.UTC))
        init_keyring(root / KEYRING_NAME, load_private(folder / "root.key"), now)
        for name, roles in ((OFFICER, ["officer"]), (HEAD, ["officer", "head-of-unit"])):
            entry = {"name": name, "key": load_public(folder / f"{name}.pub").line, "roles": roles}
            change_keyring(
                root / KEYRING_NAME, load_private(folder / "root.key"), "actor_added", entry, now
            )
        echo(f"Keys in {folder}; keyring {root / KEYRING_NAME} signed by keys/root.key")
    return {name: load_private(folder / f"{name}.key") for name in (OFFICER, HEAD)}


def _drive(engine: Engine, head: Engine, echo: Callable[[str], Any]) -> None:
    today = engine.today()
    engine.open(
        ENGAGEMENT,
        "core",
        actor=OFFICER,
        title="Support to the Lake Amani talks (fictional)",
        facts=["conflict=Lake Amani border dispute (fictional)", "organization.role=lead"],
    )
    echo(f"Opened {ENGAGEMENT} under core")
    for trigger, items in _PATH:
        for item in items:
            engine.check(ENGAGEMENT, item, actor=OFFICER)
        if trigger == "appoint":
            _show_refusal(engine, echo, trigger)
            engine.set_facts(
                ENGAGEMENT,
                [
                    "mandate.source=Council decision 12/2026 (fictional)",
                    "envoy=Amb. R. Tesfaye (fictional)",
                ],
                actor=OFFICER,
            )
        result = engine.advance(ENGAGEMENT, trigger, actor=OFFICER)
        echo(f"  {trigger}: now in {result.engagement.stage}")
    engine.record(
        ENGAGEMENT,
        "gender-inclusion-briefing",
        actor=OFFICER,
        on=today - dt.timedelta(days=30),
        note="Briefing with the SBT gender adviser",
    )
    engine.record(ENGAGEMENT, "reflection-retreat", actor=OFFICER, on=today - dt.timedelta(days=7))
    engine.record(
        ENGAGEMENT,
        "peer-coaching",
        actor=OFFICER,
        on=today - dt.timedelta(days=3),
        note="Session with a former envoy to the region",
    )
    try:
        engine.record(ENGAGEMENT, "training-conflict-party", actor=OFFICER)
    except RefusedError as exc:
        echo(f"  refused and recorded: {exc}")
    result = head.record(
        ENGAGEMENT,
        "training-conflict-party",
        actor=HEAD,
        override="Training delivered by a third-party provider under our mandate",
        note="Negotiation skills workshop",
    )
    echo(f"  training-conflict-party: overridden by {HEAD} (event {result.event['seq']})")
    for trigger, items in _CLOSING:
        for item in items:
            engine.check(ENGAGEMENT, item, actor=OFFICER)
        result = engine.advance(ENGAGEMENT, trigger, actor=OFFICER)
        echo(f"  {trigger}: now in {result.engagement.stage}")
    engine.note(
        ENGAGEMENT, "Engagement closed; lessons shared with the regional desk.", actor=OFFICER
    )


def _show_refusal(engine: Engine, echo: Callable[[str], Any], trigger: str) -> None:
    try:
        engine.advance(ENGAGEMENT, trigger, actor=OFFICER)
    except RefusedError as exc:
        echo(f"  refused and recorded: {exc}")
