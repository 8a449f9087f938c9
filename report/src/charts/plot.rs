//! The two kinds of picture the charts are made of — lines over two numeric axes, and horizontal
//! bars per category — drawn with plotters into an SVG string.
//!
//! Log axes are drawn by plotting `log10(value)` on a linear axis with ticks placed and labelled
//! here, so every chart picks its own ticks (`50 %`, `1 µs`, `64 KiB`), can thin them so labels
//! never overlap, and both axis kinds share one code path. The legend is drawn beside the plot,
//! never over the data.

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::ops::Range;

/// Chart text is SVG `<text>`; the viewer's sans-serif font draws it.
const FONT: &str = "sans-serif";
/// plotters writes `font-size = size / 1.24`; these are plotters sizes.
const TITLE_SIZE: f64 = 24.0;
const LABEL_SIZE: f64 = 16.0;
const DESC_SIZE: f64 = 17.0;
const VALUE_SIZE: f64 = 14.0;
/// Pixels per character of `size`, a little wider than a real sans-serif so estimates err on
/// the side of room.
fn char_px(size: f64) -> f64 {
    size / 1.24 * 0.6
}
fn text_px(text: &str, size: f64) -> f64 {
    text.chars().count() as f64 * char_px(size)
}

/// Width of the whole picture; the height follows from the content.
pub const WIDTH: u32 = 1100;
const LINE_PLOT_HEIGHT: u32 = 560;

pub type Res<T> = Result<T, String>;

fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scale {
    Linear,
    /// Logarithmic, ticks at decades.
    Log,
    /// Logarithmic, ticks at powers of two (record sizes).
    LogBinary,
}

impl Scale {
    fn to_plot(self, v: f64) -> Option<f64> {
        match self {
            Scale::Linear => v.is_finite().then_some(v),
            Scale::Log | Scale::LogBinary => (v.is_finite() && v > 0.0).then(|| v.log10()),
        }
    }
    fn value_at(self, t: f64) -> f64 {
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
    /// Start a log axis at the decade below its smallest value, so bars begin at a labelled tick.
    pub from_decade: bool,
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
            from_decade: false,
        }
    }
    pub fn ticks(mut self, ticks: Vec<f64>) -> Self {
        self.ticks = Some(ticks);
        self
    }
}

/// A line's look: colour, dashed or not, the marker at its points.
#[derive(Clone, Copy, Debug)]
pub struct Look {
    pub color: RGBColor,
    pub dashed: bool,
    pub marker: Marker,
    pub width: u32,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Marker {
    Circle,
    Triangle,
    Square,
    Cross,
    Diamond,
    None,
}

/// Colours by family (transport, method, figure): the classic ten, the light grey dropped.
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(23, 190, 207),
    RGBColor(188, 189, 34),
    RGBColor(60, 60, 60),
];
const VARIANTS: [(bool, Marker); 6] = [
    (false, Marker::Circle),
    (true, Marker::Triangle),
    (false, Marker::Square),
    (true, Marker::Cross),
    (false, Marker::Diamond),
    (true, Marker::Circle),
];

impl Look {
    /// The look of variant `variant` (process, wait, mode, host…) within family `family`.
    pub fn of(family: usize, variant: usize) -> Look {
        let (dashed, marker) = VARIANTS[variant % VARIANTS.len()];
        Look { color: PALETTE[family % PALETTE.len()], dashed, marker, width: 2 }
    }
    /// A reference (floor, memcpy): black, dashed, no markers, drawn thicker.
    pub fn reference() -> Look {
        Look { color: RGBColor(0, 0, 0), dashed: true, marker: Marker::None, width: 2 }
    }
    pub fn color(family: usize) -> RGBColor {
        PALETTE[family % PALETTE.len()]
    }
}

pub struct Series {
    pub label: String,
    pub look: Look,
    pub points: Vec<(f64, f64)>,
    /// Where to put markers; `None`: at every point.
    pub marks: Option<Vec<(f64, f64)>>,
}

