//! Two runs, case by case: what got faster, what got slower, and what only looks like it.
//!
//! `compare` reads two [`RunFile`]s and nothing else. A change counts only when it is beyond the
//! threshold *and* beyond what the runs' own spread explains; [`METHOD`] says exactly how, and is
//! what `--help` and the README print.

use crate::{CaseResult, Integrity, RunFile, RunInfo};
use serde::{Deserialize, Serialize};
use std::fmt::{self, Write as _};
use std::str::FromStr;

/// How a verdict is reached, for `ipcbench compare --help` and the README. The numbers in it are
/// the constants below (a test keeps them in step).
pub const METHOD: &str = "\
Cases are matched by id. For each case, whichever were measured: p50 and p99 latency (one-way; \
else round trip, flush, call, or failing those the first kind stored) and median throughput \
(bytes/s, higher is better). \
A figure's change is (new - base) / base. It counts as regressed or improved only when it is \
beyond its threshold AND the whole 95 % confidence interval of the change lies beyond that \
threshold as well. A change beyond the threshold whose interval reaches back inside it is \
reported as noise; a change within the threshold as no change. \
Thresholds: --threshold, default 20 %, for figures set by the cache-line handoff (a spinning \
receiver, records under 1 MiB) and for throughput; 4 times that (80 % by default) for latency \
that waits on what the whole host shares: a wake-up by the scheduler (futex, block) or a record \
of 1 MiB or more through memory. Between two runs on a shared host, these move with whatever \
else runs, by tens of percent; a figure's own run cannot show that drift, so its threshold must \
absorb it. Raise --threshold on a noisier host, lower it on a quiet dedicated one. \
p99 is reported and judged against twice its threshold, but counts only with --gate-p99 \
(otherwise a move beyond it is shown as noise): a run's tail is set by what else ran during it. \
Latency intervals: a case measured over several trials (each a fresh pair of processes and \
objects) is judged, for wake-up and 1 MiB figures, on the trials: the distribution-free \
interval of the ratio that inverts the Mann-Whitney rank test over the trials' quantiles (order \
statistics of the pairwise log-ratios, Hodges-Lehmann), so a change must show in the pairs, not \
in one disturbed stretch of the run. Handoff figures, and cases without trials, are judged on \
their pooled histograms: percentile bootstrap of the ratio new/base of the quantile, 5000 \
resamples drawn from the two stored HDR histograms, each resample the size of its run (the \
resampled quantile is drawn exactly through its order statistic, U(k) ~ Beta(k, n+1-k)), with \
a fixed seed so the same files always give the same verdicts. The pooled p50 of many pairs holds \
steady while a minority of pairs land in a slower state of the machine, which a rank interval \
over the pairs would mistake for spread; when a majority did, the pooled p50 jumps, so a handoff \
figure with trials counts only if the lower quartile of its trials moved beyond the threshold \
too (a regression slows every pair, the fastest as well). A quantile with fewer than 10 samples beyond it is not \
resolved by its run: it is reported but never counts (noise). \
Throughput intervals: the same rank interval over the per-trial throughputs, exact for small \
samples; it needs enough trials on each side (4 and 4 will do). \
Without histograms or enough trials the change is judged on the threshold alone \
(\"no spread stored\").";

/// Default `--threshold`, in percent. Two back-to-back quick runs of one build on a shared
/// 2-CPU VM moved 64-byte spin p50s by up to 15 % (see README, "Tracking performance in CI").
pub const DEFAULT_THRESHOLD_PCT: f64 = 20.0;
/// Latency that waits on what the whole host shares (a wake-up by the scheduler, a 1 MiB copy
/// through memory) must move this many thresholds: on the same VM such p50s moved by up to
/// 77 % between two runs of one build.
pub const SHARED_THRESHOLD_FACTOR: f64 = 4.0;
/// Records of this size or more are copies through memory: [`SHARED_THRESHOLD_FACTOR`].
pub const LARGE_RECORD_BYTES: u64 = 1 << 20;
/// p99 must move this many thresholds (of its figure's kind): tail latency drifts more between
/// runs than the median.
pub const P99_THRESHOLD_FACTOR: f64 = 2.0;
/// Confidence level of every interval.
pub const CONFIDENCE: f64 = 0.95;
/// Bootstrap resamples per figure: enough for stable 2.5 % / 97.5 % bounds, cheap because each
/// resampled quantile is one Beta draw and one binary search.
pub const BOOTSTRAP_RESAMPLES: usize = 5000;
/// The bootstrap's seed, mixed with the case id and figure so figures draw independent streams
/// whatever the order of cases.
pub const BOOTSTRAP_SEED: u64 = 0x1bcc_03a2_e5ee_d5ed;
/// A quantile with fewer samples than this beyond it (p99 of fewer than 1000) is not resolved.
pub const MIN_TAIL_SAMPLES: u64 = 10;
/// Latency kinds compared, in order of preference; a case is compared on the first it has.
pub const LATENCY_KINDS: [&str; 4] = ["one_way", "round_trip", "flush", "call"];

/// Tag of the JSON that `--format json` prints.
pub const COMPARE_SCHEMA: &str = "ipcbench-compare/1";

/// The latency kind a case is judged on: the first of [`LATENCY_KINDS`] it measured, else the
/// first kind it has (by name), so no measured latency goes unjudged.
pub fn headline_latency_kind(case: &CaseResult) -> Option<&str> {
    LATENCY_KINDS
        .iter()
        .find(|k| case.latency_ns.contains_key(**k))
        .copied()
        .or_else(|| case.latency_ns.keys().next().map(String::as_str))
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CompareOptions {
    /// A change smaller than this, in percent, is "no change" (p99: [`P99_THRESHOLD_FACTOR`]
    /// times this). Default 5; finite and ≥ 0. Higher hides more drift on noisy hosts and more
    /// real regressions with it.
    pub threshold_pct: f64,
    /// Whether p99 may count (`--gate-p99`). Default no: it is reported, judged, and shown as
    /// noise when it moved, because between two runs on a shared host the tail follows what
    /// else ran far more than any run's own spread shows.
    pub gate_p99: bool,
}

impl Default for CompareOptions {
    fn default() -> Self {
        CompareOptions { threshold_pct: DEFAULT_THRESHOLD_PCT, gate_p99: false }
    }
}

impl CompareOptions {
    /// Checks the threshold; the error is one line for the CLI.
    pub fn new(threshold_pct: f64) -> Result<Self, String> {
        if threshold_pct.is_finite() && threshold_pct >= 0.0 {
            Ok(CompareOptions { threshold_pct, ..CompareOptions::default() })
        } else {
            Err(format!("--threshold must be a percentage of 0 or more, got {threshold_pct}"))
        }
    }
}

/// How `Comparison::render` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Aligned plain text for a terminal or a CI log.
    Table,
    /// A GitHub table for a PR comment, one-line summary on top.
    Markdown,
    /// The stable `ipcbench-compare/1` structure.
    Json,
}

impl Format {
    pub const NAMES: [&'static str; 3] = ["table", "markdown", "json"];
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "table" => Ok(Format::Table),
            "markdown" => Ok(Format::Markdown),
            "json" => Ok(Format::Json),
            _ => Err(format!("unknown format {s:?}; valid: {}", Format::NAMES.join(", "))),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let name = match self {
            Format::Table => "table",
            Format::Markdown => "markdown",
            Format::Json => "json",
        };
        f.write_str(name)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Improved,
    Regressed,
    /// Within the threshold.
    NoChange,
    /// Beyond the threshold, but the spread of the runs explains it.
    Noise,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(match self {
            Verdict::Improved => "improved",
            Verdict::Regressed => "regressed",
            Verdict::NoChange => "no change",
            Verdict::Noise => "noise",
        })
    }
}

/// Which way is better for a figure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Better {
    Lower,
    Higher,
}

/// What the verdict of a figure rests on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// Bootstrap interval from both runs' histograms.
    Bootstrap,
    /// Rank interval from both runs' trials: throughput trials, or the latency quantile of
    /// each fresh pair of processes.
    Trials,
    /// No histogram or too few trials on a side: the threshold alone decides.
    ThresholdOnly,
    /// Too few samples beyond the quantile in a run: reported, never counted.
    TailUnresolved,
}

/// One figure of one case, base against new.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FigureComparison {
    /// Where the figure lives in a result file: `latency_ns.one_way.p50`,
    /// `throughput.bytes_per_s.median`.
    pub key: String,
    /// As printed: `p50 one-way`, `median throughput`.
    pub name: String,
    /// `ns` or `bytes/s`.
    pub unit: String,
    pub better: Better,
    pub base: f64,
    pub new: f64,
    /// (new - base) / base, in percent.
    pub change_pct: f64,
    /// [`CONFIDENCE`] interval of `change_pct`, when the runs stored their spread.
    pub ci_pct: Option<[f64; 2]>,
    /// The threshold this figure was judged against (p99: twice the option's).
    pub threshold_pct: f64,
    pub basis: Basis,
    pub verdict: Verdict,
    /// Why the interval is missing or not trusted ("no spread stored", …).
    pub note: Option<String>,
    /// Whether the verdict may count: p99 does only with `--gate-p99`; a figure that does not
    /// gate is shown as noise when it moved beyond its threshold.
    #[serde(default = "gates_by_default")]
    pub gates: bool,
}

