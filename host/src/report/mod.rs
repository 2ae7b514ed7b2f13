//! Reports of a run directory: reward curves as SVG and a summary, rebuilt from
//! `events.jsonl` alone (so `discover report` works on a finished, a killed or a
//! running run).

mod plot;

use anyhow::Result;
use serde::Serialize;
use serde_json::Value;

use crate::engine::RunDir;

pub use plot::line_chart;

/// One point per completed step.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Curves {
    pub step: Vec<f64>,
    pub best_score: Vec<f64>,
    pub mean_reward: Vec<f64>,
    pub max_reward: Vec<f64>,
    pub rollouts: Vec<f64>,
    pub elapsed_seconds: Vec<f64>,
    /// Steps that trained an LLM policy: (step, KL to the sampler, KL to the
    /// base model, gradient norm).
    pub training: Vec<(f64, f64, f64, f64)>,
}

/// Read the step events of a run.
pub fn curves(events: &[Value]) -> Curves {
    let mut c = Curves::default();
    for e in events.iter().filter(|e| e["type"] == "step") {
        let f = |k: &str| e[k].as_f64().unwrap_or(f64::NAN);
        c.step.push(f("step"));
        c.best_score.push(f("best_score"));
        c.mean_reward.push(f("mean_reward"));
        c.max_reward.push(f("max_reward"));
        c.rollouts.push(f("rollouts"));
        c.elapsed_seconds.push(f("elapsed_seconds"));
        let p = &e["policy"];
        if p["trained"] == true {
            let g = |k: &str| p[k].as_f64().unwrap_or(f64::NAN);
            c.training.push((f("step"), g("kl_sampler"), g("kl_base"), g("grad_norm")));
        }
    }
    c
}

/// Write `plots/best.svg` (best score per step, with the best known value as a
/// line), `plots/reward.svg` (mean and max reward per step) and, for a trained
/// LLM policy, `plots/training.svg` (the KL to the sampler and to the base model).
pub fn write_plots(dir: &RunDir, title: &str, best_known: Option<f64>) -> Result<()> {
    let c = curves(&dir.events()?);
    let points = |ys: &[f64]| c.step.iter().copied().zip(ys.iter().copied()).collect::<Vec<_>>();
    let mut best = vec![("best score", points(&c.best_score))];
    if let (Some(known), Some(&last)) = (best_known, c.step.last()) {
        best.push(("best known", vec![(c.step[0], known), (last, known)]));
    }
    crate::engine::rundir::write_atomic(
        &dir.path("plots/best.svg"),
        line_chart(&format!("{title}: best score"), "step", &best).as_bytes(),
    )?;
    let rewards = [("mean reward", points(&c.mean_reward)), ("max reward", points(&c.max_reward))];
    crate::engine::rundir::write_atomic(
        &dir.path("plots/reward.svg"),
        line_chart(&format!("{title}: rewards per step"), "step", &rewards).as_bytes(),
    )?;
    if !c.training.is_empty() {
        let kl = [
            ("KL to the base model", c.training.iter().map(|t| (t.0, t.2)).collect()),
            ("KL to the sampler", c.training.iter().map(|t| (t.0, t.1)).collect()),
        ];
        crate::engine::rundir::write_atomic(
            &dir.path("plots/training.svg"),
            line_chart(&format!("{title}: test-time training"), "step", &kl).as_bytes(),
        )?;
    }
    Ok(())
}
