//! A regression found against a baseline is measured again before it fails the run. On a
//! shared VM a spinning stream sometimes runs 2–5× slower for seconds at a time, every fresh
//! pair of a case alike, while the host's other figures and the floor probes hold (the cause is
//! outside the guest: neither run-queue waits nor steal show it). One run cannot tell that
//! state from a slower build; a second measurement of the same cases, moments later, can: a
//! regression of the code is there again, a state of the host has most likely passed.
//!
//! The cases that regressed are run again as they were (fresh pairs, same options), up to
//! `rounds` times, each round taking only the cases still regressed; a case counts only if it
//! regressed in the run and in every round. Each round's result file goes to
//! `DIR/confirmations/`, apart from the runs the report and the trend read.

use super::{run, Request};
use crate::CaseFilter;
use ipcbench_results::compare::{self, CompareOptions, Comparison, Verdict};
use ipcbench_results::RunFile;
use std::collections::BTreeSet;
use std::path::PathBuf;

/// One round of re-measurement.
pub struct Round {
    /// The cases measured again.
    pub ids: Vec<String>,
    /// Its result file.
    pub run_file: PathBuf,
    /// The baseline's cases against this round's.
    pub comparison: Comparison,
    /// The cases that regressed again (or failed).
    pub still: Vec<String>,
}

/// What the rounds concluded.
pub struct Confirmation {
    pub rounds: Vec<Round>,
    /// Regressed in the run and in every round.
    pub confirmed: Vec<String>,
    /// Regressed in the run, not in a round after it: the host's state.
    pub cleared: Vec<String>,
    /// A round was interrupted (Ctrl-C): nothing is cleared.
    pub interrupted: bool,
}

/// The cases with a figure that regressed and counts.
pub fn regressed_ids(c: &Comparison) -> Vec<String> {
    c.cases
        .iter()
        .filter(|k| k.figures.iter().any(|f| f.gates && f.verdict == Verdict::Regressed))
        .map(|k| k.id.clone())
        .collect()
}

/// Measures the cases `first` found regressed again, up to `rounds` times (see the module).
/// `template` is the request the run was made with.
pub fn confirm(
    template: &Request,
    base: &RunFile,
    of: &RunFile,
    first: &Comparison,
    rounds: u32,
    opts: &CompareOptions,
) -> anyhow::Result<Confirmation> {
    let regressed = regressed_ids(first);
    let mut ids = regressed.clone();
    let mut done = Vec::new();
    let mut interrupted = false;
    for round in 1..=rounds {
        if ids.is_empty() {
            break;
        }
        eprintln!(
            "confirming: measuring the {} regressed case(s) again ({}{})",
            ids.len(),
            ids.iter().take(3).cloned().collect::<Vec<_>>().join(", "),
            if ids.len() > 3 { ", …" } else { "" }
        );
        let mut req = template.clone();
        req.filter = Some(CaseFilter::Ids(ids.iter().cloned().collect()));
        req.confirms = Some((of.run.id.clone(), round));
        let (outcome, sink) = run(req)?;
        let mut subset = base.clone();
        subset.cases.retain(|c| ids.contains(&c.id));
        let comparison = compare::compare(&subset, &outcome.run, opts);
        let failed = outcome.run.cases.iter().filter(|c| c.error.is_some()).map(|c| c.id.clone());
        let missing = ids.iter().filter(|id| outcome.run.case(id).is_none()).cloned();
        let still: BTreeSet<String> =
            regressed_ids(&comparison).into_iter().chain(failed).chain(missing).collect();
        let still: Vec<String> = ids.iter().filter(|id| still.contains(*id)).cloned().collect();
        done.push(Round {
            ids: ids.clone(),
            run_file: sink.run_file,
            comparison,
            still: still.clone(),
        });
        if outcome.interrupted {
            interrupted = true;
            break;
        }
        ids = still;
    }
    let (confirmed, cleared) = if interrupted {
        (regressed, Vec::new())
    } else {
        regressed.into_iter().partition(|id| ids.contains(id))
    };
    Ok(Confirmation { rounds: done, confirmed, cleared, interrupted })
}

impl Confirmation {
    /// What the rounds concluded, for the terminal: each round's table of the cases it
    /// measured again, then one line per outcome.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (k, r) in self.rounds.iter().enumerate() {
            out.push_str(&format!(
                "\nconfirmation round {} of the {} regressed case(s) ({}):\n",
                k + 1,
                r.ids.len(),
                r.run_file.display()
            ));
            out.push_str(&r.comparison.only_changed().render(compare::Format::Table));
        }
        if !self.cleared.is_empty() {
            out.push_str(&format!(
                "not confirmed: {} case(s) regressed in the run but not when measured again \
                 ({}): the host was in another state while they ran; not counted\n",
                self.cleared.len(),
                self.cleared.join(", ")
            ));
        }
        if !self.confirmed.is_empty() {
            out.push_str(&format!(
                "confirmed: {} case(s) regressed in the run and again in every confirmation \
                 round: {}\n",
                self.confirmed.len(),
                self.confirmed.join(", ")
            ));
        }
        out
    }
}
