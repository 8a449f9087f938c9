//! Where `compare` finds a trial's own floor probe: the floor measured by the trial's pair
//! right before it, on the CPUs it ran on. A figure divided by its trial's probe no longer
//! moves with the state the host was in when that pair ran.

use crate::probe::{kind, of_trial};
use crate::CaseResult;

/// The cache-line probe (ns) that served each trial of `kind`, in trial order, when the case
/// stored one for every trial: the floor of a spinning handoff. Result files without per-trial
/// probes (or with wake-up or copy probes) have none: `compare` then falls back on the run's
/// `floor/cache-line` case ([`super::floor`]).
pub fn per_trial_ns(case: &CaseResult, latency_kind: &str) -> Option<Vec<f64>> {
    let n = case.latency_trials_ns.get(latency_kind)?.len();
    (0..n)
        .map(|k| {
            let p = of_trial(&case.probes, k, n)?;
            (p.kind == kind::CACHE_LINE).then_some(())?;
            p.p50_ns.map(|v| v as f64).filter(|v| *v > 0.0)
        })
        .collect()
}

/// The copy probe (bytes/s) that served each of the case's `n` throughput trials, in trial
/// order, when it stored one for every trial: the cross-core copy its pair measured right
/// before the trial, at the case's record size.
pub fn per_trial_copy(case: &CaseResult, n: usize) -> Option<Vec<f64>> {
    (0..n)
        .map(|k| {
            let p = of_trial(&case.probes, k, n)?;
            (p.kind == kind::COPY).then_some(())?;
            p.bytes_per_s.filter(|v| v.is_finite() && *v > 0.0)
        })
        .collect()
}

/// Which of the case's `n` trials the host disturbed: its pair waited for a CPU for more than
/// [`crate::probe::DISTURBED_SHARE`] of the trial (see [`crate::Probe::disturbed`]). All false
/// in result files that did not record it.
pub fn disturbed(case: &CaseResult, n: usize) -> Vec<bool> {
    (0..n).map(|k| of_trial(&case.probes, k, n).is_some_and(|p| p.disturbed())).collect()
}

/// `values` (one per trial, in trial order) without the trials the host disturbed, and how
/// many were left out.
pub fn undisturbed<T>(case: &CaseResult, values: Vec<T>) -> (Vec<T>, usize) {
    let busy = disturbed(case, values.len());
    let kept: Vec<T> =
        values.into_iter().zip(&busy).filter(|(_, b)| !**b).map(|(v, _)| v).collect();
    let left_out = busy.iter().filter(|b| **b).count();
    (kept, left_out)
}
