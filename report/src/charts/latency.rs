//! p50 and p99 one-way latency of each transport and wait (pingpong, one record size), with the
//! cache-line handoff floor beside them: how far each mechanism is from what the machine allows.

use super::plot::{Axis, BarGroup, BarPlot, Look, RefLine, Scale};
use super::{chosen_size, measured, pattern_key, pattern_order, Labeller, Planned, Plot};
use crate::format;
use ipcbench_results::{latency, RunFile};

pub const FILE: &str = "latency.svg";

pub(crate) fn plan(run: &RunFile) -> Option<Planned> {
    let size = chosen_size(run)?;
    let mut cases: Vec<_> = measured(run, "pingpong")
        .filter(|c| c.size == Some(size) && c.latency_ns.contains_key(latency::ONE_WAY))
        .collect();
    if cases.is_empty() {
        return None;
    }
    cases.sort_by_key(|c| pattern_order(c));
    let labeller = Labeller::new(cases.iter().map(|c| pattern_key(c)).collect());
    let summary = |c: &&ipcbench_results::CaseResult| c.latency_ns[latency::ONE_WAY];

    let mut x = Axis::new("one-way latency (ns, log scale)", Scale::Log, format::ns);
    x.from_decade = true;
    let mut refs = Vec::new();
    if let Some(floor) = run.floor_one_way_ns() {
        refs.push(RefLine {
            label: format!("floor: cache-line handoff p50 ({})", format::ns(floor as f64)),
            value: floor as f64,
        });
        x.include.push(floor as f64);
    }
    let plot = BarPlot {
        title: format!("One-way latency, {} records (pingpong)", format::bytes(size as f64)),
        categories: cases.iter().map(|c| labeller.label(&pattern_key(c))).collect(),
        groups: vec![
            BarGroup {
                label: "p50".into(),
                color: Look::color(0),
                values: cases.iter().map(|c| Some(summary(c).p50 as f64)).collect(),
            },
            BarGroup {
                label: "p99".into(),
                color: Look::color(1),
                values: cases.iter().map(|c| Some(summary(c).p99 as f64)).collect(),
            },
        ],
        x,
        refs,
        value_label: format::ns,
    };
    Some(Planned {
        file: FILE,
        caption: "Median and 99th percentile of the one-way latency (sender's clock read to \
                  receiver's, CLOCK_MONOTONIC) per transport, process start and wait. The dashed \
                  line is the machine's floor: a cache line handed between two processes."
            .into(),
        plot: Plot::Bars(plot),
    })
}
