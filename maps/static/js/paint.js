/**
 * paint.js — painting grids into districts with the mouse, and the keyboard.
 *
 * In paint mode a press on a grid starts a stroke, moving over more grids
 * extends it, and the release ends it: the whole stroke becomes one saved
 * edit (one undo step). Holding Space, or switching to pan mode (P), lets the
 * map drag instead. Alt+click picks a grid's district as the active one.
 * Locked districts can neither gain nor lose grids.
 *
 * Keys: Ctrl/⌘+Z undo, Ctrl/⌘+Shift+Z or Ctrl+Y redo, P paint/pan,
 * [ and ] previous/next district, Esc cancels a stroke in progress.
 */

export class Painter {
  /**
   * @param {L.Map} map
   * @param {object} hooks
   *   canPaint() -> bool; districts() -> string[]; active() / setActive(d);
   *   isLocked(d); districtOf(code); move(code, d) -> previous district or null
   *   (applies it to the model and map); revert(moves) undoes a cancelled stroke;
   *   commit(moves) saves a finished stroke; undo(); redo(); refused(d) tells the user.
   */
  constructor(map, hooks) {
    this.map = map;
    this.hooks = hooks;
    this.mode = "paint";
    this.stroke = null; // Map code -> previous district, while the button is down
    this.spaceDown = false;
    document.addEventListener("mouseup", () => this.end());
    map.getContainer().addEventListener("mouseleave", () => this.end());
    document.addEventListener("keydown", (e) => this.onKey(e));
    document.addEventListener("keyup", (e) => {
      if (e.code === "Space") {
        this.spaceDown = false;
        this.syncDragging();
      }
    });
    this.syncDragging();
  }

  /** Handlers for each grid layer (code, Leaflet event). */
  gridHandlers() {
    return {
      mousedown: (code, e) => this.down(code, e.originalEvent),
      mouseover: (code) => this.over(code),
      click: (code, e) => this.click(code, e.originalEvent),
    };
  }

  painting() {
    return this.mode === "paint" && !this.spaceDown && this.hooks.canPaint();
  }

  setMode(mode) {
    this.mode = mode;
    this.syncDragging();
    this.onModeChange?.(mode);
  }

  syncDragging() {
    if (this.painting()) this.map.dragging.disable();
    else this.map.dragging.enable();
    this.map.getContainer().classList.toggle("painting", this.painting());
  }

  down(code, ev) {
    if (!this.painting() || ev?.button > 0) return;
    if (ev?.altKey) {
      this.hooks.setActive(this.hooks.districtOf(code));
      return;
    }
    this.stroke = new Map();
    this.paint(code);
  }

  over(code) {
    if (this.stroke) this.paint(code);
  }

  /** A click that did not come with a mousedown (e.g. a tap, or a test's synthetic click). */
  click(code, ev) {
    if (!this.painting() || this.stroke || ev?.altKey) return;
    if (this.lastStrokeEnd && performance.now() - this.lastStrokeEnd < 300) return;
    this.stroke = new Map();
    this.paint(code);
    this.end();
  }

  paint(code) {
    const to = this.hooks.active();
    const from = this.hooks.districtOf(code);
    if (to === undefined || to === null || from === to || this.stroke.has(code)) return;
    if (this.hooks.isLocked(from) || this.hooks.isLocked(to)) {
      this.hooks.refused(this.hooks.isLocked(from) ? from : to);
      return;
    }
    const prev = this.hooks.move(code, to);
    if (prev !== null) this.stroke.set(code, prev);
  }

  /** Finish the stroke in progress and hand its moves over to be saved. */
  end() {
    if (!this.stroke) return;
    const stroke = this.stroke;
    this.stroke = null;
    this.lastStrokeEnd = performance.now();
    if (stroke.size === 0) return;
    const to = this.hooks.active();
    this.hooks.commit([...stroke.keys()].map((grid) => ({ grid, district: to, from: stroke.get(grid) })));
  }

  cancel() {
    if (!this.stroke) return;
    const stroke = this.stroke;
    this.stroke = null;
    this.hooks.revert([...stroke].map(([grid, from]) => ({ grid, district: from })));
  }

  onKey(e) {
    const target = e.target;
    if (target && ["INPUT", "SELECT", "TEXTAREA"].includes(target.tagName)) return;
    const mod = e.ctrlKey || e.metaKey;
    const key = e.key.toLowerCase();
    if (mod && key === "z" && !e.shiftKey) {
      e.preventDefault();
      this.hooks.undo();
    } else if (mod && ((key === "z" && e.shiftKey) || key === "y")) {
      e.preventDefault();
      this.hooks.redo();
    } else if (mod) {
      return;
    } else if (e.code === "Space") {
      if (!this.spaceDown) {
        this.spaceDown = true;
        this.end();
        this.syncDragging();
      }
      e.preventDefault();
    } else if (key === "p") {
      this.setMode(this.mode === "paint" ? "pan" : "paint");
    } else if (key === "escape") {
      this.cancel();
    } else if (key === "[" || key === "]") {
      const ds = this.hooks.districts();
      if (!ds.length) return;
      const i = ds.indexOf(this.hooks.active());
      const j = (i + (key === "]" ? 1 : -1) + ds.length) % ds.length;
      this.hooks.setActive(ds[j]);
    }
  }
}