/// A horizontal line across a line plot, or a vertical one across a bar plot.
pub struct RefLine {
    pub label: String,
    pub value: f64,
}

pub struct LinePlot {
    pub title: String,
    pub x: Axis,
    pub y: Axis,
    pub series: Vec<Series>,
    pub refs: Vec<RefLine>,
    /// Short labels written above the plot at x positions (commits in the trend), thinned so
    /// they never overlap.
    pub top_labels: Vec<(f64, String)>,
}

pub struct BarGroup {
    pub label: String,
    pub color: RGBColor,
    /// One value per category, in category order.
    pub values: Vec<Option<f64>>,
}

pub struct BarPlot {
    pub title: String,
    pub categories: Vec<String>,
    pub groups: Vec<BarGroup>,
    pub x: Axis,
    pub refs: Vec<RefLine>,
    /// How a value is written at the end of its bar.
    pub value_label: fn(f64) -> String,
}

/// A drawn picture.
pub struct Svg {
    pub text: String,
    pub width: u32,
    pub height: u32,
}

/// An axis made ready to draw: range and ticks in plot space (log10 for log axes).
struct Planned {
    desc: String,
    lo: f64,
    hi: f64,
    bold: Vec<f64>,
    light: Vec<f64>,
    labels: Vec<(f64, String)>,
}

impl Planned {
    fn label_at(&self, t: f64) -> String {
        let tol = (self.hi - self.lo).abs() * 1e-6;
        self.labels
            .iter()
            .find(|(v, _)| (v - t).abs() <= tol)
            .map(|(_, s)| s.clone())
            .unwrap_or_default()
    }
    fn widest_label(&self) -> f64 {
        self.labels.iter().map(|(_, s)| text_px(s, LABEL_SIZE)).fold(0.0, f64::max)
    }
}

