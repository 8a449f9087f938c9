//! Synthetic runs with known distributions, histograms stored exactly as the harness stores
//! them.

use super::stats::Sampler;
use crate::histogram::encode;
use crate::latency;
use crate::{CaseResult, Integrity, RunFile, RunInfo, Spread, Summary, Throughput, Trial};
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

pub fn latency_case(id: &str, samples: &[u64]) -> CaseResult {
    let h = histogram(samples);
    let mut c = CaseResult::new(id, id.split('/').next().unwrap());
    // scenario/transport/process/wait/size, as the pingpong scenario names its cases.
    c.wait = id.split('/').nth(3).map(String::from);
    c.size = id.split('/').nth(4).and_then(|s| s.parse().ok());
    c.iterations = samples.len() as u64;
    c.latency_ns.insert(latency::ONE_WAY.into(), Summary::of(&h));
    c.histograms.insert(latency::ONE_WAY.into(), encode(&h));
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
    let per_trial = runs.iter().map(|r| Summary::of(&histogram(r))).collect();
    c.latency_trials_ns.insert(latency::ONE_WAY.into(), per_trial);
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
        complete: true,
        ..Default::default()
    });
    f.cases = cases;
    f
}
