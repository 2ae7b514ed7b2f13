//! One discovery run: the training step of `docs/algorithm.md`, repeated.
//!
//! ```text
//! B start states  <- buffer.select(reuse, B)
//! for each start state (group), k rollouts:   a ~ policy(. | s); child, reward <- execute(a, s)
//! buffer.insert(child); PUCT stats update      (in rollout order, so runs are reproducible)
//! buffer.flush()
//! drop groups whose rewards are all equal; A <- advantages(rewards of each group)
//! policy.update(batch of (a, A)); checkpoint (the policy's files every K steps)
//! ```
//! Rollouts of a step run concurrently on `workers` threads; their results are
//! applied in a fixed order, so a run depends only on its seed, never on timing
//! (except where a time limit ends it: the step during which the limit passes
//! starts no further rollouts, so how many of its rollouts ran depends on the clock).

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use discover_contract::Direction;

use super::event::{AdvantageSummary, BetaRange, Event, InitialEvent, RolloutEvent, StepEvent, Tokens};
use super::{advantages, reward, Action, Buffer, BufferStats, Checkpoint, Environment, Evaluated, Executor, Failure, NewState, Objective, Policy, Reuse, Rng, RolloutId, RunDir, State};

/// The knobs of the loop. Serialised into `config.toml`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// Training steps.
    pub steps: u32,
    /// B: groups (start states) per step.
    pub groups: usize,
    /// k: rollouts per group.
    pub group_size: usize,
    pub objective: Objective,
    pub reuse: Reuse,
    pub seed: u64,
    /// Threads executing rollouts.
    pub workers: usize,
    /// Stop once this much run time has passed: the step during which it
    /// passes starts no further rollouts (beyond each worker's first) and ends
    /// with those that ran, so a run overruns by about one rollout, not one step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_limit_seconds: Option<f64>,
    /// Stop after the step that ends this much run time after the last new
    /// best state (a run left alone stops when it stops improving).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stall_limit_seconds: Option<f64>,
    /// Write the policy's files (adapters, optimiser state) every this many
    /// steps and after the last; the buffer is checkpointed every step.
    #[serde(default = "default_checkpoint_every")]
    pub checkpoint_every: u32,
}

/// The reference implementation's cadence.
pub fn default_checkpoint_every() -> u32 {
    5
}

impl Settings {
    pub fn check(&self) -> Result<()> {
        if self.groups == 0 {
            bail!("--groups must be at least 1");
        }
        if self.group_size < 2 {
            bail!("--group-size must be at least 2: advantages compare the rollouts of a group");
        }
        if self.checkpoint_every == 0 {
            bail!("--checkpoint-every must be at least 1");
        }
        if let Some(t) = self.stall_limit_seconds {
            if !(t.is_finite() && t > 0.0) {
                bail!("--stall-limit must be a positive number of seconds, got {t}");
            }
        }
        if let Objective::EntropicFixed { beta } = self.objective {
            if !(beta.is_finite() && beta > 0.0) {
                bail!("--beta must be a positive number, got {beta}");
            }
        }
        Ok(())
    }
}

/// What one step did, for the progress line and the step event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepReport {
    pub step: u32,
    pub groups: usize,
    /// Rollouts that ran.
    pub rollouts: usize,
    /// Rollouts the policy proposed that did not run: the time limit passed
    /// before they started (only in a time-limited run's last step).
    #[serde(default)]
    pub skipped: usize,
    pub failures: usize,
    pub inserted: usize,
    pub dropped_groups: usize,
    pub mean_reward: f64,
    pub max_reward: f64,
    pub best_score: f64,
    pub best_value: f64,
    /// Whether this step found a new best state.
    pub new_best: bool,
    pub beta_mean: Option<f64>,
    pub seconds: f64,
    pub rollouts_per_second: f64,
    pub elapsed_seconds: f64,
    /// Run time since the best state was found (0 on a step that found one).
    #[serde(default)]
    pub seconds_since_best: f64,
    pub buffer: BufferStats,
}

