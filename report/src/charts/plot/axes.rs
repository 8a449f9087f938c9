//! Axes: a range and ticks in plot space (log10 for log axes) for the values an axis must
//! show, tick labels thinned so they never overlap, and the plotters coordinate that draws
//! exactly those ticks.

use super::{text_px, Res, LABEL_SIZE};
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::prelude::*;
use std::ops::Range;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scale {
    Linear,
    /// Logarithmic, ticks at decades.
    Log,
    /// Logarithmic, ticks at powers of two (record sizes).
    LogBinary,
}

impl Scale {
    pub(super) fn to_plot(self, v: f64) -> Option<f64> {
        match self {
            Scale::Linear => v.is_finite().then_some(v),
            Scale::Log | Scale::LogBinary => (v.is_finite() && v > 0.0).then(|| v.log10()),
        }
    }
    pub(super) fn value_at(self, t: f64) -> f64 {
        match self {
            Scale::Linear => t,
            Scale::Log | Scale::LogBinary => 10f64.powf(t),
        }
    }
}

/// One axis: its name (with its unit), its scale, and how a tick is labelled.
pub struct Axis {
    pub desc: String,
    pub scale: Scale,
    pub label: Box<dyn Fn(f64) -> String>,
    /// Ticks to use (data values) instead of decades or a round step.
    pub ticks: Option<Vec<f64>>,
    /// Values the axis must reach even if no point does (the floor line, say).
    pub include: Vec<f64>,
    /// The least span the axis shows (data units, linear axes; log axes show 0.6 decades at
    /// least), so a single value is not blown up to fill the plot.
    pub min_span: Option<f64>,
}

impl Axis {
    pub fn new(
        desc: impl Into<String>,
        scale: Scale,
        label: impl Fn(f64) -> String + 'static,
    ) -> Self {
        Axis {
            desc: desc.into(),
            scale,
            label: Box::new(label),
            ticks: None,
            include: Vec::new(),
            min_span: None,
        }
    }
    pub fn ticks(mut self, ticks: Vec<f64>) -> Self {
        self.ticks = Some(ticks);
        self
    }
}

/// An axis made ready to draw: range and ticks in plot space (log10 for log axes).
pub(super) struct Planned {
    pub(super) desc: String,
    pub(super) lo: f64,
    pub(super) hi: f64,
    pub(super) bold: Vec<f64>,
    pub(super) light: Vec<f64>,
    pub(super) labels: Vec<(f64, String)>,
}

impl Planned {
    pub(super) fn label_at(&self, t: f64) -> String {
        let tol = (self.hi - self.lo).abs() * 1e-6;
        self.labels
            .iter()
            .find(|(v, _)| (v - t).abs() <= tol)
            .map(|(_, s)| s.clone())
            .unwrap_or_default()
    }
    pub(super) fn widest_label(&self) -> f64 {
        self.labels.iter().map(|(_, s)| text_px(s, LABEL_SIZE)).fold(0.0, f64::max)
    }
}

/// Range and ticks for `axis` over `values` (data space).
pub(super) fn plan(axis: &Axis, values: &[f64]) -> Res<Planned> {
    let ts: Vec<f64> =
        values.iter().chain(&axis.include).filter_map(|&v| axis.scale.to_plot(v)).collect();
    if ts.is_empty() {
        return Err(format!("no {} values to plot", axis.desc));
    }
    let (mut lo, mut hi) = ts.iter().fold((f64::MAX, f64::MIN), |(a, b), &t| (a.min(t), b.max(t)));
    let span = hi - lo;
    let min_span = match axis.scale {
        Scale::Linear => axis.min_span.unwrap_or(1e-9),
        Scale::Log | Scale::LogBinary => 0.6,
    };
    if span < min_span {
        let mid = (hi + lo) / 2.0;
        lo = mid - min_span / 2.0;
        hi = mid + min_span / 2.0;
    }
    let span = hi - lo;
    lo -= span * 0.04;
    hi += span * 0.04;
    if axis.scale == Scale::Linear && lo < 0.0 && ts.iter().all(|&t| t >= 0.0) {
        lo = 0.0;
    }
    if axis.scale == Scale::Log && axis.ticks.is_none() && hi - lo < 3.0 {
        // A narrow log axis ends on its outermost 1-2-5 ticks, so both ends are labelled.
        lo = snap_125(lo, true);
        hi = snap_125(hi, false);
    }

    let bold: Vec<f64> = match &axis.ticks {
        Some(fixed) => fixed
            .iter()
            .filter_map(|&v| axis.scale.to_plot(v))
            .filter(|t| *t >= lo && *t <= hi)
            .collect(),
        None => match axis.scale {
            Scale::Log => log_ticks(lo, hi),
            Scale::LogBinary => binary_ticks(lo, hi),
            Scale::Linear => linear_ticks(lo, hi),
        },
    };
    let light = match axis.scale {
        Scale::Log => {
            let mut light = Vec::new();
            for k in (lo.floor() as i32)..=(hi.ceil() as i32) {
                for m in 1..10 {
                    let t = (f64::from(m) * 10f64.powi(k)).log10();
                    if t >= lo && t <= hi && !bold.iter().any(|b| (b - t).abs() < 1e-9) {
                        light.push(t);
                    }
                }
            }
            light
        }
        Scale::LogBinary => {
            let (a, b) = ((lo / LOG2).ceil() as i32, (hi / LOG2).floor() as i32);
            (a..=b)
                .map(|e| f64::from(e) * LOG2)
                .filter(|t| !bold.iter().any(|b| (b - t).abs() < 1e-9))
                .collect()
        }
        Scale::Linear => Vec::new(),
    };
    let labels = bold.iter().map(|&t| (t, (axis.label)(axis.scale.value_at(t)))).collect();
    Ok(Planned { desc: axis.desc.clone(), lo, hi, bold, light, labels })
}

