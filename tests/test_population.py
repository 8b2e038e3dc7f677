"""Population per building: arithmetic, tags, neighbours, calibration, tables, sums."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gis._errors import CRSError, InputError, ManifestError
from gis.population import (
    PopulationParams,
    aggregate,
    apply_household_table,
    calibrate,
    estimate_population,
    floors_from_height,
    households_from_residents,
    neighbour_floors,
    normalise_building_id,
    parse_height,
    parse_levels,
    residential_shares,
    residents,
    unmatched_keys,
    whole_numbers,
)
from tests.conftest import AREAS

CRS = "EPSG:32650"


def _town(rows: list[dict], *, size: float = 20.0, gap: float = 30.0) -> gpd.GeoDataFrame:
    """Square buildings of ``size`` m in a row, ``gap`` m apart, with the given tags."""
    geoms = [shapely.box(i * gap, 0, i * gap + size, size) for i in range(len(rows))]
    frame = pd.DataFrame(rows)
    if "id" not in frame.columns:
        frame["id"] = [f"w{i + 1}" for i in range(len(rows))]
    return gpd.GeoDataFrame(frame, geometry=geoms, crs=CRS)


# --------------------------------------------------------------------------- arithmetic


def test_residents_is_area_times_floors_times_share_over_floor_area() -> None:
    assert residents(400.0, 6, 1.0, 40.0) == pytest.approx(60.0)
    got = residents([100.0, 200.0, 50.0], [2, 3, 4], [1.0, 0.5, 0.0], 25.0)
    np.testing.assert_allclose(got, [8.0, 12.0, 0.0])


def test_households_divide_residents() -> None:
    np.testing.assert_allclose(households_from_residents([26.0, 0.0], 2.6), [10.0, 0.0])


def test_floors_from_height_rounds_and_keeps_missing() -> None:
    got = floors_from_height([9.0, 10.6, 1.0, np.nan], storey_height_m=3.0)
    np.testing.assert_array_equal(got[:3], [3.0, 4.0, 1.0])
    assert np.isnan(got[3])
    assert floors_from_height(12.0, 4.0) == 3.0


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: residents(-1.0, 2, 1.0, 35.0), "≥ 0"),
        (lambda: residents(10.0, 2, 1.5, 35.0), "between 0 and 1"),
        (lambda: residents(10.0, 2, 1.0, 0.0), "floor area per person"),
        (lambda: households_from_residents(10.0, 0.0), "persons per household"),
        (lambda: floors_from_height(10.0, 0.0), "storey height"),
    ],
)
def test_arithmetic_refuses_impossible_numbers(call, message: str) -> None:
    with pytest.raises(InputError, match=message):
        call()


# --------------------------------------------------------------------------- tags


def test_levels_tags_are_parsed_and_junk_is_missing() -> None:
    got = parse_levels(["5", "5;6", "3.5", "4,5", " 7 ", "abc", None, "0", "-1", "12 m", 8])
    want = [5, 6, 3.5, 4.5, 7, np.nan, np.nan, np.nan, np.nan, np.nan, 8]
    np.testing.assert_array_equal(got, want)


def test_height_tags_are_parsed_with_units() -> None:
    got = parse_height(["12", "12 m", "12m", "12,5", "40 ft", "10;12", "abc", None, "0"])
    want = [12, 12, 12, 12.5, 40 * 0.3048, 12, np.nan, np.nan, np.nan]
    np.testing.assert_allclose(got, want)


def test_residential_shares_by_type_tags_and_size() -> None:
    kinds = ["apartments", "house", "yes", "yes", "yes", "office", "school", "yes", None]
    area = [400, 400, 400, 400, 400, 400, 400, 10, 400]
    shop = [None, None, None, "supermarket", None, None, None, None, None]
    amenity = [None, None, None, None, "bank", None, None, None, None]
    got = residential_shares(kinds, area, shop=shop, amenity=amenity)
    np.testing.assert_array_equal(got, [1.0, 1.0, 0.6, 0.3, 0.0, 0.0, 0.0, 0.0, 0.0])


# --------------------------------------------------------------------------- floors


def test_floors_come_from_levels_then_height_then_type() -> None:
    gdf = _town(
        [
            {"building": "apartments", "levels": "5", "height": "30"},
            {"building": "yes", "levels": None, "height": "9 m"},
            {"building": "house", "levels": "abc", "height": None},
            {"building": "apartments", "levels": "500", "height": None},
        ],
        gap=1000.0,  # too far apart for neighbours
    )
    out = estimate_population(gdf)
    assert out["floors_source"].tolist() == ["levels", "height", "type_default", "levels"]
    assert out["floors"].tolist() == [5.0, 3.0, 2.0, 80.0]  # 500 clamped to max_floors
    assert out.index.equals(gdf.index)
    assert out.crs == gdf.crs


def test_missing_floors_take_the_neighbourhood_median() -> None:
    rows = [{"building": "apartments", "levels": str(n)} for n in (10, 12, 14, 30)]
    rows.append({"building": "apartments", "levels": None})
    gdf = _town(rows, gap=25.0)
    out = estimate_population(gdf, params=PopulationParams(neighbour_k=3))
    assert out["floors_source"].iloc[-1] == "neighbours"
    assert out["floors"].iloc[-1] == 14.0  # median of the three nearest: 12, 14, 30


def test_neighbour_estimate_needs_enough_neighbours_within_the_radius() -> None:
    xy = np.array([[0, 0], [10, 0], [500, 0], [1000, 0], [1005, 0], [1010, 0], [1020, 0]])
    floors = np.array([4.0, np.nan, 9.0, 5.0, 7.0, 9.0, np.nan])
    got = neighbour_floors(xy, floors, k=3, radius_m=100.0, min_count=2)
    assert np.isnan(got[1])  # only one known neighbour within 100 m
    assert got[6] == 7.0
    assert np.isnan(got[[0, 2, 3, 4, 5]]).all()  # known floors are not estimated


def test_low_rise_types_are_capped_when_estimated() -> None:
    rows = [{"building": "apartments", "levels": "20"} for _ in range(4)]
    rows.append({"building": "house", "levels": None})
    out = estimate_population(_town(rows, gap=25.0))
    assert out["floors_source"].iloc[-1] == "neighbours"
    assert out["floors"].iloc[-1] == 3.0


def test_population_follows_the_formula_and_params() -> None:
    gdf = _town([{"building": "apartments", "levels": "6"}], size=20.0)
    params = PopulationParams(floor_area_per_person_m2=40.0, persons_per_household=2.0)
    out = estimate_population(gdf, params=params)
    assert out["population"].iloc[0] == pytest.approx(400 * 6 / 40)
    assert out["households"].iloc[0] == pytest.approx(30.0)


# --------------------------------------------------------------------------- calibration


def test_calibration_hits_the_total_exactly() -> None:
    rng = np.random.default_rng(7)
    rows = [
        {"building": rng.choice(["apartments", "yes", "house", "office"]), "levels": None}
        for _ in range(200)
    ]
    gdf = _town(rows, gap=23.0)
    out = estimate_population(gdf, total=12345.0)
    assert out["population"].sum() == pytest.approx(12345.0, rel=1e-12, abs=0)
    assert (out["population"] >= 0).all()
    plain = estimate_population(gdf)
    ratio = out["population"] / plain["population"]
    np.testing.assert_allclose(ratio[plain["population"] > 0], 12345.0 / plain["population"].sum())


def test_calibration_keeps_fixed_values() -> None:
    got = calibrate([10.0, 20.0, 30.0], 100.0, fixed=[True, False, False])
    assert got[0] == 10.0
    assert got.sum() == pytest.approx(100.0, rel=1e-15)
    assert got[2] / got[1] == pytest.approx(1.5)


def test_calibration_without_residents_is_refused() -> None:
    with pytest.raises(InputError, match="no estimated population"):
        calibrate([0.0, 0.0], 50.0)
    with pytest.raises(InputError, match="≥ 0"):
        calibrate([1.0], -5.0)


# --------------------------------------------------------------------------- params


def test_params_from_the_bundled_manifests() -> None:
    nanjing = PopulationParams.from_manifest(AREAS / "nanjing_xinjiekou")
    assert nanjing.persons_per_household == 2.6
    assert nanjing.floor_area_per_person_m2 == 40.0
    helsinki = PopulationParams.from_manifest(AREAS / "helsinki" / "area.toml")
    assert helsinki.persons_per_household == 1.9
    custom = PopulationParams.from_manifest({"defaults": {"type_floors": {"yes": 5}}})
    assert custom.type_floors["yes"] == 5 and custom.type_floors["house"] == 2.0


def test_params_refuse_bad_manifest_values(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="persons_per_household"):
        PopulationParams.from_manifest({"persons_per_household": 0})
    bad = tmp_path / "area.toml"
    bad.write_text("[defaults\n", encoding="utf-8")
    with pytest.raises(ManifestError, match="not valid TOML"):
        PopulationParams.from_manifest(bad)


def test_params_are_immutable() -> None:
    params = PopulationParams()
    with pytest.raises(AttributeError):
        params.persons_per_household = 3.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        params.type_floors["yes"] = 10.0  # type: ignore[index]


# --------------------------------------------------------------------------- bad frames


def test_estimate_refuses_missing_columns_and_geographic_crs() -> None:
    gdf = _town([{"building": "yes"}]).drop(columns="building")
    with pytest.raises(InputError, match="lacks the column"):
        estimate_population(gdf)
    with pytest.raises(CRSError, match="not a metric CRS"):
        estimate_population(_town([{"building": "yes"}]).set_crs("EPSG:4326", allow_override=True))


# --------------------------------------------------------------------------- household tables


@pytest.fixture
def estimated() -> gpd.GeoDataFrame:
    rows = [
        {"id": "w10", "building": "apartments", "levels": "6", "addr_street": "Main St",
         "addr_housenumber": "1"},
        {"id": "w11", "building": "apartments", "levels": "6", "addr_street": "Main St",
         "addr_housenumber": "2"},
        {"id": "r12", "building": "apartments", "levels": "4", "addr_street": "Side Rd",
         "addr_housenumber": "5A"},
        {"id": "w13", "building": "house", "levels": "2", "addr_street": None,
         "addr_housenumber": None},
    ]  # fmt: skip
    return estimate_population(_town(rows))


def test_table_by_id_replaces_estimates_and_reports_unmatched(
    estimated: gpd.GeoDataFrame,
) -> None:
    table = pd.DataFrame(
        {
            "building_id": ["way/10", "11", "r12", "w999", "relation/77"],
            "households": [100, 40, 10, 5, 1],
            "population": [250, None, None, None, None],
        }
    )
    out, report = apply_household_table(estimated, table)
    assert out["population"].tolist()[:3] == pytest.approx([250.0, 40 * 2.6, 10 * 2.6])
    assert out["households"].tolist()[:3] == [100.0, 40.0, 10.0]
    assert out["population"].iloc[3] == estimated["population"].iloc[3]
    assert out["population_source"].tolist() == ["table", "table", "table", "estimate"]
    assert report["matched_rows"] == 3 and report["unmatched_rows"] == 2
    assert report["unmatched"] == ["w999", "relation/77"]
    assert report["buildings_replaced"] == 3
    assert out.index.equals(estimated.index)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    keys=st.lists(
        st.sampled_from(["10", "w10", "way/10", "12", "r12", "13", "w13", "14", "999", "w999"]),
        min_size=1,
        max_size=8,
    )
)
def test_every_row_naming_a_building_is_counted_once_bare_or_prefixed(
    estimated: gpd.GeoDataFrame, keys: list[str]
) -> None:
    """A table holding both ``13`` and ``w13`` loses neither row: households are conserved."""
    table = pd.DataFrame({"building_id": keys, "households": [2**i for i in range(len(keys))]})
    ids = set(estimated["id"])
    names = [
        k if normalise_building_id(k) in ids
        else next((f"{p}{k}" for p in "wrn" if k.isdigit() and f"{p}{k}" in ids), None)
        for k in keys
    ]  # fmt: skip
    naming = [n is not None for n in names]
    if not any(naming):
        with pytest.raises(InputError, match="no row of the household"):
            apply_household_table(estimated, table)
        return
    out, report = apply_household_table(estimated, table)
    assert report["matched_rows"] == sum(naming)
    assert report["unmatched"] == [k for k, hit in zip(keys, naming, strict=True) if not hit]
    from_table = out["population_source"] == "table"
    given = table["households"][naming].sum()
    assert out.loc[from_table, "households"].sum() == pytest.approx(given)
    assert report["households"] == pytest.approx(given)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    keys=st.lists(
        st.sampled_from(["way/10", "way/11", "r12", "w13", "w999", "relation/77", "w10", "n5"]),
        min_size=1,
        max_size=8,
    ),
    cut=st.integers(1, 3),
)
def test_parts_of_a_city_report_the_rows_they_matched_and_the_city_lists_the_rest(
    estimated: gpd.GeoDataFrame, keys: list[str], cut: int
) -> None:
    """A sub-district sends back the positions of its few matched rows, not the keys of
    all the others; the city's unmatched keys are those no sub-district matched."""
    table = pd.DataFrame({"building_id": keys, "households": range(1, len(keys) + 1)})
    parts = [estimated.iloc[:cut], estimated.iloc[cut:]]
    reports = [apply_household_table(p, table, require_match=False)[1] for p in parts]
    matched = np.zeros(len(table), dtype=bool)
    for report in reports:
        assert "unmatched" not in report
        assert len(report["matched"]) == report["matched_rows"]
        matched[report["matched"]] = True
    ids = set(estimated["id"])
    expected = [k for k in keys if normalise_building_id(k) not in ids]
    assert unmatched_keys(table, matched) == expected
    if len(expected) < len(keys):  # one area: the keys it did not match, as before
        assert apply_household_table(estimated, table)[1]["unmatched"] == expected


