"""Walking coverage: gridplan against networkx and pandana on the same inputs.

Run::

    .venv/bin/python benchmarks/bench_coverage.py            # real areas + generated
    .venv/bin/python benchmarks/bench_coverage.py --quick    # real areas only

For every case the same walk network (gridplan's, so the graphs are equal) is
given to

* gridplan: one multi-source Dijkstra for the nearest service point and one
  more for the exact second nearest, then per-building distances;
* networkx: ``single_source_dijkstra_path_length`` once per service point
  (on the generated case only for a sample of service points, extrapolated,
  plus one ``multi_source_dijkstra_path_length`` run for the nearest);
* pandana: contraction-hierarchy preparation plus ``nearest_pois`` (2 nearest)
  with the service points placed at network nodes, as pandana requires.

Distances are compared per building (networkx) or per node (pandana); times
are medians of ``--repeat`` runs for gridplan and single runs for the peers.
Prints one JSON document on stdout (after pandana's own progress output) and,
with ``--out FILE``, writes it to FILE.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import shapely

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gis import outputs  # noqa: E402
from gis.access import Snap, snap_xy  # noqa: E402
from gis.coverage import default_services  # noqa: E402
from gis.network import WalkNetwork, build_walk_network  # noqa: E402
from gis.paths import distances_from, nearest_sources, single_source_reach  # noqa: E402
from gis.siting import coverage_matrix, greedy_max_coverage  # noqa: E402


def _max_diff(a: np.ndarray, b: np.ndarray) -> float | str:
    """Largest |a - b| where both are finite; a message when they differ in what is reached."""
    if not (np.isinf(a) == np.isinf(b)).all():
        return f"reach differs for {int((np.isinf(a) != np.isinf(b)).sum())} items"
    both = np.isfinite(a)
    return float(np.max(np.abs(a[both] - b[both]))) if both.any() else 0.0


def _median_time(fn, repeat: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def generated_case(*, side: int, n_buildings: int, n_services: int, seed: int, pieces: int = 4):
    """A jittered lattice street network with ~10% of edges removed, cut into
    ``pieces`` vertical stripes that no street joins; random points, and no
    service point in the last stripe (its buildings have no walk)."""
    rng = np.random.default_rng(seed)
    spacing = 60.0
    ii, jj = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
    xy = np.stack([ii.ravel() * spacing, jj.ravel() * spacing], axis=1)
    xy += rng.uniform(-12, 12, size=xy.shape)
    xy += np.array([400000.0, 3500000.0])
    idx = np.arange(side * side).reshape(side, side)
    a = np.concatenate([idx[:-1, :].ravel(), idx[:, :-1].ravel()])
    b = np.concatenate([idx[1:, :].ravel(), idx[:, 1:].ravel()])
    stripe = np.minimum(ii.ravel() * pieces // side, pieces - 1)
    keep = (rng.random(a.size) > 0.1) & (stripe[a] == stripe[b])
    a, b = a[keep], b[keep]
    lines = shapely.linestrings(np.stack([xy[a], xy[b]], axis=1))
    streets = gpd.GeoDataFrame(
        {"highway": np.full(len(lines), "residential")}, geometry=lines, crs="EPSG:32650"
    )
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    bxy = rng.uniform(lo, hi, size=(n_buildings, 2))
    last = lo[0] + (hi[0] - lo[0]) * (pieces - 1) / pieces
    sxy = rng.uniform(lo, [last - 2 * spacing, hi[1]], size=(n_services, 2))
    return streets, bxy, sxy


# --------------------------------------------------------------------------- peers


def nx_graph(net: WalkNetwork) -> nx.Graph:
    g = nx.Graph()
    g.add_nodes_from(range(net.n_nodes))
    g.add_weighted_edges_from(zip(net.u.tolist(), net.v.tolist(), net.length.tolist(), strict=True))
    return g


def nx_per_source(
    net: WalkNetwork, g: nx.Graph, services: Snap, buildings: Snap, which: np.ndarray
) -> np.ndarray:
    """(len(which), B) building distances, one networkx Dijkstra per service point."""
    out = np.full((which.size, len(buildings)), np.inf)
    bu, bv = net.u[buildings.edge], net.v[buildings.edge]
    via_u = buildings.t + buildings.access
    via_v = net.length[buildings.edge] - buildings.t + buildings.access
    for row, j in enumerate(which):
        e = services.edge[j]
        a, b = int(net.u[e]), int(net.v[e])
        g.add_edge("s", a, weight=float(services.access[j] + services.t[j]))
        g.add_edge("s", b, weight=float(services.access[j] + net.length[e] - services.t[j]))
        lengths = nx.single_source_dijkstra_path_length(g, "s", weight="weight")
        g.remove_node("s")
        node_d = np.full(net.n_nodes, np.inf)
        keys = np.fromiter((k for k in lengths if k != "s"), dtype=np.int64)
        node_d[keys] = [lengths[k] for k in keys]
        d = np.minimum(node_d[bu] + via_u, node_d[bv] + via_v)
        same = buildings.edge == e
        direct = (
            np.abs(buildings.t[same] - services.t[j]) + buildings.access[same] + services.access[j]
        )
        d[same] = np.minimum(d[same], direct)
        out[row] = d
    return out


def nx_multi_source(net: WalkNetwork, g: nx.Graph, services: Snap) -> np.ndarray:
    """Nearest-service node distances in one networkx multi-source run (virtual nodes)."""
    h = g.copy()
    for j in range(len(services)):
        e = services.edge[j]
        h.add_edge(("s", j), int(net.u[e]), weight=float(services.access[j] + services.t[j]))
        h.add_edge(
            ("s", j),
            int(net.v[e]),
            weight=float(services.access[j] + net.length[e] - services.t[j]),
        )
    # virtual nodes are leaves, so no path passes through one
    lengths = nx.multi_source_dijkstra_path_length(h, [("s", j) for j in range(len(services))])
    node_d = np.full(net.n_nodes, np.inf)
    for k, d in lengths.items():
        if not isinstance(k, tuple):
            node_d[k] = d
    return node_d


def pandana_case(net: WalkNetwork, service_nodes: np.ndarray, max_dist: float) -> dict[str, Any]:
    import pandana
    import pandas as pd

    t0 = time.perf_counter()
    nodes = pd.DataFrame({"x": net.xy[:, 0], "y": net.xy[:, 1]})
    edges = pd.DataFrame({"from": net.u, "to": net.v, "length": net.length})
    p = pandana.Network(
        nodes["x"], nodes["y"], edges["from"], edges["to"], edges[["length"]], twoway=True
    )
    prep = time.perf_counter() - t0
    t0 = time.perf_counter()
    p.set_pois("svc", max_dist, 2, net.xy[service_nodes, 0], net.xy[service_nodes, 1])
    res = p.nearest_pois(max_dist, "svc", num_pois=2)
    query = time.perf_counter() - t0
    d = res[[1, 2]].to_numpy(dtype=float, copy=True)
    d[d >= max_dist] = np.inf
    return {"prepare_s": prep, "query_s": query, "d": d}


# --------------------------------------------------------------------------- cases


def run_case(
    name: str,
    streets: gpd.GeoDataFrame,
    b_xy: np.ndarray,
    s_xy: np.ndarray,
    *,
    crs: Any,
    repeat: int,
    nx_sample: int | None,
    sites: int | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {"case": name}
    t0 = time.perf_counter()
    net = build_walk_network(streets, crs=crs)
    out["network_build_s"] = round(time.perf_counter() - t0, 3)
    out["nodes"], out["edges"] = net.n_nodes, net.n_edges
    out["pieces"] = net.n_pieces
    out["buildings"], out["services"] = len(b_xy), len(s_xy)

    def gp():
        b = snap_xy(net, b_xy)
        s = snap_xy(net, s_xy)
        return b, s, distances_from(net, s, b)

    t_gp, (b_snap, s_snap, walks) = _median_time(gp, repeat)
    d1, d2 = walks.d1, walks.d2
    out["buildings_without_walk"] = int(np.isinf(d1).sum())
    t_paths, _ = _median_time(lambda: distances_from(net, s_snap, b_snap), repeat)
    out["gridplan_snap_and_paths_s"] = round(t_gp, 4)
    out["gridplan_paths_only_s"] = round(t_paths, 4)

    # networkx, one Dijkstra per service point
    g = nx_graph(net)
    which = np.arange(len(s_snap))
    if nx_sample is not None and nx_sample < len(s_snap):
        which = np.sort(np.random.default_rng(1).choice(len(s_snap), nx_sample, replace=False))
    t0 = time.perf_counter()
    per = nx_per_source(net, g, s_snap, b_snap, which)
    t_nx = time.perf_counter() - t0
    scale = len(s_snap) / which.size
    out["networkx_per_source_s"] = round(t_nx * scale, 2)
    out["networkx_per_source_measured"] = f"{which.size} of {len(s_snap)} sources"
    if which.size == len(s_snap):
        srt = np.sort(per, axis=0)
        r1 = srt[0]
        r2 = srt[1] if len(s_snap) > 1 else np.full(len(b_snap), np.inf)
        out["max_abs_diff_d1_m"] = _max_diff(d1, r1)
        out["max_abs_diff_d2_m"] = _max_diff(d2, r2)
    else:
        # each sampled source's distance bounds d1 from above and equals it where it is nearest
        lower = per.min(axis=0)
        out["sampled_sources_never_closer_than_d1"] = bool((lower >= d1 - 0.01).all())
    t0 = time.perf_counter()
    node_nx = nx_multi_source(net, g, s_snap)
    out["networkx_multi_source_s"] = round(time.perf_counter() - t0, 2)
    node_gp = nearest_sources(net, s_snap)
    out["max_abs_diff_node_d1_vs_networkx_multi_m"] = _max_diff(node_nx, node_gp.d1)
    # per building from networkx's node distances (same-edge services directly)
    e = b_snap.edge
    b_nx = np.minimum(
        node_nx[net.u[e]] + b_snap.t + b_snap.access,
        node_nx[net.v[e]] + net.length[e] - b_snap.t + b_snap.access,
    )
    for j in range(len(s_snap)):
        same = e == s_snap.edge[j]
        direct = np.abs(b_snap.t[same] - s_snap.t[j]) + b_snap.access[same] + s_snap.access[j]
        b_nx[same] = np.minimum(b_nx[same], direct)
    out["max_abs_diff_building_d1_vs_networkx_multi_m"] = _max_diff(b_nx, d1)
    out["ratio_networkx_per_source"] = round(out["networkx_per_source_s"] / t_paths, 1)
    out["ratio_networkx_multi_source"] = round(out["networkx_multi_source_s"] / t_paths, 1)

    # pandana: services at network nodes on both sides
    service_nodes = np.unique(
        np.where(s_snap.t < net.length[s_snap.edge] / 2, net.u[s_snap.edge], net.v[s_snap.edge])
    )
    at_nodes = snap_xy(net, net.xy[service_nodes])
    t_nodes, nodes_gp = _median_time(lambda: nearest_sources(net, at_nodes), repeat)
    try:
        max_dist = 3000.0  # pandana searches up to a bound; 15 minutes is 1,125 m
        pd_res = pandana_case(net, service_nodes, max_dist=max_dist)
        out["pandana_prepare_s"] = round(pd_res["prepare_s"], 3)
        out["pandana_query_s"] = round(pd_res["query_s"], 3)
        out["gridplan_node_2nearest_s"] = round(t_nodes, 4)
        ref = np.stack([nodes_gp.d1, nodes_gp.d2], axis=1)
        ref[ref >= max_dist] = np.inf
        both = np.isfinite(ref) & np.isfinite(pd_res["d"])
        out["pandana_max_dist_m"] = max_dist
        out["pandana_same_reach"] = bool((np.isfinite(ref) == np.isfinite(pd_res["d"])).all())
        out["max_abs_diff_vs_pandana_m"] = float(np.max(np.abs(ref[both] - pd_res["d"][both])))
        out["ratio_pandana_total"] = round((pd_res["prepare_s"] + pd_res["query_s"]) / t_nodes, 1)
        out["ratio_pandana_query"] = round(pd_res["query_s"] / t_nodes, 1)
    except ImportError as exc:  # pragma: no cover - reported
        out["pandana"] = f"not available: {exc}"

    if sites:
        out.update(site_timing(net, b_snap, d1, sites, radius=375.0, repeat=repeat))
    return out


def site_timing(
    net: WalkNetwork, b_snap: Snap, d1: np.ndarray, n_cand: int, *, radius: float, repeat: int
) -> dict[str, Any]:
    rng = np.random.default_rng(3)
    unc = np.flatnonzero(~(d1 <= radius))
    cand_nodes = rng.choice(net.n_nodes, n_cand, replace=False)
    cands = snap_xy(net, net.xy[cand_nodes])
    demand = b_snap.subset(unc)
    w = np.ones(unc.size)

    def run():
        cover = coverage_matrix(net, cands, demand, radius=radius)
        return greedy_max_coverage(cover, w, k=20)

    t, (_chosen, gains) = _median_time(run, repeat)
    t_wi, _ = _median_time(
        lambda: single_source_reach(net, cands.subset([0]), b_snap, limit=1125.0), repeat
    )
    return {
        "sites_candidates": n_cand,
        "sites_uncovered_buildings": int(unc.size),
        "sites_suggest_20_s": round(t, 3),
        "sites_gain_first": float(gains[0]) if gains.size else 0.0,
        "what_if_s": round(t_wi, 4),
    }


def real_area(folder: Path, *, repeat: int) -> dict[str, Any]:
    buildings = outputs.read_layer(folder, "buildings")
    streets = outputs.read_layer(folder, "streets")
    pois = outputs.read_layer(folder, "pois", required=False)
    crs = outputs.read_meta(folder).get("crs") or buildings.estimate_utm_crs()
    services, _ = default_services(pois)
    bm = buildings.to_crs(crs)
    ok = ~bm.geometry.is_empty.to_numpy()
    b_xy = shapely.get_coordinates(shapely.point_on_surface(bm.geometry.values[ok]))
    s_xy = shapely.get_coordinates(shapely.point_on_surface(services.to_crs(crs).geometry.values))
    return run_case(folder.name, streets, b_xy, s_xy, crs=crs, repeat=repeat, nx_sample=None)


def polygon_comparison(folder: Path, *, widths=(25.0, 50.0, 100.0)) -> dict[str, Any]:
    """How display polygons misstate per-building coverage on a real area."""
    from gis.coverage import compute_coverage
    from gis.isochrones import hull_polygon, isochrone_polygon, polygon_agreement, reached_pieces

    buildings = outputs.read_layer(folder, "buildings")
    streets = outputs.read_layer(folder, "streets")
    pois = outputs.read_layer(folder, "pois", required=False)
    crs = outputs.read_meta(folder).get("crs") or buildings.estimate_utm_crs()
    services, _ = default_services(pois)
    res = compute_coverage(
        buildings,
        streets,
        services,
        crs=crs,
        profiles=("adult",),
        n_sites=0,
        barriers=outputs.read_layer(folder, "barriers", required=False),
        entrances=outputs.read_layer(folder, "entrances", required=False),
    )
    bm = buildings.to_crs(crs)
    ok = ~bm.geometry.is_empty.to_numpy()
    pts = shapely.get_coordinates(shapely.point_on_surface(bm.geometry.values[ok]))
    dist = res.state.dist[ok]
    out: dict[str, Any] = {"case": folder.name, "buildings": int(ok.sum()), "thresholds": {}}
    for minutes, radius in res.state.radii.items():
        truth = dist <= radius
        pieces = reached_pieces(res.network, res.nodes, res.services, radius=radius)
        row: dict[str, Any] = {"distance_m": radius, "covered": int(truth.sum())}
        for w in widths:
            row[f"edge_buffer_{w:g}m"] = polygon_agreement(
                isochrone_polygon(pieces, width_m=w), pts, truth
            )
        row["convex_hull"] = polygon_agreement(
            hull_polygon(res.network, res.nodes, radius=radius), pts, truth
        )
        out["thresholds"][str(minutes)] = row
    return out


def reference_agreement(path: Path, *, n_services: int = 15, seed: int = 7) -> dict[str, Any]:
    """compute_coverage on a raw OSM extract (with its barriers and entrances, every
    piece kept) against the independent brute-force per-piece computation of
    tests/access_reference.py (OSM node ids, networkx): every building's walk."""
    import gzip
    import shutil
    import tempfile

    from gis.coverage import compute_coverage
    from tests.access_reference import gridplan_inputs, read_extract, reference_walks

    with tempfile.TemporaryDirectory() as tmp:
        if path.name.endswith(".gz"):  # gis.sources reads .osm.gz once issue 11 lands
            plain = Path(tmp) / path.name.removesuffix(".gz")
            with gzip.open(path, "rb") as src, plain.open("wb") as dst:
                shutil.copyfileobj(src, dst)
        else:
            plain = path
        t0 = time.perf_counter()
        ex = read_extract(plain)
        streets, buildings, barriers, entrances = gridplan_inputs(plain, ex)
    crs = buildings.estimate_utm_crs()
    services = np.sort(
        np.random.default_rng(seed).choice(len(buildings), n_services, replace=False)
    )
    res = compute_coverage(
        buildings,
        streets,
        buildings.iloc[services],
        crs=crs,
        minutes=(5,),
        n_sites=0,
        barriers=barriers,
        entrances=entrances,
    )
    t_gp = time.perf_counter() - t0
    services = services[
        np.isin(buildings["id"].to_numpy()[services], res.figures["services"]["ids"])
    ]
    t0 = time.perf_counter()
    r1, r2, tied, service_tied = reference_walks(ex, list(services), crs)
    t_ref = time.perf_counter() - t0
    d1 = res.buildings["walk_m"].to_numpy(dtype=float, na_value=np.inf)
    d2 = res.buildings["walk2_m"].to_numpy(dtype=float, na_value=np.inf)
    ok = ~tied
    return {
        "case": path.name,
        "buildings": len(buildings),
        "services": len(services),
        "pieces": res.network.n_pieces,
        "buildings_without_walk": int(np.isinf(d1).sum()),
        "buildings_at_entrances": res.figures["access"]["buildings_at_entrances"],
        "legs_around_a_barrier": res.figures["access"]["buildings_leg_avoided_barrier"],
        "tied_buildings_left_out": int(tied.sum()),
        "tied_services": int(service_tied.sum()),
        "max_abs_diff_d1_m": _max_diff(d1[ok], r1[ok]),
        "max_abs_diff_d2_m": _max_diff(d2[ok], r2[ok]),
        "buildings_off_by_more_than_1cm": int(
            (
                ~np.isclose(
                    np.nan_to_num(d1[ok], posinf=-1), np.nan_to_num(r1[ok], posinf=-1), atol=0.01
                )
            ).sum()
        ),
        "gridplan_s": round(t_gp, 2),
        "reference_s": round(t_ref, 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="real areas only")
    ap.add_argument(
        "--polygons", action="store_true", help="only compare isochrone polygons with the truth"
    )
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--side", type=int, default=317, help="lattice side (317 -> ~100k nodes)")
    ap.add_argument("--nx-sample", type=int, default=25)
    ap.add_argument("--out", type=Path, help="also write the JSON here (pandana prints to stdout)")
    ap.add_argument(
        "--reference",
        type=Path,
        nargs="+",
        metavar="OSM",
        help="only check every building's walk on these raw OSM extracts (.osm, .pbf, .osm.gz) "
        "against the independent per-piece computation",
    )
    args = ap.parse_args()
    results = []
    if args.reference:
        for path in args.reference:
            results.append(reference_agreement(path))
            print(json.dumps(results[-1]), file=sys.stderr)
        text = json.dumps(results, indent=1)
        if args.out:
            args.out.write_text(text, encoding="utf-8")
        print(text)
        return
    if args.polygons:
        for area in ("nanjing", "helsinki", "finland"):
            folder = ROOT / "runs" / area
            if (folder / "buildings.geojson").exists():
                results.append(polygon_comparison(folder))
        text = json.dumps(results, indent=1)
        if args.out:
            args.out.write_text(text, encoding="utf-8")
        print(text)
        return
    for area in ("nanjing", "helsinki", "finland"):
        folder = ROOT / "runs" / area
        if (folder / "buildings.geojson").exists():
            results.append(real_area(folder, repeat=args.repeat))
            print(json.dumps(results[-1]), file=sys.stderr)
    if not args.quick:
        streets, b_xy, s_xy = generated_case(
            side=args.side, n_buildings=100_000, n_services=500, seed=0
        )
        results.append(
            run_case(
                "generated",
                streets,
                b_xy,
                s_xy,
                crs="EPSG:32650",
                repeat=args.repeat,
                nx_sample=args.nx_sample,
                sites=1000,
            )
        )
    text = json.dumps(results, indent=1)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
