//! The frame both kinds of plot are drawn in: the layout of title, plot, axis labels and legend
//! in pixels, and the plotters chart with its mesh on the planned axes.

use super::axes::{Planned, Ticked};
use super::{err, style, Res, DESC_SIZE, LABEL_SIZE, TITLE_SIZE};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

pub(super) type Frame<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<Ticked, Ticked>>;

/// Layout shared by both kinds of plot, in pixels.
pub(super) struct Layout {
    pub(super) width: u32,
    pub(super) height: u32,
    /// Width of the legend column at the right (0 when the legend is a row on top).
    pub(super) legend_width: u32,
    pub(super) y_label_area: u32,
    /// From the top of the picture to the top of the plot: title, legend rows, top labels.
    pub(super) top: u32,
}

pub(super) const X_LABEL_AREA: u32 = 64;
pub(super) const RIGHT_MARGIN: u32 = 30;
pub(super) const LEFT_MARGIN: u32 = 10;
pub(super) const TITLE_PX: u32 = 46;
const MIN_PLOT_PX: u32 = 300;
/// Labels longer than this are cut (with an ellipsis): names come from result files, and one
/// overlong name must not squeeze the plot away.
const MAX_LABEL_CHARS: usize = 44;

pub(super) fn clip(label: &str) -> String {
    if label.chars().count() <= MAX_LABEL_CHARS {
        label.to_string()
    } else {
        let mut s: String = label.chars().take(MAX_LABEL_CHARS - 1).collect();
        s.push('…');
        s
    }
}

impl Layout {
    pub(super) fn plot_width(&self) -> f64 {
        let taken = self.legend_width + self.y_label_area + LEFT_MARGIN + RIGHT_MARGIN;
        f64::from(self.width.saturating_sub(taken).max(MIN_PLOT_PX))
    }
}

pub(super) fn build_frame<'a, 'b>(
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
