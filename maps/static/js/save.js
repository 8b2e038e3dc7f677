/**
 * save.js — the page's save and conflict queue.
 *
 * Painting changes the page's model at once (main.js); each finished stroke
 * is pushed here and saved with `PATCH /plans/{id}` and `If-Match`, one at a
 * time, on top of the version the last save answered. A conflict (412)
 * stops the queue and keeps every unsaved move until the planner reloads or
 * re-applies them; any other failure gives that stroke back (`onFailed`) so
 * the map shows what the server holds.
 *
 * The queue knows nothing of the map: it is handed narrow callbacks.
 */

import * as api from "./api.js";

export class SaveQueue {
  /**
   * @param {object} hooks
   * @param {(moves: object[]) => Promise<object>} hooks.save  store one stroke on top of `version`
   * @param {(plan: object, idle: boolean) => void} hooks.onSaved  a stroke was stored (idle: none left)
   * @param {(currentVersion: number|null, pending: object[]) => void} hooks.onConflict  a 412
   * @param {(moves: object[], err: Error) => void} hooks.onFailed  a stroke was refused
   * @param {() => void} hooks.onIdle  the queue emptied without a conflict
   * @param {(text: string|null) => void} hooks.onSaving  a save started (null: nothing to show)
   */
  constructor(hooks) {
    this.hooks = hooks;
    this.version = null;
    this.queue = []; // strokes waiting to be saved: [[{grid, district, from}, ...], ...]
    this.saving = false;
    this.conflict = null; // {currentVersion, moves} while a conflict is shown
  }

  /** Start over on a freshly loaded plan at `version` (drops anything unsaved). */
  reset(version) {
    this.version = version;
    this.queue = [];
    this.conflict = null;
  }

  /** Queue one finished stroke and save it when its turn comes. */
  push(moves) {
    this.queue.push(moves);
    this.flush();
  }

  /** Save queued strokes one at a time; stop at a conflict. */
  async flush() {
    if (this.saving || this.conflict) return;
    this.saving = true;
    try {
      while (this.queue.length && !this.conflict) {
        const moves = this.queue[0];
        this.hooks.onSaving();
        try {
          const plan = await this.hooks.save(moves, this.version);
          this.queue.shift();
          this.version = plan.version;
          this.hooks.onSaved(plan, this.queue.length === 0);
        } catch (err) {
          if (err instanceof api.ConflictError) {
            this.conflict = { currentVersion: err.currentVersion, moves: this.queue.flat() };
            this.hooks.onConflict(err.currentVersion, this.conflict.moves);
          } else {
            this.queue.shift();
            this.hooks.onFailed(moves, err);
          }
        }
      }
    } finally {
      this.saving = false;
    }
    if (!this.queue.length && !this.conflict) this.hooks.onIdle();
  }

  /** The moves kept by a conflict, the last district each grid was painted into; clears it. */
  takeConflict() {
    const moves = this.conflict?.moves || [];
    this.conflict = null;
    this.queue = [];
    const last = new Map();
    for (const m of moves) last.set(m.grid, m.district);
    return last;
  }

  /** Resolves when nothing is waiting to be saved (or a conflict stopped the queue). */
  async idle() {
    while (this.saving || this.queue.length) {
      if (this.conflict) return;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
