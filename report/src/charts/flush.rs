//! What durability costs: the p50 of one flush (`msync`, `fsync`, `fdatasync`) against the number
//! of dirty pages, log–log, per method and filesystem — on tmpfs a flush is nearly free, so the
//! filesystem is part of every label.

use super::plot::{Axis, LinePlot, Look, Scale, Series};
use super::{rank, Labeller, Planned, Plot, Variants};
use crate::format;
use ipcbench_results::{latency, CaseResult, RunFile};

pub const FILE: &str = "flush.svg";
const PAGE: u64 = 4096;

const METHODS: &[&str] = &["msync-sync", "msync-async", "pwrite-fdatasync", "pwrite-fsync"];
const FILESYSTEMS: &[&str] = &["disk", "tmpfs"];

pub(crate) fn plan(run: &RunFile) -> Option<Planned> {
    let mut cases: Vec<(&CaseResult, f64, f64)> = super::measured(run, "msync")
        // The plain cases only: a file of just the pages flushed. The cases on a larger file
        // (`…/1/written/16M`) ask another question and would put a second point at 1 page.
        .filter(|c| match (c.axes.get("file_bytes"), c.axes.get("pages")) {
            (Some(file), Some(pages)) => {
                file.parse::<u64>().ok() == pages.parse::<u64>().ok().map(|p| p * PAGE)
            }
            _ => true,
        })
        .filter_map(|c| {
            let pages: f64 = c.axes.get("pages")?.parse().ok()?;
            Some((c, pages, c.p50(latency::FLUSH)? as f64))
        })
        .collect();
    if cases.is_empty() {
        return None;
    }
    let method = |c: &CaseResult| c.axes.get("method").cloned().unwrap_or_default();
    let fs = |c: &CaseResult| c.axes.get("fs").cloned().unwrap_or_default();
    cases.sort_by(|a, b| {
        (rank(METHODS, Some(&method(a.0))), rank(FILESYSTEMS, Some(&fs(a.0))))
            .cmp(&(rank(METHODS, Some(&method(b.0))), rank(FILESYSTEMS, Some(&fs(b.0)))))
            .then(a.1.total_cmp(&b.1))
    });

    let key = |c: &CaseResult| {
        let fs_label = match c.axes.get("fstype") {
            Some(t) if Some(t) != c.axes.get("fs") => format!("{} ({t})", fs(c)),
            _ => fs(c),
        };
        vec![method(c), fs_label]
    };
    let mut keys: Vec<Vec<String>> = Vec::new();
    let mut points: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut families: Vec<usize> = Vec::new();
    for (c, pages, ns) in &cases {
        let k = key(c);
        match keys.iter().position(|x| *x == k) {
            Some(i) => points[i].push((*pages, *ns)),
            None => {
                keys.push(k);
                points.push(vec![(*pages, *ns)]);
                families.push(rank(METHODS, Some(&method(c))).0);
            }
        }
    }
    let mut ticks: Vec<f64> = cases.iter().map(|c| c.1).collect();
    ticks.sort_by(f64::total_cmp);
    ticks.dedup();
    let labeller = Labeller::new(keys.clone());
    let mut variants = Variants::default();
    let series = keys
        .iter()
        .zip(points)
        .zip(families)
        .map(|((k, pts), family)| Series {
            label: labeller.label(k),
            look: Look::of(family, variants.index(family, k[1..].to_vec())),
            points: pts,
            marks: None,
            whiskers: Vec::new(),
        })
        .collect();

    Some(Planned {
        file: FILE,
        caption: "Median cost of making dirty pages durable, by method and filesystem. \
                  msync(MS_ASYNC) is a no-op on Linux since 2.6.19, and on tmpfs nothing reaches \
                  a disk: read those lines as the price of the call, not of durability."
            .into(),
        plot: Plot::Lines(LinePlot {
            title: "Flush cost by dirty pages (msync)".into(),
            x: Axis::new("dirty pages (log scale)", Scale::Log, format::count).ticks(ticks),
            y: Axis::new("flush p50 (ns, log scale)", Scale::Log, format::ns),
            series,
            refs: Vec::new(),
            top_labels: Vec::new(),
        }),
    })
}
