//! The page: one HTML file with inline CSS and a few lines of inline script to sort the table,
//! nothing fetched from the network. Every text that came from a result file is escaped.

use crate::charts::Drawn;
use crate::format;
use crate::Runs;
use ipcbench_results::{latency, CaseResult, Process, RunFile, Scenario, Summary, Transport, Wait};
use std::fmt::Write;

/// Escapes text for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = r#"
:root { --fg: #1d1d1f; --muted: #5f6368; --line: #d9dce1; --bad: #b3261e; --bad-bg: #fdecea;
  --warn-bg: #fff6e0; --warn: #8a5a00; --ok: #1e7b34; --head: #f3f4f6; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg);
  margin: 0 auto; padding: 24px 28px 60px; max-width: 1480px; }
h1 { font-size: 28px; margin: 0 0 4px; }
h2 { font-size: 21px; margin: 36px 0 10px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
.sub { color: var(--muted); margin: 0 0 14px; }
nav { margin: 10px 0 4px; }
nav a { margin-right: 14px; }
code { font: 13px/1.3 ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; }
table { border-collapse: collapse; }
th, td { padding: 4px 10px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
th { background: var(--head); font-weight: 600; }
table.env th { width: 210px; background: none; color: var(--muted); font-weight: 500; }
table.cases { font-size: 13px; width: 100%; }
table.cases th, table.cases td { padding: 3px 8px; }
table.cases th { position: sticky; top: 0; cursor: pointer; user-select: none; white-space: nowrap; }
table.cases th[aria-sort="ascending"]::after { content: " ▲"; }
table.cases th[aria-sort="descending"]::after { content: " ▼"; }
table.cases td.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
table.cases td.id { white-space: nowrap; }
table.cases td.notes { min-width: 16em; max-width: 30em; font-size: 12px; color: var(--muted); }
table.cases td.notes .bad { font-size: 13px; }
tr.failed td { background: var(--bad-bg); }
tr.skipped td { color: var(--muted); }
.bad { color: var(--bad); font-weight: 600; }
.okay { color: var(--ok); }
.alert { border: 2px solid var(--bad); background: var(--bad-bg); padding: 10px 16px; border-radius: 6px; margin: 16px 0; }
.alert h2 { border: none; margin: 0 0 6px; color: var(--bad); }
.alert li { margin: 3px 0; }
.warnings { background: var(--warn-bg); border-left: 4px solid var(--warn); padding: 8px 16px; margin: 10px 0; }
.warnings li { margin: 4px 0; }
figure { margin: 18px 0 34px; }
.toc { line-height: 1.9; }
details { margin: 12px 0; }
summary { cursor: pointer; color: var(--muted); }
figure svg { max-width: 100%; height: auto; border: 1px solid var(--line); border-radius: 4px; }
/* On a phone a chart scaled to the screen has unreadable text: keep it wide enough to read and
   let it scroll sideways. */
@media (max-width: 760px) {
  figure { overflow-x: auto; }
  figure svg { max-width: none; width: 760px; }
  body { padding: 14px 12px 40px; }
}
.muted { color: var(--muted); font-size: 13px; }
table.pivot, table.findings { font-size: 13px; }
table.pivot td.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
td.skip { color: var(--muted); font-size: 12px; }
#filter { width: min(32em, 100%); padding: 5px 8px; font: inherit; }
nav a { display: inline-block; }
figcaption { color: var(--muted); max-width: 960px; margin-top: 6px; }
.wrap { overflow-x: auto; }
footer { margin-top: 40px; color: var(--muted); font-size: 13px; }
"#;

/// Sorts a table by the clicked column: numbers by their `data-v`, text otherwise; rows without
/// a value stay at the bottom either way.
const SCRIPT: &str = r#"
const filter = document.getElementById("filter");
if (filter) filter.addEventListener("input", () => {
  const words = filter.value.toLowerCase().split(/\s+/).filter(w => w);
  for (const row of document.querySelectorAll("table.cases tbody tr"))
    row.hidden = !words.every(w => row.textContent.toLowerCase().includes(w));
});
for (const table of document.querySelectorAll("table.sortable")) {
  const heads = table.tHead.rows[0].cells;
  for (let col = 0; col < heads.length; col++) {
    heads[col].addEventListener("click", () => {
      const asc = heads[col].getAttribute("aria-sort") !== "ascending";
      for (const h of heads) h.removeAttribute("aria-sort");
      heads[col].setAttribute("aria-sort", asc ? "ascending" : "descending");
      const body = table.tBodies[0];
      const key = (row) => {
        const cell = row.cells[col];
        const v = cell.dataset.v;
        if (v !== undefined && v !== "") return Number(v);
        const t = cell.textContent.trim();
        return t === "" ? null : t;
      };
      const rows = Array.from(body.rows);
      rows.sort((a, b) => {
        const x = key(a), y = key(b);
        if (x === null) return y === null ? 0 : 1;
        if (y === null) return -1;
        const c = (typeof x === "number" && typeof y === "number") ? x - y : String(x).localeCompare(String(y));
        return asc ? c : -c;
      });
      for (const r of rows) body.appendChild(r);
    });
  }
}
"#;

pub fn page(runs: &Runs, drawn: &Drawn) -> String {
    let run = &runs.main;
    let info = &run.run;
    let mut h = String::with_capacity(64 * 1024 + run.cases.len() * 1024);
    let title = format!("ipcbench report — {} — {}", info.hostname, info.id);
    let _ = write!(
        h,
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        esc(&title)
    );
    let _ = writeln!(h, "<header>\n<h1>ipcbench report</h1>");
    let _ = writeln!(
        h,
        "<p class=\"sub\">Run <code>{}</code> on <b>{}</b>, started {}{}.</p>",
        esc(&info.id),
        esc(&info.hostname),
        esc(&info.started_at),
        if info.quick { " (quick: fewer iterations, coarser figures)" } else { "" }
    );
    let failed: Vec<&CaseResult> = run.cases.iter().filter(|c| c.error.is_some()).collect();
    let sections = scenario_sections(run);
    let mut nav = vec![("findings".to_string(), "Findings".to_string())];
    if !failed.is_empty() {
        nav.insert(0, ("failures".into(), "Failed cases".into()));
    }
    if !run.warnings.is_empty() {
        nav.push(("warnings".into(), "Warnings".into()));
    }
    nav.extend(sections.iter().map(|s| (format!("s-{s}"), s.to_string())));
    if drawn.charts.iter().any(|c| c.file.starts_with("trend-")) {
        nav.push(("trend".into(), "Trend".into()));
    }
    nav.push(("environment".into(), "Environment".into()));
    nav.push(("cases".into(), "All cases".into()));
    let _ = writeln!(
        h,
        "<nav>{}</nav>\n</header>",
        nav.iter()
            .map(|(id, name)| format!("<a href=\"#{}\">{}</a>", esc(id), esc(name)))
            .collect::<String>()
    );

    interruption(&mut h, run);
    failures(&mut h, &failed);
    warnings(&mut h, run);
    findings(&mut h, run);
    for s in &sections {
        let _ = writeln!(h, "<section id=\"s-{0}\">\n<h2>{0}</h2>", esc(s));
        charts(&mut h, drawn, |file| chart_scenario(file) == *s);
        if *s == "seed" {
            claims(&mut h, run);
        }
        pivot(&mut h, run, s);
        let _ = writeln!(h, "</section>");
    }
    if drawn.charts.iter().any(|c| c.file.starts_with("trend-")) {
        let _ = writeln!(h, "<section id=\"trend\">\n<h2>Trend over runs</h2>");
        charts(&mut h, drawn, |file| file.starts_with("trend-"));
        let _ = writeln!(h, "</section>");
    }
    for f in &drawn.failures {
        let _ = writeln!(
            h,
            "<p class=\"bad\">The chart {} could not be drawn: {}</p>",
            esc(&f.file),
            esc(&f.error)
        );
    }
    environment(&mut h, runs);
    cases(&mut h, run);

    let _ = writeln!(
        h,
        "<footer>Made by ipcbench-report {} from {} ({} run{} in the trend). One self-contained \
         page: the charts are inline (each is also written beside it as an SVG file).</footer>",
        esc(env!("CARGO_PKG_VERSION")),
        esc(&runs.main_path.display().to_string()),
        runs.history.len(),
        if runs.history.len() == 1 { "" } else { "s" }
    );
    let _ = write!(h, "<script>{SCRIPT}</script>\n</body>\n</html>\n");
    h
}

fn interruption(h: &mut String, run: &RunFile) {
    if let Some(why) = &run.run.interrupted {
        let _ = writeln!(
            h,
            "<div class=\"alert\"><h2>Interrupted run</h2><p>The run ended before all its cases \
             were measured: {}. What it measured is shown.</p></div>",
            esc(why)
        );
    }
    if let Some(slowdown) = &run.run.slowdown {
        let _ = writeln!(
            h,
            "<div class=\"alert\"><h2>Test slow-down in force</h2><p>This run was made with a \
             test-only slow-down ({}); its figures do not describe the machine.</p></div>",
            esc(slowdown)
        );
    }
}

fn failures(h: &mut String, failed: &[&CaseResult]) {
    if failed.is_empty() {
        return;
    }
    let _ = writeln!(
        h,
        "<section class=\"alert\" id=\"failures\">\n<h2>{} failed case{}</h2>\n<ul>",
        failed.len(),
        if failed.len() == 1 { "" } else { "s" }
    );
    for c in failed {
        let _ = writeln!(
            h,
            "<li><code>{}</code>: {}</li>",
            esc(&c.id),
            esc(c.error.as_deref().unwrap_or_default())
        );
    }
    let _ = writeln!(h, "</ul>\n</section>");
}

fn environment(h: &mut String, runs: &Runs) {
    let info = &runs.main.run;
    let mut rows: Vec<(&str, String)> = vec![
        ("Host", esc(&info.hostname)),
        ("Kernel", esc(&info.kernel)),
        ("CPU", esc(&info.cpu_model)),
        ("Logical CPUs", info.logical_cpus.to_string()),
        ("Memory", esc(&format::bytes(info.memory_bytes as f64))),
    ];
    let fs = if info.filesystems.is_empty() {
        "not recorded".to_string()
    } else {
        info.filesystems
            .iter()
            .map(|(dir, fs)| format!("<code>{}</code>: {}", esc(dir), esc(fs)))
            .collect::<Vec<_>>()
            .join("<br>")
    };
    rows.push(("Filesystems", fs));
    rows.push((
        "Pinning",
        match &info.pinning {
            Some(cpus) if !cpus.is_empty() => format!(
                "CPUs {}",
                cpus.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(", ")
            ),
            _ => "none (the scheduler placed the processes)".into(),
        },
    ));
    rows.push((
        "Clock",
        format!(
            "CLOCK_MONOTONIC via {}, one read costs {}",
            esc(&info.clock_source),
            esc(&format::ns(info.clock_overhead_ns))
        ),
    ));
    rows.push(("ipcbench version", esc(&info.ipcbench_version)));
    rows.push((
        "Commit",
        info.git_commit
            .as_deref()
            .map(|c| format!("<code>{}</code>", esc(c)))
            .unwrap_or_else(|| "not known".into()),
    ));
    rows.push(("Command line", format!("<code>{}</code>", esc(&info.command_line.join(" ")))));
    rows.push(("Quick", if info.quick { "yes (--quick)".into() } else { "no".into() }));
    rows.push(("Started", format!("{} ({})", esc(&info.started_at), esc(&info.id))));
    let _ = writeln!(
        h,
        "<section id=\"environment\">\n<h2>Run environment</h2>\n<details><summary>{} on {}, \
         {} logical CPUs, kernel {}</summary>\n<table class=\"env\">",
        esc(&info.cpu_model),
        esc(&info.hostname),
        info.logical_cpus,
        esc(&info.kernel)
    );
    for (k, v) in rows {
        let _ = writeln!(h, "<tr><th>{k}</th><td>{v}</td></tr>");
    }
    let _ = writeln!(h, "</table></details>");
    if runs.history.len() > 1 {
        let _ = writeln!(
            h,
            "<details><summary>{} runs feed the trend charts</summary>\n<table class=\"runs\">\n\
             <thead><tr><th>Run</th><th>Started (UTC)</th><th>Host</th><th>Commit</th>\
             <th>Cases</th><th>Id</th></tr></thead>\n<tbody>",
            runs.history.len()
        );
        // The run numbers of the trend charts: full and quick runs are counted apart.
        let mut counted = [0usize; 2];
        for r in &runs.history {
            counted[usize::from(r.run.quick)] += 1;
            let number = counted[usize::from(r.run.quick)];
            let _ = writeln!(
                h,
                "<tr><td class=\"num\">{}</td><td>{}</td><td>{}</td><td><code>{}</code></td>\
                 <td>{}</td><td><code>{}</code>{}</td></tr>",
                if r.run.quick { format!("quick {number}") } else { number.to_string() },
                esc(&format::utc_minute(r.run.started_unix_s)),
                esc(&r.run.hostname),
                esc(r.run.git_commit.as_deref().unwrap_or("")),
                r.cases.len(),
                esc(&r.run.id),
                if r.run.id == info.id && r.run.hostname == info.hostname {
                    " (this run)"
                } else {
                    ""
                }
            );
        }
        let _ = writeln!(h, "</tbody></table></details>");
    }
    let _ = writeln!(h, "</section>");
}

fn warnings(h: &mut String, run: &RunFile) {
    if run.warnings.is_empty() {
        return;
    }
    let _ = writeln!(h, "<section id=\"warnings\">\n<h2>Warnings</h2>\n<ul class=\"warnings\">");
    for w in &run.warnings {
        let _ = writeln!(h, "<li>{}</li>", esc(w));
    }
    let _ = writeln!(h, "</ul>\n</section>");
}

fn charts(h: &mut String, drawn: &Drawn, wanted: impl Fn(&str) -> bool) {
    for c in drawn.charts.iter().filter(|c| wanted(&c.file)) {
        // Inline, so the page is one file to forward; the title is in the picture itself.
        let svg = c.svg.trim_start();
        let svg = svg.strip_prefix("<?xml").and_then(|r| r.split_once("?>")).map_or(svg, |r| r.1);
        let _ = writeln!(
            h,
            "<figure id=\"{}\" aria-label=\"{}\" style=\"max-width: {}px\" \
             data-height=\"{}\">\n{}\n<figcaption>{}</figcaption>\n</figure>",
            esc(&chart_anchor(&c.file)),
            esc(&c.title),
            c.width,
            c.height,
            svg.trim(),
            esc(&c.caption)
        );
    }
}

/// The scenario a chart belongs to, by its file name.
fn chart_scenario(file: &str) -> &'static str {
    match file.trim_end_matches(".svg") {
        f if ["latency", "percentiles", "cpu"].iter().any(|p| f.starts_with(p)) => "pingpong",
        f if f.starts_with("throughput") => "stream",
        "load" => "load",
        "fanout" => "fanout",
        "mapping" => "mapping",
        "flush" => "msync",
        _ => "",
    }
}

/// The scenarios of the run, in reading order.
fn scenario_sections(run: &RunFile) -> Vec<&str> {
    let mut names: Vec<&str> = Vec::new();
    for c in &run.cases {
        if !names.contains(&c.scenario.as_str()) {
            names.push(&c.scenario);
        }
    }
    names.sort_by_key(|n| Scenario::sort_key(Some(n)));
    names
}

fn chart_anchor(file: &str) -> String {
    format!("chart-{}", file.trim_end_matches(".svg"))
}

fn has_claims(run: &RunFile) -> bool {
    run.cases.iter().any(|c| !c.claims.is_empty())
}

fn claims(h: &mut String, run: &RunFile) {
    if !has_claims(run) {
        return;
    }
    let _ = writeln!(
        h,
        "<div id=\"claims\">\n<h3>Claims of the seed article, checked on this kernel</h3>\n\
         <div class=\"wrap\"><table class=\"claims\">\n\
         <thead><tr><th>Claim</th><th>The article says</th><th>Observed</th><th>Holds</th></tr></thead>\n<tbody>"
    );
    for c in run.cases.iter().filter(|c| !c.claims.is_empty()) {
        for claim in &c.claims {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td></tr>",
                esc(&claim.claim),
                esc(&claim.article_says),
                esc(&claim.observed),
                if claim.holds { "okay" } else { "bad" },
                if claim.holds { "yes" } else { "no" }
            );
        }
    }
    let _ = writeln!(h, "</tbody></table></div>\n</div>");
}

