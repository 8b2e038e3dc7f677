"""Districting benchmark: gridplan against GerryChain and spopt on the same inputs, one run.

Usage (from the project root)::

    .venv/bin/python benchmarks/bench_districts.py [--reps 3] [--gc-reps 2] [--skip-spopt]
        [--skip-azp] [--azp-cap 900] [--only-small] [--json OUT.json]

``--only-small`` runs only the 2,500-grid part (gridplan, suggestions, spopt).
``--only-fresh [--baseline DIR]`` times fresh plans end to end (10,000 grids into
25 districts, beside the GerryChain script; 100,000 into 250), runs alternating
with another checkout's CLI (e.g. main from ``git archive``) when given.

Inputs: a 100 x 100 lattice with uneven population (10,000 grids), the real
default area (``runs/nanjing``, built by ``gridplan build`` when missing) and
a 50 x 50 lattice (2,500 grids) for spopt and for the suggestion timing.
Tasks (k = 25, tolerance ±0.5%):

* end to end: ``gridplan districts DIR --k 25 --tolerance 0.005`` as a
  subprocess against a GerryChain script doing the same (read grids.geojson,
  build the graph, ``recursive_tree_part``, write plan.csv and districts);
* the partitioning itself, in process;
* improving a plan: GerryChain's seed plan improved by gridplan
  (``draw_districts(from_plan=...)``: keep, rebalance, smooth) against
  100 ReCom steps keeping the best cut-edge plan seen;
* spopt SKATER and spopt AZP (population as the attribute, ``random_state=0``)
  on the 2,500-grid lattice against gridplan on the same; AZP runs in a
  subprocess capped at ``--azp-cap`` seconds (recorded as
  ``spopt_azp_timed_out`` when it is cut off);
* ``suggest_moves`` on a 2,500-grid plan.

Prints a table (medians) and the peer ÷ gridplan ratios; ``--json`` writes them.
Benchmarks are not tests: run by hand.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

K = 25
TOL = 0.005

GERRYCHAIN_SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    t0 = time.perf_counter()
    import geopandas as gpd, pandas as pd
    from gerrychain import Graph
    from gerrychain.partition import recursive_tree_part
    folder, k, eps, seed = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
    gdf = gpd.read_file(f"{folder}/grids.geojson")
    gdf = gdf.to_crs(gdf.estimate_utm_crs())
    graph = Graph.from_geodataframe(gdf, adjacency="rook")
    t1 = time.perf_counter()
    ideal = gdf["population"].sum() / k
    plan = recursive_tree_part(graph, range(k), ideal, "population", eps, rng=seed)
    t2 = time.perf_counter()
    nodes = sorted(plan)
    district = [str(plan[n] + 1) for n in nodes]
    codes = gdf["code"].to_numpy()[nodes]
    pd.DataFrame({"grid": codes, "district": district}).to_csv(f"{folder}/gc_plan.csv", index=False)
    gdf["district"] = [str(plan[n] + 1) for n in range(len(gdf))]
    out = gdf.dissolve("district", aggfunc={"population": "sum"}).reset_index()
    out.to_crs("EPSG:4326").to_file(f"{folder}/gc_districts.geojson", driver="GeoJSON")
    t3 = time.perf_counter()
    print(json.dumps({"graph_s": t1 - t0, "partition_s": t2 - t1, "total_s": t3 - t0}))
    """
)


def run(cmd: list[str], timeout: float) -> tuple[float, str]:
    """Wall time and stdout of ``cmd``."""
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=True)
    return time.perf_counter() - start, done.stdout


def cli(checkout: Path | None) -> list[str]:
    """The ``gridplan`` command of this checkout, or of ``checkout`` (run with this venv)."""
    if checkout is None:
        return [str(ROOT / ".venv" / "bin" / "gridplan")]
    code = f"import sys; sys.path.insert(0, {str(checkout)!r}); from api.cli import main; "
    return [sys.executable, "-c", code + "sys.exit(main(sys.argv[1:]))"]


