//! How a series looks: a colour per family, a dash and marker per variant, so that a chart's
//! lines can be told apart in print and by colour-blind readers.

use plotters::prelude::*;

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

/// Colours by family (transport, method, figure): the classic ten, the light grey dropped, then
/// six more so that every transport (16, listed by kind: mapped, message, stream, library) has
/// its own colour.
const PALETTE: [RGBColor; 16] = [
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
    RGBColor(0, 0, 128),
    RGBColor(128, 128, 0),
    RGBColor(0, 128, 128),
    RGBColor(170, 0, 100),
    RGBColor(90, 160, 255),
    RGBColor(255, 190, 60),
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
