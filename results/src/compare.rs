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
else round trip, flush or call) and median throughput (bytes/s, higher is better). \
A figure's change is (new - base) / base. It counts as regressed or improved only when it is \
beyond the threshold (--threshold, default 5 %; for p99 twice that, 10 % by default, because tail \
latency drifts more from run to run) AND the whole 95 % confidence interval of the change lies \
beyond the threshold as well. A change beyond the threshold whose interval reaches back inside it \
is reported as noise; a change within the threshold as no change. \
Latency intervals: percentile bootstrap of the ratio new/base of the quantile, 5000 resamples \
drawn from the two stored HDR histograms, each resample the size of its run (the resampled \
quantile is drawn exactly through its order statistic, U(k) ~ Beta(k, n+1-k)), with a fixed seed \
so the same files always give the same verdicts. A quantile with fewer than 10 samples beyond it \
is not resolved by its run: it is reported but never counts (noise). \
Throughput intervals: from the per-trial throughputs, the distribution-free interval of the ratio \
that inverts the Mann-Whitney rank test (order statistics of the pairwise log-ratios, \
Hodges-Lehmann), exact for small samples; it needs enough trials on each side (4 and 4 will do). \
Without histograms or enough trials the change is judged on the threshold alone \
(\"no spread stored\"). \
A histogram or a set of trials holds one run: its interval covers the noise within that run, not \
drift between runs; that is what the threshold absorbs, so raise --threshold on a noisy shared \
host.";

/// Default `--threshold`, in percent.
pub const DEFAULT_THRESHOLD_PCT: f64 = 5.0;
/// p99 must move this many thresholds: tail latency drifts more between runs than the median.
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
}

impl Default for CompareOptions {
    fn default() -> Self {
        CompareOptions { threshold_pct: DEFAULT_THRESHOLD_PCT }
    }
}

impl CompareOptions {
    /// Checks the threshold; the error is one line for the CLI.
    pub fn new(threshold_pct: f64) -> Result<Self, String> {
        if threshold_pct.is_finite() && threshold_pct >= 0.0 {
            Ok(CompareOptions { threshold_pct })
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
    /// Rank interval from both runs' throughput trials.
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
        self.figures().any(|(_, f)| f.verdict == Verdict::Regressed)
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
    let mut out = Vec::new();
    for (label, q, b, n, factor) in quantiles {
        if b == 0 {
            continue; // no base to take a change from
        }
        let threshold = opts.threshold_pct * factor;
        let key = format!("latency_ns.{kind}.{label}");
        let (basis, ci, note) = match (&be, &ne) {
            (Some(be), Some(ne)) => {
                let tail = be.len().min(ne.len()) as f64 * (1.0 - q);
                if tail < MIN_TAIL_SAMPLES as f64 {
                    let note = format!(
                        "too few samples beyond {label} ({} and {}) to resolve it",
                        be.len(),
                        ne.len()
                    );
                    (Basis::TailUnresolved, None, Some(note))
                } else {
                    let seed = BOOTSTRAP_SEED ^ fnv1a(&base.id) ^ fnv1a(&key).rotate_left(17);
                    let ci = stats::bootstrap_quantile_change(be, ne, q, seed);
                    (Basis::Bootstrap, Some(ci), None)
                }
            }
            _ => {
                let note = match &unreadable {
                    Some(e) => format!("no spread stored (histogram unreadable: {e})"),
                    None => "no spread stored".to_string(),
                };
                (Basis::ThresholdOnly, None, Some(note))
            }
        };
        out.push(figure(
            key,
            format!("{label} {}", kind.replace('_', "-")),
            "ns",
            Better::Lower,
            (b as f64, n as f64),
            threshold,
            (basis, ci, note),
        ));
    }
    out
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

fn run_line(r: &RunRef) -> String {
    let commit = r.git_commit.as_deref().map(|c| &c[..c.len().min(12)]).unwrap_or("no commit");
    format!("{} on {} ({commit}, ipcbench {})", r.id, r.hostname, r.ipcbench_version)
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
        "A change counts when it exceeds {} % ({} % for p99) and its whole {:.0} % confidence \
         interval does too.",
        c.threshold_pct,
        c.p99_threshold_pct,
        c.confidence * 100.0
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

const HEADER: [&str; 8] = ["case", "figure", "base", "new", "change", "95 % CI", "verdict", "note"];

fn render_table(c: &Comparison) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "base: {}", run_line(&c.base));
    let _ = writeln!(out, "new:  {}", run_line(&c.new));
    let _ = writeln!(out, "{}", rule_line(c));
    for w in &c.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    let mut rows: Vec<[String; 8]> = vec![HEADER.map(String::from)];
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

fn md_table(out: &mut String, rows: &[(&str, &FigureComparison)]) {
    let _ = writeln!(out, "| {} |", HEADER.join(" | "));
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
        "Base `{}` → new `{}`. {}\n",
        md(&run_line(&c.base)),
        md(&run_line(&c.new)),
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
        md_table(&mut out, &moved);
        out.push('\n');
    }
    if !still.is_empty() {
        let _ =
            writeln!(out, "<details><summary>{} figures with no change</summary>\n", still.len());
        md_table(&mut out, &still);
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
