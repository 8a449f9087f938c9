//! A few chosen figures across runs, by run start time, each run marked with its short commit:
//! how latency and throughput moved from commit to commit. With several hosts each host gets
//! its own line per figure, since runs on different machines are not comparable point to point.

use super::plot::{Axis, LinePlot, Look, Scale, Series};
use super::{chosen_size, measured, pattern_order, Planned, Plot};
use crate::format;
use ipcbench_results::{latency, CaseResult, Process, RunFile, Transport, Wait};

pub const LATENCY_FILE: &str = "trend-latency.svg";
pub const THROUGHPUT_FILE: &str = "trend-throughput.svg";

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
    if history.len() < 2 {
        return Vec::new();
    }
    let mut out = Vec::new();
    let latency = latency_figures(main);
    if let Some(plot) = trend_plot(
        history,
        &latency,
        "Latency across runs (p50)",
        Axis::new("p50 latency (ns, log scale)", Scale::Log, format::ns),
    ) {
        out.push(Planned {
            file: LATENCY_FILE,
            caption: "Median one-way latency of chosen cases in every run, by the run's start \
                      time (UTC); the label above each run is its short git commit."
                .into(),
            plot: Plot::Lines(plot),
        });
    }
    let throughput = throughput_figures(main);
    if let Some(plot) = trend_plot(
        history,
        &throughput,
        "Throughput across runs (median)",
        Axis::new("throughput (bytes/s, log scale)", Scale::Log, format::bytes_per_s),
    ) {
        out.push(Planned {
            file: THROUGHPUT_FILE,
            caption: "Median stream throughput of chosen cases, and memcpy bandwidth, in every \
                      run; the label above each run is its short git commit."
                .into(),
            plot: Plot::Lines(plot),
        });
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

fn trend_plot(history: &[RunFile], figures: &[Figure], title: &str, y: Axis) -> Option<LinePlot> {
    if figures.is_empty() {
        return None;
    }
    let mut hosts: Vec<&str> = history.iter().map(|r| r.run.hostname.as_str()).collect();
    hosts.sort();
    hosts.dedup();
    let mut series = Vec::new();
    for (fi, figure) in figures.iter().enumerate() {
        for (hi, host) in hosts.iter().enumerate() {
            let points: Vec<(f64, f64)> = history
                .iter()
                .filter(|r| r.run.hostname == *host)
                .filter_map(|r| {
                    let c = r.case(&figure.case_id).filter(|c| c.ok())?;
                    Some((r.run.started_unix_s as f64, (figure.value)(c)?))
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
    let starts: Vec<u64> = history.iter().map(|r| r.run.started_unix_s).collect();
    let (ticks, with_time) = time_ticks(
        starts.iter().copied().min().unwrap_or(0),
        starts.iter().copied().max().unwrap_or(0),
    );
    let mut x = Axis::new("run start (UTC)", Scale::Linear, move |v: f64| {
        format::utc_tick(v.max(0.0) as u64, with_time)
    })
    .ticks(ticks);
    // Runs started within minutes of each other still get an axis of a few hours.
    x.min_span = Some(4.0 * 3600.0);
    let top_labels = history
        .iter()
        .filter_map(|r| {
            let commit = r.run.git_commit.as_deref()?;
            Some((r.run.started_unix_s as f64, commit.chars().take(7).collect()))
        })
        .collect();
    Some(LinePlot { title: title.into(), x, y, series, refs: Vec::new(), top_labels })
}

/// Round UTC times between `lo` and `hi` (seconds), at most about six of them, and whether the
/// labels need the time of day.
fn time_ticks(lo: u64, hi: u64) -> (Vec<f64>, bool) {
    const STEPS: &[u64] = &[
        60,
        300,
        900,
        1800,
        3600,
        3 * 3600,
        6 * 3600,
        12 * 3600,
        86_400,
        2 * 86_400,
        7 * 86_400,
        14 * 86_400,
        30 * 86_400,
        91 * 86_400,
        365 * 86_400,
    ];
    // The axis reaches a little past the runs; tick over that reach.
    let pad = ((hi - lo) / 20).max(60);
    let (lo, hi) = (lo.saturating_sub(pad), hi + pad);
    let step = STEPS.iter().copied().find(|s| (hi - lo) / s <= 6).unwrap_or(365 * 86_400);
    let mut t = lo.div_ceil(step) * step;
    let mut ticks = Vec::new();
    while t <= hi {
        ticks.push(t as f64);
        t += step;
    }
    (ticks, step < 86_400)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_ticks_are_few_and_round() {
        let (ticks, with_time) = time_ticks(1_700_000_000, 1_700_000_000 + 9 * 86_400);
        assert!(ticks.len() <= 7 && ticks.len() >= 2, "{ticks:?}");
        assert!(ticks.iter().all(|t| (*t as u64).is_multiple_of(86_400)));
        assert!(!with_time);
        let (_, with_time) = time_ticks(1_700_000_000, 1_700_000_000 + 3600);
        assert!(with_time);
    }
}