def bench_fresh(work: Path, reps: int, baseline: Path | None) -> dict[str, Any]:
    """Fresh plans end to end: 10k grids into 25 (beside GerryChain), 100k into 250."""
    from tests.districting_fixtures import lattice, write_grids

    res: dict[str, Any] = {}
    for side, k in ((100, 25), (316, 250)):
        folder = write_grids(lattice(side, side, seed=0, crs="EPSG:4326"), work / f"fresh{side}")
        args = ["districts", str(folder), "--k", str(k), "--tolerance", str(TOL)]
        times: dict[str, list[float]] = {"branch": [], "baseline": []}
        for r in range(reps):  # alternating, so both see the same load
            for name, checkout in (("branch", None), ("baseline", baseline)):
                if name == "baseline" and baseline is None:
                    continue
                t, out = run([*cli(checkout), *args, "--seed", str(r)], 1800)
                times[name].append(t)
                if name == "branch":
                    summary = json.loads(out)
        row: dict[str, Any] = {
            "grids": side * side,
            "k": k,
            "branch_s": statistics.median(times["branch"]),
            "max_deviation": summary["max_deviation"],
            "cut_edges": summary["cut_edges"],
        }
        if baseline is not None:
            row["baseline_s"] = statistics.median(times["baseline"])
            row["baseline_over_branch"] = row["baseline_s"] / row["branch_s"]
        if side == 100:
            script = work / "gc_districts.py"
            script.write_text(GERRYCHAIN_SCRIPT)
            t, _ = run([sys.executable, str(script), str(folder), str(k), str(TOL), "0"], 1800)
            row["gerrychain_s"] = t
            row["gerrychain_over_branch"] = t / row["branch_s"]
        res[f"{side * side}"] = row
    return res


def plan_figures(grids, plan: pd.Series, adjacency, tol: float = TOL) -> dict[str, Any]:
    from gis.plan import evaluate_plan

    e = evaluate_plan(grids, plan, adjacency=adjacency, tolerance=tol)
    return {
        "max_deviation": e["max_deviation"],
        "cut_edges": e["cut_edges"],
        "contiguous": e["contiguous"],
        "median_polsby_popper": float(np.median([d["polsby_popper"] for d in e["districts"]])),
    }


def read_plan_csv(path: Path) -> pd.Series:
    df = pd.read_csv(path, dtype=str)
    return df.set_index("grid")["district"]


def moved_share(old: pd.Series, new: pd.Series, grids) -> float:
    """Share of grids whose new district draws most population from another old one."""
    pop = grids.set_index("code")["population"].reindex(new.index).to_numpy() + 1e-9
    df = pd.DataFrame({"new": new.to_numpy(), "old": old.reindex(new.index).to_numpy(), "p": pop})
    major = (
        df.groupby(["new", "old"])["p"]
        .sum()
        .reset_index()
        .sort_values("p")
        .drop_duplicates("new", keep="last")
        .set_index("new")["old"]
    )
    return float((df["old"].to_numpy() != major.reindex(df["new"]).to_numpy()).mean())