fn gates_by_default() -> bool {
    true
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseStatus {
    Compared,
    OnlyInBase,
    OnlyInNew,
    /// Failed (`error`) on either side.
    Failed,
    /// Skipped on either side (not measurable on that host).
    Skipped,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CaseComparison {
    pub id: String,
    pub status: CaseStatus,
    /// Empty unless `status` is `compared`.
    pub figures: Vec<FigureComparison>,
    /// For `failed` and `skipped`: which side, and why.
    pub detail: Option<String>,
    /// Advice about the figures (a failed integrity check, …).
    pub notes: Vec<String>,
}

/// Which run a side is, enough to find it again.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunRef {
    pub id: String,
    pub started_at: String,
    pub hostname: String,
    pub git_commit: Option<String>,
    pub ipcbench_version: String,
}

impl RunRef {
    fn of(run: &RunInfo) -> RunRef {
        RunRef {
            id: run.id.clone(),
            started_at: run.started_at.clone(),
            hostname: run.hostname.clone(),
            git_commit: run.git_commit.clone(),
            ipcbench_version: run.ipcbench_version.clone(),
        }
    }
}

/// Counts for the summary line: figures by verdict, cases by status.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    pub regressed: usize,
    pub improved: usize,
    pub no_change: usize,
    pub noise: usize,
    pub cases_compared: usize,
    pub only_in_base: usize,
    pub only_in_new: usize,
    pub failed: usize,
    pub skipped: usize,
}

/// The outcome of `compare`; `render` prints it, `has_regression` decides the exit status.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// [`COMPARE_SCHEMA`].
    pub schema: String,
    pub threshold_pct: f64,
    pub p99_threshold_pct: f64,
    /// The threshold of latency that waits on a wake-up or moves 1 MiB or more.
    #[serde(default)]
    pub shared_threshold_pct: f64,
    /// Whether p99 could count (`--gate-p99`).
    #[serde(default)]
    pub gate_p99: bool,
    pub confidence: f64,
    pub base: RunRef,
    pub new: RunRef,
    /// Full sentences: different hosts, different versions, …
    pub warnings: Vec<String>,
    pub summary: Tally,
    /// Base's cases in its order, then those only in new.
    pub cases: Vec<CaseComparison>,
}

impl Comparison {
    /// A figure regressed beyond threshold and spread: the CLI exits 1.
    pub fn has_regression(&self) -> bool {
        self.figures().any(|(_, f)| f.gates && f.verdict == Verdict::Regressed)
    }

    /// Every compared figure with its case id, in case order.
    pub fn figures(&self) -> impl Iterator<Item = (&str, &FigureComparison)> {
        self.cases.iter().flat_map(|c| c.figures.iter().map(move |f| (c.id.as_str(), f)))
    }

    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Table => render_table(self),
            Format::Markdown => render_markdown(self),
            Format::Json => {
                let mut s = serde_json::to_string_pretty(self).expect("plain data serializes");
                s.push('\n');
                s
            }
        }
    }
}

/// Matches cases by id and judges each figure; see [`METHOD`].
pub fn compare(base: &RunFile, new: &RunFile, opts: &CompareOptions) -> Comparison {
    let mut cases = Vec::new();
    for b in &base.cases {
        cases.push(match new.case(&b.id) {
            Some(n) => compare_case(b, n, opts),
            None => one_side(&b.id, CaseStatus::OnlyInBase),
        });
    }
    for n in new.cases.iter().filter(|n| base.case(&n.id).is_none()) {
        cases.push(one_side(&n.id, CaseStatus::OnlyInNew));
    }
    let summary = tally(&cases);
    Comparison {
        schema: COMPARE_SCHEMA.to_string(),
        threshold_pct: opts.threshold_pct,
        p99_threshold_pct: opts.threshold_pct * P99_THRESHOLD_FACTOR,
        shared_threshold_pct: opts.threshold_pct * SHARED_THRESHOLD_FACTOR,
        gate_p99: opts.gate_p99,
        confidence: CONFIDENCE,
        base: RunRef::of(&base.run),
        new: RunRef::of(&new.run),
        warnings: warnings(&base.run, &new.run),
        summary,
        cases,
    }
}

fn one_side(id: &str, status: CaseStatus) -> CaseComparison {
    CaseComparison { id: id.to_string(), status, figures: Vec::new(), detail: None, notes: vec![] }
}

fn tally(cases: &[CaseComparison]) -> Tally {
    let mut t = Tally::default();
    for c in cases {
        match c.status {
            CaseStatus::Compared => t.cases_compared += 1,
            CaseStatus::OnlyInBase => t.only_in_base += 1,
            CaseStatus::OnlyInNew => t.only_in_new += 1,
            CaseStatus::Failed => t.failed += 1,
            CaseStatus::Skipped => t.skipped += 1,
        }
        for f in &c.figures {
            match f.verdict {
                Verdict::Regressed => t.regressed += 1,
                Verdict::Improved => t.improved += 1,
                Verdict::NoChange => t.no_change += 1,
                Verdict::Noise => t.noise += 1,
            }
        }
    }
    t
}

fn warnings(base: &RunInfo, new: &RunInfo) -> Vec<String> {
    let mut w = Vec::new();
    let host = |r: &RunInfo| format!("{}, {}, {} CPUs", r.hostname, r.cpu_model, r.logical_cpus);
    if base.hostname != new.hostname
        || base.cpu_model != new.cpu_model
        || base.logical_cpus != new.logical_cpus
    {
        w.push(format!(
            "The runs come from different hosts (base: {}; new: {}): a change may be the \
             machine's, not the code's. Compare runs made on one host to judge the code.",
            host(base),
            host(new)
        ));
    }
    if base.ipcbench_version != new.ipcbench_version {
        w.push(format!(
            "The runs were made by different ipcbench versions (base {}, new {}): a case may be \
             measured differently between them.",
            base.ipcbench_version, new.ipcbench_version
        ));
    }
    if base.quick != new.quick {
        let quick = if base.quick { "base" } else { "new" };
        w.push(format!(
            "Only the {quick} run used --quick: its cases ran fewer iterations, so their \
             intervals are wider and some figures may shift. Compare runs made the same way."
        ));
    }
    for (side, r) in [("base", base), ("new", new)] {
        if let Some(why) = &r.interrupted {
            w.push(format!(
                "The {side} run was interrupted ({why}): the cases it did not reach are listed \
                 as present on one side only."
            ));
        }
    }
    w
}

fn compare_case(base: &CaseResult, new: &CaseResult, opts: &CompareOptions) -> CaseComparison {
    let mut c = one_side(&base.id, CaseStatus::Compared);
    let side_detail = |what: &str, b: &Option<String>, n: &Option<String>| {
        let parts: Vec<String> = [("base", b), ("new", n)]
            .into_iter()
            .filter_map(|(side, why)| why.as_ref().map(|w| format!("{what} in {side} run: {w}")))
            .collect();
        (!parts.is_empty()).then(|| parts.join("; "))
    };
    if let Some(d) = side_detail("failed", &base.error, &new.error) {
        c.status = CaseStatus::Failed;
        c.detail = Some(d);
        return c;
    }
    if let Some(d) = side_detail("skipped", &base.skipped, &new.skipped) {
        c.status = CaseStatus::Skipped;
        c.detail = Some(d);
        return c;
    }
    for (side, case) in [("base", base), ("new", new)] {
        if let Some(i) = case.integrity.filter(|i| !i.ok()) {
            c.notes.push(integrity_note(side, &i));
        }
    }
    let (bk, nk) = (headline_latency_kind(base), headline_latency_kind(new));
    if bk != nk {
        c.notes.push(format!(
            "The runs measured different latencies (base: {}, new: {}): latency is not compared.",
            bk.unwrap_or("none"),
            nk.unwrap_or("none")
        ));
    }
    c.figures.extend(latency_figures(base, new, opts));
    c.figures.extend(throughput_figure(base, new, opts));
    c
}

fn integrity_note(side: &str, i: &Integrity) -> String {
    format!(
        "The integrity check failed in the {side} run ({} sent, {} received, {} lost, {} \
         reordered, {} corrupted): its figures are not to be trusted.",
        i.sent, i.received, i.lost, i.reordered, i.corrupted
    )
}

