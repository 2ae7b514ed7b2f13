//! Progress on long operations (a run's steps, `discover setup`'s stages), drawn
//! with indicatif on stderr only when stderr is a terminal: scripts and `--json`
//! see nothing. The record of a run stays `events.jsonl`.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::engine::StepReport;

/// A bar over a run's steps: the step, the best score against the best known,
/// throughput and elapsed run time.
pub struct Progress {
    bar: Option<ProgressBar>,
    best_known: Option<f64>,
}

/// Whether progress should be drawn at all.
pub fn enabled(quiet: bool) -> bool {
    !quiet && std::io::stderr().is_terminal()
}

impl Progress {
    pub fn steps(on: bool, steps: u32, done: u32, best_known: Option<f64>) -> Progress {
        let bar = on.then(|| {
            let bar = ProgressBar::with_draw_target(Some(steps as u64), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{bar:24.cyan/blue} step {pos}/{len}  {msg}  [{elapsed}]")
                    .expect("a valid template")
                    .progress_chars("#>."),
            );
            bar.set_position(done as u64);
            bar
        });
        Progress { bar, best_known }
    }

    pub fn step(&self, r: &StepReport) {
        let Some(bar) = &self.bar else { return };
        let known = self.best_known.map_or(String::new(), |k| format!(" (known {k})"));
        bar.set_position(r.step as u64);
        let since = if r.new_best { "new".to_string() } else { format!("{:.0} s ago", r.seconds_since_best) };
        bar.set_message(format!("best {}{known} ({since})  {:.0} rollouts/s", r.best_score, r.rollouts_per_second));
    }

    /// Leave the bar's last state on screen.
    pub fn done(&self) {
        if let Some(bar) = &self.bar {
            bar.abandon();
        }
    }
}

/// A spinner with the current stage of a long operation (`discover setup`).
pub struct Stages {
    bar: Option<ProgressBar>,
}

impl Stages {
    pub fn new(on: bool) -> Stages {
        let bar = on.then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(ProgressStyle::with_template("{spinner} {msg} [{elapsed}]").expect("a valid template"));
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Stages { bar }
    }

    /// A new stage: the previous one's line stays, the spinner moves on.
    pub fn stage(&self, message: &str) {
        match &self.bar {
            Some(bar) => {
                if !bar.message().is_empty() {
                    bar.println(format!("  {}", bar.message()));
                }
                bar.set_message(message.to_string());
            }
            None => {}
        }
    }

    pub fn done(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
