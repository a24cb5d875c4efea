// The camera in the Paint panel: the browser's camera (getUserMedia), each frame drawn to a
// canvas at CAMERA_SIDE px and sent as a JPEG to POST /api/paint with the network and mix chosen
// in the form; the next frame goes when the painted one is back, so a slow machine shows fewer
// frames rather than later ones. The painted frames are drawn beside the camera's, with the painted
// frames per second over the last FPS_WINDOW_MS.

import { paintSettings } from "./fast.js";
import { $ } from "./util.js";

const CAMERA_SIDE = 256;
const FPS_WINDOW_MS = 2000;
const cam = { stream: null, running: false, times: [], frames: 0, timer: null };

export function wireCamera() {
  $("#camera-start").addEventListener("click", startCamera);
  $("#camera-stop").addEventListener("click", () => stopCamera());
  // Leaving the fast engine (or the page going out of sight) turns the camera off.
  document.addEventListener("paint-panel", e => { if (!e.detail.shown) stopCamera(); });
  document.addEventListener("visibilitychange", () => { if (document.hidden) stopCamera("The camera stopped when the page was hidden."); });
}

function tell(text) {
  const p = $("#camera-message");
  p.textContent = text || "";
  p.hidden = !text;
}

async function startCamera() {
  tell("");
  if (!paintSettings()) { tell("Pick a network first: the camera is painted by it."); return; }
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    tell("This browser offers no camera to this page (a camera needs the page at http://127.0.0.1 or https).");
    return;
  }
  $("#camera-start").disabled = true;
  try {
    cam.stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 320 }, height: { ideal: 240 } }, audio: false });
  } catch (exc) {
    $("#camera-start").disabled = false;
    const name = exc && exc.name;
    if (name === "NotAllowedError" || name === "SecurityError") tell("The camera was refused. Allow it for this page in the browser's site settings, then try again.");
    else if (name === "NotFoundError" || name === "OverconstrainedError") tell("No camera was found on this machine.");
    else if (name === "NotReadableError") tell("The camera is in use by another program.");
    else tell(`The camera could not start (${name || exc}).`);
    return;
  }
  const video = $("#camera-video");
  video.srcObject = cam.stream;
  await video.play().catch(() => {});
  cam.running = true; cam.times = []; cam.frames = 0;
  $("#camera").hidden = false; $("#paint-frame").hidden = true;
  $("#camera-start").hidden = true;
  cam.timer = setInterval(showFps, 250);  // the counter falls to 0 when frames stop coming
  loop(video);
}

export function stopCamera(why) {
  if (!cam.stream && !cam.running) return;
  cam.running = false;
  if (cam.stream) for (const t of cam.stream.getTracks()) t.stop();
  cam.stream = null;
  clearInterval(cam.timer);
  $("#camera-video").srcObject = null;
  $("#camera").hidden = true; $("#paint-frame").hidden = false;
  $("#camera-start").hidden = false; $("#camera-start").disabled = false;
  if (why) tell(why);
}

async function loop(video) {
  const grab = document.createElement("canvas");
  const shown = $("#camera-painted");
  while (cam.running) {
    if (!video.videoWidth) { await new Promise(r => setTimeout(r, 50)); continue; }
    const scale = CAMERA_SIDE / Math.max(video.videoWidth, video.videoHeight);
    grab.width = Math.round(video.videoWidth * scale); grab.height = Math.round(video.videoHeight * scale);
    grab.getContext("2d").drawImage(video, 0, 0, grab.width, grab.height);
    const jpeg = await new Promise(r => grab.toBlob(r, "image/jpeg", 0.85));
    const settings = paintSettings();
    if (!settings) { stopCamera("Pick a network: the camera is painted by it."); return; }
    const form = new FormData();
    form.append("file", jpeg, "frame.jpg");
    form.append("settings", JSON.stringify({ ...settings, size: CAMERA_SIDE }));
    let res;
    try {
      res = await fetch("/api/paint", { method: "POST", body: form, credentials: "same-origin" });
    } catch {
      stopCamera("The studio server does not answer: the camera stopped."); return;
    }
    if (!res.ok) {
      let body = {};
      try { body = await res.json(); } catch { /* said by its status */ }
      stopCamera(`The camera stopped: ${body.error || res.status}${body.hint ? ` (${body.hint})` : ""}`);
      return;
    }
    const bitmap = await createImageBitmap(await res.blob());
    if (!cam.running) return;
    shown.width = bitmap.width; shown.height = bitmap.height;
    shown.getContext("2d").drawImage(bitmap, 0, 0);
    bitmap.close();
    cam.frames += 1;
    shown.dataset.frames = String(cam.frames);
    cam.times.push(performance.now());
    showFps();
  }
}

function showFps() {
  const now = performance.now();
  cam.times = cam.times.filter(t => now - t <= FPS_WINDOW_MS);
  // Frames over the time they took: from the oldest painted frame in the window to now.
  const fps = cam.times.length > 1 ? (cam.times.length - 1) / ((now - cam.times[0]) / 1000) : 0;
  const out = $("#camera-fps");
  out.dataset.fps = fps.toFixed(2);
  out.textContent = `${fps.toFixed(1)} painted frames a second`;
}
