//! The charts, one file each. Every chart reads the runs and returns `None` when its scenario is
//! absent, so a partial run gets a partial report rather than empty frames.

mod cpu;
mod fanout;
mod flush;
mod latency;
mod load;
mod mapping;
mod percentiles;
pub(crate) mod plot;
mod throughput;
mod trend;

use crate::Runs;
use ipcbench_results::{CaseResult, Process, RunFile, Transport, Wait};

/// A drawn chart: its file name in the report directory, its title, a sentence on how to read
/// it, and its SVG.
pub struct Chart {
    pub file: String,
    pub title: String,
    pub caption: String,
    pub svg: String,
    pub width: u32,
    pub height: u32,
}

/// A chart that had data but could not be drawn; the page says so instead of failing.
pub struct Failure {
    pub file: String,
    pub error: String,
}

pub struct Drawn {
    pub charts: Vec<Chart>,
    pub failures: Vec<Failure>,
}

/// Every file name a chart may have, so a new report can remove what an older one left.
/// Names of earlier versions are listed too.
pub const ALL_FILES: &[&str] = &[
    latency::MAPPED_FILE,
    latency::STREAMS_FILE,
    percentiles::FILES[0],
    percentiles::FILES[1],
    percentiles::FILES[2],
    percentiles::FILES[3],
    percentiles::FILES[4],
    percentiles::FILES[5],
    cpu::MAPPED_FILE,
    cpu::STREAMS_FILE,
    throughput::MAPPED_FILE,
    throughput::STREAMS_FILE,
    fanout::FILE,
    load::FILE,
    flush::FILE,
    mapping::FILE,
    trend::LATENCY_FILE,
    trend::THROUGHPUT_FILE,
    trend::QUICK_LATENCY_FILE,
    trend::QUICK_THROUGHPUT_FILE,
    "latency.svg",
    "cpu.svg",
    "percentiles.svg",
    "throughput.svg",
];

/// What a chart module produces before it is drawn: the plot, and how to read it.
pub(crate) struct Planned {
    pub file: &'static str,
    pub caption: String,
    pub plot: Plot,
}

pub(crate) enum Plot {
    Lines(plot::LinePlot),
    Dots(plot::DotPlot),
}

/// Draws every chart the runs have data for, in reading order.
pub fn draw_all(runs: &Runs) -> Drawn {
    let main = &runs.main;
    let mut planned = Vec::new();
    planned.extend(latency::plan(main));
    planned.extend(percentiles::plan(main));
    planned.extend(cpu::plan(main));
    planned.extend(throughput::plan(main));
    planned.extend(fanout::plan(main));
    planned.extend(load::plan(main));
    planned.extend(flush::plan(main));
    planned.extend(mapping::plan(main));
    planned.extend(trend::plan(&runs.history, main));

    let mut drawn = Drawn { charts: Vec::new(), failures: Vec::new() };
    for p in planned {
        let (title, result) = match &p.plot {
            Plot::Lines(l) => (l.title.clone(), plot::line_plot(l)),
            Plot::Dots(d) => (d.title.clone(), plot::dot_plot(d)),
        };
        match result {
            Ok(svg) => drawn.charts.push(Chart {
                file: p.file.to_string(),
                title,
                caption: p.caption,
                svg: svg.text,
                width: svg.width,
                height: svg.height,
            }),
            Err(error) => drawn.failures.push(Failure { file: p.file.to_string(), error }),
        }
    }
    drawn
}

/// Position of `name` in `order`; names not listed sort after, alphabetically.
pub fn rank(order: &[&str], name: Option<&str>) -> (usize, String) {
    let name = name.unwrap_or("");
    (order.iter().position(|o| *o == name).unwrap_or(order.len()), name.to_string())
}

/// The colour of a transport (the same in every chart): its place in the vocabulary, which
/// lists transports by kind (mapped, message, stream, library), so legends group them so too.
pub fn transport_family(transport: Option<&str>) -> usize {
    Transport::sort_key(transport).0
}