def test_table_by_address_from_csv(estimated: gpd.GeoDataFrame, tmp_path: Path) -> None:
    csv = tmp_path / "households.csv"
    csv.write_text(
        "addr:street,addr:housenumber,households\n"
        "main st,1,30\n"
        "MAIN  ST,1,5\n"  # same address twice: summed
        "Side Rd,5 a,12\n"
        "Nowhere,9,3\n",
        encoding="utf-8",
    )
    out, report = apply_household_table(estimated, csv, key="address")
    assert out["households"].iloc[0] == 35.0
    assert out["households"].iloc[2] == 12.0
    assert out["population_source"].tolist() == ["table", "estimate", "table", "estimate"]
    assert report["unmatched"] == ["Nowhere 9"]


def test_shared_address_is_split_by_estimated_population() -> None:
    rows = [
        {"id": "w1", "building": "apartments", "levels": "2", "addr_street": "A",
         "addr_housenumber": "1"},
        {"id": "w2", "building": "apartments", "levels": "6", "addr_street": "A",
         "addr_housenumber": "1"},
    ]  # fmt: skip
    est = estimate_population(_town(rows))
    out, _ = apply_household_table(est, pd.DataFrame({"street": ["A"], "housenumber": ["1"],
                                                      "households": [80]}))  # fmt: skip
    assert out["households"].tolist() == pytest.approx([20.0, 60.0])


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (pd.DataFrame({"id": ["w10"], "households": [1]}), "expected columns building_id"),
        (pd.DataFrame({"building_id": ["w10"], "flats": [1]}), "no households column"),
        (pd.DataFrame({"building_id": ["w10"], "households": ["-3"]}), "≥ 0"),
        (pd.DataFrame({"building_id": ["w10"], "households": ["many"]}), "must be numbers"),
        (pd.DataFrame({"building_id": ["w10"], "households": [None]}), "is empty"),
        (pd.DataFrame({"building_id": ["w500"], "households": [3]}), "no row of the household"),
    ],
)
def test_bad_household_tables_are_refused_clearly(
    estimated: gpd.GeoDataFrame, table: pd.DataFrame, message: str
) -> None:
    with pytest.raises(InputError, match=message):
        apply_household_table(estimated, table)


