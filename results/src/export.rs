//! A run in the formats that CI benchmark trackers read.
//!
//! Each case is exported on the figures `compare` judges it on: the p50 of its headline latency
//! ([`headline_latency_kind`]) and its median throughput. Failed and skipped cases are left out;
//! so are cases with neither figure (claim checks, floors that only record scalar figures).

use crate::compare::{fmt_bytes_per_s, fmt_ns, headline_latency_kind};
use crate::{CaseResult, RunFile, Summary, Throughput};
use serde_json::{json, Map, Value};
use std::fmt;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    /// github-action-benchmark, tool `customSmallerIsBetter`: an array of
    /// `{name, unit, value, range, extra}`.
    GithubActionBenchmark,
    /// Bencher Metric Format: `{case id: {measure: {value, lower_value, upper_value}}}`.
    Bencher,
}

impl ExportFormat {
    pub const NAMES: [&'static str; 2] = ["github-action-benchmark", "bencher"];

    /// What the format holds, for `ipcbench export --help` and the README.
    pub fn describe(self) -> &'static str {
        match self {
            ExportFormat::GithubActionBenchmark => {
                "github-action-benchmark (tool: customSmallerIsBetter): one entry per latency \
                 case, named \"<case id> p50 <kind>\" (kind one-way, else round-trip, flush or \
                 call), unit ns, value the p50, range \"± <stdev>\" in ns; and one entry per \
                 throughput case, named \"<case id> time per record\", unit ns/record, value \
                 1e9 / median records per second (smaller is better, like latency), range half \
                 the spread between the slowest and fastest trial. extra holds the p99, the \
                 throughput in bytes/s, the integrity check, the host and the run. Failed and \
                 skipped cases are left out."
            }
            ExportFormat::Bencher => {
                "bencher (Bencher Metric Format): per case id, measure \"latency\" in ns with \
                 value = p50, lower_value = min, upper_value = p99 of the headline latency \
                 (one-way, else round-trip, flush or call); measure \"throughput\" in records \
                 (operations) per second with value = median, lower_value / upper_value = \
                 slowest / fastest trial. Failed and skipped cases are left out."
            }
        }
    }
}

impl FromStr for ExportFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "github-action-benchmark" => Ok(ExportFormat::GithubActionBenchmark),
            "bencher" => Ok(ExportFormat::Bencher),
            _ => Err(format!(
                "unknown export format {s:?}; valid: {}",
                ExportFormat::NAMES.join(", ")
            )),
        }
    }
}

impl fmt::Display for ExportFormat {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(match self {
            ExportFormat::GithubActionBenchmark => ExportFormat::NAMES[0],
            ExportFormat::Bencher => ExportFormat::NAMES[1],
        })
    }
}

/// The run in `format`, ready for `serde_json::to_string_pretty`.
pub fn export(run: &RunFile, format: ExportFormat) -> Value {
    let measured = run.cases.iter().filter(|c| c.ok());
    match format {
        ExportFormat::GithubActionBenchmark => {
            Value::Array(measured.flat_map(|c| github_entries(run, c)).collect())
        }
        ExportFormat::Bencher => {
            Value::Object(measured.filter_map(|c| Some((c.id.clone(), bencher_case(c)?))).collect())
        }
    }
}

fn latency(case: &CaseResult) -> Option<(&str, &Summary)> {
    let kind = headline_latency_kind(case)?;
    Some((kind, &case.latency_ns[kind]))
}

fn throughput(case: &CaseResult) -> Option<&Throughput> {
    case.throughput.as_ref().filter(|t| t.records_per_s.median > 0.0)
}

fn github_entries(run: &RunFile, case: &CaseResult) -> Vec<Value> {
    let mut entries = Vec::new();
    let context = context_lines(run, case);
    if let Some((kind, s)) = latency(case) {
        let kind = kind.replace('_', "-");
        let mut extra = vec![format!("p99 {kind}: {}", fmt_ns(s.p99 as f64))];
        if let Some(t) = throughput(case) {
            extra.push(throughput_line(t));
        }
        extra.extend(context.iter().cloned());
        entries.push(json!({
            "name": format!("{} p50 {kind}", case.id),
            "unit": "ns",
            "value": s.p50,
            "range": format!("± {:.0}", s.stdev),
            "extra": extra.join("\n"),
        }));
    }
    if let Some(t) = throughput(case) {
        let ns_per_record = |records_per_s: f64| 1e9 / records_per_s;
        let r = &t.records_per_s;
        let half_spread = if r.min > 0.0 && r.max > 0.0 {
            (ns_per_record(r.min) - ns_per_record(r.max)) / 2.0
        } else {
            0.0
        };
        let mut extra = vec![throughput_line(t)];
        extra.extend(context);
        entries.push(json!({
            "name": format!("{} time per record", case.id),
            "unit": "ns/record",
            "value": round3(ns_per_record(r.median)),
            "range": format!("± {}", round3(half_spread)),
            "extra": extra.join("\n"),
        }));
    }
    entries
}

fn throughput_line(t: &Throughput) -> String {
    format!(
        "throughput: {}, {:.0} records/s (median of {} trials)",
        fmt_bytes_per_s(t.bytes_per_s.median),
        t.records_per_s.median,
        t.trials.len()
    )
}

/// What a reader of a chart point needs to trust it: integrity, host, run.
fn context_lines(run: &RunFile, case: &CaseResult) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(i) = &case.integrity {
        lines.push(if i.ok() {
            format!("integrity: ok ({} records verified)", i.received)
        } else {
            format!(
                "integrity: FAILED ({} sent, {} received, {} lost, {} reordered, {} corrupted)",
                i.sent, i.received, i.lost, i.reordered, i.corrupted
            )
        });
    }
    let r = &run.run;
    lines.push(format!(
        "host: {} ({}, {} CPUs, kernel {})",
        r.hostname, r.cpu_model, r.logical_cpus, r.kernel
    ));
    let commit = r.git_commit.as_deref().unwrap_or("no commit");
    lines.push(format!("run: {} ({commit}, ipcbench {})", r.id, r.ipcbench_version));
    lines
}

fn bencher_case(case: &CaseResult) -> Option<Value> {
    let mut measures = Map::new();
    if let Some((_, s)) = latency(case) {
        measures.insert(
            "latency".into(),
            json!({ "value": s.p50, "lower_value": s.min, "upper_value": s.p99 }),
        );
    }
    if let Some(t) = throughput(case) {
        let r = &t.records_per_s;
        measures.insert(
            "throughput".into(),
            json!({ "value": r.median, "lower_value": r.min, "upper_value": r.max }),
        );
    }
    (!measures.is_empty()).then_some(Value::Object(measures))
}

/// Three decimals: enough for ns, without float noise in the file.
fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}
