//! The summary a run, a resume and `discover report` print (`--json`: one object).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use serde::{Deserialize, Serialize};

use crate::engine::RunDir;
use crate::report;
use super::settings::*;

/// What `discover run`, `resume` and `report` print at the end (`--json`: this,
/// as one object).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Summary {
    pub problem: String,
    pub run_dir: PathBuf,
    /// Completed steps.
    pub steps: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps_planned: Option<u32>,
    pub rollouts: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollouts_this_session: Option<usize>,
    pub elapsed_seconds: f64,
    pub best_score: Option<f64>,
    pub best_step: Option<u32>,
    pub best_known: Option<f64>,
    pub best_solution: PathBuf,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trained: Option<bool>,
    pub policy_files: Option<PathBuf>,
    pub model: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub curves: Option<report::Curves>,
    /// The leaderboard page of the submitted best state (`--submit`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submission: Option<String>,
}

pub(crate) fn print_summary(s: &Summary) {
    let best = s.best_score.unwrap_or(f64::NAN);
    println!(
        "{}: best score {} (step {}) after {} steps, {} rollouts, {:.1} s",
        s.problem,
        best,
        s.best_step.map_or("-".to_string(), |b| b.to_string()),
        s.steps,
        s.rollouts,
        s.elapsed_seconds,
    );
    if let Some(known) = s.best_known {
        println!("best known {known} (difference {:+.3e})", best - known);
    }
    println!("best solution: {}", s.best_solution.display());
    if let Some(page) = &s.submission {
        println!("submitted to the leaderboard: {page}");
    }
    if let (Some(policy), Some(false)) = (&s.policy, s.trained) {
        if matches!(policy.as_str(), "openai" | "local") {
            println!("policy {policy}: sampling only (a frozen policy searching with reuse; no training)");
        }
    }
    if let Some(files) = &s.policy_files {
        let model = s.model.as_ref().map_or("MODEL".to_string(), |m| m.display().to_string());
        println!(
            "trained adapters: {} (serve them with `discover serve-model {model} --adapter {}`)",
            files.display(),
            files.display()
        );
    }
}

/// `discover report DIR`: rebuild the plots and print the summary from the files.
pub fn report(root: &Path, json: bool) -> Result<ExitCode> {
    let dir = RunDir::open(root)?;
    let config = RunConfig::read(&dir)?;
    let title = config.problem.rsplit('/').next().unwrap_or(&config.problem).to_string();
    report::write_plots(&dir, &title, config.best_known)?;
    let events = dir.events()?;
    let curves = report::curves(&events);
    let checkpoint = dir.load_checkpoint()?;
    let best = checkpoint.as_ref().map(|c| c.buffer.best().clone());
    let summary = Summary {
        problem: title,
        run_dir: dir.root().to_path_buf(),
        steps: checkpoint.as_ref().map_or(0, |c| c.step),
        steps_planned: Some(config.settings.steps),
        rollouts: checkpoint.as_ref().map_or(0, |c| c.buffer.total_rollouts()),
        rollouts_this_session: None,
        elapsed_seconds: checkpoint.as_ref().map_or(0.0, |c| c.elapsed_seconds),
        best_score: best.as_ref().map(|b| b.score),
        best_step: best.as_ref().map(|b| b.step),
        best_known: config.best_known,
        best_solution: dir.path("best/solution.json"),
        policy: None,
        trained: None,
        policy_files: None,
        model: None,
        curves: Some(curves),
        submission: None,
    };
    if json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        print_summary(&summary);
        println!("plots: {} and {}", dir.path("plots/best.svg").display(), dir.path("plots/reward.svg").display());
    }
    Ok(ExitCode::SUCCESS)
}
