/**
 * main.js — boots the planner page and holds its state and actions.
 *
 * Flow: area info → language → basemap and layers → the plan (assignment,
 * live tallies) → panels. Painting changes the page's model at once (live
 * tallies, contiguity, warnings), then each finished stroke goes to the save
 * queue (save.js), which saves strokes one at a time with `If-Match` and
 * stops at a conflict (412), keeping the unsaved moves behind a banner.
 * Undo/redo are the server's (each is a new version), so every tab of every
 * planner sees the same history. A plan drawn before the grids were rebuilt
 * is shown with a banner that offers to redraw it; the suggestions tab
 * offers a rebuild from uploaded households and communities (POST /builds).
 *
 * `window.gridplan` exposes the state for tests and the benchmark.
 */

import * as api from "./api.js";
import * as coverage from "./coverage.js";
import * as i18n from "./i18n.js";
import { t } from "./i18n.js";
import { districtColour, districtGraph, recolour } from "./colours.js";
import * as layers from "./layers.js";
import { Painter } from "./paint.js";
import * as panels from "./panels.js";
import { PlanModel, addBridges, adjacencyFromPolygons } from "./plan.js";
import { rebuild } from "./rebuild.js";
import { SaveQueue } from "./save.js";
import * as subdistricts from "./subdistricts.js";

const L = window.L;
const $ = (sel) => document.querySelector(sel);

const app = {
  info: null,
  map: null,
  grids: null, // grid layer handle (layers.gridLayer)
  labels: null,
  model: null,
  planId: null,
  canEdit: false,
  locked: new Set(),
  active: null,
  pieces: new Map(), // district -> connected pieces (live)
  tolerance: 0.02,
  serverMetrics: null,
  serverNote: "",
  coverage: { layers: new Map(), buildings: null, services: null },
  suggestions: null,
  subdistrict: null, // the sub-district chosen in a city folder's picker (3 digits)
  timings: {},
  ready: false,
};
window.gridplan = app;

const saver = new SaveQueue({
  save: (moves, version) =>
    api.saveMoves(app.planId, version, moves.map((m) => ({ grid: m.grid, district: apiDistrict(m.district) }))),
  onSaving: () => panels.setStatus(t("saving"), "pending"),
  onSaved: (plan, idle) => {
    app.plan = plan;
    app.serverMetrics = plan.metrics || null;
    updateUndoButtons(plan);
    if (idle) confirmWithServer(plan.metrics);
    panels.setStatus(t("saved", { v: plan.version }));
  },
  onConflict: (currentVersion, pending) => showConflict(currentVersion, pending),
  onFailed: (moves, err) => {
    revertMoves(moves); // not saved: the map shows what the server holds
    panels.setStatus(t("error", { m: err.message }), "error");
  },
  onIdle: () => refreshAfterEdit(),
});
// The queue's state, read by the tests and the benchmark as before.
for (const key of ["queue", "saving", "conflict"]) Object.defineProperty(app, key, { get: () => saver[key] });
Object.defineProperty(app, "version", { get: () => saver.version, set: (v) => (saver.version = v) });

