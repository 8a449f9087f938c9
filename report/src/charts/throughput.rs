//! Stream throughput against record size, log–log, with the machine's memcpy bandwidth as the
//! ceiling: small records are bound by per-record cost, large ones by copying.

use super::plot::{Axis, LinePlot, Look, RefLine, Scale, Series};
use super::{
    at_most, measured, pattern_key, pattern_order, transport_family, Labeller, Planned, Plot,
    Variants,
};
use crate::format;
use ipcbench_results::{CaseResult, RunFile};

pub const FILE: &str = "throughput.svg";
/// More lines than this and they cannot be told apart.
const MAX_LINES: usize = 16;

pub(crate) fn plan(run: &RunFile) -> Option<Planned> {
    let cases: Vec<&CaseResult> =
        measured(run, "stream").filter(|c| c.size.is_some() && bytes_per_s(c).is_some()).collect();
    if cases.is_empty() {
        return None;
    }
    // One line per transport and mode when every process and wait would be too many.
    let (mut cases, thinned) = at_most(cases, MAX_LINES, |c| {
        vec![
            c.transport.clone().unwrap_or_default(),
            c.axes.get("mode").cloned().unwrap_or_default(),
        ]
    });
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
        });
    }

    let mut memcpy: Vec<(f64, f64)> = measured(run, "floor")
        .filter(|c| c.id.starts_with("floor/memcpy/"))
        .filter_map(|c| Some((c.size? as f64, *c.figures.get("memcpy_bytes_per_s")?)))
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
        });
    }

    let mut caption = "Median throughput over the trials of each stream case (one writer flooding \
                       one reader) against record size; the black dashed line is this machine's \
                       memcpy bandwidth at the same size, which no copying transport can beat."
        .to_string();
    if thinned {
        caption.push_str(
            " To keep the lines apart, each transport and mode is drawn once, with the first \
             process and wait measured (fork before spawn; spin, futex, block); the table has \
             every case.",
        );
    }
    Some(Planned {
        file: FILE,
        caption,
        plot: Plot::Lines(LinePlot {
            title: "Stream throughput by record size".into(),
            x: Axis::new("record size (bytes, log scale)", Scale::LogBinary, format::bytes),
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
