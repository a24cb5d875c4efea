// The picture viewer: a dialog with a before/after slider over a result and its input.

import { $ } from "./util.js";

export function openViewer(item) {
  const dlg = $("#viewer");
  $("#viewer-title").textContent = item.name + (item.partial ? " (partial)" : "");
  const after = $("#compare-after"), before = $("#compare-before"), box = $("#compare");
  after.onload = () => {
    box.style.setProperty("--ratio", String(after.naturalWidth / after.naturalHeight));
    // Small pictures are enlarged, but not into a blur.
    box.style.setProperty("--max-width", `${Math.max(3 * after.naturalWidth, 420)}px`);
  };
  after.src = item.image;
  const has = !!item.input;
  box.classList.toggle("single", !has);
  if (has) before.src = item.input; else before.removeAttribute("src");
  const range = $("#compare-range");
  range.value = 50; setSplit(50);
  $("#viewer-note").textContent = has ? "Drag across the picture to compare it with its input." : "The input of this picture is not available, so there is nothing to compare with.";
  if (typeof dlg.showModal === "function") dlg.showModal(); else dlg.setAttribute("open", "");
}

export function setSplit(v) { $("#compare").style.setProperty("--pos", `${v}%`); }
