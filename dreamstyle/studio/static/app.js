// dreamstyle studio: one hand-written page over the studio's HTTP API (no build step, no network
// beyond this server). Make sends a Job; Live follows the running job's event stream; Queue and
// Gallery are polled. Every API error ({"error", "hint"}) ends up in the message area.
//
// This file wires the parts together: api.js (fetch, messages), form.js and uploads.js (Make),
// live.js (the followed job), queue.js, gallery.js and viewer.js (before/after), fast.js (the
// networks, live painting) and camera.js, with the shared
// state.js and util.js. The parts import one another's functions (form -> live -> queue ->
// gallery -> form ...) and keys.js (the shortcuts); none is called before this file's start(), so the cycles are harmless.

import { api, report, say } from "./api.js";
import { wireCamera } from "./camera.js";
import { refreshNetworks } from "./fast.js";
import { buildEngineSelect, make, resetSettings, setEngine } from "./form.js";
import { refreshGallery } from "./gallery.js";
import { wireKeys } from "./keys.js";
import { stopWatched } from "./live.js";
import { refreshQueue } from "./queue.js";
import { POLL_MS, state } from "./state.js";
import { $ } from "./util.js";
import { setSplit } from "./viewer.js";

async function start() {
  // A token in the address is used once (the server turns it into a cookie): keep it out of
  // bookmarks, history and screenshots.
  const url = new URL(location.href);
  if (url.searchParams.has("token")) { url.searchParams.delete("token"); history.replaceState(null, "", url.pathname + url.search + url.hash); }

  $("#make-form").addEventListener("submit", make);
  $("#reset").addEventListener("click", resetSettings);
  $("#stop").addEventListener("click", stopWatched);
  $("#gallery-refresh").addEventListener("click", refreshGallery);
  wireCamera();
  wireKeys();
  $("#compare-range").addEventListener("input", e => setSplit(e.target.value));
  $("#viewer").addEventListener("click", e => { if (e.target === $("#viewer")) $("#viewer").close(); });
  // Dropping a file anywhere else must not navigate away from the page.
  for (const ev of ["dragover", "drop"]) window.addEventListener(ev, e => { if (!e.target.closest || !e.target.closest(".drop")) e.preventDefault(); });
  document.addEventListener("visibilitychange", () => { if (!document.hidden) { refreshGallery(); refreshQueue(); } });

  try {
    state.schema = await api("/api/schema");
  } catch (exc) {
    report(exc, "Loading the engines");
    $("#make").disabled = true;
    return;
  }
  await refreshNetworks();  // before the form: the fast engine's network picker lists them
  buildEngineSelect();
  const engines = Object.keys(state.schema.engines);
  setEngine(engines.includes("dream") ? "dream" : engines[0]);
  document.body.dataset.ready = "true";
  await Promise.all([refreshQueue(), refreshGallery()]);
  setInterval(refreshQueue, POLL_MS);
  // Pictures the command line writes into the folder turn up without a click, too.
  setInterval(() => { if (!document.hidden) refreshGallery(); }, 10 * POLL_MS);
}

window.addEventListener("error", e => say("error", `The page hit a bug: ${e.message}`, "reload the page; if it happens again, report it"));
window.addEventListener("unhandledrejection", e => report(e.reason));
document.addEventListener("DOMContentLoaded", start);
