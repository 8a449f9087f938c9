//! A comparison as people read it: an aligned table for a terminal or CI log, or markdown for a
//! PR comment. Figures go through [`crate::units`], tables through [`crate::table`].

use super::model::*;
use crate::table::{Align, Table};
use crate::units;
use std::fmt::Write as _;

fn fmt_value(unit: &str, v: f64) -> String {
    match unit {
        "ns" => units::ns(v),
        "bytes/s" => units::bytes_per_s(v),
        _ => format!("{} {unit}", units::significant(v)),
    }
}

fn fmt_change(pct: f64) -> String {
    format!("{pct:+.1} %")
}

fn fmt_ci(ci: Option<[f64; 2]>) -> String {
    match ci {
        Some([lo, hi]) => format!("{lo:+.1} … {hi:+.1} %"),
        None => "-".to_string(),
    }
}

/// `<run id> on <host> (commit <12 hex>, ipcbench <version>)`; `quote` wraps the id (markdown).
fn run_line(r: &RunRef, quote: &str) -> String {
    let commit = match r.git_commit.as_deref() {
        Some(c) => format!("commit {}", &c[..c.len().min(12)]),
        None => "no commit".to_string(),
    };
    format!("{quote}{}{quote} on {} ({commit}, ipcbench {})", r.id, r.hostname, r.ipcbench_version)
}

fn summary_line(c: &Comparison) -> String {
    let t = &c.summary;
    let mut s = format!(
        "{} regressed, {} improved, {} no change, {} noise ({} figures in {} cases compared)",
        t.regressed,
        t.improved,
        t.no_change,
        t.noise,
        t.regressed + t.improved + t.no_change + t.noise,
        t.cases_compared
    );
    for (n, what) in [
        (t.only_in_base, "only in base"),
        (t.only_in_new, "only in new"),
        (t.failed, "failed"),
        (t.skipped, "skipped"),
    ] {
        if n > 0 {
            let _ = write!(s, "; {n} {} {what}", if n == 1 { "case" } else { "cases" });
        }
    }
    s
}

fn rule_line(c: &Comparison) -> String {
    if let Some(pairs) = c.paired {
        return format!(
            "A/B: {pairs} pairs of invocations, old and new interleaved on this host; a change \
             counts when the median pair moved beyond {} % and the whole {:.0} % interval lies \
             on that side of no change.",
            c.threshold_pct,
            c.confidence * 100.0
        );
    }
    format!(
        "A change counts when it exceeds {} % ({} % for throughput, {} % for what waits on what \
         the host shares: a wake-up, 1 MiB records, a disk flush, a mapping's set-up) and its \
         whole {:.0} % confidence interval does too; p99 (twice that) {}. `compare --explain` \
         says how.",
        c.threshold_pct,
        c.threshold_pct * super::THROUGHPUT_THRESHOLD_FACTOR,
        c.shared_threshold_pct,
        c.confidence * 100.0,
        if c.gate_p99 { "counts too (--gate-p99)" } else { "counts only with --gate-p99" }
    )
}

fn figure_cells(id: &str, f: &FigureComparison) -> [String; 8] {
    [
        id.to_string(),
        f.name.clone(),
        fmt_value(&f.unit, f.base),
        fmt_value(&f.unit, f.new),
        fmt_change(f.change_pct),
        fmt_ci(f.ci_pct),
        f.verdict.to_string(),
        note(f),
    ]
}

/// The note, and in A/B mode each pair's ratio new/old (`×1.02 ×0.98 …`).
fn note(f: &FigureComparison) -> String {
    let mut parts: Vec<String> = f.note.iter().cloned().collect();
    if !f.pair_ratios.is_empty() {
        let r: Vec<String> = f.pair_ratios.iter().map(|r| format!("×{r:.3}")).collect();
        parts.push(format!("pairs new/old: {}", r.join(" ")));
    }
    parts.join("; ")
}

/// Lines that say what the run pair shows beyond the figures: the floor, an unusable run.
fn state_lines(c: &Comparison) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(f) = &c.floor {
        lines.push(format!(
            "floor ({}): {} → {} ({:+.1} %)",
            f.source,
            units::ns(f.base_ns),
            units::ns(f.new_ns),
            f.change_pct
        ));
    }
    for why in &c.unusable {
        lines.push(format!("new run unusable (exit 3): {why}"));
    }
    lines
}

/// The figures table: words left, numbers right.
fn figures_table(c: &Comparison, rows: &[(&str, &FigureComparison)], quote: &str) -> Table {
    let ci = format!("{:.0} % CI", c.confidence * 100.0);
    let head = ["case", "figure", "base", "new", "change", &ci, "verdict", "note"];
    let (l, r) = (Align::Left, Align::Right);
    let mut t = Table::aligned(&head, &[l, l, r, r, r, r, l, l]);
    for (id, f) in rows {
        let mut cells = figure_cells(&format!("{quote}{id}{quote}"), f);
        if !quote.is_empty() && f.verdict == Verdict::Regressed {
            cells[6] = format!("**{}**", cells[6]);
        }
        t.row(cells.to_vec());
    }
    t
}

