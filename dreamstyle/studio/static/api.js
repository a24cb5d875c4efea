// Talking to the server: fetch with the studio's JSON errors ({"error", "hint"}) turned into an
// ApiError, and the message bar where errors (and a few notes) are shown.

import { $, el } from "./util.js";

export class ApiError extends Error {
  constructor(status, error, hint) { super(error); this.status = status; this.hint = hint; }
}

export async function api(path, opts = {}) {
  const init = { credentials: "same-origin", headers: {}, ...opts };
  if (opts.json !== undefined) {
    init.method = init.method || "POST";
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(opts.json);
    delete init.json;
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (exc) {
    throw new ApiError(0, "The studio server does not answer", "Is `dreamstyle studio` still running? Start it again and reload this page.");
  }
  const text = await res.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch { body = null; }
  if (!res.ok) {
    const error = (body && body.error) || `${res.status} ${res.statusText || "error"} from ${path}`;
    throw new ApiError(res.status, error, body && body.hint);
  }
  return body;
}

// Show an API error (or any error) where it can be seen; returns nothing so callers can go on.
export function report(exc, context) {
  console.error(context || "", exc);
  const msg = exc instanceof ApiError ? exc.message : String(exc && exc.message || exc);
  say("error", context ? `${context}: ${msg}` : msg, exc && exc.hint);
}

export function say(kind, text, hint, { timeout } = {}) {
  const box = $("#messages");
  // The same message twice in a row is shown once.
  for (const m of box.children) if (m.dataset.text === text) { m.classList.remove("flash"); void m.offsetWidth; m.classList.add("flash"); return m; }
  const close = el("button", { type: "button", class: "close", "aria-label": "Dismiss", text: "×", onclick: () => msg.remove() });
  const msg = el("div", { class: `message ${kind}`, role: kind === "error" ? "alert" : "status", "data-testid": `message-${kind}`, dataset: { text } },
    el("div", { class: "message-text" }, el("strong", { text }), hint ? el("span", { class: "message-hint", text: hint }) : null),
    close);
  box.append(msg);
  if (timeout) setTimeout(() => msg.remove(), timeout);
  return msg;
}
