//! Floor probes: the floor of the moment, measured by a trial's own pair right before the trial,
//! on the CPUs it runs on, and what a run makes of them — each case's figure as a multiple of
//! its trials' probes, how far the probes moved across the run, and the warnings when a figure
//! beats its floor or the floor itself moved.
//!
//! Which probe bounds a case: a cache-line handoff for `spin` latency, a futex wake-up for
//! `futex`, a one-byte pipe ping for `block`, a cross-core copy of the case's record size for
//! throughput. One probe does not fit all: a host that puts both vCPUs on one physical core may
//! make the handoff faster and the copy slower.

use crate::{latency, CaseResult, RunFile, Spread};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Probe kinds (`Probe::kind`).
pub mod kind {
    /// Two processes bounce a sequence word in one cache line, spinning: one-way p50.
    pub const CACHE_LINE: &str = "cache-line";
    /// The same bounce, the receiver asleep on a futex: one-way p50 of the wake-up.
    pub const FUTEX_WAKE: &str = "futex-wake";
    /// One byte through a pipe, the reader blocked in `read`: one-way p50.
    pub const PIPE_WAKE: &str = "pipe-wake";
    /// One process writes blocks into shared memory, the other copies them out: bytes/s.
    pub const COPY: &str = "copy";
}

/// A probe's value moving by more than this factor (max / min) within one run is a warning.
pub const DRIFT_FACTOR: f64 = 2.0;

/// The least spread a case's probes are granted: a single probe (a stream pair's) or probes
/// that happened to agree closely still repeat only to about 10 % on a quiet host.
pub const MIN_SPREAD: f64 = 1.1;

/// `× probe` is shown for latency only up to this record size: above it a record's latency is
/// mostly reading and checking the payload, which a handoff does not bound.
pub const RATIO_MAX_SIZE: u64 = 4096;

/// One probe, as stored with its trial.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Probe {
    /// [`kind`]: `cache-line`, `futex-wake`, `pipe-wake`, `copy`.
    pub kind: String,
    /// One-way p50 of a handoff or wake-up probe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p50_ns: Option<u64>,
    /// Rate of a copy probe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_per_s: Option<f64>,
    /// Block bytes of a copy probe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Handoffs or blocks measured.
    #[serde(default)]
    pub count: u64,
    /// The share of its trial's wall time (after the probe) that the host took from the pair:
    /// the longer run-queue wait of its two processes, plus CPU time stolen by a hypervisor.
    /// Above [`DISTURBED_SHARE`] the trial ran on a busy host (see [`Probe::disturbed`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_wait: Option<f64>,
}

/// A trial whose pair waited for a CPU for more than this share of its time ran on a busy
/// host: another process took one of the pair's CPUs for a while, which a floor probe of a few
/// milliseconds right before the trial does not see. Scenarios run such a trial again (keeping
/// the least disturbed attempt) and `compare` leaves out the trials still above it. A quiet
/// host's kernel threads and ticks take well under 1 %.
pub const DISTURBED_SHARE: f64 = 0.05;

impl Probe {
    /// Whether the host took more than [`DISTURBED_SHARE`] of the trial from its pair.
    pub fn disturbed(&self) -> bool {
        self.cpu_wait.is_some_and(|w| w > DISTURBED_SHARE)
    }

    /// The probe's figure: ns for a latency probe, bytes/s for a copy.
    pub fn value(&self) -> Option<f64> {
        self.p50_ns.map(|v| v as f64).or(self.bytes_per_s).filter(|v| *v > 0.0)
    }

    /// Whether a larger value is better (a rate) rather than worse (a latency).
    pub fn is_rate(&self) -> bool {
        self.p50_ns.is_none() && self.bytes_per_s.is_some()
    }

    /// Probes with the same key are comparable across a run: a copy depends on its block size.
    pub fn key(&self) -> String {
        match self.size {
            Some(s) if self.kind == kind::COPY => format!("{}/{s}", self.kind),
            _ => self.kind.clone(),
        }
    }
}

