//! One colour per variant, assigned once from the variant list (the order variants first
//! appear in the results, which is the workload's order), so a variant has the same colour
//! in every chart and in the page's legend, whatever subset a chart shows.
//!
//! The colours are Paul Tol's "muted" qualitative scheme (designed to stay distinct for
//! colour-blind readers) followed by the distinct colours of his "vibrant" scheme: 14 in
//! all. Past that they repeat, and lines are dashed on each further round, so 28 series
//! still differ; every bar is labelled by name as well.

use plotters::style::RGBColor;

use crate::results::Results;

/// Tol muted (9), then Tol vibrant's orange, blue, cyan, magenta and red.
pub const COLOURS: [(u8, u8, u8); 14] = [
    (0xCC, 0x66, 0x77),
    (0x33, 0x22, 0x88),
    (0xDD, 0xCC, 0x77),
    (0x11, 0x77, 0x33),
    (0x88, 0xCC, 0xEE),
    (0x88, 0x22, 0x55),
    (0x44, 0xAA, 0x99),
    (0x99, 0x99, 0x33),
    (0xAA, 0x44, 0x99),
    (0xEE, 0x77, 0x33),
    (0x00, 0x77, 0xBB),
    (0x33, 0xBB, 0xEE),
    (0xEE, 0x33, 0x77),
    (0xCC, 0x33, 0x11),
];

/// How one variant is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Style {
    pub colour: RGBColor,
    /// Lines of the second (and later) round of colours are dashed.
    pub dashed: bool,
}

impl Style {
    /// `#rrggbb`, as the SVG and the page's legend write it.
    pub fn hex(&self) -> String {
        let RGBColor(r, g, b) = self.colour;
        format!("#{r:02X}{g:02X}{b:02X}")
    }
}

/// The variants of one results file, each with its style.
#[derive(Clone, Debug, Default)]
pub struct Palette {
    variants: Vec<String>,
}

impl Palette {
    /// Variants in the order they first appear in the summaries, then in the runs, then in
    /// the instruction counts.
    pub fn of(results: &Results) -> Palette {
        let mut variants: Vec<String> = Vec::new();
        let names = results
            .summaries
            .iter()
            .map(|s| &s.variant)
            .chain(results.runs.iter().map(|r| &r.variant))
            .chain(
                results
                    .instructions
                    .iter()
                    .flat_map(|i| &i.variants)
                    .map(|s| &s.variant),
            )
            .chain(
                results
                    .sweep
                    .iter()
                    .flat_map(|s| &s.variants)
                    .map(|v| &v.variant),
            );
        for v in names {
            if !variants.contains(v) {
                variants.push(v.clone());
            }
        }
        Palette { variants }
    }

    /// Variants in the order given (reports that are not a results file: `lab ab`'s).
    pub fn from_variants(variants: Vec<String>) -> Palette {
        Palette { variants }
    }

    pub fn variants(&self) -> &[String] {
        &self.variants
    }

    /// The style of `variant` (a variant not in the list gets a style past the others').
    pub fn style(&self, variant: &str) -> Style {
        let i = self
            .variants
            .iter()
            .position(|v| v == variant)
            .unwrap_or(self.variants.len());
        let (r, g, b) = COLOURS[i % COLOURS.len()];
        Style {
            colour: RGBColor(r, g, b),
            dashed: (i / COLOURS.len()) % 2 == 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_follow_the_variant_not_the_position() {
        let mut r = Results::default();
        for v in ["plain", "cached", "pooled"] {
            r.summaries.push(crate::VariantSummary {
                variant: v.into(),
                ..Default::default()
            });
        }
        let p = Palette::of(&r);
        assert_eq!(p.style("cached"), p.style("cached"));
        assert_ne!(p.style("plain").colour, p.style("cached").colour);
        assert_eq!(p.style("plain").hex(), "#CC6677");
        let all: std::collections::BTreeSet<_> = COLOURS.iter().collect();
        assert_eq!(all.len(), COLOURS.len(), "every colour differs");
    }
}
