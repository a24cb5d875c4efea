// The Explore view's layer and channel pages: a layer's channels as a grid of pictures filled in
// as the studio makes them (an event stream, one event per picture; cached ones come at once),
// and one channel's page: larger, negative and diverse pictures, its strongest images from the
// studio's folder, its map on a photo of yours, and the command that makes each picture.

import { api, report, say } from "./api.js";
import { channelsOf, go, keys, link, markRandom, neighbours } from "./explore.js";
import { $, el } from "./util.js";

const query = new URLSearchParams(location.search);
const whole = (name, fallback) => { const v = Number(query.get(name)); return Number.isInteger(v) && v > 0 ? v : fallback; };
const SIZE = whole("size", 96);  // a thumbnail's side; ?size=48 for a quick look (and the tests)
const PAGE = whole("count", 16);  // channels asked for at a time; "More" asks for the next ones
const LARGE = Math.min(512, Math.round(SIZE * 5 / 3));  // 160 px beside 96 px thumbnails, the core's own
const KIND_LABEL = { channel: "thumbnail", large: "larger", negative: "negative direction", diverse: "diverse", top: "top images" };

const path = (model, layer) => `/api/explore/${encodeURIComponent(model)}/${encodeURIComponent(layer)}`;

// Asks for `count` channels' pictures from `start`; `onPicture(event)` as each is ready. Resolves
// at the stream's end (EventSource would reconnect on its own: it is closed instead).
function pictures(model, layer, { start, count, kind = "channel", size = SIZE }, onPicture) {
  const params = new URLSearchParams({ start, count, kind, size });
  return new Promise(resolve => {
    const source = new EventSource(`${path(model, layer)}/events?${params}`);
    const end = () => { source.close(); resolve(); };
    source.addEventListener("picture", e => onPicture(JSON.parse(e.data)));
    source.addEventListener("note", e => say("info", JSON.parse(e.data).message, null, { timeout: 8000 }));
    source.addEventListener("failed", e => { const d = JSON.parse(e.data); say("error", d.error, d.hint); });
    source.addEventListener("end", end);
    source.onerror = end;
  });
}

// A picture `size` px high (and as wide: a diverse one is a row of pictures, wider than high).
function picture(url, size, testid, alt, square = true) {
  return el("img", { src: url, width: square ? size : null, height: size, alt, "data-testid": testid, class: "pic" });
}

// --- a layer ---------------------------------------------------------------------------------

export async function showLayer(model, layer) {
  const [info, index] = await Promise.all([api(path(model, layer)), api(`/api/explore/${encodeURIComponent(model)}`)]);
  markRandom(info.trained);
  const count = info.channels, r = info.layer;
  const grid = el("div", { class: "grid", "data-testid": "grid", style: `--thumb: ${SIZE}px; --cell: ${SIZE + 14}px` });
  const more = el("button", { type: "button", class: "small more", "data-testid": "more" });
  const view = [el("p", { class: "fine", text: `${r.shape.join("×")} · ${count} channels · stride ${r.stride ?? "-"} · receptive field ${r.receptive_field ?? "global"} px` })];
  if (info.kernels) {
    view.push(el("figure", { class: "kernels" }, el("img", { src: info.kernels, alt: `${layer}'s kernels`, "data-testid": "kernels" }),
      el("figcaption", { class: "fine", text: "the first convolution's kernels, one per channel, as pictures" })));
  }
  if (!info.renders || !count) {  // random weights, a network the studio does not load, or logits: the table's numbers only
    const why = info.trained === false ? "No pictures: the banner above says why." : info.note || `${layer} has no maps to picture`;
    view.push(el("p", { class: info.trained === false ? "fine" : "random", "data-testid": "no-pictures", text: why }));
    $("#view").replaceChildren(...view);
    return;
  }
  view.push(grid, more);
  $("#view").replaceChildren(...view);

  let shown = 0;
  async function next() {
    const start = shown, upto = Math.min(count, shown + PAGE);
    for (let ch = start; ch < upto; ch += 1) {
      grid.append(el("a", { class: "cell", href: link(model, layer, ch), "data-testid": `thumb-${ch}`, "data-channel": ch },
        el("span", { class: "wait" }), el("span", { text: String(ch) })));
    }
    shown = upto;
    more.hidden = shown >= count;
    more.textContent = `More (${shown} of ${count} shown)`;
    await pictures(model, layer, { start, count: upto - start }, p => {
      const cell = grid.querySelector(`[data-channel="${p.channel}"]`);
      if (cell) cell.firstChild.replaceWith(picture(p.url, SIZE, "thumb-img", `channel ${p.channel}`));
    });
  }
  more.addEventListener("click", () => next().catch(exc => report(exc, "More channels")));

  const { previous, next: after } = neighbours(index, layer);
  keys.up = previous ? () => go(model, previous.name) : null;
  keys.down = after ? () => go(model, after.name) : null;
  const step = by => {  // ← →: the thumbnail beside the focused one (Enter opens it)
    const cells = [...grid.querySelectorAll(".cell")], at = cells.indexOf(document.activeElement);
    const to = cells[Math.max(0, Math.min(cells.length - 1, at < 0 ? 0 : at + by))];
    if (to) to.focus();
  };
  keys.left = () => step(-1);
  keys.right = () => step(1);
  await next();
}

// --- one channel -----------------------------------------------------------------------------

