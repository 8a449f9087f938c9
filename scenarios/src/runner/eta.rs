//! How long the rest of the plan will take: each case's expected time (from its budget, when the
//! scenario states one), scaled by how the finished cases compared with theirs; cases without
//! a stated budget take the mean of their scenario's finished cases, else of all finished ones.

use std::time::Duration;

/// What a case is guessed to take when nothing is known yet: most cases are a second or less.
const PRIOR_S: f64 = 1.0;

pub struct Eta {
    /// Per case in plan order: its scenario and its expected time, if the scenario states one.
    plan: Vec<(String, Option<f64>)>,
    /// Seconds each finished case took, in plan order.
    actual: Vec<f64>,
}

impl Eta {
    pub fn new(plan: impl IntoIterator<Item = (String, Option<Duration>)>) -> Eta {
        Eta {
            plan: plan.into_iter().map(|(s, d)| (s, d.map(|d| d.as_secs_f64()))).collect(),
            actual: Vec::new(),
        }
    }

    /// The next case in plan order finished after `seconds`.
    pub fn finished(&mut self, seconds: f64) {
        if self.actual.len() < self.plan.len() {
            self.actual.push(seconds);
        }
    }

    pub fn done(&self) -> usize {
        self.actual.len()
    }

    /// Finished cases per second of measuring.
    pub fn rate(&self) -> Option<f64> {
        let spent: f64 = self.actual.iter().sum();
        (spent > 0.0).then(|| self.actual.len() as f64 / spent)
    }

    /// Expected seconds for case `i` given what has finished.
    fn estimate(&self, i: usize) -> f64 {
        let (scenario, expected) = &self.plan[i];
        let done = self.actual.iter().zip(&self.plan);
        if let Some(e) = expected {
            let (spent, planned) = done
                .filter_map(|(a, (_, e))| e.map(|e| (*a, e)))
                .fold((0.0, 0.0), |(s, p), (a, e)| (s + a, p + e));
            return if planned > 0.0 { e * spent / planned } else { *e };
        }
        let mean = |v: Vec<f64>| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
        mean(done.clone().filter(|(_, (s, _))| s == scenario).map(|(a, _)| *a).collect())
            .or_else(|| mean(self.actual.clone()))
            .unwrap_or(PRIOR_S)
    }

    /// Seconds left: the running case (already `running` seconds in, never below zero) and every
    /// case after it.
    pub fn remaining(&self, running: f64) -> f64 {
        let next = self.done();
        if next >= self.plan.len() {
            return 0.0;
        }
        let current = (self.estimate(next) - running).max(0.0);
        current + (next + 1..self.plan.len()).map(|i| self.estimate(i)).sum::<f64>()
    }
}

/// `1h02m`, `3m05s`, `42s`: an estimate does not need more.
pub fn clock(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(items: &[(&str, Option<f64>)]) -> Eta {
        Eta::new(items.iter().map(|(s, e)| (s.to_string(), e.map(Duration::from_secs_f64))))
    }

    #[test]
    fn before_anything_finishes_the_plan_is_believed() {
        let eta = plan(&[("a", Some(2.0)), ("a", Some(3.0)), ("b", None)]);
        assert_eq!(eta.remaining(0.0), 2.0 + 3.0 + PRIOR_S);
        assert_eq!(eta.remaining(0.5), 1.5 + 3.0 + PRIOR_S);
        // A case running over its estimate does not make the rest negative.
        assert_eq!(eta.remaining(10.0), 3.0 + PRIOR_S);
        assert_eq!(eta.rate(), None);
    }

    #[test]
    fn finished_cases_scale_the_plan_and_teach_unbudgeted_scenarios() {
        let mut eta = plan(&[("a", Some(1.0)), ("b", None), ("a", Some(1.0)), ("b", None)]);
        eta.finished(2.0); // twice as slow as planned
        assert_eq!(eta.remaining(0.0), 2.0 + 2.0 + 2.0); // b: no b yet, the mean of all (2 s)
        eta.finished(0.5);
        assert_eq!(eta.remaining(0.0), 2.0 + 0.5);
        eta.finished(4.0);
        eta.finished(1.0);
        assert_eq!(eta.remaining(0.0), 0.0);
        assert_eq!(eta.rate(), Some(4.0 / 7.5));
    }

    #[test]
    fn clock_reads_at_a_glance() {
        assert_eq!(clock(0.4), "0s");
        assert_eq!(clock(42.0), "42s");
        assert_eq!(clock(185.0), "3m05s");
        assert_eq!(clock(3720.0), "1h02m");
    }
}
