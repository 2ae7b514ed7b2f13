//! Test-time training through the real engine: a tiny random-weight model, the
//! `local` policy with LoRA, and a toy problem whose reward is the share of
//! completion characters that are lowercase letters. With the entropic objective
//! the model learns to write letters; the expected-reward (`mean`) objective
//! and the frozen policy (`--no-train`) run beside it on the same seeds.
//!
//! Nothing here runs Python: the toy environment scores the completion itself.

use std::path::Path;
use std::sync::Arc;

use discover::engine::{Action, Environment, Evaluated, Failure, Objective, Reuse, RolloutFailure, Run, RunDir, Settings, State};
use discover::policy::{LlmPolicy, LocalSampler, LocalTrainer, Policy, Trainer};
use discover::prompt::Language;
use discover::problem::{Budgets, Direction, Shape, Solution, Spec};
use discover_llm::tiny::{self, TinySpec};
use discover_llm::{LocalModel, LoraConfig, Message, TrainConfig};
use serde_json::Value;

/// Reward: how many of a completion's characters are `a`..`z`, as a share of
/// the longest completion the sampler may write (`MAX_TOKENS` tokens). The
/// environment sees only what the policy wrote (its text), never its tokens.
struct Letters;

const MAX_TOKENS: usize = 16;

impl Environment for Letters {
    fn initial(&self, seed: u64) -> Result<Evaluated, Failure> {
        Ok(Evaluated::new(Solution::new(vec![seed as f64]), 0.0))
    }

    fn execute(&self, _start: &State, action: &Action) -> Result<Evaluated, Failure> {
        let Action::Program(p) = action else { panic!("an LLM policy emits programs") };
        let chars = p.text.chars().count();
        if chars == 0 {
            return Err(Failure::new(RolloutFailure::NoCode, "an empty completion"));
        }
        let hits = p.text.chars().filter(|c| c.is_ascii_lowercase()).count();
        let reward = hits as f64 / MAX_TOKENS as f64;
        // The text is the construction, so identical completions are duplicates.
        let solution = Solution { values: vec![reward], text: Some(p.text.clone()) };
        Ok(Evaluated::new(solution, reward))
    }
}

fn spec() -> Spec {
    Spec {
        id: "letters".into(),
        title: "Letters".into(),
        statement: "Write lowercase letters.".into(),
        direction: Direction::Maximize,
        best_known: None,
        shape: Shape { min_len: 1, max_len: 1, multiple_of: 1 },
        budgets: Budgets::default(),
    }
}

const STEPS: u32 = 16;

/// The tiny model of these tests: weights large enough (std 0.1) that
/// adapters can move its next-token distribution far.
fn tiny_model(dir: &Path) {
    tiny::write(dir, &TinySpec { seed: 3, init_std: 0.1, ..TinySpec::default() }).unwrap();
}

/// The `local` policy on `model_dir`, trained (LoRA rank 8) or frozen, and
/// the toy environment for its tokenizer.
fn policy(model_dir: &Path, train: bool) -> (LlmPolicy, Letters) {
    let mut model = LocalModel::load(model_dir, &discover_llm::Device::Cpu).unwrap();
    if train {
        model.model.add_adapters(&LoraConfig { rank: 8, alpha: 16.0, ..LoraConfig::default() }, 0).unwrap();
    }
    let model = Arc::new(model);
    let sampler = LocalSampler { model: model.clone(), temperature: 1.0, top_p: 1.0, max_tokens: MAX_TOKENS };
    // A short prompt (the start's score), so that CI trains in seconds.
    let mut policy = LlmPolicy::new("local", Box::new(sampler), &spec(), Language::new("python", String::new()), 60.0)
        .with_prompt(Box::new(|s: &State| vec![Message::new("user", format!("Letters! Best so far {:.2}.", s.score))]));
    if train {
        // Far above the paper's 4e-5: a tiny model, a handful of steps.
        let config = TrainConfig { learning_rate: 3e-2, ..TrainConfig::default() };
        policy = policy.with_trainer(Box::new(LocalTrainer::new(model, config).unwrap()));
    }
    assert_eq!(policy.trains(), train);
    (policy, Letters)
}

fn settings(objective: Objective, steps: u32, checkpoint_every: u32) -> Settings {
    Settings {
        steps,
        groups: 4,
        group_size: 8,
        objective,
        reuse: Reuse::Puct,
        seed: 11,
        workers: 1,
        time_limit_seconds: None,
        stall_limit_seconds: None,
        checkpoint_every,
    }
}

/// Mean and max reward of each step of one run.
fn run(model_dir: &Path, objective: Objective, train: bool, out: &Path) -> Vec<(f64, f64)> {
    let (mut policy, env) = policy(model_dir, train);
    let dir = RunDir::create(out).unwrap();
    dir.write_config("# a toy run driven by tests/train.rs\n").unwrap();
    let mut run = Run::start(settings(objective, STEPS, 4), Direction::Maximize, &env, &mut policy, Some(&dir)).unwrap();
    let mut curve = Vec::new();
    while !run.finished() {
        let r = run.step().unwrap();
        curve.push((r.mean_reward, r.max_reward));
    }
    curve
}

