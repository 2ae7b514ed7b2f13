//! LoRA adapters and the training step on tiny random-weight models: zero B is
//! the base model exactly, the gradient is the loss's (finite differences),
//! checkpoints round-trip, and a step moves probability toward advantaged
//! completions.

use candle_core::{DType, Device, Tensor};
use discover_llm::model::Pass;
use discover_llm::tiny::{self, TinySpec};
use discover_llm::train::{self, Sequence, TrainConfig, Trainer};
use discover_llm::{Arch, LocalModel, LoraConfig, Message, Request, SamplingParams};
use rand::{Rng, SeedableRng};

fn tiny_dir(arch: Arch) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    tiny::write(dir.path(), &TinySpec { arch, seed: 5, init_std: 0.2, ..Default::default() }).unwrap();
    dir
}

fn lora(rank: usize) -> LoraConfig {
    LoraConfig { rank, alpha: 2.0 * rank as f64, ..LoraConfig::default() }
}

fn prompt(model: &LocalModel, text: &str) -> Vec<u32> {
    model.chat_tokens(&[Message::new("user", text)]).unwrap()
}

/// Sample `n` completions of `prompt` (with the sampler's log-probs).
fn sample(model: &LocalModel, prompt: &[u32], n: usize, max_tokens: usize, seed: u64) -> Vec<(Vec<u32>, Vec<f32>)> {
    let requests: Vec<Request> = (0..n)
        .map(|i| Request { prompt: prompt.to_vec(), params: SamplingParams { max_tokens, seed: seed + i as u64, ..Default::default() } })
        .collect();
    model.generate(&requests).unwrap().into_iter().map(|g| (g.tokens, g.logprobs)).collect()
}

/// Give every B a random value, so that A's gradient is not zero either.
fn randomise_b(model: &LocalModel, seed: u64) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    for (_, l) in model.model.adapters() {
        let n = l.b.elem_count();
        let values: Vec<f64> = (0..n).map(|_| rng.random_range(-0.05..0.05)).collect();
        let t = Tensor::from_vec(values, l.b.shape(), &Device::Cpu).unwrap().to_dtype(l.b.dtype()).unwrap();
        l.b.set(&t).unwrap();
    }
}

/// Two sampled completions of `prompt`, the first with advantage +1, the second -1.
fn winner_and_loser<'a>(prompt: &'a [u32], rows: &'a [(Vec<u32>, Vec<f32>)]) -> Vec<Sequence<'a>> {
    rows.iter()
        .zip([1.0, -1.0])
        .map(|((c, q), a)| Sequence { prompt, completion: c, sampler_logprobs: q, advantage: a })
        .collect()
}

#[test]
fn adapters_with_zero_b_are_the_base_model_exactly() {
    for arch in [Arch::Qwen2, Arch::Qwen3, Arch::Llama] {
        let dir = tiny_dir(arch);
        let mut model = LocalModel::load(dir.path(), &Device::Cpu).unwrap();
        let p = prompt(&model, "Pack 26 circles.");
        let (completion, _) = sample(&model, &p, 1, 24, 1).remove(0);
        let all: Vec<u32> = p.iter().chain(&completion).copied().collect();
        let base = model.model.logprobs(&all, p.len()).unwrap();
        model.model.add_adapters(&LoraConfig::default(), 3).unwrap();
        assert_eq!(model.model.adapters().len(), 2 * 7, "{arch:?}: 7 projections in each of 2 layers");
        let adapted = model.model.logprobs(&all, p.len()).unwrap();
        assert_eq!(adapted, base, "{arch:?}: B = 0 must change nothing, bit for bit");
        assert_eq!(model.model.logprobs_with(&all, p.len(), Pass::BASE).unwrap(), base);
        // The differentiable pass computes the same function as the fused kernels.
        let rows = [&completion[..]];
        let train = train::completion_logprobs(&model.model, &p, &rows, Pass::TRAIN).unwrap();
        let train: Vec<f32> = train.squeeze(0).unwrap().to_vec1().unwrap();
        let worst = train.iter().zip(&base).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
        assert!(worst < 1e-4, "{arch:?}: training pass vs sampling pass differ by {worst}");
        // With B != 0 the adapters do change the model, and BASE still switches them off.
        randomise_b(&model, 9);
        let moved = model.model.logprobs(&all, p.len()).unwrap();
        assert!(moved.iter().zip(&base).any(|(a, b)| (a - b).abs() > 1e-3), "{arch:?}: adapters had no effect");
        assert_eq!(model.model.logprobs_with(&all, p.len(), Pass::BASE).unwrap(), base);
    }
}

