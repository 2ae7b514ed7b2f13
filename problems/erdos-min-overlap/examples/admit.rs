//! Make an Erdos state admissible in exact arithmetic with the least change
//! (`admit`: a few heights raised by one ulp until the exact sum reaches
//! n/2), natively: `cargo run --release -p erdos-min-overlap --example admit -- IN OUT`.
//! How `tests/data/fixtures/erdos_haugland_51.json` was made admissible.
use discover_guest::{Problem, Solution};
use erdos_min_overlap::{admit, ErdosMinOverlap};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, output] = &args[..] else { panic!("usage: IN OUT") };
    let mut json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(input).unwrap()).unwrap();
    let h: Vec<f64> = json["values"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    let before = ErdosMinOverlap::evaluate(&Solution::new(h.clone())).unwrap();
    let admitted = admit(h.clone());
    let after = ErdosMinOverlap::evaluate(&Solution::new(admitted.clone())).unwrap();
    let moved = h.iter().zip(&admitted).filter(|(a, b)| a != b).count();
    println!("before: {:?}; after: {:?} ({moved} heights moved by an ulp)", before.reason.or(before.score.map(|s| s.to_string())), after.score);
    json["values"] = serde_json::json!(admitted);
    std::fs::write(output, serde_json::to_string(&json).unwrap()).unwrap();
}
