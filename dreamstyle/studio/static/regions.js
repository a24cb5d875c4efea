// Painting over the photo in the form: for a style, which painting goes where (one brush colour
// per painting; what is left unpainted takes the last painting); for a dream, where it grows (a
// mask). The map is drawn at the photo's own resolution (longest side up to 1024 px) by brush.js,
// and on Make it is uploaded and sent with the job: a style's as inputs.regions with
// settings.regions_key naming its colours in the order of the paintings, a dream's as inputs.mask.
// Nothing painted: nothing is sent, and the job is the plain one.

import { ApiError, api, report, say } from "./api.js";
import { Brush, greyToPaint, rekey, rgbOf } from "./brush.js";
import { state } from "./state.js";
import { $, el } from "./util.js";

const MASK_SHOWN = "#42d4f4";      // the mask is shown in this colour over the photo (sent as white)
const TEXT = {
  regions: { open: "Paint regions", title: "Regions: which painting goes where",
    hint: "Paint over the photo with a painting's colour to give that part its style. What you leave unpainted takes the last painting. Soft edges blend two styles." },
  mask: { open: "Paint a mask", title: "Mask: where the dream grows",
    hint: "Paint where the dream should grow; the rest of the photo stays as it is. Soft edges fade the dream out. Nothing painted: the whole photo dreams." },
};
const ed = { kind: null, input: null, brush: null, photo: null, ready: Promise.resolve(), tool: 0, drawing: false, tools: null };

// The editor for the engine's painted input (schema widget "regions" or "mask"), or null.
export function paintedEditor(input) {
  ed.kind = input.widget;
  ed.input = input.name;
  ed.photo = null;
  ed.tool = 0;
  const t = TEXT[ed.kind];
  const canvas = el("canvas", { class: "region-map", "data-testid": "region-canvas", tabindex: "0",
    "aria-label": `${t.title}. Draw with a mouse, pen or finger; Ctrl+Z undoes.` });
  ed.brush = new Brush(canvas);
  ed.brush.changed = showStatus;
  const toggle = el("button", { type: "button", class: "small", id: "region-toggle", "data-testid": "region-toggle",
    "aria-expanded": "false", "aria-controls": "region-editor", text: t.open, onclick: () => openEditor(!isOpen()) });
  const slider = (id, label, min, max, value, hint) => el("label", { class: "region-slider", for: id },
    el("span", { text: label }), el("input", { type: "range", id, min: String(min), max: String(max), value: String(value), "data-testid": id, title: hint }),
    el("output", { for: id, id: `${id}-value` }));
  const editor = el("div", { class: "region-editor", id: "region-editor", "data-testid": "region-editor", hidden: true },
    el("p", { class: "hint", text: t.hint }),
    el("div", { class: "region-tools", role: "radiogroup", "aria-label": "brush", id: "region-tools", "data-testid": "region-tools" }),
    el("div", { class: "region-stage", id: "region-stage" },
      el("img", { id: "region-photo", alt: "", "data-testid": "region-photo" }), el("div", { class: "region-rest", id: "region-rest" }), canvas,
      el("div", { class: "region-cursor", id: "region-cursor", hidden: true })),
    el("div", { class: "region-sliders" },
      slider("region-size", "brush size", 1, 25, 6, "the brush's width, in hundredths of the picture's longest side"),
      slider("region-soft", "soft edge", 0, 100, 30, "how much of the brush fades out: 0 is a hard edge"),
      slider("region-opacity", "overlay", 10, 100, 55, "how strongly the painted map covers the photo here (the map sent is always full strength)")),
    el("div", { class: "actions" },
      el("button", { type: "button", class: "small", "data-testid": "region-undo", text: "Undo", title: "Undo the last stroke (Ctrl+Z)", onclick: undo }),
      el("button", { type: "button", class: "small quiet", "data-testid": "region-clear", text: "Clear", title: "Remove everything painted", onclick: () => ed.brush.clear() }),
      ed.kind === "regions" ? el("button", { type: "button", class: "small", id: "region-find", "data-testid": "region-find", text: "Find regions",
        title: "Let the network split the photo into one region per painting, to paint over", onclick: findRegions }) : null),
    el("p", { class: "fine", id: "region-status", "data-testid": "region-status", role: "status" }));
  for (const id of ["region-size", "region-soft", "region-opacity"]) $(`#${id}`, editor).addEventListener("input", showSliders);
  wireDrawing(canvas);
  const box = el("div", { class: "field region-field", "data-testid": `painted-${input.name}` },
    el("div", { class: "region-head" }, toggle, el("small", { class: "hint", id: "region-note" })), editor);
  queueMicrotask(() => { showSliders(); photoChanged(); });
  return box;
}

