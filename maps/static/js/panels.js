/**
 * panels.js — the side panel: district tallies and balance chart, warnings,
 * plan figures, suggestions, coverage, history and export.
 *
 * Each `render*` function rebuilds one section from the view it is given
 * (plain data: the model, tolerance, locks, ...) and calls back through the
 * narrow callbacks it is handed (pick, lock, preview, apply); they hold no
 * state of their own and never see the page's whole state. Numbers come from the page's live tallies
 * (plan.js) while painting, and from the server's metrics once it confirms.
 */

import { districtColour, WALK_CLASSES, UNREACHABLE } from "./colours.js";
import { t, num, pct } from "./i18n.js";
import { escapeHtml } from "./layers.js";

const $ = (sel) => document.querySelector(sel);

/** Create an element: h("div", {class: "x", onclick}, child, "text", ...). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "style") el.style.cssText = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/**
 * The districts tab: swatches to pick and lock, the balance chart, warnings and figures.
 * @param {object} view  {model, tolerance, active, locked: Set, pieces: Map, serverMetrics, serverNote,
 *   only: Set of the districts the table shows (one sub-district of a city), or null for all}
 * @param {object} on  {pick(d), lock(d)}
 */
export function renderDistricts(view, on) {
  const { model, tolerance } = view;
  const box = $("#district-list");
  if (!model || !model.districts.length) {
    box.replaceChildren(h("p", { class: "muted" }, t("no_plan")));
    for (const id of ["#district-list", "#warnings", "#figures"]) delete $(id).dataset.key;
    $("#warnings").replaceChildren();
    $("#figures").replaceChildren();
    return;
  }
  // Balance chart: one row per district, bar = signed deviation, band = tolerance.
  const maxDev = Math.max(tolerance * 2, ...model.districts.map((d) => Math.abs(model.deviation(d))));
  const scale = (v) => 50 + (v / maxDev) * 50; // percent of the bar track
  // While painting, the districts stay the same: update the rows in place (cheap).
  const shown = view.only ? model.districts.filter((d) => view.only.has(d)) : model.districts;
  const key = [i18nKey(), tolerance, view.active, [...view.locked].join(","), shown.join(",")].join("|");
  if (box.dataset.key === key && box.firstElementChild) {
    updateRows(view, box, scale);
    renderWarnings(view);
    renderFigures(view);
    return;
  }
  box.replaceChildren();
  const rows = shown.map((d) => {
    const tl = model.tally.get(d);
    const dev = model.deviation(d);
    const outside = Math.abs(dev) > tolerance + 1e-12;
    const left = Math.min(scale(0), scale(dev));
    const width = Math.abs(scale(dev) - scale(0));
    const locked = view.locked.has(d);
    return h(
      "tr",
      { class: `${d === view.active ? "active" : ""} ${outside ? "outside" : ""}`, dataset: { district: d } },
      h(
        "td",
        {},
        h("button", {
          class: "swatch",
          style: `background:${districtColour(d)}`,
          title: t("active_district"),
          "aria-label": `${t("district")} ${d}`,
          onclick: () => on.pick(d),
        }),
      ),
      h("td", { class: "dname" }, d),
      h("td", { class: "n" }, num(tl.population)),
      h("td", { class: "n" }, num(tl.households)),
      h("td", { class: `n dev ${outside ? "bad" : ""}` }, pct(dev)),
      h(
        "td",
        { class: "bar" },
        h(
          "div",
          { class: "track" },
          h("div", { class: "band", style: `left:${scale(-tolerance)}%;width:${scale(tolerance) - scale(-tolerance)}%` }),
          h("div", { class: "zero", style: `left:${scale(0)}%` }),
          h("div", { class: `fill ${outside ? "bad" : ""}`, style: `left:${left}%;width:${Math.max(width, 0.5)}%` }),
        ),
      ),
      h(
        "td",
        {},
        h(
          "button",
          {
            class: `lock ${locked ? "on" : ""}`,
            title: t(locked ? "unlock" : "lock"),
            "aria-pressed": locked ? "true" : "false",
            onclick: () => on.lock(d),
          },
          lockIcon(locked),
        ),
      ),
    );
  });
  box.append(
    h(
      "table",
      { class: "districts" },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          h("th"),
          h("th", {}, t("district")),
          h("th", { class: "n" }, t("population")),
          h("th", { class: "n" }, t("households")),
          h("th", { class: "n" }, t("deviation")),
          h("th", {}, `${t("tolerance")} ±${(tolerance * 100).toFixed(1)}%`),
          h("th"),
        ),
      ),
      h("tbody", {}, rows),
    ),
  );
  box.dataset.key = key;
  renderWarnings(view);
  renderFigures(view);
}

