//! Polish a record with chosen temperatures of the L-BFGS refine, natively:
//! `cargo run --release -p autocorrelation --example polish_record -- ac1|ac2|ac3 FILE ITERATIONS WORK T1,T2,...`
//! (WORK in `REFINE_WORK`'s units). Prints the exact score before and after.
use autocorrelation::{lbfgs_refine_schedule, Ac1, Ac2, Ac3, Autocorrelation, Inequality};
use discover_guest::{Problem, Solution};

fn go<I: Inequality>(a: &[f64], its: usize, work: f64, temps: &[f64], out: Option<&String>) {
    let score = |a: &[f64]| Autocorrelation::<I>::evaluate(&Solution::new(a.to_vec())).unwrap().score.unwrap();
    let t = std::time::Instant::now();
    let (b, evals) = lbfgs_refine_schedule::<I>(a, its, work, temps);
    println!("{} -> {} ({evals} evaluations, {:.1} s)", score(a), score(&b), t.elapsed().as_secs_f64());
    if let Some(out) = out {
        std::fs::write(out, serde_json::json!({ "values": b }).to_string()).unwrap();
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&args[1]).unwrap()).unwrap();
    let a: Vec<f64> = json["values"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    let its: usize = args[2].parse().unwrap();
    let work: f64 = args[3].parse().unwrap();
    if args[4] == "prox" {
        // Prox-linear polishing of the largest entry of a * a (AC1, AC3).
        let before = autocorrelation::Ac1::bound(&a);
        let t = std::time::Instant::now();
        let (b, report) = autocorrelation::polish_minimax(&mut autocorrelation::SelfConvolution::new(a.len()), &a, its);
        let exact = |v: &[f64]| Autocorrelation::<Ac3>::evaluate(&Solution::new(v.to_vec())).unwrap().score.unwrap();
        println!("prox: {before} -> {} (exact {} -> {}), {report:?}, {:.1} s", autocorrelation::Ac1::bound(&b), exact(&a), exact(&b), t.elapsed().as_secs_f64());
        return;
    }
    let temps: Vec<f64> = args[4].split(',').map(|t| t.parse().unwrap()).collect();
    match args[0].as_str() {
        "ac1" => go::<Ac1>(&a, its, work, &temps, args.get(5)),
        "ac2" => go::<Ac2>(&a, its, work, &temps, args.get(5)),
        _ => go::<Ac3>(&a, its, work, &temps, args.get(5)),
    }
}