def bench_lattice(work: Path, reps: int, gc_reps: int) -> dict[str, Any]:
    from gis.adjacency import grid_adjacency
    from gis.districting import draw_districts
    from gis.outputs import read_layer
    from gis.plan import to_metric
    from tests.districting_fixtures import lattice, write_grids

    folder = write_grids(lattice(100, 100, seed=0, crs="EPSG:4326"), work / "lattice10k")
    gridplan = [str(ROOT / ".venv" / "bin" / "gridplan")]
    res: dict[str, Any] = {}
    # end to end, gridplan
    times = []
    for r in range(reps):
        t, out = run(
            [
                *gridplan,
                "districts",
                str(folder),
                "--k",
                str(K),
                "--tolerance",
                str(TOL),
                "--seed",
                str(r),
            ],
            600,
        )
        times.append(t)
    summary = json.loads(out)
    res["gridplan_e2e_s"] = statistics.median(times)
    # end to end, GerryChain
    script = work / "gc_districts.py"
    script.write_text(GERRYCHAIN_SCRIPT)
    gc_times, gc_part = [], []
    for r in range(gc_reps):
        t, out = run([sys.executable, str(script), str(folder), str(K), str(TOL), str(r)], 1800)
        gc_times.append(t)
        gc_part.append(json.loads(out.strip().splitlines()[-1])["partition_s"])
    res["gerrychain_e2e_s"] = statistics.median(gc_times)
    res["gerrychain_partition_s"] = statistics.median(gc_part)
    # partitioning in process
    grids = to_metric(read_layer(folder, "grids"))
    t0 = time.perf_counter()
    adjacency = grid_adjacency(grids)
    res["gridplan_adjacency_s"] = time.perf_counter() - t0
    part = []
    for r in range(reps):
        t0 = time.perf_counter()
        result = draw_districts(grids, K, tolerance=TOL, seed=r, adjacency=adjacency)
        part.append(time.perf_counter() - t0)
    res["gridplan_partition_s"] = statistics.median(part)
    res["gridplan"] = {k: summary[k] for k in ("max_deviation", "cut_edges", "contiguous")}
    gc_plan = read_plan_csv(folder / "gc_plan.csv")
    res["gerrychain"] = plan_figures(grids, gc_plan, adjacency)
    # improving a plan: population grows by 25% in one corner (new housing), so the
    # ±0.5% plan drifts out of balance; gridplan's minimal-change rebalance against
    # greedy ReCom (a step is accepted when the max deviation does not grow)
    from gis.rebalance import minimal_rebalance

    r, c = np.divmod(np.arange(len(grids)), 100)
    grown = grids.copy()
    grown.loc[(r < 30) & (c >= 60), "population"] *= 1.25
    grown_dir = write_grids(grown.to_crs("EPSG:4326"), work / "lattice10k_grown")
    start_plan = result.assignment
    res["improve_start"] = plan_figures(grown, start_plan, adjacency)
    t0 = time.perf_counter()
    new_plan, _ = minimal_rebalance(grown, start_plan, tolerance=TOL, adjacency=adjacency)
    res["improve_gridplan_s"] = time.perf_counter() - t0
    figs = plan_figures(grown, new_plan, adjacency)
    res["improve_gridplan"] = {**figs, "moved_share": moved_share(start_plan, new_plan, grown)}
    res.update(recom_improve(grown_dir, start_plan, grown, adjacency))
    return res


RECOM_SCRIPT = textwrap.dedent(
    """
    import json, random, sys, time
    import geopandas as gpd, pandas as pd
    from gerrychain import Graph, MarkovChain, Partition
    from gerrychain.constraints import within_percent_of_ideal_population
    from gerrychain.proposals import recom
    from gerrychain.updaters import Tally
    folder, plan_csv, k, eps, steps = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(
        sys.argv[4]), int(sys.argv[5])
    gdf = gpd.read_file(f"{folder}/grids.geojson")
    gdf = gdf.to_crs(gdf.estimate_utm_crs())
    plan0 = pd.read_csv(plan_csv, dtype=str).set_index("grid")["district"]
    gdf["district"] = plan0.reindex(gdf["code"]).to_numpy()
    graph = Graph.from_geodataframe(gdf, adjacency="rook")
    t0 = time.perf_counter()
    init = Partition(graph, "district", {"population": Tally("population", alias="population")})
    ideal = gdf["population"].sum() / k
    def max_dev(part):
        return max(abs(p / ideal - 1.0) for p in part["population"].values())
    def greedy(part):  # accept a step when the max deviation does not grow
        return part.parent is None or max_dev(part) <= max_dev(part.parent)
    rng = random.Random(0)
    def proposal(part):  # ReCom re-splits a pair within the plan's current bound
        return recom(part, pop_col="population", pop_target=ideal,
                     epsilon=max(eps, max_dev(part)), node_repeats=0, rng=rng)
    chain = MarkovChain(proposal, [within_percent_of_ideal_population(init, max_dev(init) + 1e-9)],
                        greedy, init, total_steps=steps, rng=0)
    for step, part in enumerate(chain):
        codes = gdf["code"].to_numpy()
        pd.DataFrame({"grid": codes, "district": [str(part.assignment[n])
                      for n in range(len(codes))]}).to_csv(f"{folder}/recom_plan.csv", index=False)
        with open(f"{folder}/recom_progress.json", "w") as fh:
            json.dump({"step": step, "elapsed_s": time.perf_counter() - t0,
                       "max_deviation": max_dev(part)}, fh)
        if max_dev(part) <= eps:
            break
    """
)


