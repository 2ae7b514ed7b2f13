//! Projected Adam against L-BFGS in `a = v^2`, natively, at equal iterations:
//! which refine to keep (BENCHMARKS.md, issue 34).
//! `cargo run --release -p autocorrelation --example compare_refine -- ITERATIONS [FILE PROBLEM]...`
//! With no files, five coarse initial states of each of AC1, AC2, AC3.
use autocorrelation::{adam_refine, lbfgs_refine, Ac1, Ac2, Ac3, Autocorrelation, Inequality};
use discover_guest::{Direction, Problem, Solution};

fn score<I: Inequality>(a: &[f64]) -> f64 {
    Autocorrelation::<I>::evaluate(&Solution::new(a.to_vec())).unwrap().score.unwrap_or(f64::NAN)
}

fn compare<I: Inequality>(label: &str, a: &[f64], iterations: usize) {
    let start = score::<I>(a);
    let t = std::time::Instant::now();
    let adam = score::<I>(&adam_refine::<I>(a, iterations));
    let adam_s = t.elapsed().as_secs_f64();
    let t = std::time::Instant::now();
    let lbfgs = score::<I>(&lbfgs_refine::<I>(a, iterations));
    let lbfgs_s = t.elapsed().as_secs_f64();
    let better = |x: f64, y: f64| if I::DIRECTION == Direction::Minimize { x < y } else { x > y };
    println!(
        "{} {label} ({} steps): start {start:.10}  adam {adam:.10} ({adam_s:.2} s)  lbfgs {lbfgs:.10} ({lbfgs_s:.2} s)  {}",
        I::ID,
        a.len(),
        if better(lbfgs, adam) { "lbfgs" } else { "adam" }
    );
}

fn read(file: &str) -> Vec<f64> {
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    json["values"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let iterations: usize = args.first().map(|a| a.parse().unwrap()).unwrap_or(1000);
    if args.len() <= 1 {
        for seed in 0..5 {
            let a = Autocorrelation::<Ac1>::initial(seed).values;
            compare::<Ac1>(&format!("seed {seed}"), &a, iterations);
            compare::<Ac2>(&format!("seed {seed}"), &a, iterations);
            compare::<Ac3>(&format!("seed {seed}"), &a, iterations);
        }
    }
    for pair in args[1..].chunks(2) {
        let a = read(&pair[0]);
        match pair[1].as_str() {
            "ac1" => compare::<Ac1>(&pair[0], &a, iterations),
            "ac2" => compare::<Ac2>(&pair[0], &a, iterations),
            "ac3" => compare::<Ac3>(&pair[0], &a, iterations),
            other => panic!("{other}"),
        }
    }
}
