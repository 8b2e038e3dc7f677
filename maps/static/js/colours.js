/**
 * colours.js — district colours and walking-time classes, shared by the map
 * and the panels so a swatch always matches its grids.
 *
 * District colours come from /static/palette.json, which the report
 * (maps/colours.py) reads too. Districts are coloured by adjacency:
 * `colourDistricts` is the same algorithm as maps/colours.py
 * `colour_districts` (a browser test runs both on the same graphs), so a plan
 * looks the same on the page and in the report, neighbours always differ, and
 * after an edit a district keeps its colour unless a clash forces it.
 */

export const PALETTE = await fetch("/static/palette.json").then((r) => r.json());
const COLOURS = PALETTE.districts;

// The colouring shown now: district id (string) -> palette index.
let shown = new Map();

/** Colour of district `d`: its current colouring, else its home colour. */
export function districtColour(d) {
  const i = shown.get(String(d));
  return COLOURS[i ?? homeColour(String(d), COLOURS.length)];
}

/** Home colour of a district: number - 1 modulo the palette (a text id: its character sum). */
function homeColour(d, n) {
  const x = Number(d);
  const i = Number.isFinite(x) ? x - 1 : [...d].reduce((s, c) => s + c.charCodeAt(0), 0);
  return ((i % n) + n) % n;
}

const byId = (a, b) => {
  const x = Number(a);
  const y = Number(b);
  return Number.isFinite(x) && Number.isFinite(y) ? x - y : String(a).localeCompare(String(b));
};

/**
 * Palette index of each district; no two neighbours share one when it can be helped.
 * @param {Map<string, Set<string>>} neighbours  district -> neighbouring districts (symmetric)
 * @param {Map<string, number>|null} previous  the colouring shown so far, or null for a fresh one
 * @param {number} n  palette size
 * @returns {Map<string, number>}
 */
export function colourDistricts(neighbours, previous, n) {
  const wanted = (d) => {
    const p = previous?.get(d);
    return p !== undefined && p >= 0 && p < n ? p : homeColour(d, n);
  };
  const colour = new Map();
  for (const d of [...neighbours.keys()].sort(byId)) {
    const taken = new Set();
    for (const m of neighbours.get(d)) if (colour.has(m)) taken.add(colour.get(m));
    if (!taken.has(wanted(d))) {
      colour.set(d, wanted(d));
      continue;
    }
    const free = [];
    for (let c = 0; c < n; c++) if (!taken.has(c)) free.push(c);
    const wants = [...neighbours.get(d)].filter((m) => !colour.has(m)).map(wanted);
    if (free.length) colour.set(d, leastWanted(free, wants));
    else if (!handOver(d, neighbours, colour, n, wanted)) return dsatur(neighbours, n);
  }
  return colour;
}

/** The free colour fewest later neighbours want (ties: the lower index), as maps/colours.py. */
function leastWanted(free, wants) {
  const count = (c) => wants.filter((w) => w === c).length;
  return free.reduce((best, c) => (count(c) < count(best) ? c : best));
}

/** Colour `d`, ringed by every colour, by moving one neighbour on (as maps/colours.py `_hand_over`). */
function handOver(d, neighbours, colour, n, wanted) {
  // Colours no later neighbour wants first: the hand-over then forces no further change.
  const later = new Set();
  for (const m of neighbours.get(d)) if (!colour.has(m)) later.add(wanted(m));
  const order = [...Array(n).keys()].sort((a, b) => later.has(a) - later.has(b) || a - b);
  for (const c of order) {
    const holders = [...neighbours.get(d)].filter((m) => colour.get(m) === c);
    if (holders.length !== 1) continue;
    const m = holders[0];
    const used = new Set([c]);
    for (const q of neighbours.get(m)) if (colour.has(q) && q !== d) used.add(colour.get(q));
    const free = [];
    for (let x = 0; x < n; x++) if (!used.has(x)) free.push(x);
    if (!free.length) continue;
    colour.set(m, leastWanted(free, [...neighbours.get(m)].filter((q) => !colour.has(q)).map(wanted)));
    colour.set(d, c);
    return true;
  }
  return false;
}

/** Brélaz's DSATUR (ties: more neighbours, then the lower id), as maps/colours.py `dsatur`. */
export function dsatur(neighbours, n) {
  const colour = new Map();
  const ids = [...neighbours.keys()].sort(byId);
  while (colour.size < ids.length) {
    let best = null;
    let bestKey = null;
    for (const d of ids) {
      if (colour.has(d)) continue;
      const sat = new Set([...neighbours.get(d)].filter((m) => colour.has(m)).map((m) => colour.get(m))).size;
      const key = [sat, neighbours.get(d).size];
      if (!best || key[0] > bestKey[0] || (key[0] === bestKey[0] && key[1] > bestKey[1])) {
        best = d;
        bestKey = key;
      }
    }
    const used = [...neighbours.get(best)].filter((m) => colour.has(m)).map((m) => colour.get(m));
    let pick = 0;
    for (let c = 1; c < n; c++) if (used.filter((u) => u === c).length < used.filter((u) => u === pick).length) pick = c;
    colour.set(best, pick);
  }
  return colour;
}

/** District -> districts whose grids share a piece of boundary, from the grid neighbour graph. */
export function districtGraph(touching, districtOf, districts) {
  const graph = new Map(districts.map((d) => [d, new Set()]));
  for (const [code, nbrs] of touching) {
    const a = districtOf(code);
    if (a === undefined) continue;
    for (const other of nbrs) {
      const b = districtOf(other);
      if (b !== undefined && b !== a) graph.get(a)?.add(b);
    }
  }
  return graph;
}

/**
 * Colour the plan's districts: afresh (`fresh`, a newly opened plan) or keeping the
 * colours shown unless a clash forces a change. Returns the districts whose colour changed.
 */
export function recolour(graph, { fresh = false } = {}) {
  const next = colourDistricts(graph, fresh ? null : shown, COLOURS.length);
  const changed = [...next].filter(([d, i]) => shown.get(d) !== i).map(([d]) => d);
  shown = next;
  return changed;
}

/** Walking-time classes: upper bound in seconds, colour, i18n label. */
export const WALK_CLASSES = [
  { max: 300, colour: "#1a9850", label: ["minutes", { m: "≤5" }] },
  { max: 600, colour: "#91cf60", label: ["minutes", { m: "≤10" }] },
  { max: 900, colour: "#fee08b", label: ["minutes", { m: "≤15" }] },
  { max: Infinity, colour: "#fc8d59", label: ["over_15", {}] },
];
export const UNREACHABLE = "#d73027";

/** Colour of a walking time in seconds; null/undefined is unreachable. */
export function walkColour(s) {
  if (s === null || s === undefined || Number.isNaN(s)) return UNREACHABLE;
  return WALK_CLASSES.find((c) => s <= c.max).colour;
}
