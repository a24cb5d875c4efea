// The Queue: polled job list updated in place, Cancel/Stop per job, following whatever runs, and
// noticing jobs that end (a failure of this page's job is reported, the gallery refreshed). A job
// the studio was closed or killed under stays listed as interrupted, with Resume / Again / Dismiss,
// until one of them is pressed.

import { api, report, say } from "./api.js";
import { refreshNetworks } from "./fast.js";
import { refreshGallery } from "./gallery.js";
import { follow } from "./live.js";
import { FINAL, state } from "./state.js";
import { $, el } from "./util.js";

export async function refreshQueue() {
  let jobs;
  try {
    jobs = (await api("/api/jobs")).jobs || [];
    if (state.offline) { state.offline = false; for (const m of document.querySelectorAll(".message.offline")) m.remove(); }
  } catch (exc) {
    if (!state.offline) { state.offline = true; const m = say("error", exc.message, exc.hint); m.classList.add("offline"); }
    return;
  }
  const active = jobs.filter(j => !FINAL.includes(j.state));
  const shown = [...active, ...jobs.filter(j => j.state === "interrupted" && !j.next && !j.dismissed)];
  // Updated in place, so a Cancel button is not swapped out under the pointer every poll.
  const list = $("#queue");
  const old = new Map([...list.children].map(li => [li.dataset.id, li]));
  shown.forEach((j, i) => {
    let li = old.get(j.id);
    if (!li || li.dataset.state !== j.state) {
      const fresh = queueItem(j);
      if (li) li.replaceWith(fresh); else list.append(fresh);
      li = fresh;
    } else $(".progress-text", li).textContent = queueProgress(j);
    old.delete(j.id);
    if (list.children[i] !== li) list.insertBefore(li, list.children[i]);
  });
  for (const li of old.values()) li.remove();
  $("#queue-empty").hidden = shown.length > 0;

  // Follow whatever runs when nothing (or only a waiting job) is followed.
  const running = jobs.find(j => j.state === "running");
  const w = state.watch;
  if (running && (!w || FINAL.includes(w.state) || (w.state === "queued" && w.id !== running.id))) follow(running.id);
  else if (!running && !w && active.length) follow(active[0].id);

  let changed = false;
  for (const j of jobs) {
    if (!FINAL.includes(j.state) || state.seenFinal.has(j.id)) continue;
    state.seenFinal.add(j.id);
    changed = true;
    const mine = state.mine.get(j.id);
    if (mine && !mine.reported && j.state === "failed" && !(w && w.id === j.id)) {
      mine.reported = true;
      say("error", j.error || "A job failed", j.hint);
    }
  }
  if (changed && state.polledOnce) { refreshGallery(); refreshNetworks(); }  // a picture, or a trained network
  state.polledOnce = true;
}

// The running job's step, in the Live panel and on its queue row alike. The poll (every POLL_MS)
// lags the event stream (every step), so the followed job's row takes the stream's step: one
// source, one number, instead of 180/400 beside 168/400.
export function stepText(step, total) { return `step ${step} / ${total}`; }

export function showQueueStep(id, step, total) {
  const li = [...$("#queue").children].find(li => li.dataset.id === id);
  if (li && li.dataset.state === "running") $(".progress-text", li).textContent = stepText(step, total);
  else if (!asked) { asked = true; refreshQueue().finally(() => { asked = false; }); }  // its row still says waiting: now, not at the next poll
}
let asked = false;

function freshest(j) {
  const w = state.watch;
  return w && w.id === j.id && w.total ? { step: w.step, total: w.total } : j;
}

function queueProgress(j) {
  if (j.state === "running") { const p = freshest(j); return p.total ? stepText(p.step, p.total) : "starting"; }
  if (j.state === "interrupted") return j.total ? `interrupted at step ${j.step} / ${j.total}` : "interrupted";
  return j.position != null ? `#${j.position + 1} in line` : j.state;
}

