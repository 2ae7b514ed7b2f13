//! Test-time training of the LoRA adapters (`docs/algorithm.md`, "Policy
//! loss"): one optimiser step per engine step.
//!
//! ```text
//! d_t   = logq(x_t) - logp_base(x_t)                  sampler vs base model, per token
//! A_t   = A + lambda * (mean_batch(d) - d_t)          KL shaping (lambda = 0: off)
//! r_t   = exp(logp_theta(x_t) - logq(x_t))            importance ratio
//! L     = - sum_t r_t A_t                             over every completion token
//!         - sum_t min(r_t A_t, clip(r_t, 1-eps, 1+eps) A_t)   with PPO clipping
//! theta <- Adam(beta1 0.9, beta2 0.95, eps 1e-8, constant lr)(grad L)
//! ```
//! Sequences are trained in micro-batches that share a prompt (the k rollouts
//! of a group): the prompt runs once per micro-batch and its keys and values
//! are repeated for each completion; gradients are summed over micro-batches
//! before the one optimiser step, so long completions fit in memory.

use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use anyhow::{bail, ensure, Context, Result};
use candle_core::{DType, Tensor, Var, D};
use candle_nn::ops::log_softmax;
use serde::{Deserialize, Serialize};

use crate::model::{causal_mask, Model, Pass};

/// File name of the optimiser state inside a checkpoint directory.
pub const OPTIMIZER_STATE: &str = "optimizer.safetensors";

/// One trajectory to learn from: its prompt and completion tokens, the
/// sampler's log-prob of each completion token, and its advantage.
#[derive(Clone, Debug)]
pub struct Sequence<'a> {
    pub prompt: &'a [u32],
    pub completion: &'a [u32],
    pub sampler_logprobs: &'a [f32],
    pub advantage: f64,
}

/// The optimiser and the loss's options.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Adam's constant learning rate (the paper's 4e-5).
    pub learning_rate: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    /// PPO clipping of the importance ratio to [1 - clip, 1 + clip] (the paper: off; 0.2 when on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clip: Option<f64>,
    /// lambda of the KL shaping toward the base model (0: off).
    pub kl_coef: f64,
    /// Tokens (prompt + rows x longest completion) per forward/backward pass.
    pub micro_batch_tokens: usize,
}

impl Default for TrainConfig {
    fn default() -> TrainConfig {
        TrainConfig { learning_rate: 4e-5, beta1: 0.9, beta2: 0.95, eps: 1e-8, clip: None, kl_coef: 0.0, micro_batch_tokens: 8192 }
    }
}

impl TrainConfig {
    pub fn check(&self) -> Result<()> {
        ensure!(self.learning_rate.is_finite() && self.learning_rate >= 0.0, "the learning rate must be >= 0, got {}", self.learning_rate);
        for (name, b) in [("beta1", self.beta1), ("beta2", self.beta2)] {
            ensure!((0.0..1.0).contains(&b), "Adam's {name} must be in [0, 1), got {b}");
        }
        ensure!(self.eps > 0.0, "Adam's eps must be positive");
        if let Some(c) = self.clip {
            ensure!(c.is_finite() && c > 0.0 && c < 1.0, "the PPO clip must be in (0, 1), got {c}");
        }
        ensure!(self.kl_coef.is_finite() && self.kl_coef >= 0.0, "the KL coefficient must be >= 0, got {}", self.kl_coef);
        ensure!(self.micro_batch_tokens >= 1, "the micro-batch must hold at least one token");
        Ok(())
    }
}

/// What one training step did (the `policy` object of a step event).
#[derive(Clone, Debug, Default, Serialize)]
pub struct StepStats {
    /// L, summed over completion tokens.
    pub loss: f64,
    /// mean over completion tokens of logq - logp_theta (before the update):
    /// how far the trained network has moved from the one that sampled.
    pub kl_sampler: f64,
    /// mean of logq - logp_base: how far the sampler is from the base model.
    pub kl_base: f64,
    /// Mean importance ratio, and the fraction of tokens PPO clipping cut.
    pub ratio_mean: f64,
    pub clipped_fraction: f64,
    /// L2 norm of the gradient over every adapter parameter.
    pub grad_norm: f64,
    pub sequences: usize,
    pub tokens: usize,
    pub micro_batches: usize,
    /// Adam steps taken so far (this one included).
    pub optimizer_steps: u64,
    pub seconds: f64,
}

