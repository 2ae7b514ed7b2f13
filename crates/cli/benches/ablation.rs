//! The ablation of `docs/algorithm.md` section "Ablations", with the numeric policy.
//!
//! Run with `cargo xtask bench ablation [--seeds N] [--scale F] [--problem ID]
//! [--sigma-spread TAU]`
//! (or `cargo bench -p discover --bench ablation -- ...`). For each problem and
//! each configuration it runs the same evaluation budget (steps x groups x group
//! size rollouts, each perturb -> refine -> evaluate in the sandbox) for every
//! seed, and prints the median, worst and best of the best scores, with the
//! median wall time so that equal budgets can be seen to be equal time too.
//!
//! Configurations: entropic + PUCT (the method), entropic + no reuse, mean +
//! PUCT, mean + no reuse, and random restarts (fresh initial states + the same
//! refine: what a user would do without us).

use std::time::Instant;

use discover::engine::{Objective, Reuse, Run, Settings};
use discover::policy::{Numeric, Policy, Restarts};
use discover::rollout::ProblemEnv;
use discover::problem::{Direction, Problem};
use discover::sandbox::{ComponentCache, Sandbox};

struct Config {
    name: &'static str,
    objective: Objective,
    reuse: Reuse,
    restarts: bool,
}

const CONFIGS: [Config; 5] = [
    Config { name: "entropic + puct", objective: Objective::Entropic, reuse: Reuse::Puct, restarts: false },
    Config { name: "entropic + none", objective: Objective::Entropic, reuse: Reuse::None, restarts: false },
    Config { name: "mean + puct", objective: Objective::Mean, reuse: Reuse::Puct, restarts: false },
    Config { name: "mean + none", objective: Objective::Mean, reuse: Reuse::None, restarts: false },
    Config { name: "random restarts", objective: Objective::Entropic, reuse: Reuse::None, restarts: true },
];

/// (problem, steps, groups, group size, refine effort)
const PROBLEMS: [(&str, u32, usize, usize, u32); 2] =
    [("circle-packing-26", 20, 8, 16, 1000), ("erdos-min-overlap", 10, 8, 16, 300)];

#[path = "flags.rs"]
mod flags;

const USAGE: &str = "\
usage: cargo xtask bench ablation [--seeds N] [--scale F] [--problem ID] [--sigma-spread TAU]

  --seeds N           seeds per configuration (default 5)
  --scale F           multiply every problem's steps by F (default 1)
  --problem ID        only this problem (default: all)
  --sigma-spread TAU  the numeric policy's per-proposal log-scale spread, as
                      `discover run --sigma-spread` (default: discover run's, 1;
                      0 is one sigma for all proposals, the policy before it)";

fn main() {
    let args = flags::Args::parse(USAGE, &["--seeds", "--scale", "--problem", "--sigma-spread"], &[]);
    let seeds: u64 = args.value("--seeds").unwrap_or(5);
    let scale: f64 = args.value("--scale").unwrap_or(1.0);
    let only: Option<String> = args.value("--problem");
    let spread: f64 = args.value("--sigma-spread").unwrap_or(discover::policy::numeric::DEFAULT_SPREAD);
    if !(spread.is_finite() && (0.0..=5.0).contains(&spread)) {
        flags::refuse(&format!("--sigma-spread must be in [0, 5], got {spread}"), USAGE);
    }
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let sandbox = Sandbox::new(ComponentCache::user_default()).expect("sandbox");
    println!("ablation: {seeds} seeds, {workers} workers, numeric policy (sigma 0.2, lr 0.1, sigma spread {spread})");
    for (id, steps, groups, group_size, effort) in PROBLEMS {
        if only.as_deref().is_some_and(|p| p != id) {
            continue;
        }
        let problem = Problem::load(&sandbox, id).expect("built-in problem");
        let direction = problem.spec().direction;
        let steps = ((steps as f64 * scale).round() as u32).max(1);
        let budget = steps as usize * groups * group_size;
        let known = problem.spec().best_known.as_ref().map_or(f64::NAN, |b| b.value);
        println!(
            "\n{id} ({direction}, best known {known}): {budget} rollouts per run = {steps} steps x {groups} groups x {group_size}, refine effort {effort}"
        );
        println!("{:<18} {:>14} {:>14} {:>14} {:>10}", "config", "median best", "worst", "best", "median s");
        // A bar over this problem's runs on a terminal (stderr), nothing in logs.
        let bar = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            indicatif::ProgressBar::new((CONFIGS.len() as u64) * seeds)
        } else {
            indicatif::ProgressBar::hidden()
        };
        for config in &CONFIGS {
            let mut scores = Vec::new();
            let mut times = Vec::new();
            for seed in 0..seeds {
                bar.set_message(format!("{} seed {seed}", config.name));
                let env = ProblemEnv::new(std::sync::Arc::new(problem.clone()), effort);
                let mut policy: Box<dyn Policy> = if config.restarts {
                    Box::new(Restarts)
                } else {
                    // The policy `discover run` builds (upsampling on step functions).
                    Box::new(Numeric::for_shape(&problem.spec().shape, 0.2, 0.1, None).with_spread(spread))
                };
                let settings = Settings {
                    steps,
                    groups,
                    group_size,
                    objective: config.objective,
                    reuse: config.reuse,
                    seed,
                    workers,
                    time_limit_seconds: None,
                    stall_limit_seconds: None,
                    checkpoint_every: discover::engine::run::default_checkpoint_every(),
                };
                let clock = Instant::now();
                let mut run = Run::start(settings, direction, &env, policy.as_mut(), None).expect("run starts");
                while !run.finished() {
                    run.step().expect("step");
                }
                times.push(clock.elapsed().as_secs_f64());
                scores.push(run.buffer.best().score);
                bar.inc(1);
            }
            // Sort best-first for this problem's direction.
            scores.sort_by(|a, b| match direction {
                Direction::Maximize => b.total_cmp(a),
                Direction::Minimize => a.total_cmp(b),
            });
            times.sort_by(f64::total_cmp);
            let median = |v: &[f64]| v[v.len() / 2];
            bar.suspend(|| println!(
                "{:<18} {:>14.8} {:>14.8} {:>14.8} {:>10.1}",
                config.name,
                median(&scores),
                scores[scores.len() - 1],
                scores[0],
                median(&times)
            ));
        }
        bar.finish_and_clear();
    }
}
