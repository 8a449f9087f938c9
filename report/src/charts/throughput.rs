//! Stream throughput against record size, log–log, with the machine's memcpy bandwidth as the
//! ceiling: small records are bound by per-record cost, large ones by copying.

use super::plot::{Axis, LinePlot, Look, RefLine, Scale, Series};
use super::{
    at_most, is_mapped, measured, pattern_key, pattern_order, transport_family, Labeller, Planned,
    Plot, Variants, FAMILIES, MAX_SERIES,
};
use crate::format;
use ipcbench_results::{CaseResult, RunFile};

pub const MAPPED_FILE: &str = "throughput-mapped.svg";
pub const STREAMS_FILE: &str = "throughput-streams.svg";

/// Two charts, so that each has few enough lines to follow: the mapped transports, and the
/// transports the kernel or a library carries.
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
    let cases: Vec<&CaseResult> = measured(run, "stream")
        .filter(|c| c.size.is_some() && bytes_per_s(c).is_some() && is_mapped(c) == mapped)
        .collect();
    if cases.is_empty() {
        return None;
    }
    let sizes = {
        let mut s: Vec<f64> = cases.iter().filter_map(|c| c.size).map(|s| s as f64).collect();
        s.sort_by(f64::total_cmp);
        s.dedup();
        s
    };
    // One line per transport and mode when every process and wait would be too many; one per
    // transport when that is still too many.
    let (cases, thinned) = at_most(cases, MAX_SERIES, |c| {
        vec![
            c.transport.clone().unwrap_or_default(),
            c.axes.get("mode").cloned().unwrap_or_default(),
        ]
    });
    let (mut cases, thinned_more) =
        at_most(cases, MAX_SERIES, |c| vec![c.transport.clone().unwrap_or_default()]);
    let thinned = thinned || thinned_more;
    cases.sort_by_key(|c| (pattern_order(c), c.size));

    // One series per transport/process/wait/mode, its points in size order.
    let mut keys: Vec<Vec<String>> = Vec::new();
    let mut members: Vec<Vec<&CaseResult>> = Vec::new();
    for c in cases {
        let key = pattern_key(c);
        match keys.iter().position(|k| *k == key) {
            Some(i) => members[i].push(c),
            None => {
                keys.push(key);
                members.push(vec![c]);
            }
        }
    }
    let labeller = Labeller::new(keys.clone());
    let mut variants = Variants::default();
    let mut series = Vec::new();
    for (key, cs) in keys.iter().zip(&members) {
        let family = transport_family(cs[0].transport.as_deref());
        let variant = variants.index(family, key[1..].to_vec());
        series.push(Series {
            label: labeller.label(key),
            look: Look::of(family, variant),
            points: cs.iter().filter_map(|c| Some((c.size? as f64, bytes_per_s(c)?))).collect(),
            marks: None,
            whiskers: cs
                .iter()
                .filter_map(|c| {
                    let s = &c.throughput.as_ref()?.bytes_per_s;
                    (s.min > 0.0 && s.max > s.min).then_some((c.size? as f64, s.min, s.max))
                })
                .collect(),
        });
    }

    let mut memcpy: Vec<(f64, f64)> = measured(run, "floor")
        .filter(|c| c.id.starts_with("floor/memcpy/"))
        .filter_map(|c| Some((c.size? as f64, *c.figures.get("memcpy_bytes_per_s")?)))
        .filter(|(size, _)| sizes.contains(size))
        .collect();
    memcpy.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut refs = Vec::new();
    if memcpy.len() == 1 {
        // One size only: a level line is all that can be said.
        refs.push(RefLine {
            label: format!("memcpy at {}", format::bytes(memcpy[0].0)),
            value: memcpy[0].1,
        });
    } else if memcpy.len() > 1 {
        series.push(Series {
            label: "memcpy bandwidth (floor)".into(),
            look: Look::reference(),
            points: memcpy,
            marks: None,
            whiskers: Vec::new(),
        });
    }

    let mut caption = format!(
        "Stream throughput of the {what}: the median over the trials of each case (one writer \
         flooding one reader) against record size, with a whisker from the slowest to the \
         fastest trial; the black dashed line is this machine's memcpy bandwidth at the same \
         size, which no copying transport can beat."
    );
    if thinned {
        caption.push_str(
            " To keep the lines apart, each transport and mode is drawn once, with the first \
             process and wait measured (fork before spawn; spin, futex, block); the table has \
             every case.",
        );
    }
    Some(Planned {
        file,
        caption,
        plot: Plot::Lines(LinePlot {
            title: format!("Stream throughput by record size: {what}"),
            x: Axis::new("record size (bytes, log scale)", Scale::LogBinary, format::bytes)
                .ticks(sizes),
            y: Axis::new("throughput (bytes/s, log scale)", Scale::Log, format::bytes_per_s),
            series,
            refs,
            top_labels: Vec::new(),
        }),
    })
}

fn bytes_per_s(c: &CaseResult) -> Option<f64> {
    let v = c.throughput.as_ref()?.bytes_per_s.median;
    (v > 0.0).then_some(v)
}
