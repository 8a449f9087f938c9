//! What a mapping costs before it can be used (scenario `mapping`): the median time from asking
//! for the memory to having written every page of it, against the size, one line per way of
//! getting it (first touch, `MAP_POPULATE`, huge pages, `shm_open`, `memfd`, `shmget`).

use super::plot::{Axis, LinePlot, Look, Scale, Series};
use super::{measured, rank, Planned, Plot, MAX_SERIES};
use crate::format;
use ipcbench_results::{latency, CaseResult, RunFile};

pub const FILE: &str = "mapping.svg";

/// The ways, in the scenario's order; others follow alphabetically.
const OPS: &[&str] =
    &["touch", "populate", "touch-private", "thp", "hugetlb", "shm-open", "memfd", "shmget"];
/// Set-up and first touch together, as the scenario stores it.
const READY: &str = "ready";

fn op(c: &CaseResult) -> Option<&str> {
    c.axes.get("op").map(|s| s.as_str())
}

/// Time until the memory is usable: set-up plus the first touch of every page; for
/// `MAP_POPULATE` the set-up alone, which faults every page in. A bare `mmap` touches nothing.
fn ready_ns(c: &CaseResult) -> Option<f64> {
    let s = c.latency_ns.get(READY).or_else(|| {
        (op(c) == Some("populate")).then(|| c.latency_ns.get(latency::SETUP)).flatten()
    })?;
    (s.p50 > 0).then_some(s.p50 as f64)
}

pub(crate) fn plan(run: &RunFile) -> Option<Planned> {
    let mut cases: Vec<(&CaseResult, &str, f64, f64)> = measured(run, "mapping")
        .filter_map(|c| Some((c, op(c)?, c.size? as f64, ready_ns(c)?)))
        .collect();
    if cases.is_empty() {
        return None;
    }
    cases.sort_by(|a, b| rank(OPS, Some(a.1)).cmp(&rank(OPS, Some(b.1))).then(a.2.total_cmp(&b.2)));
    let mut series: Vec<Series> = Vec::new();
    let mut ticks: Vec<f64> = Vec::new();
    for (_, name, size, ns) in &cases {
        ticks.push(*size);
        match series.iter_mut().find(|s| s.label == *name) {
            Some(s) => s.points.push((*size, *ns)),
            None => series.push(Series {
                label: name.to_string(),
                look: Look::of(series.len(), 0),
                points: vec![(*size, *ns)],
                marks: None,
                whiskers: Vec::new(),
            }),
        }
    }
    series.truncate(MAX_SERIES);
    ticks.sort_by(f64::total_cmp);
    ticks.dedup();
    Some(Planned {
        file: FILE,
        caption: "Median time to make a mapping usable: set it up (mmap; shm_open or \
                  memfd_create with ftruncate; shmget with shmat) and write one byte in every \
                  4 KiB page; for populate, mmap with MAP_POPULATE, which faults the pages in \
                  itself. touch-private and thp are private mappings without and with \
                  MADV_HUGEPAGE. A bare mmap, which touches nothing, the set-up, touch and \
                  tear-down apart, and the cases this host could not run are in the table."
            .into(),
        plot: Plot::Lines(LinePlot {
            title: "Mapping set-up and first touch by size".into(),
            x: Axis::new("mapping size (bytes, log scale)", Scale::LogBinary, format::bytes)
                .ticks(ticks),
            y: Axis::new("set-up + first touch, p50 (ns, log scale)", Scale::Log, format::ns),
            series,
            refs: Vec::new(),
            top_labels: Vec::new(),
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ipcbench_results::Summary;

    fn case(op: &str, size: u64, kinds: &[(&str, u64)]) -> CaseResult {
        let mut c = CaseResult::new(format!("mapping/{op}/{size}"), "mapping");
        c.size = Some(size);
        c.axes.insert("op".into(), op.into());
        for (k, p50) in kinds {
            c.latency_ns.insert(k.to_string(), Summary { p50: *p50, ..Default::default() });
        }
        c
    }

    #[test]
    fn a_line_per_way_that_makes_memory_usable() {
        let mut run = RunFile::default();
        assert!(plan(&run).is_none(), "no mapping cases, no chart");
        for size in [4096, 1 << 20] {
            run.cases.push(case("mmap", size, &[(latency::SETUP, 900)]));
            run.cases.push(case("touch", size, &[(latency::SETUP, 1_000), (READY, size / 10)]));
            run.cases.push(case("populate", size, &[(latency::SETUP, size / 20)]));
            let mut skipped = case("hugetlb", size, &[]);
            skipped.skipped = Some("no huge pages".into());
            run.cases.push(skipped);
        }
        let Plot::Lines(l) = plan(&run).unwrap().plot else { panic!("a line plot") };
        let labels: Vec<&str> = l.series.iter().map(|s| s.label.as_str()).collect();
        assert_eq!(labels, ["touch", "populate"]);
        assert_eq!(l.series[0].points, vec![(4096.0, 409.0), (1048576.0, 104857.0)]);
        assert_eq!(l.series[1].points[1], (1048576.0, 52428.0));
        assert_eq!(l.x.ticks, Some(vec![4096.0, 1048576.0]));
    }
}
