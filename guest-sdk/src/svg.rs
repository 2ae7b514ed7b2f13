//! Minimal SVG pictures for `render_svg`.

use std::fmt::Write;

/// A step function drawn as bars over `[x0, x1]`, with a caption.
pub fn step_function(values: &[f64], x0: f64, x1: f64, caption: &str) -> String {
    const W: f64 = 800.0;
    const H: f64 = 300.0;
    let top = values.iter().copied().filter(|v| v.is_finite()).fold(0.0f64, f64::max);
    let top = if top > 0.0 { top } else { 1.0 };
    let dx = W / values.len().max(1) as f64;
    let mut out = String::new();
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"-40 -30 {w} {h}\" width=\"{w}\" height=\"{h}\">\
         <rect x=\"-40\" y=\"-30\" width=\"{w}\" height=\"{h}\" fill=\"white\"/>\
         <text x=\"0\" y=\"-10\" font-family=\"sans-serif\" font-size=\"14\">{caption}</text>\
         <line x1=\"0\" y1=\"{H}\" x2=\"{W}\" y2=\"{H}\" stroke=\"black\"/>\
         <line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"{H}\" stroke=\"black\"/>\
         <text x=\"0\" y=\"{ly}\" font-family=\"sans-serif\" font-size=\"11\">{x0}</text>\
         <text x=\"{W}\" y=\"{ly}\" font-family=\"sans-serif\" font-size=\"11\" text-anchor=\"end\">{x1}</text>\
         <text x=\"-4\" y=\"4\" font-family=\"sans-serif\" font-size=\"11\" text-anchor=\"end\">{top:.3}</text>",
        w = W + 60.0,
        h = H + 60.0,
        ly = H + 16.0,
    );
    let mut path = format!("M0 {H}");
    for (i, &v) in values.iter().enumerate() {
        let y = H - H * (v.max(0.0) / top).min(1.0);
        let _ = write!(path, " L{:.2} {y:.2} L{:.2} {y:.2}", i as f64 * dx, (i + 1) as f64 * dx);
    }
    let _ = write!(path, " L{W} {H} Z");
    let _ = write!(out, "<path d=\"{path}\" fill=\"#9ecae1\" stroke=\"#08519c\" stroke-width=\"0.5\"/></svg>\n");
    out
}