/// Per record size: the fastest transport one way (pingpong p50) and streaming (median
/// throughput), each with what it costs in CPU per message.
fn findings(h: &mut String, run: &RunFile) {
    let cpu = |c: &CaseResult| {
        c.cpu.as_ref().map(|cpu| cpu.ns_per_message.values().sum::<f64>()).filter(|v| *v > 0.0)
    };
    let pattern = |c: &CaseResult| {
        [
            c.transport.as_deref(),
            c.process.as_deref(),
            c.wait.as_deref(),
            c.axes.get("mode").map(|m| m.as_str()),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ")
    };
    let mut sizes: Vec<u64> = run
        .cases
        .iter()
        .filter(|c| c.ok() && (c.scenario == "pingpong" || c.scenario == "stream"))
        .filter_map(|c| c.size)
        .collect();
    sizes.sort();
    sizes.dedup();
    let _ = writeln!(h, "<section id=\"findings\">\n<h2>Findings</h2>");
    if sizes.is_empty() {
        let _ = writeln!(h, "<p>This run has no pingpong or stream case to compare.</p></section>");
        return;
    }
    let _ = writeln!(
        h,
        "<p class=\"sub\">Per record size, the fastest transport measured in this run, and the CPU \
         time both sides spent per message (a spinning reader burns a CPU while it waits).</p>\n\
         <div class=\"wrap\"><table class=\"findings\"><thead><tr><th>Size</th>\
         <th>Fastest one way (p50)</th><th>CPU per message</th><th>Fastest stream (median)</th>\
         <th>CPU per record</th></tr></thead>\n<tbody>"
    );
    for size in sizes {
        let at = |scenario: &'static str| {
            run.cases.iter().filter(move |c| {
                c.ok()
                    && c.scenario == scenario
                    && c.size == Some(size)
                    && !crate::charts::is_durable(c)
            })
        };
        let one_way = at("pingpong")
            .filter_map(|c| Some((c, c.p50(latency::ONE_WAY)?)))
            .min_by_key(|(_, v)| *v);
        let stream = at("stream")
            .filter_map(|c| Some((c, c.throughput.as_ref()?.bytes_per_s.median)))
            .max_by(|a, b| a.1.total_cmp(&b.1));
        let cell = |found: Option<(&CaseResult, String)>| match found {
            Some((c, v)) => format!(
                "<td><b>{}</b> <span class=\"muted\">{}</span></td><td class=\"num\">{}</td>",
                esc(&v),
                esc(&pattern(c)),
                cpu(c).map(|v| esc(&format::ns(v))).unwrap_or_default()
            ),
            None => "<td></td><td></td>".into(),
        };
        let _ = writeln!(
            h,
            "<tr><td class=\"num\">{}</td>{}{}</tr>",
            esc(&format::bytes(size as f64)),
            cell(one_way.map(|(c, v)| (c, format::ns(v as f64)))),
            cell(stream.map(|(c, v)| (c, format::bytes_per_s(v)))),
        );
    }
    let _ = writeln!(h, "</tbody></table></div>\n</section>");
}