def recom_improve(
    folder: Path,
    plan0: pd.Series,
    grids,
    adjacency,
    steps: int = 1000,
    time_cap: float = 240.0,
    k: int = K,
    tol: float = TOL,
) -> dict[str, Any]:
    """Greedy ReCom from ``plan0`` (a subprocess) until ±``TOL``, ``steps`` or ``time_cap`` s.

    Each step merges two neighbouring districts and splits them again within
    the plan's current max deviation (ReCom at ±0.5% cannot split a pair whose
    sum is further than that from twice the ideal); a step is kept when the
    max deviation does not grow.
    """
    plan_csv = folder / "recom_start.csv"
    pd.DataFrame({"grid": plan0.index, "district": plan0.to_numpy()}).to_csv(plan_csv, index=False)
    script = folder / "recom.py"
    script.write_text(RECOM_SCRIPT)
    cmd = [sys.executable, str(script), str(folder), str(plan_csv), str(k), str(tol), str(steps)]
    timed_out = False
    try:
        subprocess.run(cmd, capture_output=True, text=True, timeout=time_cap, check=True)
    except subprocess.TimeoutExpired:
        timed_out = True
    progress = json.loads((folder / "recom_progress.json").read_text())
    plan = read_plan_csv(folder / "recom_plan.csv")
    figs = plan_figures(grids, plan, adjacency, tol)
    return {
        "recom_steps": progress["step"],
        "improve_recom_s": progress["elapsed_s"],
        "recom_timed_out": timed_out,
        "improve_recom": {**figs, "moved_share": moved_share(plan0, plan, grids)},
    }


REDRAW_K, REDRAW_FROM, REDRAW_TOL = 25, 11, 0.02


def old_strips(n: int, n_old: int = REDRAW_FROM, seed: int = 0) -> np.ndarray:
    """``n_old`` vertical strips of uneven width (0.5–1.5 of the mean) over an n × n lattice."""
    rng = np.random.default_rng(seed)
    widths = rng.uniform(0.5, 1.5, n_old)
    edges = np.round(np.cumsum(np.r_[0, widths]) / widths.sum() * n).astype(int)
    return np.searchsorted(edges, np.arange(n * n) % n, side="right")


def kept_share(old: pd.Series, new: pd.Series, grids) -> float:
    """Population share living in its new district's main old district."""
    pop = grids.set_index("code")["population"].reindex(new.index).to_numpy()
    df = pd.DataFrame({"new": new.to_numpy(), "old": old.reindex(new.index).to_numpy(), "p": pop})
    per = df.groupby(["new", "old"])["p"].sum()
    return float(per.groupby(level=0).max().sum() / df["p"].sum())


