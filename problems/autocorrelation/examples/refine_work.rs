//! How many surrogate evaluations one refine makes, natively (the work unit
//! of `REFINE_WORK` is calibrated against the sandbox's fuel with it):
//! `cargo run --release -p autocorrelation --example refine_work -- ac1|ac3 FILE EFFORT`.
use autocorrelation::{iterations, lbfgs_refine_within, Ac1, Ac3, REFINE_WORK};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&args[1]).unwrap()).unwrap();
    let a: Vec<f64> = json["values"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    let effort: u32 = args[2].parse().unwrap();
    let its = iterations(effort, a.len());
    let t = std::time::Instant::now();
    let (_, evals) = match args[0].as_str() {
        "ac1" => lbfgs_refine_within::<Ac1>(&a, its, REFINE_WORK),
        _ => lbfgs_refine_within::<Ac3>(&a, its, REFINE_WORK),
    };
    let plan = (2 * a.len() - 1).next_power_of_two() as f64;
    println!("{} steps, {its} iterations: {evals} evaluations, {:.0} work units, {:.2} s", a.len(), evals as f64 * plan * plan.log2(), t.elapsed().as_secs_f64());
}
