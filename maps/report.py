"""A self-contained HTML report of a build folder, for officials who will not use the editor.

:func:`write_report` is the main flow: read the folder's layers, tally each
district, draw two folium maps (districts; walking coverage) and two charts
(district balance against the tolerance band; share of households within 5,
10 and 15 minutes per district), and write ``DIR/report.html`` atomically.

The page opens offline: folium normally links Leaflet, jQuery and Bootstrap
from CDNs; here every map drops those links and the page carries Leaflet's
JavaScript and CSS (copied from npm by ``python -m maps.vendor``) inline, with
its images as data URIs.  The charts are PNGs drawn with matplotlib's object
API (no pyplot state) and embedded as base64.
"""

from __future__ import annotations

import base64
import html
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from maps.colours import grid_colours, palette
from maps.numbers import percent, whole

VENDOR = Path(__file__).resolve().parent / "static" / "vendor" / "leaflet"

#: Walking-time classes (upper bound in seconds, colour); ``None`` = unreachable.
WALK_CLASSES: tuple[tuple[float, str], ...] = (
    (300.0, "#1a9850"),
    (600.0, "#91cf60"),
    (900.0, "#fee08b"),
    (float("inf"), "#fc8d59"),
)
UNREACHABLE = "#d73027"

#: URLs that may appear in the report as text (namespaces, attribution links), never fetched.
ALLOWED_URL_PREFIXES = (
    "http://www.w3.org/",
    "https://leafletjs.com",
    "https://www.openstreetmap.org/copyright",
)

TEXT = {
    "zh": {
        "title": "网格规划报告",
        "summary": "概况",
        "grids": "网格数",
        "districts": "片区数",
        "population": "人口",
        "households": "户数",
        "max_dev": "最大人口偏差",
        "tolerance": "允许偏差",
        "district_map": "片区划分",
        "coverage_map": "步行覆盖",
        "balance": "片区人口均衡",
        "coverage": "各片区步行可达户数比例",
        "table": "片区明细",
        "district": "片区",
        "deviation": "偏差",
        "contiguous": "连片",
        "pp": "紧凑度 (Polsby-Popper)",
        "within": "分钟内",
        "unreachable": "不可达",
        "more": "15 分钟以上",
        "yes": "是",
        "no": "否",
        "grid": "网格",
        "walk": "步行时间",
        "service": "服务点",
        "site": "建议新址",
        "gap": "覆盖缺口",
        "coverage_figures": "覆盖指标",
        "source": "数据 © OpenStreetMap 贡献者",
        "minutes": "分钟",
        "communities": "社区边界",
        "buildings": "楼栋",
        "profile_adult": "成年人",
        "profile_elderly": "老年人",
        "speed": "{v} 米/秒",
        "uncovered": "未覆盖户数及原因",
        "cause_far": "离服务点太远",
        "cause_piece": "所在路网片段无服务点",
        "cause_geometry": "无几何形状",
        "pieces": "无服务点的路网片段(可能缺少桥梁、隧道或渡口)",
        "piece": "片段",
        "street_m": "道路长度 (米)",
        "near": "位置",
        "private": "仅经私有道路相连",
    },
    "en": {
        "title": "Grid planning report",
        "summary": "Summary",
        "grids": "Grids",
        "districts": "Districts",
        "population": "Population",
        "households": "Households",
        "max_dev": "Largest population deviation",
        "tolerance": "Tolerance",
        "district_map": "Districts",
        "coverage_map": "Walking coverage",
        "balance": "District population balance",
        "coverage": "Share of households within walking time, by district",
        "table": "Districts in detail",
        "district": "District",
        "deviation": "Deviation",
        "contiguous": "Contiguous",
        "pp": "Compactness (Polsby-Popper)",
        "within": "min or less",
        "unreachable": "unreachable",
        "more": "over 15 min",
        "yes": "yes",
        "no": "no",
        "grid": "Grid",
        "walk": "Walking time",
        "service": "Service point",
        "site": "Suggested site",
        "gap": "Coverage gap",
        "coverage_figures": "Coverage figures",
        "source": "Data © OpenStreetMap contributors",
        "minutes": "min",
        "communities": "Community boundaries",
        "buildings": "Buildings",
        "profile_adult": "adults",
        "profile_elderly": "elderly people",
        "speed": "{v} m/s",
        "uncovered": "Uncovered households by cause",
        "cause_far": "far from any service point",
        "cause_piece": "on a network piece without one",
        "cause_geometry": "no geometry",
        "pieces": "Network pieces without a service point (a bridge, tunnel or ferry may be "
        "missing from the data)",
        "piece": "Piece",
        "street_m": "Street (m)",
        "near": "Near",
        "private": "joined only by private ways",
    },
}


