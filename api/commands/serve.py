"""`gridplan serve [DIR]`: the HTTP API and the planner page on 127.0.0.1."""

from __future__ import annotations

import secrets
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_AREA = ROOT / "data" / "boundaries" / "nanjing_xinjiekou"
DEFAULT_DIR = ROOT / "runs" / "default"


def _prepare_default(folder: Path) -> None:
    """Build the default area into ``folder`` (build → districts → coverage)."""
    from gis.pipeline import run_all

    click.echo(f"gridplan: building the default area into {folder} (first start only)", err=True)
    run_all(DEFAULT_AREA, folder)


@click.command(name="serve")
@click.argument(
    "folder",
    required=False,
    type=click.Path(file_okay=False, path_type=Path),
)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--database-url",
    envvar="GRIDPLAN_DATABASE_URL",
    default=None,
    help="PostgreSQL+PostGIS URL (default: SQLite file STATE/gridplan.db).",
)
@click.option(
    "--state",
    "state_dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="GRIDPLAN_STATE_DIR",
    default=None,
    help="Folder of plans and uploads kept across rebuilds [DIR.state beside DIR].",
)
def command(
    folder: Path | None, port: int, database_url: str | None, state_dir: Path | None
) -> None:
    """Serve the API and the planner page for build folder FOLDER on 127.0.0.1.

    With no FOLDER, serves runs/default, building the bundled Nanjing area
    first when needed.  Tokens come from GRIDPLAN_PLANNER_TOKENS and
    GRIDPLAN_VIEWER_TOKENS; with none set, a planner token is made for this
    run and the page address printed with it.
    """
    import uvicorn

    from api.main import create_app
    from api.settings import Settings

    if folder is None:
        folder = DEFAULT_DIR
        if not (folder / "grids.geojson").exists():
            _prepare_default(folder)
    if not (folder / "grids.geojson").exists():
        raise click.ClickException(
            f"{folder} holds no grids.geojson: run `gridplan build SOURCE --out {folder}` first"
        )
    settings = Settings(data_dir=folder, database_url=database_url, state_dir=state_dir)
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
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")