function isOpen() { return !!$("#region-editor") && !$("#region-editor").hidden; }

export function openEditor(open = true) {
  if (!$("#region-editor")) return;
  $("#region-editor").hidden = !open;
  $("#region-toggle").setAttribute("aria-expanded", String(open));
  $("#region-toggle").textContent = open ? "Hide the brush" : TEXT[ed.kind].open;
  if (open) { buildTools(); showStatus(); }
}

function photoInput() { return ed.kind === "regions" ? "content" : "image"; }
function photo() { return (state.uploads[photoInput()] || []).find(u => u.id) || null; }
function paintings() { return ed.kind === "regions" ? (state.uploads.styles || []).filter(u => u.id) : []; }
function palette() { return (state.schema && state.schema.palette) || []; }

// The colours in use: one per painting (regions), or the mask's own.
function colours() { return ed.kind === "regions" ? palette().slice(0, Math.max(paintings().length, 1)) : [MASK_SHOWN]; }
function restColour() { const c = colours(); return ed.kind === "regions" ? c[c.length - 1] : "#000000"; }

// The form's pictures changed: a new photo is a new blank map; new paintings are new brushes.
document.addEventListener("uploads-changed", e => {
  if (!ed.brush || !$("#region-editor")) return;
  if (e.detail.name === photoInput()) photoChanged();
  else if (e.detail.name === "styles") { buildTools(); showStatus(); }
});

// Resolves once the map is the current photo's size (ed.ready).
function photoChanged() {
  const p = photo();
  const id = p ? p.id : null;
  $("#region-toggle").disabled = !p;
  if (!p) { openEditor(false); $("#region-note").textContent = "Choose the photo first: you paint over it."; }
  if (id === ed.photo) return ed.ready;
  ed.photo = id;
  if (!id) { ed.brush.reset(1, 1); return (ed.ready = Promise.resolve()); }
  const img = $("#region-photo");
  ed.ready = new Promise(resolve => {
    img.onload = () => {
      if (ed.photo !== id || img !== $("#region-photo")) { resolve(); return; }  // an editor or photo since replaced
      ed.brush.reset(img.naturalWidth, img.naturalHeight);
      $("#region-stage").style.setProperty("--ratio", String(img.naturalWidth / img.naturalHeight));
      buildTools(); showSliders();
      resolve();
    };
    img.onerror = () => resolve();
  });
  img.src = `/api/uploads/${encodeURIComponent(id)}`;
  return ed.ready;
}

function buildTools() {
  const box = $("#region-tools");
  if (!box) return;
  const names = paintings();
  const tools = ed.kind === "regions"
    ? colours().map((c, i) => ({ colour: c, label: `${i + 1} · ${names[i] ? shortName(names[i].name, i) : `painting ${i + 1}`}`,
      rest: i === colours().length - 1, title: i === colours().length - 1 ? "and all that is left unpainted" : "" }))
    : [{ colour: MASK_SHOWN, label: "Dream here", title: "paint where the dream grows" }];
  tools.push({ erase: true, label: ed.kind === "regions" ? "Eraser (back to the last painting)" : "Eraser (keep the photo)", title: "take paint away" });
  if (ed.tool >= tools.length) ed.tool = 0;
  box.replaceChildren(...tools.map((t, i) => el("label", { class: `region-tool${t.erase ? " eraser" : ""}`, title: t.title || null, "data-testid": t.erase ? "region-eraser" : `region-brush-${i}` },
    el("input", { type: "radio", name: "region-tool", value: String(i), checked: i === ed.tool || null, onchange: () => { ed.tool = i; } }),
    el("span", { class: "swatch", style: t.erase ? null : `background:${t.colour}` }),
    el("span", { text: t.label }), t.rest ? el("small", { class: "fine", text: "+ unpainted" }) : null)));
  ed.tools = tools;
  $("#region-rest").style.background = ed.kind === "regions" ? restColour() : "transparent";
  if (ed.kind === "regions" && names.length < 2) box.append(el("p", { class: "hint", text: "Choose two or more paintings: each region takes one." }));
}

