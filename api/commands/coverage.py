"""`gridplan coverage`: not written yet."""

from __future__ import annotations

import click


@click.command(name="coverage")
def command() -> None:
    """(Not implemented yet.)"""
    raise click.ClickException("gridplan coverage is not implemented yet")
