//! The A/B mode's verdicts (`ipcbench ab OLD NEW`): the two builds ran their trials
//! interleaved on one host — old, new, new, old, … — so each pair of invocations saw the same
//! state of the host, and the ratio new/old of a pair cancels it. A figure's change is the
//! median of the pairs' log-ratios, its interval the sign test's (see [`stats::paired_ratio_change_at`]),
//! as tango-bench judges paired runs.

use super::method::{AB_MIN_PAIRS, COMPARE_SCHEMA, CONFIDENCE, STATE_GAP};
use super::model::*;
use super::stats;
use crate::{CaseResult, Spread};

/// One figure of one case over the pairs: `[old, new]` per pair, in the order they ran.
#[derive(Clone, Debug, PartialEq)]
pub struct PairedFigure {
    pub key: String,
    pub name: String,
    pub unit: &'static str,
    pub better: Better,
    pub pairs: Vec<[f64; 2]>,
}

/// One case of an A/B run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PairedCase {
    pub id: String,
    pub figures: Vec<PairedFigure>,
    /// Why the case failed on either side (then it is not judged).
    pub failed: Option<String>,
    /// Why the case is a no-op that is never counted ([`super::no_op`]).
    pub no_op: Option<String>,
    /// Pairs left out because their two invocations ran in different states of the host
    /// ([`pair_state`]), with the first one's probes for the note.
    pub left_out: usize,
    pub left_out_example: Option<String>,
    /// The pairs it had when its first look left a figure in doubt ([`PairedCase::in_doubt`]):
    /// `ab` then measured it up to three times the pairs asked.
    pub doubt_at: Option<usize>,
}

impl PairedCase {
    /// The pairs measured so far (its figures' most; a figure missing on a side has fewer).
    pub fn pairs(&self) -> usize {
        self.figures.iter().map(|f| f.pairs.len()).max().unwrap_or(0)
    }

    /// Whether the pairs so far leave a figure that gates in doubt: the median pair moved
    /// beyond the threshold, but the sign test's interval still reaches across no change. On
    /// the development VM a 64 B pipe ping-pong with a +20 % slowdown injected gave 10 pairs
    /// whose interval crossed no change in 3 of 10 windows, and 20 pairs none; one build on
    /// both sides never counted at 20. `ab` looks a second time once, with an interval that
    /// spends only what the first look left of the tail ([`stats::second_look_tail`]): a
    /// same-build figure counts no more often than with one look (1.07 % + 0.81 % at 30 pairs
    /// ≤ 2.5 % each way). Fewer pairs than an interval needs are never in doubt: nothing counts from them
    /// anyway.
    pub fn in_doubt(&self, threshold_pct: f64) -> bool {
        self.no_op.is_none()
            && self.figures.iter().any(|f| {
                let j = paired_figure(f, threshold_pct, None, None);
                j.verdict == Verdict::Noise && j.ci_pct.is_some()
            })
    }

    /// Adds one pair's figures, matched by key; a figure missing on a side is left out.
    pub fn add_pair(&mut self, old: &CaseResult, new: &CaseResult) {
        for (key, name, unit, better, o) in headline_figures(old) {
            let Some(n) = headline_figures(new).into_iter().find(|f| f.0 == key).map(|f| f.4)
            else {
                continue;
            };
            match self.figures.iter_mut().find(|f| f.key == key) {
                Some(f) => f.pairs.push([o, n]),
                None => {
                    self.figures.push(PairedFigure { key, name, unit, better, pairs: vec![[o, n]] })
                }
            }
        }
    }
}

/// Whether a pair's two invocations of a case ran in one state of the host: for a latency case
/// whose trials stored floor probes (a cache-line handoff for spin, a minimal wake-up for futex
/// and blocking waits), the median probes of the two invocations' undisturbed trials within
/// [`STATE_GAP`] of each other. `Err` says what they read. On the development VM the handoff
/// flips between ~60 and ~240 ns for seconds at a time: an invocation in each state gave a pair
/// ratio of ×0.38 or ×3.0, and two such pairs of ten put the sign test's interval across no
/// change while the other eight read +10 to +16 % (an injected slowdown). The pipe wake-up
/// moved 9× within a run likewise, and a 64 B pipe ping-pong's pairs read ×0.26 to ×5.9.
/// Cases without such probes always pair.
pub fn pair_state(old: &CaseResult, new: &CaseResult) -> Result<(), String> {
    match probe_states(old, new) {
        Some((kind, o, n)) => Err(format!(
            "{kind} probes {} (old) and {} (new)",
            crate::units::ns(o),
            crate::units::ns(n)
        )),
        None => Ok(()),
    }
}

