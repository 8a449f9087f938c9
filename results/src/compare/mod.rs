//! Two runs, case by case: what got faster, what got slower, and what only looks like it.
//!
//! `compare` reads two [`RunFile`](crate::RunFile)s and nothing else. A change counts only when
//! it is beyond the threshold *and* beyond what the runs' own spread explains; [`METHOD`] says
//! exactly how, and is what `--help` and the README print.
//!
//! - `method`: the method's text and the parameters it states;
//! - `model`: options, verdicts, the comparison a run pair yields;
//! - `judging`: matching cases and judging each figure;
//! - `stats`: the intervals behind the verdicts (bootstrap, rank interval);
//! - `floor`, `probes`: the host's state in each run, so a move of the host is not a regression;
//! - `usable`: whether the new run measured enough to pass a gate at all;
//! - `paired`: the A/B mode's verdicts from interleaved pairs of runs (`ipcbench ab`);
//! - `render`: the table and markdown forms.

mod floor;
mod judging;
mod method;
mod model;
mod paired;
mod probes;
mod render;
mod stats;
mod usable;

pub use floor::FloorChange;
pub use judging::{
    across_handoff_levels, bandwidth_bound, compare, device_bound, headline_latency_kind, in_doubt,
    in_other_state, no_op, still_slower, waits_on_shared, ACROSS_HANDOFF_LEVELS, OTHER_STATE,
};
pub use method::*;
pub use model::*;
pub use paired::{pair_state, paired_comparison, probe_states, PairedCase};

#[cfg(test)]
pub(crate) mod fixtures;
#[cfg(test)]
mod tests;
