//! The two kinds of picture the charts are made of — lines over two numeric axes, and interval
//! marks per category (a forest plot) — drawn with plotters into an SVG string: `axes` plans
//! ranges and ticks, `look` and `legend` say which series is which, `frame` lays out the title,
//! plot and legend, and `line` and `dots` draw the two kinds.
//!
//! Log axes are drawn by plotting `log10(value)` on a linear axis with ticks placed and labelled
//! here, so every chart picks its own ticks (`50 %`, `1 µs`, `64 KiB`), can thin them so labels
//! never overlap, and both axis kinds share one code path. The legend is drawn beside the plot,
//! never over the data.

mod axes;
mod dots;
mod frame;
mod legend;
mod line;
mod look;

pub use axes::{Axis, Scale};
pub use dots::{band_key, dot_plot, key, DotGroup, DotPlot, Dots};
pub use line::{line_plot, LinePlot, Series};
pub use look::{Look, Marker};

use plotters::prelude::*;

/// Chart text is SVG `<text>`; the viewer's sans-serif font draws it.
const FONT: &str = "sans-serif";
/// plotters writes `font-size = size / 1.24`; these are plotters sizes.
const TITLE_SIZE: f64 = 24.0;
const LABEL_SIZE: f64 = 16.0;
const DESC_SIZE: f64 = 17.0;
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

pub type Res<T> = Result<T, String>;

fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// A horizontal line across a line plot, or a vertical one across interval marks.
pub struct RefLine {
    pub label: String,
    pub value: f64,
}

/// A drawn picture.
pub struct Svg {
    pub text: String,
    pub width: u32,
    pub height: u32,
}

fn style(size: f64) -> TextStyle<'static> {
    (FONT, size).into_font().color(&BLACK)
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
    fn the_title_goes_inside_the_svg_element() {
        let s = with_title("<?xml?><svg a=\"1\">\n<rect/></svg>".into(), "a < b");
        assert!(s.contains("<svg a=\"1\">\n<title>a &lt; b</title>"), "{s}");
    }
}
