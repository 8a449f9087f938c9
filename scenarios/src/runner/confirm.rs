//! A regression found against a baseline is measured again before it fails the run. On a
//! shared VM a spinning stream sometimes runs 2–5× slower for seconds at a time, every fresh
//! pair of a case alike, while the host's other figures and the floor probes hold (the cause is
//! outside the guest: neither run-queue waits nor steal show it). One run cannot tell that
//! state from a slower build; a second measurement of the same cases, moments later, can: a
//! regression of the code is there again, a state of the host has most likely passed.
//!
//! The cases that regressed are run again as they were (fresh pairs, same options), up to
//! `rounds` times, each round taking only the cases still regressed; a case counts only if it
//! regressed in the run and was still slower beyond its threshold in every round that could
//! judge it. The run's interval established the change; a round asks whether it is still there,
//! so its point estimate answers. Asking each round to establish it again multiplied the misses:
//! an injected 20 % slowdown of the posix-shm spin ping-pong that one comparison caught in 8 of
//! 10 runs passed whenever its round's interval reached below the threshold, and a state of the
//! host that passed left rounds whose estimates read −19 to +9.9 % against a 10 % threshold (60
//! recipe pairs on one build), so the point estimate still clears it. A round whose trials ran in
//! another state of the host than the baseline's (a spin case's cache-line probes, see
//! `compare`), in which the host was too busy to leave enough undisturbed trials, or whose
//! handoff ran at another level than the base's (judged then only at the threshold of what the
//! host shares, eight times the case's), cannot judge the case: after a pause of [`OTHER_STATE_PAUSE`] (the slow state
//! lasts seconds) it is measured again, up to [`OTHER_STATE_ROUNDS`] times, and if no round
//! can judge it, the run's verdict stands.
//!
//! A case the run could not judge at all, because its trials ran in another state of the host
//! than the baseline's, is measured again the same way: it counts only when a round made in the
//! baseline's state judges it regressed, and then once more (`rounds` + 1 judging rounds, the
//! first standing in for the run's verdict). Never judged, it is named and not counted. Without
//! this, a 20 % slowdown injected into the posix-shm spin ping-pong passed 2 of 6 runs whose
//! spin/64 case happened to run in the other state. A case the run left in doubt (a figure
//! that counts beyond its threshold, its interval reaching back inside it:
//! [`compare::in_doubt`]) is measured again the same way: a round must establish the change,
//! the next still find it. Each round's result file goes to
//! `DIR/confirmations/`, apart from the runs the report and the trend read.

use super::{run, Request};
use crate::CaseFilter;
use ipcbench_results::compare::{self, CompareOptions, Comparison, Verdict};
use ipcbench_results::RunFile;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Rounds a case may take that could not judge it (their trials ran in another state of the
/// host than the baseline's) before the run's verdict stands. On the development VM the slow
/// state (cache-line handoff ~250 against ~70 ns) comes for about 5–10 s at a time; two rounds
/// back to back, a second apart, both landed in it in 2 of 10 pairs of the README's recipe on
/// one build, and the run's verdict — a false alarm — stood.
pub const OTHER_STATE_ROUNDS: u32 = 6;
/// The pause before a round that follows one in another state: long enough for the slow state
/// to pass, short enough that six of them stay under a minute.
pub const OTHER_STATE_PAUSE: Duration = Duration::from_secs(5);

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
    /// Regressed in the run and in every round that could judge it.
    pub confirmed: Vec<String>,
    /// Of `confirmed`, those no round could judge: each time, the pair's trials ran in another
    /// state of the host than the base's (see [`compare::OTHER_STATE`]), so the run's verdict
    /// stands.
    pub unresolved: Vec<String>,
    /// Regressed in the run, not in a round after it: the host's state.
    pub cleared: Vec<String>,
    /// Not judged in the run (its trials ran in another state of the host than the baseline's,
    /// or a change was left in doubt) nor in any round after it: not counted, and named.
    pub unjudged: Vec<String>,
    /// Not judged in the run, judged in a round after it (regressed or not).
    pub judged_again: Vec<String>,
    /// A round was interrupted (Ctrl-C): nothing is cleared.
    pub interrupted: bool,
}