/// The probe that served trial `k` of `n`: trial k's own when there is one per trial, else the
/// probe of the pair that ran it (pairs carry equal shares of the trials, in order).
pub fn of_trial(probes: &[Probe], k: usize, n: usize) -> Option<&Probe> {
    if probes.is_empty() || n == 0 {
        return None;
    }
    probes.get(k * probes.len() / n)
}

/// Each trial's figure: the `notify` p50 (else the end-to-end one) of a latency case, the
/// bytes/s of a throughput case.
fn trial_figures(c: &CaseResult, rate: bool) -> Vec<f64> {
    if rate {
        return c
            .throughput
            .iter()
            .flat_map(|t| &t.trials)
            .map(|t| if t.seconds > 0.0 { t.bytes as f64 / t.seconds } else { 0.0 })
            .collect();
    }
    let trials = c
        .latency_trials_ns
        .get(latency::NOTIFY)
        .or_else(|| c.latency_trials_ns.get(latency::ONE_WAY));
    trials.into_iter().flatten().map(|s| s.p50 as f64).collect()
}

/// Each trial's figure divided by its own probe (latency: ≥ 1 means slower than the floor;
/// throughput: ≤ 1 means below the floor). Empty without probes.
pub fn ratios(c: &CaseResult) -> Vec<f64> {
    let Some(first) = c.probes.first() else { return Vec::new() };
    let figures = trial_figures(c, first.is_rate());
    let n = figures.len();
    figures
        .iter()
        .enumerate()
        .filter_map(|(k, f)| Some(f / of_trial(&c.probes, k, n)?.value()?))
        .filter(|r| r.is_finite() && *r > 0.0)
        .collect()
}

/// `× probe`: the median over trials of figure / probe.
pub fn ratio(c: &CaseResult) -> Option<f64> {
    let r = ratios(c);
    (!r.is_empty()).then(|| Spread::of(&r).median)
}

/// How far a case's own probes spread: max / min, at least [`MIN_SPREAD`].
pub fn spread_factor(c: &CaseResult) -> f64 {
    let v: Vec<f64> = c.probes.iter().filter_map(Probe::value).collect();
    let s = Spread::of(&v);
    if s.min > 0.0 {
        (s.max / s.min).max(MIN_SPREAD)
    } else {
        MIN_SPREAD
    }
}

/// A warning when the case's figure beats its floor beyond the probes' own spread: a latency
/// below probe / spread, a rate above probe × spread. The floor is what the pair could not
/// beat at that moment, so this says the probe and the trial saw different hosts.
pub fn beats_floor(c: &CaseResult) -> Option<String> {
    let first = c.probes.first()?;
    // A reader that verifies in place copies nothing: a copy does not bound it.
    if first.is_rate() && c.axes.get("mode").is_some_and(|m| m == "in-place") {
        return None;
    }
    let r = ratio(c)?;
    let s = spread_factor(c);
    let beaten = if first.is_rate() { r > s } else { r < 1.0 / s };
    beaten.then(|| {
        let what = if first.is_rate() { "throughput" } else { "notify p50" };
        format!(
            "{}: its {what} is {r:.2}× its trials' own {} probe, beyond the probes' spread \
             ({s:.2}×): the host changed state between probe and trial. Pin the sides with \
             --pin and run on a quiet host.",
            c.id, first.kind
        )
    })
}

/// Every probe of the run's measured cases by key: min, median, max of their values.
pub fn drift(cases: &[CaseResult]) -> BTreeMap<String, Spread> {
    let mut by_key: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for c in cases.iter().filter(|c| c.ok()) {
        for p in &c.probes {
            if let Some(v) = p.value() {
                by_key.entry(p.key()).or_default().push(v);
            }
        }
    }
    by_key.into_iter().map(|(k, v)| (k, Spread::of(&v))).collect()
}

