/**
 * api.js — the page's only door to the gridplan HTTP API (docs/API.md).
 *
 * Reads the access token from the page URL (`/?token=...`) once, keeps it for
 * this tab (sessionStorage) and takes it out of the address bar, so it is
 * neither in the history nor shown to others; it goes as
 * `Authorization: Bearer <token>` on every request (and the server answers
 * with `Referrer-Policy: no-referrer`). Plan writes carry
 * `If-Match: "<version>"`; a 412 answer becomes a `ConflictError` holding the
 * server's current version, so the caller can show it instead of losing edits.
 * Every request goes to the page's own origin: the page never reaches out.
 */

const token = readToken();

function readToken() {
  const params = new URLSearchParams(location.search);
  let found = params.get("token");
  try {
    if (found) sessionStorage.setItem("gridplan.token", found);
    else found = sessionStorage.getItem("gridplan.token");
  } catch {
    /* storage disabled: the token lasts for this page */
  }
  if (params.has("token")) {
    params.delete("token");
    const rest = params.toString();
    history.replaceState(history.state, "", `${location.pathname}${rest ? `?${rest}` : ""}${location.hash}`);
  }
  return found;
}

/** An HTTP error with the server's `detail` message. */
export class ApiError extends Error {
  constructor(status, detail, body) {
    super(typeof detail === "string" ? detail : JSON.stringify(detail));
    this.status = status;
    this.body = body;
  }
}

/** A plan write refused because another version was saved in between (HTTP 412). */
export class ConflictError extends ApiError {
  constructor(detail, body, currentVersion) {
    super(412, detail, body);
    this.currentVersion = currentVersion;
  }
}

/** Whether the page was opened with a token (a planner link). */
export const hasToken = () => Boolean(token);

function headers(extra = {}) {
  const h = { Accept: "application/json", ...extra };
  if (token) h.Authorization = `Bearer ${token}`;
  return h;
}

/**
 * Send a request and parse its JSON answer.
 * @param {string} path  path and query, e.g. "/plans/current"
 * @param {object} [opts]  method, body (JSON-encoded here), version (-> If-Match)
 * @returns {Promise<{data: any, etag: string|null, status: number, location: string|null}>}
 */
export async function request(path, { method = "GET", body, version } = {}) {
  const extra = {};
  if (body !== undefined) extra["Content-Type"] = "application/json";
  if (version !== undefined && version !== null) extra["If-Match"] = `"${version}"`;
  const res = await fetch(path, {
    method,
    headers: headers(extra),
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = text;
  }
  const etag = res.headers.get("ETag");
  if (!res.ok) {
    const detail = (data && data.detail) || res.statusText;
    if (res.status === 412) {
      const current = data?.current_version ?? parseVersion(etag);
      throw new ConflictError(detail, data, current);
    }
    throw new ApiError(res.status, detail, data);
  }
  return { data, etag, status: res.status, location: res.headers.get("Location") };
}

/** The version number inside an ETag such as `"7"` or `W/"7"`. */
export function parseVersion(etag) {
  if (!etag) return null;
  const m = /(\d+)/.exec(etag);
  return m ? Number(m[1]) : null;
}

const get = async (path) => (await request(path)).data;
const enc = encodeURIComponent;

/** Area facts: name, language, bbox, can_edit, tolerance, default_plan, layers. */
export const info = () => get("/api/info");

/**
 * All features of a collection (one request; the API allows up to 100000).
 * @param {string} id  collection id (grids, buildings, streets, ...)
 * @param {string[]} [properties]  only these properties
 */
export async function collection(id, properties) {
  const q = new URLSearchParams({ limit: "100000" });
  if (properties) q.set("properties", properties.join(","));
  return get(`/collections/${enc(id)}/items?${q}`);
}

export const plans = () => get("/plans");

/** A plan (PlanPublic) with its version taken from the ETag when present. */
export async function plan(id) {
  const { data, etag } = await request(`/plans/${enc(id)}`);
  return { ...data, version: parseVersion(etag) ?? data.version };
}

export const assignment = (id, version) =>
  get(`/plans/${enc(id)}/assignment${version ? `?version=${version}` : ""}`);
export const metrics = (id) => get(`/plans/${enc(id)}/metrics`);

/** Save moves [{grid, district}] on top of `version`; answers the new PlanPublic. */
export async function saveMoves(id, version, moves) {
  const { data, etag } = await request(`/plans/${enc(id)}`, {
    method: "PATCH",
    body: { moves },
    version,
  });
  return { ...data, version: parseVersion(etag) ?? data.version };
}

export async function undo(id, version) {
  return (await request(`/plans/${enc(id)}/undo`, { method: "POST", version })).data;
}

export async function redo(id, version) {
  return (await request(`/plans/${enc(id)}/redo`, { method: "POST", version })).data;
}

export const versions = (id) => get(`/plans/${enc(id)}/versions`);
export const compare = (id, a, b) => get(`/plans/${enc(id)}/compare?a=${a}&b=${b}`);

export function suggestions(id, { limit = 8, tolerance } = {}) {
  const q = new URLSearchParams({ limit: String(limit) });
  if (tolerance) q.set("tolerance", String(tolerance));
  return get(`/plans/${enc(id)}/suggestions?${q}`);
}

export async function applySuggestion(id, rank, version) {
  return (
    await request(`/plans/${enc(id)}/suggestions/${rank}/apply`, { method: "POST", version })
  ).data;
}

/** Start a districting job; answers the job (202) or the plan (201). */
export async function createPlan(body) {
  return (await request("/plans", { method: "POST", body })).data;
}

export const job = (id) => get(`/jobs/${enc(id)}`);

/** Poll a job every 0.4 s until it is done or failed, reporting each state. */
export async function waitForJob(started, onProgress = () => {}) {
  let current = started;
  while (current.status === "queued" || current.status === "running") {
    await new Promise((r) => setTimeout(r, 400));
    current = await job(current.id);
    onProgress(current);
  }
  return current;
}

/** Upload a file as `kind` (households, communities, boundary, services); its summary. */
export async function upload(kind, file) {
  const form = new FormData();
  form.append("file", file, file.name || kind);
  const res = await fetch(`/uploads/${enc(kind)}`, { method: "POST", headers: headers(), body: form });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw new ApiError(res.status, data.detail || res.statusText, data);
  return data;
}

/** Start a rebuild (POST /builds); answers the job. */
export async function startBuild(body) {
  return (await request("/builds", { method: "POST", body })).data;
}
export const coverage = () => get("/coverage");
export const coverage1310 = () => get("/coverage/1310");

/**
 * Download a plan export as a file (in `crs`: wgs84, cgcs2000 or gcj02), through
 * fetch so the token header goes along.
 * @returns {Promise<string>} the file name used
 */
export async function download(id, format, crs = "wgs84") {
  const res = await fetch(`/plans/${enc(id)}/export?format=${enc(format)}&crs=${enc(crs)}`, { headers: headers() });
  if (!res.ok) {
    let detail = res.statusText;
    try {
      detail = (await res.json()).detail || detail;
    } catch {
      /* not JSON */
    }
    throw new ApiError(res.status, detail);
  }
  const blob = await res.blob();
  const cd = res.headers.get("Content-Disposition") || "";
  const m = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(cd);
  const ext = { geojson: "geojson", gpkg: "gpkg", csv: "csv" }[format] || format;
  const name = m ? decodeURIComponent(m[1]) : `plan-${id}.${ext}`;
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  return name;
}
