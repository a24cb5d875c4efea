// Compare two gallery pictures: one over the other with a slider (drag to reveal), or side by side,
// with a table of what differs between their jobs (engine, inputs, settings). Esc closes it.

import { $, el, fmt, sameValue } from "./util.js";

let view = null;

function build() {
  const mode = (name, text) => el("button", { type: "button", class: "small quiet", "data-testid": `pair-mode-${name}`, dataset: { mode: name }, "aria-pressed": "false", text,
    onclick: () => setMode(name) });
  const range = el("input", { type: "range", min: "0", max: "100", value: "50", "aria-label": "Slide between the two pictures", "data-testid": "pair-range" });
  range.addEventListener("input", () => stage.style.setProperty("--pos", `${range.value}%`));
  const stage = el("div", { class: "pair-stage", "data-testid": "pair-slider" },
    el("img", { class: "pair-b", alt: "" }),
    el("div", { class: "pair-top" }, el("img", { class: "pair-a", alt: "" })),
    el("div", { class: "pair-line" }),
    el("span", { class: "pair-tag left", "data-testid": "pair-tag-a" }), el("span", { class: "pair-tag right", "data-testid": "pair-tag-b" }),
    range);
  const side = el("div", { class: "pair-side", "data-testid": "pair-side", hidden: true },
    el("figure", {}, el("img", { class: "pair-a", alt: "" }), el("figcaption", { class: "pair-name-a" })),
    el("figure", {}, el("img", { class: "pair-b", alt: "" }), el("figcaption", { class: "pair-name-b" })));
  const all = el("input", { type: "checkbox", "data-testid": "pair-all", onchange: () => { view.table.classList.toggle("all", all.checked); } });
  const table = el("table", { class: "pair-diff", "data-testid": "pair-diff" });
  const dlg = el("dialog", { class: "viewer pair", id: "pair-view", "data-testid": "pair-view", "aria-labelledby": "pair-title" },
    el("div", { class: "viewer-head" },
      el("strong", { id: "pair-title", text: "Compare" }),
      el("div", { class: "pair-modes", role: "group", "aria-label": "How to show them" }, mode("slider", "Slider"), mode("side", "Side by side")),
      el("button", { type: "button", class: "quiet small", "data-testid": "pair-close", "aria-label": "Close", text: "Close", onclick: () => dlg.close() })),
    stage, side,
    el("div", { class: "pair-table" }, table),
    el("label", { class: "fine pair-all" }, all, " show the settings they share too"));
  dlg.addEventListener("click", e => { if (e.target === dlg) dlg.close(); });
  // Esc closes the comparison, and nothing else on the page hears it (Esc there may stop a job).
  dlg.addEventListener("keydown", e => { if (e.key === "Escape") { e.stopPropagation(); e.preventDefault(); dlg.close(); } });
  document.body.append(dlg);
  view = { dlg, stage, side, table, range, all };
}

function setMode(name) {
  view.stage.hidden = name !== "slider";
  view.side.hidden = name !== "side";
  for (const b of view.dlg.querySelectorAll("[data-mode]")) b.setAttribute("aria-pressed", String(b.dataset.mode === name));
  view.dlg.dataset.mode = name;
}

export function openPair(a, b) {
  if (!view) build();
  const { dlg, stage, side, table, range } = view;
  $("#pair-title").textContent = `${a.name}  ·  ${b.name}`;
  for (const [cls, item] of [["pair-a", a], ["pair-b", b]]) for (const img of dlg.querySelectorAll(`img.${cls}`)) { img.src = item.image; img.alt = item.name; }
  $(".pair-a", stage).onload = e => stage.style.setProperty("--ratio", String(e.target.naturalWidth / e.target.naturalHeight || 1.333));
  $("[data-testid=pair-tag-a]", stage).textContent = `A · ${a.name}`;
  $("[data-testid=pair-tag-b]", stage).textContent = `B · ${b.name}`;
  $(".pair-name-a", side).textContent = `A · ${a.name}`;
  $(".pair-name-b", side).textContent = `B · ${b.name}`;
  range.value = 50; stage.style.setProperty("--pos", "50%");
  const rows = differences(a.job || {}, b.job || {});
  const differ = rows.filter(r => !r.same).length;
  table.replaceChildren(
    el("caption", { text: differ ? `${differ} difference${differ === 1 ? "" : "s"}` : "The same settings" }),
    el("thead", {}, el("tr", {}, el("th", { text: "" }), el("th", { text: "A" }), el("th", { text: "B" }))),
    el("tbody", {}, ...rows.map(r => el("tr", { class: r.same ? "same" : "differs", "data-testid": r.same ? "pair-same" : "pair-differs", dataset: { name: r.name } },
      el("th", { scope: "row", text: r.label }), el("td", { text: r.a }), el("td", { text: r.b })))));
  view.all.checked = false; table.classList.remove("all");
  setMode(dlg.dataset.mode || "slider");
  if (typeof dlg.showModal === "function") { if (!dlg.open) dlg.showModal(); } else dlg.setAttribute("open", "");
}

// Every engine, input and setting of the two jobs, each with whether it is the same in both.
export function differences(a, b) {
  const rows = [];
  const add = (name, label, x, y) => rows.push({ name, label, a: shown(x), b: shown(y), same: sameValue(x ?? null, y ?? null) });
  add("engine", "engine", a.engine, b.engine);
  const keys = (x, y) => [...new Set([...Object.keys(x || {}), ...Object.keys(y || {})])];
  for (const k of keys(a.inputs, b.inputs)) add(`inputs.${k}`, k, named((a.inputs || {})[k]), named((b.inputs || {})[k]));
  for (const k of keys(a.settings, b.settings)) add(k, k, (a.settings || {})[k], (b.settings || {})[k]);
  return rows.sort((x, y) => x.same - y.same);  // what differs first
}

// A recorded path as its file's name: the folder it ran from says nothing about the picture.
function named(v) {
  if (Array.isArray(v)) return v.map(named);
  return typeof v === "string" && /[\\/]/.test(v) ? v.split(/[\\/]/).pop() : v;
}

function shown(v) {
  if (v === null || v === undefined) return "—";
  if (Array.isArray(v)) return v.map(shown).join(", ");
  if (typeof v === "number") return fmt(v);
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}
