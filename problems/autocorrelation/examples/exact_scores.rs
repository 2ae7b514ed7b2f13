//! The exact score of step-function states, natively, with more digits than a
//! double holds: how the certificates in docs/problems.md were compared.
//! `cargo run --release -p autocorrelation --example exact_scores -- ac1|ac2|ac3 FILE...`
use autocorrelation::{Ac1, Ac2, Ac3, Inequality};
use discover_guest::exact::Grid;

fn score<I: Inequality>(a: &[f64]) -> (f64, String) {
    let grid = Grid::new(a).expect("an exact grid");
    let ratio = I::exact_bound(&grid, &grid.sum());
    (ratio.to_f64(), ratio.decimal(25))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (which, files) = args.split_first().expect("usage: ac1|ac2|ac3 FILE...");
    for file in files {
        let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
        let a: Vec<f64> = json["values"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        let started = std::time::Instant::now();
        let (nearest, digits) = match which.as_str() {
            "ac1" => score::<Ac1>(&a),
            "ac2" => score::<Ac2>(&a),
            "ac3" => score::<Ac3>(&a),
            other => panic!("{other}: ac1, ac2 or ac3"),
        };
        println!("{file}: {nearest} (exact {digits}...), {} steps, {:.2} s", a.len(), started.elapsed().as_secs_f64());
    }
}