pub(super) fn render_table(c: &Comparison) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "base: {}", run_line(&c.base, ""));
    let _ = writeln!(out, "new:  {}", run_line(&c.new, ""));
    let _ = writeln!(out, "{}", rule_line(c));
    for l in state_lines(c) {
        let _ = writeln!(out, "{l}");
    }
    for w in &c.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    let rows: Vec<_> = c.figures().collect();
    if !rows.is_empty() {
        out.push('\n');
        out.push_str(&figures_table(c, &rows, "").to_string());
    }
    let listed: Vec<&CaseComparison> = c
        .cases
        .iter()
        .filter(|k| k.status != CaseStatus::Compared || !k.notes.is_empty())
        .collect();
    if !listed.is_empty() {
        out.push('\n');
    }
    for k in listed {
        match k.status {
            CaseStatus::OnlyInBase => _ = writeln!(out, "only in base: {}", k.id),
            CaseStatus::OnlyInNew => _ = writeln!(out, "only in new: {}", k.id),
            CaseStatus::Failed | CaseStatus::Skipped => {
                let what = if k.status == CaseStatus::Failed { "failed" } else { "skipped" };
                let _ = writeln!(out, "{what}: {}: {}", k.id, k.detail.as_deref().unwrap_or("-"));
            }
            CaseStatus::Compared => {}
        }
        for n in &k.notes {
            let _ = writeln!(out, "note: {}: {n}", k.id);
        }
    }
    let _ = writeln!(out, "\n{}", summary_line(c));
    out
}

/// Escapes what would break a GitHub table cell.
fn md(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// GitHub refuses a comment (and a step summary) of 65,536 characters or more.
pub const MARKDOWN_LIMIT: usize = 65_536;

/// Markdown for a PR comment, cut at a line to stay under [`MARKDOWN_LIMIT`] with a note
/// saying so (an open `<details>` is closed).
pub(super) fn render_markdown(c: &Comparison) -> String {
    let full = markdown_full(c);
    if full.len() < MARKDOWN_LIMIT {
        return full;
    }
    let note = "\n**Truncated** to stay under GitHub's 65,536 characters: `--only-changed` \
                shortens it; `--format table` or `--format json` has every figure.\n";
    let budget = MARKDOWN_LIMIT - note.len() - "\n</details>\n".len() - 1;
    let mut end = budget;
    while !full.is_char_boundary(end) {
        end -= 1;
    }
    let mut cut = full[..end].to_string();
    cut.truncate(cut.rfind('\n').map_or(0, |i| i + 1));
    if cut.matches("<details>").count() > cut.matches("</details>").count() {
        cut.push_str("\n</details>\n");
    }
    cut.push_str(note);
    cut
}

fn markdown_full(c: &Comparison) -> String {
    let mut out = String::new();
    let t = &c.summary;
    let head = if t.regressed > 0 { format!("**{} regressed**", t.regressed) } else { "".into() };
    let line = summary_line(c);
    let line = if head.is_empty() {
        line
    } else {
        line.replacen(&format!("{} regressed", t.regressed), &head, 1)
    };
    let _ = writeln!(out, "**ipcbench compare**: {line}\n");
    let _ = writeln!(
        out,
        "Base {} → new {}. {}\n",
        md(&run_line(&c.base, "`")),
        md(&run_line(&c.new, "`")),
        rule_line(c)
    );
    for l in state_lines(c) {
        let _ = writeln!(out, "{}\n", md(&l));
    }
    for w in &c.warnings {
        let _ = writeln!(out, "> **Warning:** {}\n", md(w));
    }
    // What moved first, regressions on top; the rest folded away.
    let rank = |v: Verdict| match v {
        Verdict::Regressed => 0,
        Verdict::Improved => 1,
        Verdict::Noise => 2,
        Verdict::NoChange => 3,
    };
    let mut moved: Vec<_> = c.figures().filter(|(_, f)| f.verdict != Verdict::NoChange).collect();
    moved.sort_by_key(|(_, f)| rank(f.verdict));
    let still: Vec<_> = c.figures().filter(|(_, f)| f.verdict == Verdict::NoChange).collect();
    if moved.is_empty() {
        let _ = writeln!(out, "No figure moved beyond the threshold.\n");
    } else {
        out.push_str(&figures_table(c, &moved, "`").markdown());
        out.push('\n');
    }
    if !still.is_empty() {
        let _ =
            writeln!(out, "<details><summary>{} figures with no change</summary>\n", still.len());
        out.push_str(&figures_table(c, &still, "`").markdown());
        let _ = writeln!(out, "\n</details>\n");
    }
    let list = |status: CaseStatus| -> Vec<&CaseComparison> {
        c.cases.iter().filter(|k| k.status == status).collect()
    };
    for (status, title) in [
        (CaseStatus::OnlyInBase, "Only in base"),
        (CaseStatus::OnlyInNew, "Only in new"),
        (CaseStatus::Failed, "Failed"),
        (CaseStatus::Skipped, "Skipped"),
    ] {
        let cases = list(status);
        if cases.is_empty() {
            continue;
        }
        let _ = writeln!(out, "{title}:\n");
        for k in cases {
            match &k.detail {
                Some(d) => _ = writeln!(out, "- `{}`: {}", k.id, md(d)),
                None => _ = writeln!(out, "- `{}`", k.id),
            }
        }
        out.push('\n');
    }
    for k in c.cases.iter().filter(|k| !k.notes.is_empty()) {
        for n in &k.notes {
            let _ = writeln!(out, "> **Note** `{}`: {}\n", k.id, md(n));
        }
    }
    out
}
