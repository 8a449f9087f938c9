//! A run in the formats that CI benchmark trackers read.
//!
//! Each case is exported on the figures `compare` judges it on: the p50 of its headline latency
//! ([`headline_latency_kind`]) and its median throughput. Failed and skipped cases are left out;
//! so are cases with neither figure (claim checks, floors that only record scalar figures).

use crate::compare::headline_latency_kind;
use crate::units;
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
        let mut extra = vec![format!("p99 {kind}: {}", units::ns(s.p99 as f64))];
        // An open-loop case (`load`): its headline is one point of a sweep; say where it breaks.
        if let Some(knee) = case.figures.get(crate::load::KNEE) {
            extra.push(format!("knee: {}", units::records_per_s(*knee)));
        }
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
        units::bytes_per_s(t.bytes_per_s.median),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::fixtures::{latencies, latency_case, run, throughput_case};
    use crate::Integrity;
    use serde::Deserialize;
    use std::collections::BTreeMap;

    const PING: &str = "pingpong/posix-shm/fork/spin/64";
    const STREAM: &str = "stream/posix-shm/fork/spin/65536/copy";

    /// github-action-benchmark's custom entry, as its parser reads it: nothing else allowed.
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct GithubEntry {
        name: String,
        unit: String,
        value: f64,
        range: String,
        extra: String,
    }

    /// One Bencher metric: `value` required, bounds optional, all numbers.
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct BencherMetric {
        value: f64,
        lower_value: Option<f64>,
        upper_value: Option<f64>,
    }

    fn sample_run() -> RunFile {
        let mut failed =
            latency_case("pingpong/pipe/fork/block/64", &latencies(3, 100, 9000.0, 0.2));
        failed.error = Some("worker died".into());
        let mut skipped = throughput_case("stream/hugetlb/fork/spin/2097152/copy", 4, 1e9, 0.02, 5);
        skipped.skipped = Some("no huge pages".into());
        let mut stream = throughput_case(STREAM, 2, 5e9, 0.03, 5);
        stream.integrity = Some(Integrity { sent: 10, received: 9, lost: 1, ..Default::default() });
        let mut claim = crate::CaseResult::new("seed/map-shared-visible", "seed");
        claim.claims.push(Default::default());
        run(
            "r1",
            vec![
                latency_case(PING, &latencies(1, 5000, 2000.0, 0.25)),
                stream,
                failed,
                skipped,
                claim,
            ],
        )
    }

    /// Through text, as the tool would read the file.
    fn reparse<T: for<'de> Deserialize<'de>>(v: &Value) -> T {
        serde_json::from_str(&serde_json::to_string_pretty(v).unwrap()).unwrap()
    }

    #[test]
    fn github_action_benchmark_is_custom_smaller_is_better() {
        let run = sample_run();
        let entries: Vec<GithubEntry> = reparse(&export(&run, ExportFormat::GithubActionBenchmark));
        let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(
            names,
            [format!("{PING} p50 one-way"), format!("{STREAM} time per record")],
            "failed, skipped and figure-less cases are left out"
        );
        let (lat, tput) = (&entries[0], &entries[1]);
        let s = &run.cases[0].latency_ns["one_way"];
        assert_eq!((lat.unit.as_str(), lat.value), ("ns", s.p50 as f64));
        assert_eq!(lat.range, format!("± {:.0}", s.stdev));
        let p99 = format!("p99 one-way: {}", crate::units::ns(s.p99 as f64));
        assert!(lat.extra.contains(&p99), "{}", lat.extra);
        assert!(lat.extra.contains("integrity: ok (5000 records verified)"));
        assert!(lat.extra.contains("host: ci-1 (Test CPU, 2 CPUs"));
        let r = &run.cases[1].throughput.as_ref().unwrap().records_per_s;
        assert_eq!(tput.unit, "ns/record");
        assert!((tput.value - 1e9 / r.median).abs() < 1e-3, "{tput:?}");
        assert!(tput.range.starts_with("± ") && tput.range[4..].parse::<f64>().unwrap() > 0.0);
        assert!(tput.extra.contains("integrity: FAILED"), "{}", tput.extra);
        assert!(tput.extra.contains("median of 5 trials"), "{}", tput.extra);
    }

    #[test]
    fn bencher_metric_format_has_latency_and_throughput() {
        let run = sample_run();
        let bmf: BTreeMap<String, BTreeMap<String, BencherMetric>> =
            reparse(&export(&run, ExportFormat::Bencher));
        assert_eq!(bmf.keys().collect::<Vec<_>>(), [PING, STREAM]);
        let lat = &bmf[PING]["latency"];
        let s = &run.cases[0].latency_ns["one_way"];
        assert_eq!(
            (lat.value, lat.lower_value, lat.upper_value),
            (s.p50 as f64, Some(s.min as f64), Some(s.p99 as f64))
        );
        assert!(!bmf[PING].contains_key("throughput"));
        let tput = &bmf[STREAM]["throughput"];
        let r = &run.cases[1].throughput.as_ref().unwrap().records_per_s;
        assert_eq!(
            (tput.value, tput.lower_value, tput.upper_value),
            (r.median, Some(r.min), Some(r.max))
        );
        assert!(tput.lower_value <= Some(tput.value) && Some(tput.value) <= tput.upper_value);
        assert_eq!(bmf[STREAM].len(), 1);
    }

    #[test]
    fn an_empty_run_exports_empty_documents() {
        let run = run("r0", vec![]);
        assert_eq!(export(&run, ExportFormat::GithubActionBenchmark), json!([]));
        assert_eq!(export(&run, ExportFormat::Bencher), json!({}));
    }

    #[test]
    fn formats_parse_by_name() {
        for name in ExportFormat::NAMES {
            let f: ExportFormat = name.parse().unwrap();
            assert_eq!(f.to_string(), name);
            assert!(f.describe().starts_with(name));
        }
        assert!("csv"
            .parse::<ExportFormat>()
            .unwrap_err()
            .contains("github-action-benchmark, bencher"));
    }
}
