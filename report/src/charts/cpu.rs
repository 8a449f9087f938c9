//! CPU time each side spends per message, beside the p50 latency of the same case: a spinning
//! receiver answers fast because it burns a whole CPU waiting, and this chart shows that bill.

use super::plot::{Axis, BarGroup, BarPlot, Look, Scale};
use super::{chosen_size, measured, pattern_key, pattern_order, Labeller, Planned, Plot};
use crate::format;
use ipcbench_results::{latency, RunFile};

pub const FILE: &str = "cpu.svg";

/// Sides in the order they act; others follow alphabetically.
const SIDES: &[&str] = &["initiator", "responder", "writer", "reader"];

pub(crate) fn plan(run: &RunFile) -> Option<Planned> {
    let size = chosen_size(run)?;
    let mut cases: Vec<_> = measured(run, "pingpong")
        .filter(|c| c.size == Some(size))
        .filter(|c| c.cpu.as_ref().is_some_and(|cpu| !cpu.ns_per_message.is_empty()))
        .collect();
    if cases.is_empty() {
        return None;
    }
    cases.sort_by_key(|c| pattern_order(c));
    let mut sides: Vec<String> = cases
        .iter()
        .flat_map(|c| {
            c.cpu
                .as_ref()
                .map(|cpu| cpu.ns_per_message.keys().cloned().collect::<Vec<_>>())
                .unwrap_or_default()
        })
        .collect();
    sides.sort_by_key(|s| super::rank(SIDES, Some(s)));
    sides.dedup();

    let labeller = Labeller::new(cases.iter().map(|c| pattern_key(c)).collect());
    let mut groups = vec![BarGroup {
        label: "p50 one-way latency".into(),
        color: Look::color(0),
        values: cases.iter().map(|c| c.p50(latency::ONE_WAY).map(|v| v as f64)).collect(),
    }];
    for (i, side) in sides.iter().enumerate() {
        groups.push(BarGroup {
            label: format!("CPU per message, {side}"),
            color: Look::color(3 + i),
            values: cases
                .iter()
                .map(|c| c.cpu.as_ref().and_then(|cpu| cpu.ns_per_message.get(side).copied()))
                .collect(),
        });
    }
    Some(Planned {
        file: FILE,
        caption: "CPU time (user + system) each side spent per message, beside the median one-way \
                  latency of the same case. A spinning waiter is fast because it keeps a CPU busy; \
                  a futex or blocking wait gives the CPU back and pays in latency."
            .into(),
        plot: Plot::Bars(BarPlot {
            title: format!(
                "CPU time per message and p50 latency, {} records (pingpong)",
                format::bytes(size as f64)
            ),
            categories: cases.iter().map(|c| labeller.label(&pattern_key(c))).collect(),
            groups,
            x: Axis {
                from_decade: true,
                ..Axis::new("time per message (ns, log scale)", Scale::Log, format::ns)
            },
            refs: Vec::new(),
            value_label: format::ns,
        }),
    })
}