/// Adam as in the paper (and PyTorch's `Adam`): bias-corrected first and second
/// moments, no weight decay.
#[derive(Clone, Debug)]
pub struct Adam {
    pub steps: u64,
    /// First and second moments, one pair per parameter.
    pub moments: Vec<(Tensor, Tensor)>,
}

impl Adam {
    pub fn new(params: &[Var]) -> Result<Adam> {
        let moments = params.iter().map(|p| Ok((p.zeros_like()?, p.zeros_like()?))).collect::<Result<_>>()?;
        Ok(Adam { steps: 0, moments })
    }

    /// theta <- theta - lr * m_hat / (sqrt(v_hat) + eps)
    pub fn step(&mut self, config: &TrainConfig, params: &[Var], grads: &[Tensor]) -> Result<()> {
        ensure!(params.len() == grads.len() && params.len() == self.moments.len(), "Adam: parameters, gradients and moments differ in number");
        self.steps += 1;
        let t = self.steps as i32;
        let (b1, b2) = (config.beta1, config.beta2);
        let (c1, c2) = (1.0 - b1.powi(t), 1.0 - b2.powi(t));
        for ((p, g), (m, v)) in params.iter().zip(grads).zip(self.moments.iter_mut()) {
            *m = ((&*m * b1)? + (g * (1.0 - b1))?)?;
            *v = ((&*v * b2)? + (g.sqr()? * (1.0 - b2))?)?;
            let denom = ((&*v / c2)?.sqrt()? + config.eps)?;
            let update = ((&*m / c1)? / denom)?;
            p.set(&(p.as_tensor() - (update * config.learning_rate)?)?)?;
        }
        Ok(())
    }

    /// Write the moments (named after the parameters) and the step count.
    pub fn save(&self, path: &Path, names: &[String]) -> Result<()> {
        ensure!(names.len() == self.moments.len(), "Adam: one name per parameter");
        let mut tensors = HashMap::new();
        for (name, (m, v)) in names.iter().zip(&self.moments) {
            tensors.insert(format!("{name}.exp_avg"), m.clone());
            tensors.insert(format!("{name}.exp_avg_sq"), v.clone());
        }
        let device = self.moments.first().map_or(candle_core::Device::Cpu, |(m, _)| m.device().clone());
        tensors.insert("step".into(), Tensor::new(&[self.steps as f64], &device)?);
        candle_core::safetensors::save(&tensors, path).with_context(|| format!("writing {}", path.display()))
    }

    /// Read what [`Adam::save`] wrote, for parameters `names` shaped like `params`.
    pub fn load(path: &Path, names: &[String], params: &[Var]) -> Result<Adam> {
        let device = params.first().map_or(candle_core::Device::Cpu, |p| p.device().clone());
        let mut tensors = candle_core::safetensors::load(path, &device).with_context(|| format!("reading {}", path.display()))?;
        let mut take = |name: String, like: &Var| -> Result<Tensor> {
            let t = tensors.remove(&name).with_context(|| format!("{}: no tensor {name}", path.display()))?;
            ensure!(t.dims() == like.dims(), "{}: {name} has shape {:?}, expected {:?}", path.display(), t.dims(), like.dims());
            Ok(t.to_dtype(like.dtype())?)
        };
        let mut moments = Vec::with_capacity(params.len());
        for (name, p) in names.iter().zip(params) {
            moments.push((take(format!("{name}.exp_avg"), p)?, take(format!("{name}.exp_avg_sq"), p)?));
        }
        let step = tensors.remove("step").with_context(|| format!("{}: no `step`", path.display()))?;
        let steps = step.to_dtype(DType::F64)?.flatten_all()?.to_vec1::<f64>()?.first().copied().unwrap_or(0.0) as u64;
        Ok(Adam { steps, moments })
    }
}

