//! `discover refine`: a problem's local optimiser on one solution, in rounds.
//!
//! A rollout refines for `--effort` iterations and moves on; where a run has
//! stalled, one long refine of its best state can still go on (measured on
//! autocorrelation-1, BENCHMARKS.md). Each round is one sandboxed `refine` call
//! (fuel cap and the 60 s refine deadline), from the previous round's result;
//! only a valid state that scores better than the best so far replaces it, and
//! the best is written atomically, so an error or a kill loses nothing.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;
use serde_json::json;

use crate::contract::fs::write_atomic;
use crate::problem::{read_solution_file, solution_json, Problem, Solution};
use crate::sandbox::SandboxError;

use super::pack::Catalog;

#[derive(Args, Debug)]
pub struct RefineArgs {
    /// A built-in problem id, or the path of a problem component (.wasm).
    pub(crate) problem: String,
    /// The solution to start from (a solution file or a record fixture).
    pub(crate) solution: PathBuf,
    /// Work per round: optimiser iterations (what `discover run --effort` gives a
    /// rollout; the autocorrelation bounds do proportionally fewer above 1024 steps,
    /// and the built-ins cut what would not fit the sandbox's fuel).
    #[arg(long, default_value_t = 4000)]
    pub(crate) effort: u32,
    /// Rounds, each refining the previous round's result.
    #[arg(long, default_value_t = 1)]
    pub(crate) rounds: u32,
    /// Where to write the best valid state (the start itself if no round improved it).
    #[arg(long, value_name = "FILE")]
    pub(crate) out: PathBuf,
    /// Print {"problem","start","score","rounds","improved","seconds","out"} as JSON
    /// instead of a line per round.
    #[arg(long)]
    pub(crate) json: bool,
}

pub fn refine(catalog: &Catalog, args: RefineArgs) -> Result<ExitCode> {
    if args.effort == 0 || args.rounds == 0 {
        bail!("--effort and --rounds must be at least 1");
    }
    let start = read_solution_file(&args.solution)?;
    let problem = super::construction(catalog, &args.problem)?;
    let id = problem.spec().id.clone();
    let direction = problem.spec().direction;
    let start_score = valid_score(&problem, &start)?;
    let mut best: Option<(Solution, f64)> = start_score.map(|score| (start.clone(), score));
    // A valid start goes to --out too (when no round improves on it), once.
    let mut unsaved = best.is_some();
    let (clock, mut rounds, mut improved) = (Instant::now(), 0, 0);
    while rounds < args.rounds {
        // Each round starts from the best state so far: after a round that
        // improved, that is the round's result.
        let current = best.as_ref().map_or(&start, |(s, _)| s);
        let next = match problem.refine(current, args.effort) {
            Ok(Some(next)) => next,
            Ok(None) => bail!("{id} offers no refine (its component does not implement one)"),
            Err(e @ SandboxError::Deadline { .. }) => {
                save(&args, best.as_ref(), &mut unsaved)?;
                bail!("{id}: round {} ran out of time ({e}); use a smaller --effort and more --rounds", rounds + 1)
            }
            Err(e) => {
                save(&args, best.as_ref(), &mut unsaved)?;
                return Err(e).with_context(|| format!("{id}: refine failed in round {}", rounds + 1));
            }
        };
        rounds += 1;
        let score = valid_score(&problem, &next)?;
        let better = match (score, &best) {
            (Some(s), Some((_, b))) => direction.better(s, *b),
            (Some(_), None) => true,
            (None, _) => false,
        };
        if better {
            best = Some((next, score.expect("better implies valid")));
            improved += 1;
            unsaved = true;
            save(&args, best.as_ref(), &mut unsaved)?;
        }
        if !args.json {
            let shown = score.map_or("invalid".to_string(), |s| s.to_string());
            let best_shown = best.as_ref().map_or("none valid".to_string(), |(_, b)| b.to_string());
            eprintln!("round {rounds}/{}: {shown} (best {best_shown}, {:.1} s)", args.rounds, clock.elapsed().as_secs_f64());
        }
        // refine is deterministic: after a round that gained nothing the next
        // would start from (nearly) the same state and gain nothing either.
        if !better {
            break;
        }
    }
    save(&args, best.as_ref(), &mut unsaved)?;
    let seconds = clock.elapsed().as_secs_f64();
    let score = best.as_ref().map(|(_, s)| *s);
    if args.json {
        let out = json!({
            "problem": id,
            "start": start_score,
            "score": score,
            "rounds": rounds,
            "improved": improved,
            "seconds": seconds,
            "out": score.map(|_| args.out.display().to_string()),
        });
        println!("{out}");
    } else {
        let from = start_score.map_or("an invalid start".to_string(), |s| s.to_string());
        match score {
            Some(s) => println!("{id}: {from} -> {s} in {rounds} rounds of effort {} ({seconds:.1} s); written to {}", args.effort, args.out.display()),
            None => println!("{id}: no valid state after {rounds} rounds from {from}; nothing written"),
        }
    }
    Ok(if score.is_some() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// The score of `s` if the problem's verifier calls it valid.
fn valid_score(problem: &Problem, s: &Solution) -> Result<Option<f64>> {
    let verdict = problem.evaluate(s).with_context(|| format!("{} failed to evaluate a state", problem.spec().id))?;
    Ok(if verdict.valid { verdict.score } else { None })
}

/// Write the best state so far to `--out` (atomically) if it is not there
/// yet; nothing when there is none.
fn save(args: &RefineArgs, best: Option<&(Solution, f64)>, unsaved: &mut bool) -> Result<()> {
    if let (Some((solution, _)), true) = (best, *unsaved) {
        write_atomic(&args.out, solution_json(solution).as_bytes())
            .with_context(|| format!("cannot write {}", args.out.display()))?;
        *unsaved = false;
    }
    Ok(())
}