// ------------------------------------------------------------------ boot
async function boot() {
  const t0 = performance.now();
  app.info = await api.info();
  await i18n.init(app.info.language);
  app.timings.info_ms = performance.now() - t0;
  i18n.apply();
  $("#lang").value = i18n.language();
  $("#area-name").textContent = app.info.name || t("title");
  document.title = `${app.info.name || ""} · gridplan`;
  app.canEdit = Boolean(app.info.can_edit);
  const tol = app.info.tolerance;
  app.tolerance = typeof tol === "number" ? tol : (tol?.default ?? 0.02);

  const svg = new URLSearchParams(location.search).get("renderer") === "svg";
  app.map = layers.createMap($("#map"), app.info, { svg });
  const available = new Set(app.info.layers || []);
  const has = (name) => available.size === 0 || available.has(name);
  const [gridsFc, streets, buildings] = await Promise.all([
    api.collection("grids", ["code", "community", "population", "households"]),
    !app.info.tile_url && has("streets") ? api.collection("streets", ["highway"]).catch(() => null) : null,
    has("buildings") ? api.collection("buildings").catch(() => null) : null,
  ]);
  app.timings.fetch_ms = performance.now() - t0;
  layers.addBasemap(app.map, app.info, streets);
  labelMap();
  $("#basemap-note").textContent = app.info.tile_url ? "" : t("basemap_local");

  const t1 = performance.now();
  const gridRecords = gridsFc.features.map((f) => ({
    code: String(f.properties.code),
    population: Number(f.properties.population) || 0,
    households: Number(f.properties.households) || 0,
    community: f.properties.community ? String(f.properties.community) : null,
  }));
  const touching = adjacencyFromPolygons(gridsFc.features);
  app.touching = new Map([...touching].map(([c, n]) => [c, new Set(n)])); // what touches on the map
  app.model = new PlanModel(gridRecords, touching);
  app.timings.adjacency_ms = performance.now() - t1;

  // One canvas for grids, buildings and points; `?renderer=svg` (Leaflet's default
  // renderer) exists only so benchmarks/bench_map.py can compare the two.
  const shared = svg ? L.svg({ padding: 0.3 }) : L.canvas({ padding: 0.3, tolerance: 0 });
  app.painter = new Painter(app.map, paintHooks());
  app.painter.onModeChange = (mode) => {
    $("#mode").classList.toggle("on", mode === "paint");
    $("#mode").firstElementChild.textContent = t(mode === "paint" ? "paint" : "pan");
    $("#mode").firstElementChild.dataset.i18n = mode === "paint" ? "paint" : "pan";
  };
  const t2 = performance.now();
  app.grids = layers.gridLayer(app.map, app.info, gridsFc, shared, {
    districtOf: (c) => app.model.districtOf(c),
    isLocked: (d) => app.locked.has(d),
  });
  if (buildings) {
    app.coverage.buildings = layers.buildingLayer(app.map, app.info, buildings, shared, {
      onEvent: onBuildingEvent,
    });
  }
  app.labels = layers.labelLayer(app.map);
  app.timings.draw_ms = performance.now() - t2;
  app.shared = shared;

  wireUi();
  app.subdistricts = await subdistricts.setup(app.map, has, (code) => {
    app.subdistrict = code;
    renderAll();
  });
  const t3 = performance.now();
  await loadPlans();
  app.timings.plan_ms = performance.now() - t3;
  await coverage.setup(app.coverage, app.map, app.info, app.shared, has);
  app.timings.coverage_ms = performance.now() - t3 - app.timings.plan_ms;
  panels.renderWalkLegend();
  panels.renderBuildingInfo(null);
  app.timings.ready_ms = performance.now() - t0;
  app.timings.ready_since_navigation_ms = performance.now();
  app.ready = true;
  document.body.dataset.ready = "1";
}

// ------------------------------------------------------------------ plans
async function loadPlans(selectId) {
  const list = await api.plans();
  const sel = $("#plan-select");
  sel.replaceChildren(...list.map((p) => new Option(`${p.name} (k=${p.k})`, p.id)));
  const wanted = selectId || new URLSearchParams(location.search).get("plan") || app.info.default_plan;
  const id = list.find((p) => p.id === wanted)?.id || list[0]?.id || null;
  if (id) {
    sel.value = id;
    await openPlan(id);
  } else {
    renderAll();
  }
}

async function openPlan(id) {
  app.planId = id;
  app.locked = loadLocks(id);
  saver.reset(null);
  $("#banner").hidden = true;
  await reloadAssignment();
  refreshSuggestions();
  refreshHistory();
}

/** Fetch the plan and its assignment from the server and redraw everything. */
async function reloadAssignment() {
  const plan = await api.plan(app.planId);
  const asg = await api.assignment(app.planId);
  app.version = asg.version ?? plan.version;
  app.plan = plan;
  app.serverMetrics = plan.metrics || null;
  if (plan.tolerance) app.tolerance = plan.tolerance;
  app.model.load(asg.assignment);
  addBridges(app.model.neighbours, plan.metrics?.bridges); // islands joined by the server
  if (!app.model.districts.includes(app.active)) setActive(app.model.districts[0] ?? null, false);
  app.pieces.clear();
  recomputePieces();
  recolourDistricts();
  app.grids.restyle();
  app.labels.update(app.model, app.grids.centres);
  app.serverNote = "";
  renderAll();
  panels.setStatus(t("saved", { v: app.version }));
  updateUndoButtons(plan);
  showStale(plan);
}

/** A plan drawn before the grids were rebuilt: say so, offer a redraw, stop painting. */
function showStale(plan) {
  const stale = plan.valid === false;
  $("#stale").hidden = !stale;
  if (!stale) return;
  const c = plan.grids_changed || {};
  $("#stale-text").textContent = t("stale", { r: c.removed ?? "?", a: c.added ?? "?" });
  $("#stale-redraw").disabled = !app.canEdit;
}

