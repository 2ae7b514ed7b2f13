//! # discover-report
//!
//! Reports of a run directory: reward curves as SVG and a summary, rebuilt from
//! `events.jsonl` alone (so `discover report` works on a finished, a killed or a
//! running run).

mod plot;

use anyhow::Result;
use serde::{Deserialize, Serialize};

use discover_engine::{Event, RunDir};

pub use plot::line_chart;

/// One point per completed step.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
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
pub fn curves(events: &[Event]) -> Curves {
    let mut c = Curves::default();
    for e in events {
        let Event::Step(e) = e else { continue };
        let r = &e.report;
        let step = r.step as f64;
        c.step.push(step);
        c.best_score.push(r.best_score);
        c.mean_reward.push(r.mean_reward);
        c.max_reward.push(r.max_reward);
        c.rollouts.push(r.rollouts as f64);
        c.elapsed_seconds.push(r.elapsed_seconds);
        // The policy's own figures: an LLM trainer's are `TrainStats` of discover-llm.
        if let Ok(t) = serde_json::from_value::<Trained>(e.policy.clone()) {
            if t.trained {
                c.training.push((step, t.kl_sampler, t.kl_base, t.grad_norm));
            }
        }
    }
    c
}

/// What a trained LLM policy's update reports, as far as the plots need it.
#[derive(Deserialize)]
struct Trained {
    #[serde(default)]
    trained: bool,
    #[serde(default = "nan")]
    kl_sampler: f64,
    #[serde(default = "nan")]
    kl_base: f64,
    #[serde(default = "nan")]
    grad_norm: f64,
}

fn nan() -> f64 {
    f64::NAN
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
    discover_engine::rundir::write_atomic(
        &dir.path("plots/best.svg"),
        line_chart(&format!("{title}: best score"), "step", &best).as_bytes(),
    )?;
    let rewards = [("mean reward", points(&c.mean_reward)), ("max reward", points(&c.max_reward))];
    discover_engine::rundir::write_atomic(
        &dir.path("plots/reward.svg"),
        line_chart(&format!("{title}: rewards per step"), "step", &rewards).as_bytes(),
    )?;
    if !c.training.is_empty() {
        let kl = [
            ("KL to the base model", c.training.iter().map(|t| (t.0, t.2)).collect()),
            ("KL to the sampler", c.training.iter().map(|t| (t.0, t.1)).collect()),
        ];
        discover_engine::rundir::write_atomic(
            &dir.path("plots/training.svg"),
            line_chart(&format!("{title}: test-time training"), "step", &kl).as_bytes(),
        )?;
    }
    Ok(())
}