// Resume (from the picture so far, where the engine can start from one) or Again: a new job.
async function repeat(j, how) {
  try {
    const r = await api(`/api/jobs/${encodeURIComponent(j.id)}/${how}`, { method: "POST" });
    state.mine.set(r.id, { reported: false });
    if (!state.watch || FINAL.includes(state.watch.state)) follow(r.id);
  } catch (exc) { report(exc, how === "resume" ? "Resume" : "Again"); }
  refreshQueue();
}

function interruptedItem(j) {
  const button = (how, text, title) => el("button", { type: "button", class: "quiet small", "data-testid": `queue-${how}`, text, title,
    onclick: ev => { ev.currentTarget.disabled = true; repeat(j, how); } });
  return el("li", { class: "queue-item interrupted", "data-testid": "queue-item", title: [j.error, j.hint].filter(Boolean).join(" — "), dataset: { id: j.id, state: j.state } },
    el("span", { class: "dot", "aria-hidden": "true" }),
    el("button", { type: "button", class: "link", title: "Show it in Live", onclick: () => follow(j.id) },
      el("span", { class: "engine-tag", text: j.engine }),
      el("span", { class: "badge interrupted", text: "interrupted" }),
      el("span", { class: "fine progress-text", text: queueProgress(j) })),
    button("resume", "Resume", j.resumable ? "Go on from the picture so far" : "Run it again from the start (this engine cannot start from a picture)"),
    button("again", "Again", "Run it again from the start"),
    el("button", { type: "button", class: "quiet small", "data-testid": "queue-dismiss", text: "×", "aria-label": "Dismiss",
      title: "Take it off the list (its picture so far stays in the gallery)",
      onclick: async ev => {
        ev.currentTarget.disabled = true;
        try { await api(`/api/jobs/${encodeURIComponent(j.id)}/stop`, { method: "POST" }); } catch (exc) { report(exc, "Dismiss"); }
        refreshQueue();
      } }));
}

// A waiting job's place in line: POST /api/jobs/ID/move {"to": "front" | "up" | "down" | index}.
// `quiet`: a job that already started (409) is no error (Ctrl+Shift+Enter on an idle studio).
export async function moveJob(id, to, { quiet = false } = {}) {
  try { await api(`/api/jobs/${encodeURIComponent(id)}/move`, { json: { to } }); } catch (exc) { if (!(quiet && exc.status === 409)) report(exc, "Move"); }
  await refreshQueue();
}

function moveButtons(j) {
  const button = (to, text, title) => el("button", { type: "button", class: "quiet small move", "data-testid": `queue-${to}`, text, title,
    "aria-label": title, onclick: async ev => { const b = ev.currentTarget; b.disabled = true; await moveJob(j.id, to); b.disabled = false; } });
  return el("span", { class: "moves" }, button("front", "⤒", "Run it next"), button("up", "↑", "Move it up"), button("down", "↓", "Move it down"));
}

function queueItem(j) {
  if (j.state === "interrupted") return interruptedItem(j);
  const running = j.state === "running";
  return el("li", { class: `queue-item ${j.state}`, "data-testid": "queue-item", dataset: { id: j.id, state: j.state } },
    el("span", { class: "dot", "aria-hidden": "true" }),
    el("button", { type: "button", class: "link", title: "Show it in Live", onclick: () => follow(j.id) },
      el("span", { class: "engine-tag", text: j.engine }),
      running ? el("span", { class: "badge running", text: "running" }) : null,
      el("span", { class: "fine progress-text", text: queueProgress(j) })),
    j.state === "queued" ? moveButtons(j) : null,
    el("button", { type: "button", class: "quiet small", "data-testid": "queue-cancel", text: running ? "Stop" : "Cancel",
      title: running ? "Stop after the current step, keeping the picture" : "Take it out of the queue",
      onclick: async ev => {
        ev.currentTarget.disabled = true;
        try { await api(`/api/jobs/${encodeURIComponent(j.id)}/stop`, { method: "POST" }); } catch (exc) { report(exc, "Cancel"); }
        refreshQueue();
      } }));
}