function updateUndoButtons(plan) {
  $("#undo").disabled = !app.canEdit || !(plan?.can_undo ?? true);
  $("#redo").disabled = !app.canEdit || !(plan?.can_redo ?? false);
}

function recomputePieces(districts) {
  for (const d of districts ?? app.model.districts) app.pieces.set(d, app.model.pieces(d));
}

/**
 * Colour districts by adjacency: afresh for a newly opened plan (as the report does),
 * else keeping every colour unless a clash forces a change; restyle what changed.
 */
function recolourDistricts() {
  const graph = districtGraph(app.touching, (c) => app.model.districtOf(c), app.model.districts);
  const changed = new Set(recolour(graph, { fresh: app.colouredPlan !== app.planId }));
  app.colouredPlan = app.planId;
  if (!changed.size) return;
  app.grids.restyle([...app.model.assignment].filter(([, d]) => changed.has(d)).map(([c]) => c));
}

function renderAll() {
  if (app.model && app.model.districts.length) recolourDistricts();
  const view = {
    model: app.model && app.model.districts.length ? app.model : null,
    tolerance: app.tolerance,
    active: app.active,
    locked: app.locked,
    pieces: app.pieces,
    serverMetrics: app.serverMetrics,
    serverNote: app.serverNote,
    only: app.model ? subdistricts.districtsIn(app.model.assignment, app.subdistrict) : null,
  };
  panels.renderDistricts(view, { pick: (d) => setActive(d), lock: (d) => toggleLock(d) });
  $("#active-chip").style.background = app.active ? districtColour(app.active) : "transparent";
  $("#active-chip").textContent = app.active ?? "";
}

function setActive(d, render = true) {
  app.active = d === undefined || d === null ? null : String(d);
  if (render) renderAll();
}

// ------------------------------------------------------------------ painting
function paintHooks() {
  return {
    canPaint: () => app.canEdit && Boolean(app.planId) && !saver.conflict && app.plan?.valid !== false,
    hit: (latlng) => app.grids.hit(latlng),
    districts: () => app.model.districts,
    active: () => app.active,
    setActive: (d) => setActive(d),
    isLocked: (d) => app.locked.has(d),
    districtOf: (c) => app.model.districtOf(c),
    move: (code, d) => {
      const prev = app.model.move(code, d);
      if (prev !== null) {
        app.grids.restyle([code]);
        liveUpdate([prev, d]);
      }
      return prev;
    },
    revert: (moves) => {
      for (const m of moves) app.model.move(m.grid, m.district);
      app.grids.restyle(moves.map((m) => m.grid));
      liveUpdate(null);
    },
    commit: (moves) => {
      app.labels.update(app.model, app.grids.centres);
      saver.push(moves);
    },
    undo: () => undoRedo("undo"),
    redo: () => undoRedo("redo"),
    refused: (d) => panels.setStatus(t("locked_refused", { d }), "error"),
  };
}

let liveTimer = null;
let lastLive = 0;
const LIVE_EVERY_MS = 80; // panel refresh rate while painting: ~12 per second
/**
 * Live tallies while painting: recount pieces of the touched districts and
 * redraw the panel, at most every LIVE_EVERY_MS and always on a frame, so a
 * long drag over thousands of grids keeps the map smooth.
 */
function liveUpdate(touched) {
  if (touched) {
    app.pendingTouched = app.pendingTouched || new Set();
    touched.forEach((d) => app.pendingTouched.add(d));
  }
  if (liveTimer) return;
  const wait = Math.max(0, LIVE_EVERY_MS - (performance.now() - lastLive));
  liveTimer = setTimeout(() => requestAnimationFrame(runLiveUpdate), wait);
}

function runLiveUpdate() {
  const t0 = performance.now();
  lastLive = t0;
  liveTimer = null;
  recomputePieces(app.pendingTouched ? [...app.pendingTouched] : undefined);
  app.pendingTouched = null;
  renderAll();
  const live = (app.timings.live_ms ??= []);
  if (live.length < 1000) live.push(performance.now() - t0);
}

function revertMoves(moves) {
  for (const m of [...moves].reverse()) app.model.move(m.grid, m.from);
  app.grids.restyle(moves.map((m) => m.grid));
  recomputePieces();
  app.labels.update(app.model, app.grids.centres);
  renderAll();
}

/** District ids go back to the API as integers when they are numbers. */
function apiDistrict(d) {
  return /^\d+$/.test(String(d)) ? Number(d) : d;
}

