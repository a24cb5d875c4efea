// The form's picture inputs: a drop zone per image input, uploads to /api/uploads with a
// thumbnail while they run, and the list of uploaded pictures in state.uploads.

import { api, report, say } from "./api.js";
import { state } from "./state.js";
import { $, el } from "./util.js";

export const DROP_TEXT = {
  "image": "the photo", "content": "the photo", "styles": "one or more paintings", "style": "the painting",
  "photos": "3 or more of your own photos (optional)",
};

export function dropZone(input) {
  const name = input.name;
  const file = el("input", {
    type: "file", accept: "image/*", class: "visually-hidden", multiple: input.many || null,
    "data-testid": `input-${name}`, id: `file-${name}`, name: `file-${name}`,
  });
  const what = DROP_TEXT[name] || (input.many ? "one or more pictures" : "a picture");
  const zone = el("label", { class: "drop", for: `file-${name}`, "data-testid": `drop-${name}`, dataset: { input: name, many: input.many ? "true" : "" } },
    el("span", { class: "name" }, name, input.many ? el("span", { class: "fine", text: " (one or more)" }) : null),
    el("div", { class: "thumbs", id: `thumbs-${name}`, "data-testid": `thumbs-${name}` }),
    el("span", { class: "drop-text" }, el("b", { text: "Choose" }), ` or drop ${what} here`));
  file.addEventListener("change", () => { addFiles(input, [...file.files]); file.value = ""; });
  for (const ev of ["dragenter", "dragover"]) zone.addEventListener(ev, e => { e.preventDefault(); zone.classList.add("over"); });
  for (const ev of ["dragleave", "drop"]) zone.addEventListener(ev, () => zone.classList.remove("over"));
  zone.addEventListener("drop", e => {
    e.preventDefault();
    const files = [...(e.dataTransfer && e.dataTransfer.files || [])].filter(f => f.type.startsWith("image/") || /\.(jpe?g|png|webp|tiff?|bmp)$/i.test(f.name));
    if (!files.length) { say("error", "That is not a picture", "drop a JPEG, PNG, WebP, TIFF or BMP file"); return; }
    addFiles(input, files);
  });
  return el("div", { class: "field input-field" }, zone, file);
}

function addFiles(input, files) {
  if (!files.length) return;
  if (!input.many) files = files.slice(0, 1);
  for (const f of files) {
    const p = upload(input, f).finally(() => { state.pending.delete(p); renderUploads(input.name); });
    state.pending.add(p);
  }
}

async function upload(input, file) {
  const list = state.uploads[input.name] = input.many ? (state.uploads[input.name] || []) : [];
  const placeholder = { id: null, name: file.name, local: URL.createObjectURL(file) };
  list.push(placeholder);
  renderUploads(input.name);
  const form = new FormData();
  form.append("file", file, file.name);
  try {
    const up = await api("/api/uploads", { method: "POST", body: form });
    Object.assign(placeholder, up);
  } catch (exc) {
    list.splice(list.indexOf(placeholder), 1);
    report(exc, `Upload of ${file.name}`);
  } finally {
    URL.revokeObjectURL(placeholder.local);
    delete placeholder.local;
  }
}

export function renderUploads(name) {
  const box = document.getElementById(`thumbs-${name}`);
  if (!box) return;
  const list = state.uploads[name] || [];
  box.replaceChildren(...list.map((u, i) => el("figure", { class: `thumb-up${u.id ? "" : " loading"}`, "data-testid": "upload", dataset: { upload: u.id || "" } },
    el("img", { src: u.id ? `/api/uploads/${encodeURIComponent(u.id)}` : (u.local || ""), alt: u.name || "" }),
    el("figcaption", { title: u.name || "" }, u.id ? (u.width ? `${u.width}×${u.height}` : (u.name || "")) : "uploading…"),
    el("button", { type: "button", class: "remove", "aria-label": `Remove ${u.name || "picture"}`, text: "×",
      onclick: e => { e.preventDefault(); list.splice(i, 1); renderUploads(name); } }))));
  const zone = box.closest(".drop");
  zone.classList.toggle("filled", list.length > 0);
  const what = DROP_TEXT[name] || (zone.dataset.many ? "one or more pictures" : "a picture");
  const verb = list.length ? (zone.dataset.many ? "add more" : "replace it") : `drop ${what} here`;
  $(".drop-text", zone).replaceChildren(el("b", { text: "Choose" }), ` or ${verb}`);
  // Whoever shows something made of these pictures (the fast engine's painting) hears of it.
  document.dispatchEvent(new CustomEvent("uploads-changed", { detail: { name } }));
}
