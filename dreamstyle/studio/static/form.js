// The Make form: built from the server's schema (engine, preset, inputs, settings), read back into
// a Job and sent; Reset clears it, and a gallery card's Again fills it with that picture's job.

import { ApiError, api, report, say } from "./api.js";
import { follow } from "./live.js";
import { moveJob, refreshQueue } from "./queue.js";
import { FINAL, state } from "./state.js";
import { DROP_TEXT, dropZone, renderUploads } from "./uploads.js";
import { mixField, networkField, networkInput, sizeSlider, widgetsChanged, widgetsFilled } from "./fast.js";
import { paintedEditor, paintedParts, restorePainted } from "./regions.js";
import { $, el, sameValue } from "./util.js";

const ENGINE_NOTES = {
  "dream": "DeepDream: grow the patterns the network half-sees in a photo.",
  "style": "Style transfer: repaint a photo in the manner of one or more paintings.",
  "visualize.filters": "What each filter of a layer responds to, as a grid.",
  "visualize.maps": "A photo's feature maps at a layer.",
  "visualize.channels": "Pictures that excite chosen channels of a layer.",
  "visualize.neuron": "A picture that excites one neuron.",
  "visualize.class": "A picture the network takes for an ImageNet class.",
  "fast": "Paint a photo at once with a trained network: drag the sliders and see it change, or paint what the camera sees.",
  "train": "Teach a small network one or more paintings, so it paints any photo in a blink (engine fast). Takes minutes.",
};
// What the button does, in the engine's words: a painting is already on show and is kept; a
// network is trained.
const MAKE_LABEL = { "fast": "Keep in gallery", "train": "Train" };

function engineSchema(engine = state.engine) { return state.schema.engines[engine]; }

export function buildEngineSelect() {
  const sel = $("#engine");
  sel.replaceChildren();
  const groups = {};
  for (const name of Object.keys(state.schema.engines)) {
    const [family] = name.split(".");
    if (name.includes(".")) {
      groups[family] = groups[family] || el("optgroup", { label: family });
      groups[family].append(el("option", { value: name, text: name }));
      if (!groups[family].isConnected) sel.append(groups[family]);
    } else sel.append(el("option", { value: name, text: name }));
  }
  sel.addEventListener("change", () => setEngine(sel.value));
}

export function setEngine(engine, { keepPhoto = true } = {}) {
  const old = state.engine ? primaryInput(state.engine) : null;
  const carried = keepPhoto && old ? state.uploads[old.name] : null;
  state.engine = engine;
  state.uploads = {};
  $("#engine").value = engine;
  $("#engine-hint").textContent = ENGINE_NOTES[engine] || "";
  buildPresetSelect();
  buildInputs();
  buildSettings();
  $("#make").textContent = makeLabel();
  const now = primaryInput(engine);
  if (carried && carried.length && now) { state.uploads[now.name] = carried.slice(0, 1); renderUploads(now.name); }
  widgetsChanged(engine);
}

function makeLabel() { return MAKE_LABEL[state.engine] || "Make"; }

function primaryInput(engine) {
  const s = state.schema.engines[engine];
  return s && s.inputs.find(i => i.kind === "image" && !i.many);
}

function buildPresetSelect() {
  const sel = $("#preset");
  const presets = (state.schema.presets && state.schema.presets[state.engine]) || [];
  sel.replaceChildren(el("option", { value: "", text: "none" }));
  for (const p of presets) sel.append(el("option", { value: p.name, text: p.name, title: p.description || "" }));
  sel.disabled = presets.length === 0;
  sel.onchange = showPresetHint;
  showPresetHint();
}

function showPresetHint() {
  const presets = (state.schema.presets && state.schema.presets[state.engine]) || [];
  const p = presets.find(p => p.name === $("#preset").value);
  let text = presets.length ? "Settings to start from; your changes go on top." : "No presets for this engine.";
  if (p) text = p.description + (p.origin && p.origin !== "built-in" ? ` (${p.origin})` : "");
  $("#preset-hint").textContent = text;
}

function buildInputs() {
  const box = $("#inputs");
  box.replaceChildren();
  for (const input of engineSchema().inputs) {
    if (input.widget === "hidden") continue;  // the command line's (one mask per painting)
    if (input.widget) box.append(paintedEditor(input));  // painted over the photo: a map or a mask
    else if (input.kind === "image") box.append(dropZone(input));
    else if (input.kind === "network") box.append(networkInput(input));
    else box.append(plainInput(input));
  }
}

function plainInput(input) {
  const id = `in-${input.name}`;
  const attrs = { id, name: input.name, "data-testid": `input-${input.name}`, dataset: { input: input.name, kind: input.kind } };
  const several = input.kind === "list" || input.many;
  let field;
  if (input.kind === "int" && !several) field = el("input", { type: "number", step: "1", inputmode: "numeric", ...attrs });
  else field = el("input", { type: "text", autocomplete: "off", spellcheck: "false", ...attrs });
  const hints = { list: "comma-separated", int: "a whole number" };
  if (input.placeholder || input.example) field.placeholder = input.placeholder || input.example;
  else if (several) field.placeholder = "one, or several separated by commas";
  return el("label", { class: `field${input.kind === "int" && !several ? " narrow" : ""}`, for: id },
    el("span", { class: "name", text: input.name.charAt(0).toUpperCase() + input.name.slice(1) }), field,
    input.help || hints[input.kind] ? el("small", { class: "hint", text: input.help || hints[several ? "list" : input.kind] }) : null);
}

