//! Fan-out (scenario `fanout`): one writer, N readers that each see every record. The rate each
//! reader gets and the aggregate delivered to all of them, against the number of readers: a
//! shared ring gives every reader the same bytes once, pipes copy them once per reader.

use super::plot::{Axis, LinePlot, Look, Scale, Series};
use super::{at_most, measured, transport_family, Labeller, Planned, Plot, Variants, MAX_SERIES};
use crate::format;
use ipcbench_results::{CaseResult, RunFile, Spread};

pub const FILE: &str = "fanout.svg";

fn readers(c: &CaseResult) -> Option<f64> {
    c.axes.get("readers")?.parse().ok()
}

pub(crate) fn plan(run: &RunFile) -> Option<Planned> {
    let cases: Vec<&CaseResult> = measured(run, "fanout")
        .filter(|c| {
            readers(c).is_some()
                && c.throughput.as_ref().is_some_and(|t| t.bytes_per_s.median > 0.0)
        })
        .collect();
    // One record size: 4 KiB when measured, else the largest (per-record costs matter least).
    let sizes: Vec<u64> = cases.iter().filter_map(|c| c.size).collect();
    let size = if sizes.contains(&4096) { 4096 } else { sizes.iter().copied().max()? };
    let cases: Vec<&CaseResult> = cases.into_iter().filter(|c| c.size == Some(size)).collect();
    // Two lines per case (aggregate and per reader).
    let (cases, thinned) =
        at_most(cases, MAX_SERIES / 2, |c| vec![c.transport.clone().unwrap_or_default()]);
    let rows = super::pattern_rows(cases);
    let labeller = Labeller::new(rows.iter().map(|r| r.0.clone()).collect());
    let mut series = Vec::new();
    let mut ticks: Vec<f64> = Vec::new();
    let mut variants = Variants::default();
    for (key, members) in &rows {
        let mut members = members.clone();
        members.sort_by(|a, b| {
            readers(a).partial_cmp(&readers(b)).unwrap_or(std::cmp::Ordering::Equal)
        });
        let family = transport_family(members[0].transport.as_deref());
        let label = labeller.label(key);
        // Within a transport's colour, each wait gets a pair of looks: solid for the aggregate,
        // dashed for the rate per reader.
        let variant = 2 * variants.index(family, key[1..].to_vec());
        let mut aggregate = Series {
            label: join(&label, "aggregate"),
            look: Look::of(family, variant),
            points: Vec::new(),
            marks: None,
            whiskers: Vec::new(),
        };
        let mut per_reader = Series {
            label: join(&label, "per reader"),
            look: Look::of(family, variant + 1),
            points: Vec::new(),
            marks: None,
            whiskers: Vec::new(),
        };
        for c in members {
            let (Some(n), Some(t)) = (readers(c), c.throughput.as_ref()) else { continue };
            ticks.push(n);
            let all = &t.bytes_per_s;
            aggregate.points.push((n, all.median));
            if all.max > all.min && all.min > 0.0 {
                aggregate.whiskers.push((n, all.min, all.max));
            }
            // Each reader's median over the trials; the line joins their median, the whisker
            // spans the slowest reader to the fastest.
            let each: Vec<f64> =
                t.per_reader_bytes_per_s.iter().map(|s| s.median).filter(|v| *v > 0.0).collect();
            if each.is_empty() {
                continue;
            }
            let spread = Spread::of(&each);
            per_reader.points.push((n, spread.median));
            if spread.max > spread.min {
                per_reader.whiskers.push((n, spread.min, spread.max));
            }
        }
        series.push(aggregate);
        if !per_reader.points.is_empty() {
            series.push(per_reader);
        }
    }
    series.retain(|s| !s.points.is_empty());
    if series.is_empty() {
        return None;
    }
    ticks.sort_by(f64::total_cmp);
    ticks.dedup();
    let mut caption = format!(
        "Fan-out of {} records: the aggregate rate (bytes delivered to all readers per second of \
         the slowest reader; solid, whisker from the slowest to the fastest trial) and the rate \
         each reader gets (dashed; the line joins the readers' median, the whisker spans the \
         slowest reader to the fastest), against the number of readers. On a host with fewer \
         CPUs than processes the readers take turns, and the figures measure the scheduler.",
        format::bytes(size as f64)
    );
    if thinned {
        caption.push_str(
            " To keep the lines apart, each transport is drawn once; the table has every case.",
        );
    }
    Some(Planned {
        file: FILE,
        caption,
        plot: Plot::Lines(LinePlot {
            title: format!("Fan-out: rate against readers, {} records", format::bytes(size as f64)),
            x: Axis::new("readers (log scale)", Scale::Log, format::count).ticks(ticks),
            y: Axis::new("throughput (bytes/s, log scale)", Scale::Log, format::bytes_per_s),
            series,
            refs: Vec::new(),
            top_labels: Vec::new(),
        }),
    })
}

fn join(label: &str, what: &str) -> String {
    if label.is_empty() {
        what.to_string()
    } else {
        format!("{label} {what}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ipcbench_results::Throughput;

    fn case(t: &str, w: &str, readers: u64, size: u64) -> CaseResult {
        let mut c = CaseResult::new(format!("fanout/{t}/fork/{w}/{size}/{readers}"), "fanout");
        (c.transport, c.process, c.wait, c.size) =
            (Some(t.into()), Some("fork".into()), Some(w.into()), Some(size));
        c.axes.insert("readers".into(), readers.to_string());
        c.throughput = Some(Throughput {
            bytes_per_s: Spread::of(&[
                90.0 * readers as f64,
                100.0 * readers as f64,
                110.0 * readers as f64,
            ]),
            per_reader_bytes_per_s: (0..readers).map(|r| Spread::of(&[100.0 - r as f64])).collect(),
            ..Default::default()
        });
        c
    }

    #[test]
    fn an_aggregate_and_a_per_reader_line_per_case_over_the_readers() {
        let mut run = RunFile::default();
        assert!(plan(&run).is_none(), "no fanout cases, no chart");
        for r in [1, 2, 4] {
            run.cases.push(case("posix-shm", "spin", r, 4096));
            run.cases.push(case("pipe", "block", r, 4096));
            run.cases.push(case("pipe", "block", r, 64));
        }
        let Plot::Lines(l) = plan(&run).unwrap().plot else { panic!("a line plot") };
        assert_eq!(
            l.series.len(),
            4,
            "{:?}",
            l.series.iter().map(|s| &s.label).collect::<Vec<_>>()
        );
        let agg = l.series.iter().find(|s| s.label == "posix-shm spin aggregate").unwrap();
        assert_eq!(agg.points, vec![(1.0, 100.0), (2.0, 200.0), (4.0, 400.0)]);
        let each = l.series.iter().find(|s| s.label == "pipe block per reader").unwrap();
        // Four readers at 100, 99, 98, 97: median 98.5, whisker 97..100.
        assert_eq!(each.points[2], (4.0, 98.5));
        assert_eq!(each.whiskers.last(), Some(&(4.0, 97.0, 100.0)));
        assert_eq!(l.x.ticks, Some(vec![1.0, 2.0, 4.0]));
    }
}