@dataclass(frozen=True)
class ReportData:
    """The layers and tallies a report is drawn from (all WGS 84)."""

    name: str
    language: str
    grids: Any  # GeoDataFrame with ``district``
    districts: pd.DataFrame  # one row per district
    buildings: Any | None  # GeoDataFrame with ``district`` and ``walk_s``, or None
    layers: dict[str, Any]  # optional: streets, communities, pois, isochrones, gaps, sites
    coverage: dict[str, Any]
    tolerance: float
    colours: dict[int, str]  # district -> colour, by adjacency (maps.colours), as on the page


def write_report(
    folder: str | Path, *, tolerance: float = 0.02, language: str | None = None
) -> Path:
    """Write ``folder/report.html`` and return its path.

    Parameters
    ----------
    folder
        A build folder ``DIR`` holding at least ``grids.geojson``; a plan
        (``plan.csv``) and coverage (``walk_s`` in ``buildings.geojson``) are
        used when present.
    tolerance
        Allowed population deviation (fraction) drawn as the band on the chart.
    language
        ``"zh"`` or ``"en"``; defaults to the build's language, else Chinese.

    Returns
    -------
    Path
        The report's path.
    """
    from gis.outputs import BuildFolder, write_text

    data = load(folder, tolerance=tolerance, language=language)
    page = render(data)
    target = BuildFolder(folder).file("report")
    write_text(target, page)
    return target


def load(folder: str | Path, *, tolerance: float, language: str | None) -> ReportData:
    """Read what the report needs from ``folder`` and tally each district."""
    from gis.outputs import BuildFolder

    build = BuildFolder(folder)
    meta = build.meta()
    grids = build.layer("grids")
    grids["code"] = grids["code"].astype(str)
    plan_path = build.file("plan")
    if plan_path.exists():
        plan = pd.read_csv(plan_path, dtype={"grid": str})
        grids = grids.merge(plan.rename(columns={"grid": "code"}), on="code", how="left")
    if "district" not in grids:
        grids["district"] = 1
    grids["district"] = grids["district"].fillna(0).astype(int)
    buildings = build.read("buildings", required=False)
    if buildings is not None:
        buildings["grid"] = buildings["grid"].astype(str)
        buildings = buildings.merge(
            grids[["code", "district"]].rename(columns={"code": "grid"}), on="grid", how="left"
        )
        if "walk_s" not in buildings:
            buildings["walk_s"] = None
    layers = {
        name: build.read(name, required=False)
        for name in ("streets", "communities", "pois", "isochrones", "gaps", "sites")
    }
    coverage = build.coverage()
    extra = build.read("districts", required=False)
    lang = language or meta.get("language") or "zh"
    return ReportData(
        name=str(meta.get("name") or build.path.name),
        language=lang if lang in TEXT else "en",
        grids=grids,
        districts=tally_districts(grids, None if extra is None else extra.drop(columns="geometry")),
        buildings=buildings,
        layers={k: v for k, v in layers.items() if v is not None and not v.empty},
        coverage=coverage,
        tolerance=tolerance,
        colours=grid_colours(grids),
    )


def tally_districts(grids: pd.DataFrame, extra: pd.DataFrame | None = None) -> pd.DataFrame:
    """Population, households and signed deviation per district.

    Parameters
    ----------
    grids
        One row per grid with ``district``, ``population`` and ``households``.
    extra
        Optional per-district columns (``polsby_popper``, ``contiguous``) from
        ``districts.geojson``, joined on ``district``.

    Returns
    -------
    DataFrame
        Indexed 0..k-1, sorted by district, with ``district``, ``grids``,
        ``population``, ``households``, ``deviation`` (fraction of the ideal).
    """
    out = (
        grids.groupby("district")
        .agg(
            grids=("code", "size"),
            population=("population", "sum"),
            households=("households", "sum"),
        )
        .reset_index()
        .sort_values("district")
        .reset_index(drop=True)
    )
    ideal = out["population"].sum() / max(len(out), 1)
    out["deviation"] = out["population"] / ideal - 1 if ideal else 0.0
    if extra is not None and "district" in extra:
        keep = [c for c in ("district", "polsby_popper", "contiguous") if c in extra]
        extra = extra[keep].assign(district=extra["district"].astype(int))
        out = out.merge(extra, on="district", how="left")
    return out