fn latency_figures(
    base: &CaseResult,
    new: &CaseResult,
    opts: &CompareOptions,
) -> Vec<FigureComparison> {
    let Some(kind) = headline_latency_kind(base).filter(|k| new.latency_ns.contains_key(*k)) else {
        return Vec::new();
    };
    let (bs, ns) = (&base.latency_ns[kind], &new.latency_ns[kind]);
    let hist = |c: &CaseResult| c.histograms.get(kind).map(|h| decode_histogram(h));
    let (bh, nh) = (hist(base), hist(new));
    let (be, ne) = match (&bh, &nh) {
        (Some(Ok(b)), Some(Ok(n))) if !b.is_empty() && !n.is_empty() => {
            (Some(stats::Empirical::from_histogram(b)), Some(stats::Empirical::from_histogram(n)))
        }
        _ => (None, None),
    };
    let unreadable = [bh, nh].into_iter().flatten().find_map(Result::err);
    let quantiles = [("p50", 0.5, bs.p50, ns.p50, 1.0), ("p99", 0.99, bs.p99, ns.p99, 2.0)];
    let shared = waits_on_shared(base);
    let class_factor = if shared { SHARED_THRESHOLD_FACTOR } else { 1.0 };
    let mut out = Vec::new();
    for (label, q, b, n, factor) in quantiles {
        if b == 0 {
            continue; // no base to take a change from
        }
        let threshold = opts.threshold_pct * factor * class_factor;
        let key = format!("latency_ns.{kind}.{label}");
        let tail = bs.count.min(ns.count) as f64 * (1.0 - q);
        let (basis, ci, note) = if tail < MIN_TAIL_SAMPLES as f64 {
            let note = format!(
                "too few samples beyond {label} ({} and {}) to resolve it",
                bs.count, ns.count
            );
            (Basis::TailUnresolved, None, Some(note))
        } else if let Some(ci) = trial_interval(base, new, kind, label).filter(|_| shared) {
            (Basis::Trials, Some(ci), None)
        } else {
            match (&be, &ne) {
                (Some(be), Some(ne)) => {
                    let seed = BOOTSTRAP_SEED ^ fnv1a(&base.id) ^ fnv1a(&key).rotate_left(17);
                    let ci = stats::bootstrap_quantile_change(be, ne, q, seed);
                    (Basis::Bootstrap, Some(ci), None)
                }
                _ => {
                    let note = match &unreadable {
                        Some(e) => format!("no spread stored (histogram unreadable: {e})"),
                        None => "no spread stored".to_string(),
                    };
                    (Basis::ThresholdOnly, None, Some(note))
                }
            }
        };
        let mut f = figure(
            key,
            format!("{label} {}", kind.replace('_', "-")),
            "ns",
            Better::Lower,
            (b as f64, n as f64),
            threshold,
            (basis, ci, note),
        );
        if !shared {
            if let Some(lq) = lower_quartile_change(base, new, kind, label) {
                let moved = if f.change_pct > 0.0 { lq > threshold } else { lq < -threshold };
                if matches!(f.verdict, Verdict::Regressed | Verdict::Improved) && !moved {
                    f.verdict = Verdict::Noise;
                    f.note = Some(format!(
                        "its fastest pairs moved {lq:+.1} %: more pairs than in the other run \
                         landed in a slower state of the machine"
                    ));
                }
            }
        }
        if label == "p99" && !opts.gate_p99 {
            f.gates = false;
            if f.verdict != Verdict::NoChange {
                f.verdict = Verdict::Noise;
            }
            let why = "p99 does not count without --gate-p99";
            f.note = Some(match f.note.take() {
                Some(n) => format!("{n}; {why}"),
                None => why.to_string(),
            });
        }
        out.push(f);
    }
    out
}

/// Whether a case's latency waits on what the whole host shares: a wake-up by the scheduler
/// (`futex`, `block`) or a record of [`LARGE_RECORD_BYTES`] or more copied through memory.
pub fn waits_on_shared(case: &CaseResult) -> bool {
    matches!(case.wait.as_deref(), Some("futex" | "block"))
        || case.size.is_some_and(|s| s >= LARGE_RECORD_BYTES)
}

/// The change (in %) of the lower quartile of a quantile over the runs' trials — what the
/// faster pairs measured — when both runs stored enough trials for quartiles (4).
fn lower_quartile_change(
    base: &CaseResult,
    new: &CaseResult,
    kind: &str,
    label: &str,
) -> Option<f64> {
    let lq = |c: &CaseResult| -> Option<f64> {
        let mut v: Vec<u64> = c
            .latency_trials_ns
            .get(kind)?
            .iter()
            .map(|s| if label == "p50" { s.p50 } else { s.p99 })
            .filter(|v| *v > 0)
            .collect();
        if v.len() < 4 {
            return None;
        }
        v.sort_unstable();
        Some(v[(v.len() - 1) / 4] as f64)
    };
    Some((lq(new)? / lq(base)? - 1.0) * 100.0)
}

/// The interval of a quantile's change from the runs' trials — each a fresh pair of
/// processes and objects — when both runs stored enough of them for [`CONFIDENCE`].
fn trial_interval(
    base: &CaseResult,
    new: &CaseResult,
    kind: &str,
    label: &str,
) -> Option<[f64; 2]> {
    let values = |c: &CaseResult| -> Vec<f64> {
        c.latency_trials_ns
            .get(kind)
            .into_iter()
            .flatten()
            .map(|s| if label == "p50" { s.p50 } else { s.p99 } as f64)
            .filter(|v| *v > 0.0)
            .collect()
    };
    stats::rank_ratio_change(&values(base), &values(new))
}

fn throughput_figure(
    base: &CaseResult,
    new: &CaseResult,
    opts: &CompareOptions,
) -> Option<FigureComparison> {
    let (bt, nt) = (base.throughput.as_ref()?, new.throughput.as_ref()?);
    let (b, n) = (bt.bytes_per_s.median, nt.bytes_per_s.median);
    if !(b > 0.0 && n.is_finite()) {
        return None;
    }
    let per_trial = |t: &crate::Throughput| -> Vec<f64> {
        t.trials
            .iter()
            .filter(|t| t.seconds > 0.0 && t.bytes > 0)
            .map(|t| t.bytes as f64 / t.seconds)
            .collect()
    };
    let (btr, ntr) = (per_trial(bt), per_trial(nt));
    let spread = match stats::rank_ratio_change(&btr, &ntr) {
        Some(ci) => (Basis::Trials, Some(ci), None),
        None if btr.len() < 2 || ntr.len() < 2 => {
            (Basis::ThresholdOnly, None, Some("no spread stored".to_string()))
        }
        None => {
            let note = format!(
                "no spread stored: too few trials ({} and {}) for a {:.0} % interval",
                btr.len(),
                ntr.len(),
                CONFIDENCE * 100.0
            );
            (Basis::ThresholdOnly, None, Some(note))
        }
    };
    Some(figure(
        "throughput.bytes_per_s.median".to_string(),
        "median throughput".to_string(),
        "bytes/s",
        Better::Higher,
        (b, n),
        opts.threshold_pct,
        spread,
    ))
}

fn figure(
    key: String,
    name: String,
    unit: &str,
    better: Better,
    (base, new): (f64, f64),
    threshold_pct: f64,
    (basis, ci_pct, note): (Basis, Option<[f64; 2]>, Option<String>),
) -> FigureComparison {
    let change_pct = (new - base) / base * 100.0;
    let verdict = judge(change_pct, ci_pct, basis, threshold_pct, better);
    FigureComparison {
        key,
        name,
        unit: unit.to_string(),
        better,
        base,
        new,
        change_pct,
        ci_pct,
        threshold_pct,
        basis,
        verdict,
        note,
        gates: true,
    }
}

/// The rule of [`METHOD`]: beyond the threshold, and the whole interval beyond it too.
fn judge(
    change_pct: f64,
    ci_pct: Option<[f64; 2]>,
    basis: Basis,
    threshold_pct: f64,
    better: Better,
) -> Verdict {
    if change_pct.abs() <= threshold_pct {
        return Verdict::NoChange;
    }
    let up = change_pct > 0.0;
    let established = match (basis, ci_pct) {
        (Basis::TailUnresolved, _) => false,
        (_, Some([lo, hi])) => {
            if up {
                lo > threshold_pct
            } else {
                hi < -threshold_pct
            }
        }
        (_, None) => true, // threshold only
    };
    match (established, up == (better == Better::Lower)) {
        (false, _) => Verdict::Noise,
        (true, true) => Verdict::Regressed,
        (true, false) => Verdict::Improved,
    }
}

/// A histogram as the harness stores it: V2 (+ DEFLATE) serialization, base64 STANDARD.
pub fn decode_histogram(b64: &str) -> Result<hdrhistogram::Histogram<u64>, String> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|e| format!("not base64: {e}"))?;
    hdrhistogram::serialization::Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| format!("not an HDR histogram: {e:?}"))
}

/// FNV-1a: a stable hash (unlike `DefaultHasher`, fixed across Rust versions) for seeding.
fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3))
}

mod stats {
    //! The intervals behind the verdicts.

    use super::{BOOTSTRAP_RESAMPLES, CONFIDENCE};
    use hdrhistogram::Histogram;

    /// A seeded generator with the few distributions the bootstrap needs.
    pub struct Sampler(fastrand::Rng);

    impl Sampler {
        pub fn new(seed: u64) -> Self {
            Sampler(fastrand::Rng::with_seed(seed))
        }

        /// Uniform in (0, 1): never 0, so its logarithm is finite.
        pub fn uniform(&mut self) -> f64 {
            loop {
                let u = self.0.f64();
                if u > 0.0 {
                    return u;
                }
            }
        }

        /// Standard normal (Box–Muller).
        pub fn normal(&mut self) -> f64 {
            let (u1, u2) = (self.uniform(), self.0.f64());
            (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
        }

        /// Gamma(shape, 1) for shape ≥ 1 (Marsaglia & Tsang, 2000).
        pub fn gamma(&mut self, shape: f64) -> f64 {
            debug_assert!(shape >= 1.0);
            let d = shape - 1.0 / 3.0;
            let c = 1.0 / (9.0 * d).sqrt();
            loop {
                let x = self.normal();
                let v = 1.0 + c * x;
                if v <= 0.0 {
                    continue;
                }
                let v = v * v * v;
                let u = self.uniform();
                if u < 1.0 - 0.0331 * x.powi(4) || u.ln() < 0.5 * x * x + d * (1.0 - v + v.ln()) {
                    return d * v;
                }
            }
        }

        /// Beta(a, b) for a, b ≥ 1.
        pub fn beta(&mut self, a: f64, b: f64) -> f64 {
            let x = self.gamma(a);
            let y = self.gamma(b);
            x / (x + y)
        }
    }

