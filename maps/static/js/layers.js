/**
 * layers.js — the Leaflet map and everything drawn on it.
 *
 * Panes, bottom to top: `basemap` (the area's own streets and buildings when
 * no tile server is configured; never interactive), the overlay pane with one
 * shared canvas for grids, buildings and points (so hit-testing picks the
 * top-most of them), `coverage` (isochrones and gaps; never interactive),
 * and district labels in the marker pane. `preferCanvas` keeps 5,000 grids
 * fast: a repaint restyles only the grids that changed.
 */

import { PALETTE, districtColour, walkColour } from "./colours.js";
import { wgs84ToGcj02 } from "./crs.js";

const L = window.L;

/**
 * Create the map inside `el`, fitted to the area's bbox.
 * @param {HTMLElement} el
 * @param {object} info  /api/info
 */
export function createMap(el, info, { svg = false } = {}) {
  const map = L.map(el, {
    preferCanvas: !svg,
    zoomSnap: 0.25,
    boxZoom: false,
    doubleClickZoom: false,
    attributionControl: true,
  });
  map.attributionControl.setPrefix(false);
  map.createPane("basemap").style.zIndex = 250;
  map.getPane("basemap").style.pointerEvents = "none";
  map.createPane("coverage").style.zIndex = 450;
  map.getPane("coverage").style.pointerEvents = "none";
  map.createPane("preview").style.zIndex = 460;
  map.getPane("preview").style.pointerEvents = "none";
  const [w, s, e, n] = info.bbox || [73, 18, 135, 53];
  map.fitBounds(toLatLngBounds([w, s, e, n], info), { animate: false });
  L.control.scale({ imperial: false }).addTo(map);
  return map;
}

/** How a [lon, lat] pair becomes a LatLng: shifted to GCJ-02 when the tiles need it. */
function coordsToLatLng(info) {
  if (info.tile_url && info.tile_crs === "gcj02") {
    return (c) => {
      const [lon, lat] = wgs84ToGcj02(c[0], c[1]);
      return L.latLng(lat, lon);
    };
  }
  return (c) => L.latLng(c[1], c[0]);
}

/** Show the box [w, s, e, n] (WGS 84) on the map. */
export function zoomToBox(map, info, bbox) {
  map.fitBounds(toLatLngBounds(bbox, info), { maxZoom: 18 });
}

function toLatLngBounds([w, s, e, n], info) {
  const f = coordsToLatLng(info);
  return L.latLngBounds(f([w, s]), f([e, n]));
}

/**
 * The basemap: configured tiles for online users, else the area's own
 * streets (and buildings, drawn by the buildings layer) with no network at all.
 */
export function addBasemap(map, info, streets) {
  if (info.tile_url) {
    L.tileLayer(info.tile_url, {
      attribution: info.tile_attribution || "",
      subdomains: info.tile_subdomains || "abc",
      maxZoom: 20,
    }).addTo(map);
    return;
  }
  map.getContainer().classList.add("local-basemap");
  if (!streets) return;
  const renderer = L.canvas({ pane: "basemap", padding: 0.3 });
  const major = new Set(["motorway", "trunk", "primary", "secondary", "tertiary"]);
  L.geoJSON(streets, {
    pane: "basemap",
    renderer,
    interactive: false,
    coordsToLatLng: coordsToLatLng(info),
    style: (f) => ({
      color: major.has(f.properties?.highway) ? "#b0a48c" : "#c9c2b4",
      weight: major.has(f.properties?.highway) ? 3 : 1.5,
      opacity: 0.9,
    }),
  }).addTo(map);
  map.showsOsm = true; // labelMap adds the attribution, in the page's language
}

/**
 * Label the map's own controls in the page's language: the zoom buttons' tooltips
 * and, over the local basemap, the OpenStreetMap attribution.
 */
export function labelMap(map, { zoomIn, zoomOut, osm }) {
  for (const [sel, text] of [[".leaflet-control-zoom-in", zoomIn], [".leaflet-control-zoom-out", zoomOut]]) {
    const button = map.getContainer().querySelector(sel);
    if (button) {
      button.title = text;
      button.setAttribute("aria-label", text);
    }
  }
  if (!map.showsOsm) return;
  if (map.osmAttribution) map.attributionControl.removeAttribution(map.osmAttribution);
  map.attributionControl.addAttribution(osm);
  map.osmAttribution = osm;
}

/**
 * The grid layer: one canvas path per grid, coloured by district.
 * @returns {{layer: L.GeoJSON, byCode: Map<string, L.Path>, restyle: Function, ...}}
 */
