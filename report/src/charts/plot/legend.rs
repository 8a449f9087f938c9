//! The legend: one entry per series (a sample of its line and marker, then its label), laid out
//! in a column beside a line plot or in rows above interval marks.

use super::{err, style, text_px, Look, Marker, Res, LABEL_SIZE};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

pub(super) const LEGEND_ROW_PX: u32 = 22;

pub(super) fn legend_width(entries: &[(String, Look)]) -> u32 {
    let widest = entries.iter().map(|e| text_px(&e.0, LABEL_SIZE)).fold(0.0, f64::max);
    (widest + 60.0).clamp(140.0, 420.0) as u32
}

/// Where each legend entry goes when the legend is laid out in rows of width `px`.
pub(super) fn legend_rows(entries: &[(String, Look)], px: f64) -> Vec<(i32, i32)> {
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

/// Draws `look`'s line sample and marker at `(x, y)` on a pixel area (the legend).
fn draw_sample<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    look: &Look,
    x: i32,
    y: i32,
) -> Res<()> {
    let line = ShapeStyle::from(&look.color).stroke_width(look.width);
    if look.width == 0 {
        // A marker alone (a shape in a chart's key).
    } else if look.dashed {
        for k in 0..3 {
            area.draw(&PathElement::new(vec![(x + k * 11, y), (x + k * 11 + 6, y)], line))
                .map_err(|e| e.to_string())?;
        }
    } else {
        area.draw(&PathElement::new(vec![(x, y), (x + 28, y)], line)).map_err(|e| e.to_string())?;
    }
    draw_marker_px(area, look, (x + 14, y))
}

pub(super) fn draw_marker_px<DB: DrawingBackend>(
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

/// Draws legend entries at pixel positions of `area`: a sample of the line and marker, then its label.
pub(super) fn draw_legend(
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
