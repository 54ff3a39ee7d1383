// textinpaint painter: paint a mask over an image, write captions, inpaint, explain.
// Plain JS, no build step. The mask lives at the image's own resolution; the canvases are
// only scaled by CSS to fit the viewport.
"use strict";

(() => {
  const $ = (selector, root = document) => root.querySelector(selector);
  const DEFAULT_EXAMPLES = [
    "this bird has a bright red crown and a white belly",
    "a small yellow bird with black wings and a short pointed beak",
    "this bird is blue with a long tail and a grey breast",
    "a brown bird with white spots on its wings and an orange beak",
  ];
  const MASK_COLOR = "rgb(255, 59, 120)";
  const MAX_VARIANTS = 6;
  const MAX_UNDO = 200;

  const els = {
    imageInput: $("#image-input"), maskInput: $("#mask-input"),
    stage: $("#stage"), empty: $("#empty"), wrap: $("#canvas-wrap"),
    imageCanvas: $("#image-canvas"), maskCanvas: $("#mask-canvas"),
    cursor: $("#brush-cursor"), rectPreview: $("#rect-preview"),
    size: $("#brush-size"), sizeValue: $("#brush-size-value"),
    undo: $("#undo"), redo: $("#redo"), clear: $("#clear"),
    caption: $("#caption"), examples: $("#examples"), explain: $("#explain"), flip: $("#flip"),
    seam: $("#seam"), guidance: $("#guidance"), guidanceValue: $("#guidance-value"),
    inpaint: $("#inpaint"), status: $("#status"), results: $("#results"),
    modelInfo: $("#model-info"), captionCheck: $("#caption-check"),
  };
  const maskCtx = els.maskCanvas.getContext("2d", { willReadFrequently: true });

  // Everything the page knows; exposed on window for tests and for poking in the console.
  const state = {
    image: null, // decoded <img> of the user's file
    imageBlob: null, // the file exactly as given: sent as is, so known pixels come back exact
    imageName: "image.png",
    tool: "brush",
    ops: [], // mask edits, replayed to redraw (undo = drop the last one)
    redone: [],
    current: null, // the edit being drawn
    model: null,
    busy: false,
    lastMask: null, // the black/white canvas sent with the last request
    maskDataURL() { return this.lastMask ? this.lastMask.toDataURL("image/png") : null; },
  };
  window.textinpaint = state;

  // ---------------------------------------------------------------- status and busy state
  function say(message, isError = false) {
    els.status.textContent = message;
    els.status.classList.toggle("error", isError);
  }

  function setBusy(busy) {
    state.busy = busy;
    els.inpaint.disabled = busy;
    els.inpaint.classList.toggle("busy", busy);
    els.inpaint.setAttribute("aria-busy", String(busy));
    $(".label", els.inpaint).textContent = busy ? "Inpainting…" : "Inpaint";
    els.results.setAttribute("aria-busy", String(busy));
  }

  // ---------------------------------------------------------------- model description
  async function loadModelInfo() {
    let examples = DEFAULT_EXAMPLES;
    try {
      const res = await fetch("api/v1/model");
      const info = await res.json();
      state.model = info;
      const text = info.uses_text
        ? `reads captions up to ${info.max_caption_words} words`
        : "image only (captions are ignored)";
      els.modelInfo.textContent =
        `model ${info.name} · ${info.resolution} px · ${text}`;
      if (!info.uses_text) {
        els.caption.disabled = true;
        els.caption.placeholder = "this model ignores captions";
      }
      if (info.examples && info.examples.length) examples = info.examples;
      els.flip.checked = Boolean(info.flip_ensemble);  // start from the server's setting
      els.seam.checked = Boolean(info.seam);
      if (typeof info.guidance_scale === "number") setGuidance(info.guidance_scale);
    } catch (err) {
      els.modelInfo.textContent = "model description unavailable";
    }
    renderExamples(examples);
  }

  function renderExamples(examples) {
    els.examples.replaceChildren(...examples.map((sentence) => {
      const li = document.createElement("li");
      const use = document.createElement("button");
      use.type = "button";
      use.className = "example";
      use.textContent = sentence;
      use.title = "Use this caption";
      use.addEventListener("click", () => { els.caption.value = sentence; els.caption.focus(); });
      const add = document.createElement("button");
      add.type = "button";
      add.className = "add";
      add.textContent = "+";
      add.title = "Add as a variant (a new line)";
      add.setAttribute("aria-label", `Add variant: ${sentence}`);
      add.addEventListener("click", () => {
        const text = els.caption.value.replace(/\s+$/, "");
        els.caption.value = text ? `${text}\n${sentence}` : sentence;
      });
      li.append(use, add);
      return li;
    }));
  }

  // ---------------------------------------------------------------- image loading and layout
  function isImageFile(file) {
    return file && (!file.type || file.type.startsWith("image/"));
  }

  async function decode(file) {
    const img = new Image();
    img.src = URL.createObjectURL(file);
    try {
      await img.decode();
    } catch (err) {
      URL.revokeObjectURL(img.src);
      throw new Error(`${file.name || "the file"} is not an image this browser can read`);
    }
    return img;
  }

  async function loadImage(file) {
    if (!isImageFile(file)) return say("That is not an image file.", true);
    let img;
    try { img = await decode(file); } catch (err) { return say(err.message, true); }
    if (state.image) URL.revokeObjectURL(state.image.src);
    state.image = img;
    state.imageBlob = file;
    state.imageName = file.name || "pasted.png";
    const w = img.naturalWidth, h = img.naturalHeight;
    for (const canvas of [els.imageCanvas, els.maskCanvas]) { canvas.width = w; canvas.height = h; }
    els.imageCanvas.getContext("2d").drawImage(img, 0, 0);
    state.ops = []; state.redone = []; state.current = null;
    redraw();
    els.empty.hidden = true;
    els.wrap.hidden = false;
    fit();
    els.results.replaceChildren();
    say(`${state.imageName}: ${w}×${h}. Paint the part to fill.`);
  }

  // The canvases keep the image's resolution; CSS scales them to the space available.
  function fit() {
    if (!state.image) return;
    const w = els.imageCanvas.width, h = els.imageCanvas.height;
    const style = getComputedStyle(els.stage);
    const availW = els.stage.clientWidth - parseFloat(style.paddingLeft) * 2;
    const availH = Math.max(240, window.innerHeight * 0.64);
    const scale = Math.min(availW / w, availH / h, 8);
    els.wrap.style.width = `${Math.max(1, Math.floor(w * scale))}px`;
    els.wrap.style.height = `${Math.max(1, Math.floor(h * scale))}px`;
    els.wrap.classList.toggle("pixelated", scale >= 3);
  }

  // ---------------------------------------------------------------- mask edits
  function toImage(event) {
    const rect = els.maskCanvas.getBoundingClientRect();
    return {
      x: (event.clientX - rect.left) * (els.maskCanvas.width / rect.width),
      y: (event.clientY - rect.top) * (els.maskCanvas.height / rect.height),
    };
  }

  function imagePerScreenPixel() {
    return els.maskCanvas.width / els.maskCanvas.getBoundingClientRect().width;
  }

  function brushDiameter() { return Number(els.size.value); }

  // How much the caption counts (the API's guidance_scale; 1 = the model as trained).
  function setGuidance(value) {
    els.guidance.value = String(value);
    els.guidanceValue.textContent = Number(els.guidance.value).toString();
  }

  function strokeSegment(ctx, op, from, to) {
    ctx.save();
    ctx.globalCompositeOperation = op.erase ? "destination-out" : "source-over";
    ctx.strokeStyle = ctx.fillStyle = MASK_COLOR;
    ctx.lineCap = ctx.lineJoin = "round";
    ctx.lineWidth = op.radius * 2;
    ctx.beginPath();
    if (from === to) {
      ctx.arc(to.x, to.y, op.radius, 0, Math.PI * 2);
      ctx.fill();
    } else {
      ctx.moveTo(from.x, from.y);
      ctx.lineTo(to.x, to.y);
      ctx.stroke();
    }
    ctx.restore();
  }

  function applyOp(ctx, op) {
    const { width, height } = ctx.canvas;
    if (op.kind === "clear") {
      ctx.clearRect(0, 0, width, height);
    } else if (op.kind === "mask") { // a loaded mask file replaces the mask
      ctx.clearRect(0, 0, width, height);
      ctx.drawImage(op.canvas, 0, 0);
    } else if (op.kind === "rect") {
      ctx.save();
      ctx.fillStyle = MASK_COLOR;
      ctx.fillRect(op.x, op.y, op.w, op.h);
      ctx.restore();
    } else if (op.kind === "stroke") {
      const points = op.points;
      ctx.save();
      ctx.globalCompositeOperation = op.erase ? "destination-out" : "source-over";
      ctx.strokeStyle = ctx.fillStyle = MASK_COLOR;
      ctx.lineCap = ctx.lineJoin = "round";
      ctx.lineWidth = op.radius * 2;
      ctx.beginPath();
      if (points.length === 1) {
        ctx.arc(points[0].x, points[0].y, op.radius, 0, Math.PI * 2);
        ctx.fill();
      } else {
        ctx.moveTo(points[0].x, points[0].y);
        for (const p of points.slice(1)) ctx.lineTo(p.x, p.y);
        ctx.stroke();
      }
      ctx.restore();
    }
  }

  function redraw() {
    maskCtx.clearRect(0, 0, els.maskCanvas.width, els.maskCanvas.height);
    for (const op of state.ops) applyOp(maskCtx, op);
    updateHistoryButtons();
  }

  function commit(op) {
    state.ops.push(op);
    if (state.ops.length > MAX_UNDO) { // fold the oldest edits into a snapshot
      const snapshot = document.createElement("canvas");
      snapshot.width = els.maskCanvas.width; snapshot.height = els.maskCanvas.height;
      const ctx = snapshot.getContext("2d");
      for (const old of state.ops.splice(0, state.ops.length - MAX_UNDO + 1)) applyOp(ctx, old);
      state.ops.unshift({ kind: "mask", canvas: snapshot });
    }
    state.redone = [];
    updateHistoryButtons();
  }

  function undo() {
    if (!state.ops.length) return;
    state.redone.push(state.ops.pop());
    redraw();
  }

  function redo() {
    if (!state.redone.length) return;
    state.ops.push(state.redone.pop());
    redraw();
  }

  function updateHistoryButtons() {
    els.undo.disabled = !state.ops.length;
    els.redo.disabled = !state.redone.length;
  }

  function clearMask() {
    if (!state.image || !state.ops.length) return;
    commit({ kind: "clear" });
    redraw();
  }

  // A mask file (white = hole) becomes a coloured layer at the image's size (nearest).
  async function loadMask(file) {
    if (!state.image) return say("Open an image first, then its mask.", true);
    if (!isImageFile(file)) return say("That mask is not an image file.", true);
    let img;
    try { img = await decode(file); } catch (err) { return say(err.message, true); }
    const w = els.maskCanvas.width, h = els.maskCanvas.height;
    const layer = document.createElement("canvas");
    layer.width = w; layer.height = h;
    const ctx = layer.getContext("2d", { willReadFrequently: true });
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(img, 0, 0, w, h);
    URL.revokeObjectURL(img.src);
    const data = ctx.getImageData(0, 0, w, h);
    const px = data.data;
    let holes = 0;
    for (let i = 0; i < px.length; i += 4) {
      const grey = (0.299 * px[i] + 0.587 * px[i + 1] + 0.114 * px[i + 2]) * px[i + 3] / 255;
      const hole = grey > 127;
      holes += hole;
      px[i] = 255; px[i + 1] = 59; px[i + 2] = 120; px[i + 3] = hole ? 255 : 0;
    }
    ctx.putImageData(data, 0, 0);
    commit({ kind: "mask", canvas: layer });
    redraw();
    const note = img.naturalWidth !== w || img.naturalHeight !== h ? " (resized to the image)" : "";
    say(`Mask loaded: ${holes} pixels to fill${note}.`);
  }

  // The mask to send: white where painted (alpha ≥ 128), black elsewhere, image-sized.
  function exportMask() {
    const w = els.maskCanvas.width, h = els.maskCanvas.height;
    const src = maskCtx.getImageData(0, 0, w, h).data;
    const out = new ImageData(w, h);
    let holes = 0;
    for (let i = 0; i < src.length; i += 4) {
      const v = src[i + 3] >= 128 ? 255 : 0;
      holes += v > 0;
      out.data[i] = out.data[i + 1] = out.data[i + 2] = v;
      out.data[i + 3] = 255;
    }
    const canvas = document.createElement("canvas");
    canvas.width = w; canvas.height = h;
    canvas.getContext("2d").putImageData(out, 0, 0);
    return { canvas, holes };
  }

  // ---------------------------------------------------------------- pointer input
  function setTool(tool) {
    state.tool = tool;
    for (const button of document.querySelectorAll(".tool")) {
      button.setAttribute("aria-pressed", String(button.dataset.tool === tool));
    }
    els.wrap.classList.toggle("rect", tool === "rect");
    els.cursor.classList.toggle("eraser", tool === "eraser");
    if (tool === "rect") els.cursor.hidden = true;
  }

  function setSize(value) {
    const size = Math.max(Number(els.size.min), Math.min(Number(els.size.max), Math.round(value)));
    els.size.value = String(size);
    els.sizeValue.textContent = `${size} px`;
    els.cursor.style.width = els.cursor.style.height = `${size}px`;
  }

  function moveCursor(event) {
    if (state.tool === "rect") return;
    const rect = els.wrap.getBoundingClientRect();
    els.cursor.hidden = false;
    els.cursor.style.left = `${event.clientX - rect.left}px`;
    els.cursor.style.top = `${event.clientY - rect.top}px`;
  }

  function showRect(a, b) {
    const scale = 1 / imagePerScreenPixel();
    const x = Math.min(a.x, b.x), y = Math.min(a.y, b.y);
    Object.assign(els.rectPreview.style, {
      left: `${x * scale}px`, top: `${y * scale}px`,
      width: `${Math.abs(b.x - a.x) * scale}px`, height: `${Math.abs(b.y - a.y) * scale}px`,
    });
    els.rectPreview.hidden = false;
  }

  function onPointerDown(event) {
    if (!state.image || event.button !== 0) return;
    event.preventDefault();
    els.maskCanvas.setPointerCapture(event.pointerId);
    const p = toImage(event);
    if (state.tool === "rect") {
      state.current = { kind: "rect-drag", start: p, end: p };
      showRect(p, p);
      return;
    }
    const op = {
      kind: "stroke", erase: state.tool === "eraser",
      radius: (brushDiameter() / 2) * imagePerScreenPixel(), points: [p],
    };
    state.current = op;
    strokeSegment(maskCtx, op, p, p);
  }

  function onPointerMove(event) {
    moveCursor(event);
    const op = state.current;
    if (!op) return;
    const p = toImage(event);
    if (op.kind === "rect-drag") {
      op.end = p;
      showRect(op.start, p);
      return;
    }
    const last = op.points[op.points.length - 1];
    if (Math.hypot(p.x - last.x, p.y - last.y) < 0.5) return;
    op.points.push(p);
    strokeSegment(maskCtx, op, last, p);
  }

  function onPointerUp() {
    const op = state.current;
    state.current = null;
    if (!op) return;
    if (op.kind === "rect-drag") {
      els.rectPreview.hidden = true;
      const clamp = (v, max) => Math.max(0, Math.min(max, v));
      const W = els.maskCanvas.width, H = els.maskCanvas.height;
      const x0 = Math.round(clamp(Math.min(op.start.x, op.end.x), W));
      const y0 = Math.round(clamp(Math.min(op.start.y, op.end.y), H));
      const x1 = Math.round(clamp(Math.max(op.start.x, op.end.x), W));
      const y1 = Math.round(clamp(Math.max(op.start.y, op.end.y), H));
      if (x1 - x0 < 1 || y1 - y0 < 1) return;
      const rect = { kind: "rect", x: x0, y: y0, w: x1 - x0, h: y1 - y0 };
      applyOp(maskCtx, rect);
      commit(rect);
      return;
    }
    commit(op);
  }

  // ---------------------------------------------------------------- caption check
  // The server's tokenizer: ASCII only, lower-case \w+ words. Words past the model's limit
  // and lines with no readable word are said here, before the request; unknown words need
  // the vocabulary, so the server names those in each result's warnings.
  function words(line) {
    return line.replace(/[^\x00-\x7f]/g, "").toLowerCase().match(/\w+/g) || [];
  }

  function checkCaption() {
    const limit = state.model && state.model.max_caption_words;
    const notes = [];
    els.caption.value.split("\n").forEach((line, i) => {
      if (!line.trim()) return;
      const n = words(line).length;
      const which = els.caption.value.includes("\n") ? `Line ${i + 1}` : "The caption";
      if (n === 0) notes.push(`${which} has no word the model can read (ASCII words only).`);
      else if (limit && n > limit) notes.push(`${which} has ${n} words; the model reads the first ${limit}.`);
    });
    els.captionCheck.textContent = notes.join(" ");
    els.captionCheck.hidden = !notes.length;
  }

  // ---------------------------------------------------------------- inpainting
  function captions() {
    const lines = els.caption.value.split("\n").map((s) => s.trim()).filter(Boolean);
    return lines.length ? lines.slice(0, MAX_VARIANTS) : [""];
  }

  async function requestInpaint(maskBlob, text) {
    const form = new FormData();
    form.append("image", state.imageBlob, state.imageName);
    form.append("mask", maskBlob, "mask.png");
    form.append("text", text);
    form.append("return_attention", els.explain.checked ? "true" : "false");
    form.append("flip_ensemble", els.flip.checked ? "true" : "false");
    form.append("seam", els.seam.checked ? "true" : "false");
    form.append("guidance_scale", els.guidance.value);
    const res = await fetch("api/v1/inpaint", { method: "POST", body: form });
    let body = null;
    try { body = await res.json(); } catch (err) { body = null; }
    if (!res.ok) throw new Error((body && body.error) || `the server answered ${res.status}`);
    return body;
  }

  async function inpaint() {
    if (state.busy) return;
    if (!state.image) return say("Open an image first.", true);
    const { canvas, holes } = exportMask();
    if (!holes) return say("Paint the part to fill first (brush, rectangle or a mask file).", true);
    const texts = captions();
    const maskBlob = await new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
    state.lastMask = canvas;
    setBusy(true);
    els.results.replaceChildren();
    const started = performance.now();
    try {
      for (const [i, text] of texts.entries()) {
        say(texts.length > 1 ? `Inpainting ${i + 1} of ${texts.length}…` : "Inpainting…");
        const answer = await requestInpaint(maskBlob, text);
        els.results.append(renderResult(i, text, answer));
      }
      const ms = performance.now() - started;
      const took = ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
      say(`Done: ${texts.length} result${texts.length > 1 ? "s" : ""} in ${took}.` +
          (els.explain.checked ? " Hover a word to see where the model used it." : ""));
    } catch (err) {
      say(err.message, true);
    } finally {
      setBusy(false);
    }
  }

  // ---------------------------------------------------------------- results, compare, explain
  function el(tag, props = {}, children = []) {
    const node = Object.assign(document.createElement(tag), props);
    node.append(...children);
    return node;
  }

  const HEAT = [[0, 0, 4], [87, 16, 110], [188, 55, 84], [249, 142, 9], [252, 255, 164]];
  function heatColour(v) { // inferno-like ramp, v in [0, 1]
    const t = Math.min(0.9999, Math.max(0, v)) * (HEAT.length - 1);
    const i = Math.floor(t), f = t - i, a = HEAT[i], b = HEAT[i + 1];
    return [0, 1, 2].map((k) => Math.round(a[k] + (b[k] - a[k]) * f));
  }

  async function paintHeat(canvas, entry) {
    if (canvas.dataset.word === entry.word) return;
    const img = new Image();
    img.src = `data:image/png;base64,${entry.map}`;
    await img.decode();
    const ctx = canvas.getContext("2d", { willReadFrequently: true });
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    ctx.drawImage(img, 0, 0, canvas.width, canvas.height);
    const data = ctx.getImageData(0, 0, canvas.width, canvas.height);
    const px = data.data;
    for (let i = 0; i < px.length; i += 4) {
      const v = px[i] / 255;
      const [r, g, b] = heatColour(v);
      px[i] = r; px[i + 1] = g; px[i + 2] = b; px[i + 3] = v > 0 ? Math.round(60 + 195 * v) : 0;
    }
    ctx.putImageData(data, 0, 0);
    canvas.dataset.word = entry.word;
  }

  function renderWords(compare, heat, attention) {
    if (!attention || !attention.length) {
      return el("p", { className: "meta", textContent: "No word attention for this result." });
    }
    const weights = attention.map((a) => (a.weight == null ? 0 : a.weight));
    const top = Math.max(...weights, 1e-6);
    const words = el("div", { className: "words" });
    words.setAttribute("aria-label", "Word weights (hover a word to see its attention)");
    attention.forEach((entry) => {
      const weight = entry.weight == null ? null : entry.weight;
      const fill = el("span", { className: "fill" });
      fill.style.width = `${weight == null ? 0 : (100 * weight) / top}%`;
      const button = el("button", {
        type: "button", className: "word",
        title: "Hover or focus to see where the model attended to this word",
      }, [
        el("span", { textContent: entry.word }),
        el("span", { className: "bar" }, [fill]),
        el("span", { className: "weight", textContent: weight == null ? "–" : weight.toFixed(2) }),
      ]);
      button.setAttribute("aria-label",
        `${entry.word}: word weight ${weight == null ? "not available" : weight.toFixed(2)}`);
      const show = async () => {
        await paintHeat(heat, entry);
        compare.classList.add("explaining");
        button.classList.add("active");
      };
      const hide = () => { compare.classList.remove("explaining"); button.classList.remove("active"); };
      button.addEventListener("mouseenter", show);
      button.addEventListener("focus", show);
      button.addEventListener("mouseleave", hide);
      button.addEventListener("blur", hide);
      words.append(button);
    });
    return words;
  }

  function renderResult(index, text, answer) {
    const n = index + 1;
    const src = `data:image/png;base64,${answer.image}`;
    const after = el("img", { className: "after", src, alt: `Result ${n}: ${text || "no caption"}` });
    const before = el("img", { className: "before", src: state.image.src, alt: "" });
    before.setAttribute("aria-hidden", "true");
    before.style.clipPath = "inset(0 100% 0 0)";
    const heat = el("canvas", { className: "heat", width: answer.width, height: answer.height });
    const divider = el("div", { className: "divider" });
    divider.style.left = "0%";
    const tag = el("span", { className: "tag", textContent: "before" });
    const compare = el("div", { className: "compare" }, [after, heat, before, divider, tag]);
    const slider = el("input", { type: "range", min: 0, max: 100, value: 0 });
    slider.setAttribute("aria-label", `Compare before and after, result ${n}`);
    slider.addEventListener("input", () => {
      const v = Number(slider.value);
      before.style.clipPath = `inset(0 ${100 - v}% 0 0)`;
      divider.style.left = `${v}%`;
    });
    const card = el("article", { className: "result" });
    card.setAttribute("aria-label", `Result ${n}`);
    const hold = el("button", { type: "button", textContent: "Hold to compare" });
    hold.addEventListener("pointerdown", () => card.classList.add("show-before"));
    for (const type of ["pointerup", "pointerleave", "pointercancel"]) {
      hold.addEventListener(type, () => card.classList.remove("show-before"));
    }
    const base = state.imageName.replace(/\.[^.]+$/, "");
    const download = el("a", {
      className: "button", href: src, download: `${base}-inpainted-${n}.png`,
      textContent: "Download",
    });
    // What the model could not read of the caption (unknown words, words past its limit)
    const notes = (answer.warnings || []).map((w) => el("p", { className: "warning", textContent: w }));
    notes.forEach((n) => n.setAttribute("role", "note"));
    card.append(
      el("p", { className: text ? "caption" : "caption none", textContent: text || "(no caption)" }),
      ...notes,
      compare,
      el("div", { className: "controls" }, [el("span", { textContent: "before" }), slider,
        el("span", { textContent: "after" })]),
      renderWords(compare, heat, answer.attention),
      el("div", { className: "actions" }, [download, hold]),
      el("p", { className: "meta", textContent:
        `${answer.width}×${answer.height} · ${answer.model} · ${Math.round(answer.time_ms)} ms` }),
    );
    els.results.classList.toggle("pixelated-results", answer.width < 128);
    return card;
  }

  // ---------------------------------------------------------------- keyboard, drop, paste
  function typing(target) {
    return target instanceof HTMLTextAreaElement ||
      (target instanceof HTMLInputElement && !["range", "checkbox", "file"].includes(target.type));
  }

  function onKeyDown(event) {
    const key = event.key.toLowerCase();
    const ctrl = event.ctrlKey || event.metaKey;
    if (ctrl && key === "enter") { event.preventDefault(); inpaint(); return; }
    if (typing(event.target)) return;
    if (ctrl && key === "z") { event.preventDefault(); (event.shiftKey ? redo : undo)(); return; }
    if (ctrl && key === "y") { event.preventDefault(); redo(); return; }
    if (ctrl || event.altKey) return;
    if (key === "b") setTool("brush");
    else if (key === "e") setTool("eraser");
    else if (key === "r") setTool("rect");
    else if (key === "[") setSize(brushDiameter() / 1.2 - 1);
    else if (key === "]") setSize(brushDiameter() * 1.2 + 1);
    else if (key === "c") document.body.classList.add("show-before");
  }

  function onKeyUp(event) {
    if (event.key.toLowerCase() === "c") document.body.classList.remove("show-before");
  }

  function firstImage(list) {
    return Array.from(list || []).find(isImageFile) || null;
  }

  function wireDropAndPaste() {
    document.addEventListener("dragover", (event) => {
      event.preventDefault();
      els.stage.classList.add("dragging");
    });
    document.addEventListener("dragleave", (event) => {
      if (!event.relatedTarget) els.stage.classList.remove("dragging");
    });
    document.addEventListener("drop", (event) => {
      event.preventDefault();
      els.stage.classList.remove("dragging");
      const file = firstImage(event.dataTransfer && event.dataTransfer.files);
      if (file) loadImage(file); else say("Drop an image file.", true);
    });
    document.addEventListener("paste", (event) => {
      const items = Array.from((event.clipboardData && event.clipboardData.items) || []);
      const item = items.find((it) => it.kind === "file" && it.type.startsWith("image/"));
      if (!item) return; // plain text pastes go to the caption as usual
      event.preventDefault();
      loadImage(item.getAsFile());
    });
  }

  function wire() {
    els.imageInput.addEventListener("change", () => {
      if (els.imageInput.files[0]) loadImage(els.imageInput.files[0]);
      els.imageInput.value = "";
    });
    els.maskInput.addEventListener("change", () => {
      if (els.maskInput.files[0]) loadMask(els.maskInput.files[0]);
      els.maskInput.value = "";
    });
    for (const button of document.querySelectorAll(".tool")) {
      button.addEventListener("click", () => setTool(button.dataset.tool));
    }
    els.size.addEventListener("input", () => setSize(brushDiameter()));
    els.guidance.addEventListener("input", () => setGuidance(Number(els.guidance.value)));
    els.undo.addEventListener("click", undo);
    els.redo.addEventListener("click", redo);
    els.clear.addEventListener("click", clearMask);
    els.inpaint.addEventListener("click", inpaint);
    els.caption.addEventListener("input", checkCaption);
    els.maskCanvas.addEventListener("pointerdown", onPointerDown);
    els.maskCanvas.addEventListener("pointermove", onPointerMove);
    els.maskCanvas.addEventListener("pointerup", onPointerUp);
    els.maskCanvas.addEventListener("pointercancel", onPointerUp);
    els.maskCanvas.addEventListener("pointerleave", () => { els.cursor.hidden = true; });
    document.addEventListener("keydown", onKeyDown);
    document.addEventListener("keyup", onKeyUp);
    window.addEventListener("blur", () => document.body.classList.remove("show-before"));
    window.addEventListener("resize", fit);
    wireDropAndPaste();
  }

  wire();
  setSize(brushDiameter());
  setTool("brush");
  updateHistoryButtons();
  loadModelInfo();
})();