function i18nKey() {
  return t("district");
}

/** Refresh numbers, classes and bars of the existing district rows. */
function updateRows(view, box, scale) {
  const { model, tolerance } = view;
  for (const tr of box.querySelectorAll("tbody tr")) {
    const d = tr.dataset.district;
    const tl = model.tally.get(d);
    const dev = model.deviation(d);
    const outside = Math.abs(dev) > tolerance + 1e-12;
    const cells = tr.querySelectorAll("td.n");
    setText(cells[0], num(tl.population));
    setText(cells[1], num(tl.households));
    setText(cells[2], pct(dev));
    cells[2].classList.toggle("bad", outside);
    tr.classList.toggle("outside", outside);
    const fill = tr.querySelector(".fill");
    fill.classList.toggle("bad", outside);
    fill.style.left = `${Math.min(scale(0), scale(dev))}%`;
    fill.style.width = `${Math.max(Math.abs(scale(dev) - scale(0)), 0.5)}%`;
    const band = tr.querySelector(".band");
    band.style.left = `${scale(-tolerance)}%`;
    band.style.width = `${scale(tolerance) - scale(-tolerance)}%`;
    tr.querySelector(".zero").style.left = `${scale(0)}%`;
  }
}

function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

/** Contiguity, deviation and community warnings for the current assignment. */
export function renderWarnings(view) {
  const { model, tolerance } = view;
  const list = [];
  for (const d of model.districts) {
    if (view.only && !view.only.has(d)) continue; // another sub-district's district
    const tl = model.tally.get(d);
    if (tl.grids === 0) {
      list.push(t("warn_empty", { d }));
      continue;
    }
    const pieces = view.pieces.get(d) ?? 1;
    if (pieces > 1) list.push(t("warn_not_contiguous", { d, n: pieces }));
    const dev = model.deviation(d);
    if (Math.abs(dev) > tolerance + 1e-12)
      list.push(t("warn_deviation", { d, v: pct(dev), t: `${(tolerance * 100).toFixed(1)}%` }));
    const comms = model.communities(d);
    if (comms > 1) list.push(t("warn_spans", { d, n: comms }));
  }
  const box = $("#warnings");
  const key = list.join("\n");
  if (box.dataset.key === key && box.firstChild) return;
  box.dataset.key = key;
  box.replaceChildren(
    list.length
      ? h("ul", { class: "warnings" }, list.map((w) => h("li", {}, w)))
      : h("p", { class: "ok" }, t("no_warnings")),
  );
}

/** The plan's overall figures (live), and whether the server confirmed them. */
export function renderFigures(view) {
  const { model, tolerance } = view;
  const devs = model.districts.map((d) => Math.abs(model.deviation(d)));
  const maxDev = devs.length ? Math.max(...devs) : 0;
  const allContig = model.districts.every((d) => (view.pieces.get(d) ?? 1) <= 1);
  const m = view.serverMetrics || {};
  const rows = [
    [t("grids"), num(model.assignment.size)],
    [t("district"), num(model.districts.length)],
    [t("population"), num(model.totalPopulation)],
    [t("max_deviation"), pct(maxDev, false)],
    [t("within_tolerance"), t(maxDev <= tolerance + 1e-12 ? "yes" : "no")],
    [t("contiguous"), t(allContig ? "yes" : "no")],
    [t("communities_split"), num(model.communitiesSplit())],
  ];
  if (m.mean_polsby_popper !== undefined) rows.push([t("polsby_popper"), m.mean_polsby_popper.toFixed(3)]);
  const box = $("#figures");
  const key = JSON.stringify([rows, view.serverNote]);
  if (box.dataset.key === key && box.firstChild) return;
  box.dataset.key = key;
  box.replaceChildren(
    h("table", { class: "figures" }, rows.map(([k, v]) => h("tr", {}, h("th", {}, k), h("td", {}, v)))),
    view.serverNote ? h("p", { class: "muted", id: "server-note" }, view.serverNote) : "",
  );
}

