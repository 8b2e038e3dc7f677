/**
 * coverage.js — the coverage tab: isochrones, gaps, sites and service points
 * on the map, the figures and the "1310" table, and what a clicked building
 * shows. Works on the coverage state object it is given
 * (`{layers: Map, buildings, services, serviceNames}`) and the map; it never
 * sees the rest of the page.
 */

import * as api from "./api.js";
import { t } from "./i18n.js";
import * as layers from "./layers.js";
import * as panels from "./panels.js";

const L = window.L;

/** Fetch the coverage layers and figures, add the layers (hidden) and the panel figures. */
export async function setup(c, map, info, shared, has) {
  const [iso, gaps, sites, services, cov, r1310] = await Promise.all([
    has("isochrones") ? api.collection("isochrones").catch(() => null) : null,
    has("gaps") ? api.collection("gaps").catch(() => null) : null,
    has("sites") ? api.collection("sites").catch(() => null) : null,
    has("services") ? api.collection("services").catch(() => null) : has("pois") ? api.collection("pois").catch(() => null) : null,
    api.coverage().catch(() => null),
    api.coverage1310().catch(() => null),
  ]);
  // Service points: the `services` layer, else the POIs coverage used (coverage.json's ids).
  const serviceIds = cov?.services?.ids;
  if (services && !has("services") && Array.isArray(serviceIds)) {
    const keep = new Set(serviceIds.map(String));
    services.features = services.features.filter((f) => keep.has(String(f.properties?.id ?? f.id)));
  }
  c.serviceNames = new Map(
    (services?.features || []).map((f) => [String(f.properties?.id ?? f.id), f.properties?.name || f.properties?.kind || ""]),
  );
  if (iso) for (const [m, layer] of layers.isochroneLayers(map, info, iso)) c.layers.set(`iso-${m}`, layer);
  if (gaps) c.layers.set("gaps", layers.gapLayer(map, info, gaps));
  const label = (f) => layers.escapeHtml(f.properties?.name ?? f.properties?.id ?? f.properties?.rank ?? "");
  if (sites) c.layers.set("sites", layers.pointLayer(map, info, sites, shared, { colour: "#7b3294", radius: 7, label }));
  if (services) {
    c.services = services;
    c.layers.set("services", layers.pointLayer(map, info, services, shared, { colour: "#2c7bb6", radius: 5, label }));
  }
  document.querySelectorAll(".toggles input").forEach((box) => {
    const key = box.dataset.layer;
    const usable = key === "walk" ? Boolean(c.buildings) : c.layers.has(key);
    box.disabled = !usable;
    box.closest("label").classList.toggle("muted", !usable);
  });
  c.figures = cov;
  c.r1310 = r1310;
  panels.renderCoverageFigures(cov, (bbox) => layers.zoomToBox(map, info, bbox));
  panels.render1310(r1310);
  labelIsochrones();
}

export function labelIsochrones() {
  document.querySelectorAll(".iso-label").forEach((el) => {
    el.textContent = `${t("isochrones")} ${t("minutes", { m: el.dataset.m })}`;
  });
}

/** Show or hide one coverage layer (`walk` colours the buildings by walking time). */
export function toggle(c, map, key, on) {
  if (key === "walk") {
    c.buildings?.setWalkColours(on);
    return;
  }
  const layer = c.layers.get(key);
  if (!layer) return;
  if (on) layer.addTo(map);
  else layer.remove();
}

/** What the building panel shows for a clicked building. */
export function buildingInfo(c, map, feature, latlng, district) {
  const p = feature.properties;
  return {
    id: p.id,
    grid: p.grid ? String(p.grid) : null,
    district,
    walk_s: p.walk_s,
    service: serviceLabel(c, p.service ?? p.nearest_service) ?? nearestService(c, map, latlng),
  };
}

/** A service point's name and id, as the building's `service` property names it. */
function serviceLabel(c, id) {
  if (id === null || id === undefined) return null;
  const name = c.serviceNames?.get(String(id));
  return name ? `${name} (${id})` : String(id);
}

function nearestService(c, map, latlng) {
  const fc = c.services;
  if (!fc || !latlng) return null;
  let best = null;
  let bestD = Infinity;
  for (const f of fc.features) {
    if (f.geometry?.type !== "Point") continue;
    const [lon, lat] = f.geometry.coordinates;
    const d = map.distance(latlng, L.latLng(lat, lon));
    if (d < bestD) {
      bestD = d;
      best = f;
    }
  }
  if (!best) return null;
  const name = best.properties?.name ?? best.properties?.id ?? "";
  return `${name} · ${Math.round(bestD)} m (${t("straight_line")})`;
}
