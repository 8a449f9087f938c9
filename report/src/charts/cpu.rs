//! CPU time each side spends per message, beside the p50 latency of the same case, at every
//! record size (pingpong): a spinning receiver answers fast because it burns a whole CPU
//! waiting, and this chart shows that bill.

use super::plot::{key, Axis, DotGroup, DotPlot, Dots, Look, Marker, Scale};
use super::{is_mapped, measured, pattern_rows, sizes_of, Labeller, Planned, Plot, FAMILIES};
use crate::format;
use ipcbench_results::{latency, CaseResult, RunFile};

pub const MAPPED_FILE: &str = "cpu-mapped.svg";
pub const STREAMS_FILE: &str = "cpu-streams.svg";

/// Sides in the order they act; others follow alphabetically.
const SIDES: &[&str] = &["initiator", "responder", "writer", "reader"];
/// A side's marker, by its place among the sides; the latency is a cross.
const SIDE_MARKERS: [Marker; 4] =
    [Marker::Circle, Marker::Triangle, Marker::Square, Marker::Diamond];
const LATENCY_MARKER: Marker = Marker::Cross;

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
        .filter(|c| is_mapped(c) == mapped)
        .filter(|c| c.cpu.as_ref().is_some_and(|cpu| !cpu.ns_per_message.is_empty()))
        .collect();
    let sizes = sizes_of(&cases);
    if cases.is_empty() || sizes.is_empty() {
        return None;
    }
    let mut sides: Vec<String> = cases
        .iter()
        .flat_map(|c| c.cpu.iter().flat_map(|cpu| cpu.ns_per_message.keys().cloned()))
        .collect();
    sides.sort_by_key(|s| super::rank(SIDES, Some(s)));
    sides.dedup();
    sides.truncate(SIDE_MARKERS.len());

    let rows = pattern_rows(cases);
    let labeller = Labeller::new(rows.iter().map(|r| r.0.clone()).collect());
    let marks = rows
        .iter()
        .map(|(_, members)| {
            sizes
                .iter()
                .map(|size| {
                    let c = members.iter().find(|c| c.size == Some(*size))?;
                    let cpu = c.cpu.as_ref()?;
                    let mut points: Vec<(f64, Marker)> = sides
                        .iter()
                        .zip(SIDE_MARKERS)
                        .filter_map(|(side, m)| Some((*cpu.ns_per_message.get(side)?, m)))
                        .collect();
                    if let Some(p50) = c.p50(latency::ONE_WAY) {
                        points.push((p50 as f64, LATENCY_MARKER));
                    }
                    let lo = points.iter().map(|p| p.0).fold(f64::MAX, f64::min);
                    let hi = points.iter().map(|p| p.0).fold(f64::MIN, f64::max);
                    Some(Dots { line: Some((lo, hi)), cap: false, band: None, points })
                })
                .collect()
        })
        .collect();
    let mut legend_key: Vec<(String, Look)> = sides
        .iter()
        .zip(SIDE_MARKERS)
        .map(|(side, m)| key(format!("CPU per message, {side}"), m, false))
        .collect();
    legend_key.push(key("p50 one-way latency", LATENCY_MARKER, false));

    Some(Planned {
        file,
        caption: format!(
            "CPU time (user + system) each side of the {what} spent per message, beside the \
             median one-way latency of the same case (the cross), one colour per record size. \
             A spinning waiter is fast because it keeps a CPU busy; a futex or blocking wait \
             gives the CPU back and pays in latency."
        ),
        plot: Plot::Dots(DotPlot {
            title: format!("CPU time per message and p50 latency (pingpong): {what}"),
            categories: rows.iter().map(|(k, _)| labeller.label(k)).collect(),
            groups: sizes
                .iter()
                .enumerate()
                .map(|(i, s)| DotGroup { label: format::bytes(*s as f64), color: Look::color(i) })
                .collect(),
            marks,
            key: legend_key,
            x: Axis::new("time per message (ns, log scale)", Scale::Log, format::ns),
            refs: Vec::new(),
        }),
    })
}