/// Range and ticks for `axis` over `values` (data space). `pad_hi` is extra room at the top
/// end, as a fraction of the span (value labels at bar ends).
fn plan(axis: &Axis, values: &[f64], pad_hi: f64) -> Res<Planned> {
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
    hi += span * (0.04 + pad_hi);
    if axis.scale == Scale::Linear && lo < 0.0 && ts.iter().all(|&t| t >= 0.0) {
        lo = 0.0;
    }
    if axis.from_decade && axis.scale == Scale::Log {
        lo = (lo + span * 0.04).floor();
    } else if axis.scale == Scale::Log && axis.ticks.is_none() && hi - lo < 3.0 {
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
fn thin_x(p: &mut Planned, px: f64) {
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

fn style(size: f64) -> TextStyle<'static> {
    (FONT, size).into_font().color(&BLACK)
}

/// A linear plot-space axis whose tick marks and grid lines are exactly the planned ones.
struct Ticked {
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
    fn ticked(&self) -> Ticked {
        Ticked { lo: self.lo, hi: self.hi, bold: self.bold.clone(), light: self.light.clone() }
    }
}

type Frame<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<Ticked, Ticked>>;

/// Layout shared by both kinds of plot, in pixels.
struct Layout {
    width: u32,
    height: u32,
    /// Width of the legend column at the right (0 when the legend is a row on top).
    legend_width: u32,
    y_label_area: u32,
    /// From the top of the picture to the top of the plot: title, legend rows, top labels.
    top: u32,
}

const X_LABEL_AREA: u32 = 64;
const RIGHT_MARGIN: u32 = 30;
const LEFT_MARGIN: u32 = 10;
const TITLE_PX: u32 = 46;
const MIN_PLOT_PX: u32 = 300;
/// Labels longer than this are cut (with an ellipsis): names come from result files, and one
/// overlong name must not squeeze the plot away.
const MAX_LABEL_CHARS: usize = 44;

fn clip(label: &str) -> String {
    if label.chars().count() <= MAX_LABEL_CHARS {
        label.to_string()
    } else {
        let mut s: String = label.chars().take(MAX_LABEL_CHARS - 1).collect();
        s.push('…');
        s
    }
}
const LEGEND_ROW_PX: u32 = 22;

impl Layout {
    fn plot_width(&self) -> f64 {
        let taken = self.legend_width + self.y_label_area + LEFT_MARGIN + RIGHT_MARGIN;
        f64::from(self.width.saturating_sub(taken).max(MIN_PLOT_PX))
    }
}

fn legend_width(entries: &[(String, Look)]) -> u32 {
    let widest = entries.iter().map(|e| text_px(&e.0, LABEL_SIZE)).fold(0.0, f64::max);
    (widest + 60.0).clamp(140.0, 420.0) as u32
}

/// Where each legend entry goes when the legend is laid out in rows of width `px`.
fn legend_rows(entries: &[(String, Look)], px: f64) -> Vec<(i32, i32)> {
    let (mut x, mut row) = (0.0, 0);
    let mut out = Vec::new();
    for (label, _) in entries {
        let w = 46.0 + text_px(label, LABEL_SIZE) + 26.0;
        if x > 0.0 && x + w > px {
            x = 0.0;
            row += 1;
        }
        out.push((x as i32, row));
        x += w;
    }
    out
}

fn build_frame<'a, 'b>(
    area: &DrawingArea<SVGBackend<'b>, plotters::coord::Shift>,
    title: &str,
    layout: &Layout,
    x: &'a Planned,
    y: &'a Planned,
    y_mesh: bool,
) -> Res<Frame<'a, 'b>> {
    // The title is drawn here rather than as plotters' caption, so the room between it and the
    // plot (legend rows, commit labels) is ours to lay out.
    let (w, _) = area.dim_in_pixel();
    area.draw(&Text::new(
        title.to_string(),
        (w as i32 / 2, 12),
        style(TITLE_SIZE).pos(Pos::new(HPos::Center, VPos::Top)),
    ))
    .map_err(err)?;
    let mut chart = ChartBuilder::on(area)
        .margin_top(layout.top)
        .margin_left(LEFT_MARGIN)
        .margin_right(RIGHT_MARGIN)
        .margin_bottom(8)
        .x_label_area_size(X_LABEL_AREA)
        .y_label_area_size(layout.y_label_area)
        .build_cartesian_2d(x.ticked(), y.ticked())
        .map_err(err)?;
    let fx = |t: &f64| x.label_at(*t);
    let fy = |t: &f64| y.label_at(*t);
    let mut mesh = chart.configure_mesh();
    mesh.x_desc(&x.desc)
        .y_desc(&y.desc)
        .x_label_formatter(&fx)
        .y_label_formatter(&fy)
        .label_style(style(LABEL_SIZE))
        .axis_desc_style(style(DESC_SIZE))
        .bold_line_style(RGBColor(200, 200, 200))
        .light_line_style(RGBColor(236, 236, 236))
        .axis_style(RGBColor(90, 90, 90));
    if !y_mesh {
        mesh.disable_y_mesh();
    }
    mesh.draw().map_err(err)?;
    Ok(chart)
}

/// Draws `look`'s line sample and marker at `(x, y)` on a pixel area (the legend).
fn draw_sample<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    look: &Look,
    x: i32,
    y: i32,
) -> Res<()> {
    let line = ShapeStyle::from(&look.color).stroke_width(look.width);
    if look.dashed {
        for k in 0..3 {
            area.draw(&PathElement::new(vec![(x + k * 11, y), (x + k * 11 + 6, y)], line))
                .map_err(|e| e.to_string())?;
        }
    } else {
        area.draw(&PathElement::new(vec![(x, y), (x + 28, y)], line)).map_err(|e| e.to_string())?;
    }
    draw_marker_px(area, look, (x + 14, y))
}

fn draw_marker_px<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    look: &Look,
    (x, y): (i32, i32),
) -> Res<()> {
    let fill = ShapeStyle::from(&look.color).filled();
    let stroke = ShapeStyle::from(&look.color).stroke_width(2);
    let r = 4;
    let res = match look.marker {
        Marker::Circle => area.draw(&Circle::new((x, y), r, fill)),
        Marker::Triangle => area.draw(&TriangleMarker::new((x, y), r + 1, fill)),
        Marker::Square => area.draw(&Rectangle::new([(x - r, y - r), (x + r, y + r)], fill)),
        Marker::Cross => area.draw(&Cross::new((x, y), r, stroke)),
        Marker::Diamond => area.draw(&Polygon::new(
            vec![(x, y - r - 1), (x + r + 1, y), (x, y + r + 1), (x - r - 1, y)],
            fill,
        )),
        Marker::None => Ok(()),
    };
    res.map_err(|e| e.to_string())
}