def test_building_ids_are_normalised() -> None:
    assert normalise_building_id("way/123") == "w123"
    assert normalise_building_id("W123") == "w123"
    assert normalise_building_id("relation/5") == "r5"
    assert normalise_building_id(123) == "123"
    assert normalise_building_id(123.0) == "123"
    assert normalise_building_id("abc") is None


# --------------------------------------------------------------------------- conservation


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["apartments", "yes", "house", "office", "residential"]),
            st.one_of(st.none(), st.integers(1, 30).map(str)),
            st.integers(0, 5),  # grid within the community
            st.integers(0, 2),  # community
        ),
        min_size=1,
        max_size=60,
    ),
    st.one_of(st.none(), st.floats(1.0, 1e6)),
)
def test_sums_are_conserved_building_grid_community(rows, total) -> None:
    gdf = _town([{"building": b, "levels": lv} for b, lv, _, _ in rows], gap=21.0)
    gdf["community"] = [f"320104001{c:03d}" for _, _, _, c in rows]
    gdf["grid"] = [f"320104001{c:03d}{g:03d}" for _, _, g, c in rows]
    if total is not None and not estimate_population(gdf)["population"].gt(0).any():
        total = None
    out = estimate_population(gdf, total=total)
    grids = aggregate(out, "grid")
    grids["community"] = [code[:12] for code in grids.index]
    via_grids = aggregate(grids, "community")
    direct = aggregate(out, "community")
    for col in ("population", "households"):
        assert grids[col].sum() == pytest.approx(out[col].sum(), rel=1e-9, abs=1e-9)
        np.testing.assert_allclose(via_grids[col], direct[col], rtol=1e-9, atol=1e-9)
    assert via_grids["buildings"].sum() == len(out)
    if total is not None:
        assert direct["population"].sum() == pytest.approx(total, rel=1e-9)


