"""`gridplan build`: not written yet."""

from __future__ import annotations

import click


@click.command(name="build")
def command() -> None:
    """(Not implemented yet.)"""
    raise click.ClickException("gridplan build is not implemented yet")
