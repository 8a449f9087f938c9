//! Interval marks per category (a forest plot): one row per category, one sub-row per group
//! within it (a record size), and in each sub-row a line between two values (p50 to p99), a
//! light band (the spread over trials) and markers. Unlike bars, nothing starts at the axis,
//! so a log axis reads true; no value is written beside a mark, so reference lines cross none.

use super::axes::{plan, thin_x, Axis, Planned};
use super::frame::{build_frame, clip, Layout, LEFT_MARGIN, RIGHT_MARGIN, TITLE_PX, X_LABEL_AREA};
use super::legend::{draw_legend, draw_marker_px, legend_rows, LEGEND_ROW_PX};
use super::line::draw_line;
use super::{err, with_title, Look, Marker, RefLine, Res, Svg, WIDTH};
use plotters::prelude::*;

/// What one sub-row shows.
#[derive(Clone, Debug, Default)]
pub struct Dots {
    /// A thin line between two values (p50 to p99), with a cap at the high end when `cap`.
    pub line: Option<(f64, f64)>,
    pub cap: bool,
    /// A light band between two values (the p50 of the slowest and the fastest trial).
    pub band: Option<(f64, f64)>,
    /// Markers at values.
    pub points: Vec<(f64, Marker)>,
}

/// A group: one sub-row in every category, in one colour (a record size).
pub struct DotGroup {
    pub label: String,
    pub color: RGBColor,
}

pub struct DotPlot {
    pub title: String,
    pub categories: Vec<String>,
    pub groups: Vec<DotGroup>,
    /// `marks[category][group]`.
    pub marks: Vec<Vec<Option<Dots>>>,
    /// What the shapes mean, shown in the legend after the groups (drawn in grey).
    pub key: Vec<(String, Look)>,
    pub x: Axis,
    pub refs: Vec<RefLine>,
}

/// The grey of the legend's key entries: shapes, whatever their colour in the plot.
pub const KEY_GREY: RGBColor = RGBColor(90, 90, 90);
const SUB_ROW_PX: f64 = 10.0;
const ROW_PAD_PX: f64 = 10.0;

/// Draws the interval marks and returns the SVG.
pub fn dot_plot(p: &DotPlot) -> Res<Svg> {
    let n = p.categories.len();
    if n == 0 || p.groups.is_empty() {
        return Err("no categories to plot".into());
    }
    let mut values: Vec<f64> = Vec::new();
    for d in p.marks.iter().flatten().flatten() {
        values.extend(d.line.iter().flat_map(|l| [l.0, l.1]));
        values.extend(d.band.iter().flat_map(|b| [b.0, b.1]));
        values.extend(d.points.iter().map(|pt| pt.0));
    }
    values.extend(p.refs.iter().map(|r| r.value));
    let mut xp = plan(&p.x, &values)?;
    let g = p.groups.len() as f64;
    let band_px = SUB_ROW_PX * g + ROW_PAD_PX;
    let centres: Vec<f64> = (0..n).map(|i| (n - i) as f64 - 0.5).collect();
    let yp = Planned {
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
        .map(|gr| {
            (
                clip(&gr.label),
                Look { color: gr.color, dashed: false, marker: Marker::Circle, width: 2 },
            )
        })
        .collect();
    entries.extend(p.key.iter().map(|(l, look)| (clip(l), *look)));
    for r in &p.refs {
        entries.push((clip(&r.label), Look::reference()));
    }
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
        // Every other row shaded, so a mark is easily followed to its label.
        for ci in (0..n).step_by(2) {
            let top = (n - ci) as f64;
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(xp.lo, top - 1.0), (xp.hi, top)],
                    // Translucent, so the grid shows through.
                    ShapeStyle::from(&RGBColor(90, 110, 140).mix(0.07)).filled(),
                )))
                .map_err(err)?;
        }
        let pad = (ROW_PAD_PX / 2.0) / band_px;
        let sub = (1.0 - 2.0 * pad) / g;
        let to = |v: f64| p.x.scale.to_plot(v);
        for (ci, row) in p.marks.iter().enumerate() {
            for (gi, dots) in row.iter().enumerate() {
                let Some(d) = dots else { continue };
                let color = p.groups[gi].color;
                let y = (n - ci) as f64 - pad - sub * (gi as f64 + 0.5);
                let px = |v: f64| to(v).map(|t| chart.backend_coord(&(t, y)));
                if let Some((lo, hi)) = d.band {
                    if let (Some(a), Some(b)) = (px(lo), px(hi)) {
                        root.draw(&Rectangle::new(
                            [(a.0, a.1 - 4), (b.0.max(a.0 + 2), a.1 + 4)],
                            ShapeStyle::from(&color.mix(0.3)).filled(),
                        ))
                        .map_err(err)?;
                    }
                }
                if let Some((lo, hi)) = d.line {
                    if let (Some(a), Some(b)) = (px(lo), px(hi)) {
                        let style = ShapeStyle::from(&color).stroke_width(2);
                        root.draw(&PathElement::new(vec![a, b], style)).map_err(err)?;
                        if d.cap {
                            root.draw(&PathElement::new(
                                vec![(b.0, b.1 - 4), (b.0, b.1 + 4)],
                                style,
                            ))
                            .map_err(err)?;
                        }
                    }
                }
                for &(v, marker) in &d.points {
                    let Some(at) = px(v) else { continue };
                    let look = Look { color, dashed: false, marker, width: 2 };
                    draw_marker_px(&root, &look, at)?;
                }
            }
        }
        for r in &p.refs {
            if let Some(t) = to(r.value) {
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

/// A key entry: a grey sample of a shape, for the legend.
pub fn key(label: impl Into<String>, marker: Marker, line: bool) -> (String, Look) {
    (label.into(), Look { color: KEY_GREY, dashed: false, marker, width: if line { 2 } else { 0 } })
}

/// A key entry for the band: a thick light line, as the band looks in the plot.
pub fn band_key(label: impl Into<String>) -> (String, Look) {
    (
        label.into(),
        Look { color: RGBColor(200, 200, 200), dashed: false, marker: Marker::None, width: 8 },
    )
}
