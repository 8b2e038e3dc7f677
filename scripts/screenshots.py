"""Take the README's pictures of the planner page, in Chinese and in English.

    .venv/bin/python scripts/screenshots.py DIR [--out docs]

Serves the build folder ``DIR`` with the real app on 127.0.0.1 and opens it
in the headless Chromium the browser tests use (tests/browser_fixtures.py),
then writes ``planner-zh.png`` (districts tab) and ``planner-en.png``
(coverage tab).  Nothing leaves the machine.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.browser_fixtures import CHROMIUM, CHROMIUM_ARGS, LiveServer  # noqa: E402

SHOTS = (("zh", "districts"), ("en", "coverage"))


def main(argv: list[str] | None = None) -> int:
    """Write one screenshot per (language, tab) of :data:`SHOTS` into ``--out``."""
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="a build folder DIR (with plan.csv)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    args = parser.parse_args(argv)
    with LiveServer(args.folder) as live, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        for language, tab in SHOTS:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(f"{live.url}&lang={language}")
            page.wait_for_function("document.body.dataset.ready === '1'", timeout=60_000)
            page.locator(f'#panel nav button[data-tab="{tab}"]').click()
            page.wait_for_timeout(500)
            target = args.out / f"planner-{language}.png"
            page.screenshot(path=str(target))
            print(target, file=sys.stderr)
            page.close()
        browser.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
