/* PACS panel of the diagnosis page: search the PACS for a study (QIDO-RS through /api/v1/pacs), open one
   of its radiographs in the viewer, and "Send to PACS" the SR, presentation state and secondary capture of
   the boxes the page classified. Nothing is sent unless that button is pressed.
   The viewer (viewer.js) opens files from its #file input; a PACS image is handed to it there, as if the
   user had chosen it. The boxes sent are those of the page's last classification of that image: this
   script observes the page's own /api/v1/predict and /api/v1/annotations answers (for the boxes and the
   LabelImg levels), so what goes to the PACS is what the user saw classified. */
(() => {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const st = { current: null, predicted: null, annotated: [], opening: false };

  const nativeFetch = window.fetch.bind(window);
  // the service's API with the page's credentials (viewer-core.js, loaded before this script)
  function call(path, init = {}) {
    return VcfViewer.api(path, { ...init, headers: init.body ? { "Content-Type": "application/json" } : {} });
  }
  function status(text, error) {
    const el = $("pacs-status");
    el.textContent = text || "";
    el.classList.toggle("error", !!error);
  }
  function guard(fn) {
    return async (...args) => { try { await fn(...args); } catch (e) { status(e.message, true); } };
  }
  const el = VcfViewer.el;

  // ---- what the page classified: observed, never changed ------------------------------------------
  window.fetch = async (input, init) => {
    const res = await nativeFetch(input, init);
    const url = typeof input === "string" ? input : input.url;
    if (res.ok && url.startsWith("/api/v1/predict") && !url.startsWith("/api/v1/predict/batch")) {
      res.clone().json().then((d) => { st.predicted = d; update(); }).catch(() => {});
    } else if (res.ok && url.startsWith("/api/v1/annotations")) {
      res.clone().json().then((d) => { st.annotated = d.boxes || []; }).catch(() => {});
    }
    return res;
  };
  // a file the user opens from disk is not the PACS image any more
  $("file").addEventListener("change", () => {
    if (!st.opening) { st.current = null; $("pacs-current").textContent = ""; }
    st.predicted = null; st.annotated = []; update();
  }, true);

  function levelOf(box) {
    const same = st.annotated.find((a) => a.box.every((v, i) => Math.round(v) === Math.round(box[i])));
    return same && same.annotation && same.annotation.level ? same.annotation.level : null;
  }
  function update() {
    $("pacs-send").disabled = !(st.current && st.predicted && st.predicted.image.boxes.length);
  }

  // ---- search, open, send ---------------------------------------------------------------------------
  async function search(ev) {
    ev.preventDefault();
    const q = new URLSearchParams();
    for (const k of ["patient_id", "accession", "date"]) { const v = $("pacs-" + k).value.trim(); if (v) q.set(k, v); }
    status("Searching the PACS…");
    const d = await (await call("/api/v1/pacs/studies?" + q.toString())).json();
    const list = $("pacs-studies");
    list.replaceChildren();
    for (const s of d.studies) {
      const li = stack(el("li", "", ""));
      const b = el("button", "link", `${s.date || "no date"} · ${s.description || "no description"} · ${s.modalities.join("/")} · ${s.instances} obj.`);
      b.type = "button";
      b.addEventListener("click", guard(() => images(s.study, li)));
      li.append(b);
      list.append(li);
    }
    status(d.studies.length ? `${d.studies.length} study(ies): pick one.` : "No study found.");
  }
  async function images(study, li) {
    const d = await (await call(`/api/v1/pacs/studies/${encodeURIComponent(study)}/images`)).json();
    const sub = el("ol", "pacs-images", "");
    Object.assign(sub.style, { listStyle: "none", paddingLeft: "16px" });
    d.images.forEach((im, i) => {
      const b = el("button", "link", `Radiograph ${i + 1} (${im.columns} × ${im.rows} px)`);
      b.type = "button";
      b.addEventListener("click", guard(() => open(im)));
      const item = stack(el("li", "", ""));
      item.append(b);
      sub.append(item);
    });
    li.querySelector(".pacs-images")?.remove();
    li.append(sub);
    status(d.images.length ? "Open a radiograph." : "No DX/CR radiograph in this study.");
  }
  async function open(im) {
    status("Retrieving the radiograph from the PACS…");
    const q = new URLSearchParams({ study: im.study, series: im.series, sop: im.sop });
    const blob = await (await call("/api/v1/pacs/image?" + q.toString())).blob();
    const files = new DataTransfer();
    files.items.add(new File([blob], "pacs-image.dcm", { type: "application/dicom" }));
    const input = $("file");
    input.files = files.files;
    st.opening = true;
    try { input.dispatchEvent(new Event("change", { bubbles: true })); } finally { st.opening = false; }
    st.current = im;
    $("pacs-current").textContent = `Open from the PACS: radiograph of ${im.columns} × ${im.rows} px. Box and classify it, then send.`;
    status("");
    update();
  }
  async function send() {
    const boxes = st.predicted.image.boxes.map((b) => b.box.map(Number));
    const body = { study: st.current.study, series: st.current.series, sop: st.current.sop, boxes,
                   levels: boxes.map(levelOf), gradcam: $("gradcam") ? $("gradcam").checked : false,
                   // the age and sex the page's answer used (prefilled from the header, maybe edited)
                   age: $("age") ? $("age").value.trim() : "", sex: $("sex") ? $("sex").value : "" };
    status("Sending the SR and overlays to the PACS…");
    $("pacs-send").disabled = true;
    try {
      const d = await (await call("/api/v1/pacs/send", { method: "POST", body: JSON.stringify(body) })).json();
      status(`Stored in the study: structured report, presentation state and secondary capture (${d.boxes.join("; ")}).`);
    } finally { update(); }
  }

  // layout through the CSSOM (the page's CSP allows no inline styles; vcfnet.css belongs to the viewer)
  function layout() {
    for (const label of $("pacs-search").querySelectorAll("label")) {
      Object.assign(label.style, { display: "flex", justifyContent: "space-between", gap: "8px", margin: "4px 0" });
    }
    Object.assign($("pacs-studies").style, { display: "block", paddingLeft: "0", listStyle: "none" });
  }
  function stack(li) { Object.assign(li.style, { display: "block", margin: "4px 0" }); return li; }

  async function init() {
    layout();
    const d = await (await call("/api/v1/pacs/config")).json();
    $("pacs-card").hidden = !d.configured;
    if (d.configured) $("pacs-name").textContent = d.name;
  }
  $("pacs-search").addEventListener("submit", guard(search));
  $("pacs-send").addEventListener("click", guard(send));
  guard(init)();
})();