def walk_colour(walk_s: float | None) -> str:
    """The colour class of a walking time in seconds (``None``/NaN: unreachable)."""
    if walk_s is None or pd.isna(walk_s):
        return UNREACHABLE
    for bound, colour in WALK_CLASSES:
        if walk_s <= bound:
            return colour
    return WALK_CLASSES[-1][1]


def render(data: ReportData) -> str:
    """The report page as one self-contained HTML string."""
    import branca.element as be

    t = TEXT[data.language]
    fig = be.Figure(title=f"{data.name} · {t['title']}")
    fig.header.add_child(be.Element(_inline_leaflet()), name="leaflet_inline")
    fig.header.add_child(be.Element(f"<style>{_CSS}</style>"), name="report_css")
    # Children of the figure render in order, each appending its HTML to the body.
    parts: list[Any] = [
        _summary_html(data),
        f"<h2>{t['district_map']}</h2>",
        _districts_map(data),
        _district_legend(data),
        _chart_html(balance_chart(data), t["balance"]),
    ]
    if data.buildings is not None:
        parts += [f"<h2>{t['coverage_map']}</h2>", _coverage_map(data), _walk_legend(t)]
        if data.buildings["walk_s"].notna().any():
            parts.append(_chart_html(coverage_chart(data), t["coverage"]))
        if data.coverage.get("uncovered_by_cause"):
            parts += [_chart_html(uncovered_chart(data), t["uncovered"]), _pieces_html(data)]
    parts += [_table_html(data), f"<footer>{t['source']}</footer>"]
    for i, part in enumerate(parts):
        fig.add_child(_block(part) if isinstance(part, str) else part, name=f"part_{i}")
    lang = "zh-CN" if data.language == "zh" else "en"
    page = fig.render().replace("<html>", f'<html lang="{lang}">', 1)
    check_offline(page)
    return page


def _block(text: str) -> Any:
    """A figure child that appends ``text`` to the page body when rendered."""
    import branca.element as be

    block: Any = be.MacroElement()
    block._template = be.Template("{% macro html(this, kwargs) %}{{ this.text }}{% endmacro %}")
    block.text = text
    return block


def _metric_scale() -> Any:
    """A Leaflet scale bar in metres only (folium's ``control_scale`` adds feet and miles)."""
    import branca.element as be

    scale = be.MacroElement()
    scale._template = be.Template(
        "{% macro script(this, kwargs) %}"
        "L.control.scale({imperial: false}).addTo({{ this._parent.get_name() }});"
        "{% endmacro %}"
    )
    return scale


def _inline_leaflet() -> str:
    """Leaflet's CSS (images as data URIs) and JS as inline tags."""
    js_path, css_path = VENDOR / "leaflet.js", VENDOR / "leaflet.css"
    if not js_path.exists() or not css_path.exists():
        raise FileNotFoundError(
            f"{VENDOR} lacks leaflet.js/leaflet.css: run `bash scripts/setup.sh` "
            "(npm ci in maps/, then python -m maps.vendor)"
        )
    css = re.sub(r"/\*.*?\*/", "", css_path.read_text("utf-8"), flags=re.S)  # drop comments

    def to_data_uri(match: re.Match[str]) -> str:
        image = VENDOR / match.group(1)
        b64 = base64.b64encode(image.read_bytes()).decode()
        return f"url(data:image/png;base64,{b64})"

    css = re.sub(r"url\((images/[\w.-]+\.png)\)", to_data_uri, css)
    js = js_path.read_text("utf-8").replace("//# sourceMappingURL=leaflet.js.map", "")
    icons = {
        key: "data:image/png;base64,"
        + base64.b64encode((VENDOR / "images" / name).read_bytes()).decode()
        for key, name in (
            ("iconUrl", "marker-icon.png"),
            ("iconRetinaUrl", "marker-icon-2x.png"),
            ("shadowUrl", "marker-shadow.png"),
        )
    }
    # Leaflet builds marker icon URLs from a detected folder: point it at data URIs instead.
    icon_js = f'L.Icon.Default.imagePath = ""; L.Icon.Default.mergeOptions({json.dumps(icons)});'
    return f"<style>{css}</style>\n<script>{js}\n{icon_js}</script>"


