// A painted map over a photo: strokes with a soft edge, an eraser, undo, loading a map, and the
// map exported as a fully opaque PNG. Unpainted pixels are transparent; the export lays the map on
// a background (the last painting's colour for regions, black for a mask), so "what I did not
// paint" is always the rest, however many paintings there are by then.

export const MAX_UNDO = 16;   // snapshots kept (a 1024 px map is 3 MB each)
export const MAX_SIDE = 1024; // the map's longest side: the photo's own size up to this

export class Brush {
  constructor(canvas) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d", { willReadFrequently: true });
    this.scratch = document.createElement("canvas"); // the stroke under way, drawn whole each time
    this.history = [];
    this.stroke = null;
    this.frame = 0;
    this.changed = () => {};
  }

  // A blank map of `w` × `h` (the photo's size, its longest side capped at MAX_SIDE).
  reset(w, h) {
    const scale = Math.min(1, MAX_SIDE / Math.max(w, h));
    this.canvas.width = this.scratch.width = Math.max(1, Math.round(w * scale));
    this.canvas.height = this.scratch.height = Math.max(1, Math.round(h * scale));
    this.history = [];
    this.changed();
  }

  get width() { return this.canvas.width; }
  get height() { return this.canvas.height; }

  snapshot() {
    this.history.push(this.ctx.getImageData(0, 0, this.width, this.height));
    if (this.history.length > MAX_UNDO) this.history.shift();
  }

  undo() {
    const last = this.history.pop();
    if (!last) return false;
    this.stroke = null;
    this.ctx.putImageData(last, 0, 0);
    this.changed();
    return true;
  }

  clear() {
    if (!this.painted()) return;
    this.snapshot();
    this.ctx.clearRect(0, 0, this.width, this.height);
    this.changed();
  }

  // A stroke: `colour` (CSS), or the eraser; `radius` in map pixels; `soft` 0..1 of the radius
  // fades out (a blur of the whole stroke, so its edge is as soft along it as at its ends).
  begin(x, y, { colour, erase = false, radius = 20, soft = 0.3 }) {
    this.snapshot();
    this.stroke = { before: this.history[this.history.length - 1], points: [[x, y]], colour, erase, radius, soft };
    this.draw();
  }

  extend(x, y) {
    if (!this.stroke) return;
    this.stroke.points.push([x, y]);
    if (!this.frame) this.frame = requestAnimationFrame(() => { this.frame = 0; this.draw(); });
  }

  end() {
    if (!this.stroke) return;
    if (this.frame) { cancelAnimationFrame(this.frame); this.frame = 0; }
    this.draw();
    this.stroke = null;
    this.changed();
  }

  draw() {
    const s = this.stroke;
    if (!s) return;
    const g = this.scratch.getContext("2d");
    g.clearRect(0, 0, this.width, this.height);
    const blur = s.soft * s.radius;
    // The blur spreads the edge both ways: the hard core shrinks by half of it, so the stroke
    // stays about as wide as the brush shows.
    const core = Math.max(0.5, s.radius - blur / 2);
    g.filter = blur > 0.3 ? `blur(${(blur / 2).toFixed(2)}px)` : "none";
    g.strokeStyle = g.fillStyle = s.erase ? "#000" : s.colour;
    g.lineWidth = 2 * core;
    g.lineCap = g.lineJoin = "round";
    g.beginPath();
    const [x0, y0] = s.points[0];
    if (s.points.length === 1) { g.arc(x0, y0, core, 0, 2 * Math.PI); g.fill(); }
    else { g.moveTo(x0, y0); for (const [x, y] of s.points.slice(1)) g.lineTo(x, y); g.stroke(); }
    g.filter = "none";
    this.ctx.putImageData(s.before, 0, 0);
    this.ctx.globalCompositeOperation = s.erase ? "destination-out" : "source-over";
    this.ctx.drawImage(this.scratch, 0, 0);
    this.ctx.globalCompositeOperation = "source-over";
  }

  // Is anything painted (a pixel not fully transparent)?
  painted() {
    const px = this.ctx.getImageData(0, 0, this.width, this.height).data;
    for (let i = 3; i < px.length; i += 4) if (px[i]) return true;
    return false;
  }

  // Which of `colours` ([r, g, b] lists) are painted flat somewhere (soft edges aside).
  coloursUsed(colours) {
    const px = this.ctx.getImageData(0, 0, this.width, this.height).data;
    const used = new Set();
    for (let i = 0; i < px.length; i += 4) {
      if (px[i + 3] < 250) continue;
      const k = colours.findIndex(c => c[0] === px[i] && c[1] === px[i + 1] && c[2] === px[i + 2]);
      if (k >= 0) used.add(k);
    }
    return used;
  }

  // A map or mask picture, scaled onto the map (undo brings back what was there). `recolour`
  // turns its pixels into the map's (ImageData in place): a mask's grey into painted alpha, a
  // map's own key colours into the palette's.
  load(img, recolour = null) {
    this.snapshot();
    this.ctx.clearRect(0, 0, this.width, this.height);
    this.ctx.drawImage(img, 0, 0, this.width, this.height);
    if (recolour) {
      const data = this.ctx.getImageData(0, 0, this.width, this.height);
      recolour(data.data);
      this.ctx.putImageData(data, 0, 0);
    }
    this.changed();
  }

  // The map as a PNG Blob, laid on `background` (CSS colour), every pixel opaque; `grey`: the
  // painted alpha itself as grey (a mask: white = painted).
  toBlob(background, { grey = false } = {}) {
    const out = document.createElement("canvas");
    out.width = this.width; out.height = this.height;
    const g = out.getContext("2d");
    g.fillStyle = background;
    g.fillRect(0, 0, out.width, out.height);
    if (grey) {
      const data = this.ctx.getImageData(0, 0, this.width, this.height);
      const px = data.data;
      for (let i = 0; i < px.length; i += 4) { px[i] = px[i + 1] = px[i + 2] = px[i + 3]; px[i + 3] = 255; }
      g.putImageData(data, 0, 0);
    } else g.drawImage(this.canvas, 0, 0);
    return new Promise((resolve, reject) => out.toBlob(b => (b ? resolve(b) : reject(new Error("the map could not be saved"))), "image/png"));
  }
}

// "#e6194b" -> [230, 25, 75]
export function rgbOf(hex) {
  const n = parseInt(hex.slice(1), 16);
  return [n >> 16, (n >> 8) & 255, n & 255];
}

// Recolour a map drawn in `key` colours into `palette` colours, pixel by pixel to the nearest key
// colour (a map made elsewhere, its colours named by its key).
export function rekey(key, palette) {
  const from = key.map(rgbOf), to = palette.map(rgbOf);
  return px => {
    for (let i = 0; i < px.length; i += 4) {
      let best = 0, bestD = Infinity;
      for (let k = 0; k < from.length; k++) {
        const d = (px[i] - from[k][0]) ** 2 + (px[i + 1] - from[k][1]) ** 2 + (px[i + 2] - from[k][2]) ** 2;
        if (d < bestD) { bestD = d; best = k; }
      }
      [px[i], px[i + 1], px[i + 2]] = to[best];
    }
  };
}

// A mask's grey as how strongly it is painted, in `colour`: black = unpainted, white = painted.
export function greyToPaint(colour) {
  const [r, g, b] = rgbOf(colour);
  return px => { for (let i = 0; i < px.length; i += 4) { const a = px[i]; px[i] = r; px[i + 1] = g; px[i + 2] = b; px[i + 3] = a; } };
}