/// What one round says of a case it measured again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Again {
    /// Regressed again (or failed, or did not run).
    Regressed,
    /// Slower than the base beyond the threshold again, though this round's interval alone does
    /// not clear it: the change the run established is still there.
    StillSlower,
    /// Judged, and not regressed: the run saw the host's state.
    Cleared,
    /// Not judged: its trials ran in another state of the host than the base's, or (a case
    /// the run did not establish) it was left in doubt again.
    OtherState,
}

/// A case under confirmation: what each round said of it, and how many rounds must judge it.
#[derive(Clone, Debug)]
pub struct Tracked {
    pub id: String,
    pub said: Vec<Again>,
    /// Rounds that must judge it: `--confirm` for a case the run found regressed; one more for
    /// a case the run could not judge (its trials ran in another state of the host than the
    /// baseline's), whose first judging round stands in for the run's verdict.
    pub need: u32,
    /// The run itself could not judge it.
    pub unjudged_in_run: bool,
}

impl Tracked {
    fn judged(&self) -> u32 {
        self.said.iter().filter(|a| **a != Again::OtherState).count() as u32
    }
    fn other(&self) -> u32 {
        self.said.iter().filter(|a| **a == Again::OtherState).count() as u32
    }
}

/// The cases to measure in the next round, from what each earlier round said of each case: a
/// case is measured again while every round that judged it found it regressed, until `need`
/// rounds judged it; a round that could not judge it (another state of the host) does not
/// count, and buys it one more round, up to [`OTHER_STATE_ROUNDS`] such rounds.
pub fn due(history: &[Tracked]) -> Vec<String> {
    history
        .iter()
        .filter(|t| {
            !t.said.contains(&Again::Cleared)
                && t.judged() < t.need
                && t.other() < OTHER_STATE_ROUNDS
        })
        .map(|t| t.id.clone())
        .collect()
}

/// What a round says of a tracked case, from its comparison: `regressed` (established again,
/// or failed), `other` (it could not judge the case: another state of the host, a busy host, or
/// the handoff at another level than the base's), `slower` (it moved the worse way beyond its
/// threshold, established or not), `doubt` (slower, its interval reaching back inside the
/// threshold: [`compare::in_doubt`]). A round asks whether a change the run established is
/// still there, so a point estimate beyond the threshold answers yes; a case the run could not
/// settle needs one round that establishes it first, and a round that leaves it in doubt again
/// could not judge it either (one more round, up to [`OTHER_STATE_ROUNDS`]).
pub fn answer(t: &Tracked, regressed: bool, other: bool, slower: bool, doubt: bool) -> Again {
    let established = !t.unjudged_in_run || t.said.contains(&Again::Regressed);
    if regressed {
        Again::Regressed
    } else if other || (doubt && !established) {
        Again::OtherState
    } else if slower && established {
        Again::StillSlower
    } else {
        Again::Cleared
    }
}