export function gridLayer(map, info, grids, renderer, { districtOf, isLocked }) {
  const byCode = new Map();
  const previewed = new Set();
  const styleFor = (code) => {
    const d = districtOf(code);
    const locked = isLocked(d);
    return {
      fillColor: d === undefined ? PALETTE.unassigned : districtColour(d),
      fillOpacity: PALETTE.fill_opacity,
      color: locked ? "#333333" : "#ffffff",
      weight: locked ? 1.2 : 0.7,
      dashArray: locked ? "3 3" : null,
      opacity: 0.9,
    };
  };
  const layer = L.geoJSON(grids, {
    renderer,
    interactive: false, // painting hit-tests with HitIndex; no per-move canvas hover work
    coordsToLatLng: coordsToLatLng(info),
    style: (f) => styleFor(String(f.properties.code)),
    onEachFeature: (f, l) => {
      const code = String(f.properties.code);
      byCode.set(code, l);
      l.gridCode = code;
    },
  }).addTo(map);
  const centres = new Map();
  for (const [code, l] of byCode) centres.set(code, l.getBounds().getCenter());
  const index = new HitIndex(byCode);
  return {
    layer,
    byCode,
    centres,
    /** The grid under `latlng`, or null. */
    hit: (latlng) => index.hit(latlng),
    /** Redraw the given grids (all when omitted) from the current assignment. */
    restyle(codes) {
      for (const c of codes ?? byCode.keys()) byCode.get(c)?.setStyle(styleFor(c));
    },
    /** Show `codes` as if moved to district `to` (suggestion preview). */
    preview(codes, to) {
      this.clearPreview();
      for (const c of codes) {
        const l = byCode.get(c);
        if (!l) continue;
        previewed.add(c);
        l.setStyle({ fillColor: districtColour(to), fillOpacity: 0.85, color: "#111", weight: 3, dashArray: "6 3" });
        l.bringToFront();
      }
    },
    clearPreview() {
      for (const c of previewed) byCode.get(c)?.setStyle(styleFor(c));
      previewed.clear();
    },
    /** Outline grids (e.g. the ones two versions differ on). */
    outline(codes) {
      this.clearPreview();
      for (const c of codes) {
        const l = byCode.get(c);
        if (!l) continue;
        previewed.add(c);
        l.setStyle({ color: "#000", weight: 2.5, dashArray: null });
      }
    },
  };
}

/**
 * Which grid is under a point: a bucket index over the grids' bounds, then an
 * even-odd point-in-polygon test on the candidates. Painting uses it instead
 * of Leaflet's hover events, which are throttled and would skip grids on a
 * fast drag.
 */
class HitIndex {
  constructor(byCode) {
    this.items = [];
    let south = Infinity, west = Infinity, north = -Infinity, east = -Infinity;
    let sumH = 0, sumW = 0;
    for (const [code, layer] of byCode) {
      const b = layer.getBounds();
      const rings = [];
      flattenRings(layer.getLatLngs(), rings);
      this.items.push({ code, b, rings });
      south = Math.min(south, b.getSouth());
      west = Math.min(west, b.getWest());
      north = Math.max(north, b.getNorth());
      east = Math.max(east, b.getEast());
      sumH += b.getNorth() - b.getSouth();
      sumW += b.getEast() - b.getWest();
    }
    const n = Math.max(this.items.length, 1);
    this.origin = [west, south];
    this.size = [Math.max(sumW / n, 1e-6), Math.max(sumH / n, 1e-6)]; // ~one grid per bucket
    this.buckets = new Map();
    for (const item of this.items) {
      const [x0, y0] = this.cell(item.b.getWest(), item.b.getSouth());
      const [x1, y1] = this.cell(item.b.getEast(), item.b.getNorth());
      for (let x = x0; x <= x1; x++)
        for (let y = y0; y <= y1; y++) {
          const k = `${x},${y}`;
          if (!this.buckets.has(k)) this.buckets.set(k, []);
          this.buckets.get(k).push(item);
        }
    }
  }

  cell(lng, lat) {
    return [Math.floor((lng - this.origin[0]) / this.size[0]), Math.floor((lat - this.origin[1]) / this.size[1])];
  }

  hit(latlng) {
    const [x, y] = this.cell(latlng.lng, latlng.lat);
    for (const item of this.buckets.get(`${x},${y}`) || []) {
      if (!item.b.contains(latlng)) continue;
      let inside = false;
      for (const ring of item.rings) if (inRing(latlng, ring)) inside = !inside;
      if (inside) return item.code;
    }
    return null;
  }
}

function flattenRings(latlngs, out) {
  if (!latlngs.length) return;
  if (latlngs[0] instanceof L.LatLng) out.push(latlngs);
  else for (const part of latlngs) flattenRings(part, out);
}