/// A scenario's own table: one row per pattern (the id without its size), one column per
/// record size, each cell the case's key figure; skipped and failed cells say so, with the
/// reason on hover and in the full table.
fn pivot(h: &mut String, run: &RunFile, scenario: &str) {
    let cases: Vec<&CaseResult> = {
        let mut v: Vec<&CaseResult> = run.cases.iter().filter(|c| c.scenario == scenario).collect();
        v.sort_by_key(|c| case_order(c));
        v
    };
    let mut sizes: Vec<Option<u64>> = cases.iter().map(|c| c.size).collect();
    sizes.sort();
    sizes.dedup();
    let row_of = |c: &CaseResult| match c.size {
        Some(size) => {
            let s = size.to_string();
            c.id.split('/').filter(|p| *p != s).collect::<Vec<_>>().join("/")
        }
        None => c.id.clone(),
    };
    let mut rows: Vec<String> = Vec::new();
    for c in &cases {
        let r = row_of(c);
        if !rows.contains(&r) {
            rows.push(r);
        }
    }
    let what = match scenario {
        "pingpong" => "one-way p50",
        "stream" | "fanout" => "median throughput",
        _ => "main figure",
    };
    let _ = write!(
        h,
        "<details class=\"pivot\"{}><summary>{} case{} of {}: {} by record size</summary>\n\
         <div class=\"wrap\"><table class=\"pivot\"><thead><tr><th>Case</th>",
        if rows.len() <= 24 { " open" } else { "" },
        cases.len(),
        if cases.len() == 1 { "" } else { "s" },
        esc(scenario),
        what
    );
    for s in &sizes {
        let _ =
            write!(h, "<th>{}</th>", s.map(|s| esc(&format::bytes(s as f64))).unwrap_or_default());
    }
    let _ = writeln!(h, "</tr></thead>\n<tbody>");
    for r in &rows {
        let _ = write!(h, "<tr><td class=\"id\"><code>{}</code></td>", esc(r));
        for s in &sizes {
            match cases.iter().find(|c| c.size == *s && row_of(c) == *r) {
                Some(c) if c.error.is_some() => {
                    let _ = write!(
                        h,
                        "<td class=\"bad\" title=\"{}\">failed</td>",
                        esc(c.error.as_deref().unwrap_or_default())
                    );
                }
                Some(c) if c.skipped.is_some() => {
                    let _ = write!(
                        h,
                        "<td class=\"skip\" title=\"{0}\">skipped: {1}</td>",
                        esc(c.skipped.as_deref().unwrap_or_default()),
                        esc(&short(c.skipped.as_deref().unwrap_or_default(), 40))
                    );
                }
                Some(c) => {
                    let _ = write!(
                        h,
                        "<td class=\"num\">{}</td>",
                        esc(&key_figure(c).unwrap_or_default())
                    );
                }
                None => h.push_str("<td></td>"),
            }
        }
        let _ = writeln!(h, "</tr>");
    }
    let _ = writeln!(h, "</tbody></table></div></details>");
}

