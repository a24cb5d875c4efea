// The fast engine on the page: the network picker (GET /api/networks), one mix slider per
// painting the network holds, the size slider, and the Paint panel, which shows the photo painted
// the moment it lands and again whenever a slider moves (POST /api/paint: painted at once, not
// queued, nothing written). Keep (the form's button) queues the same settings as a `fast` job, so
// the picture lands in the gallery with its Job like every other.

import { ApiError, api, report } from "./api.js";
import { setEngine } from "./form.js";
import { state } from "./state.js";
import { $, el } from "./util.js";

export const LIVE_SIZE = 512;          // the size slider's first value: live at ~0.2 s on a CPU
const SIZE_RANGE = [64, 1024, 32];     // the live painting's sizes (the server paints up to 1024 live)
const paint = { busy: false, again: false, url: null, n: 0 };

export async function refreshNetworks() {
  try { state.networks = (await api("/api/networks")).networks || []; } catch (exc) { report(exc, "Networks"); return; }
  for (const sel of document.querySelectorAll("select[data-networks]")) fillNetworks(sel);
  if ($("#set-net")) { showNetwork(); buildMix(); }
}

function usable() { return state.networks.filter(n => !n.error); }
export function currentNetwork() { const sel = $("#set-net"); return sel ? state.networks.find(n => n.name === sel.value && !n.error) : null; }

function describe(n) {
  const parts = [`${n.paintings} painting${n.paintings === 1 ? "" : "s"}`, `${n.iterations.toLocaleString()} rounds of training`];
  if (n.net_size) parts.push(`${n.net_size} network`);
  if (n.partial) parts.push("stopped early");
  return parts.join(" · ");
}

function fillNetworks(sel) {
  const was = sel.value;
  const none = sel.dataset.networks === "optional" ? [el("option", { value: "", text: "none: a new network" })] : [];
  const nets = sel.dataset.networks === "optional" ? usable() : state.networks;
  const options = nets.map(n => el("option", { value: n.name, disabled: !!n.error || null,
    text: n.error ? `${n.name} (cannot be used)` : `${n.name} — ${n.paintings} painting${n.paintings === 1 ? "" : "s"}` }));
  if (!options.length && !none.length) options.push(el("option", { value: "", text: "no networks yet: train one first (engine train)" }));
  sel.replaceChildren(...none, ...options);
  const first = usable()[0];
  sel.value = nets.some(n => n.name === was && !n.error) ? was : (none.length ? "" : (first ? first.name : ""));
}

// The `net` setting: a network of the list, its preview sheet and what it holds.
export function networkField(s) {
  const sel = el("select", { id: "set-net", name: "net", "data-testid": "setting-net", title: s.help || null,
    dataset: { setting: "net", type: "str", networks: "required" } });
  fillNetworks(sel);
  sel.addEventListener("change", () => { showNetwork(); buildMix(); repaint(); });
  return el("div", { class: "field wide" },
    el("label", { class: "name", for: "set-net", text: "network" }), sel,
    el("div", { class: "net-info", id: "net-info", "data-testid": "net-info" }),
    el("small", { class: "hint", text: "A network trained on one or more paintings (choose the engine train to make one). It paints a photo in one pass." }));
}

// The train engine's `resume` input: go on training a network of the list.
export function networkInput(input) {
  const sel = el("select", { id: `in-${input.name}`, name: input.name, "data-testid": `input-${input.name}`, dataset: { input: input.name, networks: "optional" } });
  fillNetworks(sel);
  return el("label", { class: "field", for: sel.id }, el("span", { class: "name", text: "go on training" }), sel,
    input.help ? el("small", { class: "hint", text: input.help }) : null);
}

function showNetwork() {
  const box = $("#net-info");
  if (!box) return;
  const n = currentNetwork();
  if (!n) { box.replaceChildren(el("p", { class: "fine", text: state.networks.length ? "Pick a network." : "No networks yet. Choose the engine train, give it a painting, and its network appears here when it is done." })); return; }
  box.replaceChildren(
    n.preview ? el("img", { src: `${n.preview}?v=${n.created}`, alt: `What ${n.name} paints`, "data-testid": "net-preview" }) : null,
    el("p", { class: "fine", text: describe(n) }));
}

// The `mix` setting: one slider per painting; the hidden field holds what is sent ("70,30").
export function mixField(s) {
  const hidden = el("input", { type: "hidden", id: "set-mix", name: "mix", dataset: { setting: "mix", type: "list" } });
  return el("div", { class: "field wide mix-field" }, el("span", { class: "name", text: "mix of the paintings" }),
    el("div", { class: "mix", id: "mix-sliders", "data-testid": "mix" }), hidden);
}

function buildMix() {
  const box = $("#mix-sliders");
  if (!box) return;
  const n = currentNetwork();
  const count = n ? n.paintings : 0;
  if (count < 2) {
    $("#set-mix").value = "";
    box.replaceChildren(el("p", { class: "fine", text: count ? "This network holds one painting: nothing to mix." : "" }));
    return;
  }
  const given = $("#set-mix").value.split(",").map(Number).filter(x => !isNaN(x));
  const weights = given.length === count ? given.map(w => Math.round(100 * w / Math.max(...given, 1e-9))) : Array(count).fill(100);
  box.replaceChildren(...weights.map((w, i) => el("label", { class: "mix-row" },
    n.styles[i] ? el("img", { src: n.styles[i], alt: "", class: "mix-thumb" }) : el("span", { class: "mix-thumb none", text: String(i + 1) }),
    el("span", { class: "mix-name", text: `painting ${i + 1}` }),
    el("input", { type: "range", min: "0", max: "100", step: "1", value: String(w), "data-testid": `mix-${i}`, "aria-label": `painting ${i + 1}`, oninput: mixMoved }),
    el("output", { class: "mix-share" }))));
  showShares();
}