/// The floor probes' kind and the two sides' medians (ns) when they show two states of the
/// host (more than [`STATE_GAP`] apart), for a latency case whose trials stored latency probes
/// of one kind on both sides; `None` otherwise. The median is over the trials the host did not
/// disturb while any is left.
pub fn probe_states(a: &CaseResult, b: &CaseResult) -> Option<(String, f64, f64)> {
    let state = |c: &CaseResult| -> Option<(String, f64)> {
        super::headline_latency_kind(c)?;
        let kind = c.probes.iter().find(|p| p.p50_ns.is_some())?.kind.clone();
        let of_kind = |quiet: bool| -> Vec<f64> {
            c.probes
                .iter()
                .filter(|p| p.kind == kind && (!quiet || !p.disturbed()))
                .filter_map(|p| p.p50_ns.map(|v| v as f64))
                .filter(|v| *v > 0.0)
                .collect()
        };
        let v = Some(of_kind(true)).filter(|v| !v.is_empty()).unwrap_or_else(|| of_kind(false));
        (!v.is_empty()).then(|| (kind, Spread::of(&v).median))
    };
    match (state(a), state(b)) {
        (Some((kind, x)), Some((k, y))) if kind == k && x.max(y) > STATE_GAP * x.min(y) => {
            Some((kind, x, y))
        }
        _ => None,
    }
}

/// The figures a pair is judged on, from one invocation's case: the p50 of its headline
/// latency (the median of its trials' p50s when it has trials — each trial a fresh pair of
/// processes — else the pooled p50) and its median throughput. Trials the host disturbed
/// ([`super::probes::disturbed`]) are left out while any other is left.
pub fn headline_figures(c: &CaseResult) -> Vec<(String, String, &'static str, Better, f64)> {
    let quiet = |values: Vec<f64>| {
        let (kept, _) = super::probes::undisturbed(c, values.clone());
        if kept.iter().any(|v| *v > 0.0) {
            kept
        } else {
            values
        }
    };
    let mut out = Vec::new();
    if let Some(kind) = super::headline_latency_kind(c) {
        let trials: Vec<f64> = quiet(
            c.latency_trials_ns.get(kind).into_iter().flatten().map(|s| s.p50 as f64).collect(),
        )
        .into_iter()
        .filter(|v| *v > 0.0)
        .collect();
        let v = if trials.is_empty() {
            c.latency_ns[kind].p50 as f64
        } else {
            Spread::of(&trials).median
        };
        if v > 0.0 {
            let name = format!("p50 {}", kind.replace('_', "-"));
            out.push((format!("latency_ns.{kind}.p50"), name, "ns", Better::Lower, v));
        }
    }
    if let Some(t) = c.throughput.as_ref().filter(|t| t.bytes_per_s.median > 0.0) {
        let rates: Vec<f64> = t
            .trials
            .iter()
            .map(|t| if t.seconds > 0.0 { t.bytes as f64 / t.seconds } else { 0.0 })
            .collect();
        let rates: Vec<f64> = quiet(rates).into_iter().filter(|v| *v > 0.0).collect();
        let median =
            if rates.is_empty() { t.bytes_per_s.median } else { Spread::of(&rates).median };
        let key = "throughput.bytes_per_s.median".to_string();
        out.push((key, "median throughput".into(), "bytes/s", Better::Higher, median));
    }
    out
}

/// The rule of the A/B mode: a change counts when the median pair moved beyond the threshold
/// and the whole interval lies on that side of no change. The pairs cancel the host's drift,
/// so the interval need not clear the threshold as well (as it must between two runs made
/// apart); fewer than [`AB_MIN_PAIRS`] pairs give no interval, and then nothing counts.
pub fn judge_paired(
    change_pct: f64,
    ci_pct: Option<[f64; 2]>,
    threshold_pct: f64,
    better: Better,
) -> Verdict {
    if change_pct.abs() <= threshold_pct {
        return Verdict::NoChange;
    }
    let up = change_pct > 0.0;
    let established = match ci_pct {
        Some([lo, hi]) => (up && lo > 0.0) || (!up && hi < 0.0),
        None => false,
    };
    match (established, up == (better == Better::Lower)) {
        (false, _) => Verdict::Noise,
        (true, true) => Verdict::Regressed,
        (true, false) => Verdict::Improved,
    }
}

