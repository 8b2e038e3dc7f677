"""Small helpers shared by the command modules: JSON to stdout, shared options."""

from __future__ import annotations

from typing import Any

import click

from api.commands._options import Fraction


def emit_json(payload: Any) -> None:
    """Write ``payload`` as pretty JSON on stdout (the machine-readable result)."""
    from gis.outputs import dump_json

    click.echo(dump_json(payload))


def say(message: str) -> None:
    """Write a human message on stderr."""
    click.echo(message, err=True)


#: ``--tolerance``, as ``districts`` and ``suggest`` take it (a finite fraction in (0, 1)).
tolerance_option = click.option(
    "--tolerance",
    type=Fraction(),
    default=0.02,
    show_default=True,
    help="Allowed deviation from the ideal, as a fraction (0.02 = ±2%).",
)
