/**
 * rebuild.js — the page's rebuild form: new grids from the planner's files and targets.
 *
 * Uploads the households table and community boundaries it is given
 * (`POST /uploads/{kind}`), starts `POST /builds` (a job: the server swaps
 * the new folder in only when the build succeeded, and keeps every plan,
 * marking those whose grids changed), follows its progress and reports what
 * changed. It is handed narrow callbacks, never the page's state.
 */

import * as api from "./api.js";
import { t } from "./i18n.js";

/**
 * @param {FormData} form  files `households`, `communities`; numbers `households_min`, `households_max`
 * @param {object} on  {status(text), rebuilt(report)}
 */
export async function rebuild(form, on) {
  on.status(t("running", { p: 0 }));
  try {
    const body = { targets: {} };
    for (const kind of ["households", "communities"]) {
      const file = form.get(kind);
      if (file && file.size) body[kind] = (await api.upload(kind, file)).id;
    }
    for (const key of ["households_min", "households_max"]) {
      const value = Number(form.get(key));
      if (value > 0) body.targets[key] = value;
    }
    const job = await api.waitForJob(await api.startBuild(body), (j) =>
      on.status(`${t("running", { p: Math.round((j.progress ?? 0) * 100) })} ${j.message ?? ""}`),
    );
    if (job.status !== "done") throw new Error(job.message || job.status);
    const r = job.result;
    on.status(
      t("rebuilt_report", {
        a: r.grids_added.length,
        r: r.grids_removed.length,
        h: Object.keys(r.households_changed).length,
        p: r.plans_marked.length,
      }),
    );
    await on.rebuilt(r);
  } catch (err) {
    on.status(t("job_failed", { m: err.message }));
  }
}
