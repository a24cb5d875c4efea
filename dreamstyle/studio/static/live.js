// The Live panel: follows one job through its event stream (state, steps, losses, previews),
// shows the kept picture when it ends, and Stop.

import { api, report, say } from "./api.js";
import { paintWith, refreshNetworks } from "./fast.js";
import { refreshGallery } from "./gallery.js";
import { refreshQueue, showQueueStep, stepText } from "./queue.js";
import { FINAL, state } from "./state.js";
import { $, el, fmt } from "./util.js";
import { openViewer } from "./viewer.js";

export function follow(id) {
  if (state.watch && state.watch.id === id && !FINAL.includes(state.watch.state)) return;
  if (state.watch && state.watch.es) state.watch.es.close();
  const w = state.watch = { id, es: null, state: "queued", n: 0, loading: false, wanted: 0, first: true };
  const img = $("#live-image");
  img.classList.add("stale");
  $("#live").dataset.job = id;
  setLiveState("queued");
  $("#step").textContent = "waiting…";
  $("#live-empty").replaceChildren(el("p", { text: "Waiting for the first picture…" }),
    el("p", { class: "fine", text: "It appears after the model is loaded and the first steps are done." }));
  $("#stage").textContent = ""; $("#item").textContent = "";
  $("#losses").replaceChildren();
  $("#progress-bar").style.width = "0%";
  $("#live-result").hidden = true;
  const stop = $("#stop");
  stop.disabled = false; stop.textContent = "Stop";

  const es = w.es = new EventSource(`/api/jobs/${encodeURIComponent(id)}/events`, { withCredentials: true });
  const on = (name, fn) => es.addEventListener(name, ev => {
    if (state.watch !== w) return;
    let data = {};
    try { data = JSON.parse(ev.data || "{}"); } catch { return; }
    fn(data);
  });
  on("state", d => setLiveState(d.state));
  on("step", d => showStep(d));
  on("preview", d => wantPreview(w, d.n));
  on("item", d => { $("#item").textContent = `${d.kind} ${d.index + 1}${d.count ? ` of ${d.count}` : ""} done`; });
  on("note", d => say("info", d.message, null, { timeout: 15000 }));
  on("end", d => ended(w, d));
  es.onerror = async () => {
    if (state.watch !== w || FINAL.includes(w.state)) { es.close(); return; }
    if (es.readyState !== EventSource.CLOSED) return; // the browser reconnects on its own
    try {
      const job = await api(`/api/jobs/${encodeURIComponent(id)}`);
      if (FINAL.includes(job.state)) ended(w, job);
    } catch (exc) { report(exc, "Following the job"); w.state = "failed"; setLiveState("lost"); }
  };
}

function setLiveState(s) {
  if (state.watch) state.watch.state = s;
  const badge = $("#live-state");
  badge.textContent = s;
  badge.className = `badge ${s}`;
  const stop = $("#stop");
  if (FINAL.includes(s) || s === "lost") { stop.disabled = true; stop.textContent = "Stop"; }
}

function showStep(d) {
  if (d.total) {
    const w = state.watch;
    if (w) { w.step = d.step; w.total = d.total; showQueueStep(w.id, d.step, d.total); }
    $("#step").textContent = stepText(d.step, d.total);
    $("#progress-bar").style.width = `${Math.min(100, 100 * d.step / d.total)}%`;
  }
  if (d.stage !== undefined) $("#stage").textContent = d.stage || "";
  if (state.watch && state.watch.state === "queued") setLiveState("running");
  const losses = d.losses || {};
  const names = Object.keys(losses);
  if (names.length) {
    // "loss" (the total) first, then the parts in the order the engine gave them.
    names.sort((a, b) => (a === "loss" ? -1 : b === "loss" ? 1 : 0));
    $("#losses").replaceChildren(...names.map(k => el("div", { class: "loss" }, el("dt", { text: k }), el("dd", { text: fmt(losses[k]) }))));
  }
}

// Previews arrive faster than a slow connection loads them: load the newest, one at a time.
function wantPreview(w, n) {
  w.wanted = Math.max(w.wanted, n);
  if (w.loading || w.wanted <= w.n) return;
  w.loading = true;
  const target = w.wanted;
  const src = `/api/jobs/${encodeURIComponent(w.id)}/preview?n=${target}`;
  const pre = new Image();
  pre.onload = () => {
    w.loading = false;
    if (state.watch !== w || w.ended) return; // the kept picture is shown by then
    w.n = target;
    const img = $("#live-image");
    img.src = src;
    img.dataset.n = String(target);
    img.hidden = false;
    img.classList.remove("stale");
    $("#live-empty").hidden = true;
    wantPreview(w, w.wanted);
  };
  pre.onerror = () => { w.loading = false; if (w.wanted > target) wantPreview(w, w.wanted); };
  pre.src = src;
}

function ended(w, d) {
  if (w.es) w.es.close();
  if (w.ended) return;
  w.ended = true;
  setLiveState(d.state);
  if (!/^step /.test($("#step").textContent)) $("#step").textContent = ""; // it ended before any step was reported
  if (d.state === "failed") {
    const mine = state.mine.get(w.id);
    if (mine) mine.reported = true;
    say("error", d.error || "The job failed", d.hint);
  }
  if (d.state === "done") $("#progress-bar").style.width = "100%";
  // The last preview may be older than the picture that was kept: show the result itself.
  if (d.result) {
    const link = $("#live-result");
    link.hidden = false;
    link.textContent = "Open result";
    link.href = `/api/gallery/${encodeURIComponent(d.result)}/image`;
    link.onclick = ev => { const item = state.gallery.find(g => g.id === d.result); if (item) { ev.preventDefault(); openViewer(item); } };
    const img = $("#live-image");
    img.src = `/api/gallery/${encodeURIComponent(d.result)}/image`;
    img.hidden = false; img.classList.remove("stale"); $("#live-empty").hidden = true;
  } else if (d.network) {
    // A training job: its network joins the list, and one click paints with it.
    const link = $("#live-result");
    link.hidden = false;
    link.textContent = "Paint with this network";
    link.removeAttribute("href");
    link.onclick = ev => { ev.preventDefault(); paintWith(d.network); };
    $("#live-image").classList.remove("stale");
    refreshNetworks();
  } else {
    $("#live-image").classList.remove("stale");
  }
  refreshGallery();
  refreshQueue();
}

export async function stopWatched() {
  const w = state.watch;
  if (!w) return;
  const stop = $("#stop");
  stop.disabled = true; stop.textContent = "Stopping…";
  try {
    const r = await api(`/api/jobs/${encodeURIComponent(w.id)}/stop`, { method: "POST" });
    if (r && FINAL.includes(r.state) && !w.ended) ended(w, r);
  } catch (exc) {
    stop.disabled = false; stop.textContent = "Stop";
    report(exc, "Stop");
  }
}
