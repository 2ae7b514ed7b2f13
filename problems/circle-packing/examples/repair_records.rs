//! Repair published packings to exact validity, natively, as `discover refine
//! circle-packing-N FILE --effort 200 --rounds 1` does in the sandbox, then
//! grow every radius to exact contact (`inflate`):
//! `cargo run --release -p circle-packing --example repair_records -- N IN OUT`.
//! How `tests/data/fixtures/cp{26,32}_alphaevolve_repaired.json` were made.
use circle_packing::CirclePacking;
use discover_guest::{Problem, Solution};

fn repair<const N: usize>(values: Vec<f64>) -> (Vec<f64>, f64) {
    let refined = CirclePacking::<N>::refine(&Solution::new(values), 200).expect("refine");
    let grown = Solution::new(circle_packing::inflate(&refined.values));
    let verdict = CirclePacking::<N>::evaluate(&grown).unwrap();
    assert!(verdict.valid, "{:?}", verdict.reason);
    (grown.values, verdict.score.unwrap())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [n, input, output] = &args[..] else { panic!("usage: N IN OUT") };
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(input).unwrap()).unwrap();
    let values: Vec<f64> = json["values"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    let (values, score) = match n.as_str() {
        "26" => repair::<26>(values),
        "32" => repair::<32>(values),
        _ => panic!("N is 26 or 32"),
    };
    let out = serde_json::json!({ "values": values, "score": score });
    std::fs::write(output, serde_json::to_string(&out).unwrap()).unwrap();
    println!("{score}");
}