/// Measured cases of `scenario` in `run`.
pub fn measured<'a>(run: &'a RunFile, scenario: &'a str) -> impl Iterator<Item = &'a CaseResult> {
    run.cases.iter().filter(move |c| c.scenario == scenario && c.ok())
}

/// The two families most charts draw apart, so that each chart has few enough series to
/// follow: the mapped transports (`true`) and the others, which the kernel (messages, byte
/// streams) or a library carries, with words for titles.
pub const FAMILIES: [(bool, &str); 2] =
    [(true, "mapped transports"), (false, "kernel and library transports")];

/// Whether the case's transport is a mapped one.
pub fn is_mapped(c: &CaseResult) -> bool {
    c.transport.as_deref().and_then(Transport::from_name).is_some_and(|t| t.is_mapped())
}

/// At most this many groups (sizes) or series in one chart.
pub const MAX_SERIES: usize = 8;

/// The distinct sizes of `cases`, ascending; when there are more than [`MAX_SERIES`], that many
/// spread over the range, the smallest and the largest kept.
pub fn sizes_of(cases: &[&CaseResult]) -> Vec<u64> {
    let mut sizes: Vec<u64> = cases.iter().filter_map(|c| c.size).collect();
    sizes.sort();
    sizes.dedup();
    if sizes.len() <= MAX_SERIES {
        return sizes;
    }
    let last = sizes.len() - 1;
    (0..MAX_SERIES).map(|i| sizes[i * last / (MAX_SERIES - 1)]).collect()
}

/// A row of cases that differ only in size, and the [`pattern_key`] they share.
pub type Row<'a> = (Vec<String>, Vec<&'a CaseResult>);

/// Cases in rows, one per [`pattern_key`] (the case without its size), in the usual order.
pub fn pattern_rows(mut cases: Vec<&CaseResult>) -> Vec<Row<'_>> {
    cases.sort_by_key(|c| (pattern_order(c), c.size));
    let mut rows: Vec<Row> = Vec::new();
    for c in cases {
        let key = pattern_key(c);
        match rows.iter_mut().find(|(k, _)| *k == key) {
            Some((_, members)) => members.push(c),
            None => rows.push((key, vec![c])),
        }
    }
    rows
}

/// The record size the percentile chart shows: 64 B when measured, else the smallest present.
pub fn chosen_size(run: &RunFile) -> Option<u64> {
    let sizes: Vec<u64> = measured(run, "pingpong").filter_map(|c| c.size).collect();
    if sizes.contains(&64) {
        Some(64)
    } else {
        sizes.into_iter().min()
    }
}

pub fn is_durable(c: &CaseResult) -> bool {
    c.axes.get("durable").is_some_and(|v| v == "true") || c.id.ends_with("/durable")
}

/// What tells one series of a chart from another: a list of axis values, from which the parts
/// shared by every series are dropped so labels stay short.
pub struct Labeller {
    keys: Vec<Vec<String>>,
}

impl Labeller {
    pub fn new(keys: Vec<Vec<String>>) -> Self {
        Labeller { keys }
    }

    /// Label of series `key`: its parts that differ between series, space-separated, each cut
    /// to a readable length (names come from result files).
    pub fn label(&self, key: &[String]) -> String {
        let key: Vec<String> = key.iter().map(|p| cut(p, MAX_PART_CHARS)).collect();
        let varying: Vec<bool> = (0..key.len())
            .map(|i| {
                let first = self.keys.first().and_then(|k| k.get(i));
                self.keys.iter().any(|k| k.get(i) != first)
            })
            .collect();
        let parts: Vec<&str> = key
            .iter()
            .zip(&varying)
            .filter(|(p, v)| **v && !p.is_empty())
            .map(|(p, _)| p.as_str())
            .collect();
        if parts.is_empty() {
            key.iter().filter(|p| !p.is_empty()).cloned().collect::<Vec<_>>().join(" ")
        } else {
            parts.join(" ")
        }
    }
}

