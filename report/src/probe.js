// Run in the report page by the browser test: measures the page and its charts and writes the
// result as JSON into a <pre> with the id "probe", which chromium's --dump-dom prints. Per chart:
// its texts, the pairs of text boxes that overlap, and the texts a drawn line crosses.
window.addEventListener("load", () => {
  const out = { height: document.documentElement.scrollHeight, charts: [] };
  // Whether the segment a–b passes through the rectangle r (Liang–Barsky clipping).
  const crosses = (a, b, r) => {
    let t0 = 0, t1 = 1;
    const dx = b.x - a.x, dy = b.y - a.y;
    for (const [p, q] of [[-dx, a.x - r.left], [dx, r.right - a.x], [-dy, a.y - r.top], [dy, r.bottom - a.y]]) {
      if (p === 0) { if (q < 0) return false; continue; }
      const t = q / p;
      if (p < 0) { if (t > t1) return false; if (t > t0) t0 = t; }
      else { if (t < t0) return false; if (t < t1) t1 = t; }
    }
    return true;
  };
  for (const svg of document.querySelectorAll("figure svg")) {
    const texts = Array.from(svg.querySelectorAll("text"))
      .filter(t => t.textContent.trim() !== "")
      .map(t => ({ s: t.textContent.trim(), r: t.getBoundingClientRect() }));
    const overlaps = [];
    for (let i = 0; i < texts.length; i++)
      for (let j = i + 1; j < texts.length; j++) {
        const a = texts[i].r, b = texts[j].r;
        // A pixel of slack: glyph boxes of neighbouring labels may touch.
        if (a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1)
          overlaps.push([texts[i].s, texts[j].s]);
      }
    // Every drawn segment, in page pixels.
    const segments = [];
    for (const el of svg.querySelectorAll("polyline, line")) {
      const m = el.getScreenCTM();
      const at = (x, y) => { const p = svg.createSVGPoint(); p.x = x; p.y = y; return p.matrixTransform(m); };
      let pts;
      if (el.tagName === "line")
        pts = [at(+el.getAttribute("x1"), +el.getAttribute("y1")), at(+el.getAttribute("x2"), +el.getAttribute("y2"))];
      else
        pts = Array.from(el.points).map(p => at(p.x, p.y));
      for (let k = 1; k < pts.length; k++) segments.push([pts[k - 1], pts[k], el.getAttribute("stroke")]);
    }
    const crossed = [];
    for (const t of texts) {
      // The glyphs' own box, a pixel in from the text box's edges.
      const r = { left: t.r.left + 1, right: t.r.right - 1, top: t.r.top + 1, bottom: t.r.bottom - 1 };
      const hit = segments.find(([a, b]) => crosses(a, b, r));
      if (hit) crossed.push([t.s, hit[2]]);
    }
    out.charts.push({ id: svg.closest("figure").id, texts: texts.map(t => t.s), overlaps, crossed });
  }
  const pre = document.createElement("pre");
  pre.id = "probe";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
