// The X/Y grid part of the Make form: one or two settings of the engine and their values in
// AUTOMATIC1111's range syntax (10,100,1000 · 1-5 · 0.5-2(0.5) · 1-100[5]; `|` splits values that
// hold commas, e.g. a layer list). "Make grid" sends the form's job with the axes to POST
// /api/grids; the cells are queued as ordinary jobs, and the grid below the form fills in as each
// one ends (the job's own event stream, followed one cell at a time as the worker runs them).
// When all have ended the labelled grid picture is in the gallery. Click a cell: the form is
// refilled with that cell's job (Again).
//
// Loaded by its own <script> line; it reads the form's fields as form.js draws them and owns
// nothing of form.js.

import { api, report, say } from "./api.js";
import { fillAgain } from "./form.js";
import { refreshGallery } from "./gallery.js";
import { refreshQueue } from "./queue.js";
import { FINAL, state } from "./state.js";
import { $, el } from "./util.js";

const POLL_MS = 1000;
const CSS = `.grid-table { border-collapse: collapse; margin-top: .5rem; max-width: 100%; }
.grid-table th { font-weight: 600; font-size: .8rem; padding: .2rem .4rem; text-align: center; }
.grid-table td { padding: 2px; }
.grid-cell { display: grid; place-items: center; width: 96px; height: 96px; padding: 0; border: 1px solid #5556; background: #8882; cursor: pointer; }
.grid-cell img { max-width: 100%; max-height: 100%; display: block; }
.grid-cell[data-state=running] { outline: 2px solid #4a8; }`;
const grid = { id: null, cells: [], es: null, timer: null };

function settingsOf(engine) { return ((state.schema.engines[engine] || {}).settings || []).filter(s => !s.widget || s.widget === "slider"); }

function fillChoices() {
  const engine = $("#engine").value;
  for (const [sel, blank] of [["#grid-x-setting", null], ["#grid-y-setting", "(none: one row)"]]) {
    const node = $(sel), was = node.value;
    node.replaceChildren(...(blank ? [el("option", { value: "", text: blank })] : []),
      ...settingsOf(engine).map(s => el("option", { value: s.name, text: s.label || s.name, title: s.help || null })));
    if ([...node.options].some(o => o.value === was)) node.value = was;
    else if (!blank) node.value = settingsOf(engine).some(s => s.name === "style_weight") ? "style_weight" : settingsOf(engine).some(s => s.name === "seed") ? "seed" : node.value;
  }
}

function build() {
  const part = el("details", { id: "grid", class: "more grid", "data-testid": "grid" },
    el("summary", { text: "X/Y grid" }),
    el("p", { class: "fine", text: "One picture per value (per pair of values with a second setting), each a job of its own; values as 10,100,1000 · 1-5 · 0.5-2(0.5) · 1-100[5], or a|b|c when a value holds commas." }),
    el("div", { class: "row two" },
      el("label", { class: "field" }, el("span", { class: "name", text: "X setting (columns)" }), el("select", { id: "grid-x-setting", "data-testid": "grid-x-setting" })),
      el("label", { class: "field" }, el("span", { class: "name", text: "X values" }), el("input", { id: "grid-x-values", "data-testid": "grid-x-values", type: "text", placeholder: "10,100,1000", autocomplete: "off", spellcheck: "false" }))),
    el("div", { class: "row two" },
      el("label", { class: "field" }, el("span", { class: "name", text: "Y setting (rows)" }), el("select", { id: "grid-y-setting", "data-testid": "grid-y-setting" })),
      el("label", { class: "field" }, el("span", { class: "name", text: "Y values" }), el("input", { id: "grid-y-values", "data-testid": "grid-y-values", type: "text", placeholder: "0-2", autocomplete: "off", spellcheck: "false" }))),
    el("div", { class: "grid-actions" }, el("button", { type: "button", id: "grid-make", class: "primary", "data-testid": "grid-make", text: "Make grid", onclick: makeGrid })),
    el("div", { id: "grid-view", class: "grid-view", "data-testid": "grid-view" }));
  $("#make").closest(".actions").before(part);  // the form's own buttons (a painted editor has an .actions too)
  document.head.append(el("style", { text: CSS }));
  $("#engine").addEventListener("change", fillChoices);
  fillChoices();
}

// The form's job, as form.js sends it: the fields changed, typed as the schema says.
function formJob() {
  const engine = $("#engine").value, eng = state.schema.engines[engine];
  const settings = {};
  for (const s of eng.settings) {
    const f = document.getElementById(`set-${s.name}`);
    const raw = f ? String(f.value).trim() : "";
    if (raw === "") continue;
    if (s.type === "int" || s.type === "float") settings[s.name] = Number(raw);
    else if (s.type === "int|auto") settings[s.name] = /^\d+$/.test(raw) ? Number(raw) : raw;
    else if (s.type === "bool") settings[s.name] = raw === "true";
    else if (s.type === "list") { const p = raw.split(",").map(x => x.trim()).filter(Boolean); settings[s.name] = p.every(x => !isNaN(Number(x))) ? p.map(Number) : raw; }
    else settings[s.name] = raw;
  }
  const inputs = {};
  for (const input of eng.inputs) {
    if (input.widget) continue;
    if (input.kind === "image") {
      const ids = (state.uploads[input.name] || []).filter(u => u.id).map(u => `upload:${u.id}`);
      if (ids.length) inputs[input.name] = input.many ? ids : ids[0];
    } else {
      const f = document.getElementById(`in-${input.name}`);
      if (f && f.value.trim()) inputs[input.name] = input.kind === "int" ? Number(f.value) : f.value.trim();
    }
  }
  return { engine, inputs, settings, preset: $("#preset").value || null };
}

