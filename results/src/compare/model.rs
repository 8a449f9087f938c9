//! What a comparison is: the options it takes, the verdict of each figure, and the outcome
//! that `render` prints and the CLI's exit status reads.

use super::floor::FloorChange;
use super::method::DEFAULT_THRESHOLD_PCT;
use super::render::{render_markdown, render_table};
use crate::RunInfo;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CompareOptions {
    /// A change smaller than this, in percent, is "no change" (p99: [`P99_THRESHOLD_FACTOR`](super::P99_THRESHOLD_FACTOR)
    /// times this). Default 5; finite and ≥ 0. Higher hides more drift on noisy hosts and more
    /// real regressions with it.
    pub threshold_pct: f64,
    /// Whether p99 may count (`--gate-p99`). Default no: it is reported, judged, and shown as
    /// noise when it moved, because between two runs on a shared host the tail follows what
    /// else ran far more than any run's own spread shows.
    pub gate_p99: bool,
    /// Whether figures bound by the guest's memory bandwidth may count (`--gate-bandwidth`): a
    /// spinning pair moving records of [`super::BANDWIDTH_RECORD_BYTES`] or more
    /// ([`super::bandwidth_bound`]). Default no: on a shared VM they moved 4–5× for seconds at
    /// a time in runs of one build, unseen by probes and CPU waits; `ab` judges them in pairs.
    pub gate_bandwidth: bool,
    /// Whether figures that wait on a block device's flush may count (`--gate-device`):
    /// `msync` on `disk` ([`super::device_bound`]). Default no: the device's latency moved by
    /// +94 to +135 % between back-to-back runs of one build on a shared VM; `ab` judges them
    /// in pairs.
    pub gate_device: bool,
}

impl Default for CompareOptions {
    fn default() -> Self {
        CompareOptions {
            threshold_pct: DEFAULT_THRESHOLD_PCT,
            gate_p99: false,
            gate_bandwidth: false,
            gate_device: false,
        }
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
    /// A/B mode: the median of the pairs' ratios new/old, with the sign test's interval.
    Paired,
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
    /// [`CONFIDENCE`](super::CONFIDENCE) interval of `change_pct`, when the runs stored their spread.
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
    /// A/B mode (`ipcbench ab`): each pair's ratio new/old, in the order the pairs ran.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pair_ratios: Vec<f64>,
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
    pub fn of(run: &RunInfo) -> RunRef {
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
    /// [`COMPARE_SCHEMA`](super::COMPARE_SCHEMA).
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
    /// The cache-line floor of both runs, when both measured it: how the host's state moved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub floor: Option<FloorChange>,
    /// Why the new run cannot pass a gate (failed cases, no cases, interrupted, not
    /// complete); empty when it can. Exit status 3.
    #[serde(default)]
    pub unusable: Vec<String>,
    /// Set by `ipcbench ab`: how many pairs of invocations ran, old and new interleaved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paired: Option<usize>,
}

/// What the CLI's exit status says about a comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gate {
    /// Exit 0: the new run is whole and nothing regressed.
    Clean,
    /// Exit 1: a figure regressed beyond its threshold and the runs' spread.
    Regressed,
    /// Exit 3: the new run cannot show that nothing regressed — a case failed, it has no
    /// cases, or it was interrupted or is not complete. Takes precedence over a regression.
    Unusable,
}

impl Gate {
    pub fn exit_code(self) -> u8 {
        match self {
            Gate::Clean => 0,
            Gate::Regressed => 1,
            Gate::Unusable => 3,
        }
    }
}

impl Comparison {
    /// A figure regressed beyond threshold and spread: the CLI exits 1.
    pub fn has_regression(&self) -> bool {
        self.figures().any(|(_, f)| f.gates && f.verdict == Verdict::Regressed)
    }

    /// The exit status's meaning: see [`Gate`].
    pub fn gate(&self) -> Gate {
        if !self.unusable.is_empty() {
            Gate::Unusable
        } else if self.has_regression() {
            Gate::Regressed
        } else {
            Gate::Clean
        }
    }

    /// The same comparison with only the figures that regressed or improved (`--only-changed`);
    /// cases that failed or are on one side only stay listed, the summary still counts all.
    pub fn only_changed(&self) -> Comparison {
        let mut c = self.clone();
        for k in &mut c.cases {
            k.figures.retain(|f| matches!(f.verdict, Verdict::Regressed | Verdict::Improved));
        }
        c.cases.retain(|k| k.status != CaseStatus::Compared || !k.figures.is_empty());
        c
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