def check_offline(page: str) -> None:
    """Raise if ``page`` would load anything from the network.

    Looks for tags that load a resource (``<script src>``, ``<link href>``,
    ``<img src>``...), CSS ``url(http...)`` and ``@import``, and for any http(s)
    URL outside :data:`ALLOWED_URL_PREFIXES` (plain links such as Leaflet's
    attribution are allowed there).
    """
    loads = re.findall(
        r"<(?:script|link|img|iframe|source|video|audio|embed|object)\b[^>]*?"
        r"(?:src|href|data)\s*=\s*[\"']?\s*https?:|url\(\s*[\"']?\s*https?:|@import",
        page,
        flags=re.I,
    )
    urls = [
        u
        for u in re.findall(r"https?://[^\s\"'<>)]+", page)
        if not u.startswith(ALLOWED_URL_PREFIXES)
    ]
    if loads or urls:
        raise ValueError(f"report would reach the network: {urls[:5] or loads[:5]}")


def _new_map(data: ReportData) -> Any:
    import folium

    m = folium.Map(tiles=None, height="520px", prefer_canvas=True)
    m.default_js = []  # Leaflet is inlined in the page header instead of CDN links
    m.default_css = []
    _metric_scale().add_to(m)  # the page's scale bar: metres only, no feet in a Chinese report
    minx, miny, maxx, maxy = data.grids.total_bounds
    m.fit_bounds([[miny, minx], [maxy, maxx]])
    _add_basemap(m, data)
    return m


def _add_basemap(m: Any, data: ReportData) -> None:
    """Draw the area's own streets and community outlines under everything else."""
    import folium

    streets = data.layers.get("streets")
    if streets is not None:
        folium.GeoJson(
            streets[["geometry"]],
            name="streets",
            style_function=lambda _f: {"color": "#9a9a9a", "weight": 1, "opacity": 0.8},
            control=False,
            interactive=False,
        ).add_to(m)


def _districts_map(data: ReportData) -> Any:
    import folium

    t = TEXT[data.language]
    m = _new_map(data)
    cols = ["code", "district", "population", "households", "geometry"]
    grids = data.grids[cols]
    folium.GeoJson(
        grids,
        name=t["district_map"],
        style_function=lambda f: {
            "fillColor": data.colours[int(f["properties"]["district"])],
            "color": "#ffffff",
            "weight": 0.6,
            "fillOpacity": palette()["fill_opacity"],
        },
        tooltip=folium.GeoJsonTooltip(
            fields=["code", "district", "population", "households"],
            aliases=[t["grid"], t["district"], t["population"], t["households"]],
        ),
    ).add_to(m)
    communities = data.layers.get("communities")
    if communities is not None:
        folium.GeoJson(
            communities[["geometry"]],
            name=t["communities"],
            style_function=lambda _f: {
                "color": "#333333",
                "weight": 2,
                "dashArray": "6 4",
                "fill": False,
            },
            interactive=False,
        ).add_to(m)
    # District labels at a point inside each district's largest grid cluster.
    metric = data.grids.to_crs(data.grids.estimate_utm_crs())
    labels = metric.dissolve("district").representative_point().to_crs("EPSG:4326")
    for district, point in labels.items():
        folium.Marker(
            [point.y, point.x],
            icon=folium.DivIcon(
                html=f'<div class="dlabel">{int(district)}</div>',
                icon_size=(28, 18),
                icon_anchor=(14, 9),
            ),
        ).add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    return m


