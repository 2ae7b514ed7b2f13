//! Wasm verifier vs the same Rust compiled natively.
//!
//! Run with `cargo xtask bench verify` (or `cargo bench -p discover --bench verify`).
//! Prints, per problem, the median time of one `evaluate` natively and inside the
//! sandbox (fuel metering and epoch deadline on, as in production), their ratio,
//! and the cost of creating a fresh instance, which every sandboxed call also pays.

use std::time::{Duration, Instant};

use discover::problem::{Problem, Solution};
use discover::sandbox::{ComponentCache, Sandbox};
use discover_guest::math::Rng;
use discover_guest::Problem as _;

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn show(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 1.0 {
        format!("{s:.3} s")
    } else if s >= 1e-3 {
        format!("{:.3} ms", s * 1e3)
    } else {
        format!("{:.2} us", s * 1e6)
    }
}

struct Row {
    name: String,
    native: Duration,
    wasm_run: Duration,
    instantiate: Duration,
    fuel: u64,
}

fn measure(
    name: &str,
    problem: &Problem,
    native: impl Fn(&discover_guest::Solution) -> f64,
    values: Vec<f64>,
    repeats: usize,
) -> Row {
    let guest = discover_guest::Solution::new(values.clone());
    let host = Solution::new(values);
    // Warm up both paths and check that they agree before timing anything.
    let expected = native(&guest);
    let (verdict, _) = problem.evaluate_with_stats(&host).expect("evaluate");
    assert_eq!(verdict.score, Some(expected), "{name}: wasm and native disagree");
    let mut native_times = Vec::new();
    let mut run_times = Vec::new();
    let mut inst_times = Vec::new();
    let mut fuel = 0;
    for _ in 0..repeats {
        let t = Instant::now();
        std::hint::black_box(native(std::hint::black_box(&guest)));
        native_times.push(t.elapsed());
        let (_, stats) = problem.evaluate_with_stats(&host).unwrap();
        run_times.push(stats.run);
        inst_times.push(stats.instantiate);
        fuel = stats.fuel_used;
    }
    Row {
        name: name.to_string(),
        native: median(native_times),
        wasm_run: median(run_times),
        instantiate: median(inst_times),
        fuel,
    }
}

fn main() {
    let cache = std::env::temp_dir().join("discover-bench-cache");
    let sandbox = Sandbox::new(ComponentCache::at(cache)).expect("sandbox");

    let cp = Problem::load(&sandbox, "circle-packing-26").unwrap();
    let cp_values = circle_packing::CirclePacking::<26>::initial(0).values;
    let mut ac1 = Problem::load(&sandbox, "autocorrelation-1").unwrap();
    ac1.limits.deadline = Duration::from_secs(60);
    let mut rng = Rng::new(1);
    let ac1_values: Vec<f64> = (0..30_000).map(|_| rng.uniform(0.0, 1.0)).collect();

    // A problem whose evaluate does almost nothing: the fixed cost of a call.
    let trivial = Problem::from_file(
        &sandbox,
        &std::path::Path::new(discover::problem::builtin::TEST_COMPONENTS_DIR).join("hostile_problem.wasm"),
    )
    .unwrap();

    let rows = [
        measure(
            "trivial evaluate (fixed cost)",
            &trivial,
            |s| hostile_problem::Hostile::evaluate(s).unwrap().score.unwrap(),
            vec![0.0; 78],
            2000,
        ),
        measure(
            "circle-packing-26",
            &cp,
            |s| circle_packing::CirclePacking::<26>::evaluate(s).unwrap().score.unwrap(),
            cp_values,
            2000,
        ),
        measure(
            "autocorrelation-1, 30000 steps",
            &ac1,
            |s| autocorrelation_1::Autocorrelation1::evaluate(s).unwrap().score.unwrap(),
            ac1_values,
            15,
        ),
    ];

    println!(
        "{:<32} {:>11} {:>11} {:>12} {:>12} {:>15} {:>14}",
        "problem", "native", "wasm run", "wasm/native", "instantiate", "(run+inst)/nat", "fuel used"
    );
    for r in &rows {
        let ratio = r.wasm_run.as_secs_f64() / r.native.as_secs_f64();
        let total = (r.wasm_run + r.instantiate).as_secs_f64() / r.native.as_secs_f64();
        println!(
            "{:<32} {:>11} {:>11} {:>11.2}x {:>12} {:>14.2}x {:>14}",
            r.name,
            show(r.native),
            show(r.wasm_run),
            ratio,
            show(r.instantiate),
            total,
            r.fuel
        );
    }
    println!("\nmedians; wasm runs with fuel metering and an epoch deadline, a fresh instance per call");
}
