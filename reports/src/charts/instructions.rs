//! Instruction-count charts: instructions and estimated cycles per operation, grouped by
//! operation with one bar per variant (log axis: a scan costs a hundred reads), and the
//! two views of a workload side by side (each variant's wall-clock time, instructions and
//! estimated cycles per operation relative to the cheapest variant).

use plotters::coord::ranged1d::ValueFormatter;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::palette::Palette;
use super::{label_style, text_width, CAPTION, FONT, LABEL, PLOT_BG, WIDTH};
use crate::counts::PerOp;
use crate::format::human_count;
use crate::instructions::{counted, op_names, ops_of, View, ALL};
use crate::results::Results;

/// Bars in groups: `groups` along x, one bar per series in each.
struct Grouped<'a> {
    title: &'a str,
    /// What the groups along x are ("operation", "variant").
    x_desc: &'a str,
    /// The value axis, with its unit ("instructions per operation").
    y_desc: &'a str,
    groups: Vec<String>,
    /// (name, value per group; `None` where the series has no bar).
    series: Vec<(String, Vec<Option<f64>>)>,
    /// One colour per series: a variant's own ([`Palette`]) where series are variants.
    colours: Vec<RGBColor>,
    log: bool,
}

fn values<'a>(g: &'a Grouped<'_>) -> impl Iterator<Item = f64> + 'a {
    g.series
        .iter()
        .flat_map(|(_, v)| v.iter().flatten().copied())
        .filter(|v| v.is_finite() && *v > 0.0)
}

/// The value axis' tick labels: counts on a log axis, multiples on a linear one.
fn tick(log: bool, y: f64) -> String {
    if log {
        human_count(y)
    } else {
        format!("{y:.2}×")
    }
}

/// Grouped bars, in the wall-clock report's frame: its width, fonts, sizes, plot-area
/// colour and axis descriptions; the legend beside the plot, sized from its longest name.
fn grouped(g: &Grouped<'_>) -> Option<String> {
    let hi = values(g).fold(0.0, f64::max);
    if hi <= 0.0 || g.series.is_empty() {
        return None;
    }
    let lo = values(g).fold(f64::INFINITY, f64::min).max(1e-3) / 2.0;
    let n = g.groups.len() as f64;
    let top = if g.log { hi * 2.0 } else { hi * 1.15 };
    let legend_w = g
        .series
        .iter()
        .map(|(name, _)| text_width(name, LABEL))
        .max()
        .unwrap_or(0)
        + 44;
    let y_label_w = text_width(&tick(g.log, top), LABEL) + 40;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 400)).into_drawing_area();
        root.fill(&WHITE).ok()?;
        let (plot, key) = root.split_horizontally(WIDTH - legend_w);
        legend(&key, g)?;
        let mut b = ChartBuilder::on(&plot);
        b.caption(g.title, (FONT, CAPTION))
            .margin(10)
            .x_label_area_size(52)
            .y_label_area_size(y_label_w);
        if g.log {
            mesh_and_bars(
                b.build_cartesian_2d(-0.5..n - 0.5, (lo..top).log_scale())
                    .ok()?,
                g,
                lo,
            )?;
        } else {
            mesh_and_bars(b.build_cartesian_2d(-0.5..n - 0.5, 0.0..top).ok()?, g, 0.0)?;
        }
        root.present().ok()?;
    }
    Some(svg)
}

/// The plot area of `c` (on either value axis: log or linear): its background, the mesh
/// with the groups' names along x and `tick` labels up y, and the bars from `floor`.
fn mesh_and_bars<'a, 'b: 'a, Y>(
    mut c: ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, Y>>,
    g: &Grouped<'_>,
    floor: f64,
) -> Option<()>
where
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let groups = &g.groups;
    let label = |x: &f64| {
        let i = x.round();
        if (x - i).abs() < 1e-6 && i >= 0.0 {
            groups.get(i as usize).cloned().unwrap_or_default()
        } else {
            String::new()
        }
    };
    let ticks = |y: &f64| tick(g.log, *y);
    c.plotting_area().fill(&PLOT_BG).ok()?;
    c.configure_mesh()
        .disable_x_mesh()
        .x_labels(groups.len())
        .x_label_formatter(&label)
        .y_label_formatter(&ticks)
        .x_desc(g.x_desc)
        .y_desc(g.y_desc)
        .label_style((FONT, LABEL))
        .axis_desc_style((FONT, LABEL))
        .light_line_style(WHITE)
        .draw()
        .ok()?;
    draw(&mut c, g, floor)
}

