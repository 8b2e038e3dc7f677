"""Typed settings of the HTTP API, read from ``GRIDPLAN_*`` environment variables.

Nothing is read at import time: :func:`api.main.create_app` takes a
:class:`Settings` (or builds one from the environment when given none).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


class Settings(BaseSettings):
    """Everything the API needs to start.

    Environment variables carry the ``GRIDPLAN_`` prefix, e.g.
    ``GRIDPLAN_DATA_DIR``, ``GRIDPLAN_PLANNER_TOKENS="tok1,tok2"``.
    """

    model_config = SettingsConfigDict(env_prefix="GRIDPLAN_", extra="ignore")

    data_dir: Path = Field(description="build folder DIR served by the API")
    state_dir: Path | None = Field(
        default=None,
        description="what planners make (plans database, uploads), kept across rebuilds "
        "of DIR; default: DIR.state beside DIR",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; PostgreSQL+PostGIS when given, else "
        "STATE/gridplan.db (SQLite)",
    )
    base_url: str | None = Field(
        default=None,
        max_length=500,
        pattern=r"^https?://[^\s]+$",
        description="public address for links (e.g. behind a proxy); default: the request's",
    )
    planner_tokens: str = Field(default="", description="comma-separated planner tokens")
    viewer_tokens: str = Field(default="", description="comma-separated viewer tokens")
    open_read: bool = Field(default=True, description="reads need no token")
    cors_origins: str = Field(default="", description="comma-separated allowed origins")
    max_upload_bytes: int = Field(default=20 * 1024 * 1024, gt=0)
    max_body_bytes: int = Field(default=25 * 1024 * 1024, gt=0)
    max_unzipped_bytes: int = Field(
        default=200 * 1024 * 1024, gt=0, description="decompressed size of a zipped upload"
    )
    max_upload_features: int = Field(default=200_000, gt=0, description="features of an upload")
    max_queued_jobs: int = Field(default=8, ge=1, description="jobs waiting or running at once")
    tolerance: float = Field(default=0.02, gt=0, lt=1)
    static_dir: Path | None = Field(default=None, description="folder of the planner page")
    job_workers: int = Field(default=1, ge=1, le=8)
    warm_up: bool = Field(
        default=True, description="prepare layers and the walking state in the background at start"
    )
    tile_url: str | None = Field(
        default=None, description="basemap tile URL template for the page (none: offline basemap)"
    )
    tile_crs: Literal["wgs84", "gcj02"] = Field(
        default="wgs84", description="gcj02 for Chinese providers (AMap, Tencent)"
    )
    tile_attribution: str = Field(default="", max_length=500)
    tile_subdomains: str = Field(default="abc", max_length=20)

    @field_validator("planner_tokens", "viewer_tokens")
    @classmethod
    def _no_placeholder(cls, value: str) -> str:
        for token in _split(value):
            if token.lower() in {"changeme", "change-me", "secret", "token", "password"}:
                raise ValueError(f"{token!r} is a placeholder: set a real random token")
            if len(token) < 8:
                raise ValueError("tokens must be at least 8 characters long")
        return value

    @property
    def planners(self) -> list[str]:
        """Planner tokens."""
        return _split(self.planner_tokens)

    @property
    def viewers(self) -> list[str]:
        """Viewer tokens."""
        return _split(self.viewer_tokens)

    @property
    def origins(self) -> list[str]:
        """CORS origins (empty: CORS closed)."""
        return _split(self.cors_origins)

    @property
    def state_folder(self) -> Path:
        """Where plans, versions, jobs and uploads live (kept across rebuilds of DIR)."""
        from api.state import default_state_dir

        return Path(self.state_dir) if self.state_dir else default_state_dir(self.data_dir)

    @property
    def sqlalchemy_url(self) -> str:
        """The database URL actually used."""
        if self.database_url:
            return self.database_url
        from api.state import DATABASE_NAME

        return f"sqlite:///{(self.state_folder / DATABASE_NAME).resolve()}"