export async function showUnit(model, layer, channel) {
  const [info, index] = await Promise.all([api(`${path(model, layer)}/${channel}?size=${SIZE}`), api(`/api/explore/${encodeURIComponent(model)}`)]);
  markRandom(info.trained);
  const count = info.channels;
  keys.left = channel > 0 ? () => go(model, layer, channel - 1) : null;
  keys.right = channel + 1 < count ? () => go(model, layer, channel + 1) : null;
  const { previous, next } = neighbours(index, layer);
  const toLayer = r => () => go(model, r.name, Math.min(channel, channelsOf(r) - 1));
  keys.up = previous ? toLayer(previous) : null;
  keys.down = next ? toLayer(next) : null;

  const slot = (kind, size) => el("figure", { "data-testid": `unit-${kind}` },
    el("span", { class: "pic wait", style: `width:${size}px;height:${size}px` }), el("figcaption", { text: KIND_LABEL[kind] }));
  const large = slot("large", LARGE), negative = slot("negative", LARGE), diverse = slot("diverse", SIZE);
  const tops = el("div", { class: "strip", "data-testid": "top-images" }, el("span", { class: "fine", text: info.top_folder ? `ranking the pictures in ${info.top_folder}…` : "" }));
  const mapShown = el("div", { class: "photo-map" });
  const photoInput = el("input", { type: "file", accept: "image/*", "data-testid": "photo-input", onchange: e => onPhoto(e, model, layer, channel, mapShown) });
  const nav = el("p", { class: "fine" },
    channel > 0 ? el("a", { href: link(model, layer, channel - 1), "data-testid": "previous", text: `← channel ${channel - 1}` }) : null, " ",
    el("span", { text: `channel ${channel} of ${count} in ${layer}` }), " ",
    channel + 1 < count ? el("a", { href: link(model, layer, channel + 1), "data-testid": "next", text: `channel ${channel + 1} →` }) : null);
  const commands = Object.entries(info.commands).map(([kind, cmd]) => el("div", { class: "cmd", "data-testid": `command-${kind}` },
    el("span", { class: "fine", text: KIND_LABEL[kind] }), el("code", { text: cmd }),
    el("button", { type: "button", class: "small", text: "Copy", onclick: e => copy(cmd, e.target) })));
  if (!info.renders) {
    $("#view").replaceChildren(el("div", { class: "unit", "data-testid": "unit" }, nav,
      el("p", { class: "random", "data-testid": "no-pictures", text: info.note }), el("section", {}, el("h3", { text: "Command lines" }), ...commands)));
    return;
  }
  $("#view").replaceChildren(el("div", { class: "unit", "data-testid": "unit" },
    nav, el("div", { class: "row" }, large, negative, diverse),
    el("section", {}, el("h3", { text: "Strongest images" }), info.top_folder ? null : el("p", { class: "fine",
      text: "Start the studio with --top-folder DIR (or upload photos in the studio) to rank pictures for this channel." }), tops),
    el("section", {}, el("h3", { text: "On your photo" }), el("p", { class: "fine", text: "The channel's feature map over a photo, with one unit's receptive field drawn." }), photoInput, mapShown),
    el("section", {}, el("h3", { text: "Command lines" }), ...commands)));

  const fill = (figure, size) => p => figure.firstChild.replaceWith(
    picture(p.url, size, `unit-${p.kind}-img`, `${layer} channel ${channel}, ${KIND_LABEL[p.kind]}`, p.kind !== "diverse"));
  const topsDone = info.top_folder ? showTops(model, layer, channel, tops) : Promise.resolve();
  await pictures(model, layer, { start: channel, count: 1, kind: "large", size: LARGE }, fill(large, LARGE));
  await pictures(model, layer, { start: channel, count: 1, kind: "negative", size: LARGE }, fill(negative, LARGE));
  await pictures(model, layer, { start: channel, count: 1, kind: "diverse", size: SIZE }, fill(diverse, SIZE));
  await topsDone;
}

async function showTops(model, layer, channel, box) {
  try {
    const { images, total, skipped, folder } = await api(`${path(model, layer)}/${channel}/top`);
    box.replaceChildren(...images.map(t => el("img", { src: t.url, alt: t.name, title: `${t.name}: ${t.score.toFixed(3)}`, "data-testid": "top-img" })));
    const said = `${images.length ? `the strongest ${images.length} of ${total} pictures in ${folder}` : `no pictures to rank in ${folder}`}` +
      (skipped ? ` (${skipped} unreadable ${skipped === 1 ? "file" : "files"} skipped)` : "");
    box.append(el("p", { class: "fine", text: said, style: "flex-basis: 100%" }));
  } catch (exc) {
    box.replaceChildren();
    report(exc, "Ranking the top images");
  }
}

async function onPhoto(e, model, layer, channel, box) {
  const file = e.target.files[0];
  if (!file) return;
  box.replaceChildren(el("span", { class: "fine", text: "mapping…" }));
  try {
    const form = new FormData();
    form.append("file", file);
    const { id } = await api("/api/uploads", { method: "POST", body: form });
    const res = await fetch(`${path(model, layer)}/${channel}/photo`, {
      method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ image: `upload:${id}` }) });
    if (!res.ok) { const body = await res.json().catch(() => ({})); throw Object.assign(new Error(body.error || `${res.status}`), { hint: body.hint }); }
    const url = URL.createObjectURL(await res.blob());
    box.replaceChildren(el("img", { src: url, alt: `channel ${channel}'s map on ${file.name}`, "data-testid": "photo-map" }));
  } catch (exc) {
    box.replaceChildren();
    say("error", `Mapping the photo: ${exc.message}`, exc.hint);
  }
}

async function copy(text, button) {
  try {
    await navigator.clipboard.writeText(text);
    button.textContent = "Copied";
  } catch {
    const range = document.createRange();
    range.selectNodeContents(button.previousSibling);
    getSelection().removeAllRanges();
    getSelection().addRange(range);
    button.textContent = "Selected: Ctrl+C";
  }
  setTimeout(() => { button.textContent = "Copy"; }, 2000);
}
