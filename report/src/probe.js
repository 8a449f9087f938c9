// Run in the report page by the browser test: measures the page and its charts and writes the
// result as JSON into <pre id="probe">, which chromium's --dump-dom prints.
window.addEventListener("load", () => {
  const out = { height: document.documentElement.scrollHeight, charts: [] };
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
    out.charts.push({ id: svg.closest("figure").id, texts: texts.map(t => t.s), overlaps });
  }
  const pre = document.createElement("pre");
  pre.id = "probe";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
