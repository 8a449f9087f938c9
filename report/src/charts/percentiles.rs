//! One-way latency by percentile, drawn the HdrHistogram way: x is `1/(1−p)` on a log scale, so
//! each further nine (99 %, 99.9 %, 99.99 %) gets the same room as the median, and the tail —
//! where spinning, futex wake-ups and the scheduler differ most — is as visible as the middle.
//! One chart per way of waiting (spin, futex, block, …): the lines of one wait lie close together,
//! the waits decades apart, and each chart keeps few enough lines to tell apart.

use super::plot::{Axis, LinePlot, Look, RefLine, Scale, Series};
use super::{
    at_most, chosen_size, measured, pattern_key, pattern_order, transport_family, Labeller,
    Planned, Plot, Variants, MAX_SERIES,
};
use crate::format;
use hdrhistogram::Histogram;
use ipcbench_results::{histogram, latency, CaseResult, RunFile, Summary, Wait};

/// One file per wait, in the vocabulary's order.
pub const FILES: [&str; 6] = [
    "percentiles-spin.svg",
    "percentiles-futex.svg",
    "percentiles-block.svg",
    "percentiles-eventfd.svg",
    "percentiles-condvar.svg",
    "percentiles-iox2-event.svg",
];

/// Points per decade of `1/(1−p)`: enough for a smooth curve, few enough for a small file.
const STEPS_PER_DECADE: f64 = 16.0;

/// The chart's file; a wait not listed in [`FILES`] has no chart (the table has its cases).
fn file(wait: Wait) -> Option<&'static str> {
    let name = format!("percentiles-{}.svg", wait.name());
    FILES.iter().find(|f| **f == name).copied()
}

pub(crate) fn plan(run: &RunFile) -> Vec<Planned> {
    let Some(size) = chosen_size(run) else { return Vec::new() };
    Wait::ALL.into_iter().filter_map(|w| plan_one(run, size, w)).collect()
}

fn plan_one(run: &RunFile, size: u64, wait: Wait) -> Option<Planned> {
    let file = file(wait)?;
    let cases: Vec<&CaseResult> = measured(run, "pingpong")
        .filter(|c| c.size == Some(size) && c.wait.as_deref() == Some(wait.name()))
        .filter(|c| {
            c.histograms.contains_key(latency::ONE_WAY)
                || c.latency_ns.contains_key(latency::ONE_WAY)
        })
        .collect();
    if cases.is_empty() {
        return None;
    }
    // Lines for every way a peer starts would crowd the tail: beyond this, fork only.
    let (mut cases, thinned) = at_most(cases, MAX_SERIES, |c| {
        let mut k = pattern_key(c);
        k.remove(1);
        k
    });
    cases.sort_by_key(|c| pattern_order(c));
    // Still too many: the first transports in the vocabulary's order (mapped, message, stream,
    // library); the latency chart has them all.
    let mut keys: Vec<Vec<String>> = Vec::new();
    for c in &cases {
        if !keys.contains(&pattern_key(c)) {
            keys.push(pattern_key(c));
        }
    }
    let cut = keys.len() > MAX_SERIES;
    keys.truncate(MAX_SERIES);
    cases.retain(|c| keys.contains(&pattern_key(c)));
    let labeller = Labeller::new(cases.iter().map(|c| pattern_key(c)).collect());
    let mut variants = Variants::default();
    let mut series = Vec::new();
    let mut max_x: f64 = 1e4;
    let mut from_summaries = 0;
    for c in &cases {
        let (curve, from_summary) =
            match c.histograms.get(latency::ONE_WAY).and_then(|h| histogram::decode(h).ok()) {
                Some(h) => (histogram_curve(&h), false),
                None => match c.latency_ns.get(latency::ONE_WAY) {
                    Some(s) => (summary_curve(s), true),
                    None => continue,
                },
            };
        if curve.points.is_empty() {
            continue;
        }
        from_summaries += usize::from(from_summary);
        max_x = max_x.max(curve.points.last().map_or(1.0, |p| p.0));
        let family = transport_family(c.transport.as_deref());
        let key = pattern_key(c);
        let variant = variants.index(family, key[1..].to_vec());
        let mut label = labeller.label(&key);
        if from_summary {
            label.push_str(" (summary)");
        }
        series.push(Series {
            label,
            look: Look::of(family, variant),
            points: curve.points,
            marks: Some(curve.marks),
            whiskers: Vec::new(),
        });
    }
    if series.is_empty() {
        return None;
    }
    let mut refs = Vec::new();
    // The floor is a spinning handoff: beside the sleeping waits it would only stretch the axis.
    if let Some(floor) = run.floor_one_way_ns().filter(|_| wait == Wait::Spin) {
        refs.push(RefLine {
            label: format!("floor: cache-line handoff p50 ({})", format::ns(floor as f64)),
            value: floor as f64,
        });
    }
    // 50 %, 90 %, 99 %, … as far as the data reaches.
    let mut ticks = vec![2.0];
    let mut t = 10.0;
    while t <= max_x * 1.0001 {
        ticks.push(t);
        t *= 10.0;
    }
    let x = Axis::new("percentile (log scale of 1/(1−p))", Scale::Log, |x: f64| {
        format::percentile(1.0 - 1.0 / x)
    })
    .ticks(ticks);
    let y = Axis::new("one-way latency (ns, log scale)", Scale::Log, format::ns);
    let mut caption = format!(
        "One-way latency at each percentile of the cases that wait by {}, one line per \
         transport and process start; markers at 50 %, 90 %, 99 %, 99.9 %, 99.99 %. The last \
         point of each line is the largest sample.",
        wait.name()
    );
    if thinned {
        caption.push_str(
            " To keep the lines apart, only the first way of starting the peer (fork) is drawn; \
             the latency chart and the table have them all.",
        );
    }
    if cut {
        caption.push_str(&format!(
            " Only the first {MAX_SERIES} transports (in the order mapped, message, stream, \
             library) are drawn; the latency chart and the table have them all."
        ));
    }
    if from_summaries > 0 {
        caption.push_str(
            " Lines marked (summary) had no stored histogram and join the recorded percentiles.",
        );
    }
    Some(Planned {
        file,
        caption,
        plot: Plot::Lines(LinePlot {
            title: format!(
                "One-way latency by percentile, {} records, {} wait (pingpong)",
                format::bytes(size as f64),
                wait.name()
            ),
            x,
            y,
            series,
            refs,
            top_labels: Vec::new(),
        }),
    })
}