function shortName(name, i) { return name === "styles" || !name ? `painting ${i + 1}` : name; }

function showSliders() {
  const size = Number($("#region-size").value), soft = Number($("#region-soft").value), opacity = Number($("#region-opacity").value);
  $("#region-size-value").textContent = ed.brush && ed.brush.width > 1 ? `${radius() * 2} px` : `${size} %`;
  $("#region-soft-value").textContent = `${soft} %`;
  $("#region-opacity-value").textContent = `${opacity} %`;
  $("#region-stage").style.setProperty("--overlay", String(opacity / 100));
}

function radius() { return Math.max(1, Math.round(Number($("#region-size").value) / 100 * Math.max(ed.brush.width, ed.brush.height) / 2)); }

// --- drawing: pointer events (mouse, pen and touch alike), in map pixels ----------------------
function wireDrawing(canvas) {
  const at = e => {
    const r = canvas.getBoundingClientRect();
    return [(e.clientX - r.left) * canvas.width / r.width, (e.clientY - r.top) * canvas.height / r.height];
  };
  canvas.addEventListener("pointerdown", e => {
    if (e.button !== 0 || !ed.tools || canvas.width < 2) return;
    e.preventDefault();
    canvas.focus({ preventScroll: true });  // Ctrl+Z next
    canvas.setPointerCapture(e.pointerId);
    const tool = ed.tools[ed.tool];
    ed.drawing = true;
    ed.brush.begin(...at(e), { colour: tool.colour, erase: !!tool.erase, radius: radius(), soft: Number($("#region-soft").value) / 100 });
  });
  canvas.addEventListener("pointermove", e => { showCursor(e, canvas); if (ed.drawing) ed.brush.extend(...at(e)); });
  for (const end of ["pointerup", "pointercancel"]) canvas.addEventListener(end, () => { if (ed.drawing) { ed.drawing = false; ed.brush.end(); } });
  canvas.addEventListener("pointerleave", () => { $("#region-cursor").hidden = true; });
}

// A ring the brush's size where it would paint.
function showCursor(e, canvas) {
  const ring = $("#region-cursor"), r = canvas.getBoundingClientRect();
  const d = 2 * radius() * r.width / canvas.width;
  Object.assign(ring.style, { width: `${d}px`, height: `${d}px`, left: `${e.clientX - r.left - d / 2}px`, top: `${e.clientY - r.top - d / 2}px` });
  ring.hidden = false;
}

function undo() { if (!ed.brush.undo()) say("info", "Nothing to undo", null, { timeout: 3000 }); }

// Ctrl+Z (⌘Z) undoes a stroke while the brush is out, unless a text field has the keys.
document.addEventListener("keydown", e => {
  if (!(e.ctrlKey || e.metaKey) || e.shiftKey || e.altKey || e.key.toLowerCase() !== "z" || !isOpen()) return;
  const t = document.activeElement;
  if (t && t !== document.body && !t.closest("#region-editor") && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName))) return;
  e.preventDefault();
  undo();
});

function showStatus() {
  const box = $("#region-status");
  if (!box) return;
  const painted = ed.brush.painted();
  if (photo()) $("#region-note").textContent = painted ? `${ed.kind === "regions" ? "Regions" : "A mask"} painted: sent with Make.` : "";
  if (!painted) { box.textContent = ed.kind === "regions" ? "Nothing painted: Make sends a plain style job, every painting blended everywhere." : "Nothing painted: the whole photo dreams."; return; }
  box.textContent = ed.kind === "regions"
    ? `Painted: Make sends the map with ${colours().length} regions, one per painting (unpainted: the last painting).`
    : "Painted: the dream grows only where you painted.";
}

