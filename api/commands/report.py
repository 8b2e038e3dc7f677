"""`gridplan report DIR`: a self-contained HTML report for officials.

The flow is :func:`maps.report.write_report`.
"""

from __future__ import annotations

from pathlib import Path

import click


@click.command(name="report")
@click.argument("folder", metavar="DIR", type=click.Path(path_type=Path))
@click.option(
    "--tolerance",
    type=click.FloatRange(0, 1),
    default=0.02,
    show_default=True,
    help="Allowed population deviation (fraction) drawn on the balance chart.",
)
@click.option(
    "--language",
    type=click.Choice(["zh", "en"]),
    default=None,
    help="Report language (default: the build's, else Chinese).",
)
def command(folder: Path, tolerance: float, language: str | None) -> None:
    """Write DIR/report.html: district and coverage maps and charts that open offline.

    DIR is a build folder (`gridplan build ... --out DIR`); its plan and
    coverage are included when present. Prints {"report": path} on stdout.
    """
    from api.commands._io import emit_json, say
    from maps.report import write_report

    path = write_report(folder, tolerance=tolerance, language=language)
    say(f"report: wrote {path}")
    emit_json({"report": str(path)})
