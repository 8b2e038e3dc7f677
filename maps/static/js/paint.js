/**
 * paint.js — painting grids into districts with mouse, pen or finger, and the keyboard.
 *
 * In paint mode a press on a grid starts a stroke, moving paints every grid
 * the pointer crosses (the path between two pointer events is sampled every
 * few pixels, so a fast drag skips nothing), and the release ends it: the
 * whole stroke becomes one saved edit (one undo step). Holding Space, or
 * switching to pan mode (P), lets the map drag instead. Alt+click picks a
 * grid's district as the active one. Locked districts neither gain nor lose
 * grids. Pointer events cover mouse, pen and touch (tablets).
 *
 * Keys: Ctrl/⌘+Z undo, Ctrl/⌘+Shift+Z or Ctrl+Y redo, P paint/pan,
 * [ and ] previous/next district, Esc cancels a stroke in progress.
 */

const STEP_PX = 4; // sampling step along the pointer's path

export class Painter {
  /**
   * @param {L.Map} map
   * @param {object} hooks
   *   canPaint() -> bool; hit(latlng) -> grid code or null; districts() -> string[];
   *   active() / setActive(d); isLocked(d); districtOf(code);
   *   move(code, d) -> previous district or null (applies it to the model and map);
   *   revert(moves) undoes a cancelled stroke; commit(moves) saves a finished stroke;
   *   undo(); redo(); refused(d) tells the user.
   */
  constructor(map, hooks) {
    this.map = map;
    this.hooks = hooks;
    this.mode = "paint";
    this.stroke = null; // Map code -> previous district, while the pointer is down
    this.last = null; // last container point of the stroke
    this.spaceDown = false;
    const el = map.getContainer();
    el.addEventListener("pointerdown", (e) => this.down(e), true);
    el.addEventListener("pointermove", (e) => this.moveTo(e));
    el.addEventListener("pointerup", () => this.end());
    el.addEventListener("pointercancel", () => this.cancel());
    el.addEventListener("lostpointercapture", () => this.end());
    document.addEventListener("keydown", (e) => this.onKey(e));
    document.addEventListener("keyup", (e) => {
      if (e.code === "Space") {
        this.spaceDown = false;
        this.syncDragging();
      }
    });
    this.syncDragging();
  }

  painting() {
    return this.mode === "paint" && !this.spaceDown && this.hooks.canPaint();
  }

  setMode(mode) {
    this.mode = mode;
    this.syncDragging();
    this.onModeChange?.(mode);
  }

  /** Map dragging is off while painting, on otherwise. */
  syncDragging() {
    if (this.painting()) this.map.dragging.disable();
    else this.map.dragging.enable();
    this.map.getContainer().classList.toggle("painting", this.painting());
  }

  codeAt(e) {
    const point = this.map.mouseEventToContainerPoint(e);
    return { point, code: this.hooks.hit(this.map.containerPointToLatLng(point)) };
  }

  down(e) {
    if (!this.painting() || e.button > 0) return;
    if (e.target.closest(".leaflet-control")) return;
    const { point, code } = this.codeAt(e);
    if (!code) return;
    e.preventDefault();
    if (e.altKey) {
      this.hooks.setActive(this.hooks.districtOf(code));
      return;
    }
    this.stroke = new Map();
    this.last = point;
    this.map.getContainer().setPointerCapture?.(e.pointerId);
    this.paint(code);
  }

  moveTo(e) {
    if (!this.stroke) return;
    const point = this.map.mouseEventToContainerPoint(e);
    const from = this.last;
    const steps = Math.max(1, Math.ceil(from.distanceTo(point) / STEP_PX));
    for (let i = 1; i <= steps; i++) {
      const p = from.add(point.subtract(from).multiplyBy(i / steps));
      const code = this.hooks.hit(this.map.containerPointToLatLng(p));
      if (code) this.paint(code);
    }
    this.last = point;
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
    if (stroke.size === 0) return;
    const to = this.hooks.active();
    this.hooks.commit([...stroke.keys()].map((grid) => ({ grid, district: to, from: stroke.get(grid) })));
  }

  /** Drop the stroke in progress and put its grids back. */
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