/** Compare the page's live tallies with the server's metrics; the server wins. */
function confirmWithServer(metrics) {
  const rows = metrics?.districts;
  if (!rows) {
    app.serverNote = "";
    renderAll();
    return;
  }
  let same = true;
  for (const r of rows) {
    const d = String(r.district);
    const mine = app.model.tally.get(d);
    if (!mine || (r.population !== null && r.population !== undefined && Math.abs(mine.population - r.population) > 0.5))
      same = false;
    if (r.contiguous !== undefined) app.pieces.set(d, r.contiguous ? 1 : Math.max(2, app.pieces.get(d) ?? 2));
  }
  app.serverNote = same ? `✓ ${t("server_confirmed")} (v${app.version})` : t("server_differs");
  if (!same) reloadAssignment();
  else renderAll();
}

function showConflict(currentVersion, pending) {
  $("#banner-text").textContent = t("conflict", { v: currentVersion ?? "?", n: new Set(pending.map((m) => m.grid)).size });
  $("#banner").hidden = false;
  app.painter.syncDragging();
  panels.setStatus(t("unsaved", { n: pending.length }), "error");
}

async function resolveConflict(reapply) {
  const last = saver.takeConflict(); // the last district each grid was painted into
  $("#banner").hidden = true;
  await reloadAssignment();
  if (reapply && last.size) {
    // Re-apply them on the latest version.
    const stroke = [];
    for (const [grid, district] of last) {
      const from = app.model.move(grid, district);
      if (from !== null) stroke.push({ grid, district, from });
    }
    app.grids.restyle(stroke.map((m) => m.grid));
    recomputePieces();
    app.labels.update(app.model, app.grids.centres);
    renderAll();
    if (stroke.length) saver.push(stroke);
  }
  app.painter.syncDragging();
}

async function undoRedo(which) {
  if (!app.canEdit || !app.planId || saver.conflict) return;
  await saver.idle();
  try {
    await api[which](app.planId, app.version);
    await reloadAssignment();
    refreshAfterEdit();
  } catch (err) {
    if (err instanceof api.ConflictError) showConflict(err.currentVersion, []);
    else if (err.status !== 409) panels.setStatus(t("error", { m: err.message }), "error");
  }
}

/** Locks belong to this browser (they guard a planner's own painting): kept per plan in localStorage. */
function loadLocks(planId) {
  try {
    return new Set(JSON.parse(localStorage.getItem(`gridplan.locks.${planId}`) || "[]"));
  } catch {
    return new Set();
  }
}

function toggleLock(d) {
  if (app.locked.has(d)) app.locked.delete(d);
  else app.locked.add(d);
  try {
    localStorage.setItem(`gridplan.locks.${app.planId}`, JSON.stringify([...app.locked]));
  } catch {
    /* storage disabled: locks last for this page only */
  }
  const codes = [];
  for (const [c, dd] of app.model.assignment) if (dd === d) codes.push(c);
  app.grids.restyle(codes);
  renderAll();
  renderSuggestions();
}

// ------------------------------------------------------------------ suggestions and jobs
let suggestTimer = null;
function refreshAfterEdit() {
  clearTimeout(suggestTimer);
  suggestTimer = setTimeout(() => {
    refreshSuggestions();
    refreshHistory();
  }, 250);
}

async function refreshSuggestions() {
  if (!app.planId) return;
  try {
    app.suggestions = await api.suggestions(app.planId, { tolerance: app.tolerance });
  } catch (err) {
    app.suggestions = { suggestions: [] };
    if (err.status !== 409) panels.setStatus(t("error", { m: err.message }), "error");
  }
  renderSuggestions();
}

function renderSuggestions() {
  if (!app.suggestions) return;
  panels.renderSuggestions(
    app.suggestions,
    { locked: app.locked, canEdit: app.canEdit && app.plan?.valid !== false },
    {
      preview: (grids, to) => app.grids.preview(grids.map(String), String(to)),
      clearPreview: () => app.grids.clearPreview(),
      apply: (rank) => applySuggestion(rank),
    },
  );
}

async function applySuggestion(rank) {
  await saver.idle();
  app.grids.clearPreview();
  try {
    await api.applySuggestion(app.planId, rank, app.suggestions?.version ?? app.version);
    await reloadAssignment();
    refreshAfterEdit();
  } catch (err) {
    if (err instanceof api.ConflictError) {
      await reloadAssignment();
      await refreshSuggestions();
      panels.setStatus(t("conflict", { v: err.currentVersion, n: 0 }), "error");
    } else panels.setStatus(t("error", { m: err.message }), "error");
  }
}