/// One figure judged over its pairs. `doubt_at`: the pairs its case had when a first look
/// found it in doubt ([`PairedCase::in_doubt`]); the interval is then the second look's, which
/// spends only what the first left of the tail ([`stats::second_look_tail`]).
fn paired_figure(
    f: &PairedFigure,
    threshold_pct: f64,
    no_op: Option<&str>,
    doubt_at: Option<usize>,
) -> FigureComparison {
    let ratios: Vec<f64> =
        f.pairs.iter().filter(|[o, n]| *o > 0.0 && *n > 0.0).map(|[o, n]| n / o).collect();
    let median = |i: usize| Spread::of(&f.pairs.iter().map(|p| p[i]).collect::<Vec<_>>()).median;
    let tail = doubt_at.and_then(stats::second_look_tail).unwrap_or((1.0 - CONFIDENCE) / 2.0);
    let est = stats::paired_ratio_change_at(&ratios, tail);
    let (change_pct, ci_pct, mut note) = match est {
        Some(e) => (e.change_pct, Some(e.ci_pct), None),
        None => {
            let med = Spread::of(&ratios.iter().map(|r| r.ln()).collect::<Vec<_>>()).median;
            let note = format!(
                "{} pairs: too few for a {:.0} % interval (at least {AB_MIN_PAIRS}), so it does not count",
                ratios.len(),
                CONFIDENCE * 100.0
            );
            ((med.exp() - 1.0) * 100.0, None, Some(note))
        }
    };
    let mut verdict = judge_paired(change_pct, ci_pct, threshold_pct, f.better);
    let mut gates = true;
    if let Some(why) = no_op {
        gates = false;
        if verdict != Verdict::NoChange {
            verdict = Verdict::Noise;
        }
        note = Some(why.to_string());
    }
    FigureComparison {
        key: f.key.clone(),
        name: f.name.clone(),
        unit: f.unit.to_string(),
        better: f.better,
        base: median(0),
        new: median(1),
        change_pct,
        ci_pct,
        threshold_pct,
        basis: Basis::Paired,
        verdict,
        note,
        gates,
        pair_ratios: ratios,
    }
}

