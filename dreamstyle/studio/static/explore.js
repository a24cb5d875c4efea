// dreamstyle explore: the Explore view's page. Every URL (/explore, /explore/MODEL,
// /explore/MODEL/LAYER, /explore/MODEL/LAYER/CHANNEL) is this one page, which reads the path and
// asks the studio's /api/explore/… for what to show, so each can be bookmarked and shared.
// Moving to another layer or channel (a click, a key, the search box) loads its URL.
//
// This file: the path, the crumbs, the list of networks, a network's layer table, the search box
// and the keys. explore_unit.js: a layer's channel grid and one channel's page.

import { api, report, say } from "./api.js";
import { showLayer, showUnit } from "./explore_unit.js";
import { $, el } from "./util.js";

// The path's parts, decoded: [model, layer, channel], as many as it names.
export const where = location.pathname.replace(/^\/explore\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);

// A page's URL, keeping the query (?size=48 for a small grid) so moving around keeps it.
export function link(...parts) {
  return "/explore" + parts.map(p => "/" + encodeURIComponent(p)).join("") + location.search;
}

export function go(...parts) { location.assign(link(...parts)); }

// 1234567 -> "1.23M", as `dreamstyle layers` prints it.
export function human(n) {
  for (const [f, p] of [[1e12, "T"], [1e9, "G"], [1e6, "M"], [1e3, "K"]]) {
    if (Math.abs(n) >= f) { const v = n / f; return v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0) + p; }
  }
  return String(Math.trunc(n));
}

export const field = r => r.receptive_field === null || r.receptive_field === undefined ? "global" : (r.rf_at_least ? "≥" : "") + r.receptive_field;
export const channelsOf = r => r.channels ?? (r.shape || [0])[0];

function crumbs() {
  const parts = [where.length ? el("a", { href: link(), text: "networks" }) : el("strong", { text: "networks", "data-testid": "here" })];
  where.forEach((p, i) => {
    parts.push(el("span", { class: "sep", text: "›" }));
    const label = i === 2 ? `channel ${p}` : p;
    parts.push(i === where.length - 1 ? el("strong", { text: label, "data-testid": "here" }) : el("a", { href: link(...where.slice(0, i + 1)), text: label }));
  });
  $("#crumbs").replaceChildren(...parts);
  document.title = [...where].reverse().concat("dreamstyle explore").join(" · ");
}

export function markRandom(trained) { $("#random").hidden = trained !== false; }

async function showModels() {
  const { models, top_folder } = await api("/api/explore");
  const groups = { backbone: "Backbones (dream, style, visualize)", course: "The course's networks", torchvision: "torchvision classifiers" };
  const view = el("div", { class: "models", "data-testid": "models" });
  for (const [kind, title] of Object.entries(groups)) {
    const items = models.filter(m => m.kind === kind).map(m => el("li", {},
      el("a", { href: link(m.name), "data-testid": `model-${m.name}`, text: m.name }),
      m.trained ? null : el("span", { class: "badge", text: "random weights" })));
    if (items.length) view.append(el("section", {}, el("h3", { text: title }), el("ul", {}, ...items)));
  }
  if (!top_folder) view.append(el("p", { class: "fine", text: "Top images: start the studio with --top-folder DIR, or upload photos in the studio, to see each channel's strongest pictures." }));
  $("#view").replaceChildren(view);
}

async function showModel(model) {
  const index = await api(`/api/explore/${encodeURIComponent(model)}`);
  markRandom(index.trained);
  const head = ["layer", "output C×H×W", "params", "MACs", "FLOPs", "stride", "RF"];
  const rows = index.layers.map(r => {
    const tr = el("tr", { "data-testid": `layer-${r.name}`, onclick: e => { if (e.target.tagName !== "A") go(model, r.name); } },
      el("td", {}, el("a", { href: link(model, r.name), text: r.name })),
      el("td", { text: r.shape.join("×") }), el("td", { text: r.params ? human(r.params) : "-" }),
      el("td", { text: r.macs ? human(r.macs) : "-" }), el("td", { text: r.flops ? human(r.flops) : "-" }),
      el("td", { text: r.stride === null || r.stride === undefined ? "-" : String(r.stride) }), el("td", { text: field(r) }));
    return tr;
  });
  const params = index.layers.reduce((s, r) => s + (r.params || 0), 0), flops = index.layers.reduce((s, r) => s + (r.flops || 0), 0);
  $("#view").replaceChildren(
    index.note && index.trained ? el("p", { class: "random", "data-testid": "no-pictures", text: index.note }) : "",
    el("p", { class: "fine", text: `${model} at ${index.size || 224}×${index.size || 224} px · ${index.trained ? "trained weights" : "random weights"}` }),
    el("div", { class: "table-wrap" }, el("table", { class: "layers", "data-testid": "layer-table" },
      el("thead", {}, el("tr", {}, ...head.map(h => el("th", { text: h })))), el("tbody", {}, ...rows))),
    el("p", { class: "fine total", text: `total: ${human(params)} parameters, ${human(flops)} FLOPs; stride and RF in input pixels` }));
}

// The search box: "block6/12" (a layer and a channel), "12" (a channel of this layer), "block6"
// (a layer of this network), or on the list of networks a network's name (and its layer and
// channel: "efficientnet-lite0/block6/12").
function search(e) {
  e.preventDefault();
  const text = $("#search-input").value.trim();
  if (!text) return;
  const [model, layer] = where;
  const slash = text.match(/^(.+?)[/:](\d+)$/);
  if (!model) go(...text.split("/").filter(Boolean));
  else if (slash) go(model, slash[1], slash[2]);
  else if (/^\d+$/.test(text) && layer) go(model, layer, text);
  else go(model, text);
}

// ← → the previous / next channel, ↑ ↓ the previous / next layer (unit.js and the grid say where).
export const keys = { left: null, right: null, up: null, down: null };

function onKey(e) {
  if (e.altKey || e.ctrlKey || e.metaKey) return;
  const typing = e.target.closest && e.target.closest("input, textarea, select");
  if (e.key === "/" && !typing) { e.preventDefault(); $("#search-input").focus(); return; }
  if (typing) return;
  const act = { ArrowLeft: keys.left, ArrowRight: keys.right, ArrowUp: keys.up, ArrowDown: keys.down }[e.key];
  if (act) { e.preventDefault(); act(); }
}

// The layers around `layer` in `index`, for ↑ ↓.
export function neighbours(index, layer) {
  const names = index.layers.map(r => r.name), at = names.indexOf(layer);
  return { previous: at > 0 ? index.layers[at - 1] : null, next: at >= 0 && at + 1 < names.length ? index.layers[at + 1] : null };
}

async function start() {
  $("#search").addEventListener("submit", search);
  document.addEventListener("keydown", onKey);
  crumbs();
  const [model, layer, channel] = where;
  try {
    if (channel !== undefined) await showUnit(model, layer, Number(channel));
    else if (layer !== undefined) await showLayer(model, layer);
    else if (model !== undefined) await showModel(model);
    else await showModels();
  } catch (exc) {
    report(exc, "Loading this page");
  }
  document.body.dataset.ready = "true";
}

window.addEventListener("error", e => say("error", `The page hit a bug: ${e.message}`, "reload the page; if it happens again, report it"));
window.addEventListener("unhandledrejection", e => report(e.reason));
document.addEventListener("DOMContentLoaded", start);
