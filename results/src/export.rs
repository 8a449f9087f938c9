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
    /// One row per figure: `case,scenario,…,figure,unit,value,p25,p75,trials`.
    Csv,
    /// The same rows as a GitHub table, in the units of the scenario tables.
    Markdown,
}

impl ExportFormat {
    pub const NAMES: [&'static str; 4] = ["github-action-benchmark", "bencher", "csv", "markdown"];

    /// What the format holds, for `ipcbench export --help` and the README.
    pub fn describe(self) -> &'static str {
        match self {
            ExportFormat::GithubActionBenchmark => {
                "github-action-benchmark (tool: customSmallerIsBetter): one entry per latency \
                 case, named \"<case id> p50 <kind>\" (kind one-way, else round-trip, flush or \
                 call), unit ns, value the p50, range \"<p25> to <p75>\": the interquartile \
                 range of the trials' p50s (each trial a fresh pair of processes), or of the \
                 samples for a case without trials; and one entry per throughput case, named \
                 \"<case id> time per record\", unit ns/record, value 1e9 / median records per \
                 second (smaller is better, like latency), range the interquartile range of the \
                 trials' time per record. extra holds the p99, the \
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
            ExportFormat::Csv => {
                "csv: one row per figure, header case,scenario,transport,process,wait,size,\
                 figure,unit,value,p25,p75,trials; figure p50_<kind> in ns or throughput in \
                 bytes/s; p25 and p75 over the trials (over the samples for a latency case \
                 without trials). Failed and skipped cases are left out."
            }
            ExportFormat::Markdown => {
                "markdown: the csv's rows as a GitHub table, figures in the units of the \
                 scenario tables (ns, µs, GB/s). Failed and skipped cases are left out."
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
            "csv" => Ok(ExportFormat::Csv),
            "markdown" => Ok(ExportFormat::Markdown),
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
            ExportFormat::Csv => ExportFormat::NAMES[2],
            ExportFormat::Markdown => ExportFormat::NAMES[3],
        })
    }
}

/// The run in `format` as the text to print (JSON pretty-printed, CSV or markdown).
pub fn render(run: &RunFile, format: ExportFormat) -> String {
    match format {
        ExportFormat::Csv => csv(run),
        ExportFormat::Markdown => markdown(run),
        _ => {
            let v = export(run, format);
            format!("{}\n", serde_json::to_string_pretty(&v).expect("plain data serializes"))
        }
    }
}

/// The run in a JSON `format`, ready for `serde_json::to_string_pretty`; the text formats
/// (csv, markdown) are an array of their rows.
pub fn export(run: &RunFile, format: ExportFormat) -> Value {
    let measured = run.cases.iter().filter(|c| c.ok());
    match format {
        ExportFormat::GithubActionBenchmark => {
            Value::Array(measured.flat_map(|c| github_entries(run, c)).collect())
        }
        ExportFormat::Bencher => {
            Value::Object(measured.filter_map(|c| Some((c.id.clone(), bencher_case(c)?))).collect())
        }
        ExportFormat::Csv | ExportFormat::Markdown => Value::Array(
            rows(run)
                .into_iter()
                .map(|r| json!({"case": r.case.id, "figure": r.figure, "value": r.value}))
                .collect(),
        ),
    }
}

/// The value at quantile `q` of sorted values (nearest rank), as HDR histograms report it.
fn quantile_sorted(v: &[f64], q: f64) -> f64 {
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

/// p25 and p75 of the values, `None` when there are none.
fn quartiles(values: &[f64]) -> Option<(f64, f64)> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some((quantile_sorted(&v, 0.25), quantile_sorted(&v, 0.75)))
}

/// The interquartile range of a latency's p50 over its trials; without trials, of its samples
/// (from the stored histogram). Returns the range and how many trials it spans (0: samples).
fn latency_quartiles(case: &CaseResult, kind: &str) -> Option<((f64, f64), usize)> {
    let trials: Vec<f64> =
        case.latency_trials_ns.get(kind).into_iter().flatten().map(|s| s.p50 as f64).collect();
    if !trials.is_empty() {
        return Some((quartiles(&trials)?, trials.len()));
    }
    let h = crate::histogram::decode(case.histograms.get(kind)?).ok().filter(|h| !h.is_empty())?;
    Some(((h.value_at_quantile(0.25) as f64, h.value_at_quantile(0.75) as f64), 0))
}

/// Each throughput trial's bytes per second.
fn trial_rates(t: &Throughput, bytes: bool) -> Vec<f64> {
    t.trials
        .iter()
        .filter(|t| t.seconds > 0.0)
        .map(|t| if bytes { t.bytes } else { t.records } as f64 / t.seconds)
        .filter(|r| *r > 0.0)
        .collect()
}

/// One figure of one case, as csv and markdown list them.
struct Row<'a> {
    case: &'a CaseResult,
    figure: String,
    unit: &'static str,
    value: f64,
    quartiles: Option<(f64, f64)>,
    trials: usize,
}