def _coverage_map(data: ReportData) -> Any:
    import folium

    t = TEXT[data.language]
    m = _new_map(data)
    folium.GeoJson(
        data.grids[["geometry"]],
        name=t["grid"],
        style_function=lambda _f: {"color": "#777777", "weight": 0.5, "fill": False},
        interactive=False,
    ).add_to(m)
    iso = data.layers.get("isochrones")
    if iso is not None and "minutes" in iso:
        for minutes in sorted(iso["minutes"].dropna().unique(), reverse=True):
            folium.GeoJson(
                iso.loc[iso["minutes"] == minutes, ["geometry"]],
                name=f"{int(minutes)} {t['minutes']}",
                show=bool(minutes == 10),  # the others one click away in the layer control
                style_function=lambda _f: {
                    "color": "#2c7bb6",
                    "weight": 1,
                    "fillOpacity": 0.08,
                },
                interactive=False,
            ).add_to(m)
    assert data.buildings is not None  # the coverage map is drawn only with buildings
    b = data.buildings.copy()
    b["walk_min"] = (b["walk_s"].astype(float) / 60).round(1)
    folium.GeoJson(
        b[["grid", "district", "households", "walk_s", "walk_min", "geometry"]],
        name=t["walk"],
        style_function=lambda f: {
            "fillColor": walk_colour(f["properties"]["walk_s"]),
            "color": walk_colour(f["properties"]["walk_s"]),
            "weight": 0.5,
            "fillOpacity": 0.85,
        },
        tooltip=folium.GeoJsonTooltip(
            fields=["grid", "district", "households", "walk_min"],
            aliases=[t["grid"], t["district"], t["households"], f"{t['walk']} ({t['minutes']})"],
        ),
    ).add_to(m)
    gaps = data.layers.get("gaps")
    if gaps is not None:
        folium.GeoJson(
            gaps[["geometry"]],
            name=t["gap"],
            style_function=lambda _f: {"color": UNREACHABLE, "weight": 2, "fill": False},
            interactive=False,
        ).add_to(m)
    for key, colour in (("pois", "#2c7bb6"), ("sites", "#7b3294")):
        layer = data.layers.get(key)
        if layer is None:
            continue
        group = folium.FeatureGroup(name=t["service" if key == "pois" else "site"])
        for point in layer.geometry.representative_point():
            folium.CircleMarker(
                [point.y, point.x],
                radius=6 if key == "sites" else 4,
                color=colour,
                fill=True,
                fill_opacity=0.9,
            ).add_to(group)
        group.add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    return m


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=110, layout="constrained")
    return fig


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


_FONTS: Any = {"font.family": ["Noto Sans CJK SC", "Noto Sans CJK JP", "DejaVu Sans"]}


def balance_chart(data: ReportData) -> bytes:
    """PNG bar chart of each district's signed deviation against the tolerance band."""
    import matplotlib

    t = TEXT[data.language]
    d = data.districts
    with matplotlib.rc_context(_FONTS):
        fig = _figure(max(6.0, 0.28 * len(d) + 2), 3.4)
        ax = fig.add_subplot()
        tol = data.tolerance * 100
        ax.axhspan(-tol, tol, color="#d9f0d3", label=f"{t['tolerance']} ±{tol:g}%")
        dev = d["deviation"] * 100
        colours = ["#4e79a7" if abs(v) <= tol else "#e15759" for v in dev]
        ax.bar(d["district"].astype(str), dev, color=colours)
        ax.axhline(0, color="#333333", linewidth=0.8)
        ax.set_xlabel(t["district"])
        ax.set_ylabel(f"{t['deviation']} (%)")
        ax.set_title(t["balance"])
        ax.legend(loc="upper right", fontsize=8)
        return _png(fig)


def coverage_chart(data: ReportData) -> bytes:
    """PNG stacked bars: share of each district's households by walking-time class."""
    import matplotlib
    import numpy as np

    t = TEXT[data.language]
    b = data.buildings
    assert b is not None  # the chart is drawn only with buildings
    walk = b["walk_s"].astype(float)
    bounds = [300.0, 600.0, 900.0]
    classes = np.select(
        [walk <= bounds[0], walk <= bounds[1], walk <= bounds[2], walk.notna()],
        [0, 1, 2, 3],
        default=4,
    )
    table = (
        pd.DataFrame({"district": b["district"], "cls": classes, "hh": b["households"]})
        .pivot_table(index="district", columns="cls", values="hh", aggfunc="sum", fill_value=0)
        .reindex(columns=range(5), fill_value=0)
    )
    share = table.div(table.sum(axis=1).replace(0, 1), axis=0) * 100
    labels = [f"≤5 {t['minutes']}", f"≤10 {t['minutes']}", f"≤15 {t['minutes']}", t["more"]]
    labels.append(t["unreachable"])
    colours = [c for _, c in WALK_CLASSES] + [UNREACHABLE]
    with matplotlib.rc_context(_FONTS):
        fig = _figure(max(6.0, 0.28 * len(share) + 2), 3.4)
        ax = fig.add_subplot()
        bottom = np.zeros(len(share))
        x = share.index.astype(int).astype(str)
        for cls in range(5):
            ax.bar(x, share[cls], bottom=bottom, color=colours[cls], label=labels[cls])
            bottom += share[cls].to_numpy()
        ax.set_ylim(0, 100)
        ax.set_xlabel(t["district"])
        ax.set_ylabel("%")
        ax.set_title(t["coverage"])
        fig.legend(loc="outside lower center", fontsize=8, ncols=5, frameon=False)
        return _png(fig)