/// A batch of two prompts, with advantages of both signs; sampler log-probs
/// are the model's plus noise so that the importance ratios are not all 1.
struct Batch {
    prompts: Vec<Vec<u32>>,
    rows: Vec<(usize, Vec<u32>, Vec<f32>, f64)>,
}

impl Batch {
    fn new(model: &LocalModel, seed: u64) -> Batch {
        let prompts = vec![prompt(model, "Pack circles."), prompt(model, "A longer prompt about inequalities.")];
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut rows = Vec::new();
        for (pi, p) in prompts.iter().enumerate() {
            for (i, (tokens, logprobs)) in sample(model, p, 3, 6 + 3 * pi, seed + 10 * pi as u64).into_iter().enumerate() {
                let noisy = logprobs.iter().map(|lp| lp + rng.random_range(-0.1..0.1)).collect();
                rows.push((pi, tokens, noisy, [1.5, -0.7, -0.8][i]));
            }
        }
        Batch { prompts, rows }
    }

    fn sequences(&self) -> Vec<Sequence<'_>> {
        self.rows
            .iter()
            .map(|(pi, c, q, a)| Sequence { prompt: &self.prompts[*pi], completion: c, sampler_logprobs: q, advantage: *a })
            .collect()
    }
}

#[test]
fn the_gradient_matches_finite_differences() {
    let dir = tiny_dir(Arch::Qwen2);
    let mut model = LocalModel::load_as(dir.path(), &Device::Cpu, DType::F64).unwrap();
    model.model.add_adapters(&lora(4), 1).unwrap();
    randomise_b(&model, 2);
    let batch = Batch::new(&model, 3);
    let seqs = batch.sequences();
    for (clip, kl_coef) in [(None, 0.0), (None, 0.3), (Some(0.2), 0.1)] {
        // A small micro-batch budget: the gradient is summed over several passes.
        let config = TrainConfig { clip, kl_coef, micro_batch_tokens: 40, ..TrainConfig::default() };
        let trainer = Trainer::new(&model.model, config).unwrap();
        let g = trainer.gradients(&model.model, &seqs).unwrap();
        assert!(g.stats.micro_batches >= 3, "{} micro-batches", g.stats.micro_batches);
        assert!(g.stats.grad_norm > 1e-3);
        let vars = model.model.adapter_vars();
        let loss = |model: &LocalModel| trainer.gradients(&model.model, &seqs).unwrap().stats.loss;
        // A few entries of A and B in the first and last layer, q and down projections.
        let picks = [(0, 3), (1, 5), (6 * 2 + 1, 7), (vars.len() - 2, 11), (vars.len() - 1, 2)];
        for (v, flat) in picks {
            let var = &vars[v];
            let original = var.as_tensor().flatten_all().unwrap().to_vec1::<f64>().unwrap();
            let at = |x: f64| {
                let mut values = original.clone();
                values[flat] = x;
                var.set(&Tensor::from_vec(values, var.shape(), &Device::Cpu).unwrap()).unwrap();
                loss(&model)
            };
            let h = 1e-6;
            let numeric = (at(original[flat] + h) - at(original[flat] - h)) / (2.0 * h);
            at(original[flat]);
            let analytic = g.grads[v].flatten_all().unwrap().to_vec1::<f64>().unwrap()[flat];
            let err = (numeric - analytic).abs() / analytic.abs().max(1e-3);
            assert!(err < 1e-4, "clip {clip:?}, lambda {kl_coef}: param {v}[{flat}]: finite differences {numeric}, autograd {analytic}");
        }
    }
}

