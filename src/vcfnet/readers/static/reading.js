/* VCFNet reading page: one case at a time, as the server opens it (GET /api/task); the answer is a class and
   a confidence per class, whole numbers that always add up to 100, the class always one with the largest
   confidence (so an invalid answer cannot be built, let alone sent). The radiograph canvas and the model's
   result card (aided only) are the diagnosis page's own code, viewer-core.js. Vanilla JS, keyboard first. */
(() => {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const CLASSES = JSON.parse(document.body.dataset.classes);
  const csrf = document.body.dataset.csrf;
  const BOX_COLOR = "#F0E442";
  const st = { task: null, conf: null, answer: null, focus: 0, confirming: false, locked: false, busy: false,
               shownAt: 0, hiddenMs: 0, hiddenSince: 0, showBox: true, loading: false };

  const syncWL = (ww, wl, invert) => {
    $("ww").value = ww; $("wl").value = wl; $("ww-out").value = Math.round(ww); $("wl-out").value = Math.round(wl);
    $("invert").checked = invert;
    if (crop.base) { crop.ww = ww; crop.wl = wl; crop.invert = invert; crop.applyWL(); }
  };
  const view = VcfViewer.create($("canvas"), { onWL: syncWL });
  const crop = VcfViewer.create($("crop"), { fitFraction: 1.0 });

  function setStatus(text, error) { $("status").textContent = text || ""; $("status").classList.toggle("error", !!error); }
  async function api(path, body) {
    const init = body === undefined ? { credentials: "same-origin" } :
      { method: "POST", credentials: "same-origin", body: JSON.stringify(body),
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf } };
    const res = await fetch(path, init);
    let data = null;
    try { data = await res.json(); } catch (_) { /* not JSON */ }
    if (!res.ok) throw new Error((data && data.error && data.error.message) || res.status + " " + res.statusText);
    return data;
  }

  // ---- the confidences: integers 0-100 summing to 100 -----------------------------------------------
  /* Move class i to value v; the others share the change in proportion to what they hold (equally when they
     hold nothing), rounded by largest remainder so the total stays exactly 100. */
  function setConfidence(i, v) {
    v = Math.max(0, Math.min(100, Math.round(v)));
    const others = CLASSES.map((_, j) => j).filter((j) => j !== i);
    const rest = 100 - v, held = others.reduce((a, j) => a + st.conf[j], 0);
    const raw = others.map((j) => (held > 0 ? st.conf[j] * rest / held : rest / others.length));
    const floor = raw.map(Math.floor);
    let left = rest - floor.reduce((a, b) => a + b, 0);
    raw.map((r, k) => [r - floor[k], k]).sort((a, b) => b[0] - a[0]).forEach(([, k]) => { if (left > 0) { floor[k] += 1; left -= 1; } });
    st.conf[i] = v;
    others.forEach((j, k) => { st.conf[j] = floor[k]; });
    // the answer is always a class with the largest confidence: kept when still among the largest,
    // moved to the single largest otherwise, and left open on a tie the reader has to break
    const top = Math.max(...st.conf), tops = CLASSES.map((_, j) => j).filter((j) => st.conf[j] === top);
    if (st.answer === null || !tops.includes(st.answer)) st.answer = tops.length === 1 ? tops[0] : null;
    render();
  }
  function choose(i) {
    if (!canAnswer()) return;
    st.focus = i;
    const top = Math.max(...st.conf);
    if (st.answer === null && st.conf.every((c) => c === 0)) {
      st.conf = CLASSES.map((_, j) => (j === i ? 60 : 20));      // a first choice starts at 60 / 20 / 20
    } else if (st.conf[i] < top || CLASSES.some((_, j) => j !== i && st.conf[j] === top)) {
      setConfidence(i, Math.min(100, top + 5));                  // raise it just above the others
    }
    st.answer = i;
    st.confirming = false;
    render();
  }
  function nudge(delta) {
    if (!canAnswer() || st.answer === null) return;
    st.confirming = false;
    setConfidence(st.focus, st.conf[st.focus] + delta);
  }
  const canAnswer = () => st.task && st.task.state === "read" && !st.locked && !st.busy;

  function render() {
    const ready = st.answer !== null;
    CLASSES.forEach((c, j) => {
      const row = $("choice-" + c);
      row.classList.toggle("chosen", st.answer === j);
      row.classList.toggle("focus", st.focus === j && ready);
      row.querySelector("input").value = st.conf[j];
      row.querySelector("input").disabled = !canAnswer();
      row.querySelector("output").value = st.conf[j];
    });
    const line = $("answer-line");
    if (st.locked) line.textContent = "Locked.";
    else if (!ready && st.conf.some((v) => v > 0)) line.textContent = "Two classes tie for the largest confidence: press 1, 2 or 3 to choose.";
    else if (!ready) line.innerHTML = "Press <kbd>1</kbd> <kbd>2</kbd> or <kbd>3</kbd> to choose the class.";
    else if (st.confirming) line.innerHTML = `Lock <strong>${CLASSES[st.answer]}</strong> (${st.conf.join(" / ")})? <kbd>Enter</kbd> locks, <kbd>Esc</kbd> goes back.`;
    else line.innerHTML = `Answer: <strong>${CLASSES[st.answer]}</strong> · ${st.conf.join(" / ")}`;
    line.classList.toggle("confirming", st.confirming);
    $("lock").disabled = !(ready && canAnswer());
  }

  // ---- one task ----------------------------------------------------------------------------------------
  function showOverlay(title, text, next) {
    $("overlay-title").textContent = title;
    $("overlay-text").textContent = text;
    $("overlay-next").hidden = !next;
    $("overlay").hidden = false;
  }
  function progressText(t) {
    const d = t.done || {}, n = t.total;
    return `Unaided ${d.unaided || 0}/${n} · Aided ${d.aided || 0}/${n}`;
  }
  async function load() {
    st.busy = true;
    delete document.body.dataset.open;     // set again once the case is drawn and answerable
    setStatus("");
    const t = await api("/api/task");
    st.task = t; st.locked = false; st.confirming = false; st.answer = null; st.focus = 0;
    st.conf = CLASSES.map(() => 0);
    $("progress").textContent = progressText(t);
    $("model-slot").replaceChildren();
    $("key-model").hidden = true;
    if (t.state === "done") { st.busy = false; render(); return showOverlay("All cases read", "Thank you: every answer is locked and saved. You can close this page.", false); }
    if (t.state === "wait") {
      st.busy = false; render();
      const when = t.opens_at ? new Date(t.opens_at).toLocaleString() : "later";
      return showOverlay("Unaided session complete", `The aided session opens on ${when}, after the washout. Open your link again then.`, false);
    }
    $("overlay").hidden = true;
    const badge = $("session-badge");
    badge.textContent = `${t.session === "aided" ? "Aided" : "Unaided"} · case ${t.position} of ${t.total}`;
    badge.className = "session-badge " + t.session;
    document.body.classList.toggle("aided", t.session === "aided");
    await view.open(t.case.image, t.case.width, t.case.height);
    await crop.open(t.case.crop);
    crop.ww = view.ww; crop.wl = view.wl; crop.applyWL();
    drawBox();
    $("placeholder").hidden = true;
    const m = t.case.meta || {};
    $("image-info").textContent = [t.case.width + " × " + t.case.height + " px", m.modality,
      m.pixel_spacing ? "spacing " + m.pixel_spacing.join(" × ") + " mm" : "",
      "right-drag: window (←→) and level (↑↓)"].filter(Boolean).join(" · ");
    if (t.model) showModel(t.model);
    st.shownAt = performance.now(); st.hiddenMs = 0; st.hiddenSince = document.hidden ? performance.now() : 0;
    st.busy = false;
    render();
    document.body.dataset.open = `${t.session}:${t.position}`;
  }
  function showModel(m) {
    const card = VcfViewer.el("section", "card model-card");
    card.id = "model-card";
    card.append(VcfViewer.el("h2", "", "Model answer"));
    const limits = VcfViewer.el("p", "limits-inline");
    limits.append(VcfViewer.el("strong", "", "Not a diagnosis. "), document.createTextNode(m.limits || ""));
    card.append(limits, VcfViewer.resultCard(m, CLASSES, `Model ${m.version || ""}`));
    card.append(VcfViewer.el("p", "note", "Bars: the model's softmax probabilities for the boxed vertebra (not calibrated risks). " +
      "Grad-CAM: regions that raised the predicted class's score (bright = more). M: start from these numbers."));
    $("model-slot").append(card);
    $("key-model").hidden = false;
  }
  function useModel() {
    const m = st.task && st.task.model;
    if (!m || !canAnswer()) return;
    // the model's probabilities as whole percentages summing to 100 (largest remainder)
    const raw = CLASSES.map((c) => 100 * m.probabilities[c]), fl = raw.map(Math.floor);
    let left = 100 - fl.reduce((a, b) => a + b, 0);
    raw.map((r, k) => [r - fl[k], k]).sort((a, b) => b[0] - a[0]).forEach(([, k]) => { if (left > 0) { fl[k] += 1; left -= 1; } });
    st.conf = fl;
    const top = Math.max(...fl), tops = CLASSES.map((_, j) => j).filter((j) => fl[j] === top);
    st.answer = tops.length === 1 ? tops[0] : null;
    st.focus = st.answer === null ? 0 : st.answer;
    st.confirming = false;
    render();
  }
  function drawBox() {
    if (!view.img) return;
    const [x0, y0, x1, y1] = st.task.case.box, pad = 0.06 * Math.max(x1 - x0, y1 - y0);
    // drawn a little outside the box, so the line never covers the vertebra's own edges
    view.boxes = st.showBox ? [{ box: [x0 - pad, y0 - pad, x1 + pad, y1 + pad], color: BOX_COLOR }] : [];
    view.draw();
  }
  function readingSeconds() {
    const hidden = st.hiddenMs + (st.hiddenSince ? performance.now() - st.hiddenSince : 0);
    return Math.max(0, (performance.now() - st.shownAt - hidden) / 1000);
  }
  async function lock() {
    if (st.answer === null || !canAnswer()) return;
    st.busy = true; render();
    const t = st.task, body = { session: t.session, position: t.position, answer: CLASSES[st.answer],
                                client_seconds: Math.round(readingSeconds() * 1000) / 1000 };
    CLASSES.forEach((c, j) => { body["p_" + c] = st.conf[j]; });
    try {
      await api("/api/answer", body);
      st.locked = true;
      t.done[t.session] = (t.done[t.session] || 0) + 1;
      $("progress").textContent = progressText(t);
      showOverlay("Answer locked", `${CLASSES[st.answer]} · ${st.conf.join(" / ")} (acute / chronic / pathological).`, true);
      $("overlay-next").focus();
    } catch (e) {
      setStatus(e.message, true);
    } finally { st.busy = false; st.confirming = false; render(); }
  }
  const guarded = (fn) => async (...a) => { try { await fn(...a); } catch (e) { st.busy = false; setStatus(e.message, true); } };
  const next = guarded(async () => {
    if (st.loading || !(st.locked || !st.task || st.task.state !== "read")) return;
    st.loading = true;                 // Enter on the focused Next button and the key handler: one load
    try { await load(); } finally { st.loading = false; }
  });

  // ---- keyboard: every action ----------------------------------------------------------------------------
  document.addEventListener("keydown", (ev) => {
    if (ev.target instanceof HTMLInputElement && ev.target.type !== "range" && ev.target.type !== "checkbox") return;
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const k = ev.key, step = ev.shiftKey ? 1 : 5;
    let handled = true;
    if (k >= "1" && k <= String(CLASSES.length)) choose(Number(k) - 1);
    else if (k === "ArrowUp") nudge(step);
    else if (k === "ArrowDown") nudge(-step);
    else if (k === "ArrowRight" || k === "ArrowLeft") {
      if (st.answer !== null && canAnswer()) { st.focus = (st.focus + (k === "ArrowRight" ? 1 : CLASSES.length - 1)) % CLASSES.length; render(); }
    } else if (k === "Enter") {
      if (st.locked) next();
      else if (st.answer !== null && canAnswer()) { if (st.confirming) guarded(lock)(); else { st.confirming = true; render(); } }
    } else if (k === "Escape") { st.confirming = false; render(); }
    else if (k === "n" || k === "N") next();
    else if (k === "m" || k === "M") useModel();
    else if (k === "[" || k === "]") view.setWL(view.ww + (k === "]" ? 10 : -10), view.wl);
    else if (k === "," || k === ".") view.setWL(view.ww, view.wl + (k === "." ? 10 : -10));
    else if (k === "r" || k === "R") view.resetWL();
    else if (k === "i" || k === "I") view.setInvert(!view.invert);
    else if (k === "b" || k === "B") { st.showBox = !st.showBox; $("show-box").checked = st.showBox; drawBox(); }
    else if (k === "p" || k === "P") $("stop").click();
    else handled = false;
    if (handled) ev.preventDefault();
  });

  // ---- mouse, for those who want it -----------------------------------------------------------------------
  CLASSES.forEach((c, j) => {
    const row = $("choice-" + c);
    row.querySelector(".name").addEventListener("click", () => choose(j));
    row.querySelector("input").addEventListener("input", (ev) => {
      if (!canAnswer()) return;
      if (st.answer === null) { choose(j); return; }
      st.focus = j; st.confirming = false;
      setConfidence(j, Number(ev.target.value));
    });
  });
  $("lock").addEventListener("click", guarded(lock));
  $("overlay-next").addEventListener("click", next);
  $("ww").addEventListener("input", (ev) => view.setWL(Number(ev.target.value), view.wl));
  $("wl").addEventListener("input", (ev) => view.setWL(view.ww, Number(ev.target.value)));
  $("invert").addEventListener("change", (ev) => view.setInvert(ev.target.checked));
  $("reset-wl").addEventListener("click", () => view.resetWL());
  $("show-box").addEventListener("change", (ev) => { st.showBox = ev.target.checked; drawBox(); });
  document.addEventListener("visibilitychange", () => {
    if (document.hidden) st.hiddenSince = performance.now();
    else if (st.hiddenSince) { st.hiddenMs += performance.now() - st.hiddenSince; st.hiddenSince = 0; }
  });
  window.addEventListener("resize", () => { view.fit(); crop.fit(); drawBox(); });
  st.conf = CLASSES.map(() => 0);
  render();
  guarded(load)();
})();
