/* VCFNet diagnosis page: open a radiograph, window/level it, box vertebrae, ask the model, download results.
   Vanilla JS, no external resources. The canvas, window/level and box drawing are viewer-core.js (shared
   with the reading app); boxes are kept in radiograph pixel coordinates. */
(() => {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const COLORS = VcfViewer.COLORS;
  const DRAW_COLOR = "#F0E442";
  const canvas = $("canvas");
  // the radiograph canvas, window/level and box drawing are shared with the reading app (viewer-core.js)
  const view = VcfViewer.create(canvas, { onWL: (ww, wl) => {
    $("ww").value = ww; $("wl").value = wl;
    $("ww-out").value = Math.round(ww); $("wl-out").value = Math.round(wl);
  } });
  const st = { file: null, boxes: [], results: null, drag: null };

  // ---- talking to the API -------------------------------------------------------------------
  function post(path, body, json) {
    return VcfViewer.api(path, { method: "POST", body, headers: json ? { "Content-Type": "application/json" } : {} });
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
    await view.open("data:image/png;base64," + d.png, d.width, d.height);
    st.file = file; st.boxes = []; st.results = null;
    $("invert").checked = false;
    $("placeholder").hidden = true;
    const c = d.clinical || {};
    $("age").value = c.age != null ? Math.round(c.age) : "";
    $("sex").value = c.sex || "";
    $("clinical-source").textContent = (c.age != null || c.sex) ? "prefilled from the DICOM header; edit if wrong" : "";
    const m = d.meta || {};
    $("image-info").textContent = [d.width + " × " + d.height + " px", m.format, m.modality, m.photometric,
      m.bits_stored ? m.bits_stored + "-bit" : "", m.pixel_spacing ? "spacing " + m.pixel_spacing.join(" × ") + " mm" : ""]
      .filter(Boolean).join(" · ");
    renderBoxes(); renderResults(); draw();
    setStatus("Drag a box around each suspected fractured vertebra, then press Classify.");
  }
  async function openXml(file) {
    if (!view.img) throw new Error("Open the radiograph first, then its LabelImg XML.");
    const fd = new FormData();
    fd.append("annotation", file);
    const d = await (await post("/api/v1/annotations", fd)).json();
    st.boxes = d.boxes.map((b) => ({ box: b.box.map(Number), annotation: b.annotation }));
    st.results = null;
    renderBoxes(); renderResults(); draw();
    setStatus(st.boxes.length + " box(es) loaded from the annotation file.");
  }

  // ---- boxes: the model's colour and answer once classified; left drag draws a new one ----------
  function resultFor(i) { return st.results ? st.results.image.boxes[i] : null; }
  function draw() {
    view.boxes = st.boxes.map((b, i) => {
      const r = resultFor(i);
      return { box: b.box, color: r ? COLORS[r.predicted] || DRAW_COLOR : DRAW_COLOR,
               label: r ? `${i + 1} ${r.predicted.toUpperCase()} ${Math.round(100 * r.probabilities[r.predicted])}%` : `${i + 1}` };
    });
    view.overlay = st.drag ? (ctx, lw) => {
      const [a, b] = view.toCanvas(st.drag.x0, st.drag.y0), [c, d] = view.toCanvas(st.drag.x1, st.drag.y1);
      ctx.setLineDash([lw * 3, lw * 2]); ctx.strokeStyle = DRAW_COLOR; ctx.lineWidth = lw;
      ctx.strokeRect(Math.min(a, c), Math.min(b, d), Math.abs(c - a), Math.abs(d - b));
      ctx.setLineDash([]);
    } : null;
    view.draw();
  }
  canvas.addEventListener("mousedown", (ev) => {
    if (!view.img || ev.button !== 0) return;
    const [x, y] = view.toImage(ev);
    st.drag = { x0: x, y0: y, x1: x, y1: y };
  });
  window.addEventListener("mousemove", (ev) => {
    if (!st.drag) return;
    [st.drag.x1, st.drag.y1] = view.toImage(ev);
    draw();
  });
  window.addEventListener("mouseup", () => {
    const d = st.drag;
    st.drag = null;
    if (!d) return;
    const box = [Math.min(d.x0, d.x1), Math.min(d.y0, d.y1), Math.max(d.x0, d.x1), Math.max(d.y0, d.y1)].map(Math.round);
    if (box[2] - box[0] >= 4 && box[3] - box[1] >= 4) {
      st.boxes.push({ box, annotation: null });
      st.results = null;
      renderBoxes(); renderResults();
    }
    draw();
  });

  // ---- box list and results -------------------------------------------------------------------
  const el = VcfViewer.el;
  function renderBoxes() {
    const list = $("box-list");
    list.replaceChildren();
    $("box-count").textContent = st.boxes.length;
    if (!st.boxes.length) list.append(el("li", "empty", view.img ? "No boxes yet: drag on the image." : "No radiograph open."));
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
  function renderResults() {
    const out = $("results");
    out.replaceChildren();
    $("results-card").hidden = !st.results;
    if (!st.results) return;
    // one result card, drawn by the same code in the reading app's aided session (viewer-core.js)
    for (const r of st.results.image.boxes) {
      out.append(referVerdict(r));
      out.append(VcfViewer.resultCard(r, st.results.classes, `Box ${r.index}`));
    }
  }

  // refer: true/false in plain words above each box's answer, with the reason and clinical notes
  function referVerdict(r) {
    const box = el("div", "refer " + (r.refer ? "refer-yes" : "refer-no"), "");
    box.append(el("strong", "", `Box ${r.index}: ` + (r.refer ? "REFER to a specialist" : "Answered by the model")));
    box.append(el("div", "", `${r.refer_reason || ""}. Model used: ${r.model === "image+clinical" ? "image + age/sex" : "image only"}.`));
    if (r.clinical_notes && r.clinical_notes.length) {
      const ul = el("ul", "", "");
      for (const n of r.clinical_notes) ul.append(el("li", "", n));
      box.append(ul);
    }
    return box;
  }

  async function analyse() {
    const fd = new FormData();
    fd.append("image", st.file);
    fd.append("age", $("age").value.trim());
    fd.append("sex", $("sex").value);
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
  $("ww").addEventListener("input", (ev) => view.setWL(Number(ev.target.value), view.wl));
  $("wl").addEventListener("input", (ev) => view.setWL(view.ww, Number(ev.target.value)));
  $("invert").addEventListener("change", (ev) => view.setInvert(ev.target.checked));
  $("reset-wl").addEventListener("click", () => { view.resetWL(); $("invert").checked = false; });
  for (const k of ["json", "csv", "html"]) $("dl-" + k).addEventListener("click", guard(() => download(k)));
  const token = $("token");
  if (token) {
    token.value = sessionStorage.getItem("vcfnet-token") || "";
    token.addEventListener("change", () => sessionStorage.setItem("vcfnet-token", token.value.trim()));
  }
  window.addEventListener("resize", view.fit);
  renderBoxes(); view.fit();
})();
