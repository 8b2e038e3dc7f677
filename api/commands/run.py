"""`gridplan run`: not written yet."""

from __future__ import annotations

import click


@click.command(name="run")
def command() -> None:
    """(Not implemented yet.)"""
    raise click.ClickException("gridplan run is not implemented yet")
