/**
 * plan.js — the plan as the page holds it: every grid's district, and live
 * tallies that follow each move.
 *
 * Pure data, no DOM and no Leaflet, so it stays fast with thousands of grids
 * and can be checked against a fresh recount (`recount()`), the way
 * GerryChain's tally test does. Moves update population, households, grid
 * counts and community membership per district in O(1); contiguity is a BFS
 * over the grid neighbour graph, run only for the districts a stroke touched.
 *
 * District ids are strings (the API's integers, as text).
 */

/**
 * Grid neighbours from the grid polygons, as the server defines them
 * (gis/adjacency.py): two grids are neighbours when they share a piece of
 * boundary at least MIN_SHARED_M long, within SNAP_M; touching at a corner is
 * not enough. Shared pieces are found from their end points: every vertex of
 * one grid that lies on the boundary of another (also at T-junctions, where
 * the two outlines do not share vertices) is a touch point, and two touch
 * points at least MIN_SHARED_M apart make a shared piece.
 * Coordinates are turned into local metres (equirectangular; ample at city scale).
 * @param {Array} features  GeoJSON grid features with properties.code
 * @returns {Map<string, Set<string>>}
 */
export function adjacencyFromPolygons(features) {
  const SNAP_M = 0.1;
  const MIN_SHARED_M = 0.5;
  const CELL_M = 25;
  const rings = []; // [code, [[x, y], ...]]
  let latSum = 0;
  let latN = 0;
  for (const f of features) {
    const g = f.geometry;
    if (!g) continue;
    const polys = g.type === "Polygon" ? [g.coordinates] : g.type === "MultiPolygon" ? g.coordinates : [];
    for (const poly of polys)
      for (const ring of poly) {
        rings.push([String(f.properties.code), ring]);
        latSum += ring[0][1];
        latN += 1;
      }
  }
  const lat0 = ((latN ? latSum / latN : 0) * Math.PI) / 180;
  const ky = (6371008.8 * Math.PI) / 180;
  const kx = ky * Math.cos(lat0);
  const proj = rings.map(([code, ring]) => [code, ring.map(([lon, lat]) => [lon * kx, lat * ky])]);
  // bucket every edge into the cells its (snapped) bounding box covers
  const buckets = new Map();
  const cell = (v) => Math.floor(v / CELL_M);
  for (const [code, ring] of proj) {
    for (let i = 0; i + 1 < ring.length; i++) {
      const a = ring[i];
      const b = ring[i + 1];
      const edge = { code, a, b };
      for (let cx = cell(Math.min(a[0], b[0]) - SNAP_M); cx <= cell(Math.max(a[0], b[0]) + SNAP_M); cx++)
        for (let cy = cell(Math.min(a[1], b[1]) - SNAP_M); cy <= cell(Math.max(a[1], b[1]) + SNAP_M); cy++) {
          const k = `${cx},${cy}`;
          if (!buckets.has(k)) buckets.set(k, []);
          buckets.get(k).push(edge);
        }
    }
  }
  // touch points per pair of grids
  const touches = new Map();
  for (const [code, ring] of proj) {
    for (const v of ring) {
      for (const e of buckets.get(`${cell(v[0])},${cell(v[1])}`) || []) {
        if (e.code === code || distToSegment(v, e.a, e.b) > SNAP_M) continue;
        const key = code < e.code ? `${code}|${e.code}` : `${e.code}|${code}`;
        if (!touches.has(key)) touches.set(key, []);
        touches.get(key).push(v);
      }
    }
  }
  const nbrs = new Map(features.map((f) => [String(f.properties.code), new Set()]));
  for (const [key, points] of touches) {
    if (!sharesPiece(points, MIN_SHARED_M)) continue;
    const [a, b] = key.split("|");
    nbrs.get(a)?.add(b);
    nbrs.get(b)?.add(a);
  }
  return nbrs;
}

function sharesPiece(points, minLength) {
  const first = points[0];
  return points.some((p) => Math.hypot(p[0] - first[0], p[1] - first[1]) >= minLength)
    || points.some((p, i) => points.slice(i + 1).some((q) => Math.hypot(p[0] - q[0], p[1] - q[1]) >= minLength));
}

function distToSegment(p, a, b) {
  const dx = b[0] - a[0];
  const dy = b[1] - a[1];
  const len2 = dx * dx + dy * dy;
  let t = len2 ? ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / len2 : 0;
  t = Math.max(0, Math.min(1, t));
  return Math.hypot(p[0] - (a[0] + t * dx), p[1] - (a[1] + t * dy));
}

/** Add the server's bridges (islands joined to their nearest grid) to `neighbours`. */
export function addBridges(neighbours, bridges) {
  for (const pair of bridges || []) {
    const [a, b] = pair.map(String);
    if (!neighbours.has(a) || !neighbours.has(b)) continue;
    neighbours.get(a).add(b);
    neighbours.get(b).add(a);
  }
}

export class PlanModel {
  /**
   * @param {Array<{code: string, population: number, households: number, community: string}>} grids
   * @param {Map<string, Set<string>>} neighbours
   */
  constructor(grids, neighbours) {
    this.grids = new Map(grids.map((g) => [g.code, g]));
    this.neighbours = neighbours;
    this.assignment = new Map();
    this.districts = [];
    this.tally = new Map();
  }

