"""Commands for playbook and plugin authors: playbooks ..., plugins ...."""

from __future__ import annotations

import click

__all__ = ["COMMANDS"]


@click.group("playbooks")
def playbooks() -> None:
    """List, show, check and draw playbooks."""


COMMANDS = (playbooks,)
