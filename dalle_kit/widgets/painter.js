// MaskPainter's front end (anywidget). The brush runs here, on a canvas at the picture's full size shown
// scaled; after each stroke the whole edit area (alpha = edit) goes back to Python as one PNG. Undo, clear
// and invert ask Python, which keeps the history, and send the result back the same way. Python's error (a
// twin, a trait or a browser action that failed) shows under the status line.

const TOOLS = [["brush", "Brush"], ["eraser", "Eraser"], ["rect", "Rectangle"], ["ellipse", "Ellipse"]];
const ACTIONS = [["undo", "Undo", "undo the last step"], ["clear", "Clear", "nothing to edit"],
                 ["invert", "Invert", "edit everything except what is painted"]];

function make(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text) node.textContent = text;
  return node;
}

function render({ model, el }) {
  const root = make("div", "dk-painter");
  const bar = make("div", "dk-painter-bar");
  const stage = make("div", "dk-painter-stage");
  const img = make("img", "dk-painter-image");
  const paint = make("canvas", "dk-painter-mask");   // the edit area, in the tint colour
  const guide = make("canvas", "dk-painter-guide");  // cursor and shape outline; takes the pointer
  const status = make("div", "dk-painter-status");
  const error = make("div", "dk-painter-error");
  error.setAttribute("role", "alert");
  img.alt = "picture to edit";
  img.draggable = false;
  stage.append(img, paint, guide);
  root.append(bar, stage, status, error);
  el.append(root);

  const toolButtons = {};
  for (const [name, label] of TOOLS) {
    const b = make("button", "dk-painter-tool", label);
    b.type = "button";
    b.dataset.tool = name;
    b.addEventListener("click", () => { model.set("tool", name); model.save_changes(); });
    toolButtons[name] = b;
    bar.append(b);
  }
  const sizeLabel = make("label", "dk-painter-size", "size ");
  const slider = make("input");
  slider.type = "range";
  slider.min = "1";
  const sizeValue = make("span", "dk-painter-size-value");
  sizeLabel.append(slider, sizeValue);
  bar.append(sizeLabel);
  slider.addEventListener("input", () => { model.set("brush_size", Number(slider.value)); model.save_changes(); });
  const actionButtons = {};
  for (const [event, label, title] of ACTIONS) {
    const b = make("button", "dk-painter-action", label);
    b.type = "button";
    b.title = title;
    b.dataset.action = event;
    b.addEventListener("click", () => model.send({ event }));
    actionButtons[event] = b;
    bar.append(b);
  }

  const ctx = paint.getContext("2d");
  const gtx = guide.getContext("2d");
  let lastSent = "";
  let drag = null;
  let loading = 0;

  function layout() {
    const w = model.get("width"), h = model.get("height");
    for (const c of [paint, guide]) {
      if (c.width !== w) c.width = w;   // resizing a canvas clears it: only when the picture changes
      if (c.height !== h) c.height = h;
    }
    stage.style.width = `${model.get("display_width")}px`;
    stage.style.aspectRatio = `${w} / ${h}`;
    paint.style.opacity = String(model.get("opacity"));
    slider.max = String(Math.max(8, Math.round(Math.min(w, h) / 4)));
    slider.value = String(model.get("brush_size"));
  }

  function refreshBar() {
    for (const [name, b] of Object.entries(toolButtons)) b.classList.toggle("active", name === model.get("tool"));
    actionButtons.undo.disabled = !model.get("can_undo");
    status.textContent = model.get("status");
    slider.value = String(model.get("brush_size"));
    sizeValue.textContent = `${model.get("brush_size")} px`;
  }

  function showError() {
    error.textContent = model.get("error");
    error.hidden = !model.get("error");
  }

  // Display coordinates to image pixels, whatever the shown scale (the canvases have no border or padding).
  function toImage(e) {
    const r = guide.getBoundingClientRect();
    return [(e.clientX - r.left) * guide.width / r.width, (e.clientY - r.top) * guide.height / r.height];
  }

  function scale() {
    return guide.width / guide.getBoundingClientRect().width;
  }

  function pen(tool) {
    ctx.globalCompositeOperation = tool === "eraser" ? "destination-out" : "source-over";
    ctx.fillStyle = ctx.strokeStyle = model.get("color");
    ctx.lineWidth = model.get("brush_size");
    ctx.lineCap = ctx.lineJoin = "round";
  }

  function dab([x, y], tool) {
    pen(tool);
    ctx.beginPath();
    ctx.arc(x, y, model.get("brush_size") / 2, 0, 2 * Math.PI);
    ctx.fill();
  }

  function segment([x0, y0], [x1, y1], tool) {
    pen(tool);
    ctx.beginPath();
    ctx.moveTo(x0, y0);
    ctx.lineTo(x1, y1);
    ctx.stroke();
  }

  function outline(a, b, tool) {
    const [x0, x1] = [Math.min(a[0], b[0]), Math.max(a[0], b[0])];
    const [y0, y1] = [Math.min(a[1], b[1]), Math.max(a[1], b[1])];
    const path = new Path2D();
    if (tool === "rect") {
      const [l, t, r, btm] = [x0, y0, x1, y1].map(Math.round);
      path.rect(l, t, r - l, btm - t);
    } else {
      path.ellipse((x0 + x1) / 2, (y0 + y1) / 2, Math.max((x1 - x0) / 2, 0.01), Math.max((y1 - y0) / 2, 0.01),
                   0, 0, 2 * Math.PI);
    }
    return path;
  }

  function showCursor(p, extra) {
    gtx.clearRect(0, 0, guide.width, guide.height);
    gtx.lineWidth = 1.5 * scale();
    gtx.strokeStyle = model.get("color");
    if (extra) gtx.stroke(extra);
    const tool = model.get("tool");
    if (p && (tool === "brush" || tool === "eraser")) {
      gtx.beginPath();
      gtx.arc(p[0], p[1], model.get("brush_size") / 2, 0, 2 * Math.PI);
      gtx.stroke();
    }
  }

  function send() {
    lastSent = paint.toDataURL("image/png");
    model.set("area_url", lastSent);
    model.save_changes();
  }

  function drawArea(url) {
    const token = ++loading;
    if (!url) { ctx.clearRect(0, 0, paint.width, paint.height); return; }
    const picture = new Image();
    picture.onload = () => {
      if (token !== loading || drag) return;  // a newer picture, or a stroke whose result will replace it
      ctx.save();
      ctx.globalCompositeOperation = "copy";
      ctx.drawImage(picture, 0, 0, paint.width, paint.height);
      ctx.globalCompositeOperation = "source-in";
      ctx.fillStyle = model.get("color");
      ctx.fillRect(0, 0, paint.width, paint.height);
      ctx.restore();
    };
    picture.src = url;
  }

  guide.addEventListener("pointerdown", (e) => {
    if (e.button !== 0) return;
    e.preventDefault();
    guide.setPointerCapture(e.pointerId);
    const p = toImage(e);
    drag = { tool: model.get("tool"), start: p, last: p };
    if (drag.tool === "brush" || drag.tool === "eraser") dab(p, drag.tool);
  });
  guide.addEventListener("pointermove", (e) => {
    const p = toImage(e);
    if (!drag) { showCursor(p); return; }
    if (drag.tool === "brush" || drag.tool === "eraser") {
      segment(drag.last, p, drag.tool);
      drag.last = p;
      showCursor(p);
    } else {
      showCursor(null, outline(drag.start, p, drag.tool));
    }
  });
  const finish = (e) => {
    if (!drag) return;
    const p = toImage(e);
    if (drag.tool === "brush" || drag.tool === "eraser") {
      if (p[0] !== drag.last[0] || p[1] !== drag.last[1]) segment(drag.last, p, drag.tool);
    } else {
      pen("brush");
      ctx.fill(outline(drag.start, p, drag.tool));
    }
    drag = null;
    showCursor(null);
    send();
  };
  guide.addEventListener("pointerup", finish);
  guide.addEventListener("pointercancel", finish);
  guide.addEventListener("pointerleave", () => { if (!drag) showCursor(null); });

  const onArea = () => { const url = model.get("area_url"); if (url !== lastSent) drawArea(url); };
  const onImage = () => { img.src = model.get("image_url"); layout(); drawArea(model.get("area_url")); };
  model.on("change:area_url", onArea);
  model.on("change:image_url change:width change:height", onImage);
  model.on("change:display_width change:opacity", layout);
  model.on("change:tool change:can_undo change:status change:brush_size", refreshBar);
  model.on("change:color", () => drawArea(model.get("area_url")));
  model.on("change:error", showError);
  onImage();
  refreshBar();
  showError();

  return () => {
    model.off("change:area_url", onArea);
    model.off("change:image_url change:width change:height", onImage);
    model.off("change:display_width change:opacity", layout);
    model.off("change:tool change:can_undo change:status change:brush_size", refreshBar);
    model.off("change:color");
    model.off("change:error", showError);
  };
}

export default { render };
