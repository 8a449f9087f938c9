//! A few chosen figures across runs, by run index (oldest first), each run marked with its short
//! commit: how latency and throughput moved from commit to commit. Quick runs (`--quick`) and
//! full runs get charts of their own, since a quick figure is coarser and not comparable with a
//! full one. With several hosts each host gets its own line per figure, since runs on different
//! machines are not comparable point to point.

use super::plot::{Axis, LinePlot, Look, Scale, Series};
use super::{chosen_size, measured, pattern_order, Planned, Plot};
use crate::format;
use ipcbench_results::{latency, CaseResult, Process, RunFile, Transport, Wait};

pub const LATENCY_FILE: &str = "trend-latency.svg";
pub const THROUGHPUT_FILE: &str = "trend-throughput.svg";
pub const QUICK_LATENCY_FILE: &str = "trend-latency-quick.svg";
pub const QUICK_THROUGHPUT_FILE: &str = "trend-throughput-quick.svg";
/// At most this many run indices are labelled on the x axis.
const MAX_X_LABELS: usize = 12;

/// Pingpong cases followed when present: the fastest mapped way, its sleeping twin, and the
/// read/write baselines.
const LATENCY_PICKS: &[(Transport, Process, Wait)] = &[
    (Transport::PosixShm, Process::Fork, Wait::Spin),
    (Transport::PosixShm, Process::Fork, Wait::Futex),
    (Transport::Pipe, Process::Fork, Wait::Block),
    (Transport::UnixSocket, Process::Fork, Wait::Block),
    (Transport::Tcp, Process::Fork, Wait::Block),
];
const THROUGHPUT_PICKS: &[(Transport, Process, Wait)] = &[
    (Transport::PosixShm, Process::Fork, Wait::Spin),
    (Transport::PosixShm, Process::Fork, Wait::Futex),
    (Transport::Pipe, Process::Fork, Wait::Block),
    (Transport::UnixSocket, Process::Fork, Wait::Block),
];
/// At most this many figures per trend chart, so its lines stay tellable apart.
const MAX_FIGURES: usize = 6;

/// A figure followed across runs: found by case id (ids are stable across versions).
struct Figure {
    label: String,
    case_id: String,
    value: fn(&CaseResult) -> Option<f64>,
}

pub(crate) fn plan(history: &[RunFile], main: &RunFile) -> Vec<Planned> {
    let latency = latency_figures(main);
    let throughput = throughput_figures(main);
    let mut out = Vec::new();
    for quick in [false, true] {
        let runs: Vec<&RunFile> = history.iter().filter(|r| r.run.quick == quick).collect();
        if runs.len() < 2 {
            continue;
        }
        let (kind, files) = if quick {
            (" (quick runs)", (QUICK_LATENCY_FILE, QUICK_THROUGHPUT_FILE))
        } else {
            ("", (LATENCY_FILE, THROUGHPUT_FILE))
        };
        let which = if quick { "quick run (--quick)" } else { "full run" };
        if let Some(plot) = trend_plot(
            &runs,
            &latency,
            &format!("Latency across runs (p50){kind}"),
            Axis::new("p50 latency (ns, log scale)", Scale::Log, format::ns),
        ) {
            out.push(Planned {
                file: files.0,
                caption: format!(
                    "Median one-way latency of chosen cases in every {which}, by run number \
                     (oldest first, as listed under Run environment); the label above a run is \
                     its short git commit, written where the commit changes."
                ),
                plot: Plot::Lines(plot),
            });
        }
        if let Some(plot) = trend_plot(
            &runs,
            &throughput,
            &format!("Throughput across runs (median){kind}"),
            Axis::new("throughput (bytes/s, log scale)", Scale::Log, format::bytes_per_s),
        ) {
            out.push(Planned {
                file: files.1,
                caption: format!(
                    "Median stream throughput of chosen cases, and memcpy bandwidth, in every \
                     {which}, by run number; the label above a run is its short git commit."
                ),
                plot: Plot::Lines(plot),
            });
        }
    }
    out
}

fn one_way_p50(c: &CaseResult) -> Option<f64> {
    c.p50(latency::ONE_WAY).map(|v| v as f64)
}
fn stream_bytes_per_s(c: &CaseResult) -> Option<f64> {
    c.throughput.as_ref().map(|t| t.bytes_per_s.median).filter(|v| *v > 0.0)
}
fn memcpy_bytes_per_s(c: &CaseResult) -> Option<f64> {
    c.figures.get("memcpy_bytes_per_s").copied()
}

fn latency_figures(main: &RunFile) -> Vec<Figure> {
    let mut figures = Vec::new();
    if main.floor_one_way_ns().is_some() {
        figures.push(Figure {
            label: "floor: cache-line handoff".into(),
            case_id: ipcbench_results::FLOOR_CACHE_LINE.into(),
            value: one_way_p50,
        });
    }
    if let Some(size) = chosen_size(main) {
        let cases: Vec<&CaseResult> = measured(main, "pingpong")
            .filter(|c| c.size == Some(size) && !super::is_durable(c))
            .collect();
        for c in picks(&cases, LATENCY_PICKS) {
            figures.push(Figure {
                label: format!("{} {}", pattern_label(c), format::bytes(size as f64)),
                case_id: c.id.clone(),
                value: one_way_p50,
            });
        }
    }
    figures.truncate(MAX_FIGURES);
    figures
}

