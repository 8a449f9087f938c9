//! Lines over two numeric axes (throughput, percentiles, flush cost, the trend), with reference
//! lines across and, for the trend, short labels above the plot.

use super::axes::{plan, thin_x, Axis, Planned};
use super::frame::{build_frame, clip, Frame, Layout, TITLE_PX};
use super::legend::{draw_legend, draw_marker_px, legend_width, LEGEND_ROW_PX};
use super::{err, style, text_px, with_title, Look, RefLine, Res, Svg, LABEL_SIZE, WIDTH};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

const LINE_PLOT_HEIGHT: u32 = 500;

pub struct Series {
    pub label: String,
    pub look: Look,
    pub points: Vec<(f64, f64)>,
    /// Where to put markers; `None`: at every point.
    pub marks: Option<Vec<(f64, f64)>>,
    /// Spread over the trials at a point: `(x, low, high)`, drawn as a capped vertical line.
    pub whiskers: Vec<(f64, f64, f64)>,
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

/// Draws a line plot and returns its SVG.
pub fn line_plot(p: &LinePlot) -> Res<Svg> {
    let xs: Vec<f64> = p.series.iter().flat_map(|s| s.points.iter().map(|pt| pt.0)).collect();
    let mut ys: Vec<f64> = p.series.iter().flat_map(|s| s.points.iter().map(|pt| pt.1)).collect();
    ys.extend(p.refs.iter().map(|r| r.value));
    ys.extend(p.series.iter().flat_map(|s| s.whiskers.iter().flat_map(|w| [w.1, w.2])));
    let mut xp = plan(&p.x, &xs)?;
    let yp = plan(&p.y, &ys)?;

    let mut entries: Vec<(String, Look)> =
        p.series.iter().map(|s| (clip(&s.label), s.look)).collect();
    for r in &p.refs {
        entries.push((clip(&r.label), Look::reference()));
    }
    // Commit labels stand upright above the plot.
    let widest_top = p.top_labels.iter().map(|l| text_px(&l.1, LABEL_SIZE)).fold(0.0, f64::max);
    let top = TITLE_PX + if p.top_labels.is_empty() { 0 } else { widest_top.ceil() as u32 + 14 };
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
        // Whiskers of series at the same x are set a few pixels apart, so each can be told
        // from the others and followed to its line.
        let with_whiskers = p.series.iter().filter(|s| !s.whiskers.is_empty()).count() as i32;
        let mut whiskered = 0;
        for s in &p.series {
            let dodge = if s.whiskers.is_empty() {
                0
            } else {
                whiskered += 1;
                (2 * whiskered - with_whiskers - 1) * 2
            };
            let pts: Vec<(f64, f64)> = s.points.iter().filter_map(|&pt| to(pt)).collect();
            let marks: Vec<(f64, f64)> = match &s.marks {
                Some(m) => m.iter().filter_map(|&pt| to(pt)).collect(),
                None => pts.clone(),
            };
            draw_line(&mut chart, &pts, &s.look)?;
            for &(x, lo, hi) in &s.whiskers {
                let (Some(a), Some(b)) = (to((x, lo)), to((x, hi))) else { continue };
                let (a, b) = (chart.backend_coord(&a), chart.backend_coord(&b));
                let (a, b) = ((a.0 + dodge, a.1), (b.0 + dodge, b.1));
                let colour = ShapeStyle::from(&s.look.color).stroke_width(1);
                root.draw(&PathElement::new(vec![a, b], colour)).map_err(err)?;
                for end in [a, b] {
                    root.draw(&PathElement::new(
                        vec![(end.0 - 4, end.1), (end.0 + 4, end.1)],
                        colour,
                    ))
                    .map_err(err)?;
                }
            }
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

pub(super) fn draw_line(chart: &mut Frame<'_, '_>, pts: &[(f64, f64)], look: &Look) -> Res<()> {
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

/// Labels above the plot at x positions, written upwards so that each takes only a line's
/// height of the axis; where one would come closer to the previous than that, it is left out.
fn draw_top_labels(
    root: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    chart: &Frame<'_, '_>,
    labels: &[(f64, String)],
    x: &Axis,
    yp: &Planned,
) -> Res<()> {
    let line_px = LABEL_SIZE / 1.24 * 1.15;
    let mut last = f64::MIN;
    for (v, s) in labels {
        let Some(t) = x.scale.to_plot(*v) else { continue };
        let (px, py) = chart.backend_coord(&(t, yp.hi));
        if f64::from(px) < last + line_px {
            continue;
        }
        last = f64::from(px);
        root.draw(&Text::new(
            s.clone(),
            (px, py - 6),
            style(LABEL_SIZE)
                .color(&RGBColor(70, 70, 70))
                .transform(FontTransform::Rotate270)
                .pos(Pos::new(HPos::Left, VPos::Center)),
        ))
        .map_err(err)?;
    }
    Ok(())
}