/// One colour swatch and name per series, top to bottom.
fn legend(
    area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    g: &Grouped<'_>,
) -> Option<()> {
    for (j, (name, _)) in g.series.iter().enumerate() {
        let y = 46 + 20 * j as i32;
        let color = g.colours[j].mix(0.85);
        area.draw(&Rectangle::new([(10, y - 6), (24, y + 6)], color.filled()))
            .ok()?;
        area.draw(&Text::new(
            name.clone(),
            (32, y),
            label_style(Pos::new(HPos::Left, VPos::Center)),
        ))
        .ok()?;
    }
    Some(())
}

fn draw<'a, 'b: 'a, Y>(
    c: &mut ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, Y>>,
    g: &Grouped<'_>,
    floor: f64,
) -> Option<()>
where
    Y: Ranged<ValueType = f64>,
{
    let k = g.series.len() as f64;
    let w = 0.8 / k;
    for (j, (_, vals)) in g.series.iter().enumerate() {
        let color = g.colours[j].mix(0.85);
        let x0 = -0.4 + w * j as f64;
        let bars = vals.iter().enumerate().filter_map(|(i, v)| {
            let v = (*v)?;
            (v.is_finite() && v > floor).then(|| {
                let x = i as f64 + x0;
                Rectangle::new([(x, floor), (x + w * 0.9, v)], color.filled())
            })
        });
        c.draw_series(bars).ok()?;
    }
    Some(())
}

/// Per operation (the mix first), one bar per variant of `which` per operation.
fn per_op_chart(r: &Results, which: PerOp, title: &str, y_desc: &str) -> Option<String> {
    let run = counted(r)?;
    let groups = op_names(run);
    let palette = Palette::of(r);
    let colours = run
        .variants
        .iter()
        .map(|s| palette.style(&s.variant).colour)
        .collect();
    let series = run
        .variants
        .iter()
        .map(|s| {
            let v = groups
                .iter()
                .map(|g| {
                    ops_of(s)
                        .find(|(o, _)| o == g)
                        .map(|(_, c)| c.per_op(which))
                })
                .collect();
            (s.variant.clone(), v)
        })
        .collect();
    grouped(&Grouped {
        title,
        x_desc: "operation",
        y_desc,
        groups: groups.into_iter().map(str::to_owned).collect(),
        series,
        colours,
        log: true,
    })
}

/// Instructions per operation, per operation kind and variant.
pub fn instructions(r: &Results) -> Option<String> {
    per_op_chart(
        r,
        PerOp::Instructions,
        "Instructions per operation (log scale)",
        "instructions per operation",
    )
}

/// Estimated cycles per operation, per operation kind and variant.
pub fn estimated_cycles(r: &Results) -> Option<String> {
    per_op_chart(
        r,
        PerOp::EstimatedCycles,
        "Estimated cycles per operation (Ir + 10·L1m + 100·LLm, log scale)",
        "estimated cycles per operation",
    )
}

/// Each variant's cost per operation of the whole mix in both views, relative to the
/// cheapest variant in that view (1.00 = cheapest), so a different ranking shows.
pub fn views(views: &[View]) -> Option<String> {
    let all = views.iter().find(|v| v.op == ALL)?;
    let relative = |vals: Vec<f64>| -> Vec<Option<f64>> {
        let min = vals.iter().copied().fold(f64::INFINITY, f64::min);
        vals.into_iter()
            .map(|v| (min > 0.0).then(|| v / min))
            .collect()
    };
    let wall = relative(all.rows.iter().map(|r| r.wall_ns).collect());
    let instr = relative(all.rows.iter().map(|r| r.instructions_value).collect());
    let cycles = relative(all.rows.iter().map(|r| r.cycles_value).collect());
    grouped(&Grouped {
        title: "Cost per operation of the mix, relative to the cheapest variant",
        x_desc: "variant",
        y_desc: "cost per operation, × the cheapest variant's",
        groups: all.rows.iter().map(|r| r.variant.clone()).collect(),
        series: vec![
            ("wall-clock time (1 thread)".into(), wall),
            ("instructions".into(), instr),
            ("estimated cycles".into(), cycles),
        ],
        // Series are measures, not variants: greys, so no variant's colour is borrowed.
        colours: vec![
            RGBColor(0x33, 0x33, 0x33),
            RGBColor(0x88, 0x88, 0x88),
            RGBColor(0xBB, 0xBB, 0xBB),
        ],
        log: false,
    })
}