/// The cases the comparison could not settle, and did not find regressed: their trials ran
/// in another state of the host than the base's ([`compare::in_other_state`]), or a figure
/// that counts moved beyond its threshold with an interval reaching back inside it
/// ([`compare::in_doubt`]). Measured again like regressed ones, so a run made in the other
/// state, or one whose trials could not resolve a change, still gets a verdict.
pub fn unsettled_ids(c: &Comparison) -> Vec<String> {
    let regressed = regressed_ids(c);
    c.cases
        .iter()
        .filter(|k| compare::in_other_state(k) || compare::in_doubt(c, k))
        .filter(|k| !regressed.contains(&k.id))
        .map(|k| k.id.clone())
        .collect()
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
    let track = |id: &String, unjudged: bool| Tracked {
        id: id.clone(),
        said: if unjudged { vec![Again::OtherState] } else { Vec::new() },
        need: rounds + u32::from(unjudged),
        unjudged_in_run: unjudged,
    };
    let mut history: Vec<Tracked> = regressed.iter().map(|id| track(id, false)).collect();
    history.extend(unsettled_ids(first).iter().map(|id| track(id, true)));
    let mut done = Vec::new();
    let mut interrupted = false;
    for round in 1..=rounds + OTHER_STATE_ROUNDS {
        let ids = due(&history);
        if ids.is_empty() {
            break;
        }
        let waits = history
            .iter()
            .filter(|t| ids.contains(&t.id) && t.said.last() == Some(&Again::OtherState))
            .count();
        if waits > 0 {
            eprintln!(
                "confirming: {waits} case(s) could not be judged (another state of the host \
                 than the baseline's, or a change left in doubt); measuring again in {} s",
                OTHER_STATE_PAUSE.as_secs()
            );
            if !pause(OTHER_STATE_PAUSE) {
                interrupted = true;
                break;
            }
        }
        eprintln!(
            "confirming: measuring {} case(s) again ({}{})",
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
        let again: BTreeSet<String> =
            regressed_ids(&comparison).into_iter().chain(failed).chain(missing).collect();
        let cases_where = |p: &dyn Fn(&compare::CaseComparison) -> bool| -> BTreeSet<&str> {
            comparison.cases.iter().filter(|c| p(c)).map(|c| c.id.as_str()).collect()
        };
        let other =
            cases_where(&|c| compare::in_other_state(c) || compare::across_handoff_levels(c));
        let slower = cases_where(&|c| compare::still_slower(&comparison, c));
        let doubt = cases_where(&|c| compare::in_doubt(&comparison, c));
        for t in history.iter_mut().filter(|t| ids.contains(&t.id)) {
            let id = t.id.as_str();
            let (r, o, s, d) =
                (again.contains(id), other.contains(id), slower.contains(id), doubt.contains(id));
            let said = answer(t, r, o, s, d);
            t.said.push(said);
        }
        let still: Vec<String> = history
            .iter()
            .filter(|t| ids.contains(&t.id))
            .filter(|t| matches!(t.said.last(), Some(Again::Regressed | Again::StillSlower)))
            .map(|t| t.id.clone())
            .collect();
        done.push(Round { ids, run_file: sink.run_file, comparison, still });
        if outcome.interrupted {
            interrupted = true;
            break;
        }
    }
    Ok(conclude(&history, done, interrupted))
}

/// What the rounds' answers add up to (see [`Confirmation`]).
pub fn conclude(history: &[Tracked], rounds: Vec<Round>, interrupted: bool) -> Confirmation {
    let cleared_in = |t: &Tracked| !interrupted && t.said.contains(&Again::Cleared);
    let pick = |f: &dyn Fn(&Tracked) -> bool| -> Vec<String> {
        history.iter().filter(|t| f(t)).map(|t| t.id.clone()).collect()
    };
    // A case the run found regressed counts unless a round cleared it; one the run could not
    // judge counts only if a round judged it, and found it regressed.
    let never_judged = |t: &Tracked| t.said.iter().all(|a| *a == Again::OtherState);
    let confirmed = pick(&|t| !(cleared_in(t) || (t.unjudged_in_run && never_judged(t))));
    let unresolved =
        pick(&|t| !t.unjudged_in_run && !t.said.is_empty() && never_judged(t) && !cleared_in(t));
    let cleared = pick(&|t| cleared_in(t) && !t.unjudged_in_run);
    let unjudged = pick(&|t| t.unjudged_in_run && never_judged(t));
    let judged_again = pick(&|t| t.unjudged_in_run && !never_judged(t));
    Confirmation { rounds, confirmed, unresolved, cleared, unjudged, judged_again, interrupted }
}

/// Sleeps `d`, looking for Ctrl-C every 50 ms; false when the user asked to stop.
fn pause(d: Duration) -> bool {
    let end = Instant::now() + d;
    while Instant::now() < end {
        if ipcbench_harness::os::watch::interrupted() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50).min(end - Instant::now()));
    }
    !ipcbench_harness::os::watch::interrupted()
}

