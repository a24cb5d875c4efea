// PNG Info: drop a picture anywhere on the page (or paste it, or choose it with "Load settings from
// a PNG…") and the settings it carries fill the form, as a gallery card's Again does. The server
// reads its Job and uploads its input pictures again where it can still reach them
// (POST /api/info); those it cannot are marked in their box, to be chosen again.

import { ApiError, api, report, say } from "./api.js";
import { fillAgain } from "./form.js";
import { state } from "./state.js";
import { $, el } from "./util.js";

const PICTURE = /\.(png|jpe?g|webp|tiff?|bmp)$/i;
const isPicture = f => f && ((f.type || "").startsWith("image/") || PICTURE.test(f.name || ""));
// A drop on a photo box puts the picture there (uploads.js): only the rest of the page reads settings.
const onBox = target => !!(target && target.closest && target.closest(".drop"));

export async function loadSettings(file) {
  if (!state.schema) { say("error", "The studio is still loading", "try again in a moment"); return; }
  if (!isPicture(file)) { say("error", "That is not a picture", "drop a PNG that dreamstyle made"); return; }
  const form = new FormData();
  form.append("file", file, file.name || "picture.png");
  let found;
  try {
    found = await api("/api/info", { method: "POST", body: form });
  } catch (exc) {
    // One line: the picture is fine, it just was not made here.
    if (exc instanceof ApiError && exc.status === 422) say("info", `${file.name || "The picture"}: ${exc.message}`, null, { timeout: 12000 });
    else report(exc, `Reading ${file.name || "the picture"}`);
    return;
  }
  fillAgain({ name: found.name, again: found.again, painted: null });
  markMissing(found.missing || []);
  document.body.dataset.loaded = found.name;  // for scripts and tests: the form holds this picture's settings
}

// "photo.jpg: not found here — choose it again", in the box of each input the server could not reach.
function markMissing(missing) {
  for (const m of missing) {
    const box = document.getElementById(`thumbs-${m.input}`);
    if (box) box.append(el("p", { class: "missing-input", "data-testid": "missing-input", dataset: { input: m.input }, text: m.message }));
    else say("info", m.message, null, { timeout: 12000 });
  }
}

function wire() {
  const overlay = el("div", { class: "drop-overlay", id: "drop-overlay", "data-testid": "drop-overlay", hidden: true, "aria-hidden": "true" },
    el("div", { class: "drop-overlay-box" },
      el("strong", { text: "Drop a dreamstyle picture to load its settings" }),
      el("span", { text: "engine, preset, settings and its photos — drop it on a photo box instead to use it as a photo" })));
  document.body.append(overlay);
  let hide = 0;
  const files = e => e.dataTransfer && [...(e.dataTransfer.types || [])].includes("Files");
  window.addEventListener("dragover", e => {
    if (!files(e)) return;
    overlay.hidden = onBox(e.target);
    clearTimeout(hide);
    hide = setTimeout(() => { overlay.hidden = true; }, 2000);  // dragover repeats while a file is held over the page
  });
  window.addEventListener("dragleave", e => { if (!e.relatedTarget) overlay.hidden = true; });  // out of the window
  window.addEventListener("drop", e => {
    overlay.hidden = true;
    if (onBox(e.target) || !e.dataTransfer) return;
    const list = [...(e.dataTransfer.files || [])];
    if (!list.length) return;
    e.preventDefault();
    loadSettings(list.find(isPicture) || list[0]);
  });
  document.addEventListener("paste", e => {
    const file = [...((e.clipboardData && e.clipboardData.files) || [])].find(isPicture);
    const typing = e.target && e.target.closest && e.target.closest("input, textarea, [contenteditable]");
    if (!file || (typing && e.clipboardData.types.includes("text/plain"))) return;  // text pastes as usual
    e.preventDefault();
    loadSettings(file);
  });
  const chooser = el("input", { type: "file", accept: "image/png,image/*", class: "visually-hidden", "data-testid": "load-settings-file", id: "load-settings-file" });
  chooser.addEventListener("change", () => { if (chooser.files[0]) loadSettings(chooser.files[0]); chooser.value = ""; });
  const button = el("button", { type: "button", class: "quiet", "data-testid": "load-settings", title: "Fill the form with the settings a dreamstyle picture carries (or drop it, or paste it, anywhere on the page)",
    text: "Load settings from a PNG…", onclick: () => chooser.click() });
  const actions = $("#make-form .actions");
  if (actions) actions.append(button, chooser);
}

wire();