async function makeGrid() {
  const button = $("#grid-make");
  button.disabled = true;
  try {
    if (state.pending.size) await Promise.allSettled([...state.pending]);
    const body = formJob();
    body.x = { setting: $("#grid-x-setting").value, values: $("#grid-x-values").value.trim() };
    if ($("#grid-y-setting").value) body.y = { setting: $("#grid-y-setting").value, values: $("#grid-y-values").value.trim() };
    const made = await api("/api/grids", { json: body });
    for (const id of made.jobs) state.mine.set(id, { reported: true });
    show(made);
    await refreshQueue();
  } catch (exc) {
    report(exc, "The grid");
  } finally {
    button.disabled = false;
  }
}

function label(v) { return v === null ? "none" : Array.isArray(v) ? v.join(",") : String(v); }

function show(made) {
  if (grid.es) grid.es.close();
  clearInterval(grid.timer);
  const [cols] = made.shape;
  grid.id = made.id;
  grid.cells = made.jobs.map((id, k) => ({ id, x: k % cols, y: Math.floor(k / cols), state: "queued", result: null }));
  const head = el("tr", {}, el("th", { class: "corner", text: made.y ? `${made.y.setting} \\ ${made.x.setting}` : made.x.setting }),
    ...made.x.values.map(v => el("th", { scope: "col", text: label(v) })));
  const rows = (made.y ? made.y.values : [null]).map((v, j) => el("tr", {}, el("th", { scope: "row", text: made.y ? label(v) : "" }),
    ...grid.cells.filter(c => c.y === j).map(c => el("td", {}, el("button", { type: "button", class: "grid-cell", "data-testid": "grid-cell", dataset: { job: c.id, state: "queued" },
      title: "Click: fill the form with this cell's settings", onclick: () => again(c) }, el("span", { class: "fine", text: "queued" }))))));
  $("#grid-view").replaceChildren(el("p", { class: "fine", "data-testid": "grid-status", text: `grid ${made.id}: ${grid.cells.length} cells queued` }),
    el("table", { class: "grid-table" }, el("thead", {}, head), el("tbody", {}, ...rows)));
  $("#grid").open = true;
  followNext();
  grid.timer = setInterval(poll, POLL_MS);
}

function cellDone(c) {
  const node = document.querySelector(`.grid-cell[data-job="${c.id}"]`);
  if (!node) return;
  node.dataset.state = c.state;
  if (c.result && c.state === "done") node.replaceChildren(el("img", { src: `/api/gallery/${c.result}/image`, alt: `cell x${c.x} y${c.y}` }));
  else if (FINAL.includes(c.state)) node.replaceChildren(el("span", { class: "fine", text: c.state }));
}

// The worker runs one cell at a time: follow the first unfinished one's events, then the next.
function followNext() {
  const c = grid.cells.find(c => !FINAL.includes(c.state));
  if (!c) return;
  const es = grid.es = new EventSource(`/api/jobs/${c.id}/events`);
  es.addEventListener("end", e => {
    const d = JSON.parse(e.data);
    es.close();
    Object.assign(c, { state: d.state, result: d.result });
    cellDone(c);
    followNext();
  });
  es.onerror = () => es.close();  // the poll below still fills the cells in
}

async function poll() {
  const id = grid.id;
  try {
    const g = await api(`/api/grids/${id}`);
    if (id !== grid.id) return;
    for (const cell of g.cells) {
      const c = grid.cells.find(x => x.id === cell.id);
      if (c && (c.state !== cell.state || c.result !== cell.result)) { Object.assign(c, { state: cell.state, result: cell.result }); cellDone(c); }
    }
    const done = grid.cells.filter(c => FINAL.includes(c.state)).length;
    $("[data-testid=grid-status]").textContent = `grid ${g.id}: ${done} of ${grid.cells.length} cells ended`;
    if (g.state === "done" || g.state === "failed") {
      clearInterval(grid.timer);
      const status = $("[data-testid=grid-status]");
      status.replaceChildren(g.image ? el("a", { href: g.image, target: "_blank", "data-testid": "grid-picture", text: "the grid's picture" }) : el("span", { text: g.error || "no grid picture" }),
        ` — ${grid.cells.length} cells; it is in the gallery`);
      await refreshGallery();
    }
  } catch (exc) {
    clearInterval(grid.timer);
    report(exc, "Following the grid");
  }
}

async function again(c) {
  if (!c.result) {  // still to come, or never: a cell that was stopped or failed says so
    const waiting = c.state === "queued" || c.state === "running";
    say("info", waiting ? "This cell has no picture yet" : `This cell was ${c.state}, so it has no picture`,
      waiting ? "wait for it to end" : "make the grid again, or this cell's settings alone", { timeout: 4000 });
    return;
  }
  let item = state.gallery.find(i => i.id === c.result);
  if (!item) { await refreshGallery(); item = state.gallery.find(i => i.id === c.result); }
  if (item) fillAgain(item); else say("error", "This cell's picture is no longer in the gallery");
}

function whenReady() {
  if (document.body.dataset.ready === "true") return build();
  new MutationObserver((_, obs) => { if (document.body.dataset.ready === "true") { obs.disconnect(); build(); } })
    .observe(document.body, { attributes: true, attributeFilter: ["data-ready"] });
}

document.addEventListener("DOMContentLoaded", whenReady);
