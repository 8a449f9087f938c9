//! The run's floor, base against new: how far the host's state moved between the two runs.

use crate::{latency, RunFile, FLOOR_CACHE_LINE};
use serde::{Deserialize, Serialize};

/// The cache-line handoff floor of both runs and its change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FloorChange {
    /// What was compared: the `floor/cache-line` case, or the median of the trials' probes.
    pub source: String,
    pub base_ns: f64,
    pub new_ns: f64,
    pub change_pct: f64,
}

/// The floor's change: the `floor/cache-line` case's one-way p50 in both runs, when both
/// measured it.
pub fn floor_change(base: &RunFile, new: &RunFile) -> Option<FloorChange> {
    let p50 = |r: &RunFile| r.case(FLOOR_CACHE_LINE).filter(|c| c.ok())?.p50(latency::ONE_WAY);
    let (b, n) = (p50(base)? as f64, p50(new)? as f64);
    (b > 0.0 && n > 0.0).then(|| FloorChange {
        source: FLOOR_CACHE_LINE.to_string(),
        base_ns: b,
        new_ns: n,
        change_pct: (n / b - 1.0) * 100.0,
    })
}