/// The figure that says most about a case.
fn key_figure(c: &CaseResult) -> Option<String> {
    if let Some(t) = &c.throughput {
        return Some(format::bytes_per_s(t.bytes_per_s.median));
    }
    if let Some((_, s)) = main_latency(c) {
        return Some(format::ns(s.p50 as f64));
    }
    c.figures.iter().next().map(|(k, v)| figure_text(k, *v))
}

fn short(s: &str, max: usize) -> String {
    let line = s.lines().next().unwrap_or_default();
    if line.chars().count() <= max {
        return line.to_string();
    }
    line.chars().take(max).chain(std::iter::once('…')).collect()
}

fn case_order(c: &CaseResult) -> impl Ord {
    let axis_num = |k: &str| c.axes.get(k).and_then(|v| v.parse::<u64>().ok());
    (
        // Scenarios in the order a reader meets them: the floor first, then the patterns.
        Scenario::sort_key(Some(&c.scenario)),
        Transport::sort_key(c.transport.as_deref()),
        Process::sort_key(c.process.as_deref()),
        Wait::sort_key(c.wait.as_deref()),
        c.axes.get("method").cloned(),
        c.axes.get("fs").cloned(),
        c.size,
        axis_num("pages"),
        axis_num("readers"),
        c.axes.get("mode").cloned(),
        c.id.clone(),
    )
}