function inRing(p, ring) {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const a = ring[i];
    const b = ring[j];
    if (a.lat > p.lat !== b.lat > p.lat && p.lng < ((b.lng - a.lng) * (p.lat - a.lat)) / (b.lat - a.lat) + a.lng)
      inside = !inside;
  }
  return inside;
}

/**
 * District labels: each district's number at the grid nearest the mean of its grid centres.
 */
export function labelLayer(map) {
  const group = L.layerGroup().addTo(map);
  return {
    group,
    update(model, centres) {
      group.clearLayers();
      const sums = new Map();
      for (const [code, d] of model.assignment) {
        const c = centres.get(code);
        if (!c) continue;
        const s = sums.get(d) || { lat: 0, lng: 0, n: 0, codes: [] };
        s.lat += c.lat;
        s.lng += c.lng;
        s.n += 1;
        s.codes.push(code);
        sums.set(d, s);
      }
      for (const [d, s] of sums) {
        const mean = L.latLng(s.lat / s.n, s.lng / s.n);
        let best = null;
        let bestDist = Infinity;
        for (const code of s.codes) {
          const c = centres.get(code);
          const dist = (c.lat - mean.lat) ** 2 + (c.lng - mean.lng) ** 2;
          if (dist < bestDist) {
            bestDist = dist;
            best = c;
          }
        }
        L.marker(best, {
          interactive: false,
          keyboard: false,
          icon: L.divIcon({ className: "dlabel", html: `<span>${escapeHtml(d)}</span>`, iconSize: null }),
        }).addTo(group);
      }
    },
  };
}

/**
 * Buildings on the shared canvas: grey on the local basemap, or coloured by
 * walking time when that view is on.
 */
export function buildingLayer(map, info, buildings, renderer, { onEvent }) {
  let byWalk = false;
  const style = (f) =>
    byWalk
      ? { fillColor: walkColour(f.properties.walk_s), fillOpacity: 0.95, color: "#555", weight: 0.4 }
      : { fillColor: "#9e9e9e", fillOpacity: 0.55, color: "#8a8a8a", weight: 0.3 };
  const layer = L.geoJSON(buildings, {
    renderer,
    coordsToLatLng: coordsToLatLng(info),
    style,
    onEachFeature: (f, l) => {
      l.on("click", (e) => onEvent("click", f, e));
    },
  }).addTo(map);
  return {
    layer,
    setWalkColours(on) {
      byWalk = on;
      layer.setStyle(style);
    },
  };
}

/** Isochrones grouped by minutes (5/10/15), in the non-interactive coverage pane. */
export function isochroneLayers(map, info, fc) {
  const renderer = L.canvas({ pane: "coverage", padding: 0.3 });
  const groups = new Map();
  for (const f of fc.features) {
    const p = f.properties || {};
    const minutes = p.minutes ?? (p.seconds ?? p.time_s ?? p.walk_s ?? 0) / 60;
    const m = Math.round(minutes);
    if (!groups.has(m)) groups.set(m, []);
    groups.get(m).push(f);
  }
  const shades = { 5: "#08519c", 10: "#3182bd", 15: "#6baed6" };
  const layers = new Map();
  for (const [m, features] of groups) {
    layers.set(
      m,
      L.geoJSON({ type: "FeatureCollection", features }, {
        pane: "coverage",
        renderer,
        interactive: false,
        coordsToLatLng: coordsToLatLng(info),
        style: { color: shades[m] || "#2171b5", weight: 2, fillOpacity: 0.08, fillColor: shades[m] || "#2171b5" },
      }),
    );
  }
  return layers;
}

/** Gap outlines (non-interactive). */
export function gapLayer(map, info, fc) {
  return L.geoJSON(fc, {
    pane: "coverage",
    renderer: L.canvas({ pane: "coverage", padding: 0.3 }),
    interactive: false,
    coordsToLatLng: coordsToLatLng(info),
    pointToLayer: (_f, ll) => L.circleMarker(ll, { radius: 5 }),
    style: { color: "#d73027", weight: 2.5, fillOpacity: 0.15, fillColor: "#d73027" },
  });
}

/** Service points or suggested sites as circle markers with a tooltip. */
export function pointLayer(map, info, fc, renderer, { colour, radius, label }) {
  return L.geoJSON(fc, {
    renderer,
    coordsToLatLng: coordsToLatLng(info),
    pointToLayer: (f, ll) =>
      L.circleMarker(ll, { renderer, radius, color: "#fff", weight: 1.5, fillColor: colour, fillOpacity: 1 }),
    style: { color: colour, weight: 2, fillOpacity: 0.2 },
    onEachFeature: (f, l) => l.bindTooltip(label(f)),
  });
}

export function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}