/**
 * Suggestions list; hovering previews on the map, a click applies.
 * @param {object} data  the answer of GET /plans/{id}/suggestions
 * @param {object} view  {locked: Set, canEdit}
 * @param {object} on  {preview(grids, to), clearPreview(), apply(rank)}
 */
export function renderSuggestions(data, view, on) {
  const box = $("#suggestion-list");
  box.replaceChildren();
  if (!data) return;
  const items = data.suggestions || [];
  if (!items.length) {
    box.append(h("p", { class: "ok" }, t("no_suggestions")));
    return;
  }
  box.append(
    h(
      "ol",
      { class: "suggestions" },
      items.map((s) => {
        const grids = s.grids || (s.moves || []).map((m) => m.grid);
        const from = s.from ?? s.moves?.[0]?.from;
        const to = s.to ?? s.moves?.[0]?.to ?? s.moves?.[0]?.district;
        const touchesLocked = view.locked.has(String(from)) || view.locked.has(String(to));
        return h(
          "li",
          {
            class: touchesLocked ? "locked" : "",
            dataset: { rank: s.rank },
            onmouseenter: () => on.preview(grids, to),
            onmouseleave: () => on.clearPreview(),
          },
          h(
            "div",
            { class: "what" },
            h("span", { class: "chip", style: `background:${districtColour(from)}` }),
            h("span", { class: "chip", style: `background:${districtColour(to)}` }),
            " ",
            t("suggestion_move", { n: grids.length, from, to }),
          ),
          h(
            "div",
            { class: "effect muted" },
            t("suggestion_effect", { a: pct(maxDevOf(s.before), false), b: pct(maxDevOf(s.after), false) }),
            suggestionReason(s, grids.length, from, to),
            touchesLocked ? ` · ${t("touches_locked")}` : "",
          ),
          h(
            "button",
            {
              class: "apply",
              disabled: !view.canEdit || touchesLocked,
              onclick: () => on.apply(s.rank),
            },
            t("apply"),
          ),
        );
      }),
    ),
  );
}

/** A small padlock (closed when locked), drawn as SVG so no icon font is needed. */
function lockIcon(closed) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 16 16");
  svg.setAttribute("width", "14");
  svg.setAttribute("height", "14");
  svg.setAttribute("aria-hidden", "true");
  const shackle = document.createElementNS(ns, "path");
  shackle.setAttribute("d", closed ? "M4.5 7V5a3.5 3.5 0 0 1 7 0v2" : "M4.5 7V5a3.5 3.5 0 0 1 6.8-1.2");
  shackle.setAttribute("fill", "none");
  shackle.setAttribute("stroke", "currentColor");
  shackle.setAttribute("stroke-width", "1.6");
  const body = document.createElementNS(ns, "rect");
  Object.entries({ x: 2.5, y: 7, width: 11, height: 8, rx: 1.5, fill: "currentColor" }).forEach(([k, v]) =>
    body.setAttribute(k, v),
  );
  svg.append(shackle, body);
  return svg;
}

/** Why a suggestion helps, in the page's language, from its figures (not the API's English `reason`). */
function suggestionReason(s, n, from, to) {
  const b = s.before;
  const a = s.after;
  if (!b?.from || !b?.to || !a?.from || !a?.to) return "";
  return ` · ${t("suggestion_reason", {
    what: n === 1 ? t("reason_one_grid") : t("reason_grids", { n }),
    p: num(s.population_moved),
    from,
    to,
    fb: pct(b.from.deviation),
    tb: pct(b.to.deviation),
    fa: pct(a.from.deviation),
    ta: pct(a.to.deviation),
  })}`;
}