    /// A histogram's distribution as sorted values (each bucket's highest equivalent value, as
    /// `value_at_quantile` reports it) and cumulative counts.
    pub struct Empirical {
        values: Vec<u64>,
        cumulative: Vec<u64>,
    }

    impl Empirical {
        pub fn from_histogram(h: &Histogram<u64>) -> Self {
            let mut values = Vec::new();
            let mut cumulative = Vec::new();
            let mut total = 0;
            for v in h.iter_recorded() {
                total += v.count_at_value();
                values.push(v.value_iterated_to());
                cumulative.push(total);
            }
            Empirical { values, cumulative }
        }

        pub fn len(&self) -> u64 {
            self.cumulative.last().copied().unwrap_or(0)
        }

        /// The rank of quantile `q`, as hdrhistogram counts it: ⌈q·n⌉, at least 1.
        pub fn rank(&self, q: f64) -> u64 {
            ((q * self.len() as f64).ceil() as u64).clamp(1, self.len())
        }

        /// The `r`-th smallest sample (1-based).
        pub fn at_rank(&self, r: u64) -> u64 {
            let i = self.cumulative.partition_point(|&c| c < r);
            self.values[i.min(self.values.len() - 1)]
        }

        /// The k-th order statistic of a resample of the run's size. Resampling draws
        /// F⁻¹(U) for uniform U, and F⁻¹ is monotone, so the k-th smallest of a resample is
        /// F⁻¹(U₍ₖ₎) with U₍ₖ₎ ~ Beta(k, n+1−k): one draw instead of n.
        pub fn resampled_quantile(&self, k: u64, rng: &mut Sampler) -> u64 {
            let n = self.len();
            let u = rng.beta(k as f64, (n + 1 - k) as f64);
            self.at_rank(((u * n as f64).ceil() as u64).clamp(1, n))
        }
    }

    /// Percentile-bootstrap interval of the change (new/base − 1, in %) of quantile `q`.
    pub fn bootstrap_quantile_change(
        base: &Empirical,
        new: &Empirical,
        q: f64,
        seed: u64,
    ) -> [f64; 2] {
        let mut rng = Sampler::new(seed);
        let (kb, kn) = (base.rank(q), new.rank(q));
        let mut changes: Vec<f64> = (0..BOOTSTRAP_RESAMPLES)
            .filter_map(|_| {
                let b = base.resampled_quantile(kb, &mut rng) as f64;
                let n = new.resampled_quantile(kn, &mut rng) as f64;
                (b > 0.0).then(|| (n / b - 1.0) * 100.0)
            })
            .collect();
        changes.sort_by(f64::total_cmp);
        let alpha = 1.0 - CONFIDENCE;
        let at = |p: f64| {
            let i = (p * changes.len() as f64).floor() as usize;
            changes[i.min(changes.len() - 1)]
        };
        if changes.is_empty() {
            return [f64::NEG_INFINITY, f64::INFINITY];
        }
        [at(alpha / 2.0), at(1.0 - alpha / 2.0)]
    }

    /// Distribution-free interval of the change (new/base − 1, in %) of per-trial throughputs:
    /// the Mann–Whitney test inverted (Moses' interval around the Hodges–Lehmann shift) on the
    /// logarithms, so a shift is a ratio. `None` when the trials are too few for the confidence.
    pub fn rank_ratio_change(base: &[f64], new: &[f64]) -> Option<[f64; 2]> {
        let (m, n) = (base.len(), new.len());
        if m == 0 || n == 0 {
            return None;
        }
        let c = mann_whitney_critical(m, n, (1.0 - CONFIDENCE) / 2.0)?;
        let mut d: Vec<f64> =
            new.iter().flat_map(|y| base.iter().map(move |x| y.ln() - x.ln())).collect();
        d.sort_by(f64::total_cmp);
        let pct = |l: f64| (l.exp() - 1.0) * 100.0;
        Some([pct(d[c - 1]), pct(d[m * n - c])])
    }

    /// The largest c ≥ 1 with P(U ≤ c − 1) ≤ `tail` under the null, U the Mann–Whitney count of
    /// an m-sample against an n-sample; the interval is then the c-th smallest to the c-th
    /// largest pairwise difference. Exact up to m·n = 2500, normal approximation beyond.
    pub fn mann_whitney_critical(m: usize, n: usize, tail: f64) -> Option<usize> {
        let mn = m * n;
        // below[c] = P(U ≤ c − 1)
        let below: Box<dyn Fn(usize) -> f64> = if mn <= 2500 {
            let mut cumulative = vec![0.0];
            for p in mann_whitney_distribution(m, n) {
                cumulative.push(cumulative.last().unwrap() + p);
            }
            Box::new(move |c| cumulative[c])
        } else {
            let mean = mn as f64 / 2.0;
            let sd = (mn as f64 * (m + n + 1) as f64 / 12.0).sqrt();
            Box::new(move |c| normal_cdf((c as f64 - 0.5 - mean) / sd))
        };
        let mut c = 0;
        while c < mn.div_ceil(2) && below(c + 1) <= tail {
            c += 1;
        }
        (c >= 1).then_some(c)
    }

    /// P(U = u), u = 0..=m·n, by the recurrence on the largest value of the pooled samples:
    /// from the n-sample (probability n/(m+n)) it beats all m others, else it adds nothing.
    /// The null distribution is the same for (m, n) and (n, m); the smaller is the inner loop.
    pub fn mann_whitney_distribution(m: usize, n: usize) -> Vec<f64> {
        let (m, n) = (m.max(n), m.min(n));
        let size = m * n + 1;
        // prev[j] = distribution for (i − 1, j); cur[j] for (i, j).
        let mut prev: Vec<Vec<f64>> = (0..=n).map(|_| point_mass(size)).collect();
        for i in 1..=m {
            let mut cur: Vec<Vec<f64>> = Vec::with_capacity(n + 1);
            cur.push(point_mass(size));
            for j in 1..=n {
                let (pi, pj) = (i as f64 / (i + j) as f64, j as f64 / (i + j) as f64);
                let mut d = vec![0.0; size];
                for (u, slot) in d.iter_mut().enumerate() {
                    *slot = pi * prev[j][u] + if u >= i { pj * cur[j - 1][u - i] } else { 0.0 };
                }
                cur.push(d);
            }
            prev = cur;
        }
        prev.swap_remove(n)
    }

    fn point_mass(size: usize) -> Vec<f64> {
        let mut v = vec![0.0; size];
        v[0] = 1.0;
        v
    }

    /// Φ(x), by the complementary error function (Numerical Recipes' erfc, |error| < 1.2e-7).
    fn normal_cdf(x: f64) -> f64 {
        let z = (x / std::f64::consts::SQRT_2).abs();
        let t = 1.0 / (1.0 + 0.5 * z);
        let poly = -z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77))))))));
        let erfc = t * poly.exp();
        if x >= 0.0 {
            1.0 - 0.5 * erfc
        } else {
            0.5 * erfc
        }
    }
}

// ---- rendering -------------------------------------------------------------------------------

fn fmt_value(unit: &str, v: f64) -> String {
    match unit {
        "ns" => fmt_ns(v),
        "bytes/s" => fmt_bytes_per_s(v),
        _ => format!("{v:.3} {unit}"),
    }
}

/// Nanoseconds as a person reads them: `812 ns`, `12.4 µs`, `3.20 ms`.
pub(crate) fn fmt_ns(ns: f64) -> String {
    if ns < 10_000.0 {
        format!("{ns:.0} ns")
    } else if ns < 10_000_000.0 {
        format!("{:.1} µs", ns / 1e3)
    } else if ns < 10e9 {
        format!("{:.2} ms", ns / 1e6)
    } else {
        format!("{:.2} s", ns / 1e9)
    }
}

/// Decimal units, as bandwidth is usually quoted: `1.23 GB/s`.
pub(crate) fn fmt_bytes_per_s(b: f64) -> String {
    for (scale, unit) in [(1e12, "TB/s"), (1e9, "GB/s"), (1e6, "MB/s"), (1e3, "kB/s")] {
        if b >= scale {
            return format!("{:.2} {unit}", b / scale);
        }
    }
    format!("{b:.0} B/s")
}

fn fmt_change(pct: f64) -> String {
    format!("{pct:+.1} %")
}

fn fmt_ci(ci: Option<[f64; 2]>) -> String {
    match ci {
        Some([lo, hi]) => format!("{lo:+.1} … {hi:+.1} %"),
        None => "-".to_string(),
    }
}

/// `<run id> on <host> (commit <12 hex>, ipcbench <version>)`; `quote` wraps the id (markdown).
fn run_line(r: &RunRef, quote: &str) -> String {
    let commit = match r.git_commit.as_deref() {
        Some(c) => format!("commit {}", &c[..c.len().min(12)]),
        None => "no commit".to_string(),
    };
    format!("{quote}{}{quote} on {} ({commit}, ipcbench {})", r.id, r.hostname, r.ipcbench_version)
}

fn summary_line(c: &Comparison) -> String {
    let t = &c.summary;
    let mut s = format!(
        "{} regressed, {} improved, {} no change, {} noise ({} figures in {} cases compared)",
        t.regressed,
        t.improved,
        t.no_change,
        t.noise,
        t.regressed + t.improved + t.no_change + t.noise,
        t.cases_compared
    );
    for (n, what) in [
        (t.only_in_base, "only in base"),
        (t.only_in_new, "only in new"),
        (t.failed, "failed"),
        (t.skipped, "skipped"),
    ] {
        if n > 0 {
            let _ = write!(s, "; {n} {} {what}", if n == 1 { "case" } else { "cases" });
        }
    }
    s
}