/// A warning for each probe key that moved by more than [`DRIFT_FACTOR`] within the run.
pub fn drift_warnings(drift: &BTreeMap<String, Spread>) -> Vec<String> {
    drift
        .iter()
        .filter(|(_, s)| s.min > 0.0 && s.max / s.min > DRIFT_FACTOR)
        .map(|(key, s)| {
            format!(
                "The {key} probe moved {:.1}× within this run (min {}, max {}): the host changed \
                 state while it ran, so figures of different cases saw different machines; read \
                 each against its own probe (× probe). Pin the sides with --pin and run on a \
                 quiet host.",
                s.max / s.min,
                fmt_value(key, s.min),
                fmt_value(key, s.max)
            )
        })
        .collect()
}

fn fmt_value(key: &str, v: f64) -> String {
    if key.starts_with(kind::COPY) {
        crate::units::bytes_per_s(v)
    } else {
        crate::units::ns(v)
    }
}

/// The probe-derived warnings of a run: drift, every case that beats its floor, then the
/// cases that kept trials the host disturbed.
pub fn warnings(run: &RunFile) -> Vec<String> {
    let mut w = drift_warnings(&drift(&run.cases));
    w.extend(run.cases.iter().filter(|c| c.ok()).filter_map(beats_floor));
    w.extend(disturbed_warning(&run.cases));
    w
}

