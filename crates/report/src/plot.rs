//! A dependency-free SVG line chart: axes with round-number ticks (1, 2 or 5
//! times a power of ten; whole numbers only on an axis of steps), one polyline
//! per series, and a legend in its own band above the plot, clear of the data.
//! Enough for reward curves; not a plotting library.

use std::fmt::Write;

const W: f64 = 720.0;
const H: f64 = 420.0;
const LEFT: f64 = 90.0;
const RIGHT: f64 = 20.0;
const BOTTOM: f64 = 50.0;
const COLOURS: [&str; 4] = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"];

/// Round-number ticks covering `[lo, hi]`: about `target` of them, spaced by
/// 1, 2 or 5 times a power of ten (at least 1 when `integer`). The first and
/// last tick enclose the range, so they are the axis's ends.
pub fn nice_ticks(lo: f64, hi: f64, target: usize, integer: bool) -> Vec<f64> {
    let (lo, hi) = if hi > lo { (lo, hi) } else { (lo - 0.5, lo + 0.5) };
    let raw = (hi - lo) / target.max(1) as f64;
    let magnitude = 10f64.powf(raw.log10().floor());
    let mut step = [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * magnitude).find(|&s| s >= raw).unwrap_or(10.0 * magnitude);
    if integer {
        step = step.max(1.0).round();
    }
    let first = (lo / step).floor() as i64;
    let last = (hi / step).ceil() as i64;
    // Multiply, not accumulate: 0.1 * 3 prints as 0.30000000000000004 less often
    // than three additions do, and `tick` rounds what is left.
    (first..=last).map(|k| k as f64 * step).collect()
}