/// The names of a model's trainable tensors, in [`Model::adapter_vars`] order.
fn param_names(model: &Model) -> Vec<String> {
    model
        .adapters()
        .into_iter()
        .flat_map(|(m, _)| {
            let (a, b) = crate::lora::peft_names(&m);
            [a, b]
        })
        .collect()
}

/// The trainer: the optimiser state of a model's adapters.
pub struct Trainer {
    pub config: TrainConfig,
    pub adam: Adam,
}

/// The loss and gradient of one batch, before the optimiser uses them.
pub struct Gradients {
    pub grads: Vec<Tensor>,
    pub stats: StepStats,
}

impl Trainer {
    /// A trainer for `model`'s adapters (which must exist).
    pub fn new(model: &Model, config: TrainConfig) -> Result<Trainer> {
        config.check()?;
        ensure!(model.lora_config().is_some(), "training needs adapters on the model (Model::add_adapters)");
        Ok(Trainer { adam: Adam::new(&model.adapter_vars())?, config })
    }

    /// A training checkpoint in `dir`: the model's adapters as a PEFT adapter
    /// directory and this optimiser's state beside them ([`OPTIMIZER_STATE`]).
    pub fn save(&self, model: &Model, dir: &Path, base_model: &str) -> Result<()> {
        model.save_adapters(dir, base_model)?;
        self.adam.save(&dir.join(OPTIMIZER_STATE), &param_names(model))
    }

    /// Load what [`Trainer::save`] wrote: the adapter weights into the model's
    /// adapters (in place, same shape), the moments and step count here.
    pub fn restore(&mut self, model: &Model, dir: &Path) -> Result<()> {
        model.set_adapters(dir)?;
        self.adam = Adam::load(&dir.join(OPTIMIZER_STATE), &param_names(model), &model.adapter_vars())?;
        Ok(())
    }

    /// One optimiser step on `batch`.
    pub fn step(&mut self, model: &Model, batch: &[Sequence]) -> Result<StepStats> {
        let clock = Instant::now();
        let Gradients { grads, mut stats } = self.gradients(model, batch)?;
        self.adam.step(&self.config, &model.adapter_vars(), &grads)?;
        stats.optimizer_steps = self.adam.steps;
        stats.seconds = clock.elapsed().as_secs_f64();
        Ok(stats)
    }

