//! The result file: the one contract between measuring and presenting.
//!
//! Every run lands as one JSON file (`"schema": "ipcbench/1"`). The harness writes it; `report`,
//! `compare` and `export` read it and nothing else, so a report can be made from a run taken on
//! another host or by an older version. Figures carry their unit in their key
//! (`latency_ns.one_way.p50`, `throughput.bytes_per_s.median`).

pub mod compare;
pub mod export;
pub mod fs;
pub mod histogram;
pub mod load;
pub mod probe;
pub mod table;
pub mod units;
pub mod vocabulary;

pub use probe::Probe;
pub use vocabulary::{latency, Family, Process, Scenario, Transport, Wait};

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The schema tag every result file carries; a file without it is foreign.
pub const SCHEMA: &str = "ipcbench/1";

/// One run: where and how it was measured, and every case it measured.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct RunFile {
    pub schema: String,
    pub run: RunInfo,
    #[serde(default)]
    pub cases: Vec<CaseResult>,
    /// Advice the run gave, in full sentences (too few CPUs to spin, `MS_ASYNC` is a no-op, …).
    #[serde(default)]
    pub warnings: Vec<String>,
    /// How each kind of floor probe moved across the run (see [`probe::drift`]): probe key
    /// (`cache-line`, `futex-wake`, `pipe-wake`, `copy/<size>`) → min, median, max of the
    /// probes' values (ns for a wake-up or handoff p50, bytes/s for a copy).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub probe_drift: BTreeMap<String, Spread>,
}

/// The environment of a run: enough to tell whether two runs may be compared.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct RunInfo {
    /// `YYYYmmddTHHMMSSZ-<pid>`: sorts by start time, unique on one host.
    pub id: String,
    /// RFC 3339, UTC.
    pub started_at: String,
    /// Seconds since the Unix epoch at the start; the trend chart sorts on it.
    #[serde(default)]
    pub started_unix_s: u64,
    #[serde(default)]
    pub git_commit: Option<String>,
    pub hostname: String,
    pub kernel: String,
    pub cpu_model: String,
    pub logical_cpus: usize,
    pub memory_bytes: u64,
    /// Directory used by the run → its filesystem type (`ext4`, `tmpfs`, …).
    #[serde(default)]
    pub filesystems: BTreeMap<String, String>,
    /// The kernel's clocksource (`tsc`, `kvm-clock`, …).
    pub clock_source: String,
    /// What one `clock_gettime(CLOCK_MONOTONIC)` costs here, median of many.
    pub clock_overhead_ns: f64,
    /// CPUs the two sides were pinned to (`--pin`), or none.
    #[serde(default)]
    pub pinning: Option<Vec<usize>>,
    /// Why those CPUs (or none): `--pin`, or how the default was chosen from the allowed set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pinning_reason: Option<String>,
    pub ipcbench_version: String,
    pub command_line: Vec<String>,
    #[serde(default)]
    pub quick: bool,
    /// Set when the run ended before all its cases were measured (Ctrl-C).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interrupted: Option<String>,
    /// True only in a file whose run ended normally (every planned case measured or failed);
    /// a run cut short by a signal, a crash or `kill -9` leaves it false. Older files lack it.
    #[serde(default)]
    pub complete: bool,
    /// A test-only slow-down that was in force (see `IPCBENCH_SLOWDOWN`); never set in real runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slowdown: Option<String>,
    /// The id of the run whose regressed cases this run measured again (a confirmation round
    /// of `scenario --baseline`, kept in `DIR/confirmations/`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirms: Option<String>,
}

