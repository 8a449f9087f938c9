//! A trial the host disturbed is run again. A process that takes one of the pair's CPUs
//! halfway through a trial slows it without touching the floor probe measured right before it
//! ([`ipcbench_harness::os::cpu_wait`]), so such a trial describes the host, not the case.
//! The pair reports how long its processes waited for a CPU; a trial above
//! [`DISTURBED_SHARE`] of its time is run again, at most [`PER_TRIAL`] times and at most once
//! per trial of the case over all, and the least disturbed attempt is kept. What is chosen is
//! the host's state, never the figure, so the choice does not favour a fast or slow result.

use anyhow::Result;
use ipcbench_results::probe::{Probe, DISTURBED_SHARE};
use ipcbench_results::CaseResult;

/// Reruns of one trial at most.
pub const PER_TRIAL: u32 = 2;

/// The reruns a case has left and has made.
pub struct Reruns {
    left: u32,
    made: u32,
}

impl Reruns {
    /// A case of `trials` trials may run as many again.
    pub fn for_trials(trials: usize) -> Reruns {
        Reruns { left: trials as u32, made: 0 }
    }

    /// Runs `trial` and again while its probe says the host disturbed it and reruns are left;
    /// returns the least disturbed attempt.
    pub fn run<T, V>(
        &mut self,
        mut trial: impl FnMut() -> Result<(T, V, Option<Probe>)>,
    ) -> Result<(T, V, Option<Probe>)> {
        let share = |t: &(T, V, Option<Probe>)| t.2.as_ref().and_then(|p| p.cpu_wait);
        let mut kept = trial()?;
        for _ in 0..PER_TRIAL {
            if self.left == 0 || !share(&kept).is_some_and(|s| s > DISTURBED_SHARE) {
                break;
            }
            self.left -= 1;
            self.made += 1;
            let again = trial()?;
            if share(&again) < share(&kept) {
                kept = again;
            }
        }
        Ok(kept)
    }

    /// Records the reruns made in the case: `figures.reruns` and a note.
    pub fn record(&self, c: &mut CaseResult) {
        if self.made == 0 {
            return;
        }
        c.figures.insert("reruns".into(), self.made as f64);
        c.notes.push(format!(
            "{} trial runs were repeated: their processes waited for a CPU for more than {:.0} % \
             of the time (the host was busy); the least disturbed run of each was kept",
            self.made,
            DISTURBED_SHARE * 100.0
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(share: f64) -> Result<(f64, (), Option<Probe>)> {
        Ok((share, (), Some(Probe { cpu_wait: Some(share), ..Default::default() })))
    }

    #[test]
    fn a_disturbed_trial_is_run_again_and_the_least_disturbed_kept() {
        let mut r = Reruns::for_trials(3);
        let mut shares = [0.4, 0.3, 0.2].into_iter();
        let (kept, _, _) = r.run(|| attempt(shares.next().unwrap())).unwrap();
        assert_eq!((kept, r.made), (0.2, 2), "two reruns at most, the quietest kept");
        let mut shares = [0.3, 0.01, 0.5].into_iter();
        let (kept, _, _) = r.run(|| attempt(shares.next().unwrap())).unwrap();
        assert_eq!((kept, r.made, r.left), (0.01, 3, 0), "stops once quiet");
        // The case's budget is spent: a disturbed trial is kept as it is.
        let (kept, _, _) = r.run(|| attempt(0.9)).unwrap();
        assert_eq!((kept, r.made), (0.9, 3));
        let mut c = CaseResult::new("x", "pingpong");
        r.record(&mut c);
        assert_eq!(c.figures["reruns"], 3.0);
        assert!(c.notes[0].contains("5 %"), "{}", c.notes[0]);
    }

    #[test]
    fn a_quiet_or_unmeasured_trial_runs_once() {
        let mut r = Reruns::for_trials(2);
        let (kept, _, _) = r.run(|| attempt(DISTURBED_SHARE)).unwrap();
        assert_eq!((kept, r.made), (DISTURBED_SHARE, 0));
        let mut calls = 0;
        r.run(|| {
            calls += 1;
            Ok(((), (), None::<Probe>))
        })
        .unwrap();
        assert_eq!((calls, r.made), (1, 0));
        let mut c = CaseResult::new("x", "pingpong");
        r.record(&mut c);
        assert!(c.figures.is_empty() && c.notes.is_empty());
    }
}
