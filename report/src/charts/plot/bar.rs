//! Horizontal bars: one band per category, one bar per group within it, the value written at
//! the end of each bar.

use super::axes::{plan, thin_x, Axis, Planned};
use super::frame::{build_frame, clip, Layout, LEFT_MARGIN, RIGHT_MARGIN, TITLE_PX, X_LABEL_AREA};
use super::legend::{draw_legend, legend_rows, LEGEND_ROW_PX};
use super::line::draw_line;
use super::{err, style, with_title, Look, Marker, RefLine, Res, Svg, VALUE_SIZE, WIDTH};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

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