function buildSettings() {
  const main = $("#main-settings"), more = $("#more-settings");
  main.replaceChildren(); more.replaceChildren();
  let extra = 0;
  for (const s of engineSchema().settings) {
    const f = settingField(s);
    if (s.main || s.name === "model") main.append(f); else { more.append(f); extra++; }
  }
  $("#more").hidden = extra === 0;
  $("#more-count").textContent = extra ? `(${extra})` : "";
}

function shown(value) {
  if (value === null || value === undefined) return "";
  if (Array.isArray(value)) return value.join(",");
  if (typeof value === "boolean") return value ? "on" : "off";
  return String(value);
}

function settingField(s) {
  const id = `set-${s.name}`;
  const attrs = { id, name: s.name, "data-testid": `setting-${s.name}`, dataset: { setting: s.name, type: s.type }, title: s.help || null };
  if (s.widget === "network") return networkField(s);
  if (s.widget === "mix") return mixField(s);
  if (s.widget === "slider") return sizeSlider(s);
  const choices = s.choices || (s.name === "model" ? state.schema.models : null);
  let field;
  if (s.type === "bool") {
    field = el("select", attrs,
      el("option", { value: "", text: `default (${shown(s.default) || "off"})` }),
      el("option", { value: "true", text: "on" }), el("option", { value: "false", text: "off" }));
  } else if (choices && choices.length) {
    field = el("select", attrs, el("option", { value: "", text: `default (${shown(s.default) || "auto"})` }),
      ...choices.map(c => el("option", { value: String(c), text: choiceText(s, c) })));
  } else if (s.type === "int" || s.type === "float") {
    field = el("input", { type: "number", step: s.type === "int" ? "1" : "any", inputmode: s.type === "int" ? "numeric" : "decimal", ...attrs });
  } else {
    field = el("input", { type: "text", autocomplete: "off", spellcheck: "false", ...attrs });
  }
  if (field.tagName === "INPUT") field.placeholder = shown(s.default) || "auto";
  field.addEventListener("input", () => field.classList.toggle("changed", field.value !== ""));
  field.addEventListener("change", () => field.classList.toggle("changed", field.value !== ""));
  const wide = s.type === "str" || s.type === "list";
  const box = el("label", { class: `field${wide && !(choices && choices.length) ? " wide" : ""}`, for: id, dataset: { name: s.name } },
    el("span", { class: "name", text: s.label || s.name, title: `--${s.name.replaceAll("_", "-")}` }), field,
    s.help ? el("small", { class: "hint", "data-testid": `help-${s.name}`, text: s.help }) : null);
  if (s.name === "model") {
    box.append(el("small", { class: "hint model-note", "data-testid": "model-note" }));
    field.addEventListener("change", () => modelNote(field));
    pickModel(s, field);
  }
  return box;
}

// A backbone in the model list says whether it runs here: "vgg16 (needs weights)".
function choiceText(s, c) {
  if (s.name !== "model") return String(c);
  const b = (state.schema.backbones || []).find(b => b.name === c);
  return b && !b.available ? `${c} (needs weights)` : String(c);
}

// The engine's default backbone cannot run here (its weights are not cached): the form starts on
// the best one that can (the schema's `pick`), so a first Make works.
function pickModel(s, field) {
  if (s.pick) { field.value = s.pick; field.classList.add("changed"); }
  modelNote(field);
}

function modelNote(field) {
  const note = field.parentElement && field.parentElement.querySelector(".model-note");
  if (!note) return;
  const s = engineSchema().settings.find(x => x.name === "model");
  const name = field.value || (s && s.default);
  const b = (state.schema.backbones || []).find(b => b.name === name);
  note.textContent = b && !b.available ? `${name} needs weights on this machine: ${b.hint}` : "";
  note.classList.toggle("warn", !!(b && !b.available));
}

// What the user changed, typed as the schema says; empty fields are left to the preset/defaults.
function collectSettings() {
  const out = {};
  for (const s of engineSchema().settings) {
    const f = document.getElementById(`set-${s.name}`);
    if (!f) continue;
    if (f.validity && f.validity.badInput) throw new ApiError(0, `${s.label || s.name}: not a number`, `type a ${s.type === "int" ? "whole number" : "number"}, or leave it empty for the default`);
    const raw = f.value.trim();
    if (raw === "") continue;
    out[s.name] = typed(s.type, raw);
  }
  return out;
}

function typed(type, raw) {
  switch (type) {
    case "int": case "float": return Number(raw);
    case "int|auto": return /^\d+$/.test(raw) ? Number(raw) : raw;
    case "bool": return raw === "true";
    case "list": {
      // "0.7,0.3" -> [0.7, 0.3]; a range like "0-15" is sent as written for the server to expand.
      const parts = raw.split(",").map(p => p.trim()).filter(Boolean);
      if (parts.every(p => p !== "" && !isNaN(Number(p)))) return parts.map(Number);
      return raw;
    }
    default: return raw;
  }
}