/// A run in progress.
pub struct Run<'a> {
    pub settings: Settings,
    direction: Direction,
    env: &'a dyn Environment,
    policy: &'a mut dyn Policy,
    dir: Option<&'a RunDir>,
    pub buffer: Buffer,
    /// Completed steps.
    pub step: u32,
    /// Run time over all sessions, in seconds.
    pub elapsed_seconds: f64,
    /// The run directory's folder with the policy's newest files, if any.
    pub policy_files: Option<String>,
    /// Run time when the current best state was found.
    pub best_at_seconds: f64,
    /// Where rollouts run; `None`: this process's threads.
    executor: Option<&'a dyn Executor>,
}

/// A state to start from besides the problem's initial ones (`--init`: a
/// published record, a solution from elsewhere), already evaluated.
pub struct Seed {
    /// Where it came from, for the initial event.
    pub source: String,
    pub state: Evaluated,
}

impl<'a> Run<'a> {
    /// A fresh run: `B` initial states from seeds derived from the run's seed.
    pub fn start(
        settings: Settings,
        direction: Direction,
        env: &'a dyn Environment,
        policy: &'a mut dyn Policy,
        dir: Option<&'a RunDir>,
    ) -> Result<Run<'a>> {
        Run::start_seeded(settings, direction, env, policy, dir, Vec::new())
    }

    /// A fresh run whose buffer also holds `seeds`.
    pub fn start_seeded(
        settings: Settings,
        direction: Direction,
        env: &'a dyn Environment,
        policy: &'a mut dyn Policy,
        dir: Option<&'a RunDir>,
        seeds: Vec<Seed>,
    ) -> Result<Run<'a>> {
        settings.check()?;
        // The problem's initial states, one per group, then the given seeds.
        let mut starts = Vec::new();
        for i in 0..settings.groups {
            let seed = Rng::derive(settings.seed, &[0, i as u64]).next_u64();
            let state = env
                .initial(seed)
                .map_err(|f| anyhow::anyhow!("the problem's initial state for seed {seed} failed: {}", f.message))?;
            starts.push((seed, None, state));
        }
        starts.extend(seeds.into_iter().map(|s| (0, Some(s.source), s.state)));
        let mut initial = Vec::new();
        let mut events = Vec::new();
        for (seed, source, state) in starts {
            let value = reward(direction, state.score).map_err(|f| match &source {
                Some(source) => anyhow::anyhow!("{source}: {}", f.message),
                None => anyhow::anyhow!(f.message),
            })?;
            events.push(Event::Initial(InitialEvent { step: 0, seed, score: state.score, reward: value, source }));
            initial.push(NewState {
                parent: None,
                step: 0,
                solution: state.solution,
                score: state.score,
                value,
                provenance: state.provenance,
            });
        }
        let buffer = Buffer::new(initial);
        if let Some(dir) = dir {
            dir.append_events(&events)?;
        }
        Ok(Run {
            settings,
            direction,
            env,
            policy,
            dir,
            buffer,
            step: 0,
            elapsed_seconds: 0.0,
            policy_files: None,
            best_at_seconds: 0.0,
            executor: None,
        })
    }

    /// Continue from a checkpoint (see [`RunDir::load_checkpoint`]).
    pub fn resume(
        settings: Settings,
        direction: Direction,
        env: &'a dyn Environment,
        policy: &'a mut dyn Policy,
        dir: Option<&'a RunDir>,
        checkpoint: Checkpoint,
    ) -> Result<Run<'a>> {
        settings.check()?;
        policy.restore(&checkpoint.policy)?;
        if let Some(files) = &checkpoint.policy_files {
            let dir = dir.context("the checkpoint names policy files but the run has no directory")?;
            policy
                .restore_files(&dir.path(files))
                .with_context(|| format!("restoring the policy from {}", dir.path(files).display()))?;
        }
        Ok(Run {
            settings,
            direction,
            env,
            policy,
            dir,
            buffer: checkpoint.buffer,
            step: checkpoint.step,
            elapsed_seconds: checkpoint.elapsed_seconds,
            policy_files: checkpoint.policy_files,
            // Older checkpoints do not say: count the stall from the resume.
            best_at_seconds: checkpoint.best_at_seconds.unwrap_or(checkpoint.elapsed_seconds),
            executor: None,
        })
    }

    /// Run rollouts with `executor` instead of this process's threads.
    pub fn with_executor(mut self, executor: &'a dyn Executor) -> Self {
        self.executor = Some(executor);
        self
    }

    pub fn policy_name(&self) -> &'static str {
        self.policy.name()
    }

    /// Whether the run has done all its steps, used its time, or stalled.
    pub fn finished(&self) -> bool {
        self.step >= self.settings.steps
            || self.settings.time_limit_seconds.is_some_and(|limit| self.elapsed_seconds >= limit)
            || self.stalled()
    }

    /// No new best state for `stall_limit_seconds` of run time.
    pub fn stalled(&self) -> bool {
        self.settings.stall_limit_seconds.is_some_and(|limit| self.elapsed_seconds - self.best_at_seconds >= limit)
    }

    /// Run time since the current best state was found.
    pub fn seconds_since_best(&self) -> f64 {
        self.elapsed_seconds - self.best_at_seconds
    }

    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            version: super::rundir::CHECKPOINT_VERSION,
            step: self.step,
            elapsed_seconds: self.elapsed_seconds,
            buffer: self.buffer.clone(),
            policy: self.policy.checkpoint(),
            policy_files: self.policy_files.clone(),
            best_at_seconds: Some(self.best_at_seconds),
        }
    }

    /// One training step; its events and checkpoint are on disk when it returns.
    pub fn step(&mut self) -> Result<StepReport> {
        let clock = Instant::now();
        let step = self.step + 1;
        let span = tracing::info_span!("step", step, policy = self.policy.name());
        let _entered = span.enter();
        let k = self.settings.group_size;
        let best_before = self.buffer.best().id;

        // Start states and actions (sequential: sampling is cheap and seeded).
        // One copy of each start state: the buffer changes while results are applied.
        let starts: Vec<State> = self
            .buffer
            .select(self.settings.reuse, self.settings.groups)
            .into_iter()
            .map(|id| self.buffer.get(id).expect("selected states are live").clone())
            .collect();
        let mut rngs: Vec<Rng> = (0..starts.len()).map(|g| Rng::derive(self.settings.seed, &[step as u64, g as u64])).collect();
        self.policy.observe_best(self.buffer.best());
        let groups = self.policy.sample_groups(step, &starts, k, &mut rngs)?;
        if groups.len() != starts.len() || groups.iter().any(|g| g.len() != k) {
            bail!("policy {} returned the wrong number of actions", self.policy.name());
        }
        let mut jobs = Vec::with_capacity(starts.len() * k);
        for (g, actions) in groups.into_iter().enumerate() {
            jobs.extend(actions.into_iter().enumerate().map(|(i, action)| Job { group: g, index: i, action }));
        }

        // Rollouts, concurrently. Past the time limit no further rollout starts
        // here (an executor's batches are already submitted: they all run).
        let deadline = self
            .settings
            .time_limit_seconds
            .map(|limit| clock + Duration::from_secs_f64((limit - self.elapsed_seconds).clamp(0.0, 1e9)));
        let outcomes: Vec<Option<(Result<Evaluated, Failure>, f64)>> = match self.executor {
            Some(executor) => {
                let rollouts: Vec<(&State, &Action)> = jobs.iter().map(|j| (&starts[j.group], &j.action)).collect();
                executor.execute(self.env, step, &rollouts).into_iter().map(Some).collect()
            }
            None => execute_all(self.env, &starts, &jobs, self.settings.workers, deadline),
        };
        let skipped = outcomes.iter().filter(|o| o.is_none()).count();

        // Apply the results in rollout order.
        let mut rewards: Vec<Vec<f64>> = vec![Vec::with_capacity(k); starts.len()];
        let mut events = Vec::with_capacity(jobs.len() + 1);
        let (mut failures, mut inserted) = (0, 0);
        let mut tokens: Option<Tokens> = None;
        for (job, outcome) in jobs.iter().zip(outcomes) {
            let Some((outcome, seconds)) = outcome else { continue };
            let start = starts[job.group].id;
            self.buffer.record_rollout(start);
            let scored = outcome.and_then(|e| reward(self.direction, e.score).map(|r| (e, r)));
            let mut event = RolloutEvent {
                step,
                group: job.group,
                index: job.index,
                start,
                seconds,
                tokens: job.action.tokens(),
                score: None,
                reward: 0.0,
                child: None,
                duplicate_of: None,
                failure: None,
            };
            if let Some(t) = event.tokens {
                *tokens.get_or_insert_with(Tokens::default) += t;
            }
            let value = match scored {
                Ok((evaluated, value)) => {
                    self.buffer.record_child_value(start, value);
                    event.score = Some(evaluated.score);
                    event.reward = value;
                    let mut provenance = evaluated.provenance;
                    provenance.before = Some(starts[job.group].score);
                    match self.buffer.insert(NewState {
                        parent: Some(start),
                        step,
                        solution: evaluated.solution,
                        score: evaluated.score,
                        value,
                        provenance,
                    }) {
                        Ok(id) => {
                            inserted += 1;
                            event.child = Some(id);
                        }
                        Err(dup) => event.duplicate_of = Some(dup),
                    }
                    value
                }
                Err(failure) => {
                    failures += 1;
                    event.failure = Some(failure);
                    0.0
                }
            };
            rewards[job.group].push(value);
            events.push(Event::Rollout(event));
        }
        let evicted = self.buffer.flush();

        // Advantages per group, then one policy update.
        let mut batch: Vec<(RolloutId, f64)> = Vec::with_capacity(jobs.len());
        let (mut dropped, mut betas) = (0, Vec::new());
        let mut adv_summary = AdvantageSummary::default();
        for (g, group_rewards) in rewards.iter().enumerate() {
            match advantages(self.settings.objective, group_rewards) {
                None => dropped += 1,
                Some(ga) => {
                    betas.extend(ga.beta);
                    for (i, a) in ga.advantages.into_iter().enumerate() {
                        adv_summary.add(a);
                        batch.push((RolloutId::new(step, g, i), a));
                    }
                }
            }
        }
        let policy_stats = if batch.is_empty() { serde_json::Value::Null } else { self.policy.update(&batch)? };

        let all: Vec<f64> = rewards.iter().flatten().copied().collect();
        let seconds = clock.elapsed().as_secs_f64();
        self.step = step;
        self.elapsed_seconds += seconds;
        if self.buffer.best().id != best_before {
            self.best_at_seconds = self.elapsed_seconds;
        }
        // The policy's files on their cadence and after the last step.
        let mut saved_files = None;
        if let Some(dir) = self.dir {
            if self.policy.trains() && (step % self.settings.checkpoint_every == 0 || self.finished()) {
                let policy = &*self.policy;
                saved_files = dir.save_policy_files(step, |d| policy.save_files(d))?;
                if saved_files.is_some() {
                    self.policy_files = saved_files.clone();
                }
            }
        }
        let best = self.buffer.best();
        let ran = jobs.len() - skipped;
        let report = StepReport {
            step,
            groups: starts.len(),
            rollouts: ran,
            skipped,
            failures,
            inserted,
            dropped_groups: dropped,
            mean_reward: all.iter().sum::<f64>() / all.len().max(1) as f64,
            // 0 where nothing ran, not -inf (which JSON cannot hold).
            max_reward: all.iter().copied().reduce(f64::max).unwrap_or(0.0),
            best_score: best.score,
            best_value: best.value,
            new_best: best.id != best_before,
            beta_mean: (!betas.is_empty()).then(|| betas.iter().sum::<f64>() / betas.len() as f64),
            seconds,
            rollouts_per_second: ran as f64 / seconds.max(1e-9),
            elapsed_seconds: self.elapsed_seconds,
            seconds_since_best: self.elapsed_seconds - self.best_at_seconds,
            buffer: self.buffer.stats(),
        };
        let sampling = Some(self.policy.sample_stats()).filter(|s| !s.is_null());
        let step_event = StepEvent {
            report: report.clone(),
            evicted,
            advantages: adv_summary.finish(),
            beta: BetaRange {
                min: betas.iter().copied().reduce(f64::min),
                max: betas.iter().copied().reduce(f64::max),
            },
            policy: policy_stats,
            policy_files: saved_files,
            sampling,
            tokens,
        };
        events.push(Event::Step(Box::new(step_event)));
        if let Some(dir) = self.dir {
            dir.append_events(&events)?;
            dir.save_checkpoint(&self.checkpoint())?;
        }
        Ok(report)
    }
}

