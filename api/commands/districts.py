"""`gridplan districts`: not written yet."""

from __future__ import annotations

import click


@click.command(name="districts")
def command() -> None:
    """(Not implemented yet.)"""
    raise click.ClickException("gridplan districts is not implemented yet")