function collectInputs() {
  const out = {};
  for (const input of engineSchema().inputs) {
    if (input.widget) continue;  // painted: added by paintedParts
    if (input.kind === "image") {
      const ids = (state.uploads[input.name] || []).filter(u => u.id).map(u => `upload:${u.id}`);
      if (!ids.length) {
        if (input.required === false || input.optional) continue;
        throw new ApiError(0, `Choose ${DROP_TEXT[input.name] || "a picture"} for “${input.name}” first`, "click the box or drop a file on it");
      }
      out[input.name] = input.many ? ids : ids[0];
    } else {
      const f = document.getElementById(`in-${input.name}`);
      const raw = f ? f.value.trim() : "";
      if (raw === "") continue;
      if (input.kind === "list" || input.many) {
        const parts = raw.split(",").map(p => p.trim()).filter(Boolean);
        out[input.name] = input.kind === "int" ? parts.map(Number) : parts;
      } else if (input.kind === "int") out[input.name] = Number(raw);
      else out[input.name] = raw;
    }
  }
  return out;
}

// Make, or with `first` (Ctrl+Shift+Enter) Make and move the job to the front of the line.
export async function make(e, { first = false } = {}) {
  e.preventDefault();
  const button = $("#make");
  button.disabled = true;
  try {
    if (state.pending.size) { button.textContent = "Uploading…"; await Promise.allSettled([...state.pending]); }
    const body = { engine: state.engine, inputs: collectInputs(), settings: collectSettings(), preset: $("#preset").value || null };
    const painted = await paintedParts();  // the regions or mask painted over the photo, uploaded
    if (painted) { Object.assign(body.inputs, painted.inputs); Object.assign(body.settings, painted.settings); }
    const job = await api("/api/jobs", { json: body });
    state.mine.set(job.id, { reported: false });
    if (first) await moveJob(job.id, "front", { quiet: true });
    if (!state.watch || FINAL.includes(state.watch.state)) follow(job.id);
    await refreshQueue();
  } catch (exc) {
    report(exc);
  } finally {
    button.disabled = false;
    button.textContent = makeLabel();
  }
}

export function resetSettings() {
  for (const f of document.querySelectorAll("[data-setting]")) { f.value = ""; f.classList.remove("changed"); }
  const model = document.getElementById("set-model"), s = engineSchema().settings.find(x => x.name === "model");
  if (model && s) pickModel(s, model);
  $("#preset").value = ""; showPresetHint();
  widgetsFilled();
}

export function fillAgain(item) {
  const again = item.again;
  if (!again || !state.schema.engines[again.engine]) { say("error", `Cannot make a ${again ? again.engine : "?"} job here`, "the studio makes " + Object.keys(state.schema.engines).join(", ")); return; }
  setEngine(again.engine, { keepPhoto: false });
  resetSettings();
  const eng = engineSchema();
  let inMore = false;
  for (const s of eng.settings) {
    if (!again.settings || !(s.name in again.settings)) continue;
    const v = again.settings[s.name];
    if (v === null || v === undefined || (sameValue(v, s.default) && !s.pick)) continue;
    const f = document.getElementById(`set-${s.name}`);
    if (!f) continue;
    f.value = s.type === "bool" ? String(!!v) : shown(v);
    if (f.tagName === "SELECT" && f.value === "") {
      // A value the choices do not hold (a custom model name): add it rather than lose it.
      f.append(el("option", { value: shown(v), text: shown(v) }));
      f.value = shown(v);
    }
    f.classList.add("changed");
    if (s.name === "model") modelNote(f);
    if (f.closest("#more-settings")) inMore = true;
  }
  if (inMore) $("#more").open = true;
  widgetsFilled();
  const missing = [];
  for (const input of eng.inputs) {
    const v = (again.inputs || {})[input.name];
    if (input.widget) continue;  // painted: restorePainted below
    if (input.kind === "image") {
      const vals = (Array.isArray(v) ? v : [v]).filter(x => typeof x === "string" && x.startsWith("upload:"));
      const total = Array.isArray(v) ? v.length : (v ? 1 : 0);
      state.uploads[input.name] = vals.map(x => ({ id: x.slice(7), name: input.name }));
      renderUploads(input.name);
      if (vals.length < Math.max(total, 1) && input.required !== false && !input.optional) missing.push(input.name);
    } else if (v !== undefined && v !== null) {
      const f = document.getElementById(`in-${input.name}`);
      if (f) f.value = Array.isArray(v) ? v.join(", ") : String(v);
    }
  }
  restorePainted(item);
  if (missing.length) say("info", `Settings of ${item.name} are filled in`, `choose the picture for ${missing.join(", ")} again: it was not uploaded here`, { timeout: 12000 });
  const form = $("#make-form");
  form.classList.remove("flash"); void form.offsetWidth; form.classList.add("flash");
  $(".make").scrollIntoView({ behavior: "smooth", block: "start" });
}