#[test]
fn kl_shaping_is_applied_to_the_advantages() {
    // Ratio 1 (sampler = model), so L = -sum_t A_t; with lambda the token
    // advantages gain lambda (mean d - d_t), which sums to 0 over the batch but
    // not weighted by the per-token gradients: the loss stays, the gradient moves.
    let dir = tiny_dir(Arch::Llama);
    let mut model = LocalModel::load(dir.path(), &Device::Cpu).unwrap();
    model.model.add_adapters(&lora(4), 1).unwrap();
    randomise_b(&model, 4);
    let p = prompt(&model, "x");
    let rows = sample(&model, &p, 2, 8, 5);
    let seqs = winner_and_loser(&p, &rows);
    let stats = |kl_coef| {
        let t = Trainer::new(&model.model, TrainConfig { kl_coef, ..TrainConfig::default() }).unwrap();
        t.gradients(&model.model, &seqs).unwrap()
    };
    let (plain, shaped) = (stats(0.0), stats(0.5));
    // The sampler is the adapted model; the base differs (random B): KL > 0 is seen.
    assert!(plain.stats.kl_base.abs() > 1e-4, "kl_base {}", plain.stats.kl_base);
    assert!(plain.stats.kl_sampler.abs() < 1e-4, "on-policy: kl_sampler {}", plain.stats.kl_sampler);
    assert!((plain.stats.ratio_mean - 1.0).abs() < 1e-4);
    assert!((plain.stats.loss - shaped.stats.loss).abs() < 1e-3, "{} vs {}", plain.stats.loss, shaped.stats.loss);
    let diff: f64 = plain.grads.iter().zip(&shaped.grads).map(|(a, b)| (a - b).unwrap().abs().unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap() as f64).sum();
    assert!(diff > 1e-6, "lambda changed nothing in the gradient");
}

#[test]
fn a_step_moves_probability_toward_advantaged_completions() {
    let dir = tiny_dir(Arch::Qwen3);
    let mut model = LocalModel::load(dir.path(), &Device::Cpu).unwrap();
    model.model.add_adapters(&lora(8), 1).unwrap();
    let p = prompt(&model, "go");
    let rows = sample(&model, &p, 2, 12, 7);
    let seqs = winner_and_loser(&p, &rows);
    let total = |i: usize| -> f32 {
        let all: Vec<u32> = p.iter().chain(&rows[i].0).copied().collect();
        model.model.logprobs(&all, p.len()).unwrap().iter().sum()
    };
    let before = (total(0), total(1));
    let mut trainer = Trainer::new(&model.model, TrainConfig { learning_rate: 1e-3, ..TrainConfig::default() }).unwrap();
    let stats = trainer.step(&model.model, &seqs).unwrap();
    assert_eq!(stats.optimizer_steps, 1);
    assert_eq!(stats.tokens, rows[0].0.len() + rows[1].0.len());
    let after = (total(0), total(1));
    assert!(after.0 > before.0 + 1e-3, "the positive completion: {} -> {}", before.0, after.0);
    assert!(after.1 < before.1 - 1e-3, "the negative completion: {} -> {}", before.1, after.1);
}

#[test]
fn adapters_and_optimizer_state_round_trip_through_files() {
    let dir = tiny_dir(Arch::Qwen2);
    let mut model = LocalModel::load(dir.path(), &Device::Cpu).unwrap();
    model.model.add_adapters(&lora(4), 1).unwrap();
    let batch = Batch::new(&model, 8);
    let config = TrainConfig { learning_rate: 1e-3, ..TrainConfig::default() };
    let mut trainer = Trainer::new(&model.model, config.clone()).unwrap();
    for _ in 0..2 {
        trainer.step(&model.model, &batch.sequences()).unwrap();
    }
    let ckpt = tempfile::tempdir().unwrap();
    trainer.save(&model.model, ckpt.path(), "tiny").unwrap();
    assert!(ckpt.path().join(train::OPTIMIZER_STATE).is_file());
    let peft: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(ckpt.path().join("adapter_config.json")).unwrap()).unwrap();
    assert_eq!((peft["r"].as_u64(), peft["lora_alpha"].as_f64(), peft["peft_type"].as_str()), (Some(4), Some(8.0), Some("LORA")));

    // A fresh process's view: the base model, then the files (adapters
    // attached the way serve-model does, the optimiser the way a resume does).
    let mut restored = LocalModel::load(dir.path(), &Device::Cpu).unwrap();
    restored.model.load_adapters(ckpt.path()).unwrap();
    let mut resumed = Trainer::new(&restored.model, config).unwrap();
    resumed.restore(&restored.model, ckpt.path()).unwrap();
    assert_eq!(resumed.adam.steps, 2);
    for ((m1, v1), (m2, v2)) in trainer.adam.moments.iter().zip(&resumed.adam.moments) {
        assert_eq!(m1.flatten_all().unwrap().to_vec1::<f32>().unwrap(), m2.flatten_all().unwrap().to_vec1::<f32>().unwrap());
        assert_eq!(v1.flatten_all().unwrap().to_vec1::<f32>().unwrap(), v2.flatten_all().unwrap().to_vec1::<f32>().unwrap());
    }
    let all: Vec<u32> = batch.prompts[0].iter().chain(&batch.rows[0].1).copied().collect();
    let n = batch.prompts[0].len();
    assert_eq!(model.model.logprobs(&all, n).unwrap(), restored.model.logprobs(&all, n).unwrap());
    assert_ne!(restored.model.logprobs(&all, n).unwrap(), restored.model.logprobs_with(&all, n, Pass::BASE).unwrap());

    // One more step on each: the same result (moments and step count were restored).
    trainer.step(&model.model, &batch.sequences()).unwrap();
    resumed.step(&restored.model, &batch.sequences()).unwrap();
    assert_eq!(model.model.logprobs(&all, n).unwrap(), restored.model.logprobs(&all, n).unwrap());
}