/// Sides in the order the CPU column lists them.
const SIDES: &[&str] = &["initiator", "responder", "writer", "reader"];

/// The latency a case reports, by preference, and how the table names it.
const KINDS: &[(&str, &str)] = &[
    (latency::ONE_WAY, "one-way"),
    (latency::ROUND_TRIP, "round trip"),
    (latency::FLUSH, "flush"),
    (latency::CALL, "call"),
    ("handoff", "handoff"),
];

fn main_latency(c: &CaseResult) -> Option<(String, &Summary)> {
    for (key, name) in KINDS {
        if let Some(s) = c.latency_ns.get(*key) {
            return Some((name.to_string(), s));
        }
    }
    c.latency_ns.iter().next().map(|(k, s)| (k.replace('_', " "), s))
}

fn num_cell(h: &mut String, v: Option<f64>, text: impl FnOnce(f64) -> String) {
    match v {
        Some(v) if v.is_finite() => {
            let _ = write!(h, "<td class=\"num\" data-v=\"{v}\">{}</td>", esc(&text(v)));
        }
        _ => h.push_str("<td class=\"num\" data-v=\"\"></td>"),
    }
}

fn cases(h: &mut String, run: &RunFile) {
    let mut cases: Vec<&CaseResult> = run.cases.iter().collect();
    cases.sort_by_key(|c| case_order(c));
    let floor = run.floor_one_way_ns().filter(|f| *f > 0);
    let _ = writeln!(
        h,
        "<section id=\"cases\">\n<h2>All cases</h2>\n<details class=\"all\"><summary>The full \
         table of all {} cases, every figure</summary>\n<p><input type=\"search\" id=\"filter\" \
         placeholder=\"Filter rows by text, e.g. posix-shm/fork\" aria-label=\"Filter rows\"></p>\n\
         <p class=\"sub\">Latencies in the kind named \
         in the Measure column; × floor is the pingpong one-way p50 over the cache-line handoff; \
         CPU per message is initiator / responder for pingpong, writer / reader for stream (hover \
         for names). Click a heading to sort.</p>\n<div class=\"wrap\"><table class=\"cases sortable\">\n<thead><tr>\
         <th>Case</th><th>Status</th><th>Measure</th><th>p50</th><th>p99</th><th>max</th>\
         <th>× floor</th><th>Throughput</th><th>CPU per message</th><th>Integrity</th>\
         <th>Other figures</th><th>Error / skipped / notes</th></tr></thead>\n<tbody>",
        cases.len()
    );
    for (order, c) in cases.iter().enumerate() {
        let (class, status) = if c.error.is_some() {
            ("failed", "<span class=\"bad\">failed</span>")
        } else if c.skipped.is_some() {
            ("skipped", "skipped")
        } else {
            ("", "ok")
        };
        let _ = write!(
            h,
            "<tr class=\"{class}\"><td class=\"id\" data-v=\"{order}\"><code>{}</code></td><td>{status}</td>",
            esc(&c.id)
        );
        let lat = main_latency(c);
        let _ = write!(h, "<td>{}</td>", lat.as_ref().map(|(k, _)| esc(k)).unwrap_or_default());
        let s = lat.map(|(_, s)| *s);
        num_cell(h, s.map(|s| s.p50 as f64), format::ns);
        num_cell(h, s.map(|s| s.p99 as f64), format::ns);
        num_cell(h, s.map(|s| s.max as f64), format::ns);
        let over_floor = match (c.scenario.as_str(), c.p50(latency::ONE_WAY), floor) {
            ("pingpong", Some(p50), Some(f)) => Some(p50 as f64 / f as f64),
            _ => None,
        };
        num_cell(h, over_floor, format::times);
        num_cell(
            h,
            c.throughput.as_ref().map(|t| t.bytes_per_s.median).filter(|v| *v > 0.0),
            format::bytes_per_s,
        );
        match c.cpu.as_ref().filter(|cpu| !cpu.ns_per_message.is_empty()) {
            Some(cpu) => {
                let total: f64 = cpu.ns_per_message.values().sum();
                let mut sides: Vec<(&String, &f64)> = cpu.ns_per_message.iter().collect();
                sides.sort_by_key(|(side, _)| crate::charts::rank(SIDES, Some(side)));
                let named = sides
                    .iter()
                    .map(|(side, v)| format!("{side} {}", format::ns(**v)))
                    .collect::<Vec<_>>()
                    .join(", ");
                let values =
                    sides.iter().map(|(_, v)| format::ns(**v)).collect::<Vec<_>>().join(" / ");
                let _ = write!(
                    h,
                    "<td class=\"num\" data-v=\"{total}\" title=\"{}\">{}</td>",
                    esc(&named),
                    esc(&values)
                );
            }
            None => h.push_str("<td class=\"num\" data-v=\"\"></td>"),
        }
        match &c.integrity {
            Some(i) if i.ok() => {
                let _ = write!(
                    h,
                    "<td class=\"okay\">ok ({})</td>",
                    esc(&format::count(i.received as f64))
                );
            }
            Some(i) => {
                let _ = write!(
                    h,
                    "<td class=\"bad\">sent {}, received {}, lost {}, reordered {}, corrupted {}</td>",
                    i.sent, i.received, i.lost, i.reordered, i.corrupted
                );
            }
            None => h.push_str("<td></td>"),
        }
        let figures =
            c.figures.iter().map(|(k, v)| esc(&figure_text(k, *v))).collect::<Vec<_>>().join(" · ");
        let _ = write!(h, "<td>{figures}</td>");
        let mut why = Vec::new();
        if let Some(e) = &c.error {
            why.push(format!("<span class=\"bad\">{}</span>", esc(e)));
        }
        if let Some(s) = &c.skipped {
            why.push(format!("skipped: {}", esc(s)));
        }
        why.extend(c.notes.iter().map(|n| esc(n)));
        let _ = writeln!(h, "<td class=\"notes\">{}</td></tr>", why.join("<br>"));
    }
    let _ = writeln!(h, "</tbody></table></div>\n</details>\n</section>");
}

