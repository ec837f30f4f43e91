/* VCFNet radiograph canvas, shared by the diagnosis page (viewer.js) and the reading app (reading.js):
   an 8-bit display image, window/level (right-drag: window left/right, level up/down), invert, fit to the
   canvas, boxes in radiograph pixel coordinates. Vanilla JS, no external resources.

     const v = VcfViewer.create(canvasElement, { onWL: (ww, wl, invert) => ... });
     await v.open(pngSrc, widthPx, heightPx);      // the radiograph's own size (the PNG may be smaller)
     v.boxes = [{ box: [x0, y0, x1, y1], color: "#F0E442", label: "1" }]; v.draw();
     v.setWL(200, 128); v.resetWL(); v.setInvert(true); v.toImage(mouseEvent) -> [x, y]  */
(() => {
  "use strict";
  function create(canvas, opts) {
    opts = opts || {};
    const ctx = canvas.getContext("2d");
    const work = document.createElement("canvas"), wctx = work.getContext("2d");
    const v = { img: null, base: null, boxes: [], ww: 255, wl: 128, invert: false,
                view: { s: 1, ox: 0, oy: 0 }, drag: null, pending: false, overlay: null,
                fitFraction: opts.fitFraction || 0.98 };

    v.open = async (src, width, height) => {
      const img = new Image();
      img.src = src;
      await img.decode();
      work.width = img.width; work.height = img.height;
      wctx.drawImage(img, 0, 0);
      v.base = wctx.getImageData(0, 0, img.width, img.height);
      v.img = { width: width || img.width, height: height || img.height, k: img.width / (width || img.width) };
      v.resetWL(); v.fit();
    };
    v.applyWL = () => {
      if (!v.base) return;
      const lut = new Uint8ClampedArray(256), lo = v.wl - v.ww / 2;
      for (let i = 0; i < 256; i++) {
        const o = ((i - lo) / v.ww) * 255;
        lut[i] = v.invert ? 255 - o : o;
      }
      const src = v.base.data, out = wctx.createImageData(v.base.width, v.base.height), dst = out.data;
      for (let i = 0; i < src.length; i += 4) {
        const g = lut[src[i]];
        dst[i] = g; dst[i + 1] = g; dst[i + 2] = g; dst[i + 3] = 255;
      }
      wctx.putImageData(out, 0, 0);
      if (opts.onWL) opts.onWL(v.ww, v.wl, v.invert);
      v.draw();
    };
    v.setWL = (ww, wl) => {
      v.ww = Math.min(255, Math.max(1, ww)); v.wl = Math.min(255, Math.max(0, wl)); v.applyWL();
    };
    v.setInvert = (on) => { v.invert = !!on; v.applyWL(); };
    v.resetWL = () => { v.ww = 255; v.wl = 128; v.invert = false; v.applyWL(); };

    // ---- geometry: radiograph pixels <-> canvas pixels ------------------------------------------
    v.fit = () => {
      const r = window.devicePixelRatio || 1, rect = canvas.getBoundingClientRect();
      canvas.width = Math.max(1, Math.round(rect.width * r));
      canvas.height = Math.max(1, Math.round(rect.height * r));
      if (v.img) {
        const s = v.fitFraction * Math.min(canvas.width / work.width, canvas.height / work.height);
        v.view = { s, ox: (canvas.width - work.width * s) / 2, oy: (canvas.height - work.height * s) / 2 };
      }
      v.draw();
    };
    v.toCanvas = (x, y) => [v.view.ox + x * v.img.k * v.view.s, v.view.oy + y * v.img.k * v.view.s];
    v.toImage = (ev) => {
      const rect = canvas.getBoundingClientRect(), r = canvas.width / rect.width;
      const cx = (ev.clientX - rect.left) * r, cy = (ev.clientY - rect.top) * r;
      const f = v.img.k * v.view.s;
      const clamp = (val, hi) => Math.min(hi, Math.max(0, val));
      return [clamp((cx - v.view.ox) / f, v.img.width), clamp((cy - v.view.oy) / f, v.img.height)];
    };
    v.lineWidth = () => Math.max(2, (window.devicePixelRatio || 1) * 2);

    // ---- drawing --------------------------------------------------------------------------------
    v.draw = () => {
      ctx.fillStyle = "#000";
      ctx.fillRect(0, 0, canvas.width, canvas.height);
      if (!v.img) return;
      ctx.imageSmoothingEnabled = true;
      ctx.drawImage(work, v.view.ox, v.view.oy, work.width * v.view.s, work.height * v.view.s);
      const lw = v.lineWidth();
      ctx.font = `600 ${Math.round(lw * 7)}px sans-serif`;
      for (const b of v.boxes) {
        const [x0, y0] = v.toCanvas(b.box[0], b.box[1]), [x1, y1] = v.toCanvas(b.box[2], b.box[3]);
        ctx.lineWidth = lw; ctx.strokeStyle = b.color; ctx.setLineDash(b.dashed ? [lw * 3, lw * 2] : []);
        ctx.strokeRect(x0, y0, x1 - x0, y1 - y0);
        ctx.setLineDash([]);
        if (b.label) {
          const tw = ctx.measureText(b.label).width + lw * 4, th = lw * 9;
          ctx.fillStyle = b.color; ctx.fillRect(x1 + lw, y0, tw, th);
          ctx.fillStyle = "#000"; ctx.fillText(b.label, x1 + lw * 3, y0 + th * 0.75);
        }
      }
      if (v.overlay) v.overlay(ctx, lw);
    };

    // ---- mouse: right drag sets window (x) and level (y) ---------------------------------------
    canvas.addEventListener("contextmenu", (ev) => ev.preventDefault());
    canvas.addEventListener("mousedown", (ev) => {
      if (v.img && ev.button === 2) v.drag = { x: ev.clientX, y: ev.clientY, ww: v.ww, wl: v.wl };
    });
    window.addEventListener("mousemove", (ev) => {
      if (!v.drag) return;
      v.ww = Math.min(255, Math.max(1, v.drag.ww + (ev.clientX - v.drag.x) * 0.5));
      v.wl = Math.min(255, Math.max(0, v.drag.wl - (ev.clientY - v.drag.y) * 0.5));
      if (!v.pending) { v.pending = true; requestAnimationFrame(() => { v.pending = false; v.applyWL(); }); }
    });
    window.addEventListener("mouseup", () => { v.drag = null; });
    return v;
  }
  // ---- the model's answer for one box, as the diagnosis page shows it (and the aided reading page) -----
  const COLORS = { acute: "#E69F00", chronic: "#56B4E9", pathological: "#CC79A7" };   // Okabe-Ito
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function thumb(b64, caption) {
    const fig = el("figure"), img = el("img");
    img.src = "data:image/png;base64," + b64;
    img.alt = caption;
    fig.append(img, el("figcaption", "", caption));
    return fig;
  }
  /* r: {predicted, probabilities {class: p}, heatmap_png, crop_png (base64), annotation?} */
  function resultCard(r, classes, title) {
    const div = el("div", "result"), h = el("h3", "", title);
    const label = el("span", "pred-label", r.predicted);
    label.style.background = COLORS[r.predicted] || "#ccc";
    h.append(label);
    div.append(h);
    if (r.annotation) div.append(el("div", "annotated", `Annotated as ${r.annotation.label} ${r.annotation.level || ""}`));
    const bars = el("div", "bars");
    for (const c of classes) {
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
    return div;
  }
  // ---- the service's API with the page's credentials; an error answer becomes one message -----------
  async function api(path, init = {}) {
    const headers = { ...(init.headers || {}) };
    const page = document.body.dataset, token = document.getElementById("token");
    if (page.csrf) headers["X-CSRF-Token"] = page.csrf;
    if (token && token.value.trim()) headers.Authorization = "Bearer " + token.value.trim();
    const res = await fetch(path, { credentials: "same-origin", ...init, headers });
    if (!res.ok) {
      let msg = res.status + " " + res.statusText;
      try { const e = await res.json(); if (e.error) msg = e.error.message; } catch (_) { /* not JSON */ }
      throw new Error(msg);
    }
    return res;
  }
  window.VcfViewer = { create, resultCard, COLORS, el, api };
})();