async function runJob(body) {
  const box = $("#job");
  box.hidden = false;
  $("#job-progress").value = 0;
  $("#job-text").textContent = t("running", { p: 0 });
  try {
    let job = await api.createPlan({ tolerance: app.tolerance, ...body });
    if (job.status === undefined && job.id) {
      await loadPlans(job.id); // 201: the plan itself
      box.hidden = true;
      return;
    }
    job = await api.waitForJob(job, (j) => {
      $("#job-progress").value = j.progress ?? 0;
      $("#job-text").textContent = t("running", { p: Math.round((j.progress ?? 0) * 100) });
    });
    if (job.status !== "done") throw new Error(job.message || job.status);
    $("#job-progress").value = 1;
    box.hidden = true;
    showJobResult(job.result);
    await loadPlans(job.result?.plan);
  } catch (err) {
    $("#job-text").textContent = t("job_failed", { m: err.message });
  }
}

/**
 * What a districting job reports: its warnings (e.g. "best found X, proven bound Y,
 * gap Z") and, for a redraw, the plan at each keep level (people moved, cut edges,
 * Polsby-Popper), so the planner can pick another level.
 */
function showJobResult(result) {
  const box = $("#job-result");
  box.replaceChildren();
  for (const w of result?.warnings ?? []) {
    const p = document.createElement("p");
    p.className = "warning";
    p.textContent = w;
    box.append(p);
  }
  const rows = result?.tradeoff;
  if (!Array.isArray(rows) || !rows.length) return;
  const table = document.createElement("table");
  table.id = "tradeoff";
  const head = [t("keep"), t("kept_people"), t("cut_edges"), t("median_pp")];
  table.append(rowOf(head, "th"));
  for (const r of rows) {
    const tr = rowOf([
      t(`keep_${r.keep}`) + (r.chosen ? " ✓" : ""),
      `${(100 * r.kept_population_share).toFixed(1)}%`,
      String(r.cut_edges),
      r.median_polsby_popper.toFixed(2),
    ], "td");
    if (r.chosen) tr.className = "chosen";
    table.append(tr);
  }
  box.append(table);
}

function rowOf(cells, tag) {
  const tr = document.createElement("tr");
  for (const c of cells) {
    const cell = document.createElement(tag);
    cell.textContent = c;
    tr.append(cell);
  }
  return tr;
}

/** New grids after a rebuild: redraw the grid layer and the plan on it. */
async function reloadLayers() {
  const gridsFc = await api.collection("grids", ["code", "community", "population", "households"]);
  const records = gridsFc.features.map((f) => ({
    code: String(f.properties.code),
    population: Number(f.properties.population) || 0,
    households: Number(f.properties.households) || 0,
    community: f.properties.community ? String(f.properties.community) : null,
  }));
  const touching = adjacencyFromPolygons(gridsFc.features);
  app.touching = new Map([...touching].map(([c, n]) => [c, new Set(n)]));
  app.model = new PlanModel(records, touching);
  app.colouredPlan = null; // colour the redrawn grids afresh
  app.grids.layer.remove();
  app.grids = layers.gridLayer(app.map, app.info, gridsFc, app.shared, {
    districtOf: (c) => app.model.districtOf(c),
    isLocked: (d) => app.locked.has(d),
  });
  await loadPlans(app.planId);
}

// ------------------------------------------------------------------ coverage (coverage.js)
function onBuildingEvent(ev, feature, e) {
  // While painting, the painter owns the pointer; a click shows a building otherwise.
  if (ev !== "click" || app.painter.painting()) return;
  const grid = feature.properties.grid ? String(feature.properties.grid) : null;
  panels.renderBuildingInfo(
    coverage.buildingInfo(app.coverage, app.map, feature, e.latlng, grid ? app.model.districtOf(grid) : null),
  );
  switchTab("coverage");
}

// ------------------------------------------------------------------ history and export
async function refreshHistory() {
  if (!app.planId) return;
  try {
    panels.renderHistory(await api.versions(app.planId));
  } catch {
    /* history is optional */
  }
}

async function compareVersions() {
  const a = document.querySelector("input[name=cmp-a]:checked")?.value;
  const b = document.querySelector("input[name=cmp-b]:checked")?.value;
  if (!a || !b) return;
  try {
    const result = await api.compare(app.planId, a, b);
    panels.renderCompare(result);
    app.grids.outline((result.moves || []).map((m) => String(m.grid)));
  } catch (err) {
    panels.setStatus(t("error", { m: err.message }), "error");
  }
}