pub struct Curve {
    /// (1/(1−p), latency ns), from p = 0 to the largest sample.
    pub points: Vec<(f64, f64)>,
    /// The points at 50 %, 90 %, 99 %, … that the data reaches.
    pub marks: Vec<(f64, f64)>,
}

fn histogram_curve(h: &Histogram<u64>) -> Curve {
    let n = h.len();
    if n == 0 {
        return Curve { points: Vec::new(), marks: Vec::new() };
    }
    // Past 1/(1−p) = n the quantiles are all the largest sample; end the line there.
    let last = (n as f64).max(2.0);
    let mut points = Vec::new();
    let mut k = 0.0;
    loop {
        let x = 10f64.powf(k / STEPS_PER_DECADE);
        if x >= last {
            break;
        }
        points.push((x, h.value_at_quantile(1.0 - 1.0 / x) as f64));
        k += 1.0;
    }
    points.push((last, h.max() as f64));
    let marks = std::iter::once(2.0)
        .chain((1..10).map(|e| 10f64.powi(e)))
        .filter(|x| *x < last)
        .map(|x| (x, h.value_at_quantile(1.0 - 1.0 / x) as f64))
        .collect();
    Curve { points, marks }
}

/// The recorded percentiles joined: the best that can be drawn without a histogram.
fn summary_curve(s: &Summary) -> Curve {
    let last = (s.count as f64).max(2.0);
    let marks: Vec<(f64, f64)> =
        [(2.0, s.p50), (10.0, s.p90), (100.0, s.p99), (1e3, s.p999), (1e4, s.p9999)]
            .into_iter()
            .filter(|(x, _)| *x < last)
            .map(|(x, v)| (x, v as f64))
            .collect();
    let mut points = vec![(1.0, s.min as f64)];
    points.extend(&marks);
    points.push((last, s.max as f64));
    Curve { points, marks }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(values: &[u64]) -> String {
        let mut h = Histogram::<u64>::new_with_bounds(1, 1_000_000_000, 3).unwrap();
        for v in values {
            h.record(*v).unwrap();
        }
        histogram::encode(&h)
    }

    #[test]
    fn stored_histograms_decode_into_a_rising_curve() {
        let values: Vec<u64> = (1..=10_000).collect();
        let h = histogram::decode(&encoded(&values)).expect("decodes");
        assert_eq!(h.len(), 10_000);
        let c = histogram_curve(&h);
        assert!(c.points.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1));
        let p50 = c.marks.iter().find(|m| m.0 == 2.0).unwrap().1;
        assert!((4990.0..=5010.0).contains(&p50), "p50 {p50}");
        let last = c.points.last().unwrap();
        assert_eq!(last.0, 10_000.0);
        // Three significant digits: the largest sample within 0.1 %.
        assert!((last.1 - 10_000.0).abs() <= 10.0, "max {}", last.1);
    }

    #[test]
    fn a_chart_per_wait_with_at_most_eight_lines() {
        let mut run = RunFile::default();
        let transports = ["posix-mq", "sysv-msg", "udp", "unix-dgram", "pipe", "fifo"];
        for t in transports.iter().chain(&["unix-socket", "tcp", "file-rw"]) {
            for p in ["fork", "spawn"] {
                let mut c = CaseResult::new(format!("pingpong/{t}/{p}/block/64"), "pingpong");
                (c.transport, c.process, c.wait, c.size) =
                    (Some(t.to_string()), Some(p.into()), Some("block".into()), Some(64));
                let s = Summary { count: 1000, p50: 5_000, p99: 9_000, ..Default::default() };
                c.latency_ns.insert(latency::ONE_WAY.into(), s);
                run.cases.push(c);
            }
        }
        let planned = plan(&run);
        assert_eq!(planned.iter().map(|p| p.file).collect::<Vec<_>>(), ["percentiles-block.svg"]);
        let Plot::Lines(l) = &planned[0].plot else { panic!("a line plot") };
        // Nine transports, two ways to start each: fork only, then the first eight.
        let labels: Vec<&str> = l.series.iter().map(|s| s.label.as_str()).collect();
        assert_eq!(labels.len(), MAX_SERIES, "{labels:?}");
        assert_eq!(labels[0], "posix-mq (summary)");
        assert!(!labels.iter().any(|l| l.starts_with("file-rw")), "{labels:?}");
        assert!(planned[0].caption.contains("Only the first 8 transports"));
    }

    #[test]
    fn summaries_give_points_only_where_the_count_reaches() {
        let s = Summary {
            count: 500,
            min: 1,
            p50: 2,
            p90: 3,
            p99: 4,
            p999: 5,
            p9999: 6,
            max: 7,
            ..Default::default()
        };
        let c = summary_curve(&s);
        assert_eq!(c.marks.len(), 3);
        assert_eq!(c.points.last().unwrap(), &(500.0, 7.0));
    }
}