#[test]
fn bad_adapters_and_batches_are_refused_clearly() {
    let dir = tiny_dir(Arch::Qwen2);
    let mut model = LocalModel::load(dir.path(), &Device::Cpu).unwrap();
    let err = model.model.add_adapters(&LoraConfig { targets: vec!["lm_head".into()], ..LoraConfig::default() }, 0).unwrap_err();
    assert!(format!("{err:#}").contains("unknown LoRA target module \"lm_head\""), "{err:#}");
    let err = Trainer::new(&model.model, TrainConfig::default()).err().expect("no adapters yet");
    assert!(format!("{err:#}").contains("needs adapters"), "{err:#}");

    // An adapter of another rank, and one with a tensor missing.
    let other = tempfile::tempdir().unwrap();
    let mut donor = LocalModel::load(dir.path(), &Device::Cpu).unwrap();
    donor.model.add_adapters(&lora(2), 0).unwrap();
    donor.model.save_adapters(other.path(), "tiny").unwrap();
    model.model.add_adapters(&lora(4), 0).unwrap();
    let err = model.model.load_adapters(other.path()).unwrap_err();
    assert!(format!("{err:#}").contains("does not match"), "{err:#}");
    let mut tensors = candle_core::safetensors::load(other.path().join("adapter_model.safetensors"), &Device::Cpu).unwrap();
    tensors.remove("base_model.model.model.layers.1.mlp.up_proj.lora_B.weight");
    candle_core::safetensors::save(&tensors, other.path().join("adapter_model.safetensors")).unwrap();
    let mut fresh = LocalModel::load(dir.path(), &Device::Cpu).unwrap();
    let err = fresh.model.load_adapters(other.path()).unwrap_err();
    assert!(format!("{err:#}").contains("no tensor base_model.model.model.layers.1.mlp.up_proj.lora_B.weight"), "{err:#}");
    let err = fresh.model.load_adapters(dir.path()).unwrap_err();
    assert!(format!("{err:#}").contains("adapter_config.json"), "{err:#}");

    // Log-probs that do not match the tokens.
    let p = prompt(&model, "x");
    let seqs = [Sequence { prompt: &p, completion: &[1, 2, 3], sampler_logprobs: &[-1.0], advantage: 1.0 }];
    let trainer = Trainer::new(&model.model, TrainConfig::default()).unwrap();
    let err = trainer.gradients(&model.model, &seqs).err().unwrap();
    assert!(format!("{err:#}").contains("3 completion tokens but 1 sampler log-probs"), "{err:#}");
    // A sampler log-prob of -inf (a token the sampler could not have drawn)
    // makes the importance ratio infinite: refused, not applied.
    let seqs = [Sequence { prompt: &p, completion: &[1, 2], sampler_logprobs: &[-1.0, f32::NEG_INFINITY], advantage: 1.0 }];
    let err = trainer.gradients(&model.model, &seqs).err().unwrap();
    assert!(format!("{err:#}").contains("not finite"), "{err:#}");
}