async function exportPlan(format) {
  if (!app.planId) return;
  try {
    await saver.idle();
    const name = await api.download(app.planId, format, $("#export-crs").value);
    $("#export-status").textContent = t("export_done", { f: name });
  } catch (err) {
    $("#export-status").textContent = t("error", { m: err.message });
  }
}

// ------------------------------------------------------------------ UI wiring
function switchTab(name) {
  document.querySelectorAll("#panel nav button").forEach((b) => b.classList.toggle("on", b.dataset.tab === name));
  document.querySelectorAll(".tab").forEach((s) => s.classList.toggle("on", s.id === `tab-${name}`));
  if (name !== "history") app.grids?.clearPreview();
}

/** The map's zoom tooltips and attribution in the page's language. */
function labelMap() {
  layers.labelMap(app.map, { zoomIn: t("zoom_in"), zoomOut: t("zoom_out"), osm: t("osm_attribution") });
}

function wireUi() {
  document.querySelectorAll("#panel nav button").forEach((b) => b.addEventListener("click", () => switchTab(b.dataset.tab)));
  $("#lang").addEventListener("change", (e) => i18n.setLanguage(e.target.value));
  i18n.onChange(() => {
    renderAll();
    coverage.labelIsochrones();
    panels.renderWalkLegend();
    panels.renderBuildingInfo(null);
    renderSuggestions();
    refreshHistory();
    $("#basemap-note").textContent = app.info.tile_url ? "" : t("basemap_local");
    labelMap();
    panels.render1310(app.coverage.r1310);
    panels.renderCoverageFigures(app.coverage.figures, (bbox) => layers.zoomToBox(app.map, app.info, bbox));
    panels.setStatus(t("saved", { v: app.version ?? "–" }));
  });
  $("#plan-select").addEventListener("change", (e) => openPlan(e.target.value));
  $("#undo").addEventListener("click", () => undoRedo("undo"));
  $("#redo").addEventListener("click", () => undoRedo("redo"));
  $("#mode").addEventListener("click", () => app.painter.setMode(app.painter.mode === "paint" ? "pan" : "paint"));
  $("#conflict-reload").addEventListener("click", () => resolveConflict(false));
  $("#stale-redraw").addEventListener("click", () =>
    runJob({ name: `${app.plan?.name ?? app.planId} (${t("rebuilt")})`, k: app.plan?.k ?? 1, from_plan: app.planId }),
  );
  $("#rebuild").addEventListener("submit", (e) => {
    e.preventDefault();
    rebuild(new FormData(e.target), {
      status: (text) => ($("#rebuild-status").textContent = text),
      rebuilt: () => reloadLayers(),
    });
  });
  $("#conflict-reapply").addEventListener("click", () => resolveConflict(true));
  $("#suggestions-refresh").addEventListener("click", () => refreshSuggestions());
  $("#new-plan").addEventListener("submit", (e) => {
    e.preventDefault();
    const k = Number(new FormData(e.target).get("k"));
    runJob({ name: `k=${k}`, k });
  });
  $("#redraw-plan").addEventListener("submit", (e) => {
    e.preventDefault();
    const form = new FormData(e.target);
    const k = Number(form.get("k"));
    const keep = String(form.get("keep") || "most");
    runJob({ name: `${app.plan?.name ?? app.planId} → k=${k}`, k, keep, from_plan: app.planId, from_version: app.version });
  });
  document.querySelectorAll(".toggles input").forEach((box) =>
    box.addEventListener("change", () => coverage.toggle(app.coverage, app.map, box.dataset.layer, box.checked)),
  );
  $("#compare").addEventListener("click", compareVersions);
  document.querySelectorAll("button.export").forEach((b) => b.addEventListener("click", () => exportPlan(b.dataset.format)));
  if (!app.canEdit) {
    panels.setStatus(t("read_only"));
    app.painter.setMode("pan");
    $("#mode").disabled = true;
    document.querySelectorAll("#new-plan button, #redraw-plan button, #rebuild button").forEach((b) => (b.disabled = true));
  }
}

Object.assign(app, {
  setActive: (d) => setActive(d),
  toggleLock,
  applySuggestion,
  reloadAssignment,
  flush: () => saver.flush(),
  waitForSaves: () => saver.idle(),
});

boot().catch((err) => {
  console.error(err);
  panels.setStatus(t("error", { m: err.message }), "error");
  document.body.dataset.ready = "error";
});
