/* VCFNet viewer: open a radiograph, window/level it, box vertebrae, ask the model, download results.
   Vanilla JS, no external resources. Boxes are kept in radiograph pixel coordinates. */
(() => {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const page = document.body.dataset;
  const COLORS = { acute: "#E69F00", chronic: "#56B4E9", pathological: "#CC79A7" };
  const DRAW_COLOR = "#F0E442";
  const canvas = $("canvas"), ctx = canvas.getContext("2d");
  const work = document.createElement("canvas"), wctx = work.getContext("2d");
  const st = { file: null, img: null, base: null, boxes: [], results: null, ww: 255, wl: 128,
               invert: false, view: { s: 1, ox: 0, oy: 0 }, drag: null, pending: false };

  // ---- talking to the API -------------------------------------------------------------------
  function authHeaders() {
    const h = {};
    if (page.csrf) h["X-CSRF-Token"] = page.csrf;
    const t = $("token");
    if (t && t.value.trim()) h.Authorization = "Bearer " + t.value.trim();
    return h;
  }
  async function post(path, body, json) {
    const headers = authHeaders();
    if (json) headers["Content-Type"] = "application/json";
    const res = await fetch(path, { method: "POST", headers, body, credentials: "same-origin" });
    if (!res.ok) {
      let msg = res.status + " " + res.statusText;
      try { const e = await res.json(); if (e.error) msg = e.error.message; } catch (_) { /* not JSON */ }
      throw new Error(msg);
    }
    return res;
  }
  function setStatus(text, error) {
    const el = $("status");
    el.textContent = text || "";
    el.classList.toggle("error", !!error);
  }

  // ---- opening images and annotations -----------------------------------------------------------
  async function openFile(file) {
    setStatus("Reading radiograph…");
    const fd = new FormData();
    fd.append("image", file);
    const d = await (await post("/api/v1/display", fd)).json();
    const img = new Image();
    img.src = "data:image/png;base64," + d.png;
    await img.decode();
    work.width = img.width; work.height = img.height;
    wctx.drawImage(img, 0, 0);
    st.base = wctx.getImageData(0, 0, img.width, img.height);
    st.file = file; st.boxes = []; st.results = null;
    st.img = { width: d.width, height: d.height, k: img.width / d.width };
    $("placeholder").hidden = true;
    const m = d.meta || {};
    $("image-info").textContent = [d.width + " × " + d.height + " px", m.format, m.modality, m.photometric,
      m.bits_stored ? m.bits_stored + "-bit" : "", m.pixel_spacing ? "spacing " + m.pixel_spacing.join(" × ") + " mm" : ""]
      .filter(Boolean).join(" · ");
    resetWL(); fit(); renderBoxes(); renderResults();
    setStatus("Drag a box around each suspected fractured vertebra, then press Classify.");
  }
  async function openXml(file) {
    if (!st.img) throw new Error("Open the radiograph first, then its LabelImg XML.");
    const fd = new FormData();
    fd.append("annotation", file);
    const d = await (await post("/api/v1/annotations", fd)).json();
    st.boxes = d.boxes.map((b) => ({ box: b.box.map(Number), annotation: b.annotation }));
    st.results = null;
    renderBoxes(); renderResults(); draw();
    setStatus(st.boxes.length + " box(es) loaded from the annotation file.");
  }

  // ---- window / level on the 8-bit display image ----------------------------------------------
  function applyWL() {
    if (!st.base) return;
    const lut = new Uint8ClampedArray(256), lo = st.wl - st.ww / 2;
    for (let v = 0; v < 256; v++) {
      const o = ((v - lo) / st.ww) * 255;
      lut[v] = st.invert ? 255 - o : o;
    }
    const src = st.base.data, out = wctx.createImageData(st.base.width, st.base.height), dst = out.data;
    for (let i = 0; i < src.length; i += 4) {
      const g = lut[src[i]];
      dst[i] = g; dst[i + 1] = g; dst[i + 2] = g; dst[i + 3] = 255;
    }
    wctx.putImageData(out, 0, 0);
    $("ww").value = st.ww; $("wl").value = st.wl;
    $("ww-out").value = Math.round(st.ww); $("wl-out").value = Math.round(st.wl);
    draw();
  }
  function resetWL() { st.ww = 255; st.wl = 128; st.invert = false; $("invert").checked = false; applyWL(); }

  // ---- geometry: radiograph pixels <-> canvas pixels --------------------------------------------
  function fit() {
    const r = window.devicePixelRatio || 1, rect = canvas.getBoundingClientRect();
    canvas.width = Math.max(1, Math.round(rect.width * r));
    canvas.height = Math.max(1, Math.round(rect.height * r));
    if (st.img) {
      const s = 0.98 * Math.min(canvas.width / work.width, canvas.height / work.height);
      st.view = { s, ox: (canvas.width - work.width * s) / 2, oy: (canvas.height - work.height * s) / 2 };
    }
    draw();
  }
  const toCanvas = (x, y) => [st.view.ox + x * st.img.k * st.view.s, st.view.oy + y * st.img.k * st.view.s];
  function toImage(ev) {
    const rect = canvas.getBoundingClientRect(), r = canvas.width / rect.width;
    const cx = (ev.clientX - rect.left) * r, cy = (ev.clientY - rect.top) * r;
    const f = st.img.k * st.view.s;
    const clamp = (v, hi) => Math.min(hi, Math.max(0, v));
    return [clamp((cx - st.view.ox) / f, st.img.width), clamp((cy - st.view.oy) / f, st.img.height)];
  }

  // ---- drawing ------------------------------------------------------------------------------
  function resultFor(i) { return st.results ? st.results.image.boxes[i] : null; }
  function draw() {
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    if (!st.img) return;
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(work, st.view.ox, st.view.oy, work.width * st.view.s, work.height * st.view.s);
    const lw = Math.max(2, (window.devicePixelRatio || 1) * 2);
    ctx.font = `600 ${Math.round(lw * 7)}px sans-serif`;
    st.boxes.forEach((b, i) => {
      const r = resultFor(i), color = r ? COLORS[r.predicted] || DRAW_COLOR : DRAW_COLOR;
      const [x0, y0] = toCanvas(b.box[0], b.box[1]), [x1, y1] = toCanvas(b.box[2], b.box[3]);
      ctx.lineWidth = lw; ctx.strokeStyle = color; ctx.setLineDash([]);
      ctx.strokeRect(x0, y0, x1 - x0, y1 - y0);
      const text = r ? `${i + 1} ${r.predicted.toUpperCase()} ${Math.round(100 * r.probabilities[r.predicted])}%` : `${i + 1}`;
      const tw = ctx.measureText(text).width + lw * 4, th = lw * 9;
      ctx.fillStyle = color; ctx.fillRect(x1 + lw, y0, tw, th);
      ctx.fillStyle = "#000"; ctx.fillText(text, x1 + lw * 3, y0 + th * 0.75);
    });
    if (st.drag && st.drag.kind === "box") {
      const [a, b] = toCanvas(st.drag.x0, st.drag.y0), [c, d] = toCanvas(st.drag.x1, st.drag.y1);
      ctx.setLineDash([lw * 3, lw * 2]); ctx.strokeStyle = DRAW_COLOR; ctx.lineWidth = lw;
      ctx.strokeRect(Math.min(a, c), Math.min(b, d), Math.abs(c - a), Math.abs(d - b));
      ctx.setLineDash([]);
    }
  }

  // ---- mouse: left drag draws a box, right drag sets window (x) and level (y) ------------------
  canvas.addEventListener("contextmenu", (ev) => ev.preventDefault());
  canvas.addEventListener("mousedown", (ev) => {
    if (!st.img) return;
    if (ev.button === 2) { st.drag = { kind: "wl", x: ev.clientX, y: ev.clientY, ww: st.ww, wl: st.wl }; return; }
    if (ev.button !== 0) return;
    const [x, y] = toImage(ev);
    st.drag = { kind: "box", x0: x, y0: y, x1: x, y1: y };
  });
  window.addEventListener("mousemove", (ev) => {
    if (!st.drag) return;
    if (st.drag.kind === "wl") {
      st.ww = Math.min(255, Math.max(1, st.drag.ww + (ev.clientX - st.drag.x) * 0.5));
      st.wl = Math.min(255, Math.max(0, st.drag.wl - (ev.clientY - st.drag.y) * 0.5));
      if (!st.pending) { st.pending = true; requestAnimationFrame(() => { st.pending = false; applyWL(); }); }
      return;
    }
    [st.drag.x1, st.drag.y1] = toImage(ev);
    draw();
  });
  window.addEventListener("mouseup", () => {
    const d = st.drag;
    st.drag = null;
    if (!d || d.kind !== "box") return;
    const box = [Math.min(d.x0, d.x1), Math.min(d.y0, d.y1), Math.max(d.x0, d.x1), Math.max(d.y0, d.y1)].map(Math.round);
    if (box[2] - box[0] >= 4 && box[3] - box[1] >= 4) {
      st.boxes.push({ box, annotation: null });
      st.results = null;
      renderBoxes(); renderResults();
    }
    draw();
  });

  // ---- box list and results -------------------------------------------------------------------
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function renderBoxes() {
    const list = $("box-list");
    list.replaceChildren();
    $("box-count").textContent = st.boxes.length;
    if (!st.boxes.length) list.append(el("li", "empty", st.img ? "No boxes yet: drag on the image." : "No radiograph open."));
    st.boxes.forEach((b, i) => {
      const [x0, y0, x1, y1] = b.box;
      const ann = b.annotation ? ` · annotated ${b.annotation.label} ${b.annotation.level || ""}` : "";
      const li = el("li", "", "");
      li.append(el("span", "", `Box ${i + 1}: ${Math.round(x1 - x0)} × ${Math.round(y1 - y0)} px at (${Math.round(x0)}, ${Math.round(y0)})${ann}`));
      const del = el("button", "del", "✕");
      del.title = `Delete box ${i + 1}`;
      del.setAttribute("aria-label", `Delete box ${i + 1}`);
      del.addEventListener("click", () => { st.boxes.splice(i, 1); st.results = null; renderBoxes(); renderResults(); draw(); });
      li.append(del);
      list.append(li);
    });
    $("analyse").disabled = !(st.file && st.boxes.length);
  }
  function thumb(b64, caption) {
    const fig = el("figure"), img = el("img");
    img.src = "data:image/png;base64," + b64;
    img.alt = caption;
    fig.append(img, el("figcaption", "", caption));
    return fig;
  }
  function renderResults() {
    const out = $("results");
    out.replaceChildren();
    $("results-card").hidden = !st.results;
    if (!st.results) return;
    for (const r of st.results.image.boxes) {
      const div = el("div", "result"), h = el("h3", "", `Box ${r.index}`);
      const label = el("span", "pred-label", r.predicted);
      label.style.background = COLORS[r.predicted] || "#ccc";
      h.append(label);
      div.append(h);
      if (r.annotation) div.append(el("div", "annotated", `Annotated as ${r.annotation.label} ${r.annotation.level || ""}`));
      const bars = el("div", "bars");
      for (const c of st.results.classes) {
        const p = r.probabilities[c], track = el("div", "bar-track"), fill = el("div", "bar-fill");
        fill.style.width = (100 * p).toFixed(1) + "%";
        fill.style.background = COLORS[c] || "#ccc";
        track.append(fill);
        bars.append(el("span", "", c), track, el("span", "pct", (100 * p).toFixed(1) + "%"));
      }
      div.append(bars);
      if (r.heatmap_png) {
        const thumbs = el("div", "thumbs");
        thumbs.append(thumb(r.crop_png, "Box region"), thumb(r.heatmap_png, `Grad-CAM for “${r.predicted}”`));
        div.append(thumbs);
      }
      out.append(div);
    }
  }

  async function analyse() {
    const fd = new FormData();
    fd.append("image", st.file);
    fd.append("boxes", JSON.stringify(st.boxes.map((b) => b.box)));
    fd.append("gradcam", $("gradcam").checked ? "true" : "false");
    setStatus("Classifying " + st.boxes.length + " vertebra(e)…");
    $("analyse").disabled = true;
    try {
      st.results = await (await post("/api/v1/predict", fd)).json();
      st.results.image.boxes.forEach((r, i) => { if (st.boxes[i].annotation) r.annotation = st.boxes[i].annotation; });
      renderResults(); draw();
      setStatus(`Done in ${Math.round(st.results.timing_ms)} ms · model ${st.results.model.version}.`);
    } finally { $("analyse").disabled = !(st.file && st.boxes.length); }
  }

  function save(blob, name) {
    const a = el("a");
    a.href = URL.createObjectURL(blob);
    a.download = name;
    document.body.append(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  }
  async function download(kind) {
    if (!st.results) return;
    const json = JSON.stringify(st.results, null, 2);
    if (kind === "json") return save(new Blob([json], { type: "application/json" }), "vcfnet-results.json");
    const res = await post("/api/v1/report?format=" + kind, json, true);
    save(await res.blob(), kind === "csv" ? "vcfnet-results.csv" : "vcfnet-report.html");
  }

  // ---- wiring -------------------------------------------------------------------------------
  const guard = (fn) => async (...a) => { try { await fn(...a); } catch (e) { setStatus(e.message, true); } };
  $("file").addEventListener("change", guard(async (ev) => { if (ev.target.files[0]) await openFile(ev.target.files[0]); ev.target.value = ""; }));
  $("xml").addEventListener("change", guard(async (ev) => { if (ev.target.files[0]) await openXml(ev.target.files[0]); ev.target.value = ""; }));
  $("analyse").addEventListener("click", guard(analyse));
  $("clear").addEventListener("click", () => { st.boxes = []; st.results = null; renderBoxes(); renderResults(); draw(); });
  $("ww").addEventListener("input", (ev) => { st.ww = Number(ev.target.value); applyWL(); });
  $("wl").addEventListener("input", (ev) => { st.wl = Number(ev.target.value); applyWL(); });
  $("invert").addEventListener("change", (ev) => { st.invert = ev.target.checked; applyWL(); });
  $("reset-wl").addEventListener("click", resetWL);
  for (const k of ["json", "csv", "html"]) $("dl-" + k).addEventListener("click", guard(() => download(k)));
  const token = $("token");
  if (token) {
    token.value = sessionStorage.getItem("vcfnet-token") || "";
    token.addEventListener("change", () => sessionStorage.setItem("vcfnet-token", token.value.trim()));
  }
  window.addEventListener("resize", fit);
  renderBoxes(); fit();
})();