function maxDevOf(x) {
  if (x === null || x === undefined) return null;
  if (typeof x === "number") return x;
  return x.max_deviation ?? null;
}

/** The walking-time legend. */
export function renderWalkLegend() {
  const items = WALK_CLASSES.map((c) =>
    h("span", { class: "legend-item" }, h("i", { style: `background:${c.colour}` }), t(c.label[0], c.label[1])),
  );
  items.push(h("span", { class: "legend-item" }, h("i", { style: `background:${UNREACHABLE}` }), t("unreachable")));
  $("#walk-legend").replaceChildren(...items);
}

/** What the planner clicked: a building, its grid, district, walk and nearest service. */
export function renderBuildingInfo(info) {
  const box = $("#building-info");
  if (!info) {
    box.replaceChildren(h("p", { class: "muted" }, t("click_building")));
    return;
  }
  const walk =
    info.walk_s === null || info.walk_s === undefined
      ? t("unreachable")
      : t("minutes", { m: (info.walk_s / 60).toFixed(1) });
  const rows = [
    [t("building"), info.id ?? "–"],
    [t("grids"), info.grid ?? "–"],
    [t("district"), info.district ?? "–"],
    [t("walk"), walk],
    [t("nearest_service"), info.service ?? "–"],
  ];
  box.replaceChildren(
    h("table", { class: "figures", id: "building-table" }, rows.map(([k, v]) => h("tr", {}, h("th", {}, k), h("td", {}, v)))),
  );
}

/** Minutes from seconds, one decimal ("–" when unknown). */
const minutes = (sec) => (sec === null || sec === undefined ? "–" : t("minutes", { m: (sec / 60).toFixed(1) }));

/**
 * The "1310" check: how fast a worker reaches households from the bases, for the
 * area and per district. Only known figures are shown, each with a translated label.
 */
export function render1310(data) {
  const box = $("#figures-1310");
  box.replaceChildren();
  if (!data || Array.isArray(data)) {
    box.append(h("p", { class: "muted" }, t("no_coverage")));
    return;
  }
  const within = Object.keys(data.share_households || {}).sort((a, b) => Number(a) - Number(b));
  const has = (k) => data[k] !== undefined;
  const rows = [
    has("mode") && [t("r1310_mode"), t(`mode_${data.mode}`)],
    has("speed_m_s") && [t("r1310_speed"), t("speed", { v: data.speed_m_s })],
    has("bases") && [t("r1310_bases"), t("r1310_bases_n", { n: num(data.bases) })],
    has("households") && [t("households"), num(data.households)],
    ...within.map((m) => [t("r1310_within", { m }), pct(data.share_households[m], false)]),
    has("worst_case_s") && [t("r1310_worst"), data.worst_case_s === null ? t("r1310_some_unreachable") : minutes(data.worst_case_s)],
    has("outside_count") && within.length && [t("r1310_outside", { m: within.at(-1) }), num(data.outside_count)],
    has("unreachable_buildings") && [t("r1310_unreachable"), num(data.unreachable_buildings)],
  ].filter(Boolean);
  box.append(h("table", { class: "figures", id: "figures-1310-area" }, rows.map(([k, v]) => h("tr", {}, h("th", {}, k), h("td", {}, v)))));
  const per = data.per_district && !Array.isArray(data.per_district) ? Object.entries(data.per_district) : [];
  if (!per.length) return;
  box.append(
    h(
      "table",
      { class: "districts small", id: "figures-1310-districts" },
      h("thead", {}, h("tr", {}, h("th", {}, t("district")), h("th", { class: "n" }, t("households")),
        within.map((m) => h("th", { class: "n" }, `≤${m}′`)), h("th", { class: "n" }, t("r1310_worst_short")))),
      h(
        "tbody",
        {},
        per
          .sort(([a], [b]) => Number(a) - Number(b) || a.localeCompare(b))
          .map(([d, v]) =>
            h(
              "tr",
              {},
              h("td", {}, h("span", { class: "chip", style: `background:${districtColour(d)}` }), d),
              h("td", { class: "n" }, num(v.households)),
              within.map((m) => h("td", { class: "n" }, pct(v.share_households?.[m], false))),
              h("td", { class: "n" }, minutes(v.worst_case_s)),
            ),
          ),
      ),
    ),
  );
}