fn rows(run: &RunFile) -> Vec<Row<'_>> {
    let mut out = Vec::new();
    for case in run.cases.iter().filter(|c| c.ok()) {
        if let Some((kind, s)) = latency(case) {
            let q = latency_quartiles(case, kind);
            out.push(Row {
                case,
                figure: format!("p50_{kind}"),
                unit: "ns",
                value: s.p50 as f64,
                quartiles: q.map(|q| q.0),
                trials: q.map_or(0, |q| q.1),
            });
        }
        if let Some(t) = throughput(case) {
            let rates = trial_rates(t, true);
            out.push(Row {
                case,
                figure: "throughput".into(),
                unit: "bytes/s",
                value: t.bytes_per_s.median,
                quartiles: quartiles(&rates),
                trials: rates.len(),
            });
        }
    }
    out
}

/// A CSV field, quoted when it holds a comma, a quote or a line break (RFC 4180).
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn csv(run: &RunFile) -> String {
    let mut out = String::from(
        "case,scenario,transport,process,wait,size,figure,unit,value,p25,p75,trials\n",
    );
    for r in rows(run) {
        let c = r.case;
        let opt = |o: &Option<String>| o.as_deref().map(csv_field).unwrap_or_default();
        let (p25, p75) =
            r.quartiles.map(|(a, b)| (a.to_string(), b.to_string())).unwrap_or_default();
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{p25},{p75},{}\n",
            csv_field(&c.id),
            csv_field(&c.scenario),
            opt(&c.transport),
            opt(&c.process),
            opt(&c.wait),
            c.size.map(|s| s.to_string()).unwrap_or_default(),
            r.figure,
            r.unit,
            r.value,
            r.trials
        ));
    }
    out
}