/// One point of a scenario.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct CaseResult {
    /// Stable across versions: `scenario/transport/process/wait/size[/more axes]`.
    pub id: String,
    pub scenario: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transport: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait: Option<String>,
    /// Record size (payload bytes), or whatever size the scenario varies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Further axes of the scenario (`mode`, `method`, `fs`, `readers`, …).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub axes: BTreeMap<String, String>,
    /// Measured messages (round trips, records, flushes), warm-up excluded.
    #[serde(default)]
    pub iterations: u64,
    #[serde(default)]
    pub warmup: u64,
    /// Latency summaries by kind: `one_way`, `round_trip`, `flush`, `handoff`, …
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub latency_ns: BTreeMap<String, Summary>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throughput: Option<Throughput>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integrity: Option<Integrity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<Cpu>,
    /// Other scalar figures, unit in the key (`memcpy_bytes_per_s`, `ns_per_page`, …).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub figures: BTreeMap<String, f64>,
    /// The same summaries for each trial (a fresh pair of processes and objects) whose
    /// histograms `latency_ns` pools, in order: how far a figure moves from pair to pair.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub latency_trials_ns: BTreeMap<String, Vec<Summary>>,
    /// The floor probe each trial's pair measured right before it, in trial order (one per
    /// pair: when a pair carries several trials, its probe serves them all).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub probes: Vec<Probe>,
    /// HDR histograms (V2 + DEFLATE, base64), same keys as `latency_ns`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub histograms: BTreeMap<String, String>,
    /// Checks of a claim against the running kernel (scenario `seed`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub claims: Vec<Claim>,
    /// How the case was measured where that is not obvious (how a `file-rw` reader learns a
    /// record is there, which filesystem held the file, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Why the case was not measured on this host (no huge pages, …); not a failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    /// Why the case failed; its figures, if any, are not to be trusted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default)]
    pub elapsed_s: f64,
}

impl CaseResult {
    pub fn new(id: impl Into<String>, scenario: impl Into<String>) -> Self {
        CaseResult { id: id.into(), scenario: scenario.into(), ..Default::default() }
    }

    /// Measured, not skipped, not failed.
    pub fn ok(&self) -> bool {
        self.error.is_none() && self.skipped.is_none()
    }

    /// `latency_ns.<kind>.p50`, if measured.
    pub fn p50(&self, kind: &str) -> Option<u64> {
        self.latency_ns.get(kind).map(|s| s.p50)
    }
}

/// A latency distribution in nanoseconds.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Summary {
    pub count: u64,
    pub min: u64,
    pub mean: f64,
    pub stdev: f64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub p9999: u64,
    pub max: u64,
}

/// Throughput over several trials.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Throughput {
    pub records_per_s: Spread,
    pub bytes_per_s: Spread,
    /// Every trial, so later tools can re-analyse.
    pub trials: Vec<Trial>,
    /// Per reader, for fan-out: reader index → its bytes per second (median over trials).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub per_reader_bytes_per_s: Vec<Spread>,
}

#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Spread {
    /// Median, min and max of the values; all zero when there are none.
    pub fn of(values: &[f64]) -> Spread {
        if values.is_empty() {
            return Spread::default();
        }
        let mut v = values.to_vec();
        v.sort_by(|a, b| a.total_cmp(b));
        let n = v.len();
        let median = if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 };
        Spread { median, min: v[0], max: v[n - 1] }
    }
}

#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Trial {
    pub records: u64,
    pub bytes: u64,
    pub seconds: f64,
}

/// What the receivers verified: every record carries a sequence number and a checksum.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Integrity {
    pub sent: u64,
    pub received: u64,
    pub lost: u64,
    pub reordered: u64,
    pub corrupted: u64,
}

impl Integrity {
    pub fn ok(&self) -> bool {
        self.lost == 0 && self.reordered == 0 && self.corrupted == 0 && self.sent == self.received
    }

    /// `None` when intact; else the one-line reason a case fails.
    pub fn failure(&self) -> Option<String> {
        (!self.ok()).then(|| {
            format!(
                "integrity check failed: sent {}, received {}, lost {}, reordered {}, corrupted {}",
                self.sent, self.received, self.lost, self.reordered, self.corrupted
            )
        })
    }

    pub fn add(&mut self, other: &Integrity) {
        self.sent += other.sent;
        self.received += other.received;
        self.lost += other.lost;
        self.reordered += other.reordered;
        self.corrupted += other.corrupted;
    }
}

/// CPU time (user + system) each side spent per message, so spinning is not mistaken for free.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Cpu {
    /// Side (`initiator`, `responder`, `writer`, `reader`, …) → CPU ns per message.
    pub ns_per_message: BTreeMap<String, f64>,
}

/// A claim of the seed article, checked on the running kernel.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Claim {
    pub claim: String,
    pub article_says: String,
    pub observed: String,
    pub holds: bool,
}

