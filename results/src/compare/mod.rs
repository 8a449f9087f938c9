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
//! - `render`: the table and markdown forms.

mod judging;
mod method;
mod model;
mod render;
mod stats;

pub use judging::{compare, headline_latency_kind, waits_on_shared};
pub use method::*;
pub use model::*;

#[cfg(test)]
pub(crate) mod fixtures;
#[cfg(test)]
mod tests;