/**
 * Headline coverage figures from /coverage (any flat numbers it holds), then
 * the pieces of the walk network without a service point and the buildings
 * with long access legs; ``zoomTo([w, s, e, n])`` shows one on the map.
 */
export function renderCoverageFigures(data, zoomTo = () => {}) {
  const box = $("#coverage-figures");
  box.replaceChildren();
  if (!data) {
    box.append(h("p", { class: "muted" }, t("no_coverage")));
    return;
  }
  if (data.profiles && Object.keys(data.profiles).length) {
    renderProfile(box, data.profiles);
    renderAccess(box, data, zoomTo);
    return;
  }
  const flat = [];
  for (const [k, v] of Object.entries(data)) {
    if (typeof v === "number" || typeof v === "string" || typeof v === "boolean") flat.push([k, v]);
    else if (v && typeof v === "object" && !Array.isArray(v) && Object.values(v).every((x) => typeof x === "number"))
      for (const [k2, v2] of Object.entries(v)) flat.push([`${k} ${k2}`, v2]);
  }
  box.append(h("table", { class: "figures" }, flat.slice(0, 24).map(([k, v]) => h("tr", {}, h("th", {}, k), h("td", {}, fmt(v))))));
}

/**
 * Coverage as gis.coverage writes it: for the first walking profile, the share
 * of households within each time for the whole area, then per district.
 */
function renderProfile(box, profiles) {
  const [name, prof] = Object.entries(profiles)[0];
  const within = prof.area?.within || {};
  const minutes = Object.keys(within).sort((a, b) => Number(a) - Number(b));
  const share = (w) => (w?.households_share ?? w?.population_share ?? w?.buildings_share ?? null);
  const speed = prof.speed_m_s ? ` · ${profileName(name)} ${t("speed", { v: prof.speed_m_s })}` : "";
  box.append(
    h(
      "table",
      { class: "figures", id: "coverage-area" },
      minutes.map((m) =>
        h("tr", {}, h("th", {}, `${t("households")} ≤ ${t("minutes", { m })}`), h("td", {}, pct(share(within[m]), false))),
      ),
    ),
    h("p", { class: "muted small" }, `${t("coverage")}${speed}`),
  );
  const per = prof.district;
  if (!per) return;
  box.append(
    h(
      "table",
      { class: "districts small", id: "coverage-districts" },
      h("thead", {}, h("tr", {}, h("th", {}, t("district")), h("th", { class: "n" }, t("households")),
        minutes.map((m) => h("th", { class: "n" }, `≤${m}′`)))),
      h(
        "tbody",
        {},
        Object.entries(per)
          .sort(([a], [b]) => Number(a) - Number(b) || a.localeCompare(b))
          .map(([d, e]) =>
            h(
              "tr",
              {},
              h("td", {}, h("span", { class: "chip", style: `background:${districtColour(d)}` }), d),
              h("td", { class: "n" }, num(e.households)),
              minutes.map((m) => h("td", { class: "n" }, pct(share(e.within?.[m]), false))),
            ),
          ),
      ),
    ),
  );
}

/** A walking profile's name (adult, elderly) in the page's language. */
export const profileName = (name) => (t(`profile_${name}`) === `profile_${name}` ? name : t(`profile_${name}`));
/**
 * Pieces without a service point (their buildings have no walk: a bridge,
 * tunnel or ferry may be missing) and buildings whose access leg is long,
 * each row a button that zooms to it.
 */