// --- Find regions: the network's regions as the map to start from ----------------------------
async function findRegions() {
  const p = photo();
  if (!p) return;
  const button = $("#region-find");
  button.disabled = true;
  button.textContent = "Finding regions…";
  try {
    const k = Math.min(Math.max(paintings().length, 2), palette().length || 8);
    const found = await api("/api/regions", { json: { image: `upload:${p.id}`, k } });
    await loadMap(`/api/uploads/${encodeURIComponent(found.upload.slice(7))}`, found.colors);
    say("info", `${found.colors.length} regions found`, "paint over them to correct them; Undo takes them away", { timeout: 6000 });
  } catch (exc) {
    report(exc, "Find regions");
  } finally {
    button.disabled = false;
    button.textContent = "Find regions";
  }
}

function picture(url) {
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => resolve(img);
    img.onerror = () => reject(new ApiError(404, "the map could not be loaded"));
    img.src = url;
  });
}

// Load a map (colours named by `key`, in the order of the paintings) or a mask into the editor.
async function loadMap(url, key = null) {
  const img = await picture(url);
  if (ed.kind === "mask") ed.brush.load(img, greyToPaint(MASK_SHOWN));
  else {
    const pal = palette().slice(0, key ? key.length : palette().length);
    const same = key && key.every((c, i) => c.toLowerCase() === pal[i]);
    ed.brush.load(img, key && !same ? rekey(key, pal) : null);
  }
}

// --- Make and Again ------------------------------------------------------------------------------
// What the painting adds to the job ({inputs, settings}), uploaded now; null when nothing is painted.
export async function paintedParts() {
  if (!ed.brush || !$("#region-editor") || !photo() || !ed.brush.painted()) return null;
  if (ed.kind === "regions") {
    const n = paintings().length;
    if (n < 2) throw new ApiError(0, "The regions need two or more paintings", "choose another painting, or Clear the regions for a plain style picture");
    if (n > palette().length) throw new ApiError(0, `Regions take at most ${palette().length} paintings, one colour each`, "remove some paintings, or Clear the regions");
    const beyond = [...ed.brush.coloursUsed(palette().map(rgbOf))].filter(i => i >= n);
    if (beyond.length) throw new ApiError(0, `The map is painted in colour ${beyond[0] + 1}, but only ${n} paintings are chosen`, "choose more paintings, or paint over that colour");
  }
  const blob = await ed.brush.toBlob(restColour(), { grey: ed.kind === "mask" });
  const form = new FormData();
  form.append("file", blob, `${ed.kind}.png`);
  const up = await api("/api/uploads", { method: "POST", body: form });
  if (ed.kind === "mask") return { inputs: { [ed.input]: `upload:${up.id}` }, settings: {} };
  return { inputs: { [ed.input]: `upload:${up.id}` }, settings: { regions_key: colours().join(",") } };
}

// Again: the picture's map or mask back in the editor, from the copy kept beside the picture or,
// for a picture made before that copy was kept, from its upload.
export function restorePainted(item) {
  const again = item.again || {};
  const ref = (again.inputs || {})[ed.input];
  if (!ed.brush || !$("#region-editor") || (!ref && !item.painted)) return;
  const key = again.settings && again.settings.regions_key ? String(again.settings.regions_key).split(",").map(s => s.trim()) : null;
  (async () => {
    await photoChanged();
    if (!photo()) return;  // the photo is gone too: said by the form
    // The copy beside the picture first: it stays while the picture does, and is the same map.
    const urls = [item.painted, typeof ref === "string" && ref.startsWith("upload:") ? `/api/uploads/${encodeURIComponent(ref.slice(7))}` : null].filter(Boolean);
    for (const url of urls) {
      try { await loadMap(url, key); ed.brush.history = []; openEditor(true); return; } catch { /* the next */ }
    }
    say("info", `The ${ed.kind === "regions" ? "regions" : "mask"} of ${item.name} could not be loaded`, "paint them again", { timeout: 8000 });
  })();
}