fn rule_line(c: &Comparison) -> String {
    format!(
        "A change counts when it exceeds {} % ({} % for latency that waits on a wake-up or \
         moves 1 MiB or more) and its whole {:.0} % confidence interval does too; p99 (twice \
         that) {}.",
        c.threshold_pct,
        c.shared_threshold_pct,
        c.confidence * 100.0,
        if c.gate_p99 { "counts too (--gate-p99)" } else { "counts only with --gate-p99" }
    )
}

fn figure_cells(id: &str, f: &FigureComparison) -> [String; 8] {
    [
        id.to_string(),
        f.name.clone(),
        fmt_value(&f.unit, f.base),
        fmt_value(&f.unit, f.new),
        fmt_change(f.change_pct),
        fmt_ci(f.ci_pct),
        f.verdict.to_string(),
        f.note.clone().unwrap_or_default(),
    ]
}

fn header(c: &Comparison) -> [String; 8] {
    let ci = format!("{:.0} % CI", c.confidence * 100.0);
    ["case", "figure", "base", "new", "change", &ci, "verdict", "note"].map(String::from)
}

fn render_table(c: &Comparison) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "base: {}", run_line(&c.base, ""));
    let _ = writeln!(out, "new:  {}", run_line(&c.new, ""));
    let _ = writeln!(out, "{}", rule_line(c));
    for w in &c.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    let mut rows: Vec<[String; 8]> = vec![header(c)];
    rows.extend(c.figures().map(|(id, f)| figure_cells(id, f)));
    if rows.len() > 1 {
        out.push('\n');
        let widths: Vec<usize> =
            (0..8).map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0)).collect();
        // Numbers right-aligned, words left-aligned.
        let right = [false, false, true, true, true, true, false, false];
        for r in &rows {
            let mut line = String::new();
            for i in 0..8 {
                let pad = widths[i] - r[i].chars().count();
                if i > 0 {
                    line.push_str("  ");
                }
                if right[i] {
                    line.push_str(&" ".repeat(pad));
                    line.push_str(&r[i]);
                } else {
                    line.push_str(&r[i]);
                    line.push_str(&" ".repeat(pad));
                }
            }
            let _ = writeln!(out, "{}", line.trim_end());
        }
    }
    let listed: Vec<&CaseComparison> = c
        .cases
        .iter()
        .filter(|k| k.status != CaseStatus::Compared || !k.notes.is_empty())
        .collect();
    if !listed.is_empty() {
        out.push('\n');
    }
    for k in listed {
        match k.status {
            CaseStatus::OnlyInBase => _ = writeln!(out, "only in base: {}", k.id),
            CaseStatus::OnlyInNew => _ = writeln!(out, "only in new: {}", k.id),
            CaseStatus::Failed | CaseStatus::Skipped => {
                let what = if k.status == CaseStatus::Failed { "failed" } else { "skipped" };
                let _ = writeln!(out, "{what}: {}: {}", k.id, k.detail.as_deref().unwrap_or("-"));
            }
            CaseStatus::Compared => {}
        }
        for n in &k.notes {
            let _ = writeln!(out, "note: {}: {n}", k.id);
        }
    }
    let _ = writeln!(out, "\n{}", summary_line(c));
    out
}

