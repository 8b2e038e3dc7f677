"""`gridplan suggest`: not written yet."""

from __future__ import annotations

import click


@click.command(name="suggest")
def command() -> None:
    """(Not implemented yet.)"""
    raise click.ClickException("gridplan suggest is not implemented yet")