    /// The loss's gradient with respect to every adapter tensor, summed over
    /// micro-batches (no update).
    pub fn gradients(&self, model: &Model, batch: &[Sequence]) -> Result<Gradients> {
        for (i, s) in batch.iter().enumerate() {
            ensure!(!s.prompt.is_empty(), "sequence {i} has an empty prompt");
            ensure!(
                s.completion.len() == s.sampler_logprobs.len(),
                "sequence {i} has {} completion tokens but {} sampler log-probs",
                s.completion.len(),
                s.sampler_logprobs.len()
            );
            ensure!(s.advantage.is_finite(), "sequence {i} has a non-finite advantage");
            let limit = model.config.max_position_embeddings;
            ensure!(s.prompt.len() + s.completion.len() <= limit, "sequence {i} is longer than the model's context ({limit})");
        }
        let vars = model.adapter_vars();
        let live: Vec<&Sequence> = batch.iter().filter(|s| !s.completion.is_empty()).collect();
        let groups = micro_batches(&live, self.config.micro_batch_tokens);

        // Per-token advantages: A everywhere, plus the KL shaping against the
        // base model (no gradient). Micro-batches take the sequences in order,
        // so `d[i]` belongs to `live[i]`.
        let mut d: Vec<Vec<f64>> = Vec::with_capacity(live.len());
        for g in &groups {
            let rows: Vec<&[u32]> = g.iter().map(|&i| live[i].completion).collect();
            let base = completion_logprobs(model, live[g[0]].prompt, &rows, Pass::BASE)?;
            for (&i, base) in g.iter().zip(base.to_dtype(DType::F64)?.to_vec2::<f64>()?) {
                d.push(live[i].sampler_logprobs.iter().zip(base).map(|(&q, p)| q as f64 - p).collect());
            }
        }
        let tokens: usize = d.iter().map(Vec::len).sum();
        let d_mean = d.iter().flatten().sum::<f64>() / tokens.max(1) as f64;
        let lambda = self.config.kl_coef;
        let advantages: Vec<Vec<f64>> =
            live.iter().zip(&d).map(|(s, d_s)| d_s.iter().map(|dt| s.advantage + lambda * (d_mean - dt)).collect()).collect();

        let mut sums: Vec<Option<Tensor>> = vec![None; vars.len()];
        let mut stats = StepStats { sequences: live.len(), tokens, kl_base: d_mean, micro_batches: groups.len(), ..StepStats::default() };
        let (mut ratio_sum, mut clipped, mut kl_sampler) = (0.0, 0.0, 0.0);
        let device = model.device();
        for g in &groups {
            let rows: Vec<&[u32]> = g.iter().map(|&i| live[i].completion).collect();
            let width = rows.iter().map(|r| r.len()).max().unwrap_or(0);
            // Sampler log-probs, advantages and a 0/1 weight, right-padded to `width`.
            let (mut q, mut a, mut w) = (Vec::new(), Vec::new(), Vec::new());
            for &i in g {
                let n = live[i].completion.len();
                q.extend(live[i].sampler_logprobs.iter().copied().chain(std::iter::repeat_n(0.0, width - n)));
                a.extend(advantages[i].iter().map(|&x| x as f32).chain(std::iter::repeat_n(0.0, width - n)));
                w.extend(std::iter::repeat_n(1f32, n).chain(std::iter::repeat_n(0.0, width - n)));
            }
            let logp = completion_logprobs(model, live[g[0]].prompt, &rows, Pass::TRAIN)?;
            let shape = (g.len(), width);
            let q = Tensor::from_vec(q, shape, device)?.to_dtype(logp.dtype())?;
            let a = Tensor::from_vec(a, shape, device)?.to_dtype(logp.dtype())?;
            let w = Tensor::from_vec(w, shape, device)?.to_dtype(logp.dtype())?;
            let log_ratio = ((&logp - &q)? * &w)?;
            let ratio = log_ratio.exp()?;
            let surrogate = match self.config.clip {
                None => (&ratio * &a)?,
                Some(c) => {
                    let clipped_ratio = ratio.clamp(1.0 - c, 1.0 + c)?;
                    (&ratio * &a)?.minimum(&(clipped_ratio * &a)?)?
                }
            };
            let loss = (surrogate * &w)?.sum_all()?.neg()?;
            let grads = loss.backward()?;
            for (sum, var) in sums.iter_mut().zip(&vars) {
                if let Some(g) = grads.get(var.as_tensor()) {
                    *sum = Some(match sum.take() {
                        Some(s) => (s + g)?,
                        None => g.clone(),
                    });
                }
            }
            // Figures, from the detached values.
            stats.loss += loss.to_dtype(DType::F64)?.to_scalar::<f64>()?;
            let lr = log_ratio.detach().to_dtype(DType::F64)?.to_vec2::<f64>()?;
            for (r, &i) in g.iter().enumerate() {
                for &x in &lr[r][..live[i].completion.len()] {
                    ratio_sum += x.exp();
                    kl_sampler -= x;
                    if let Some(c) = self.config.clip {
                        if (x.exp() - 1.0).abs() > c {
                            clipped += 1.0;
                        }
                    }
                }
            }
        }
        let grads: Vec<Tensor> = sums.into_iter().zip(&vars).map(|(s, v)| s.map_or_else(|| v.zeros_like(), Ok)).collect::<candle_core::Result<_>>()?;
        let norm_sq: f64 = grads.iter().map(|g| g.to_dtype(DType::F64)?.sqr()?.sum_all()?.to_scalar::<f64>()).collect::<candle_core::Result<Vec<_>>>()?.iter().sum();
        let n = tokens.max(1) as f64;
        stats.grad_norm = norm_sq.sqrt();
        stats.ratio_mean = ratio_sum / n;
        stats.kl_sampler = kl_sampler / n;
        stats.clipped_fraction = clipped / n;
        if !stats.loss.is_finite() || !stats.grad_norm.is_finite() {
            bail!("the loss or its gradient is not finite (loss {}, grad norm {}); no update was applied", stats.loss, stats.grad_norm);
        }
        Ok(Gradients { grads, stats })
    }
}