/// A figure with its name, in the unit its key names: `memcpy 8.9 GB/s`, `240 ns per page`.
fn figure_text(key: &str, v: f64) -> String {
    // Known keys read as a person would say them.
    let known = match key {
        "memcpy_bytes_per_s" => Some(("memcpy", format::bytes_per_s(v))),
        "memcpy_bytes_per_s_min" => Some(("memcpy slowest trial", format::bytes_per_s(v))),
        "memcpy_bytes_per_s_max" => Some(("memcpy fastest trial", format::bytes_per_s(v))),
        "huge_page_fraction" => Some((
            "in huge pages",
            format!("{} %", ipcbench_results::units::significant(v * 100.0)),
        )),
        "ring_bytes" => Some(("ring", format::bytes(v))),
        "writer_sleeps_per_record" => {
            Some(("writer sleeps per record", ipcbench_results::units::significant(v)))
        }
        "writer_wait_ns_per_record" => Some(("writer waits per record", format::ns(v))),
        "reader_wait_ns_per_record" => Some(("reader waits per record", format::ns(v))),
        _ => None,
    };
    if let Some((label, value)) = known {
        return format!("{label}: {value}");
    }
    let name = |k: &str| k.trim_matches('_').replace('_', " ");
    if let Some(what) = key.strip_prefix("ns_per_") {
        format!("{} per {}", format::ns(v), name(what))
    } else if let Some(what) = key.strip_suffix("bytes_per_s") {
        format!("{}: {}", name(what), format::bytes_per_s(v)).trim_start_matches(": ").to_string()
    } else if let Some(what) = key.strip_suffix("_ns") {
        format!("{}: {}", name(what), format::ns(v))
    } else if let Some(what) = key.strip_suffix("_bytes") {
        format!("{}: {}", name(what), format::bytes(v))
    } else {
        format!("{}: {}", name(key), format::count(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(esc("<a href=\"x\">&'</a>"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;");
    }

    #[test]
    fn figures_are_written_in_their_unit() {
        assert_eq!(figure_text("memcpy_bytes_per_s", 1.5e6), "memcpy: 1.5 MB/s");
        assert_eq!(
            figure_text("memcpy_bytes_per_s_max", 1.44e10),
            "memcpy fastest trial: 14.4 GB/s"
        );
        assert_eq!(figure_text("bytes_per_s", 2e9), "2 GB/s");
        assert_eq!(figure_text("fault_ns", 1500.0), "fault: 1.5 µs");
        assert_eq!(figure_text("ns_per_page", 240.0), "240 ns per page");
        assert_eq!(figure_text("pages", 12.0), "pages: 12");
    }
}
