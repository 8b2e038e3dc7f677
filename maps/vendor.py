"""Copy the web map's browser assets from ``maps/node_modules`` to ``maps/static/vendor``.

Run by ``scripts/setup.sh`` after ``npm ci`` as ``python -m maps.vendor``.  The
page and the reports then load Leaflet from ``/static/vendor/leaflet/`` (or
inline it), never from a CDN, so everything works with no internet.

Only the files the page needs are copied; the vendor folder is rebuilt from
scratch each run so a stale file never lingers.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

MAPS = Path(__file__).resolve().parent
NODE_MODULES = MAPS / "node_modules"
VENDOR = MAPS / "static" / "vendor"

#: package name -> (files or folders under the package, relative to it), copied as-is.
ASSETS: dict[str, tuple[str, ...]] = {
    "leaflet": (
        "dist/leaflet.js",
        "dist/leaflet.css",
        "dist/images",
        "LICENSE",
    ),
}


class VendorError(FileNotFoundError):
    """The npm packages are not installed, or lack a file the page needs."""


def vendor(*, node_modules: Path = NODE_MODULES, target: Path = VENDOR) -> list[Path]:
    """Copy :data:`ASSETS` from ``node_modules`` into ``target``.

    Parameters
    ----------
    node_modules
        The ``node_modules`` folder ``npm ci`` filled.
    target
        The vendor folder served at ``/static/vendor``; replaced whole.

    Returns
    -------
    list of Path
        The copied files and folders, in ``target``.

    Raises
    ------
    VendorError
        When ``node_modules`` or one of the assets is missing.
    """
    if not node_modules.is_dir():
        raise VendorError(
            f"{node_modules} does not exist: run `npm ci` in {node_modules.parent} first "
            "(scripts/setup.sh does both)"
        )
    sources = []
    for package, files in ASSETS.items():
        for rel in files:
            src = node_modules / package / rel
            if not src.exists():
                raise VendorError(f"{src} is missing: run `npm ci` in {node_modules.parent} again")
            sources.append((package, rel, src))
    if target.exists():
        shutil.rmtree(target)
    copied = []
    for package, rel, src in sources:
        dest = target / package / Path(rel).name
        dest.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dest)
        else:
            shutil.copyfile(src, dest)
        copied.append(dest)
    versions = {
        package: json.loads((node_modules / package / "package.json").read_text())["version"]
        for package in ASSETS
    }
    (target / "versions.json").write_text(json.dumps(versions, indent=2) + "\n")
    return copied


def main() -> int:
    """Command-line entry point: copy, report on stderr, exit 1 on a missing package."""
    try:
        copied = vendor()
    except VendorError as exc:
        print(f"maps.vendor: error: {exc}", file=sys.stderr)
        return 1
    print(f"maps.vendor: copied {len(copied)} assets to {VENDOR}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
