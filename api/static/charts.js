/* Small SVG charts drawn by hand: stacked bars for volume, lines for rates with a target band.
   Each chart is an <svg role="img"> with a title; the dashboard adds a data table beside it. */
"use strict";

window.PAMCharts = (function () {
  const { el } = window.PAM;
  const W = 560, H = 240, M = { l: 56, r: 14, t: 14, b: 42 };
  const IW = W - M.l - M.r, IH = H - M.t - M.b;

  function frame(title) {
    const svg = el("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": title,
                            preserveAspectRatio: "xMidYMid meet" });
    svg.append(el("title", {}, title));
    return svg;
  }

  function xLabels(svg, labels, x) {
    // As many labels as fit, counted back from the newest period, which is always shown.
    // Phones draw the text larger (see app.css), so each label needs more room there.
    const room = window.matchMedia("(max-width: 600px)").matches ? 100 : 64;
    const slot = IW / Math.max(1, labels.length);
    const every = Math.max(1, Math.ceil(room / slot));
    const last = labels.length - 1;
    labels.forEach((label, i) => {
      if ((last - i) % every !== 0) return;
      // Keep the edge labels inside the drawing instead of cut off by it.
      const half = room * 0.45;
      const [at, anchor] = x(i) + half > W ? [W - 2, "end"] : x(i) - half < 0 ? [2, "start"] : [x(i), "middle"];
      svg.append(el("text", { x: at, y: H - M.b + 16, "text-anchor": anchor }, label));
    });
    svg.append(el("line", { class: "axis", x1: M.l, x2: W - M.r, y1: M.t + IH, y2: M.t + IH }));
  }

  function yAxis(svg, max, format) {
    const ticks = 4;
    for (let i = 0; i <= ticks; i++) {
      const v = (max * i) / ticks;
      const y = M.t + IH - (IH * i) / ticks;
      svg.append(el("line", { class: "grid", x1: M.l, x2: W - M.r, y1: y, y2: y }));
      svg.append(el("text", { x: M.l - 6, y: y + 4, "text-anchor": "end" }, format(v)));
    }
  }

  function niceMax(value) {
    if (value <= 5) return 5;
    const pow = Math.pow(10, Math.floor(Math.log10(value)));
    for (const step of [1, 2, 2.5, 5, 10]) if (step * pow >= value) return step * pow;
    return 10 * pow;
  }

  /** Stacked bars: series = [{label, cls, values}], one value per label. */
  function stackedBars(title, labels, series) {
    const svg = frame(title);
    const totals = labels.map((_, i) => series.reduce((sum, s) => sum + (s.values[i] || 0), 0));
    const max = niceMax(Math.max(1, ...totals));
    yAxis(svg, max, (v) => String(Math.round(v)));
    const slot = IW / Math.max(1, labels.length);
    const bar = Math.max(2, Math.min(48, slot * 0.7));
    const x = (i) => M.l + slot * i + slot / 2;
    labels.forEach((label, i) => {
      let base = 0;
      for (const s of series) {
        const v = s.values[i] || 0;
        if (!v) continue;
        const h = (IH * v) / max;
        const y = M.t + IH - (IH * base) / max - h;
        const rect = el("rect", { class: s.cls, x: x(i) - bar / 2, y, width: bar, height: h });
        rect.append(el("title", {}, `${label}: ${v} ${s.label.toLowerCase()}`));
        svg.append(rect);
        base += v;
      }
    });
    xLabels(svg, labels, x);
    return svg;
  }

  /** Rates (0..1) as lines over time. band: {min, max} shaded as the target; limit: a red line.
      A point is drawn red when isRed(value) says so. */
  function rateLines(title, labels, lines, { band = null, limit = null, isRed = () => false } = {}) {
    const svg = frame(title);
    const values = lines.flatMap((l) => l.values).filter((v) => v !== null && v !== undefined);
    const top = Math.min(1, Math.max(0.1, band ? band.max : 0, limit || 0, ...values) * 1.15);
    const max = top >= 0.5 ? 1 : Math.ceil(top * 20) / 20;
    const y = (v) => M.t + IH - (IH * v) / max;
    const slot = IW / Math.max(1, labels.length);
    const x = (i) => M.l + slot * i + slot / 2;
    if (band) {
      const lo = band.min || 0, hi = Math.min(band.max, max);
      svg.append(el("rect", { class: "band", x: M.l, width: IW, y: y(hi), height: y(lo) - y(hi) }));
      for (const edge of [band.min, band.max]) {
        if (edge === undefined || edge === null || edge > max) continue;
        svg.append(el("line", { class: "band-edge", x1: M.l, x2: W - M.r, y1: y(edge), y2: y(edge) }));
      }
    }
    yAxis(svg, max, (v) => Math.round(v * 100) + "%");
    if (limit !== null && limit <= max) {
      svg.append(el("line", { class: "limit", x1: M.l, x2: W - M.r, y1: y(limit), y2: y(limit) }));
    }
    for (const line of lines) {
      let d = "";
      let pen = false;
      line.values.forEach((v, i) => {
        if (v === null || v === undefined) { pen = false; return; }
        d += (pen ? " L " : " M ") + x(i).toFixed(1) + " " + y(v).toFixed(1);
        pen = true;
      });
      if (d) svg.append(el("path", { class: "line " + line.cls, d: d.trim() }));
      line.values.forEach((v, i) => {
        if (v === null || v === undefined) return;
        const dot = el("circle", { class: "point " + line.cls + (isRed(v) ? " red" : ""), cx: x(i), cy: y(v),
                                   r: isRed(v) ? 5 : 3.5 });
        dot.append(el("title", {}, `${labels[i]}: ${line.label} ${Math.round(v * 100)}%`));
        svg.append(dot);
      });
    }
    xLabels(svg, labels, x);
    return svg;
  }

  function legend(items) {
    return el("div", { class: "legend", "aria-hidden": "true" }, items.map(([cls, text]) => el("span", { class: cls }, text)));
  }

  return { stackedBars, rateLines, legend };
})();