impl Confirmation {
    /// What the rounds concluded, for the terminal: each round's table of the cases it
    /// measured again, then one line per outcome.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (k, r) in self.rounds.iter().enumerate() {
            out.push_str(&format!(
                "\nconfirmation round {} of {} case(s) ({}):\n",
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
        let judged: Vec<&str> = self
            .confirmed
            .iter()
            .filter(|id| !self.unresolved.contains(id) && !self.judged_again.contains(id))
            .map(String::as_str)
            .collect();
        if !judged.is_empty() {
            out.push_str(&format!(
                "confirmed: {} case(s) regressed in the run and were still slower beyond their \
                 threshold in every confirmation round that could judge them: {}\n",
                judged.len(),
                judged.join(", ")
            ));
        }
        let (caught, passed): (Vec<&str>, Vec<&str>) = self
            .judged_again
            .iter()
            .map(String::as_str)
            .partition(|id| self.confirmed.iter().any(|c| c == id));
        if !caught.is_empty() {
            out.push_str(&format!(
                "confirmed: {} case(s) the run could not judge (another state of the host, or a \
                 change its interval left in doubt) regressed in every round that could judge \
                 them: {}\n",
                caught.len(),
                caught.join(", ")
            ));
        }
        if !passed.is_empty() {
            out.push_str(&format!(
                "judged again: {} case(s) the run could not judge (another state of the host, or \
                 a change its interval left in doubt) did not regress when measured again: {}\n",
                passed.len(),
                passed.join(", ")
            ));
        }
        if !self.unjudged.is_empty() {
            out.push_str(&format!(
                "not judged: {} case(s) ran in another state of the host than the baseline's, or \
                 stayed in doubt, in the run and in every round ({}); not counted: `ab` pairs the \
                 runs\n",
                self.unjudged.len(),
                self.unjudged.join(", ")
            ));
        }
        if !self.unresolved.is_empty() {
            out.push_str(&format!(
                "confirmed: {} case(s) regressed in the run and could not be measured again in \
                 the baseline's state of the host (their trials ran in another state in every \
                 round), so the run's verdict stands: {}\n",
                self.unresolved.len(),
                self.unresolved.join(", ")
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Again::*;

    fn due_after(said: &[Again], rounds: u32) -> bool {
        let t =
            Tracked { id: "x".into(), said: said.to_vec(), need: rounds, unjudged_in_run: false };
        !due(&[t]).is_empty()
    }

    #[test]
    fn a_round_in_another_state_buys_one_more_round_once() {
        // One round asked for: measured once, then done whatever it said.
        assert!(due_after(&[], 1));
        assert!(!due_after(&[Regressed], 1));
        assert!(!due_after(&[Cleared], 1));
        // A round that could not judge does not count: once more…
        assert!(due_after(&[OtherState], 1));
        assert!(!due_after(&[OtherState, Regressed], 1));
        assert!(!due_after(&[OtherState, Cleared], 1));
        // …and again, up to OTHER_STATE_ROUNDS rounds that could not judge.
        let other = vec![OtherState; OTHER_STATE_ROUNDS as usize];
        assert!(due_after(&other[1..], 1));
        assert!(!due_after(&other, 1));
        // Two rounds asked for: cleared stops at once, regressed goes on.
        assert!(due_after(&[Regressed], 2));
        assert!(!due_after(&[Regressed, Cleared], 2));
        assert!(due_after(&[Regressed, OtherState], 2));
        assert!(!due_after(&[Regressed, OtherState, Regressed], 2));
        assert!(!due_after(&[Regressed, OtherState, Cleared], 2));
    }

    /// A case the run could not judge counts only once a round judged it regressed; never
    /// judged, it is named and not counted, where a case the run found regressed stands.
    #[test]
    fn a_case_the_run_could_not_judge_counts_only_when_a_round_judges_it_regressed() {
        let t = |id: &str, said: &[Again], unjudged_in_run| Tracked {
            id: id.into(),
            said: said.to_vec(),
            need: 1 + u32::from(unjudged_in_run),
            unjudged_in_run,
        };
        let history = [
            t("run-regressed-then-other", &[OtherState, OtherState], false),
            t("run-regressed-then-cleared", &[Cleared], false),
            t("unjudged-then-regressed", &[OtherState, Regressed, Regressed], true),
            t("unjudged-then-cleared", &[OtherState, Cleared], true),
            t("unjudged-always", &[OtherState; 6], true),
        ];
        let c = conclude(&history, Vec::new(), false);
        assert_eq!(c.confirmed, ["run-regressed-then-other", "unjudged-then-regressed"]);
        assert_eq!(c.unresolved, ["run-regressed-then-other"]);
        assert_eq!(c.cleared, ["run-regressed-then-cleared"]);
        assert_eq!(c.unjudged, ["unjudged-always"]);
        assert_eq!(c.judged_again, ["unjudged-then-regressed", "unjudged-then-cleared"]);
        let said = c.render();
        assert!(
            said.contains(
                "regressed in every round that could judge them: unjudged-then-regressed\n"
            ),
            "{said}"
        );
        assert!(
            said.contains("did not regress when measured again: unjudged-then-cleared\n"),
            "{said}"
        );
        assert!(said.contains("could not be measured again in the baseline's state of the host (their trials ran in another state in every round), so the run's verdict stands: run-regressed-then-other\n"), "{said}");
        // A case the run could not judge needs one judging round more than --confirm asks.
        let once = t("u", &[OtherState, Regressed], true);
        assert_eq!(due(std::slice::from_ref(&once)), ["u"]);
        assert!(due(&[Tracked { said: vec![OtherState, Regressed, Regressed], ..once }]).is_empty());
    }

    /// A round confirms a change the run established when it is still beyond the threshold,
    /// established again or not; a case the run could not judge needs one round that
    /// establishes it before a point estimate may confirm it.
    #[test]
    fn a_round_confirms_what_the_run_established_when_it_is_still_there() {
        let t = |said: &[Again], unjudged_in_run| Tracked {
            id: "x".into(),
            said: said.to_vec(),
            need: 1 + u32::from(unjudged_in_run),
            unjudged_in_run,
        };
        // (regressed, other, slower, doubt)
        let run_regressed = t(&[], false);
        assert_eq!(answer(&run_regressed, true, false, true, false), Regressed);
        assert_eq!(answer(&run_regressed, false, false, true, false), StillSlower);
        assert_eq!(answer(&run_regressed, false, false, true, true), StillSlower);
        assert_eq!(answer(&run_regressed, false, false, false, false), Cleared);
        assert_eq!(answer(&run_regressed, false, true, true, false), OtherState);
        let unjudged = t(&[OtherState], true);
        assert_eq!(answer(&unjudged, false, false, true, false), Cleared);
        assert_eq!(answer(&unjudged, true, false, true, false), Regressed);
        // In doubt again: not settled, one more round.
        assert_eq!(answer(&unjudged, false, false, true, true), OtherState);
        let established = t(&[OtherState, Regressed], true);
        assert_eq!(answer(&established, false, false, true, false), StillSlower);
        assert_eq!(answer(&established, false, false, true, true), StillSlower);
        // Still slower in every round: confirmed, and a judging round like a regressed one.
        let history = [
            t(&[StillSlower], false),
            t(&[OtherState, Regressed, StillSlower], true),
            t(&[StillSlower, Cleared], false),
        ];
        assert!(!due_after(&[StillSlower], 1) && due_after(&[StillSlower], 2));
        let mut ids = history.to_vec();
        for (k, h) in ids.iter_mut().enumerate() {
            h.id = format!("c{k}");
        }
        let c = conclude(&ids, Vec::new(), false);
        assert_eq!(c.confirmed, ["c0", "c1"]);
        assert_eq!(c.cleared, ["c2"]);
    }
}
