//! Where `compare` finds a trial's own floor probe: the floor measured by the trial's pair
//! right before it, on the CPUs it ran on. A figure divided by its trial's probe no longer
//! moves with the state the host was in when that pair ran.

use crate::CaseResult;

/// The latency probe (ns) that served each trial of `kind`, in trial order, when the case
/// stored probes. Result files without per-trial probes have none: `compare` then falls back
/// on the run's `floor/cache-line` case ([`super::floor`]).
pub fn per_trial_ns(case: &CaseResult, kind: &str) -> Option<Vec<f64>> {
    // Wired to the per-trial probes once they are part of the result file.
    let _ = (case, kind);
    None
}