/// Draws legend entries at pixel positions of `area`: a sample of the line or bar, then its label.
fn draw_legend(
    area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    entries: &[(String, Look)],
    at: impl Fn(usize) -> (i32, i32),
) -> Res<()> {
    for (i, (label, look)) in entries.iter().enumerate() {
        let (x, y) = at(i);
        draw_sample(area, look, x, y)?;
        area.draw(&Text::new(
            label.clone(),
            (x + 38, y),
            style(LABEL_SIZE).pos(Pos::new(HPos::Left, VPos::Center)),
        ))
        .map_err(err)?;
    }
    Ok(())
}

/// Draws a line plot and returns its SVG.
pub fn line_plot(p: &LinePlot) -> Res<Svg> {
    let xs: Vec<f64> = p.series.iter().flat_map(|s| s.points.iter().map(|pt| pt.0)).collect();
    let mut ys: Vec<f64> = p.series.iter().flat_map(|s| s.points.iter().map(|pt| pt.1)).collect();
    ys.extend(p.refs.iter().map(|r| r.value));
    let mut xp = plan(&p.x, &xs, 0.0)?;
    let yp = plan(&p.y, &ys, 0.0)?;

    let mut entries: Vec<(String, Look)> =
        p.series.iter().map(|s| (clip(&s.label), s.look)).collect();
    for r in &p.refs {
        entries.push((clip(&r.label), Look::reference()));
    }
    // Commit labels take two rows above the plot.
    let top = TITLE_PX + if p.top_labels.is_empty() { 0 } else { 40 };
    let legend_height = LEGEND_ROW_PX * entries.len() as u32 + top + 30;
    let layout = Layout {
        width: WIDTH,
        height: LINE_PLOT_HEIGHT.max(legend_height),
        legend_width: legend_width(&entries),
        y_label_area: (yp.widest_label() + 48.0).ceil() as u32,
        top,
    };
    thin_x(&mut xp, layout.plot_width());

    let mut text = String::new();
    {
        let root =
            SVGBackend::with_string(&mut text, (layout.width, layout.height)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let (plot_area, legend_area) = root.split_horizontally(layout.width - layout.legend_width);
        let mut chart = build_frame(&plot_area, &p.title, &layout, &xp, &yp, true)?;

        let to = |(x, y): (f64, f64)| Some((p.x.scale.to_plot(x)?, p.y.scale.to_plot(y)?));
        for s in &p.series {
            let pts: Vec<(f64, f64)> = s.points.iter().filter_map(|&pt| to(pt)).collect();
            let marks: Vec<(f64, f64)> = match &s.marks {
                Some(m) => m.iter().filter_map(|&pt| to(pt)).collect(),
                None => pts.clone(),
            };
            draw_line(&mut chart, &pts, &s.look)?;
            for m in marks {
                let px = chart.backend_coord(&m);
                draw_marker_px(&root, &s.look, px)?;
            }
        }
        for r in &p.refs {
            if let Some(t) = p.y.scale.to_plot(r.value) {
                draw_line(&mut chart, &[(xp.lo, t), (xp.hi, t)], &Look::reference())?;
            }
        }
        if !p.top_labels.is_empty() {
            draw_top_labels(&root, &chart, &p.top_labels, &p.x, &yp)?;
        }
        let top = layout.top as i32 + 10;
        draw_legend(&legend_area, &entries, |i| (8, top + (LEGEND_ROW_PX as i32) * i as i32))?;
        root.present().map_err(err)?;
    }
    Ok(Svg { text: with_title(text, &p.title), width: layout.width, height: layout.height })
}

fn draw_line(chart: &mut Frame<'_, '_>, pts: &[(f64, f64)], look: &Look) -> Res<()> {
    if pts.len() < 2 {
        return Ok(());
    }
    let line = ShapeStyle::from(&look.color).stroke_width(look.width);
    if look.dashed {
        chart.draw_series(DashedLineSeries::new(pts.to_vec(), 7, 5, line)).map_err(err)?;
    } else {
        // One element per line: one <polyline> in the SVG.
        chart.draw_series(std::iter::once(PathElement::new(pts.to_vec(), line))).map_err(err)?;
    }
    Ok(())
}

/// Labels above the plot at x positions; where one would overlap the previous label on its
/// row it goes to the second row, and where both rows are taken it is left out.
fn draw_top_labels(
    root: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    chart: &Frame<'_, '_>,
    labels: &[(f64, String)],
    x: &Axis,
    yp: &Planned,
) -> Res<()> {
    let mut row_right = [f64::MIN; 2];
    for (v, s) in labels {
        let Some(t) = x.scale.to_plot(*v) else { continue };
        let (px, py) = chart.backend_coord(&(t, yp.hi));
        let w = text_px(s, LABEL_SIZE);
        let left = f64::from(px) - w / 2.0;
        let Some(row) = (0..2).find(|&r| left >= row_right[r] + 6.0) else { continue };
        row_right[row] = left + w;
        let y = py - 8 - 18 * row as i32;
        root.draw(&PathElement::new(vec![(px, py), (px, y + 2)], RGBColor(150, 150, 150)))
            .map_err(err)?;
        root.draw(&Text::new(
            s.clone(),
            (px, y),
            style(LABEL_SIZE)
                .color(&RGBColor(70, 70, 70))
                .pos(Pos::new(HPos::Center, VPos::Bottom)),
        ))
        .map_err(err)?;
    }
    Ok(())
}

/// Draws horizontal bars, one band per category and one bar per group within it, and returns
/// the SVG.
pub fn bar_plot(p: &BarPlot) -> Res<Svg> {
    let n = p.categories.len();
    if n == 0 {
        return Err("no categories to plot".into());
    }
    let values: Vec<f64> =
        p.groups.iter().flat_map(|g| g.values.iter().flatten().copied()).collect();
    let mut ref_values = values.clone();
    ref_values.extend(p.refs.iter().map(|r| r.value));
    // Room at the right for the value written at the end of the longest bar.
    let mut xp = plan(&p.x, &ref_values, 0.14)?;
    let bar_px = 15.0;
    let band_px = bar_px * p.groups.len() as f64 + 14.0;
    let centres: Vec<f64> = (0..n).map(|i| (n - i) as f64 - 0.5).collect();
    let yp = Planned {
        // The category names say what the vertical axis is; no description needed.
        desc: String::new(),
        lo: 0.0,
        hi: n as f64,
        bold: centres.clone(),
        light: Vec::new(),
        labels: centres.iter().zip(&p.categories).map(|(c, s)| (*c, clip(s))).collect(),
    };

    let mut entries: Vec<(String, Look)> = p
        .groups
        .iter()
        .map(|g| {
            (
                clip(&g.label),
                Look { color: g.color, dashed: false, marker: Marker::Square, width: 8 },
            )
        })
        .collect();
    for r in &p.refs {
        entries.push((clip(&r.label), Look::reference()));
    }
    // The legend is a row above the plot: the bars get the whole width.
    let y_label_area = (yp.widest_label() + 24.0).ceil() as u32;
    let row_px = f64::from(WIDTH - y_label_area - LEFT_MARGIN - RIGHT_MARGIN);
    let slots = legend_rows(&entries, row_px);
    let rows = slots.iter().map(|s| s.1).max().unwrap_or(0) as u32 + 1;
    let top = TITLE_PX + rows * LEGEND_ROW_PX + 8;
    let plot_height = (band_px * n as f64).ceil() as u32;
    let layout = Layout {
        width: WIDTH,
        height: plot_height + X_LABEL_AREA + top + 16,
        legend_width: 0,
        y_label_area,
        top,
    };
    thin_x(&mut xp, layout.plot_width());

    let mut text = String::new();
    {
        let root =
            SVGBackend::with_string(&mut text, (layout.width, layout.height)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = build_frame(&root, &p.title, &layout, &xp, &yp, false)?;
        let g_count = p.groups.len() as f64;
        let pad = 7.0 / band_px;
        let bar = (1.0 - 2.0 * pad) / g_count;
        for (gi, g) in p.groups.iter().enumerate() {
            for (ci, v) in g.values.iter().enumerate() {
                let Some(t) = v.and_then(|v| p.x.scale.to_plot(v)) else { continue };
                let top = (n - ci) as f64 - pad - bar * gi as f64;
                let bottom = top - bar * 0.86;
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(xp.lo, bottom), (t, top)],
                        ShapeStyle::from(&g.color).filled(),
                    )))
                    .map_err(err)?;
                let (px, py) = chart.backend_coord(&(t, (top + bottom) / 2.0));
                root.draw(&Text::new(
                    (p.value_label)(v.unwrap_or_default()),
                    (px + 4, py),
                    style(VALUE_SIZE)
                        .color(&RGBColor(40, 40, 40))
                        .pos(Pos::new(HPos::Left, VPos::Center)),
                ))
                .map_err(err)?;
            }
        }
        for r in &p.refs {
            if let Some(t) = p.x.scale.to_plot(r.value) {
                draw_line(&mut chart, &[(t, yp.lo), (t, yp.hi)], &Look::reference())?;
            }
        }
        let left = (LEFT_MARGIN + layout.y_label_area) as i32;
        draw_legend(&root, &entries, |i| {
            let (x, row) = slots[i];
            (left + x, TITLE_PX as i32 + 6 + row * LEGEND_ROW_PX as i32)
        })?;
        root.present().map_err(err)?;
    }
    Ok(Svg { text: with_title(text, &p.title), width: layout.width, height: layout.height })
}

/// Adds a `<title>` (what screen readers and hover tooltips show) after the opening `<svg>`.
fn with_title(svg: String, title: &str) -> String {
    let Some(open_end) = svg.find("<svg").and_then(|i| svg[i..].find('>').map(|j| i + j + 1))
    else {
        return svg;
    };
    let escaped = title.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    format!("{}\n<title>{escaped}</title>{}", &svg[..open_end], &svg[open_end..])
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
        let mut p = plan(&axis, &(0..100).map(f64::from).collect::<Vec<_>>(), 0.0).unwrap();
        let before = p.labels.len();
        thin_x(&mut p, 300.0);
        assert!(p.labels.len() < before);
        assert!(!p.labels.is_empty());
    }

    #[test]
    fn the_title_goes_inside_the_svg_element() {
        let s = with_title("<?xml?><svg a=\"1\">\n<rect/></svg>".into(), "a < b");
        assert!(s.contains("<svg a=\"1\">\n<title>a &lt; b</title>"), "{s}");
    }
}
