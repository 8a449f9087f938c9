//! One-way latency of each transport, process and wait at every record size (pingpong), as
//! interval marks — a dot at p50, a line to p99, a band over the trials' p50s — with the
//! cache-line handoff floor across: how far each mechanism is from what the machine allows.

use super::plot::{band_key, key, Axis, DotGroup, DotPlot, Dots, Look, Marker, RefLine, Scale};
use super::{is_mapped, measured, pattern_rows, sizes_of, Labeller, Planned, Plot, FAMILIES};
use crate::format;
use ipcbench_results::{latency, CaseResult, RunFile};

pub const MAPPED_FILE: &str = "latency-mapped.svg";
pub const STREAMS_FILE: &str = "latency-streams.svg";

/// One chart per family: the mapped transports, and those the kernel or a library carries.
pub(crate) fn plan(run: &RunFile) -> Vec<Planned> {
    FAMILIES
        .into_iter()
        .filter_map(|(mapped, what)| {
            let file = if mapped { MAPPED_FILE } else { STREAMS_FILE };
            plan_one(run, mapped, file, what)
        })
        .collect()
}

fn plan_one(run: &RunFile, mapped: bool, file: &'static str, what: &str) -> Option<Planned> {
    let cases: Vec<&CaseResult> = measured(run, "pingpong")
        .filter(|c| is_mapped(c) == mapped && c.latency_ns.contains_key(latency::ONE_WAY))
        .collect();
    let sizes = sizes_of(&cases);
    if cases.is_empty() || sizes.is_empty() {
        return None;
    }
    let rows = pattern_rows(cases);
    let labeller = Labeller::new(rows.iter().map(|r| r.0.clone()).collect());
    let marks = rows
        .iter()
        .map(|(_, members)| {
            sizes
                .iter()
                .map(|size| members.iter().find(|c| c.size == Some(*size)).map(|c| dots(c)))
                .collect()
        })
        .collect();

    let x = Axis::new("one-way latency (ns, log scale)", Scale::Log, format::ns);
    let mut refs = Vec::new();
    if let Some(floor) = run.floor_one_way_ns() {
        refs.push(RefLine {
            label: format!("floor: cache-line handoff p50 ({})", format::ns(floor as f64)),
            value: floor as f64,
        });
    }
    let plot = DotPlot {
        title: format!("One-way latency by record size (pingpong): {what}"),
        categories: rows.iter().map(|(k, _)| labeller.label(k)).collect(),
        groups: sizes
            .iter()
            .enumerate()
            .map(|(i, s)| DotGroup { label: format::bytes(*s as f64), color: Look::color(i) })
            .collect(),
        marks,
        key: vec![
            key("p50, line to p99", Marker::Circle, true),
            band_key("p50 range over the trials"),
        ],
        x,
        refs,
    };
    Some(Planned {
        file,
        caption: format!(
            "One-way latency (sender's clock read to receiver's, CLOCK_MONOTONIC) of the {what}, \
             one row per transport, process start and wait, one colour per record size: the dot \
             is the median, the line reaches the 99th percentile, the light band spans the \
             medians of the slowest and the fastest trial (a fresh pair of processes each). The \
             dashed line is the machine's floor: a cache line handed between two processes. \
             Exact figures are in the table below."
        ),
        plot: Plot::Dots(plot),
    })
}

/// The marks of one case: p50 to p99, and the spread of the trials' p50s.
fn dots(c: &CaseResult) -> Dots {
    let s = &c.latency_ns[latency::ONE_WAY];
    let trial_p50s: Vec<f64> = c
        .latency_trials_ns
        .get(latency::ONE_WAY)
        .map(|t| t.iter().map(|s| s.p50 as f64).collect())
        .unwrap_or_default();
    let band = (trial_p50s.len() >= 2).then(|| {
        trial_p50s.iter().fold((f64::MAX, f64::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)))
    });
    Dots {
        line: Some((s.p50 as f64, s.p99 as f64)),
        cap: true,
        band,
        points: vec![(s.p50 as f64, Marker::Circle)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ipcbench_results::Summary;

    fn case(t: &str, w: &str, size: u64, p50: u64, trials: &[u64]) -> CaseResult {
        let mut c = CaseResult::new(format!("pingpong/{t}/fork/{w}/{size}"), "pingpong");
        (c.transport, c.process, c.wait, c.size) =
            (Some(t.into()), Some("fork".into()), Some(w.into()), Some(size));
        let s = |p50| Summary { p50, p99: 3 * p50, ..Default::default() };
        c.latency_ns.insert(latency::ONE_WAY.into(), s(p50));
        c.latency_trials_ns.insert(latency::ONE_WAY.into(), trials.iter().map(|v| s(*v)).collect());
        c
    }

    #[test]
    fn a_row_per_case_a_mark_per_size_from_p50_to_p99_over_the_trials() {
        let mut run = RunFile::default();
        run.cases.push(case("posix-shm", "spin", 64, 200, &[180, 260, 210]));
        run.cases.push(case("posix-shm", "spin", 4096, 700, &[700]));
        run.cases.push(case("memfd", "futex", 4096, 3_000, &[]));
        run.cases.push(case("pipe", "block", 64, 5_000, &[]));
        let planned = plan(&run);
        assert_eq!(planned.iter().map(|p| p.file).collect::<Vec<_>>(), [MAPPED_FILE, STREAMS_FILE]);
        let Plot::Dots(d) = &planned[0].plot else { panic!("interval marks") };
        assert_eq!(d.categories, ["posix-shm spin", "memfd futex"]);
        assert_eq!(
            d.groups.iter().map(|g| g.label.as_str()).collect::<Vec<_>>(),
            ["64 B", "4 KiB"]
        );
        let m = d.marks[0][0].as_ref().unwrap();
        assert_eq!((m.line, m.band), (Some((200.0, 600.0)), Some((180.0, 260.0))));
        // One trial has no spread to show; a size not measured has no mark.
        assert_eq!(d.marks[0][1].as_ref().unwrap().band, None);
        assert!(d.marks[1][0].is_none());
    }
}
