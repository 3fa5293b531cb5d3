"""The audit's options for keys, published playbooks and signed checkpoints (#12).

Each check is a pass of its own beside the main audit: ``--keyring``/``--trust`` verify every
event's signature and authority, ``--playbooks``/``--published`` compare embedded playbooks,
``--sign-checkpoints`` prints each checkpoint as a signed note, and ``--trust`` with
``--against`` requires each saved checkpoint to be such a note, signed by a trusted key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import click

from .._audit import Checkpoint, FileReport
from .._conformance import Finding
from .._keyaudit import audit_signatures, signature_findings, trusted_keyring
from .._keyring import Keyring
from .._keys import PrivateKey, PublicKey, load_private, load_public
from .._notes import sign_note, verified_checkpoints
from .._published import (
    audit_playbook,
    catalogs_of,
    opened_data,
    playbook_findings,
    published_digests,
)
from ..exceptions import InvalidInputError

__all__ = ["KeyChecks", "key_options"]

_F = Callable[..., Any]  # Any: a click command function.
_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


def key_options(command: _F) -> _F:
    """The audit's #12 options, as one decorator."""
    options = [
        click.option("--keyring", "keyring", type=_FILE,
                     help="Verify every event's signature and authority against this keyring "
                     "(needs --trust)."),
        click.option("--trust", "trust", type=_FILE,
                     help="The office's root public key the keyring must chain to; with "
                     "--against, the key checkpoints must be signed by."),
        click.option("--playbooks", "published_dirs", multiple=True,
                     type=click.Path(exists=True, file_okay=False, path_type=Path),
                     help="Folder of published playbooks: each history's embedded playbook must "
                     "be the one published under its id@version; repeatable."),
        click.option("--published", is_flag=True,
                     help="Compare embedded playbooks with the installed catalog too."),
        click.option("--sign-checkpoints", "sign_key", type=_FILE,
                     help="Print each checkpoint as a signed note, signed with this private key."),
    ]  # fmt: skip
    for option in reversed(options):
        command = option(command)
    return command


@attrs.define
class KeyChecks:
    """What the #12 options ask of each report."""

    keyring: Keyring | None = None
    published: Mapping[str, str] | None = None
    signer: PrivateKey | None = None
    trusted: Sequence[PublicKey] = ()
    against: Mapping[str, Checkpoint] = attrs.field(factory=dict)
    verified: set[tuple[str, int, str]] | None = None

    @classmethod
    def build(cls, plugins: Any, options: Mapping[str, Any], against_text: str | None,
              against: Mapping[str, Checkpoint]) -> KeyChecks:  # fmt: skip
        """Read keys, keyring and playbooks the options name (any problem: one line, exit 2)."""
        # Any: the Plugins host and click's option values.
        trust_path, ring_path = options["trust"], options["keyring"]
        if ring_path is not None and trust_path is None:
            raise InvalidInputError("--keyring needs --trust ROOT.pub (the key it must chain to).")
        trust = load_public(trust_path) if trust_path is not None else None
        checks = cls(against=against)
        if ring_path is not None and trust is not None:
            checks.keyring = trusted_keyring(ring_path, trust)
        if options["published_dirs"] or options["published"]:
            digests, problems = published_digests(
                catalogs_of(plugins, options["published_dirs"], options["published"])
            )
            if problems:
                raise InvalidInputError(f"Published playbooks: {problems[0]}.")
            checks.published = digests
        if options["sign_key"] is not None:
            checks.signer = load_private(options["sign_key"])
        if trust is not None:
            checks.trusted = [trust, *checks._keyring_keys()]
            if against_text is not None:
                checks.verified = verified_checkpoints(against_text, checks.trusted)
        return checks

    def _keyring_keys(self) -> list[PublicKey]:
        if self.keyring is None:
            return []
        return [k.public for k in self.keyring.keys.values() if not k.revoked]

    def applied(self, reports: Iterable[FileReport], store: Any = None) -> Iterator[FileReport]:
        """Each report with the findings of the passes asked for; with *store*, the reports are
        of that store's engagements and its lines are read (a shared store, #11)."""
        # Any: a Store.
        ids = {store.label_of(e): e for e in store.engagements()} if store is not None else {}
        for report in reports:
            engagement = ids.get(report.path)
            if self.keyring is not None and report.path:
                report.findings.extend(
                    audit_signatures(Path(report.path), self.keyring)
                    if store is None
                    else signature_findings(store.lines(engagement), self.keyring)
                )
            if self.published is not None and report.path:
                report.findings.extend(
                    audit_playbook(Path(report.path), self.published)
                    if store is None
                    else playbook_findings(opened_data(store.lines(engagement)), self.published)
                )
            report.findings.extend(self._checkpoint_signature(report))
            yield report

    def _checkpoint_signature(self, report: FileReport) -> list[Finding]:
        if self.verified is None:
            return []
        stem = Path(report.path).name.removesuffix(".history.jsonl")
        cp = self.against.get(report.engagement or "") or self.against.get(stem)
        if cp is None or (cp.engagement, cp.events, cp.head) in self.verified:
            return []
        return [Finding("checkpoint-signature", "error", None,
                        f"the saved checkpoint {cp.line()!r} is not a note signed by a trusted "
                        "key: it proves nothing")]  # fmt: skip

    def note(self, report: FileReport) -> str | None:
        """The report's checkpoint as a signed note (None when not asked, or no checkpoint)."""
        cp = report.checkpoint
        if self.signer is None or cp is None:
            return None
        return sign_note(cp.line() + "\n", self.signer)

    def text(self, report: FileReport, text: str) -> str:
        """The report's text, its checkpoint line replaced by the signed note when asked."""
        note, cp = self.note(report), report.checkpoint
        if note is None or cp is None:
            return text
        indented = "\n".join(f"  {line}" if line else "" for line in note.splitlines())
        return text.replace(f"  {cp.line()}", indented)

    def json(self, report: FileReport) -> dict[str, Any]:
        """``as_json()``, with ``signed_checkpoint`` when asked."""
        # Any: a JSON object.
        data = report.as_json()
        note = self.note(report)
        if note is not None:
            data["signed_checkpoint"] = note
        return data