def test_aggregate_names_missing_columns() -> None:
    with pytest.raises(InputError, match="lacks the column"):
        aggregate(pd.DataFrame({"population": [1.0], "households": [1.0]}), "grid")


def test_buildings_without_geometry_get_no_residents() -> None:
    gdf = _town([{"building": "apartments", "levels": "6"} for _ in range(5)])
    gdf.loc[1, "geometry"] = None
    gdf.loc[2, "levels"] = None
    out = estimate_population(gdf)
    assert out["population"].iloc[1] == 0.0
    assert np.isfinite(out["population"]).all()
    assert out["floors_source"].iloc[2] == "neighbours"


def test_a_large_footprint_among_towers_is_not_estimated_as_a_tower() -> None:
    towers = [shapely.box(x, 0, x + 30, 30) for x in (0, 50, 100, 150)]
    mall = shapely.box(0, 60, 120, 160)  # 12,000 m² footprint next to 60-storey towers
    gdf = gpd.GeoDataFrame(
        {
            "id": ["t1", "t2", "t3", "t4", "m"],
            "building": ["apartments"] * 4 + ["yes"],
            "levels": ["60", "60", "60", "60", None],
        },
        geometry=[*towers, mall],
        crs="EPSG:32650",
    )
    out = estimate_population(gdf, params=PopulationParams(neighbour_k=4))
    params = PopulationParams()
    assert out.loc[4, "floors_source"] == "neighbours"
    assert out.loc[4, "floors"] * 12_000 <= params.estimated_floor_area_max_m2 + 1e-6
    assert (out.loc[:3, "floors"] == 60).all()  # tagged floors are never capped