  /** Replace the whole assignment ({code: district}) and recount everything. */
  load(assignment) {
    this.assignment = new Map(Object.entries(assignment).map(([g, d]) => [g, String(d)]));
    const ids = new Set(this.assignment.values());
    this.districts = [...ids].sort(compareIds);
    this.tally = this.recount();
  }

  /** Fresh tallies from scratch (also the reference the incremental ones are tested against). */
  recount() {
    const tally = new Map(this.districts.map((d) => [d, emptyTally()]));
    for (const [code, d] of this.assignment) {
      const g = this.grids.get(code);
      if (!g) continue;
      if (!tally.has(d)) tally.set(d, emptyTally());
      addTo(tally.get(d), g, +1);
    }
    return tally;
  }

  /** District of a grid. */
  districtOf(code) {
    return this.assignment.get(code);
  }

  /**
   * Move one grid to district `d`, updating the tallies.
   * @returns {string|null} the grid's previous district, or null when unchanged
   */
  move(code, d) {
    d = String(d);
    const from = this.assignment.get(code);
    const g = this.grids.get(code);
    if (from === undefined || from === d || !g) return null;
    if (!this.tally.has(d)) {
      this.tally.set(d, emptyTally());
      this.districts = [...this.districts, d].sort(compareIds);
    }
    addTo(this.tally.get(from), g, -1);
    addTo(this.tally.get(d), g, +1);
    this.assignment.set(code, d);
    return from;
  }

  get totalPopulation() {
    let s = 0;
    for (const v of this.tally.values()) s += v.population;
    return s;
  }

  /** Ideal population per district (total / k). */
  get ideal() {
    const k = this.districts.length || 1;
    return this.totalPopulation / k;
  }

  /**
   * Ideal population of district `d`. In a city whose districts each lie in one
   * sub-district (digits 7-9 of the grid codes: a plan drawn per sub-district),
   * it is the sub-district's population over its districts, as the server
   * measures it (gis/cityplan.py); otherwise the whole plan's over k.
   */
  idealOf(d) {
    const subs = this.subdistrictIdeals();
    return subs ? subs.get(d) : this.ideal;
  }

  /** District -> its sub-district's ideal, or null when the districts do not nest in a city. */
  subdistrictIdeals() {
    const home = new Map(); // district -> its one sub-district
    for (const d of this.districts) {
      const here = [...this.tally.get(d).subdistricts].filter(([, n]) => n > 0);
      if (here.length > 1) return null; // a district across a sub-district line
      if (here.length === 1) home.set(d, here[0][0]);
    }
    const sums = new Map(); // sub-district -> [population, districts]
    for (const [d, sub] of home) {
      const s = sums.get(sub) || [0, 0];
      sums.set(sub, [s[0] + this.tally.get(d).population, s[1] + 1]);
    }
    if (sums.size < 2) return null; // one area, not a city
    return new Map([...home].map(([d, sub]) => [d, sums.get(sub)[0] / sums.get(sub)[1]]));
  }

  /** Signed population deviation of district `d` (fraction of its ideal, see idealOf). */
  deviation(d) {
    const ideal = this.idealOf(d);
    return ideal ? this.tally.get(d).population / ideal - 1 : 0;
  }

  /** Number of connected pieces of district `d` (0 when empty). */
  pieces(d) {
    const members = [];
    for (const [code, dd] of this.assignment) if (dd === d) members.push(code);
    const seen = new Set();
    let pieces = 0;
    for (const start of members) {
      if (seen.has(start)) continue;
      pieces += 1;
      const queue = [start];
      seen.add(start);
      while (queue.length) {
        const c = queue.pop();
        for (const n of this.neighbours.get(c) || []) {
          if (!seen.has(n) && this.assignment.get(n) === d) {
            seen.add(n);
            queue.push(n);
          }
        }
      }
    }
    return pieces;
  }

  /** Number of communities district `d` touches. */
  communities(d) {
    const c = this.tally.get(d)?.communities;
    if (!c) return 0;
    let n = 0;
    for (const v of c.values()) if (v > 0) n += 1;
    return n;
  }

  /** Communities whose grids fall in more than one district. */
  communitiesSplit() {
    const seen = new Map();
    for (const [code, d] of this.assignment) {
      const c = this.grids.get(code)?.community;
      if (!c) continue;
      if (!seen.has(c)) seen.set(c, new Set());
      seen.get(c).add(d);
    }
    let n = 0;
    for (const s of seen.values()) if (s.size > 1) n += 1;
    return n;
  }
}

function emptyTally() {
  return { population: 0, households: 0, grids: 0, communities: new Map(), subdistricts: new Map() };
}

function addTo(t, g, sign) {
  t.population += sign * (g.population || 0);
  t.households += sign * (g.households || 0);
  t.grids += sign;
  if (g.community) t.communities.set(g.community, (t.communities.get(g.community) || 0) + sign);
  const sub = String(g.code || "").slice(6, 9); // digits 7-9 of the 15-digit code
  if (sub) t.subdistricts.set(sub, (t.subdistricts.get(sub) || 0) + sign);
}

/** Order district ids numerically when they are numbers, else as text. */
export function compareIds(a, b) {
  const na = Number(a);
  const nb = Number(b);
  if (Number.isFinite(na) && Number.isFinite(nb)) return na - nb;
  return String(a).localeCompare(String(b));
}