def uncovered_chart(data: ReportData) -> bytes:
    """PNG horizontal stacked bars: uncovered households per threshold, by cause."""
    import matplotlib
    import numpy as np

    t = TEXT[data.language]
    causes = data.coverage["uncovered_by_cause"]
    minutes = sorted(causes, key=float)
    keys = [
        ("far", t["cause_far"], "#fdae61"),
        ("no_service_on_piece", t["cause_piece"], "#d7191c"),
    ]
    keys.append(("no_geometry", t["cause_geometry"], "#999999"))
    with matplotlib.rc_context(_FONTS):
        fig = _figure(7.0, 0.5 * len(minutes) + 1.6)
        ax = fig.add_subplot()
        left = np.zeros(len(minutes))
        y = [f"> {m} {t['minutes']}" for m in minutes]
        for key, label, colour in keys:
            hh = np.array([causes[m][key]["households"] for m in minutes], dtype=float)
            ax.barh(y, hh, left=left, color=colour, label=label)
            left += hh
        ax.set_xlabel(t["households"])
        ax.set_title(t["uncovered"])
        fig.legend(loc="outside lower center", fontsize=8, ncols=3, frameon=False)
        return _png(fig)


def _pieces_html(data: ReportData) -> str:
    """The network pieces with buildings but no service point, as a table."""
    t = TEXT[data.language]
    pieces = (data.coverage.get("network") or {}).get("pieces_without_service") or []
    if not pieces:
        return ""
    rows = "".join(
        f"<tr><td>{p['piece']}</td><td>{p['length_m']:,.0f}</td><td>{p['buildings']:,.0f}</td>"
        f"<td>{p['households']:,.0f}</td><td>{p['center'][1]:.5f}, {p['center'][0]:.5f}</td>"
        f"<td>{t['private'] if p.get('joined_by_private_ways') else ''}</td></tr>"
        for p in pieces[:50]
    )
    head = "".join(
        f"<th>{html.escape(h)}</th>"
        for h in (t["piece"], t["street_m"], t["buildings"], t["households"], t["near"], "")
    )
    return (
        f"<h3>{html.escape(t['pieces'])}</h3><table class='summary'><tr>{head}</tr>{rows}</table>"
    )


def _chart_html(png: bytes, alt: str) -> str:
    b64 = base64.b64encode(png).decode()
    return f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{b64}"></figure>'


def _summary_html(data: ReportData) -> str:
    t = TEXT[data.language]
    d = data.districts
    rows = [
        (t["grids"], whole(len(data.grids))),
        (t["districts"], whole(len(d))),
        (t["population"], whole(d["population"].sum())),
        (t["households"], whole(d["households"].sum())),
        (t["max_dev"], percent(d["deviation"].abs().max(), signed=False)),
        (t["tolerance"], f"±{data.tolerance * 100:g}%"),
    ]
    if data.buildings is not None and data.buildings["walk_s"].notna().any():
        b = data.buildings
        total = b["households"].sum() or 1
        for minutes in (5, 10, 15):
            within = b.loc[b["walk_s"].astype(float) <= minutes * 60, "households"].sum()
            rows.append((f"≤{minutes} {t['minutes']}", percent(within / total, signed=False)))
    cells = "".join(f"<tr><th>{html.escape(k)}</th><td>{v}</td></tr>" for k, v in rows)
    return (
        f"<h1>{html.escape(data.name)} · {t['title']}</h1>"
        f"<h2>{t['summary']}</h2><table class='summary'>{cells}</table>"
        + _coverage_figures_html(data)
    )


