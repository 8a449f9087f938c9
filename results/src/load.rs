//! Where a `load` case keeps its sweep, and reading it back. A case is one transport × process ×
//! wait × size; each offered rate it was driven at is a *point*, named by its label (`10%` of
//! the measured saturation, or `250000/s` when the rate was given absolutely). A point's figures
//! live under the ordinary maps with the label after an `@`:
//!
//! - `latency_ns["corrected@10%"]`, `latency_ns["uncorrected@10%"]` (and the same keys in
//!   `histograms` and `latency_trials_ns`);
//! - `figures["offered_records_per_s@10%"]`, `figures["achieved_records_per_s@10%"]`,
//!   `figures["backlog_records@10%"]`.
//!
//! The case's headline — `latency_ns["corrected"]` / `["uncorrected"]`, what `compare` and
//! `export` judge — is the point at [`REFERENCE_FRACTION`] of saturation (else the highest rate
//! not above saturation), named in `figures["reference_offered_records_per_s"]`; the knee is
//! `figures["knee_records_per_s"]` with its factor in `figures["knee_factor"]`.

use crate::{latency, CaseResult, Summary};

/// The headline point: 90 % of saturation, loaded but not overloaded.
pub const REFERENCE_FRACTION: f64 = 0.9;
/// The knee's default factor: the highest rate whose corrected p99 stays within this many
/// times the lowest rate's.
pub const KNEE_FACTOR: f64 = 10.0;

pub const SATURATION: &str = "saturation_records_per_s";
pub const KNEE: &str = "knee_records_per_s";
pub const KNEE_FACTOR_KEY: &str = "knee_factor";
pub const REFERENCE: &str = "reference_offered_records_per_s";
/// The corrected p99 at 90 % of saturation, a plain figure for trackers.
pub const CORRECTED_P99_AT_90: &str = "corrected_p99_ns_at_90pct";
const OFFERED: &str = "offered_records_per_s";
const ACHIEVED: &str = "achieved_records_per_s";
const BACKLOG: &str = "backlog_records";

/// `kind@label`: the key of a point's figure.
pub fn key(kind: &str, label: &str) -> String {
    format!("{kind}@{label}")
}

/// The label of an offered rate: `10%` for a fraction of saturation, `250000/s` for a rate.
pub fn label(fraction: Option<f64>, per_s: f64) -> String {
    match fraction {
        Some(f) => format!("{}%", (f * 1000.0).round() / 10.0),
        None => format!("{}/s", per_s.round()),
    }
}

/// One offered rate of a case, read back from its keys.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    pub label: String,
    pub offered_per_s: f64,
    pub achieved_per_s: Option<f64>,
    pub backlog_records: Option<f64>,
    pub corrected: Summary,
    pub uncorrected: Option<Summary>,
}

impl Point {
    /// Stores the point in `case` (figures and summaries; histograms are the caller's).
    pub fn store(&self, case: &mut CaseResult) {
        let l = &self.label;
        case.figures.insert(key(OFFERED, l), self.offered_per_s);
        if let Some(a) = self.achieved_per_s {
            case.figures.insert(key(ACHIEVED, l), a);
        }
        if let Some(b) = self.backlog_records {
            case.figures.insert(key(BACKLOG, l), b);
        }
        case.latency_ns.insert(key(latency::CORRECTED, l), self.corrected);
        if let Some(u) = self.uncorrected {
            case.latency_ns.insert(key(latency::UNCORRECTED, l), u);
        }
    }
}

/// Every point of a case, by offered rate (lowest first); none for other scenarios.
pub fn points(case: &CaseResult) -> Vec<Point> {
    let prefix = format!("{}@", latency::CORRECTED);
    let mut out: Vec<Point> = case
        .latency_ns
        .iter()
        .filter_map(|(k, s)| {
            let label = k.strip_prefix(&prefix)?;
            let fig = |kind: &str| case.figures.get(&key(kind, label)).copied();
            Some(Point {
                label: label.to_string(),
                offered_per_s: fig(OFFERED).filter(|v| *v > 0.0)?,
                achieved_per_s: fig(ACHIEVED),
                backlog_records: fig(BACKLOG),
                corrected: *s,
                uncorrected: case.latency_ns.get(&key(latency::UNCORRECTED, label)).copied(),
            })
        })
        .collect();
    out.sort_by(|a, b| a.offered_per_s.total_cmp(&b.offered_per_s));
    out
}

/// The knee of points sorted by offered rate: the highest rate reached, going up from the
/// lowest, while the corrected p99 stays within `factor` × the lowest rate's p99.
pub fn knee(points: &[Point], factor: f64) -> Option<f64> {
    let base = points.first()?.corrected.p99.max(1) as f64;
    points
        .iter()
        .take_while(|p| p.corrected.p99 as f64 <= factor * base)
        .last()
        .map(|p| p.offered_per_s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(label: &str, offered: f64, p99: u64) -> Point {
        Point {
            label: label.into(),
            offered_per_s: offered,
            achieved_per_s: Some(offered),
            backlog_records: Some(0.0),
            corrected: Summary { count: 100, p50: p99 / 2, p99, ..Default::default() },
            uncorrected: Some(Summary { count: 100, p99: 10, ..Default::default() }),
        }
    }

    #[test]
    fn points_round_trip_through_a_case_in_rate_order() {
        let mut c = CaseResult::new("load/pipe/fork/block/64", "load");
        let ps = [point("50%", 5e5, 300), point("10%", 1e5, 100), point("110%", 1.1e6, 9000)];
        for p in &ps {
            p.store(&mut c);
        }
        let back = points(&c);
        assert_eq!(
            back.iter().map(|p| p.label.as_str()).collect::<Vec<_>>(),
            ["10%", "50%", "110%"]
        );
        assert_eq!(back[0], ps[1]);
        assert!(c.latency_ns.contains_key("uncorrected@110%"));
        assert!(c.figures.contains_key("offered_records_per_s@50%"));
        // Other scenarios' keys are not points.
        c.latency_ns.insert("one_way".into(), Summary::default());
        assert_eq!(points(&c).len(), 3);
    }

    #[test]
    fn the_knee_is_the_last_rate_within_the_factor_going_up() {
        let ps = [
            point("a", 1.0, 100),
            point("b", 2.0, 900),
            point("c", 3.0, 1100),
            point("d", 4.0, 50),
        ];
        assert_eq!(knee(&ps, 10.0), Some(2.0));
        assert_eq!(knee(&ps, 20.0), Some(4.0));
        assert_eq!(knee(&ps[..1], 10.0), Some(1.0));
        assert_eq!(knee(&[], 10.0), None);
    }

    #[test]
    fn labels_name_fractions_and_rates() {
        assert_eq!(label(Some(0.1), 12345.0), "10%");
        assert_eq!(label(Some(1.1), 1.0), "110%");
        assert_eq!(label(Some(0.125), 1.0), "12.5%");
        assert_eq!(label(None, 250000.4), "250000/s");
    }
}