/// Indices of `seqs` grouped into micro-batches: consecutive sequences with the
/// same prompt, while prompt + rows x longest completion stays within `budget`
/// tokens (a micro-batch always takes at least one sequence).
fn micro_batches(seqs: &[&Sequence], budget: usize) -> Vec<Vec<usize>> {
    let mut out: Vec<Vec<usize>> = Vec::new();
    let mut width = 0;
    for (i, s) in seqs.iter().enumerate() {
        if let Some(last) = out.last_mut() {
            let first = seqs[last[0]];
            let w = width.max(s.completion.len());
            if first.prompt == s.prompt && first.prompt.len() + (last.len() + 1) * w <= budget {
                last.push(i);
                width = w;
                continue;
            }
        }
        out.push(vec![i]);
        width = s.completion.len();
    }
    out
}

/// Log-probs [rows, longest] (f32) of each completion's tokens after `prompt`,
/// right-padded with zeros. The prompt runs once; its keys and values are
/// repeated for each row. In `Pass::TRAIN` the result carries the graph to the
/// adapters.
pub fn completion_logprobs(model: &Model, prompt: &[u32], completions: &[&[u32]], pass: Pass) -> Result<Tensor> {
    let device = model.device();
    let (p, rows) = (prompt.len(), completions.len());
    let width = completions.iter().map(|c| c.len()).max().unwrap_or(0);
    ensure!(p > 0 && rows > 0 && width > 0, "completion_logprobs needs a prompt and a non-empty completion");
    let mut cache = model.new_cache();
    let hp = model.hidden(
        &Tensor::new(prompt, device)?.unsqueeze(0)?,
        &Tensor::arange(0u32, p as u32, device)?.unsqueeze(0)?,
        &causal_mask(&[0], p, 0, device)?,
        &mut cache,
        pass,
    )?;
    // The last prompt position predicts each completion's first token.
    let first = hp.narrow(1, p - 1, 1)?.broadcast_as((rows, 1, model.config.hidden_size))?;
    let hidden = if width > 1 {
        // Completion tokens but the last feed the rest; rows right-padded with 0.
        let s = width - 1;
        let mut tokens = Vec::with_capacity(rows * s);
        for c in completions {
            tokens.extend(c.iter().take(s).copied().chain(std::iter::repeat_n(0, s.saturating_sub(c.len()))));
        }
        let positions: Vec<u32> = (0..rows).flat_map(|_| (p..p + s).map(|x| x as u32)).collect();
        let mut cache = cache.select_rows(&vec![0; rows])?;
        let hc = model.hidden(
            &Tensor::from_vec(tokens, (rows, s), device)?,
            &Tensor::from_vec(positions, (rows, s), device)?,
            &causal_mask(&vec![0; rows], s, p, device)?,
            &mut cache,
            pass,
        )?;
        Tensor::cat(&[&first.contiguous()?, &hc], 1)?
    } else {
        first.contiguous()?
    };
    let logp = log_softmax(&model.logits(&hidden)?, D::Minus1)?;
    let mut targets = Vec::with_capacity(rows * width);
    for c in completions {
        targets.extend(c.iter().copied().chain(std::iter::repeat_n(0, width - c.len())));
    }
    let targets = Tensor::from_vec(targets, (rows, width, 1), device)?;
    Ok(logp.gather(&targets, D::Minus1)?.squeeze(D::Minus1)?)
}
