/**
 * subdistricts.js — the sub-district picker of a city folder.
 *
 * Shown only when the served folder has a `subdistricts` collection (a city
 * build). The sub-districts' outlines are drawn over the grids; choosing one
 * in the picker zooms the map to it and tells the page (`onPick(code)`), which
 * shows only that sub-district's districts in the district table; "all"
 * goes back to the whole city.
 */

import * as api from "./api.js";
import { t } from "./i18n.js";

const L = window.L;
const $ = (sel) => document.querySelector(sel);

/**
 * Set the picker up when the folder is a city.
 * @param {L.Map} map
 * @param {(name: string) => boolean} has  whether the folder serves a layer
 * @param {(code: string|null) => void} onPick  called with the chosen 3-digit code (null: all)
 * @returns {Promise<object|null>} {features, outlines, pick(code)} or null for a one-area folder
 */
export async function setup(map, has, onPick) {
  if (!has("subdistricts")) return null;
  const fc = await api.collection("subdistricts", ["subdistrict", "name", "code"]);
  const features = new Map(fc.features.map((f) => [String(f.id), f]));
  if (!features.size) return null;
  const outlines = L.geoJSON(fc, {
    interactive: false,
    style: { color: "#263238", weight: 3, opacity: 0.8, fill: false, dashArray: "8 4" },
  }).addTo(map);
  const select = $("#subdistrict-select");
  const all = new Option(t("all_subdistricts"), "");
  all.dataset.i18n = "all_subdistricts";
  const options = [...features].map(([code, f]) => new Option(`${code} ${f.properties.name ?? ""}`.trim(), code));
  select.replaceChildren(all, ...options);
  $("#subdistrict-pick").hidden = false;
  const whole = outlines.getBounds();

  function pick(code) {
    const chosen = code && features.has(code) ? code : null;
    select.value = chosen ?? "";
    const bounds = chosen ? L.geoJSON(features.get(chosen)).getBounds() : whole;
    // a jump, not an animation: the view is the sub-district at once, whatever the load
    if (bounds.isValid()) map.fitBounds(bounds, { padding: [10, 10], animate: false });
    onPick(chosen);
  }
  select.addEventListener("change", () => pick(select.value || null));
  return { features, outlines, pick };
}

/**
 * The districts holding at least one grid of sub-district `code` (digits 7–9 of the grid codes).
 * @param {Map<string, string>} assignment  grid code -> district
 * @param {string|null} code
 * @returns {Set<string>|null}  null when no sub-district is chosen
 */
export function districtsIn(assignment, code) {
  if (!code) return null;
  const out = new Set();
  for (const [grid, d] of assignment) if (String(grid).slice(6, 9) === code && d !== null) out.add(String(d));
  return out;
}
