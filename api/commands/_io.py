"""Small helpers shared by the command modules: JSON to stdout."""

from __future__ import annotations

import json
from typing import Any

import click


def emit_json(payload: Any) -> None:
    """Write ``payload`` as pretty JSON on stdout (the machine-readable result)."""
    click.echo(json.dumps(payload, ensure_ascii=False, indent=2, default=str))


def say(message: str) -> None:
    """Write a human message on stderr."""
    click.echo(message, err=True)