/// Escapes what would break a GitHub table cell.
fn md(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn md_table(out: &mut String, header: &[String; 8], rows: &[(&str, &FigureComparison)]) {
    let _ = writeln!(out, "| {} |", header.join(" | "));
    let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---|---|");
    for (id, f) in rows {
        let mut cells = figure_cells(&format!("`{id}`"), f).map(|s| md(&s));
        if f.verdict == Verdict::Regressed {
            cells[6] = format!("**{}**", cells[6]);
        }
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
}

fn render_markdown(c: &Comparison) -> String {
    let mut out = String::new();
    let t = &c.summary;
    let head = if t.regressed > 0 { format!("**{} regressed**", t.regressed) } else { "".into() };
    let line = summary_line(c);
    let line = if head.is_empty() {
        line
    } else {
        line.replacen(&format!("{} regressed", t.regressed), &head, 1)
    };
    let _ = writeln!(out, "**ipcbench compare**: {line}\n");
    let _ = writeln!(
        out,
        "Base {} → new {}. {}\n",
        md(&run_line(&c.base, "`")),
        md(&run_line(&c.new, "`")),
        rule_line(c)
    );
    for w in &c.warnings {
        let _ = writeln!(out, "> **Warning:** {}\n", md(w));
    }
    // What moved first, regressions on top; the rest folded away.
    let rank = |v: Verdict| match v {
        Verdict::Regressed => 0,
        Verdict::Improved => 1,
        Verdict::Noise => 2,
        Verdict::NoChange => 3,
    };
    let mut moved: Vec<_> = c.figures().filter(|(_, f)| f.verdict != Verdict::NoChange).collect();
    moved.sort_by_key(|(_, f)| rank(f.verdict));
    let still: Vec<_> = c.figures().filter(|(_, f)| f.verdict == Verdict::NoChange).collect();
    if moved.is_empty() {
        let _ = writeln!(out, "No figure moved beyond the threshold.\n");
    } else {
        md_table(&mut out, &header(c), &moved);
        out.push('\n');
    }
    if !still.is_empty() {
        let _ =
            writeln!(out, "<details><summary>{} figures with no change</summary>\n", still.len());
        md_table(&mut out, &header(c), &still);
        let _ = writeln!(out, "\n</details>\n");
    }
    let list = |status: CaseStatus| -> Vec<&CaseComparison> {
        c.cases.iter().filter(|k| k.status == status).collect()
    };
    for (status, title) in [
        (CaseStatus::OnlyInBase, "Only in base"),
        (CaseStatus::OnlyInNew, "Only in new"),
        (CaseStatus::Failed, "Failed"),
        (CaseStatus::Skipped, "Skipped"),
    ] {
        let cases = list(status);
        if cases.is_empty() {
            continue;
        }
        let _ = writeln!(out, "{title}:\n");
        for k in cases {
            match &k.detail {
                Some(d) => _ = writeln!(out, "- `{}`: {}", k.id, md(d)),
                None => _ = writeln!(out, "- `{}`", k.id),
            }
        }
        out.push('\n');
    }
    for k in c.cases.iter().filter(|k| !k.notes.is_empty()) {
        for n in &k.notes {
            let _ = writeln!(out, "> **Note** `{}`: {}\n", k.id, md(n));
        }
    }
    out
}

/// Synthetic runs with known distributions, histograms stored exactly as the harness stores them.
#[cfg(test)]
pub(crate) mod fixtures {
    use super::stats::Sampler;
    use crate::{CaseResult, Integrity, RunFile, RunInfo, Spread, Summary, Throughput, Trial};
    use base64::Engine as _;
    use hdrhistogram::serialization::{Serializer as _, V2DeflateSerializer};
    use hdrhistogram::Histogram;

    /// Lognormal latencies around `median_ns` (σ of the log `sigma`), with 2 % from a slower
    /// mode three times the median: a body and a tail, like a real run.
    pub fn latencies(seed: u64, n: usize, median_ns: f64, sigma: f64) -> Vec<u64> {
        let mut rng = Sampler::new(seed);
        (0..n)
            .map(|_| {
                let (m, s) =
                    if rng.uniform() < 0.02 { (3.0 * median_ns, 0.5) } else { (median_ns, sigma) };
                (m * (s * rng.normal()).exp()).round().max(1.0) as u64
            })
            .collect()
    }

    pub fn histogram(samples: &[u64]) -> Histogram<u64> {
        let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).unwrap();
        for &s in samples {
            h.record(s).unwrap();
        }
        h
    }

    pub fn encode(h: &Histogram<u64>) -> String {
        let mut bytes = Vec::new();
        V2DeflateSerializer::new().serialize(h, &mut bytes).unwrap();
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    pub fn summary(h: &Histogram<u64>) -> Summary {
        Summary {
            count: h.len(),
            min: h.min(),
            mean: h.mean(),
            stdev: h.stdev(),
            p50: h.value_at_quantile(0.5),
            p90: h.value_at_quantile(0.9),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            p9999: h.value_at_quantile(0.9999),
            max: h.max(),
        }
    }

    pub fn latency_case(id: &str, samples: &[u64]) -> CaseResult {
        let h = histogram(samples);
        let mut c = CaseResult::new(id, id.split('/').next().unwrap());
        // scenario/transport/process/wait/size, as the pingpong scenario names its cases.
        c.wait = id.split('/').nth(3).map(String::from);
        c.size = id.split('/').nth(4).and_then(|s| s.parse().ok());
        c.iterations = samples.len() as u64;
        c.latency_ns.insert("one_way".into(), summary(&h));
        c.histograms.insert("one_way".into(), encode(&h));
        let n = samples.len() as u64;
        c.integrity = Some(Integrity { sent: n, received: n, ..Default::default() });
        c
    }

    /// Per-trial medians around `median_ns`, each off by its pair's placement (lognormal, σ of
    /// the log `placement`).
    pub fn placed(seed: u64, trials: usize, median_ns: f64, placement: f64) -> Vec<f64> {
        let mut rng = Sampler::new(seed ^ 0x7a11);
        (0..trials).map(|_| median_ns * (placement * rng.normal()).exp()).collect()
    }

    /// A latency case measured over fresh pairs with these medians: the histograms pooled,
    /// each trial's summary kept, as the pingpong scenario stores them.
    pub fn latency_trials_case(id: &str, seed: u64, medians: &[f64]) -> CaseResult {
        let runs: Vec<Vec<u64>> = medians
            .iter()
            .enumerate()
            .map(|(t, &at)| latencies(seed.wrapping_mul(31).wrapping_add(t as u64), 2000, at, 0.05))
            .collect();
        let mut c = latency_case(id, &runs.concat());
        let per_trial = runs.iter().map(|r| summary(&histogram(r))).collect();
        c.latency_trials_ns.insert("one_way".into(), per_trial);
        c
    }

    /// `trials` throughput trials around `bytes_per_s`, each off by lognormal noise `sigma`.
    pub fn throughput_case(
        id: &str,
        seed: u64,
        bytes_per_s: f64,
        sigma: f64,
        trials: usize,
    ) -> CaseResult {
        const RECORD: u64 = 4096;
        let mut rng = Sampler::new(seed);
        let trials: Vec<Trial> = (0..trials)
            .map(|_| {
                let seconds = 0.5;
                let bytes = (bytes_per_s * seconds * (sigma * rng.normal()).exp()) as u64;
                Trial { records: bytes / RECORD, bytes, seconds }
            })
            .collect();
        let rate = |f: fn(&Trial) -> f64| Spread::of(&trials.iter().map(f).collect::<Vec<_>>());
        let mut c = CaseResult::new(id, "stream");
        c.throughput = Some(Throughput {
            records_per_s: rate(|t| t.records as f64 / t.seconds),
            bytes_per_s: rate(|t| t.bytes as f64 / t.seconds),
            trials,
            per_reader_bytes_per_s: Vec::new(),
        });
        c
    }

    pub fn run(id: &str, cases: Vec<CaseResult>) -> RunFile {
        let mut f = RunFile::new(RunInfo {
            id: id.into(),
            started_at: "2026-01-01T00:00:00Z".into(),
            git_commit: Some("0123456789abcdef".into()),
            hostname: "ci-1".into(),
            kernel: "6.8.0".into(),
            cpu_model: "Test CPU".into(),
            logical_cpus: 2,
            ipcbench_version: "0.1.0".into(),
            ..Default::default()
        });
        f.cases = cases;
        f
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::*;
    use super::stats::{self, Empirical, Sampler};
    use super::*;

    const PING: &str = "pingpong/posix-shm/fork/spin/64";
    const STREAM: &str = "stream/posix-shm/fork/spin/65536/copy";

    /// The method at a 5 % threshold: the tests of its mechanics were written against it.
    fn five() -> CompareOptions {
        CompareOptions::new(5.0).unwrap()
    }

    fn latency_pair(seed: u64, n: usize, base_ns: f64, new_ns: f64) -> Comparison {
        let base = run("b", vec![latency_case(PING, &latencies(seed, n, base_ns, 0.25))]);
        let new = run("n", vec![latency_case(PING, &latencies(seed + 1, n, new_ns, 0.25))]);
        compare(&base, &new, &five())
    }

    fn figure<'a>(c: &'a Comparison, name: &str) -> &'a FigureComparison {
        c.figures().map(|(_, f)| f).find(|f| f.name == name).unwrap()
    }

    #[test]
    fn a_case_20_percent_slower_is_regressed() {
        let c = latency_pair(1, 20_000, 2000.0, 2400.0);
        let p50 = figure(&c, "p50 one-way");
        assert_eq!(p50.verdict, Verdict::Regressed, "{p50:?}");
        assert_eq!(p50.basis, Basis::Bootstrap);
        assert!((p50.change_pct - 20.0).abs() < 3.0, "{p50:?}");
        let [lo, hi] = p50.ci_pct.unwrap();
        assert!(lo > 5.0 && lo <= p50.change_pct && p50.change_pct <= hi, "{p50:?}");
        // p99 sits in the thin 2 % tail: 200 samples beyond it leave it uncertain by about
        // ±12 %, so its verdict may honestly be noise, but its interval holds the true +20 %.
        let p99 = figure(&c, "p99 one-way");
        let [lo, hi] = p99.ci_pct.unwrap();
        assert!(lo < 20.0 && 20.0 < hi && p99.verdict != Verdict::Improved, "{p99:?}");
        assert!(c.has_regression());
    }

    #[test]
    fn an_improvement_is_improved_not_a_regression() {
        let c = latency_pair(3, 20_000, 2000.0, 1500.0);
        assert_eq!(figure(&c, "p50 one-way").verdict, Verdict::Improved);
        // p99 moved as much, but counts only with --gate-p99.
        assert_eq!(figure(&c, "p99 one-way").verdict, Verdict::Noise);
        assert!(!c.has_regression());
        let base = run("b", vec![latency_case(PING, &latencies(3, 20_000, 2000.0, 0.25))]);
        let new = run("n", vec![latency_case(PING, &latencies(4, 20_000, 1500.0, 0.25))]);
        let gated = CompareOptions { gate_p99: true, ..five() };
        assert_eq!(figure(&compare(&base, &new, &gated), "p99 one-way").verdict, Verdict::Improved);
    }

    /// Two runs drawn from one distribution: what differs is sampling noise, and it must not be
    /// called a regression (or an improvement) more than once in twenty.
    #[test]
    fn samples_of_one_distribution_are_rarely_called_changed() {
        for n in [500, 5_000] {
            let mut changed = 0;
            for pair in 0..50 {
                let c = latency_pair(1000 + 2 * pair, n, 2000.0, 2000.0);
                if c.summary.regressed + c.summary.improved > 0 {
                    changed += 1;
                }
            }
            assert!(changed <= 2, "{changed} of 50 same-distribution pairs called changed (n={n})");
        }
    }

    /// A change beyond the threshold that the spread of small runs explains is noise.
    #[test]
    fn a_change_within_the_spread_is_noise() {
        // 60 samples with a wide body: the median alone is uncertain by well over 10 %.
        let base: Vec<u64> = latencies(7, 60, 2000.0, 0.6);
        let new: Vec<u64> = base.iter().map(|&v| v * 112 / 100).collect();
        let c = compare(
            &run("b", vec![latency_case(PING, &base)]),
            &run("n", vec![latency_case(PING, &new)]),
            &five(),
        );
        let p50 = figure(&c, "p50 one-way");
        assert!(p50.change_pct > 8.0, "{p50:?}");
        assert_eq!(p50.verdict, Verdict::Noise, "{p50:?}");
        let p99 = figure(&c, "p99 one-way");
        assert_eq!((p99.basis, p99.verdict), (Basis::TailUnresolved, Verdict::Noise), "{p99:?}");
        assert!(!c.has_regression());
    }

    const PIPE: &str = "pingpong/pipe/fork/block/64";

    /// Medians of `n` trials, `slow` of them (spread evenly) in a state `factor` slower.
    fn states(n: usize, slow: usize, at: f64, factor: f64) -> Vec<f64> {
        (0..n).map(|i| if i * slow % n < slow { at * factor } else { at }).collect()
    }

    /// A wake-up figure moves with the host's load: trials of fresh pairs at different moments
    /// show that spread, and their interval keeps it from being called a change, where the
    /// pooled histograms alone would call many of these pairs of runs changed.
    #[test]
    fn spread_between_trials_of_a_wake_up_figure_is_not_a_change() {
        let opts = CompareOptions::new(1.0).unwrap(); // 4 % for wake-up figures
        let (mut by_trials, mut by_histograms) = (0, 0);
        for i in 0..50 {
            let base =
                latency_trials_case(PIPE, 1000 + 2 * i, &placed(1000 + 2 * i, 5, 30_000.0, 0.1));
            let new =
                latency_trials_case(PIPE, 1001 + 2 * i, &placed(1001 + 2 * i, 5, 30_000.0, 0.1));
            let c = compare(&run("b", vec![base.clone()]), &run("n", vec![new.clone()]), &opts);
            assert_eq!(figure(&c, "p50 one-way").basis, Basis::Trials);
            by_trials += usize::from(c.summary.regressed + c.summary.improved > 0);
            let strip = |mut c: CaseResult| {
                c.latency_trials_ns.clear();
                c
            };
            let c = compare(&run("b", vec![strip(base)]), &run("n", vec![strip(new)]), &opts);
            by_histograms += usize::from(c.summary.regressed + c.summary.improved > 0);
        }
        assert!(by_trials <= 2, "{by_trials} of 50 same-distribution pairs called changed");
        assert!(by_histograms >= 10, "{by_histograms} of 50 by the histograms alone");
    }

    /// A 64-byte spin figure: some pairs land in a slower state of the machine (35 % slower
    /// here, for 3 of 10 pairs in one run and 1 in the other). The pooled p50 holds; when most
    /// pairs of a run are slow it jumps, but the fastest pairs do not move; a 30 % slowdown of
    /// every pair is caught even when the base run had 4 of 10 pairs slow.
    #[test]
    fn pairs_in_a_slower_state_neither_hide_nor_fake_a_30_percent_slowdown() {
        let opts = CompareOptions::default();
        for seed in 0..10 {
            let base = latency_trials_case(PING, 10 + seed, &states(10, 3, 170.0, 1.35));
            let same = latency_trials_case(PING, 20 + seed, &states(10, 1, 170.0, 1.35));
            let c = compare(&run("b", vec![base.clone()]), &run("n", vec![same]), &opts);
            let p50 = figure(&c, "p50 one-way");
            assert_eq!(p50.basis, Basis::Bootstrap);
            assert_ne!(p50.verdict, Verdict::Regressed, "{p50:?}");
            assert_ne!(p50.verdict, Verdict::Improved, "{p50:?}");
            // Most pairs of the new run in the slower state: the pooled p50 jumps by 35 %, the
            // fastest pairs do not move.
            let calm = latency_trials_case(PING, 60 + seed, &states(10, 0, 170.0, 1.35));
            let most = latency_trials_case(PING, 50 + seed, &states(10, 7, 170.0, 1.35));
            let c = compare(&run("b", vec![calm]), &run("n", vec![most]), &opts);
            let p50 = figure(&c, "p50 one-way");
            assert!(p50.change_pct > opts.threshold_pct, "{p50:?}");
            assert_eq!(p50.verdict, Verdict::Noise, "{p50:?}");
            assert!(p50.note.as_deref().unwrap().contains("fastest pairs"), "{p50:?}");
            let base = latency_trials_case(PING, 30 + seed, &states(10, 4, 170.0, 1.35));
            let slower = latency_trials_case(PING, 40 + seed, &states(10, 2, 221.0, 1.35));
            let c = compare(&run("b", vec![base]), &run("n", vec![slower]), &opts);
            let p50 = figure(&c, "p50 one-way");
            assert_eq!(p50.verdict, Verdict::Regressed, "{p50:?}");
            assert!(c.has_regression());
        }
    }

    /// Wake-up figures count only beyond four thresholds: a 50 % move is not a regression by
    /// default, a doubling is.
    #[test]
    fn wake_up_figures_have_four_thresholds() {
        let opts = CompareOptions::default();
        let base = latency_trials_case(PIPE, 1, &placed(1, 10, 30_000.0, 0.02));
        for (factor, regressed) in [(1.5, false), (2.0, true)] {
            let new = latency_trials_case(PIPE, 2, &placed(2, 10, 30_000.0 * factor, 0.02));
            let c = compare(&run("b", vec![base.clone()]), &run("n", vec![new]), &opts);
            let p50 = figure(&c, "p50 one-way");
            assert_eq!(p50.threshold_pct, 80.0);
            assert_eq!(p50.verdict == Verdict::Regressed, regressed, "{p50:?}");
        }
        let c = compare(&run("b", vec![]), &run("n", vec![]), &opts);
        assert!(c.render(Format::Table).contains("(80 % for latency that waits"));
    }

    #[test]
    fn p99_is_reported_but_counts_only_with_gate_p99() {
        let base = run("b", vec![latency_case(PING, &latencies(1, 20_000, 2000.0, 0.25))]);
        let mut samples = latencies(2, 20_000, 2000.0, 0.25);
        // A heavier tail, the body unchanged.
        samples.iter_mut().step_by(40).for_each(|v| *v *= 4);
        let new = run("n", vec![latency_case(PING, &samples)]);
        let c = compare(&base, &new, &five());
        let p99 = figure(&c, "p99 one-way");
        assert!(p99.change_pct > 50.0 && p99.ci_pct.unwrap()[0] > 10.0, "{p99:?}");
        assert_eq!((p99.verdict, p99.gates), (Verdict::Noise, false), "{p99:?}");
        assert!(p99.note.as_deref().unwrap().contains("--gate-p99"));
        assert!(!c.has_regression());
        let gated = CompareOptions { gate_p99: true, ..five() };
        let c = compare(&base, &new, &gated);
        let p99 = figure(&c, "p99 one-way");
        assert_eq!((p99.verdict, p99.gates), (Verdict::Regressed, true), "{p99:?}");
        assert!(c.has_regression());
    }

    #[test]
    fn without_histograms_the_threshold_alone_decides() {
        let strip = |mut c: CaseResult| {
            c.histograms.clear();
            c
        };
        let base = run("b", vec![strip(latency_case(PING, &latencies(5, 5000, 2000.0, 0.25)))]);
        let slower = run("n", vec![strip(latency_case(PING, &latencies(6, 5000, 2400.0, 0.25)))]);
        let c = compare(&base, &slower, &five());
        let p50 = figure(&c, "p50 one-way");
        assert_eq!((p50.basis, p50.verdict), (Basis::ThresholdOnly, Verdict::Regressed));
        assert_eq!(p50.note.as_deref(), Some("no spread stored"));
        assert!(c.render(Format::Table).contains("no spread stored"));
        let same = run("n", vec![strip(latency_case(PING, &latencies(6, 5000, 2030.0, 0.25)))]);
        let c = compare(&base, &same, &five());
        assert_eq!(figure(&c, "p50 one-way").verdict, Verdict::NoChange);
    }

    #[test]
    fn a_throughput_drop_of_20_percent_is_regressed() {
        let base = run("b", vec![throughput_case(STREAM, 1, 5e9, 0.03, 5)]);
        let new = run("n", vec![throughput_case(STREAM, 2, 4e9, 0.03, 5)]);
        let c = compare(&base, &new, &five());
        let f = figure(&c, "median throughput");
        assert_eq!(
            (f.basis, f.verdict, f.better),
            (Basis::Trials, Verdict::Regressed, Better::Higher)
        );
        assert!(f.change_pct < -15.0 && f.ci_pct.unwrap()[1] < -5.0, "{f:?}");
        assert!(c.has_regression());
        // And the other way round it is an improvement.
        let c = compare(&new, &base, &five());
        assert_eq!(figure(&c, "median throughput").verdict, Verdict::Improved);
    }

    #[test]
    fn throughput_trials_of_one_distribution_are_rarely_called_changed() {
        let changed = (0..50)
            .filter(|&i| {
                let base = run("b", vec![throughput_case(STREAM, 100 + 2 * i, 5e9, 0.05, 5)]);
                let new = run("n", vec![throughput_case(STREAM, 101 + 2 * i, 5e9, 0.05, 5)]);
                let c = compare(&base, &new, &five());
                c.summary.regressed + c.summary.improved > 0
            })
            .count();
        assert!(changed <= 2, "{changed} of 50");
    }

    #[test]
    fn too_few_trials_fall_back_to_the_threshold() {
        let base = run("b", vec![throughput_case(STREAM, 1, 5e9, 0.03, 3)]);
        let new = run("n", vec![throughput_case(STREAM, 2, 4e9, 0.03, 3)]);
        let f = compare(&base, &new, &five()).cases[0].figures[0].clone();
        assert_eq!((f.basis, f.verdict), (Basis::ThresholdOnly, Verdict::Regressed));
        assert!(f.note.unwrap().starts_with("no spread stored"));
    }

    #[test]
    fn cases_on_one_side_failed_or_skipped_are_listed_not_failed() {
        let lat = |id: &str, seed| latency_case(id, &latencies(seed, 2000, 2000.0, 0.25));
        let mut failed = lat("pingpong/pipe/fork/block/64", 3);
        failed.error = Some("worker died".into());
        let mut skipped = lat("pingpong/posix-shm/fork/spin/2097152", 4);
        skipped.skipped = Some("no huge pages".into());
        let base = run(
            "b",
            vec![
                lat(PING, 1),
                lat("pingpong/old/fork/spin/64", 2),
                lat("pingpong/pipe/fork/block/64", 3),
                lat("pingpong/posix-shm/fork/spin/2097152", 4),
            ],
        );
        let new =
            run("n", vec![lat(PING, 5), failed, skipped, lat("pingpong/new/fork/spin/64", 6)]);
        let c = compare(&base, &new, &five());
        let status: Vec<(&str, CaseStatus)> =
            c.cases.iter().map(|k| (k.id.as_str(), k.status)).collect();
        assert_eq!(
            status,
            [
                (PING, CaseStatus::Compared),
                ("pingpong/old/fork/spin/64", CaseStatus::OnlyInBase),
                ("pingpong/pipe/fork/block/64", CaseStatus::Failed),
                ("pingpong/posix-shm/fork/spin/2097152", CaseStatus::Skipped),
                ("pingpong/new/fork/spin/64", CaseStatus::OnlyInNew),
            ]
        );
        assert_eq!(c.cases[2].detail.as_deref(), Some("failed in new run: worker died"));
        let t = c.summary;
        assert_eq!((t.only_in_base, t.only_in_new, t.failed, t.skipped), (1, 1, 1, 1));
        assert!(!c.has_regression());
        let table = c.render(Format::Table);
        assert!(table.contains("only in base: pingpong/old/fork/spin/64"), "{table}");
        assert!(table.contains("only in new: pingpong/new/fork/spin/64"), "{table}");
        assert!(
            table.contains("failed: pingpong/pipe/fork/block/64: failed in new run: worker died")
        );
        let md = c.render(Format::Markdown);
        assert!(md.contains("- `pingpong/old/fork/spin/64`") && md.contains("Skipped:"), "{md}");
    }

    #[test]
    fn different_hosts_and_versions_are_warned_about() {
        let base = run("b", vec![]);
        let mut new = run("n", vec![]);
        assert!(compare(&base, &new, &five()).warnings.is_empty());
        new.run.logical_cpus = 8;
        new.run.ipcbench_version = "0.2.0".into();
        let c = compare(&base, &new, &five());
        assert_eq!(c.warnings.len(), 2, "{:?}", c.warnings);
        assert!(c.warnings[0].contains("different hosts") && c.warnings[0].contains("8 CPUs"));
        assert!(c.warnings[1].contains("0.1.0") && c.warnings[1].contains("0.2.0"));
        assert!(c.render(Format::Table).contains("warning: The runs come from different hosts"));
    }

    #[test]
    fn verdicts_are_reproducible() {
        let a = latency_pair(11, 3000, 2000.0, 2100.0);
        let b = latency_pair(11, 3000, 2000.0, 2100.0);
        assert_eq!(a, b);
    }

    #[test]
    fn renderings_carry_the_verdicts() {
        let base = run(
            "b",
            vec![
                latency_case(PING, &latencies(1, 20_000, 2000.0, 0.25)),
                throughput_case(STREAM, 1, 5e9, 0.03, 5),
            ],
        );
        let new = run(
            "n",
            vec![
                latency_case(PING, &latencies(2, 20_000, 3000.0, 0.25)),
                throughput_case(STREAM, 2, 5.05e9, 0.03, 5),
            ],
        );
        let c = compare(&base, &new, &CompareOptions { gate_p99: true, ..five() });

        let md = c.render(Format::Markdown);
        let first = md.lines().next().unwrap();
        assert!(first.contains("**2 regressed**") && first.contains("1 no change"), "{first}");
        assert!(md.contains("| case | figure |") && md.contains("**regressed**"), "{md}");
        assert!(md.contains("<details><summary>1 figures with no change"), "{md}");

        let table = c.render(Format::Table);
        let rows: Vec<&str> = table
            .lines()
            .filter(|l| l.starts_with("pingpong/") || l.starts_with("stream/"))
            .collect();
        assert_eq!(rows.len(), 3, "{table}");
        // Aligned: the verdict column starts at the same place on every row.
        let at: Vec<usize> =
            rows.iter().map(|r| r.find("regressed").or(r.find("no change")).unwrap()).collect();
        assert!(at.windows(2).all(|w| w[0] == w[1]), "{table}");
        assert!(table.trim_end().ends_with("cases compared)"), "{table}");

        let json: serde_json::Value = serde_json::from_str(&c.render(Format::Json)).unwrap();
        assert_eq!(json["schema"], COMPARE_SCHEMA);
        assert_eq!(json["summary"]["regressed"], 2);
        assert_eq!(json["cases"][0]["figures"][0]["verdict"], "regressed");
        assert_eq!(json["cases"][0]["figures"][0]["key"], "latency_ns.one_way.p50");
        assert_eq!(json["cases"][1]["figures"][0]["verdict"], "no_change");
        let back: Comparison = serde_json::from_value(json).unwrap();
        assert_eq!(back.summary, c.summary);
    }

    #[test]
    fn latency_falls_back_from_one_way() {
        let mut c = latency_case("msync/msync-sync/disk/256", &latencies(1, 100, 5000.0, 0.2));
        assert_eq!(headline_latency_kind(&c), Some("one_way"));
        let s = c.latency_ns.remove("one_way").unwrap();
        c.latency_ns.insert("flush".into(), s);
        c.latency_ns.insert("zzz".into(), s);
        assert_eq!(headline_latency_kind(&c), Some("flush"));
        c.latency_ns.insert("round_trip".into(), s);
        assert_eq!(headline_latency_kind(&c), Some("round_trip"));
        c.latency_ns.clear();
        assert_eq!(headline_latency_kind(&c), None);
        // A case measured one way in base and another in new is not compared on latency.
        let one_way = latency_case(PING, &latencies(1, 1000, 2000.0, 0.2));
        let mut round_trip = one_way.clone();
        let s = round_trip.latency_ns.remove("one_way").unwrap();
        round_trip.latency_ns.insert("round_trip".into(), s);
        let c = compare(&run("b", vec![one_way]), &run("n", vec![round_trip]), &five());
        assert!(c.cases[0].figures.is_empty());
        assert!(c.cases[0].notes[0].contains("base: one_way, new: round_trip"), "{:?}", c.cases[0]);
    }

    #[test]
    fn judge_reads_direction_from_better() {
        let ci = Some([10.0, 30.0]);
        assert_eq!(judge(20.0, ci, Basis::Trials, 5.0, Better::Lower), Verdict::Regressed);
        assert_eq!(judge(20.0, ci, Basis::Trials, 5.0, Better::Higher), Verdict::Improved);
        assert_eq!(
            judge(-20.0, Some([-30.0, -10.0]), Basis::Trials, 5.0, Better::Higher),
            Verdict::Regressed
        );
        assert_eq!(
            judge(20.0, Some([2.0, 30.0]), Basis::Bootstrap, 5.0, Better::Lower),
            Verdict::Noise
        );
        assert_eq!(judge(4.0, ci, Basis::Bootstrap, 5.0, Better::Lower), Verdict::NoChange);
        assert_eq!(judge(50.0, None, Basis::TailUnresolved, 5.0, Better::Lower), Verdict::Noise);
        assert_eq!(judge(-50.0, None, Basis::ThresholdOnly, 5.0, Better::Lower), Verdict::Improved);
    }

    #[test]
    fn method_states_the_parameters_in_force() {
        assert!(METHOD.contains(&format!("default {DEFAULT_THRESHOLD_PCT} %")));
        assert!(METHOD.contains(&format!(
            "{} % by default",
            DEFAULT_THRESHOLD_PCT * SHARED_THRESHOLD_FACTOR
        )));
        assert!(METHOD.contains(&format!("{SHARED_THRESHOLD_FACTOR:.0} times that")));
        assert_eq!(P99_THRESHOLD_FACTOR, 2.0, "METHOD says twice");
        assert_eq!(LARGE_RECORD_BYTES, 1 << 20, "METHOD says 1 MiB");
        assert!(METHOD.contains(&format!("{:.0} % confidence", CONFIDENCE * 100.0)));
        assert!(METHOD.contains(&format!("{BOOTSTRAP_RESAMPLES} resamples")));
        assert!(METHOD.contains(&format!("fewer than {MIN_TAIL_SAMPLES} samples")));
        // "4 and 4 will do": the smallest equal trial counts that allow an interval.
        assert!(stats::mann_whitney_critical(4, 4, (1.0 - CONFIDENCE) / 2.0).is_some());
        assert!(stats::mann_whitney_critical(3, 3, (1.0 - CONFIDENCE) / 2.0).is_none());
    }

    #[test]
    fn formats_parse_by_name() {
        for name in Format::NAMES {
            assert_eq!(name.parse::<Format>().unwrap().to_string(), name);
        }
        assert!("html".parse::<Format>().unwrap_err().contains("table, markdown, json"));
        assert!(CompareOptions::new(-1.0).is_err() && CompareOptions::new(f64::NAN).is_err());
        assert_eq!(CompareOptions::new(7.5).unwrap().threshold_pct, 7.5);
    }

    #[test]
    fn stored_histograms_decode_and_match_hdr_quantiles() {
        let h = histogram(&latencies(9, 10_000, 1500.0, 0.4));
        let back = decode_histogram(&encode(&h)).unwrap();
        assert_eq!(back, h);
        let e = Empirical::from_histogram(&back);
        assert_eq!(e.len(), 10_000);
        for q in [0.0001, 0.1, 0.5, 0.9, 0.99, 0.999, 1.0] {
            assert_eq!(e.at_rank(e.rank(q)), h.value_at_quantile(q), "q={q}");
        }
        assert!(decode_histogram("not base64!").unwrap_err().contains("base64"));
        assert!(decode_histogram("aGVsbG8=").unwrap_err().contains("HDR"));
    }

    #[test]
    fn beta_draws_have_the_right_moments() {
        let mut rng = Sampler::new(42);
        for (a, b) in [(1.0, 1.0), (2.0, 5.0), (50.0, 950.0), (9900.0, 101.0)] {
            let n = 20_000;
            let xs: Vec<f64> = (0..n).map(|_| rng.beta(a, b)).collect();
            let mean = xs.iter().sum::<f64>() / n as f64;
            let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
            let (m, v) = (a / (a + b), a * b / ((a + b).powi(2) * (a + b + 1.0)));
            assert!(
                (mean - m).abs() < 4.0 * (v / n as f64).sqrt(),
                "Beta({a},{b}) mean {mean} vs {m}"
            );
            assert!((var / v - 1.0).abs() < 0.05, "Beta({a},{b}) var {var} vs {v}");
        }
    }

    #[test]
    fn mann_whitney_matches_the_tables() {
        let d = stats::mann_whitney_distribution(5, 5);
        assert!((d.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!((d[0] - 1.0 / 252.0).abs() < 1e-12 && (d[2] - 2.0 / 252.0).abs() < 1e-12);
        assert_eq!(stats::mann_whitney_distribution(3, 7), stats::mann_whitney_distribution(7, 3));
        // Published two-sided 5 % critical values of U (reject when U ≤ value): c = value + 1.
        for (m, n, u) in [(5, 5, 2), (6, 6, 5), (8, 8, 13), (10, 10, 23), (5, 10, 8), (20, 20, 127)]
        {
            assert_eq!(stats::mann_whitney_critical(m, n, 0.025), Some(u + 1), "m={m} n={n}");
        }
        // The normal approximation takes over for large samples and stays close.
        let c = stats::mann_whitney_critical(60, 60, 0.025).unwrap();
        // 1800 − 1.96 · √(60·60·121/12) ≈ 1426.6, plus ½ for continuity.
        assert_eq!(c, 1427);
    }
}
