/**
 * colours.js — district colours and walking-time classes, shared by the map
 * and the panels so a swatch always matches its grids.
 */

// 20 distinct colours (Tableau 20 reordered so neighbours in the list differ strongly).
const PALETTE = [
  "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#b07aa1",
  "#edc948", "#76b7b2", "#ff9da7", "#9c755f", "#bab0ac",
  "#a0cbe8", "#ffbe7d", "#8cd17d", "#ff9d9a", "#d4a6c8",
  "#f1ce63", "#86bcb6", "#fabfd2", "#d7b5a6", "#79706e",
];

/** Colour of district `d` (numeric ids map to the palette in order). */
export function districtColour(d) {
  const n = Number(d);
  const i = Number.isFinite(n) ? n - 1 : [...String(d)].reduce((s, c) => s + c.charCodeAt(0), 0);
  return PALETTE[((i % PALETTE.length) + PALETTE.length) % PALETTE.length];
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
