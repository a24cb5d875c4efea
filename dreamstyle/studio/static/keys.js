// Keyboard shortcuts, as ComfyUI's users expect them: Ctrl+Enter queues (Make), Ctrl+Shift+Enter
// queues first (to the front of the line), Esc stops the running job, ← and → step through the
// gallery's pictures (in the viewer, or between the cards when the gallery has the focus), and
// "?" lists them. None acts while typing in a field, except Ctrl+Enter (and Ctrl+Shift+Enter).

import { make } from "./form.js";
import { stopWatched } from "./live.js";
import { state } from "./state.js";
import { $, el } from "./util.js";
import { openViewer } from "./viewer.js";

export const KEYS = [
  ["Ctrl + Enter", "Queue the job (Make), also while typing in a field"],
  ["Ctrl + Shift + Enter", "Queue it first: it runs next"],
  ["Esc", "Stop the running job (closes the viewer or this list first, when open)"],
  ["← / →", "Previous / next picture, in the viewer or among the gallery's cards"],
  ["?", "This list"],
];

function typing(target) {
  if (!target || !target.tagName) return false;
  if (target.isContentEditable || target.tagName === "TEXTAREA" || target.tagName === "SELECT") return true;
  return target.tagName === "INPUT" && !["button", "checkbox", "radio", "range", "file", "submit", "reset"].includes(target.type);
}

function openDialog() { return document.querySelector("dialog[open]"); }

export function showKeys() {
  let dlg = $("#keys");
  if (!dlg) {
    dlg = el("dialog", { id: "keys", class: "keys", "data-testid": "keys", "aria-label": "Keyboard shortcuts" },
      el("form", { method: "dialog" },
        el("h2", { text: "Keyboard shortcuts" }),
        el("dl", {}, ...KEYS.flatMap(([k, what]) => [el("dt", {}, el("kbd", { text: k })), el("dd", { text: what })])),
        el("button", { type: "submit", class: "quiet", text: "Close" })));
    dlg.addEventListener("click", e => { if (e.target === dlg) dlg.close(); });
    document.body.append(dlg);
  }
  if (!dlg.open) dlg.showModal();
}

// The picture after (+1) or before (-1) the one the viewer shows, in the gallery's order.
function stepViewer(by) {
  const items = state.gallery || [];
  const shown = $("#compare-after").getAttribute("src");
  const at = items.findIndex(i => i.image === shown);
  const next = items[at + by];
  if (at >= 0 && next) openViewer(next);
}

function stepCards(by) {
  const cards = [...document.querySelectorAll("#gallery > *")];
  const at = cards.findIndex(c => c.contains(document.activeElement));
  const next = cards[at + by];
  if (at >= 0 && next) (next.querySelector("button, a, [tabindex]") || next).focus();
}

function onKey(e) {
  if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
    e.preventDefault();
    if (!openDialog() && !$("#make").disabled) make(e, { first: e.shiftKey });
    return;
  }
  if (e.altKey || e.ctrlKey || e.metaKey || typing(e.target)) return;
  const viewer = $("#viewer");
  if (e.key === "?") { e.preventDefault(); showKeys(); return; }
  if (e.key === "Escape") {
    if (openDialog()) return;  // the dialog closes itself
    const w = state.watch;
    if (w && w.state === "running") { e.preventDefault(); stopWatched(); }
    return;
  }
  if (e.key === "ArrowLeft" || e.key === "ArrowRight") {
    const by = e.key === "ArrowLeft" ? -1 : 1;
    if (viewer.open) { e.preventDefault(); stepViewer(by); } else if ($("#gallery").contains(document.activeElement)) { e.preventDefault(); stepCards(by); }
  }
}

// The shortcuts, and a small "Keys ?" button in the page's header that lists them too.
export function wireKeys() {
  document.addEventListener("keydown", onKey);
  const nav = $("header .views");
  if (nav) nav.append(" ", el("button", { type: "button", class: "link keys-button", "data-testid": "keys-button", text: "Keys ?", title: "Keyboard shortcuts (?)", onclick: showKeys }));
}
