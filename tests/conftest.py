"""Session-wide test set-up: no network but loopback, shared paths."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from tests import _netguard

# CI runs the same hypothesis examples every time (a failure there is reproducible);
# developers' runs explore new ones.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

ROOT = Path(__file__).resolve().parent.parent
AREAS = ROOT / "data" / "boundaries"
TEST_DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(autouse=True, scope="session")
def _no_network() -> Iterator[None]:
    """Any connection outside loopback fails the test that made it."""
    originals = _netguard.install()
    yield
    _netguard.uninstall(originals)


@pytest.fixture(scope="session")
def postgis_url() -> str:
    """URL of the local PostGIS started by scripts/test.sh.

    In CI (``CI`` set) a missing database is a failure, never a skip.
    """
    url = os.environ.get("GRIDPLAN_TEST_DATABASE_URL")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("GRIDPLAN_TEST_DATABASE_URL is not set: run the suite with scripts/test.sh")
        pytest.skip("no local PostGIS: run the suite with scripts/test.sh")
    return url


@pytest.fixture(scope="session")
def nanjing_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled Nanjing area built once a session: a plan of 10 districts, its coverage.

    Shared by every test that reads it: copy it (``shutil.copytree``) to write
    into it or to serve it with state beside it.
    """
    from gis import pipeline
    from gis.options import PlanOptions

    out = tmp_path_factory.mktemp("nanjing") / "build"
    pipeline.build(AREAS / "nanjing_xinjiekou", out)
    pipeline.draw_plan(out, PlanOptions(k=10, time_limit=5.0))
    pipeline.measure_coverage(out)
    return out
