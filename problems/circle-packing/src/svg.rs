//! An SVG picture of a packing: the unit square, each circle numbered.

use std::fmt::Write;

pub fn render(values: &[f64]) -> String {
    const SIZE: f64 = 600.0;
    let sum: f64 = values.chunks_exact(3).map(|c| c[2]).sum();
    let mut out = String::new();
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"-10 -30 {w} {h}\" width=\"{w}\" height=\"{h}\">\
         <rect x=\"-10\" y=\"-30\" width=\"{w}\" height=\"{h}\" fill=\"white\"/>\
         <text x=\"0\" y=\"-10\" font-family=\"sans-serif\" font-size=\"16\">{n} circles, sum of radii {sum:.12}</text>\
         <rect x=\"0\" y=\"0\" width=\"{SIZE}\" height=\"{SIZE}\" fill=\"none\" stroke=\"black\"/>",
        w = SIZE + 20.0,
        h = SIZE + 40.0,
        n = values.len() / 3,
    );
    for (i, c) in values.chunks_exact(3).enumerate() {
        let (x, y, r) = (c[0] * SIZE, (1.0 - c[1]) * SIZE, c[2].max(0.0) * SIZE);
        let _ = write!(
            out,
            "<circle cx=\"{x:.3}\" cy=\"{y:.3}\" r=\"{r:.3}\" fill=\"#9ecae1\" fill-opacity=\"0.7\" stroke=\"#08519c\"/>\
             <text x=\"{x:.3}\" y=\"{y:.3}\" font-family=\"sans-serif\" font-size=\"11\" text-anchor=\"middle\" dominant-baseline=\"middle\">{i}</text>"
        );
    }
    out.push_str("</svg>\n");
    out
}