/// The comparison an A/B run yields; rendered and gated like [`super::compare`]'s.
pub fn paired_comparison(
    (old, new): (RunRef, RunRef),
    cases: &[PairedCase],
    threshold_pct: f64,
    pairs: usize,
    unusable: Vec<String>,
    warnings: Vec<String>,
) -> Comparison {
    let mut out = Vec::new();
    let mut summary = Tally::default();
    for c in cases {
        let mut k = CaseComparison {
            id: c.id.clone(),
            status: CaseStatus::Compared,
            figures: Vec::new(),
            detail: None,
            notes: Vec::new(),
        };
        if let Some(why) = &c.failed {
            k.status = CaseStatus::Failed;
            k.detail = Some(why.clone());
            summary.failed += 1;
        } else {
            summary.cases_compared += 1;
            k.figures = c
                .figures
                .iter()
                .map(|f| paired_figure(f, threshold_pct, c.no_op.as_deref(), c.doubt_at))
                .collect();
            if c.left_out > 0 {
                k.notes.push(format!(
                    "{} pair(s) left out and measured again: their two invocations ran in \
                     different states of the host (e.g. {})",
                    c.left_out,
                    c.left_out_example.as_deref().unwrap_or("-")
                ));
            }
            if let Some(n) = c.doubt_at {
                k.notes.push(format!(
                    "in doubt after {n} pairs (the median pair beyond the threshold, the \
                     interval across no change): judged on {} pairs, the interval wider so \
                     that both looks together call a change no more often than one",
                    c.pairs()
                ));
            }
        }
        for f in &k.figures {
            match f.verdict {
                Verdict::Regressed => summary.regressed += 1,
                Verdict::Improved => summary.improved += 1,
                Verdict::NoChange => summary.no_change += 1,
                Verdict::Noise => summary.noise += 1,
            }
        }
        out.push(k);
    }
    Comparison {
        schema: COMPARE_SCHEMA.to_string(),
        threshold_pct,
        p99_threshold_pct: threshold_pct,
        shared_threshold_pct: threshold_pct,
        gate_p99: false,
        confidence: CONFIDENCE,
        base: old,
        new,
        warnings,
        summary,
        cases: out,
        floor: None,
        unusable,
        paired: Some(pairs),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figure(ratios: &[f64]) -> PairedFigure {
        PairedFigure {
            key: "latency_ns.one_way.p50".into(),
            name: "p50 one-way".into(),
            unit: "ns",
            better: Better::Lower,
            pairs: ratios.iter().map(|r| [100.0, 100.0 * r]).collect(),
        }
    }

    #[test]
    fn pairs_that_all_moved_are_a_regression_and_mixed_ones_are_not() {
        let slower = figure(&[1.11, 1.09, 1.12, 1.10, 1.08, 1.13, 1.10, 1.09, 1.11, 1.10]);
        let f = paired_figure(&slower, 5.0, None, None);
        assert_eq!((f.basis, f.verdict), (Basis::Paired, Verdict::Regressed), "{f:?}");
        assert_eq!(f.pair_ratios.len(), 10);
        let [lo, hi] = f.ci_pct.unwrap();
        assert!(lo <= f.change_pct && f.change_pct <= hi, "{f:?}");
        let mixed = figure(&[1.11, 0.92, 1.12, 0.95, 1.08, 0.9, 1.10, 0.99, 1.11, 0.97]);
        assert_ne!(paired_figure(&mixed, 5.0, None, None).verdict, Verdict::Regressed);
        // Too few pairs for an interval: reported, never counted.
        let few = paired_figure(&figure(&[1.5, 1.6]), 5.0, None, None);
        assert_eq!((few.verdict, few.ci_pct), (Verdict::Noise, None), "{few:?}");
        // A no-op never counts.
        let noop = paired_figure(&slower, 5.0, Some("a no-op"), None);
        assert_eq!((noop.verdict, noop.gates), (Verdict::Noise, false));
    }

    #[test]
    fn a_case_is_in_doubt_only_while_its_interval_crosses_no_change_beyond_the_threshold() {
        let case = |ratios: &[f64]| PairedCase {
            id: "x".into(),
            figures: vec![figure(ratios)],
            ..Default::default()
        };
        // Eight pairs +20 % and two across no change: the median moved, the interval did not.
        let doubtful = case(&[1.2, 0.7, 1.2, 1.2, 1.2, 0.8, 1.2, 1.2, 1.2, 1.2]);
        assert_eq!(paired_figure(&doubtful.figures[0], 5.0, None, None).verdict, Verdict::Noise);
        assert!(doubtful.in_doubt(5.0));
        // Established either way, or within the threshold: nothing to look at again.
        assert!(!case(&[1.2; 10]).in_doubt(5.0));
        assert!(!case(&[0.8; 10]).in_doubt(5.0));
        assert!(!case(&[1.01, 0.7, 1.02, 0.99, 1.3, 1.0, 0.98, 1.01, 1.0, 1.02]).in_doubt(5.0));
        // Too few pairs for any interval, or a no-op: never in doubt.
        assert!(!case(&[1.2, 0.7, 1.2]).in_doubt(5.0));
        let no_op = PairedCase { no_op: Some("a no-op".into()), ..doubtful.clone() };
        assert!(!no_op.in_doubt(5.0));
        // Ten more pairs at +20 % settle it: the second look counts it.
        let mut more = doubtful.clone();
        more.figures[0].pairs.extend(std::iter::repeat_n([100.0, 120.0], 10));
        let second = paired_figure(&more.figures[0], 5.0, None, Some(10));
        assert_eq!(second.verdict, Verdict::Regressed, "{second:?}");
        // The second look's interval is the wider one: the 5th to the 16th of 20, where one
        // look would take the 6th to the 15th. Five pairs below no change pass one look's
        // interval and not the second's.
        let mut five_low = doubtful.clone();
        five_low.figures[0].pairs.extend(
            [0.9, 0.95, 0.97, 1.2, 1.2, 1.2, 1.2, 1.2, 1.2, 1.2].map(|r| [100.0, 100.0 * r]),
        );
        let one = paired_figure(&five_low.figures[0], 5.0, None, None);
        let two = paired_figure(&five_low.figures[0], 5.0, None, Some(10));
        assert_eq!((one.verdict, two.verdict), (Verdict::Regressed, Verdict::Noise));
        assert!(two.ci_pct.unwrap()[0] < one.ci_pct.unwrap()[0]);
    }

    #[test]
    fn a_failed_case_makes_a_paired_comparison_unusable_only_through_its_reasons() {
        let run = RunRef {
            id: "r".into(),
            started_at: "t".into(),
            hostname: "h".into(),
            git_commit: None,
            ipcbench_version: "0".into(),
        };
        let case = PairedCase { id: "x".into(), failed: Some("boom".into()), ..Default::default() };
        let c =
            paired_comparison((run.clone(), run), &[case], 5.0, 10, vec!["boom".into()], vec![]);
        assert_eq!((c.summary.failed, c.gate()), (1, Gate::Unusable));
    }
}