fn mean(xs: impl Iterator<Item = f64>) -> f64 {
    let v: Vec<f64> = xs.collect();
    v.iter().sum::<f64>() / v.len() as f64
}

#[test]
fn the_entropic_objective_learns_a_toy_problem_through_the_engine() {
    let tmp = tempfile::tempdir().unwrap();
    let model_dir = tmp.path().join("model");
    tiny_model(&model_dir);

    let entropic_dir = tmp.path().join("entropic");
    let entropic = run(&model_dir, Objective::Entropic, true, &entropic_dir);
    let expected = run(&model_dir, Objective::Mean, true, &tmp.path().join("mean"));
    let frozen = run(&model_dir, Objective::Entropic, false, &tmp.path().join("frozen"));

    let first = |c: &[(f64, f64)]| (mean(c[..3].iter().map(|r| r.0)), mean(c[..3].iter().map(|r| r.1)));
    let last = |c: &[(f64, f64)]| (mean(c[c.len() - 3..].iter().map(|r| r.0)), mean(c[c.len() - 3..].iter().map(|r| r.1)));
    println!("{:<22} {:>12} {:>12} {:>12} {:>12}", "run", "mean first3", "mean last3", "max first3", "max last3");
    for (name, c) in [("entropic (trained)", &entropic), ("mean (trained)", &expected), ("entropic, --no-train", &frozen)] {
        let (f, l) = (first(c), last(c));
        println!("{name:<22} {:>12.3} {:>12.3} {:>12.3} {:>12.3}", f.0, l.0, f.1, l.1);
    }
    let (f, l) = (first(&entropic), last(&entropic));
    assert!(l.0 > 2.0 * f.0 && l.0 > f.0 + 0.15, "entropic: mean reward {:.3} -> {:.3}", f.0, l.0);
    assert!(l.1 > f.1 + 0.1, "entropic: max reward {:.3} -> {:.3}", f.1, l.1);
    // The frozen policy samples from the same model throughout: no trend.
    let (ff, fl) = (first(&frozen), last(&frozen));
    assert!(fl.0 < ff.0 + 0.1, "the frozen policy improved: {:.3} -> {:.3}", ff.0, fl.0);

    // The trained run recorded its training and checkpointed the adapters.
    let events: Vec<Value> = std::fs::read_to_string(entropic_dir.join("events.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let steps: Vec<&Value> = events.iter().filter(|e| e["type"] == "step").collect();
    assert_eq!(steps.len(), STEPS as usize);
    let trained = steps.iter().filter(|s| s["policy"]["trained"] == true).count();
    assert!(trained >= STEPS as usize - 1, "{trained} trained steps");
    for s in steps.iter().filter(|s| s["policy"]["trained"] == true) {
        let p = &s["policy"];
        for key in ["loss", "kl_sampler", "kl_base", "grad_norm", "tokens", "optimizer_steps"] {
            assert!(p[key].is_number(), "{key} missing from {p}");
        }
        assert!(p["grad_norm"].as_f64().unwrap() > 0.0);
        // On-policy: the network that trains is the one that sampled.
        assert!(p["kl_sampler"].as_f64().unwrap().abs() < 1e-3, "{p}");
    }
    // The report draws the training curves.
    discover::report::write_plots(&RunDir::open(&entropic_dir).unwrap(), "letters", None).unwrap();
    let svg = std::fs::read_to_string(entropic_dir.join("plots/training.svg")).unwrap();
    assert!(svg.contains("KL to the base model") && svg.contains("<polyline"), "{svg}");
    let saved: Vec<&str> = steps.iter().filter_map(|s| s["policy_files"].as_str()).collect();
    assert_eq!(saved, ["checkpoints/step-000004", "checkpoints/step-000008", "checkpoints/step-000012", "checkpoints/step-000016"]);
    for f in saved {
        for file in ["adapter_model.safetensors", "adapter_config.json", "optimizer.safetensors"] {
            assert!(entropic_dir.join(f).join(file).is_file(), "{f}/{file}");
        }
    }
}

/// The adapters of a checkpoint folder, by name.
fn adapter_tensors(dir: &Path) -> Vec<(String, Vec<f32>)> {
    let mut t: Vec<_> = discover_llm::lora::load_tensors(dir, &discover_llm::Device::Cpu)
        .unwrap()
        .into_iter()
        .map(|(k, v)| (k, v.flatten_all().unwrap().to_vec1::<f32>().unwrap()))
        .collect();
    t.sort_by(|a, b| a.0.cmp(&b.0));
    t
}

#[test]
fn a_resumed_run_continues_from_its_checkpointed_adapters_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let model_dir = tmp.path().join("model");
    tiny_model(&model_dir);
    let steps = |run: &mut Run, n: u32| -> Vec<(f64, f64)> {
        (0..n).map(|_| run.step().unwrap()).map(|r| (r.mean_reward, r.max_reward)).collect()
    };

    // Uninterrupted: 6 steps, adapters saved after steps 3 and 6.
    let whole_dir = RunDir::create(&tmp.path().join("whole")).unwrap();
    let (mut p, env) = policy(&model_dir, true);
    let mut whole = Run::start(settings(Objective::Entropic, 6, 3), Direction::Maximize, &env, &mut p, Some(&whole_dir)).unwrap();
    let whole_curve = steps(&mut whole, 6);
    assert!(whole.finished());

    // The same run stopped after step 3 (as if killed right after its
    // checkpoint), then resumed by a new process: a fresh model and policy.
    let split_dir = RunDir::create(&tmp.path().join("split")).unwrap();
    let (mut p, env) = policy(&model_dir, true);
    let mut first = Run::start(settings(Objective::Entropic, 6, 3), Direction::Maximize, &env, &mut p, Some(&split_dir)).unwrap();
    let head = steps(&mut first, 3);
    drop(first);
    let checkpoint = split_dir.load_checkpoint().unwrap().unwrap();
    assert_eq!((checkpoint.step, checkpoint.policy_files.as_deref()), (3, Some("checkpoints/step-000003")));
    assert_eq!(checkpoint.policy["optimizer_steps"], 3);
    assert_eq!(checkpoint.policy_files_step(), Some(3));
    let (mut p, env) = policy(&model_dir, true);
    let mut resumed = Run::resume(settings(Objective::Entropic, 6, 3), Direction::Maximize, &env, &mut p, Some(&split_dir), checkpoint).unwrap();
    let tail = steps(&mut resumed, 3);
    assert!(resumed.finished());

    assert_eq!([head, tail].concat(), whole_curve, "the resumed run sampled differently");
    let saved = |d: &RunDir| adapter_tensors(&d.path("checkpoints/step-000006"));
    assert_eq!(saved(&split_dir), saved(&whole_dir), "the resumed run trained differently");
    // Training moved the adapters (B started at zero).
    assert!(saved(&whole_dir).iter().any(|(k, v)| k.ends_with("lora_B.weight") && v.iter().any(|x| *x != 0.0)));
}

/// A trainer whose second update fails (a GPU out of memory, say).
struct FailsOnSecond {
    inner: LocalTrainer,
    calls: usize,
}

impl Trainer for FailsOnSecond {
    fn update(&mut self, batch: &[(&discover::policy::Completion, f64)]) -> anyhow::Result<Value> {
        self.calls += 1;
        if self.calls == 2 {
            anyhow::bail!("CUDA out of memory (simulated)");
        }
        self.inner.update(batch)
    }

    fn save(&self, dir: &Path) -> anyhow::Result<()> {
        self.inner.save(dir)
    }

    fn restore(&mut self, dir: &Path) -> anyhow::Result<()> {
        self.inner.restore(dir)
    }
}

#[test]
fn a_failed_training_step_stops_the_run_and_loses_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let model_dir = tmp.path().join("model");
    tiny_model(&model_dir);
    let dir = RunDir::create(&tmp.path().join("run")).unwrap();
    let mut model = LocalModel::load(&model_dir, &discover_llm::Device::Cpu).unwrap();
    model.model.add_adapters(&LoraConfig { rank: 4, alpha: 8.0, ..LoraConfig::default() }, 0).unwrap();
    let model = Arc::new(model);
    let sampler = LocalSampler { model: model.clone(), temperature: 1.0, top_p: 1.0, max_tokens: 8 };
    let inner = LocalTrainer::new(model, TrainConfig { learning_rate: 1e-2, ..TrainConfig::default() }).unwrap();
    let mut policy = LlmPolicy::new("local", Box::new(sampler), &spec(), Language::new("python", String::new()), 60.0)
        .with_prompt(Box::new(|_: &State| vec![Message::new("user", "Letters!")]))
        .with_trainer(Box::new(FailsOnSecond { inner, calls: 0 }));
    let env = Letters;
    let mut run = Run::start(settings(Objective::Entropic, 4, 1), Direction::Maximize, &env, &mut policy, Some(&dir)).unwrap();
    run.step().unwrap();
    let err = run.step().unwrap_err();
    assert!(format!("{err:#}").contains("CUDA out of memory (simulated)"), "{err:#}");
    assert_eq!(run.step, 1, "the failed step is not counted");
    // On disk: step 1's checkpoint and adapters, nothing of step 2.
    let checkpoint = dir.load_checkpoint().unwrap().unwrap();
    assert_eq!((checkpoint.step, checkpoint.policy_files.as_deref()), (1, Some("checkpoints/step-000001")));
    let steps = std::fs::read_to_string(dir.path("events.jsonl")).unwrap().lines().filter(|l| l.contains("\"type\":\"step\"")).count();
    assert_eq!(steps, 1);
    assert!(!dir.path("checkpoints/step-000002").exists());
}