fn markdown(run: &RunFile) -> String {
    let fmt = |unit: &str, v: f64| match unit {
        "ns" => units::ns(v),
        _ => units::bytes_per_s(v),
    };
    let mut t = crate::table::Table::new(&["case", "figure", "value", "p25 – p75", "trials"]);
    for r in rows(run) {
        let range = r
            .quartiles
            .map(|(a, b)| format!("{} – {}", fmt(r.unit, a), fmt(r.unit, b)))
            .unwrap_or_else(|| "-".into());
        let trials = if r.trials == 0 { "-".to_string() } else { r.trials.to_string() };
        t.row(vec![
            format!("`{}`", r.case.id),
            r.figure.replace('_', " "),
            fmt(r.unit, r.value),
            range,
            trials,
        ]);
    }
    let r = &run.run;
    format!(
        "**ipcbench** run `{}` on {} ({}, {} CPUs)\n\n{}",
        r.id,
        r.hostname,
        r.cpu_model,
        r.logical_cpus,
        t.markdown()
    )
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
        let range = latency_quartiles(case, headline_latency_kind(case).unwrap_or_default())
            .map(|((lo, hi), _)| format!("{lo:.0} to {hi:.0}"))
            .unwrap_or_else(|| "-".into());
        entries.push(json!({
            "name": format!("{} p50 {kind}", case.id),
            "unit": "ns",
            "value": s.p50,
            "range": range,
            "extra": extra.join("\n"),
        }));
    }
    if let Some(t) = throughput(case) {
        let ns_per_record = |records_per_s: f64| 1e9 / records_per_s;
        let r = &t.records_per_s;
        let per_record: Vec<f64> = trial_rates(t, false).into_iter().map(ns_per_record).collect();
        let range = quartiles(&per_record)
            .map(|(lo, hi)| format!("{} to {}", round3(lo), round3(hi)))
            .unwrap_or_else(|| "-".into());
        let mut extra = vec![throughput_line(t)];
        extra.extend(context);
        entries.push(json!({
            "name": format!("{} time per record", case.id),
            "unit": "ns/record",
            "value": round3(ns_per_record(r.median)),
            "range": range,
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
        // The interquartile range of the samples (no trials here), around the p50.
        let (lo, hi) = lat.range.split_once(" to ").unwrap();
        let (lo, hi): (f64, f64) = (lo.parse().unwrap(), hi.parse().unwrap());
        assert!(lo <= lat.value && lat.value <= hi, "{lat:?}");
        let p99 = format!("p99 one-way: {}", crate::units::ns(s.p99 as f64));
        assert!(lat.extra.contains(&p99), "{}", lat.extra);
        assert!(lat.extra.contains("integrity: ok (5000 records verified)"));
        assert!(lat.extra.contains("host: ci-1 (Test CPU, 2 CPUs"));
        let r = &run.cases[1].throughput.as_ref().unwrap().records_per_s;
        assert_eq!(tput.unit, "ns/record");
        assert!((tput.value - 1e9 / r.median).abs() < 1e-3, "{tput:?}");
        let (lo, hi) = tput.range.split_once(" to ").unwrap();
        let (lo, hi): (f64, f64) = (lo.parse().unwrap(), hi.parse().unwrap());
        assert!(lo <= hi, "{tput:?}");
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

    /// The trials' interquartile range, not ± a standard deviation of a long-tailed
    /// distribution: a wild trial moves neither bound.
    #[test]
    fn the_range_is_the_trials_interquartile_range() {
        let mut c = crate::compare::fixtures::latency_trials_case(PING, 1, &[200.0; 8]);
        let trials = c.latency_trials_ns.get_mut("one_way").unwrap();
        trials[3].p50 = 4_000_000;
        let p50s: Vec<u64> = trials.iter().map(|t| t.p50).collect();
        let r = run("r", vec![c]);
        let entries: Vec<GithubEntry> = reparse(&export(&r, ExportFormat::GithubActionBenchmark));
        let (lo, hi) = entries[0].range.split_once(" to ").unwrap();
        let hi: f64 = hi.parse().unwrap();
        assert!(hi < 4_000_000.0 && lo.parse::<f64>().unwrap() <= hi, "{:?} {p50s:?}", entries[0]);
    }

    #[test]
    fn csv_and_markdown_list_every_figure() {
        let run = sample_run();
        let csv = render(&run, ExportFormat::Csv);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(
            lines[0],
            "case,scenario,transport,process,wait,size,figure,unit,value,p25,p75,trials"
        );
        assert_eq!(lines.len(), 3, "{csv}");
        assert!(lines.iter().all(|l| l.split(',').count() == 12), "{csv}");
        assert!(lines[1].starts_with(PING) && lines[1].contains(",p50_one_way,ns,"), "{csv}");
        assert!(lines[2].starts_with(STREAM) && lines[2].ends_with(",5"), "{csv}");
        assert_eq!(csv_field("a,b\"c"), "\"a,b\"\"c\"");
        let md = render(&run, ExportFormat::Markdown);
        assert!(md.contains(&format!("`{PING}`")) && md.contains("GB/s"), "{md}");
        assert!(md.contains("| case | figure | value |"), "{md}");
    }

    #[test]
    fn formats_parse_by_name() {
        for name in ExportFormat::NAMES {
            let f: ExportFormat = name.parse().unwrap();
            assert_eq!(f.to_string(), name);
            assert!(f.describe().starts_with(name));
        }
        assert!("xml"
            .parse::<ExportFormat>()
            .unwrap_err()
            .contains("github-action-benchmark, bencher, csv, markdown"));
    }
}