/// Why a result file could not be read. Each message names the file and what is wrong.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read result file {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path} is not an ipcbench result file: not valid JSON ({source})")]
    NotJson { path: PathBuf, source: serde_json::Error },
    #[error("{path} is not an ipcbench result file: schema is {found:?}, expected {SCHEMA:?}")]
    Foreign { path: PathBuf, found: String },
    #[error("{path} is a damaged ipcbench result file: {source}")]
    Damaged { path: PathBuf, source: serde_json::Error },
}

impl RunFile {
    pub fn new(run: RunInfo) -> Self {
        RunFile {
            schema: SCHEMA.to_string(),
            run,
            cases: Vec::new(),
            warnings: Vec::new(),
            probe_drift: BTreeMap::new(),
        }
    }

    /// Reads and checks a result file: valid JSON, our schema tag, our shape.
    pub fn load(path: &Path) -> Result<RunFile, LoadError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| LoadError::Io { path: path.to_path_buf(), source })?;
        let value: serde_json::Value = serde_json::from_str(&text)
            .map_err(|source| LoadError::NotJson { path: path.to_path_buf(), source })?;
        let found = value.get("schema").and_then(|s| s.as_str()).unwrap_or("(none)");
        if found != SCHEMA {
            return Err(LoadError::Foreign { path: path.to_path_buf(), found: found.to_string() });
        }
        serde_json::from_value(value)
            .map_err(|source| LoadError::Damaged { path: path.to_path_buf(), source })
    }

    /// Writes the file atomically and safely (see [`fs::write_atomic`]): a reader (or a crash)
    /// never sees half a file, and a symlink at `path` is replaced, never written through.
    pub fn write_atomic(&self, path: &Path) -> std::io::Result<()> {
        fs::write_atomic(path, |w| {
            serde_json::to_writer_pretty(&mut *w, self)?;
            w.write_all(b"\n")
        })
    }

    pub fn case(&self, id: &str) -> Option<&CaseResult> {
        self.cases.iter().find(|c| c.id == id)
    }

    /// The machine's cache-line one-way handoff, measured by scenario `floor` in this run.
    pub fn floor_one_way_ns(&self) -> Option<u64> {
        self.case(FLOOR_CACHE_LINE).and_then(|c| c.p50(latency::ONE_WAY))
    }
}

/// Case id of the cache-line handoff floor.
pub const FLOOR_CACHE_LINE: &str = "floor/cache-line";

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> RunFile {
        let mut f =
            RunFile::new(RunInfo { id: "r1".into(), hostname: "h".into(), ..Default::default() });
        let mut c = CaseResult::new("pingpong/pipe/fork/block/64", "pingpong");
        c.latency_ns
            .insert("one_way".into(), Summary { count: 3, p50: 1200, ..Default::default() });
        f.cases.push(c);
        f
    }

    #[test]
    fn round_trips_through_disk() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.json");
        let f = sample();
        f.write_atomic(&path).unwrap();
        assert_eq!(RunFile::load(&path).unwrap(), f);
        // Only the file itself remains: the temp file was renamed, not copied.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn foreign_and_corrupt_files_are_told_apart() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.json");
        std::fs::write(&p, "{\"schema\": \"other/2\"}").unwrap();
        assert!(matches!(RunFile::load(&p), Err(LoadError::Foreign { .. })));
        std::fs::write(&p, "{not json").unwrap();
        assert!(matches!(RunFile::load(&p), Err(LoadError::NotJson { .. })));
        std::fs::write(&p, "{\"schema\": \"ipcbench/1\", \"run\": 3}").unwrap();
        assert!(matches!(RunFile::load(&p), Err(LoadError::Damaged { .. })));
        assert!(matches!(RunFile::load(&dir.path().join("none")), Err(LoadError::Io { .. })));
    }

    #[test]
    fn spread_takes_the_median() {
        let s = Spread::of(&[5.0, 1.0, 3.0, 2.0]);
        assert_eq!((s.median, s.min, s.max), (2.5, 1.0, 5.0));
        assert_eq!(Spread::of(&[]).median, 0.0);
    }

    #[test]
    fn integrity_requires_every_record() {
        let mut i = Integrity { sent: 10, received: 10, ..Default::default() };
        assert!(i.ok());
        i.received = 9;
        assert!(!i.ok());
    }
}