def naive_split(grids, old: np.ndarray, seats: np.ndarray, n: int) -> pd.Series:
    """Each old strip cut into its seats by rows of equal population (ReCom's start)."""
    label = np.zeros(n * n, dtype=np.int64)
    pop = grids["population"].to_numpy()
    nxt = 0
    for g, s in enumerate(seats, start=1):
        idx = np.flatnonzero(old == g)
        order = idx[np.argsort(idx // n, kind="stable")]  # top rows first
        share = np.cumsum(pop[order]) / pop[order].sum()
        label[order] = nxt + np.minimum((share * s).astype(int), s - 1)
        nxt += s
    return pd.Series((label + 1).astype(str), index=grids["code"])


def bench_redraw(work: Path, reps: int, recom_cap: float = 240.0) -> dict[str, Any]:
    """11 → 25 on the 100 × 100 lattice at ±2%: gridplan's keep levels, a fresh plan, ReCom.

    The old plan is 11 vertical strips of uneven width.  ReCom (GerryChain)
    cannot change k, so it starts from the old strips cut into rows (each
    strip into the seats gridplan gives it) and runs greedily (a step is
    kept when the max deviation does not grow) until ±2% or ``recom_cap`` s.
    """
    from gis.adjacency import grid_adjacency
    from gis.districting import draw_districts
    from gis.plan import grid_graph, to_metric
    from gis.redraw import seats_and_transfers
    from tests.districting_fixtures import lattice, write_grids

    n = 100
    grids = to_metric(lattice(n, n, seed=0))
    adjacency = grid_adjacency(grids)
    strips = old_strips(n)
    old = pd.Series(strips.astype(str), index=grids["code"])
    res: dict[str, Any] = {}
    times, fresh = [], None
    for _ in range(reps):
        t0 = time.perf_counter()
        fresh = draw_districts(grids, REDRAW_K, tolerance=REDRAW_TOL, seed=0, adjacency=adjacency)
        times.append(time.perf_counter() - t0)
    res["fresh_s"] = statistics.median(times)
    res["fresh"] = plan_figures(grids, fresh.assignment, adjacency, REDRAW_TOL)
    for keep in ("most", "some", "compact"):
        times, out = [], None
        for _ in range(reps):
            t0 = time.perf_counter()
            out = draw_districts(
                grids,
                REDRAW_K,
                tolerance=REDRAW_TOL,
                seed=0,
                adjacency=adjacency,
                from_plan=old,
                keep=keep,
            )
            times.append(time.perf_counter() - t0)
        res[f"keep_{keep}_s"] = statistics.median(times)
        res[f"keep_{keep}"] = {
            **plan_figures(grids, out.assignment, adjacency, REDRAW_TOL),
            "kept_share": kept_share(old, out.assignment, grids),
        }
    graph = grid_graph(grids)
    groups = strips - 1
    seats, _ = seats_and_transfers(graph, groups, REDRAW_K, REDRAW_TOL)
    start = naive_split(grids, strips, seats, n)
    folder = write_grids(grids.to_crs("EPSG:4326"), work / "redraw")
    recom = recom_improve(
        folder,
        start,
        grids,
        adjacency,
        steps=2000,
        time_cap=recom_cap,
        k=REDRAW_K,
        tol=REDRAW_TOL,
    )
    plan = read_plan_csv(folder / "recom_plan.csv")
    recom["improve_recom"]["kept_share"] = kept_share(old, plan, grids)
    res["recom_start"] = {
        **plan_figures(grids, start, adjacency, REDRAW_TOL),
        "kept_share": kept_share(old, start, grids),
    }
    res["recom"] = recom
    return res


REAL_AREAS = {
    "nanjing": ("runs/nanjing", "data/boundaries/nanjing_xinjiekou"),
    "finland_unseen": ("runs/finland", "tests/data/finland_town.osm.pbf"),
}


def bench_real(work: Path, reps: int, area: str = "nanjing") -> dict[str, Any]:
    built, source = REAL_AREAS[area]
    folder = ROOT / built
    if not (folder / "grids.geojson").exists():
        folder = work / area
        subprocess.run(
            [str(ROOT / ".venv/bin/gridplan"), "build", str(ROOT / source), "--out", str(folder)],
            check=True,
            capture_output=True,
        )
    import shutil

    copy = work / f"{area}_copy"
    copy.mkdir(exist_ok=True)
    for name in ("grids.geojson", "build.json"):
        if (folder / name).exists():
            shutil.copy(folder / name, copy / name)
    times = []
    for r in range(reps):
        t, out = run(
            [
                str(ROOT / ".venv/bin/gridplan"),
                "districts",
                str(copy),
                "--k",
                str(K),
                "--tolerance",
                str(TOL),
                "--seed",
                str(r),
            ],
            600,
        )
        times.append(t)
    s = json.loads(out)
    res = {
        "grids": s["grids"],
        "gridplan_e2e_s": statistics.median(times),
        "max_deviation": s["max_deviation"],
        "best_bound": s["best_bound"],
        "exact": s.get("exact"),
        "cut_edges": s["cut_edges"],
        "contiguous": s["contiguous"],
    }
    # GerryChain cannot meet ±0.5% there; give it the best bound plus 10 points
    eps = max(TOL, s["best_bound"] + 0.10)
    script = work / "gc_districts.py"
    script.write_text(GERRYCHAIN_SCRIPT)
    try:
        t, out = run([sys.executable, str(script), str(copy), str(K), str(eps), "0"], 120)
        from gis.outputs import read_layer
        from gis.plan import evaluate_plan

        grids = read_layer(copy, "grids")
        e = evaluate_plan(grids, read_plan_csv(copy / "gc_plan.csv"), tolerance=eps)
        res["gerrychain"] = {
            "e2e_s": t,
            "epsilon": eps,
            "max_deviation": e["max_deviation"],
            "cut_edges": e["cut_edges"],
            "contiguous": e["contiguous"],
        }
    except (subprocess.TimeoutExpired, subprocess.CalledProcessError) as exc:
        res["gerrychain"] = {"epsilon": eps, "failed": type(exc).__name__}
    return res


AZP_SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    root, k, seed, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    sys.path.insert(0, root)
    import libpysal
    from spopt.region import AZP
    from tests.districting_fixtures import lattice
    grids = lattice(50, 50, seed=1)
    w = libpysal.weights.Rook.from_dataframe(grids, use_index=False, silence_warnings=True)
    t0 = time.perf_counter()
    model = AZP(grids, w, ["population"], n_clusters=k, random_state=seed)
    model.solve()
    elapsed = time.perf_counter() - t0
    with open(out, "w") as fh:
        json.dump({"solve_s": elapsed, "labels": [int(x) for x in model.labels_]}, fh)
    """
)


def spopt_azp(work: Path, grids, graph, time_cap: float) -> dict[str, Any]:
    """spopt AZP on the 2,500-grid lattice in a subprocess, cut off after ``time_cap`` s.

    Timed like SKATER (model built and ``solve()``d, inside the subprocess, so
    imports and the weights are not counted); the plan is measured in this
    process exactly as SKATER's.
    """
    from gis.plan import PlanState

    script = work / "azp.py"
    script.write_text(AZP_SCRIPT)
    out = work / "azp_labels.json"
    cmd = [sys.executable, str(script), str(ROOT), str(K), "0", str(out)]
    try:
        subprocess.run(cmd, capture_output=True, text=True, timeout=time_cap, check=True)
    except subprocess.TimeoutExpired:
        return {"spopt_azp_timed_out": True, "spopt_azp_cap_s": time_cap}
    done = json.loads(out.read_text())
    plan = pd.Series(np.asarray(done["labels"]).astype(str), index=grids["code"])
    e = PlanState.from_assignment(graph, plan).evaluate(tolerance=TOL)
    return {
        "spopt_azp_timed_out": False,
        "spopt_azp_cap_s": time_cap,
        "spopt_azp_2500_s": done["solve_s"],
        "spopt_azp_2500": {"max_deviation": e["max_deviation"], "cut_edges": e["cut_edges"]},
    }


def bench_small(
    work: Path, skip_spopt: bool, skip_azp: bool = False, azp_cap: float = 900.0
) -> dict[str, Any]:
    from gis.districting import draw_districts
    from gis.plan import grid_graph
    from gis.rebalance import plan_state, suggest_moves
    from tests.districting_fixtures import lattice

    grids = lattice(50, 50, seed=1)
    res: dict[str, Any] = {}
    t0 = time.perf_counter()
    result = draw_districts(grids, K, tolerance=TOL, seed=0)
    res["gridplan_2500_s"] = time.perf_counter() - t0
    res["gridplan_2500"] = {k: result.summary[k] for k in ("max_deviation", "cut_edges")}
    # suggestions on a 2,500-grid plan (an unbalanced block plan), state built once
    r, c = np.divmod(np.arange(2500), 50)
    blocks = pd.Series(((r // 10) * 5 + c // 10).astype(str), index=grids["code"])
    state = plan_state(grids, blocks)
    suggest_moves(None, None, state=state)
    ts = []
    for _ in range(5):
        t0 = time.perf_counter()
        suggest_moves(None, None, state=state)
        ts.append(time.perf_counter() - t0)
    res["suggest_2500_s"] = statistics.median(ts)
    t0 = time.perf_counter()
    suggest_moves(grids, blocks)
    res["suggest_2500_cold_s"] = time.perf_counter() - t0
    if skip_spopt:
        return res
    import libpysal
    from spopt.region import Skater

    w = libpysal.weights.Rook.from_dataframe(grids, use_index=False, silence_warnings=True)
    t0 = time.perf_counter()
    model = Skater(grids, w, ["population"], n_clusters=K, floor=1)
    model.solve()
    res["spopt_skater_2500_s"] = time.perf_counter() - t0
    plan = pd.Series(np.asarray(model.labels_).astype(str), index=grids["code"])
    graph = grid_graph(grids)
    from gis.plan import PlanState

    st = PlanState.from_assignment(graph, plan)
    e = st.evaluate(tolerance=TOL)
    res["spopt_skater_2500"] = {"max_deviation": e["max_deviation"], "cut_edges": e["cut_edges"]}
    if not skip_azp:
        res.update(spopt_azp(work, grids, graph, azp_cap))
    return res


def small_rows(small: dict[str, Any]) -> list[str]:
    """Table rows for the 2,500-grid lattice: gridplan, then each spopt result present."""
    g_s = small["gridplan_2500_s"]
    g = small["gridplan_2500"]
    head = "districts, 2,500 lattice, k=25"
    rows = [
        f"| {head}: gridplan | {g_s:.2f} s, max dev {g['max_deviation']:.2%}, "
        f"{g['cut_edges']} cut edges | | |"
    ]
    for name, key in (("SKATER", "spopt_skater"), ("AZP", "spopt_azp")):
        if f"{key}_2500_s" in small:
            t, p = small[f"{key}_2500_s"], small[f"{key}_2500"]
            rows.append(
                f"| {head}: spopt {name} | | {t:.2f} s, max dev {p['max_deviation']:.2%}, "
                f"{p['cut_edges']} cut edges | {t / g_s:.0f}× |"
            )
        elif small.get(f"{key}_timed_out"):
            cap = small[f"{key}_cap_s"]
            rows.append(
                f"| {head}: spopt {name} | | timed out after {cap:.0f} s | > {cap / g_s:.0f}× |"
            )
    return rows


def bench_two_quantities(reps: int) -> dict[str, Any]:
    """Population ±1% and a workload loosely following it ±3%, 2,500 grids, k = 25.

    No peer balances two quantities with separate tolerances; gridplan only.
    """
    from gis.districting import draw_districts
    from tests.districting_fixtures import lattice

    res: dict[str, Any] = {}
    for noise in (0.5, 1.0):
        grids = lattice(50, 50, seed=1)
        rng = np.random.default_rng(1)
        grids["workload"] = np.round(grids["population"] * rng.lognormal(0, noise, len(grids)) / 10)
        times, s = [], {}
        for _ in range(reps):
            t0 = time.perf_counter()
            result = draw_districts(
                grids, K, balance={"population": 0.01, "workload": 0.03}, seed=0
            )
            times.append(time.perf_counter() - t0)
            s = result.summary
        res[f"noise_{noise}"] = {
            "s": statistics.median(times),
            "population_max_deviation": s["quantities"]["population"]["max_deviation"],
            "workload_max_deviation": s["quantities"]["workload"]["max_deviation"],
            "within_tolerance": s["within_tolerance"],
            "cut_edges": s["cut_edges"],
            "contiguous": s["contiguous"],
        }
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--gc-reps", type=int, default=2)
    ap.add_argument("--skip-spopt", action="store_true")
    ap.add_argument("--skip-azp", action="store_true", help="run spopt SKATER but not AZP")
    ap.add_argument(
        "--azp-cap", type=float, default=900.0, help="time cap for the AZP subprocess (s)"
    )
    ap.add_argument(
        "--only-small", action="store_true", help="only the 2,500-grid part (skip 10k and real)"
    )
    ap.add_argument(
        "--only-redraw", action="store_true", help="only the 11 → 25 redraw (gridplan and ReCom)"
    )
    ap.add_argument("--recom-cap", type=float, default=240.0, help="ReCom time cap (s)")
    ap.add_argument("--only-fresh", action="store_true", help="only fresh plans, 10k and 100k")
    ap.add_argument("--baseline", type=Path, default=None, help="another checkout to time")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        out: dict[str, Any] = {}
        if args.only_fresh:
            out["fresh"] = bench_fresh(work, args.reps, args.baseline)
            print(json.dumps(out, indent=1))
            return
        if args.only_redraw:
            out["redraw_11_25"] = bench_redraw(work, args.reps, args.recom_cap)
            print(json.dumps(out, indent=1))
            if args.json:
                args.json.write_text(json.dumps(out, indent=1))
            return
        if not args.only_small:
            out["lattice_10k"] = bench_lattice(work, args.reps, args.gc_reps)
            print(json.dumps(out, indent=1), file=sys.stderr)
            out["real_nanjing"] = bench_real(work, args.reps)
            out["real_finland_unseen"] = bench_real(work, args.reps, "finland_unseen")
            out["two_quantities"] = bench_two_quantities(args.reps)
        out["lattice_2500"] = bench_small(work, args.skip_spopt, args.skip_azp, args.azp_cap)
    print(json.dumps(out, indent=1))
    print("\n| task | gridplan | peer | peer ÷ gridplan |")
    print("| --- | --- | --- | --- |")
    if "lattice_10k" in out:
        print_lattice_rows(out["lattice_10k"])
    for row in small_rows(out["lattice_2500"]):
        print(row)
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))


def print_lattice_rows(lat: dict[str, Any]) -> None:
    print(
        f"| districts end to end, 10k, k=25, ±0.5% | {lat['gridplan_e2e_s']:.2f} s | "
        f"GerryChain {lat['gerrychain_e2e_s']:.2f} s | "
        f"{lat['gerrychain_e2e_s'] / lat['gridplan_e2e_s']:.1f}× |"
    )
    print(
        f"| partition only | {lat['gridplan_partition_s']:.2f} s | "
        f"{lat['gerrychain_partition_s']:.2f} s | "
        f"{lat['gerrychain_partition_s'] / lat['gridplan_partition_s']:.1f}× |"
    )
    print(
        f"| cut edges | {lat['gridplan']['cut_edges']} | {lat['gerrychain']['cut_edges']} | "
        f"{lat['gerrychain']['cut_edges'] / lat['gridplan']['cut_edges']:.2f} |"
    )


if __name__ == "__main__":
    main()