fn throughput_figures(main: &RunFile) -> Vec<Figure> {
    let stream: Vec<&CaseResult> =
        measured(main, "stream").filter(|c| stream_bytes_per_s(c).is_some()).collect();
    let sizes: Vec<u64> = stream.iter().filter_map(|c| c.size).collect();
    let Some(size) =
        (if sizes.contains(&65536) { Some(65536) } else { sizes.iter().max().copied() })
    else {
        return Vec::new();
    };
    // The copy mode when a transport offers both: that is what every transport can do.
    let cases: Vec<&CaseResult> = stream
        .into_iter()
        .filter(|c| c.size == Some(size))
        .filter(|c| c.axes.get("mode").is_none_or(|m| m == "copy"))
        .collect();
    let mut figures: Vec<Figure> = picks(&cases, THROUGHPUT_PICKS)
        .into_iter()
        .map(|c| Figure {
            label: format!("{} {}", pattern_label(c), format::bytes(size as f64)),
            case_id: c.id.clone(),
            value: stream_bytes_per_s,
        })
        .collect();
    let memcpy_id = format!("floor/memcpy/{size}");
    if main.case(&memcpy_id).and_then(memcpy_bytes_per_s).is_some() {
        figures.push(Figure {
            label: format!("memcpy {}", format::bytes(size as f64)),
            case_id: memcpy_id,
            value: memcpy_bytes_per_s,
        });
    }
    figures.truncate(MAX_FIGURES);
    figures
}

/// The listed (transport, process, wait) cases that are present; when none is, the first few
/// cases in the usual order.
fn picks<'a>(
    cases: &[&'a CaseResult],
    wanted: &[(Transport, Process, Wait)],
) -> Vec<&'a CaseResult> {
    let found: Vec<&CaseResult> = wanted
        .iter()
        .filter_map(|(t, p, w)| {
            cases.iter().copied().find(|c| {
                c.transport.as_deref() == Some(t.name())
                    && c.process.as_deref() == Some(p.name())
                    && c.wait.as_deref() == Some(w.name())
            })
        })
        .collect();
    if !found.is_empty() {
        return found;
    }
    let mut all = cases.to_vec();
    all.sort_by_key(|c| pattern_order(c));
    all.truncate(4);
    all
}

fn pattern_label(c: &CaseResult) -> String {
    [c.transport.as_deref(), c.process.as_deref(), c.wait.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ")
}

fn trend_plot(runs: &[&RunFile], figures: &[Figure], title: &str, y: Axis) -> Option<LinePlot> {
    if figures.is_empty() {
        return None;
    }
    let mut hosts: Vec<&str> = runs.iter().map(|r| r.run.hostname.as_str()).collect();
    hosts.sort();
    hosts.dedup();
    // Run numbers from 1, oldest first: evenly spaced however far apart the runs were taken.
    let number = |i: usize| (i + 1) as f64;
    let mut series = Vec::new();
    for (fi, figure) in figures.iter().enumerate() {
        for (hi, host) in hosts.iter().enumerate() {
            let points: Vec<(f64, f64)> = runs
                .iter()
                .enumerate()
                .filter(|(_, r)| r.run.hostname == *host)
                .filter_map(|(i, r)| {
                    let c = r.case(&figure.case_id).filter(|c| c.ok())?;
                    Some((number(i), (figure.value)(c)?))
                })
                .collect();
            if points.is_empty() {
                continue;
            }
            let label = if hosts.len() > 1 {
                format!("{} · {host}", figure.label)
            } else {
                figure.label.clone()
            };
            series.push(Series {
                label,
                look: Look::of(fi, hi),
                points,
                marks: None,
                whiskers: Vec::new(),
            });
        }
    }
    // A trend needs two points on one line at least.
    if !series.iter().any(|s| s.points.len() >= 2) {
        return None;
    }
    let step = runs.len().div_ceil(MAX_X_LABELS).max(1);
    let ticks: Vec<f64> = (0..runs.len()).filter(|i| i % step == 0).map(number).collect();
    let mut x =
        Axis::new("run (oldest first)", Scale::Linear, |v: f64| format!("{v:.0}")).ticks(ticks);
    x.min_span = Some(2.0);
    // A commit is written where it changes: reruns of one commit share its label.
    let mut last: Option<&str> = None;
    let mut top_labels = Vec::new();
    for (i, r) in runs.iter().enumerate() {
        let Some(commit) = r.run.git_commit.as_deref() else { continue };
        if last != Some(commit) {
            top_labels.push((number(i), commit.chars().take(7).collect()));
        }
        last = Some(commit);
    }
    Some(LinePlot { title: title.into(), x, y, series, refs: Vec::new(), top_labels })
}