const MAX_PART_CHARS: usize = 20;

/// `s`, cut to `max` characters with an ellipsis when longer.
fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        s.chars().take(max - 1).chain(std::iter::once('…')).collect()
    }
}

/// The axes of a pingpong or stream case that tell it apart at one size: transport, process,
/// wait, then `durable` or the mode.
pub fn pattern_key(c: &CaseResult) -> Vec<String> {
    let mut key = vec![
        c.transport.clone().unwrap_or_default(),
        c.process.clone().unwrap_or_default(),
        c.wait.clone().unwrap_or_default(),
    ];
    if let Some(mode) = c.axes.get("mode") {
        key.push(mode.clone());
    }
    key.push(if is_durable(c) { "durable".into() } else { String::new() });
    key
}

/// Sort key putting cases in the order of the vocabulary: transport, process, wait, durable.
pub fn pattern_order(c: &CaseResult) -> impl Ord {
    (
        Transport::sort_key(c.transport.as_deref()),
        Process::sort_key(c.process.as_deref()),
        Wait::sort_key(c.wait.as_deref()),
        c.axes.get("mode").cloned(),
        is_durable(c),
    )
}

/// Keeps a chart readable: when `cases` would make more than `limit` lines (one per
/// [`pattern_key`]), only the first series in the usual order (fork before spawn; spin, futex,
/// block) of each `group` is kept. Returns the cases kept and whether any were dropped.
pub fn at_most(
    mut cases: Vec<&CaseResult>,
    limit: usize,
    group: impl Fn(&CaseResult) -> Vec<String>,
) -> (Vec<&CaseResult>, bool) {
    let mut keys: Vec<Vec<String>> = cases.iter().map(|c| pattern_key(c)).collect();
    keys.sort();
    keys.dedup();
    if keys.len() <= limit {
        return (cases, false);
    }
    cases.sort_by_key(|c| pattern_order(c));
    let mut chosen: Vec<(Vec<String>, Vec<String>)> = Vec::new();
    let before = cases.len();
    cases.retain(|c| {
        let (g, k) = (group(c), pattern_key(c));
        match chosen.iter().find(|(cg, _)| *cg == g) {
            Some((_, ck)) => *ck == k,
            None => {
                chosen.push((g, k));
                true
            }
        }
    });
    let dropped = cases.len() < before;
    (cases, dropped)
}

/// Gives each distinct variant within a colour family its own index, in order of appearance.
#[derive(Default)]
pub struct Variants {
    seen: Vec<(usize, Vec<String>)>,
}

impl Variants {
    pub fn index(&mut self, family: usize, variant: Vec<String>) -> usize {
        let mut idx = 0;
        for (f, v) in &self.seen {
            if *f == family {
                if *v == variant {
                    return idx;
                }
                idx += 1;
            }
        }
        self.seen.push((family, variant));
        idx
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(parts: &[&str]) -> Vec<String> {
        parts.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn labels_drop_what_every_series_shares() {
        let l = Labeller::new(vec![
            key(&["pipe", "fork", "block", ""]),
            key(&["tcp", "fork", "block", ""]),
        ]);
        assert_eq!(l.label(&key(&["pipe", "fork", "block", ""])), "pipe");
        let one = Labeller::new(vec![key(&["pipe", "fork", "block", ""])]);
        assert_eq!(one.label(&key(&["pipe", "fork", "block", ""])), "pipe fork block");
    }

    #[test]
    fn variants_count_within_a_family() {
        let mut v = Variants::default();
        assert_eq!(v.index(0, key(&["fork"])), 0);
        assert_eq!(v.index(1, key(&["fork"])), 0);
        assert_eq!(v.index(0, key(&["spawn"])), 1);
        assert_eq!(v.index(0, key(&["fork"])), 0);
    }
}
