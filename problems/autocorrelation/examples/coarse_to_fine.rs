//! Why the autocorrelation problems start coarse: refine from random starts
//! at a few lengths, then the best coarse state doubled and refined, against
//! refine from random starts at 600 steps (the old initial length). Native,
//! one core; prints figures, asserts nothing.
//!
//! ```text
//! cargo run --release -p autocorrelation --example coarse_to_fine -- [SEEDS] [EFFORT]
//! ```
//!
//! Every refine is the problem's own (`Problem::refine`, `EFFORT` iterations,
//! default 4000), two rounds per state; `SEEDS` random starts per length
//! (default 40).

use std::time::Instant;

use autocorrelation::{Ac1, Ac2, Autocorrelation, Inequality};
use discover_guest::math::{upsample, Rng};
use discover_guest::{Direction, Problem, Solution};

fn refine2<I: Inequality>(a: Vec<f64>, effort: u32) -> Vec<f64> {
    let once = |a: Vec<f64>| Autocorrelation::<I>::refine(&Solution::new(a), effort).expect("refine").values;
    once(once(a))
}

fn random(n: usize, seed: u64) -> Vec<f64> {
    let mut rng = Rng::new(seed);
    (0..n).map(|_| rng.uniform(0.0, 1.0)).collect()
}

fn report<I: Inequality>(seeds: u64, effort: u32) {
    println!("{} (best known {}), {seeds} random starts per length, refine {effort} x 2", I::ID, I::BEST_KNOWN.0);
    println!("{:>7} {:>12} {:>12} {:>9}", "length", "best", "median", "seconds");
    let mut coarse_best: Option<(f64, Vec<f64>)> = None;
    for n in [25, 50, 100, 200, 600] {
        let clock = Instant::now();
        let mut found: Vec<(f64, Vec<f64>)> = (1..=seeds)
            .map(|seed| {
                let a = refine2::<I>(random(n, seed), effort);
                (I::bound(&a), a)
            })
            .collect();
        // Best first.
        found.sort_by(|x, y| match I::DIRECTION {
            Direction::Minimize => x.0.total_cmp(&y.0),
            Direction::Maximize => y.0.total_cmp(&x.0),
        });
        println!("{n:>7} {:>12.7} {:>12.7} {:>9.1}", found[0].0, found[found.len() / 2].0, clock.elapsed().as_secs_f64());
        if n == 50 {
            coarse_best = Some(found.swap_remove(0));
        }
    }
    let (mut score, mut a) = coarse_best.expect("50 is in the list");
    let clock = Instant::now();
    println!("the best 50-step state, doubled and refined (x 2) each time:");
    println!("{:>7} {:>12.7}", a.len(), score);
    for _ in 0..4 {
        a = refine2::<I>(upsample(&a, 2), effort);
        score = I::bound(&a);
        println!("{:>7} {:>12.7} {:>9.1}", a.len(), score, clock.elapsed().as_secs_f64());
    }
    println!();
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let seeds = args.first().map(|s| s.parse().expect("SEEDS: a whole number")).unwrap_or(40);
    let effort = args.get(1).map(|s| s.parse().expect("EFFORT: a whole number")).unwrap_or(4000);
    report::<Ac1>(seeds, effort);
    report::<Ac2>(seeds, effort);
}