function renderAccess(box, data, zoomTo) {
  const pieces = data.network?.pieces_without_service || [];
  const legs = data.access?.long_legs || [];
  const row = (cells, bbox) => {
    const tr = h("tr", { style: "cursor:pointer", title: t("zoom_to") }, cells.map((c, i) => h("td", i ? { class: "n" } : {}, c)));
    tr.addEventListener("click", () => zoomTo(bbox));
    return tr;
  };
  if (pieces.length) {
    box.append(
      h("h4", {}, t("pieces_without_service", { n: num(pieces.length) })),
      h("p", { class: "muted small" }, t("pieces_hint")),
      h(
        "table",
        { class: "districts small", id: "coverage-pieces" },
        h("thead", {}, h("tr", {}, [t("piece"), t("households"), t("buildings"), t("street_m")].map((c) => h("th", {}, c)))),
        h(
          "tbody",
          {},
          pieces.slice(0, 50).map((p) =>
            row([`${p.piece}${p.joined_by_private_ways ? ` · ${t("private_ways")}` : ""}`, num(p.households), num(p.buildings), num(p.length_m)], p.bbox),
          ),
        ),
      ),
    );
  }
  if (legs.length) {
    const pad = 0.0015;
    box.append(
      h("h4", {}, t("long_legs", { n: num(data.access.buildings_long_leg ?? legs.length), m: num(data.access.long_leg_m ?? 100) })),
      h(
        "table",
        { class: "districts small", id: "coverage-long-legs" },
        h("thead", {}, h("tr", {}, [t("building"), t("grids"), t("leg_m"), t("households")].map((c) => h("th", {}, c)))),
        h(
          "tbody",
          {},
          legs.slice(0, 50).map((l) =>
            row([l.id, l.grid ?? "–", num(l.access_m), num(l.households)], [l.at[0] - pad, l.at[1] - pad, l.at[0] + pad, l.at[1] + pad]),
          ),
        ),
      ),
    );
  }
}

function fmt(v) {
  if (typeof v === "number") return Number.isInteger(v) ? num(v) : v.toFixed(3);
  if (typeof v === "boolean") return t(v ? "yes" : "no");
  return v === null || v === undefined ? "–" : String(v);
}

/** Version history with two radio columns to pick versions to compare. */
export function renderHistory(versions) {
  const box = $("#history-list");
  box.replaceChildren();
  if (!versions?.length) return;
  const list = [...versions].sort((a, b) => b.version - a.version);
  box.append(
    h(
      "table",
      { class: "districts small" },
      h("thead", {}, h("tr", {}, h("th", {}, "A"), h("th", {}, "B"), h("th", {}, t("version")), h("th"), h("th"))),
      h(
        "tbody",
        {},
        list.map((v, i) =>
          h(
            "tr",
            {},
            h("td", {}, h("input", { type: "radio", name: "cmp-a", value: v.version, checked: i === 1 || list.length === 1 })),
            h("td", {}, h("input", { type: "radio", name: "cmp-b", value: v.version, checked: i === 0 })),
            h("td", {}, v.version),
            h("td", {}, t(`kind_${v.kind}`) + (v.moved ? ` · ${t("moved", { n: v.moved })}` : "")),
            h("td", { class: "muted" }, (v.created_at || "").replace("T", " ").slice(0, 19)),
          ),
        ),
      ),
    ),
  );
}

export function renderCompare(result) {
  const box = $("#compare-result");
  if (!result) {
    box.replaceChildren();
    return;
  }
  const d = result.delta?.max_deviation;
  box.replaceChildren(
    h(
      "p",
      {},
      t("compare_result", {
        a: result.a,
        b: result.b,
        g: num(result.grids_moved),
        p: num(result.people_moved),
        h: num(result.households_moved),
        d: d === undefined ? "–" : pct(d),
      }),
    ),
  );
}

/** A status line at the top of the panel (saved / saving / errors). */
export function setStatus(text, kind = "") {
  const el = $("#status");
  el.textContent = text;
  el.className = kind;
}

export { escapeHtml };