# --------------------------------------------------------------------------- land use, idle


def test_land_use_and_shop_points_lower_the_share_of_untyped_buildings() -> None:
    rows = [{"building": "yes", "levels": "10"} for _ in range(4)]
    rows.append({"building": "apartments", "levels": "10"})
    gdf = _town(rows, size=20.0, gap=30.0)  # five 20 m squares, 30 m apart along x
    landuse = gpd.GeoDataFrame(
        {"landuse": ["commercial", "industrial", "residential"]},
        geometry=[shapely.box(-5, -5, 25, 25), shapely.box(25, -5, 55, 25),
                  shapely.box(85, -5, 145, 25)],
        crs=CRS,
    )  # fmt: skip
    pois = gpd.GeoDataFrame(
        {"shop": ["bakery"], "office": [None]}, geometry=[shapely.Point(70, 10)], crs=CRS
    )
    out = estimate_population(gdf, landuse=landuse, pois=pois)
    defaults = PopulationParams()
    uses = ["commercial", "industrial", None, "residential", "residential"]
    assert out["landuse"].tolist() == uses
    np.testing.assert_allclose(
        out["residential_share"],
        [defaults.landuse_shares["commercial"], 0.0, defaults.untyped_shop_share,
         defaults.untyped_share, 1.0],
    )  # fmt: skip
    # an office tower tagged building=yes in a commercial district holds few households
    plain = estimate_population(gdf)
    assert out["households"].iloc[0] < 0.2 * plain["households"].iloc[0]
    # explicit housing tags win over the land use
    assert out["households"].iloc[4] == pytest.approx(plain["households"].iloc[4])


