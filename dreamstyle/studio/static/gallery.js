// The Gallery: the output folder's pictures as cards (settings worth showing, job JSON, Again,
// Before/after, Download, Select to compare two), redrawn only when the list changes.

import { api, report } from "./api.js";
import { openPair } from "./compare.js";
import { fillAgain } from "./form.js";
import { state } from "./state.js";
import { $, el, fmt, sameValue } from "./util.js";
import { openViewer } from "./viewer.js";

export async function refreshGallery() {
  let items;
  try { items = (await api("/api/gallery")).items || []; } catch (exc) { report(exc, "Gallery"); return; }
  state.gallery = items;
  const key = items.map(i => `${i.id}:${i.created}:${i.partial}`).join("|");
  $("#gallery-empty").hidden = items.length > 0;
  $("#gallery-count").textContent = items.length ? `${items.length} picture${items.length === 1 ? "" : "s"}` : "";
  const ids = new Set(items.map(i => i.id));
  picked.splice(0, picked.length, ...picked.filter(id => ids.has(id)));
  showPicked();
  if (key === state.galleryKey) return;
  state.galleryKey = key;
  $("#gallery").replaceChildren(...items.map(card));
}

// The two pictures chosen to compare, in the order they were chosen; a third drops the first.
const picked = [];

function pick(id, on) {
  const at = picked.indexOf(id);
  if (on && at < 0) picked.push(id);
  if (!on && at >= 0) picked.splice(at, 1);
  if (picked.length > 2) picked.shift();
  showPicked();
}

function showPicked() {
  let button = $("#gallery-compare");
  if (!button) {
    button = $("#gallery-refresh").insertAdjacentElement("beforebegin", el("button", {
      type: "button", id: "gallery-compare", class: "small", "data-testid": "gallery-compare",
      title: "Tick Compare on two pictures, then open them one over the other and side by side, with what differs",
      onclick: () => { const [a, b] = picked.map(id => state.gallery.find(i => i.id === id)); if (a && b) openPair(a, b); },
    }));
  }
  button.disabled = picked.length < 2;
  button.textContent = `Compare ${picked.length}/2`;
  for (const box of document.querySelectorAll("#gallery .pick input")) {
    box.checked = picked.includes(box.closest(".card").dataset.id);
    box.closest(".card").classList.toggle("picked", box.checked);
  }
}

function ago(seconds) {
  const d = Date.now() / 1000 - seconds;
  if (d < 60) return "just now";
  if (d < 3600) return `${Math.floor(d / 60)} min ago`;
  if (d < 86400) return `${Math.floor(d / 3600)} h ago`;
  return new Date(seconds * 1000).toLocaleDateString();
}

// The settings worth showing on a card: model, size and steps, then what the form offers and
// differs from its default (layers last: a run records its model's default layers too).
function cardSettings(item) {
  const job = item.job || {};
  const settings = job.settings || {};
  const eng = state.schema && state.schema.engines[item.engine || job.engine];
  const rows = [];
  if (settings.model) rows.push(["", settings.model]);
  if (settings.size) rows.push(["", `${settings.size} px`]);
  if (settings.steps) rows.push(["", `${settings.steps} steps`]);
  if (eng) {
    for (const input of eng.inputs) {
      const v = (job.inputs || {})[input.name];
      if (input.kind !== "image" && !input.widget && v !== undefined && v !== null) rows.push([input.name, v]);
    }
    const fields = eng.settings.filter(s => !["model", "size", "steps"].includes(s.name));
    fields.sort((a, b) => a.name.endsWith("layers") - b.name.endsWith("layers"));
    for (const s of fields) {
      const v = settings[s.name];
      if (v !== undefined && v !== null && !sameValue(v, s.default)) rows.push([s.name, v]);
    }
  }
  return rows;
}

function card(item) {
  const node = $("#gallery-item").content.firstElementChild.cloneNode(true);
  node.dataset.id = item.id;
  node.dataset.partial = item.partial ? "true" : "false";
  node.dataset.engine = item.engine || "";
  if (item.partial) node.classList.add("partial");
  const img = $(".thumb img", node);
  img.src = item.image;
  img.alt = item.name;
  $(".thumb", node).addEventListener("click", () => openViewer(item));
  $(".engine-tag", node).textContent = item.engine || (item.job && item.job.engine) || "?";
  $(".partial-tag", node).hidden = !item.partial;
  const t = $("time", node);
  t.textContent = ago(item.created);
  t.dateTime = new Date(item.created * 1000).toISOString();
  t.title = new Date(item.created * 1000).toLocaleString();
  $(".card-name", node).textContent = item.name;
  $(".card-name", node).title = item.name;
  const rows = cardSettings(item);
  const ran = item.job && item.job.ran;
  const chips = rows.slice(0, 8).map(([k, v]) => {
    const text = Array.isArray(v) ? v.join(", ") : (typeof v === "number" ? fmt(v) : String(v));
    return el("div", { title: k ? `${k}: ${text}` : text }, k ? el("dt", { text: k }) : null, el("dd", { text }));
  });
  if (rows.length > 8) chips.push(el("div", { class: "ran" }, el("dd", { text: `+${rows.length - 8} more` })));
  if (ran && ran.device) chips.push(el("div", { class: "ran", title: "where it ran" }, el("dd", { text: [ran.device, ran.precision].filter(Boolean).join(" ") })));
  $(".card-settings", node).replaceChildren(...chips);
  $(".card-json pre", node).textContent = JSON.stringify(item.job, null, 2);
  const again = $(".again", node);
  again.disabled = !item.again || !(state.schema && state.schema.engines[item.again.engine]);
  if (again.disabled) again.title = "This picture's engine cannot be made here";
  again.addEventListener("click", () => fillAgain(item));
  const cmp = $(".compare-btn", node);
  cmp.hidden = !item.input;
  cmp.addEventListener("click", () => openViewer(item));
  if (item.painted) paintedToggle(node, item);
  const box = el("input", { type: "checkbox", "data-testid": "gallery-pick", checked: picked.includes(item.id),
    onchange: e => pick(item.id, e.target.checked) });
  $(".card-actions", node).append(el("label", { class: "pick small", title: "Choose two pictures to compare" }, box, " Compare"));
  node.classList.toggle("picked", picked.includes(item.id));
  const dl = $(".download", node);
  dl.href = `${item.image}${item.image.includes("?") ? "&" : "?"}download=1`;
  dl.setAttribute("download", item.name);
  return node;
}

// The regions or mask the picture was made with, laid over its thumbnail on demand.
function paintedToggle(node, item) {
  const button = $(".painted-btn", node);
  const what = item.engine === "dream" ? "mask" : "regions";
  button.hidden = false;
  button.textContent = `Show ${what}`;
  button.title = `The ${what} this picture was painted with, over it`;
  button.addEventListener("click", () => {
    const on = button.getAttribute("aria-pressed") !== "true";
    button.setAttribute("aria-pressed", String(on));
    const thumb = $(".thumb", node);
    const shown = $(".painted-overlay", thumb);
    if (on && !shown) thumb.append(el("img", { class: "painted-overlay", src: item.painted, alt: `its ${what}`, "data-testid": "painted-overlay" }));
    else if (!on && shown) shown.remove();
  });
}