/// An SVG chart of `series` (name, points). Non-finite points are skipped.
/// `x_label` "step" (or any x that holds only whole numbers) gets whole-number ticks.
pub fn line_chart(title: &str, x_label: &str, series: &[(&str, Vec<(f64, f64)>)]) -> String {
    let finite = || series.iter().flat_map(|s| s.1.iter()).filter(|(x, y)| x.is_finite() && y.is_finite());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, f64::NEG_INFINITY);
    for &(x, y) in finite() {
        (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
    }
    if !x0.is_finite() {
        (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
    }
    let integer_x = finite().all(|&(x, _)| x.fract() == 0.0);
    if y1 <= y0 {
        let pad = y0.abs().max(1e-12) * 1e-6;
        (y0, y1) = (y0 - pad, y1 + pad);
    }
    let xt = nice_ticks(x0, x1, 5, integer_x);
    let yt = nice_ticks(y0, y1, 5, false);
    let (x0, x1) = (xt[0], xt[xt.len() - 1]);
    let (y0, y1) = (yt[0], yt[yt.len() - 1]);
    // The legend's band: one row of entries under the title, above the plot.
    let named: Vec<usize> = (0..series.len()).collect();
    let per_row = 4;
    let rows = named.len().div_ceil(per_row);
    let top = 40.0 + 18.0 * rows as f64;
    let px = |x: f64| LEFT + (x - x0) / (x1 - x0) * (W - LEFT - RIGHT);
    let py = |y: f64| H - BOTTOM - (y - y0) / (y1 - y0) * (H - top - BOTTOM);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">"#
    );
    let _ = write!(svg, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
    let _ = write!(svg, r#"<text x="{}" y="22" text-anchor="middle" font-size="15">{}</text>"#, W / 2.0, escape(title));
    let _ = write!(svg, r#"<path d="M{LEFT} {top} V{} H{}" fill="none" stroke="black"/>"#, H - BOTTOM, W - RIGHT);
    for &xv in &xt {
        let _ = write!(svg, r#"<text x="{:.1}" y="{}" text-anchor="middle">{}</text>"#, px(xv), H - BOTTOM + 18.0, tick(xv));
    }
    for &yv in &yt {
        let _ = write!(svg, r#"<text x="{}" y="{:.1}" text-anchor="end">{}</text>"#, LEFT - 6.0, py(yv) + 4.0, tick(yv));
        let _ = write!(svg, r##"<path d="M{LEFT} {:.1} H{}" stroke="#ddd"/>"##, py(yv), W - RIGHT);
    }
    let _ = write!(svg, r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#, (LEFT + W - RIGHT) / 2.0, H - 12.0, escape(x_label));
    for (k, (name, points)) in series.iter().enumerate() {
        let colour = COLOURS[k % COLOURS.len()];
        let path: Vec<String> = points
            .iter()
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .map(|&(x, y)| format!("{:.2},{:.2}", px(x), py(y)))
            .collect();
        let _ = write!(svg, r#"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="2"/>"#, path.join(" "));
        let lx = LEFT + (W - LEFT - RIGHT) / per_row as f64 * (k % per_row) as f64;
        let ly = 40.0 + 18.0 * (k / per_row) as f64;
        let _ = write!(svg, r#"<rect class="legend" x="{lx}" y="{}" width="14" height="3" fill="{colour}"/>"#, ly - 4.0);
        let _ = write!(svg, r#"<text class="legend" x="{}" y="{ly}">{}</text>"#, lx + 20.0, escape(name));
    }
    svg.push_str("</svg>\n");
    svg
}

fn tick(v: f64) -> String {
    if v != 0.0 && (v.abs() < 1e-3 || v.abs() >= 1e5) {
        format!("{v:.3e}")
    } else {
        // Ticks are round numbers; printing them with a bounded number of
        // digits drops the float noise of k * step.
        format!("{v:.9}").trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chart_has_one_polyline_per_series_and_survives_odd_input() {
        let svg = line_chart("t <1>", "step", &[("a", vec![(1.0, 2.0), (2.0, 3.0)]), ("b", vec![(1.0, f64::NAN)])]);
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains("t &lt;1&gt;"));
        let flat = line_chart("flat", "step", &[("a", vec![(1.0, 2.0)])]);
        assert!(!flat.contains("NaN") && !flat.contains("inf"));
        let empty = line_chart("empty", "step", &[]);
        assert!(empty.ends_with("</svg>\n"));
    }

    #[test]
    fn ticks_are_round_numbers_enclosing_the_range() {
        assert_eq!(nice_ticks(0.0, 1.0, 5, false), vec![0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]);
        assert_eq!(nice_ticks(1.0, 203.0, 5, true), vec![0.0, 50.0, 100.0, 150.0, 200.0, 250.0]);
        // Few steps: whole numbers, never 0.5.
        assert_eq!(nice_ticks(1.0, 3.0, 5, true), vec![1.0, 2.0, 3.0]);
        let t = nice_ticks(2.6359, 2.63598, 5, false);
        assert!(t[0] <= 2.6359 && *t.last().unwrap() >= 2.63598 && t.len() <= 7, "{t:?}");
        assert_eq!(tick(0.6000000000000001), "0.6");
        assert_eq!(nice_ticks(5.0, 5.0, 5, true), vec![4.0, 5.0, 6.0]);
    }

    /// The x labels of a chart, in order.
    fn x_labels(svg: &str) -> Vec<String> {
        svg.split(r#"text-anchor="middle">"#).skip(1).filter_map(|s| s.split('<').next()).map(str::to_string).collect()
    }

    #[test]
    fn step_axes_label_whole_steps_and_the_legend_stays_above_the_data() {
        // 1..=203 steps used to be labelled 1, 51.5, 102, 152.5, 203.
        let rewards: Vec<(f64, f64)> = (1..=203).map(|s| (s as f64, (s as f64).sqrt())).collect();
        let svg = line_chart("r", "step", &[("max", rewards.clone()), ("mean", rewards)]);
        let labels = x_labels(&svg);
        assert!(labels.iter().any(|l| l == "100"), "{labels:?}");
        assert!(labels.iter().all(|l| !l.contains('.')), "{labels:?}");
        // Every legend element sits above the plot area's top edge (the axis path starts there).
        let top: f64 = svg.split(r#"<path d="M90 "#).nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
        for part in svg.split(r#"class="legend" "#).skip(1) {
            let y: f64 = part.split(r#"y=""#).nth(1).unwrap().split('"').next().unwrap().parse().unwrap();
            assert!(y < top, "legend at y {y}, plot from {top}");
        }
        // The max-reward line's highest point is inside the plot, below the legend.
        let polyline = svg.split(r#"<polyline points=""#).nth(1).unwrap().split('"').next().unwrap();
        let min_y = polyline.split(' ').map(|p| p.split(',').nth(1).unwrap().parse::<f64>().unwrap()).fold(f64::INFINITY, f64::min);
        assert!(min_y >= top, "{min_y} {top}");
    }
}
