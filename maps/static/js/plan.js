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
 * Grid neighbours from the grid polygons: two grids are neighbours when they
 * share a boundary segment (both end points equal after rounding to ~1 cm).
 * Corner-only contact is not adjacency, as on the server (gis/adjacency.py).
 * @param {Array} features  GeoJSON grid features with properties.code
 * @returns {Map<string, Set<string>>}
 */
export function adjacencyFromPolygons(features) {
  const key = (p) => `${Math.round(p[0] * 1e7)},${Math.round(p[1] * 1e7)}`;
  const owners = new Map(); // segment key -> first grid code seen with it
  const nbrs = new Map(features.map((f) => [String(f.properties.code), new Set()]));
  for (const f of features) {
    const code = String(f.properties.code);
    const g = f.geometry;
    if (!g) continue;
    const polys = g.type === "Polygon" ? [g.coordinates] : g.type === "MultiPolygon" ? g.coordinates : [];
    for (const poly of polys) {
      for (const ring of poly) {
        for (let i = 0; i + 1 < ring.length; i++) {
          const a = key(ring[i]);
          const b = key(ring[i + 1]);
          if (a === b) continue;
          const seg = a < b ? `${a}|${b}` : `${b}|${a}`;
          const other = owners.get(seg);
          if (other === undefined) owners.set(seg, code);
          else if (other !== code) {
            nbrs.get(code).add(other);
            nbrs.get(other).add(code);
          }
        }
      }
    }
  }
  return nbrs;
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

  /** Signed population deviation of district `d` (fraction of the ideal). */
  deviation(d) {
    const ideal = this.ideal;
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
  return { population: 0, households: 0, grids: 0, communities: new Map() };
}

function addTo(t, g, sign) {
  t.population += sign * (g.population || 0);
  t.households += sign * (g.households || 0);
  t.grids += sign;
  if (g.community) t.communities.set(g.community, (t.communities.get(g.community) || 0) + sign);
}

/** Order district ids numerically when they are numbers, else as text. */
export function compareIds(a, b) {
  const na = Number(a);
  const nb = Number(b);
  if (Number.isFinite(na) && Number.isFinite(nb)) return na - nb;
  return String(a).localeCompare(String(b));
}