/// The 1-2-5 step (in log10 space) at or below `t` (`down`), or at or above it.
fn snap_125(t: f64, down: bool) -> f64 {
    const STEPS: [f64; 4] = [0.0, std::f64::consts::LOG10_2, 0.698_970_004_336_018_8, 1.0];
    let decade = t.floor();
    let within = t - decade;
    let pick = if down {
        STEPS.iter().rev().find(|s| **s <= within + 1e-12).copied().unwrap_or(0.0)
    } else {
        STEPS.iter().find(|s| **s >= within - 1e-12).copied().unwrap_or(1.0)
    };
    decade + pick
}

/// Decades; with fewer than three in range, the 2× and 5× steps too.
fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let decades: Vec<f64> = ((lo.ceil() as i32)..=(hi.floor() as i32)).map(f64::from).collect();
    if decades.len() >= 3 {
        return decades;
    }
    let mut ticks = Vec::new();
    for k in (lo.floor() as i32)..=(hi.ceil() as i32) {
        for m in [1.0f64, 2.0, 5.0] {
            let t = (m * 10f64.powi(k)).log10();
            if t >= lo && t <= hi {
                ticks.push(t);
            }
        }
    }
    ticks
}

const LOG2: f64 = std::f64::consts::LOG10_2;

/// Powers of two, every `step` octaves with the step chosen for at most eight ticks, aligned
/// on the binary prefixes (1 KiB, 1 MiB) where the step allows.
fn binary_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let (a, b) = ((lo / LOG2).ceil() as i32, (hi / LOG2).floor() as i32);
    let step = [1, 2, 4, 5, 10, 20].into_iter().find(|s| (b - a) / s < 8).unwrap_or(20);
    (a..=b).filter(|e| (e - 10).rem_euclid(step) == 0).map(|e| f64::from(e) * LOG2).collect()
}

/// A round step (1, 2 or 5 × 10^k) giving at most seven ticks.
fn linear_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let span = hi - lo;
    let raw = span / 6.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| span / s <= 7.0)
        .unwrap_or(10.0 * mag);
    let mut t = (lo / step).ceil() * step;
    let mut ticks = Vec::new();
    while t <= hi + step * 1e-9 {
        ticks.push(t);
        t += step;
    }
    ticks
}

/// Drops tick labels that would overlap their neighbour on a horizontal axis `px` wide.
pub(super) fn thin_x(p: &mut Planned, px: f64) {
    let to_px = |t: f64| (t - p.lo) / (p.hi - p.lo) * px;
    let mut kept: Vec<(f64, String)> = Vec::new();
    let mut last_right = f64::MIN;
    for (t, s) in &p.labels {
        let w = text_px(s, LABEL_SIZE);
        let x = to_px(*t);
        if x - w / 2.0 >= last_right + 8.0 {
            last_right = x + w / 2.0;
            kept.push((*t, s.clone()));
        }
    }
    p.labels = kept;
}

/// A linear plot-space axis whose tick marks and grid lines are exactly the planned ones.
pub(super) struct Ticked {
    lo: f64,
    hi: f64,
    bold: Vec<f64>,
    light: Vec<f64>,
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let r = (v - self.lo) / (self.hi - self.lo);
        limit.0 + (f64::from(limit.1 - limit.0) * r).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            self.light.clone()
        } else {
            self.bold.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.lo..self.hi
    }
}

impl Planned {
    pub(super) fn ticked(&self) -> Ticked {
        Ticked { lo: self.lo, hi: self.hi, bold: self.bold.clone(), light: self.light.clone() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_axes_tick_at_decades_or_finer_steps() {
        assert_eq!(log_ticks(1.5, 5.2), vec![2.0, 3.0, 4.0, 5.0]);
        let fine = log_ticks(2.1, 2.9);
        assert!(fine.len() >= 2, "{fine:?}");
    }

    #[test]
    fn size_axes_tick_at_powers_of_two() {
        let t = |bytes: f64| bytes.log10();
        let ticks: Vec<f64> = binary_ticks(t(64.0), t(16.0 * 1024.0 * 1024.0))
            .into_iter()
            .map(|v| 10f64.powf(v).round())
            .collect();
        assert_eq!(ticks, vec![64.0, 1024.0, 16384.0, 262144.0, 4194304.0]);
    }

    #[test]
    fn narrow_log_axes_end_on_labelled_steps() {
        let down = snap_125(3e9f64.log10(), true);
        let up = snap_125(1.7e10f64.log10(), false);
        assert!((10f64.powf(down) - 2e9).abs() < 1.0, "{}", 10f64.powf(down));
        assert!((10f64.powf(up) - 2e10).abs() < 10.0, "{}", 10f64.powf(up));
    }

    #[test]
    fn linear_ticks_are_round() {
        assert_eq!(linear_ticks(0.0, 10.0), vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
    }

    #[test]
    fn crowded_tick_labels_are_thinned() {
        let axis = Axis::new("x", Scale::Linear, |v| format!("label number {v}"));
        let mut p = plan(&axis, &(0..100).map(f64::from).collect::<Vec<_>>()).unwrap();
        let before = p.labels.len();
        thin_x(&mut p, 300.0);
        assert!(p.labels.len() < before);
        assert!(!p.labels.is_empty());
    }
}