def _coverage_figures_html(data: ReportData) -> str:
    """Coverage figures of ``coverage.json`` as a small table.

    For the shape ``gis.coverage`` writes (``profiles`` → ``area`` → ``within``),
    the share of households (else people, else buildings) within each time for
    every walking profile; otherwise any top-level numbers.
    """
    t = TEXT[data.language]
    flat: list[tuple[str, str]] = []
    for name, prof in (data.coverage.get("profiles") or {}).items():
        within = (prof.get("area") or {}).get("within") or {}
        for minutes in sorted(within, key=float):
            w = within[minutes]
            for q in ("households", "population", "buildings"):
                if w.get(f"{q}_share") is not None:
                    speed = t["speed"].format(v=prof.get("speed_m_s", "?"))
                    label = f"{t.get(f'profile_{name}', name)} ({speed}): {t.get(q, q)}"
                    share = percent(w[f"{q}_share"], signed=False)
                    flat.append((f"{label} ≤{minutes} {t['minutes']}", share))
                    break
    for key, value in ({} if flat else data.coverage).items():
        if isinstance(value, bool | int | float | str):
            flat.append((key, f"{value:,}" if isinstance(value, int) else str(value)))
        elif isinstance(value, dict) and all(isinstance(v, int | float) for v in value.values()):
            flat.extend((f"{key} {k}", f"{v:g}") for k, v in value.items())
    if not flat:
        return ""
    cells = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in flat)
    return f"<h2>{t['coverage_figures']}</h2><table class='summary'>{cells}</table>"


def _district_legend(data: ReportData) -> str:
    items = "".join(
        f'<span class="chip"><i style="background:{data.colours[int(d)]}"></i>{int(d)}</span>'
        for d in data.districts["district"]
    )
    return f'<div class="legend">{items}</div>'


def _walk_legend(t: dict[str, str]) -> str:
    labels = [f"≤5 {t['minutes']}", f"≤10 {t['minutes']}", f"≤15 {t['minutes']}", t["more"]]
    colours = [c for _, c in WALK_CLASSES]
    items = [
        f'<span class="chip"><i style="background:{c}"></i>{html.escape(label)}</span>'
        for label, c in zip(labels, colours, strict=True)
    ]
    items.append(
        f'<span class="chip"><i style="background:{UNREACHABLE}"></i>{t["unreachable"]}</span>'
    )
    return f'<div class="legend">{"".join(items)}</div>'


def _table_html(data: ReportData) -> str:
    t = TEXT[data.language]
    d = data.districts
    head = [t["district"], t["grids"], t["population"], t["households"], t["deviation"]]
    has_pp, has_contig = "polsby_popper" in d, "contiguous" in d
    if has_pp:
        head.append(t["pp"])
    if has_contig:
        head.append(t["contiguous"])
    rows = []
    for r in d.itertuples(index=False):
        outside = abs(r.deviation) > data.tolerance
        cells = [
            str(int(r.district)),
            whole(r.grids),
            whole(r.population),
            whole(r.households),
            f'<span class="{"bad" if outside else ""}">{percent(r.deviation)}</span>',
        ]
        if has_pp:
            cells.append("" if pd.isna(r.polsby_popper) else f"{r.polsby_popper:.2f}")
        if has_contig:
            cells.append("" if pd.isna(r.contiguous) else t["yes" if r.contiguous else "no"])
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    thead = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    return (
        f"<h2>{t['table']}</h2><table class='districts'><thead><tr>{thead}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


_CSS = """
body { font-family: "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", system-ui, sans-serif;
       max-width: 1100px; margin: 0 auto; padding: 0 16px 32px; color: #222; }
h1 { font-size: 1.6em; margin-top: 24px; }
h2 { font-size: 1.2em; margin-top: 28px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
table { border-collapse: collapse; font-size: 0.92em; }
th, td { padding: 3px 10px; border-bottom: 1px solid #eee; text-align: right; }
table.summary th { text-align: left; font-weight: normal; color: #555; }
figure { margin: 12px 0; } figure img { max-width: 100%; }
.folium-map { border: 1px solid #ccc; }
.legend { margin: 6px 0 12px; font-size: 0.9em; }
.chip { display: inline-block; margin-right: 12px; }
.chip i { display: inline-block; width: 12px; height: 12px; margin-right: 4px;
          vertical-align: -1px; border: 1px solid #999; }
.dlabel { font: bold 12px sans-serif; color: #111; text-align: center;
          background: rgba(255,255,255,0.8); border-radius: 3px; }
.bad { color: #c0392b; font-weight: bold; }
footer { margin-top: 32px; font-size: 0.85em; color: #777; }
"""
