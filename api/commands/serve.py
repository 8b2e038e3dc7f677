"""`gridplan serve [DIR]`: the HTTP API and the planner page on 127.0.0.1."""

from __future__ import annotations

import secrets
import socket
from pathlib import Path

import click

from api.commands._options import Fraction, state_option

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_AREA = ROOT / "data" / "boundaries" / "nanjing_xinjiekou"
DEFAULT_DIR = ROOT / "runs" / "default"


def _prepare_default(folder: Path) -> float:
    """Build the default area into ``folder`` (build → districts → coverage).

    Returns the tolerance its districts were drawn with (the area manifest's).
    """
    from gis.pipeline import run_all

    click.echo(f"gridplan: building the default area into {folder} (first start only)", err=True)
    return float(run_all(DEFAULT_AREA, folder)["districts"]["tolerance"])


def bind(port: int) -> socket.socket:
    """A socket listening on 127.0.0.1:``port``, or a :class:`PortInUseError` saying what to do."""
    from gis._errors import PortInUseError

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
    try:
        sock.bind(("127.0.0.1", port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise PortInUseError(
            f"cannot listen on 127.0.0.1:{port} ({exc.strerror or exc}): another program uses "
            f"the port; stop it, or pass another one such as --port {port % 65535 + 1}"
        ) from None
    return sock


@click.command(name="serve")
@click.argument("folder", metavar="DIR", required=False, type=click.Path(path_type=Path))
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--database-url",
    envvar="GRIDPLAN_DATABASE_URL",
    default=None,
    help="PostgreSQL+PostGIS URL (default: SQLite file STATE/gridplan.db).",
)
@state_option
@click.option(
    "--tolerance",
    type=Fraction(),
    envvar="GRIDPLAN_TOLERANCE",
    default=None,
    help="Population tolerance of the plan loaded from DIR/plan.csv, e.g. 0.05 = ±5% [0.02; "
    "`gridplan run` gives the one its districts were drawn with].",
)
def command(
    folder: Path | None,
    port: int,
    database_url: str | None,
    state_dir: Path | None,
    tolerance: float | None = None,
) -> None:
    """Serve the API and the planner page for the build folder DIR on 127.0.0.1.

    With no DIR, serves runs/default, building the bundled Nanjing area
    first when needed.  Tokens come from GRIDPLAN_PLANNER_TOKENS and
    GRIDPLAN_VIEWER_TOKENS; with none set, a planner token is made for this
    run and the page address printed with it, once the port is listening.
    A port taken by another program exits with status 2.
    """
    import uvicorn

    from api.main import create_app
    from api.settings import Settings
    from gis.outputs import BuildFolder

    if folder is None:
        folder = DEFAULT_DIR
        if not (folder / "grids.geojson").exists():
            tolerance = tolerance or _prepare_default(folder)
    BuildFolder(folder).require("grids", what="serve")
    sock = bind(port)  # before anything is printed: a taken port is an error, not a promise
    settings = Settings(data_dir=folder, database_url=database_url, state_dir=state_dir)
    if tolerance is not None:  # checked by Fraction; GRIDPLAN_TOLERANCE is read here too
        settings = settings.model_copy(update={"tolerance": tolerance})
    token = None
    if not settings.planners and not settings.viewers:
        token = secrets.token_urlsafe(24)
        settings = settings.model_copy(update={"planner_tokens": token})
    app = create_app(settings)
    address = f"http://127.0.0.1:{port}/"
    click.echo(
        f"gridplan: serving {folder} ({app.state.store.backend}; plans and uploads in "
        f"{settings.state_folder})",
        err=True,
    )
    if token:
        click.echo(f"gridplan: open {address}?token={token}", err=True)
    else:
        click.echo(f"gridplan: open {address} (tokens from GRIDPLAN_*_TOKENS)", err=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    server.run(sockets=[sock])
