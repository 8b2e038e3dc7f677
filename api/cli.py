"""The ``gridplan`` command.

Each sub-command lives in its own module under :mod:`api.commands`; it parses
its options into one options object (:mod:`gis.options`), calls one flow of
:mod:`gis.pipeline` and prints.  Those modules import only :mod:`click` at the
top and load the engine inside the command body, so ``gridplan --help``
answers at once.

JSON results go to stdout; progress bars and messages go to stderr.  Errors
from the engine (:mod:`gis._errors`) become a one-line message and exit code 2.
"""

from __future__ import annotations

import sys

import click

from api.commands import (
    build,
    coverage,
    districts,
    fetch,
    report,
    respond,
    run,
    serve,
    suggest,
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="gridplan")
def cli() -> None:
    """Plan community grids and districts from OpenStreetMap data.

    \b
    Typical flow on an area folder or a bare .osm/.pbf file:
      gridplan build data/boundaries/nanjing_xinjiekou --out runs/nj
      gridplan districts runs/nj --k 25
      gridplan coverage runs/nj
      gridplan respond runs/nj
      gridplan serve runs/nj
    or all of it at once:  gridplan run
    """


for _module in (fetch, build, districts, suggest, coverage, respond, serve, report, run):
    cli.add_command(_module.command)


def main(argv: list[str] | None = None) -> int:
    """Run the command line and turn gridplan errors into clear exits."""
    from gis._errors import GridplanError

    try:
        cli.main(args=argv, prog_name="gridplan", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code or 0)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 130
    except GridplanError as exc:
        click.echo(f"gridplan: error: {exc}", err=True)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