function sliders() { return [...document.querySelectorAll("#mix-sliders input[type=range]")]; }

function showShares() {
  const w = sliders().map(s => Number(s.value));
  const sum = w.reduce((a, b) => a + b, 0);
  sliders().forEach((s, i) => { s.closest(".mix-row").querySelector("output").textContent = sum ? `${Math.round(100 * w[i] / sum)} %` : "—"; });
  return { w, sum };
}

function mixMoved() {
  const { w, sum } = showShares();
  if (!sum) { $("#paint-state").textContent = "give at least one painting some weight"; return; }
  $("#set-mix").value = w.join(",");
  $("#set-mix").classList.add("changed");
  repaint();
}

// The fast engine's `size`: a slider with the number beside it; both re-paint as they move.
export function sizeSlider(s) {
  const [lo, hi, step] = SIZE_RANGE;
  const num = el("input", { type: "number", id: "set-size", name: "size", min: String(lo), step: "1", inputmode: "numeric", "data-testid": "setting-size",
    dataset: { setting: "size", type: "int" }, title: s.help || null, value: String(LIVE_SIZE) });
  const range = el("input", { type: "range", id: "size-range", min: String(lo), max: String(hi), step: String(step), value: String(LIVE_SIZE), "data-testid": "size-range", "aria-label": "size" });
  range.addEventListener("input", () => { num.value = range.value; repaint(); });
  num.addEventListener("change", () => { range.value = num.value; repaint(); });
  return el("div", { class: "field wide" }, el("label", { class: "name", for: "set-size", text: "size (longest side, pixels)" }),
    el("div", { class: "size-row" }, range, num),
    el("small", { class: "hint", text: `Painted live up to ${hi} px; Keep paints any size you type.` }));
}

// The form was reset or refilled (Again): the widgets follow their fields.
export function widgetsFilled() {
  if ($("#set-size") && $("#size-range")) {
    if ($("#set-size").value === "") $("#set-size").value = String(LIVE_SIZE);
    $("#size-range").value = $("#set-size").value;
  }
  if ($("#set-net")) { showNetwork(); buildMix(); repaint(); }
}

export function widgetsChanged(engine) {
  const painting = engine === "fast";
  $("#paint").hidden = !painting;
  $(".layout").classList.toggle("painting", painting);
  document.dispatchEvent(new CustomEvent("paint-panel", { detail: { shown: painting } }));
  if (painting) { showNetwork(); buildMix(); repaint(); }
}

// What the camera paints with: the network and mix chosen here.
export function paintSettings() {
  const net = currentNetwork();
  const mix = $("#set-mix") && $("#set-mix").value ? $("#set-mix").value.split(",").map(Number) : null;
  return net ? { net: net.name, mix } : null;
}

// Paint the photo now; while one painting is on its way, only the latest wish is painted next.
export async function repaint() {
  if (state.engine !== "fast") return;
  if (paint.busy) { paint.again = true; return; }
  const photo = (state.uploads.content || []).find(u => u.id);
  const settings = paintSettings();
  const size = Number($("#set-size") && $("#set-size").value) || null;
  if (!photo || !settings) { showWaiting(photo, settings); return; }
  paint.busy = true; paint.again = false;
  $("#paint-state").textContent = "painting…";
  try {
    const res = await fetch("/api/paint", { method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ inputs: { content: `upload:${photo.id}` }, settings: { ...settings, size } }) });
    if (!res.ok) {
      let body = {};
      try { body = await res.json(); } catch { /* not JSON: said by its status */ }
      throw new ApiError(res.status, body.error || `${res.status} from /api/paint`, body.hint);
    }
    const blob = await res.blob();
    const img = $("#paint-image");
    const url = URL.createObjectURL(blob);
    await new Promise((ok, fail) => { img.onload = ok; img.onerror = fail; img.src = url; });
    if (paint.url) URL.revokeObjectURL(paint.url);
    paint.url = url; paint.n += 1;
    img.hidden = false; img.dataset.n = String(paint.n);
    $("#paint-empty").hidden = true;
    $("#paint-state").textContent = `${img.naturalWidth}×${img.naturalHeight} painted in ${Math.round(Number(res.headers.get("x-paint-ms")) || 0)} ms`;
  } catch (exc) {
    $("#paint-state").textContent = "not painted";
    report(exc, "Painting");
  } finally {
    paint.busy = false;
    if (paint.again) repaint();
  }
}

function showWaiting(photo, settings) {
  $("#paint-state").textContent = !settings ? "pick a network" : "drop a photo";
  if (!photo) { $("#paint-image").hidden = true; $("#paint-empty").hidden = false; }
}

// After training: the fast engine with the new network chosen.
export async function paintWith(name) {
  await refreshNetworks();
  setEngine("fast");
  const sel = $("#set-net");
  if (sel && [...sel.options].some(o => o.value === name)) { sel.value = name; showNetwork(); buildMix(); repaint(); }
  $(".make").scrollIntoView({ behavior: "smooth", block: "start" });
}

document.addEventListener("uploads-changed", e => { if (e.detail.name === "content") repaint(); });