/// One rollout: the `index`-th action of group `group` (whose start state is
/// `starts[group]`).
struct Job {
    group: usize,
    index: usize,
    action: Action,
}

/// Execute every job from its group's start on up to `workers` threads; results
/// in job order, each with its wall time in seconds. A job that would start
/// after `deadline` does not run (`None`), except the first `workers` jobs, so
/// a step always runs some rollouts.
fn execute_all(
    env: &dyn Environment,
    starts: &[State],
    jobs: &[Job],
    workers: usize,
    deadline: Option<Instant>,
) -> Vec<Option<(Result<Evaluated, Failure>, f64)>> {
    super::parallel::map_ordered(jobs, workers, |i, job| {
        if i >= workers.max(1) && deadline.is_some_and(|d| Instant::now() >= d) {
            return None;
        }
        let _span = tracing::debug_span!("rollout", group = job.group, index = job.index).entered();
        let t = Instant::now();
        let outcome = env.execute(&starts[job.group], &job.action);
        Some((outcome, t.elapsed().as_secs_f64()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use discover_contract::Solution;
    use serde_json::Value;

    /// Every rollout sleeps `millis` and scores its restart seed.
    struct Slow {
        millis: u64,
    }

    impl Environment for Slow {
        fn initial(&self, seed: u64) -> Result<Evaluated, Failure> {
            Ok(Evaluated::new(Solution::new(vec![seed as f64]), (seed % 1000) as f64))
        }

        fn execute(&self, _start: &State, action: &Action) -> Result<Evaluated, Failure> {
            std::thread::sleep(Duration::from_millis(self.millis));
            let Action::Restart { seed } = action else { panic!("this test's policy restarts") };
            self.initial(*seed)
        }
    }

    struct Restarts;

    impl Policy for Restarts {
        fn name(&self) -> &'static str {
            "restarts"
        }
        fn sample(&mut self, _step: u32, _group: usize, _start: &State, k: usize, rng: &mut Rng) -> Result<Vec<Action>> {
            Ok((0..k).map(|_| Action::Restart { seed: rng.next_u64() }).collect())
        }
        fn update(&mut self, _batch: &[(RolloutId, f64)]) -> Result<Value> {
            Ok(Value::Null)
        }
        fn checkpoint(&self) -> Value {
            Value::Null
        }
        fn restore(&mut self, _saved: &Value) -> Result<()> {
            Ok(())
        }
    }

    fn settings(time_limit_seconds: Option<f64>) -> Settings {
        Settings {
            steps: 10,
            groups: 2,
            group_size: 8,
            objective: Objective::Entropic,
            reuse: Reuse::Puct,
            seed: 3,
            workers: 2,
            time_limit_seconds,
            stall_limit_seconds: None,
            checkpoint_every: 5,
        }
    }

    #[test]
    fn a_time_limit_ends_the_step_it_passes_in_without_running_the_rest() {
        // 16 rollouts of 100 ms on 2 workers: 0.8 s a step. A limit of 0.25 s
        // passes during the first step, which must end after about 3 rollouts
        // per worker, not 8.
        let env = Slow { millis: 100 };
        let mut policy = Restarts;
        let mut run = Run::start(settings(Some(0.25)), Direction::Maximize, &env, &mut policy, None).unwrap();
        let report = run.step().unwrap();
        assert!(run.finished(), "the limit passed during the step");
        assert!(report.skipped > 0 && report.rollouts >= 2, "{report:?}");
        assert_eq!(report.rollouts + report.skipped, 16);
        assert!(report.seconds < 0.6, "the step ran {} s: it did not stop at the limit", report.seconds);
        assert!(report.max_reward.is_finite() && report.mean_reward.is_finite());

        // Without a limit the same step runs all 16 and skips none.
        let mut policy = Restarts;
        let mut run = Run::start(settings(None), Direction::Maximize, &env, &mut policy, None).unwrap();
        let report = run.step().unwrap();
        assert_eq!((report.rollouts, report.skipped), (16, 0));
        assert!(!run.finished());
    }

    #[test]
    fn a_step_past_its_limit_still_runs_each_workers_first_rollout() {
        // A limit already spent (a caller stepping a finished run): each worker
        // still runs one rollout, so the step reports something real.
        let env = Slow { millis: 1 };
        let mut policy = Restarts;
        let mut run = Run::start(settings(Some(1e-9)), Direction::Maximize, &env, &mut policy, None).unwrap();
        std::thread::sleep(Duration::from_millis(5));
        let report = run.step().unwrap();
        assert_eq!((report.rollouts, report.skipped), (2, 14));
        // Both were group 0's (jobs go out in order); group 1 had none to compare.
        assert!(report.dropped_groups >= 1, "{report:?}");
    }
}
