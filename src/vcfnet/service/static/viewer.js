/* VCFNet diagnosis page: open a radiograph, window/level it, box vertebrae, ask the model, download results.
   With a detector (vcfnet serve --detector), opening a radiograph asks /api/v1/propose for every body and
   preselects those meeting the inclusion rule as boxes; the user moves, resizes, deletes or adds boxes, and
   Classify sends the accepted boxes to /api/v1/predict as hand-drawn ones are.
   Vanilla JS, no external resources. The canvas, window/level and box drawing are viewer-core.js (shared
   with the reading app); boxes are kept in radiograph pixel coordinates. */
(() => {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const COLORS = VcfViewer.COLORS;
  const DRAW_COLOR = "#F0E442", BODY_COLOR = "#9AA3AD";
  const HANDLE_PX = 8;                                   // grab distance of a box edge or corner, CSS pixels
  const detectorOn = $("workspace").dataset.detector === "on";
  const canvas = $("canvas");
  // the radiograph canvas, window/level and box drawing are shared with the reading app (viewer-core.js)
  const view = VcfViewer.create(canvas, { onWL: (ww, wl) => {
    $("ww").value = ww; $("wl").value = wl;
    $("ww-out").value = Math.round(ww); $("wl-out").value = Math.round(wl);
  } });
  // boxes: {box, annotation, body (the proposal it came from, or null), moved}; bodies: every detected body
  const st = { file: null, boxes: [], bodies: [], results: null, drag: null, edit: null };

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
    st.bodies = [];
    renderBoxes(); renderResults(); draw();
    if (detectorOn) return propose();
    setStatus("Drag a box around each suspected fractured vertebra, then press Classify.");
  }
  async function propose() {
    setStatus("Finding the vertebrae…");
    const fd = new FormData();
    fd.append("image", st.file);
    const d = await (await post("/api/v1/propose", fd)).json();
    st.bodies = d.bodies.map((b) => ({ ...b, accepted: b.proposed }));
    st.boxes = st.bodies.filter((b) => b.accepted).map((b) => ({ box: b.box.slice(), annotation: null, body: b, moved: false }));
    st.results = null;
    renderBoxes(); renderResults(); draw();
    const levels = st.bodies.map((b) => b.level).filter((l) => l !== "uncertain");
    const span = levels.length ? ` (${levels[0]}–${levels[levels.length - 1]})` : "";
    setStatus(`${d.found} vertebrae found${span}; ${st.boxes.length} proposed: they meet the study's inclusion rule ` +
      "(≥ 20 % or ≥ 4 mm height loss). Adjust the boxes, then press Classify.");
  }
  async function openXml(file) {
    if (!view.img) throw new Error("Open the radiograph first, then its LabelImg XML.");
    const fd = new FormData();
    fd.append("annotation", file);
    const d = await (await post("/api/v1/annotations", fd)).json();
    st.boxes = d.boxes.map((b) => ({ box: b.box.map(Number), annotation: b.annotation, body: null, moved: false }));
    st.results = null;
    renderBoxes(); renderResults(); draw();
    setStatus(st.boxes.length + " box(es) loaded from the annotation file.");
  }

  // ---- boxes: the model's colour and answer once classified; left drag draws a new one ----------
  function resultFor(i) { return st.results ? st.results.image.boxes[i] : null; }
  const levelOf = (b) => (b.body && b.body.level !== "uncertain" ? b.body.level : "");
  const gradeOf = (body) => (body.morphometry.grade == null ? "G?" : "G" + body.morphometry.grade);
  function draw() {
    const context = st.bodies.filter((b) => !b.accepted)
      .map((b) => ({ box: b.box, color: BODY_COLOR, dashed: true, label: `${b.level === "uncertain" ? "?" : b.level} ${gradeOf(b)}` }));
    view.boxes = context.concat(st.boxes.map((b, i) => {
      const r = resultFor(i), level = levelOf(b);
      const tag = b.body ? `${level || "?"} ${b.moved ? "moved" : gradeOf(b.body)}` : "";
      return { box: b.box, color: r ? COLORS[r.predicted] || DRAW_COLOR : DRAW_COLOR,
               label: r ? `${i + 1} ${level} ${r.predicted.toUpperCase()} ${Math.round(100 * r.probabilities[r.predicted])}%`.replace("  ", " ")
                        : `${i + 1} ${tag}`.trim() };
    }));
    view.overlay = st.drag ? (ctx, lw) => {
      const [a, b] = view.toCanvas(st.drag.x0, st.drag.y0), [c, d] = view.toCanvas(st.drag.x1, st.drag.y1);
      ctx.setLineDash([lw * 3, lw * 2]); ctx.strokeStyle = DRAW_COLOR; ctx.lineWidth = lw;
      ctx.strokeRect(Math.min(a, c), Math.min(b, d), Math.abs(c - a), Math.abs(d - b));
      ctx.setLineDash([]);
    } : null;
    view.draw();
  }
  // left drag: inside a box moves it, on its edge or corner resizes it, elsewhere draws a new one; a click on
  // a dashed (detected, not proposed) body adds it as a box
  function grab(x, y) {
    const t = HANDLE_PX * (window.devicePixelRatio || 1) / (view.img.k * view.view.s);
    for (let i = st.boxes.length - 1; i >= 0; i--) {
      const [x0, y0, x1, y1] = st.boxes[i].box;
      if (x < x0 - t || x > x1 + t || y < y0 - t || y > y1 + t) continue;
      const ex = Math.abs(x - x0) <= t ? 0 : Math.abs(x - x1) <= t ? 2 : null;
      const ey = Math.abs(y - y0) <= t ? 1 : Math.abs(y - y1) <= t ? 3 : null;
      if (ex !== null || ey !== null) return { i, mode: "resize", ex, ey };
      return { i, mode: "move" };
    }
    return null;
  }
  const inside = (b, x, y) => x >= b.box[0] && x <= b.box[2] && y >= b.box[1] && y <= b.box[3];
  const CURSORS = { move: "move", "0,1": "nwse-resize", "2,3": "nwse-resize", "2,1": "nesw-resize", "0,3": "nesw-resize" };
  function cursorFor(g) {
    if (!g) return "crosshair";
    if (g.mode === "move") return "move";
    if (g.ex !== null && g.ey !== null) return CURSORS[`${g.ex},${g.ey}`];
    return g.ex !== null ? "ew-resize" : "ns-resize";
  }
  canvas.addEventListener("mousedown", (ev) => {
    if (!view.img || ev.button !== 0) return;
    const [x, y] = view.toImage(ev);
    const g = grab(x, y);
    if (g) st.edit = { ...g, x, y, orig: st.boxes[g.i].box.slice() };
    else st.drag = { x0: x, y0: y, x1: x, y1: y, body: st.bodies.find((b) => !b.accepted && inside(b, x, y)) || null };
  });
  window.addEventListener("mousemove", (ev) => {
    if (!view.img) return;
    const [x, y] = view.toImage(ev);
    if (st.edit) {
      const e = st.edit, b = st.boxes[e.i], dx = x - e.x, dy = y - e.y, W = view.img.width, H = view.img.height;
      if (e.mode === "move") {
        const mx = Math.min(W - e.orig[2], Math.max(-e.orig[0], dx)), my = Math.min(H - e.orig[3], Math.max(-e.orig[1], dy));
        b.box = [e.orig[0] + mx, e.orig[1] + my, e.orig[2] + mx, e.orig[3] + my];
      } else {
        b.box = e.orig.slice();
        if (e.ex !== null) b.box[e.ex] = e.orig[e.ex] + dx;
        if (e.ey !== null) b.box[e.ey] = e.orig[e.ey] + dy;
      }
      draw();
    } else if (st.drag) {
      [st.drag.x1, st.drag.y1] = [x, y];
      draw();
    } else if (ev.target === canvas) {
      canvas.style.cursor = cursorFor(grab(x, y));
    }
  });
  window.addEventListener("mouseup", () => {
    if (st.edit) return finishEdit();
    const d = st.drag;
    st.drag = null;
    if (!d) return;
    const box = [Math.min(d.x0, d.x1), Math.min(d.y0, d.y1), Math.max(d.x0, d.x1), Math.max(d.y0, d.y1)].map(Math.round);
    if (box[2] - box[0] >= 4 && box[3] - box[1] >= 4) {
      st.boxes.push({ box, annotation: null, body: null, moved: false });
    } else if (d.body) {
      d.body.accepted = true;
      st.boxes.push({ box: d.body.box.slice(), annotation: null, body: d.body, moved: false });
    } else return draw();
    st.results = null;
    renderBoxes(); renderResults(); draw();
  });
  function finishEdit() {
    const e = st.edit, b = st.boxes[e.i];
    st.edit = null;
    const [a, c] = [Math.min(b.box[0], b.box[2]), Math.max(b.box[0], b.box[2])];
    const [bb, d] = [Math.min(b.box[1], b.box[3]), Math.max(b.box[1], b.box[3])];
    const W = view.img.width, H = view.img.height;
    const box = [Math.max(0, a), Math.max(0, bb), Math.min(W, c), Math.min(H, d)].map(Math.round);
    const changed = box.some((v, k) => Math.abs(v - e.orig[k]) >= 1);
    b.box = (box[2] - box[0] >= 4 && box[3] - box[1] >= 4 && changed) ? box : e.orig;
    if (b.box !== e.orig) { b.moved = b.moved || !!b.body; st.results = null; }
    renderBoxes(); renderResults(); draw();
  }

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
      const text = el("span", "box-text", "");
      const where = `${Math.round(x1 - x0)} × ${Math.round(y1 - y0)} px at (${Math.round(x0)}, ${Math.round(y0)})${ann}`;
      if (b.body) {
        text.append(el("span", "", `Box ${i + 1} · ${proposalText(b)}`));
        text.append(el("span", "proposal", `${where}${b.moved ? " · moved: measured on the proposed box" : ""}`));
      } else text.append(el("span", "", `Box ${i + 1}: ${where}${b.body === null && detectorOn ? " · drawn" : ""}`));
      li.append(text);
      const del = el("button", "del", "✕");
      del.title = `Delete box ${i + 1}`;
      del.setAttribute("aria-label", `Delete box ${i + 1}`);
      del.addEventListener("click", () => {
        if (b.body) b.body.accepted = false;                   // back to a dashed body: a click re-adds it
        st.boxes.splice(i, 1); st.results = null; renderBoxes(); renderResults(); draw();
      });
      li.append(del);
      list.append(li);
    });
    $("analyse").disabled = !(st.file && st.boxes.length);
    if ($("propose")) $("propose").disabled = !st.file;
  }
  // what the detector measured on a proposed body: level, Genant grade, shape, height loss (mm), score
  function proposalText(b) {
    const body = b.body, m = body.morphometry;
    const level = body.level === "uncertain" ? `level uncertain (${body.level_reason})` : body.level;
    const loss = m.reduction.filter((r) => r != null);
    const grade = m.grade == null ? "Genant grade not measurable" : `Genant ${m.grade}${m.grade ? " " + m.shape : ""}`;
    const mm = m.loss_mm != null ? `, ${m.loss_mm.toFixed(1)} mm` : "";
    const parts = [level, grade, loss.length ? `height loss ${Math.round(100 * Math.max(...loss))} %${mm}` : "",
                   `score ${body.score.toFixed(2)}`];
    return parts.filter(Boolean).join(" · ");
  }
  function renderResults() {
    const out = $("results");
    out.replaceChildren();
    $("results-card").hidden = !st.results;
    if (!st.results) return;
    // one result card, drawn by the same code in the reading app's aided session (viewer-core.js)
    for (const r of st.results.image.boxes) {
      const level = st.boxes[r.index - 1] ? levelOf(st.boxes[r.index - 1]) : "";
      out.append(referVerdict(r));
      out.append(VcfViewer.resultCard(r, st.results.classes, `Box ${r.index}${level ? " · " + level : ""}`));
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
  $("clear").addEventListener("click", () => {
    for (const b of st.boxes) if (b.body) b.body.accepted = false;
    st.boxes = []; st.results = null; renderBoxes(); renderResults(); draw();
  });
  if ($("propose")) $("propose").addEventListener("click", guard(propose));
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