def test_roofs_ruins_and_toll_booths_hold_no_households_and_are_not_demand_points() -> None:
    rows = [
        {"building": "roof"},
        {"building": "carport"},
        {"building": "canopy"},
        {"building": "ruins"},
        {"building": "construction"},
        {"building": "yes", "barrier": "toll_booth"},
        {"building": "yes", "ruins": "yes"},
        {"building": "apartments", "construction": "apartments"},
        {"building": "yes"},
        {"building": "office"},
    ]
    out = estimate_population(_town(rows, size=40.0, gap=50.0))
    assert out["demand"].tolist() == [False] * 8 + [True, True]
    assert (out["households"].iloc[:8] == 0).all()
    assert out["households"].iloc[8] > 0


def test_land_use_shares_are_set_in_the_manifest() -> None:
    params = PopulationParams.from_manifest({"defaults": {"landuse_shares": {"retail": 0.4}}})
    assert params.landuse_shares["retail"] == 0.4 and params.landuse_shares["industrial"] == 0
    with pytest.raises(ManifestError, match=r"landuse_shares\.retail"):
        PopulationParams.from_manifest({"defaults": {"landuse_shares": {"retail": 2}}})


# --------------------------------------------------------------------------- whole numbers


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(st.floats(min_value=0, max_value=900), min_size=1, max_size=60),
    seed=st.integers(min_value=0, max_value=1000),
)
def test_whole_numbers_add_up_level_by_level(values: list[float], seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = len(values)
    community = rng.integers(0, 3, n)
    grid = community * 10 + rng.integers(0, 4, n)
    v = np.array(values)
    got = whole_numbers(v, community, grid)
    assert got.dtype.kind == "i" and (got >= 0).all()
    assert got.sum() == round(v.sum())
    for level in (community, grid):
        exact = pd.Series(v).groupby(level).sum()
        whole = pd.Series(got).groupby(level).sum()
        # each group's total is within one of its unrounded value
        assert (np.abs(whole - exact) < 1 + 1e-9).all()
    assert (np.abs(got - v) < 1 + 1e-9).all()


def test_whole_numbers_round_up_the_largest_fractions() -> None:
    # total 10: floors 4, 3, 1 and two more for the largest fractions, .7 and .7
    assert whole_numbers([4.6, 3.7, 1.7]).tolist() == [4, 4, 2]
    # 1.8 -> 2: alone, the first two get them; grouped, group b (0.6) rounds up before
    # group a (1.2), and a's one goes to its first item
    assert whole_numbers([0.6, 0.6, 0.6]).tolist() == [1, 1, 0]
    assert whole_numbers([0.6, 0.6, 0.6], ["a", "a", "b"]).tolist() == [1, 0, 1]
