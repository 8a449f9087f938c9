//! Latency under an offered load (scenario `load`): corrected latency (from each record's due
//! time) against the offered rate, log–log, one line per case at p50 and one at p99 — the
//! hockey stick: flat while the transport keeps up, rising steeply past its knee.

use super::plot::{Axis, LinePlot, Look, Scale, Series};
use super::{
    at_most, measured, pattern_key, pattern_order, transport_family, Labeller, Planned, Plot,
};
use crate::format;
use ipcbench_results::load::{points, KNEE_FACTOR};
use ipcbench_results::{CaseResult, RunFile};

pub const FILE: &str = "load.svg";
/// Two lines per case: more cases than this and they cannot be told apart.
const MAX_CASES: usize = 8;

pub(crate) fn plan(run: &RunFile) -> Option<Planned> {
    let cases: Vec<&CaseResult> = measured(run, "load").filter(|c| points(c).len() > 1).collect();
    // One record size: 64 B when measured, else the smallest.
    let sizes: Vec<u64> = cases.iter().filter_map(|c| c.size).collect();
    let size = if sizes.contains(&64) { 64 } else { sizes.iter().copied().min()? };
    let cases: Vec<&CaseResult> = cases.into_iter().filter(|c| c.size == Some(size)).collect();
    let (mut cases, thinned) =
        at_most(cases, MAX_CASES, |c| vec![c.transport.clone().unwrap_or_default()]);
    cases.sort_by_key(|c| pattern_order(c));
    let labeller = Labeller::new(cases.iter().map(|c| pattern_key(c)).collect());
    let mut series = Vec::new();
    for c in &cases {
        let family = transport_family(c.transport.as_deref());
        let ps = points(c);
        let label = labeller.label(&pattern_key(c));
        for (variant, (q, pick)) in
            [("p50", (|s: &ipcbench_results::Summary| s.p50) as fn(&_) -> u64), ("p99", |s| s.p99)]
                .into_iter()
                .enumerate()
        {
            series.push(Series {
                label: if label.is_empty() { q.to_string() } else { format!("{label} {q}") },
                look: Look::of(family, variant),
                points: ps
                    .iter()
                    .map(|p| (p.offered_per_s, pick(&p.corrected).max(1) as f64))
                    .collect(),
                marks: None,
                whiskers: Vec::new(),
            });
        }
    }
    if series.is_empty() {
        return None;
    }
    let mut caption = format!(
        "Corrected latency (a record's due time on the writer's schedule to its verification by \
         the reader, so a stall counts for every record it delays) against the offered rate, for \
         {} records; solid lines p50, dashed p99. Each case's knee — the highest rate whose \
         p99 stays within {KNEE_FACTOR} × its lowest-rate p99 — is in the table.",
        format::bytes(size as f64)
    );
    if thinned {
        caption.push_str(" To keep the lines apart, each transport is drawn once.");
    }
    Some(Planned {
        file: FILE,
        caption,
        plot: Plot::Lines(LinePlot {
            title: format!("Latency under load, {} records", format::bytes(size as f64)),
            x: Axis::new("offered rate (records/s, log scale)", Scale::Log, format::count),
            y: Axis::new("corrected latency (ns, log scale)", Scale::Log, format::ns),
            series,
            refs: Vec::new(),
            top_labels: Vec::new(),
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ipcbench_results::load::{label, Point};
    use ipcbench_results::Summary;

    fn case(t: &str, w: &str) -> CaseResult {
        let mut c = CaseResult::new(format!("load/{t}/fork/{w}/64"), "load");
        (c.transport, c.process, c.wait, c.size) =
            (Some(t.into()), Some("fork".into()), Some(w.into()), Some(64));
        for (f, p99) in [(0.1, 2_000), (0.5, 3_000), (1.1, 900_000)] {
            let corrected = Summary { count: 100, p50: p99 / 2, p99, ..Default::default() };
            Point {
                label: label(Some(f), f * 1e6),
                offered_per_s: f * 1e6,
                achieved_per_s: None,
                backlog_records: None,
                corrected,
                uncorrected: None,
            }
            .store(&mut c);
        }
        c
    }

    #[test]
    fn one_p50_and_one_p99_line_per_case_over_the_offered_rates() {
        let mut run = RunFile::default();
        assert!(plan(&run).is_none(), "no load cases, no chart");
        run.cases.push(case("posix-shm", "spin"));
        run.cases.push(case("pipe", "block"));
        let Plot::Lines(l) = plan(&run).unwrap().plot else { panic!("a line plot") };
        assert_eq!(l.series.len(), 4);
        assert!(l.series[0].label.contains("posix-shm") && l.series[0].label.ends_with("p50"));
        assert_eq!(l.series[1].points[2], (1.1e6, 900_000.0));
        // A failed case is left out.
        run.cases[1].error = Some("boom".into());
        let Plot::Lines(l) = plan(&run).unwrap().plot else { panic!("a line plot") };
        assert_eq!(l.series.len(), 2);
    }
}