/// One warning naming the cases with trials whose pair waited for a CPU beyond
/// [`DISTURBED_SHARE`] even after being run again.
pub fn disturbed_warning(cases: &[CaseResult]) -> Option<String> {
    let hit: Vec<(&str, usize, usize, f64)> = cases
        .iter()
        .filter(|c| c.ok())
        .filter_map(|c| {
            let bad: Vec<f64> =
                c.probes.iter().filter(|p| p.disturbed()).filter_map(|p| p.cpu_wait).collect();
            let worst = bad.iter().copied().fold(0.0, f64::max);
            (!bad.is_empty()).then_some((c.id.as_str(), bad.len(), c.probes.len(), worst))
        })
        .collect();
    let (first, _, _, _) = hit.first()?;
    let worst = hit.iter().map(|h| h.3).fold(0.0, f64::max);
    let trials: usize = hit.iter().map(|h| h.1).sum();
    let more = match hit.len() {
        1 => String::new(),
        n => format!(" and {} more", n - 1),
    };
    Some(format!(
        "The host was busy: {trials} trials of {} cases ({first}{more}) waited for a CPU for more \
         than {:.0} % of their time even when run again (worst {:.0} %). Their figures are the \
         host's, and compare leaves those trials out. Run on a quiet host, or pin (--pin) to \
         CPUs nothing else uses.",
        hit.len(),
        DISTURBED_SHARE * 100.0,
        worst * 100.0
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Summary, Throughput, Trial};

    fn latency_probe(p50: u64) -> Probe {
        Probe {
            kind: kind::CACHE_LINE.into(),
            p50_ns: Some(p50),
            count: 1000,
            ..Default::default()
        }
    }

    fn latency_case(id: &str, notify: &[u64], probes: &[u64]) -> CaseResult {
        let mut c = CaseResult::new(id, "pingpong");
        c.latency_trials_ns.insert(
            latency::NOTIFY.into(),
            notify.iter().map(|&p50| Summary { p50, ..Default::default() }).collect(),
        );
        c.probes = probes.iter().map(|&p| latency_probe(p)).collect();
        c
    }

    #[test]
    fn ratio_takes_each_trial_against_its_own_probe() {
        // Trial 2 ran while the host was twice as slow: its probe moved with it.
        let c = latency_case("a", &[120, 240, 130], &[100, 200, 100]);
        assert_eq!(ratios(&c), [1.2, 1.2, 1.3]);
        assert_eq!(ratio(&c), Some(1.2));
        assert_eq!(spread_factor(&c), 2.0);
        assert!(beats_floor(&c).is_none());
        // Probes that agree are still granted their repeatability.
        assert_eq!(spread_factor(&latency_case("s", &[1], &[100, 100])), MIN_SPREAD);
    }

    #[test]
    fn a_latency_below_its_probe_is_flagged() {
        let c = latency_case("pingpong/x/fork/spin/64", &[40, 42, 41], &[100, 110, 105]);
        let w = beats_floor(&c).expect("flagged");
        assert!(w.contains("pingpong/x/fork/spin/64") && w.contains("--pin"), "{w}");
        // Within the probes' spread it is not: 95 vs probes 100…120 (spread 1.2).
        let c = latency_case("b", &[95, 95, 95], &[100, 120, 110]);
        assert!(beats_floor(&c).is_none());
    }

    #[test]
    fn a_rate_above_its_copy_probe_is_flagged() {
        let mut c = CaseResult::new("stream/x/fork/spin/65536/copy", "stream");
        c.throughput = Some(Throughput {
            trials: vec![Trial { records: 1, bytes: 3_000, seconds: 1.0 }; 5],
            ..Default::default()
        });
        let copy = |r: f64| Probe {
            kind: kind::COPY.into(),
            bytes_per_s: Some(r),
            size: Some(65536),
            ..Default::default()
        };
        // One pair, one probe, five trials: the probe serves them all.
        c.probes = vec![copy(1_000.0)];
        assert_eq!(ratio(&c), Some(3.0));
        assert!(beats_floor(&c).is_some());
        // A reader verifying in place is not bounded by a copy.
        c.axes.insert("mode".into(), "in-place".into());
        assert!(beats_floor(&c).is_none());
        c.axes.insert("mode".into(), "copy".into());
        c.probes = vec![copy(4_000.0)];
        assert_eq!(ratio(&c), Some(0.75));
        assert!(beats_floor(&c).is_none());
        assert_eq!(c.probes[0].key(), "copy/65536");
    }

    #[test]
    fn drift_beyond_the_factor_is_a_warning_per_key() {
        let mut run = RunFile::default();
        run.cases.push(latency_case("a", &[100, 100], &[50, 60]));
        run.cases.push(latency_case("b", &[300, 300], &[150, 140]));
        let mut failed = latency_case("c", &[1], &[1]);
        failed.error = Some("broken".into());
        run.cases.push(failed);
        let d = drift(&run.cases);
        assert_eq!(d.len(), 1);
        let s = d[kind::CACHE_LINE];
        assert_eq!((s.min, s.max), (50.0, 150.0));
        let w = warnings(&run);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("cache-line probe moved 3.0×") && w[0].contains("--pin"), "{}", w[0]);
        // Within the factor: no warning.
        run.cases.truncate(1);
        assert!(warnings(&run).is_empty());
    }

    #[test]
    fn trials_the_host_disturbed_are_one_warning() {
        let mut run = RunFile::default();
        let mut a = latency_case("pingpong/a/fork/spin/64", &[100, 100], &[50, 50]);
        a.probes[0].cpu_wait = Some(0.2);
        a.probes[1].cpu_wait = Some(DISTURBED_SHARE);
        run.cases.push(a.clone());
        assert!(a.probes[0].disturbed() && !a.probes[1].disturbed());
        let w = disturbed_warning(&run.cases).expect("a warning");
        assert!(
            w.contains("1 trials of 1 cases (pingpong/a/fork/spin/64)") && w.contains("20 %"),
            "{w}"
        );
        a.probes[0].cpu_wait = Some(0.01);
        run.cases[0] = a;
        assert!(disturbed_warning(&run.cases).is_none());
    }

    #[test]
    fn pairs_carry_equal_shares_of_trials() {
        let p: Vec<Probe> = (1..=2).map(latency_probe).collect();
        let idx: Vec<u64> = (0..6).map(|k| of_trial(&p, k, 6).unwrap().p50_ns.unwrap()).collect();
        assert_eq!(idx, [1, 1, 1, 2, 2, 2]);
        assert!(of_trial(&[], 0, 1).is_none());
    }
}
