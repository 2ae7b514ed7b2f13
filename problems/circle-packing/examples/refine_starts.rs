//! Random starts + refine, natively: how good and how fast one refine is.
//! `cargo run --release -p circle-packing --example refine_starts -- EFFORT STARTS`
use circle_packing::CirclePacking;
use discover_guest::{Problem, Solution};
fn main() {
    let args: Vec<u32> = std::env::args().skip(1).map(|a| a.parse().unwrap()).collect();
    let (effort, starts) = (args.first().copied().unwrap_or(300), args.get(1).copied().unwrap_or(20));
    let t = std::time::Instant::now();
    let mut scores = Vec::new();
    for seed in 0..starts as u64 {
        let s = CirclePacking::<26>::initial(seed);
        let r = CirclePacking::<26>::refine(&s, effort).unwrap();
        let v = CirclePacking::<26>::evaluate(&Solution::new(r.values)).unwrap();
        assert!(v.valid);
        scores.push(v.score.unwrap_or(f64::NAN));
    }
    scores.sort_by(|a, b| b.partial_cmp(a).unwrap());
    println!("effort {effort}: {:.1} ms/refine, best {:.6} median {:.6}", t.elapsed().as_secs_f64() * 1e3 / starts as f64, scores[0], scores[scores.len() / 2]);
}
