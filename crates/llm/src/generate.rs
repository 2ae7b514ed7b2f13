//! Batched sampling with a key-value cache.
//!
//! Rows sharing a prompt (the n samples of one request, the k rollouts of one
//! group) are prefilled once and the cache is then repeated per row. Prompts of
//! different lengths are left-padded; each row keeps its own positions, mask,
//! sampling parameters and random stream, so a row's tokens depend only on its
//! prompt, parameters and seed, never on what else is in the batch.
//!
//! The log-prob returned for each token is that of the distribution it was
//! drawn from: softmax(logits / temperature), renormalised over the top-p
//! nucleus. At temperature 1 and top-p 1 it is the model's own log-prob
//! (what a teacher-forced pass gives); at temperature 0 (greedy) it is the
//! model's log-prob at temperature 1.

use std::collections::HashMap;

use anyhow::{bail, Result};
use candle_core::{DType, Device, Tensor};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::model::{causal_mask, Model, Pass};
use crate::tokenizer::Tokenizer;

/// Prompt positions processed per forward pass while prefilling: bounds the
/// attention scores' memory to rows x heads x CHUNK x prompt length.
const PREFILL_CHUNK: usize = 256;

#[derive(Clone, Debug, PartialEq)]
pub struct SamplingParams {
    pub temperature: f64,
    pub top_p: f64,
    pub max_tokens: usize,
    /// Strings that end the completion (left out of its text).
    pub stop: Vec<String>,
    pub seed: u64,
}

impl Default for SamplingParams {
    fn default() -> SamplingParams {
        SamplingParams { temperature: 1.0, top_p: 1.0, max_tokens: 256, stop: Vec::new(), seed: 0 }
    }
}

impl SamplingParams {
    pub fn check(&self) -> Result<()> {
        if !(self.temperature.is_finite() && self.temperature >= 0.0) {
            bail!("temperature must be a number >= 0, got {}", self.temperature);
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            bail!("top_p must be in (0, 1], got {}", self.top_p);
        }
        if self.max_tokens == 0 {
            bail!("max_tokens must be at least 1");
        }
        Ok(())
    }
}

/// One row to sample: a prompt and how to continue it.
#[derive(Clone, Debug)]
pub struct Request {
    pub prompt: Vec<u32>,
    pub params: SamplingParams,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Finish {
    /// An end-of-sequence token or a stop string.
    Stop,
    /// `max_tokens`, or the model's context length.
    Length,
}

impl Finish {
    /// The OpenAI API's `finish_reason`.
    pub fn as_str(self) -> &'static str {
        match self {
            Finish::Stop => "stop",
            Finish::Length => "length",
        }
    }
}

/// A sampled completion: its tokens (the end-of-sequence token included, so
/// that training sees it), the sampler's log-prob of each, and its text.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Generation {
    pub tokens: Vec<u32>,
    pub logprobs: Vec<f32>,
    pub text: String,
    pub finish: Finish,
}

/// Draw one token from a row of logits; returns it and its log-prob (see the
/// module doc).
pub fn sample_token(logits: &[f32], params: &SamplingParams, rng: &mut ChaCha8Rng) -> (u32, f32) {
    let log_softmax = |scale: f64| -> Vec<f64> {
        let z: Vec<f64> = logits.iter().map(|&l| l as f64 * scale).collect();
        let max = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let lse = max + z.iter().map(|v| (v - max).exp()).sum::<f64>().ln();
        z.into_iter().map(|v| v - lse).collect()
    };
    if params.temperature == 0.0 {
        let lp = log_softmax(1.0);
        let best = (0..lp.len()).fold(0, |b, i| if lp[i] > lp[b] { i } else { b });
        return (best as u32, lp[best] as f32);
    }
    let lp = log_softmax(1.0 / params.temperature);
    // The nucleus: the most likely tokens whose mass reaches top_p.
    let mut order: Vec<usize> = (0..lp.len()).collect();
    let mut kept_mass = 1.0;
    if params.top_p < 1.0 {
        order.sort_by(|&a, &b| lp[b].total_cmp(&lp[a]).then(a.cmp(&b)));
        let mut mass = 0.0;
        let mut keep = 0;
        while keep < order.len() {
            mass += lp[order[keep]].exp();
            keep += 1;
            if mass >= params.top_p {
                break;
            }
        }
        order.truncate(keep);
        kept_mass = mass;
    }
    let u = rng.random::<f64>() * kept_mass;
    let mut acc = 0.0;
    let mut chosen = *order.last().expect("a vocabulary is not empty");
    for &i in &order {
        acc += lp[i].exp();
        if u < acc {
            chosen = i;
            break;
        }
    }
    (chosen as u32, (lp[chosen] - kept_mass.ln()) as f32)
}

struct Row {
    params: SamplingParams,
    rng: ChaCha8Rng,
    /// Left padding, and the prompt length.
    pad: usize,
    prompt_len: usize,
    out: Generation,
    done: bool,
}

/// Sample every request; results in request order.
pub fn generate(model: &Model, tokenizer: &Tokenizer, requests: &[Request]) -> Result<Vec<Generation>> {
    if requests.is_empty() {
        return Ok(Vec::new());
    }
    let context = model.config.max_position_embeddings;
    for r in requests {
        r.params.check()?;
        if r.prompt.is_empty() {
            bail!("an empty prompt cannot be continued");
        }
        if r.prompt.len() >= context {
            bail!("the prompt has {} tokens; the model's context is {context}", r.prompt.len());
        }
    }
    let device = model.device();

    // Distinct prompts, left-padded to one length, prefilled once each.
    let mut distinct: Vec<&[u32]> = Vec::new();
    let mut index: HashMap<&[u32], usize> = HashMap::new();
    let row_prompt: Vec<usize> = requests
        .iter()
        .map(|r| {
            *index.entry(&r.prompt).or_insert_with(|| {
                distinct.push(&r.prompt);
                distinct.len() - 1
            })
        })
        .collect();
    let width = distinct.iter().map(|p| p.len()).max().expect("not empty");
    let pads: Vec<usize> = distinct.iter().map(|p| width - p.len()).collect();
    let mut cache = model.new_cache();
    let mut last_logits = None;
    for c0 in (0..width).step_by(PREFILL_CHUNK) {
        let c1 = (c0 + PREFILL_CHUNK).min(width);
        let mut tokens = Vec::with_capacity(distinct.len() * (c1 - c0));
        let mut positions = Vec::with_capacity(tokens.capacity());
        for (p, &pad) in distinct.iter().zip(&pads) {
            for i in c0..c1 {
                tokens.push(if i < pad { 0 } else { p[i - pad] });
                positions.push(i.saturating_sub(pad) as u32);
            }
        }
        let shape = (distinct.len(), c1 - c0);
        let hidden = model.hidden(
            &Tensor::from_vec(tokens, shape, device)?,
            &Tensor::from_vec(positions, shape, device)?,
            &causal_mask(&pads, c1 - c0, c0, device)?,
            &mut cache,
            Pass::SAMPLE,
        )?;
        if c1 == width {
            last_logits = Some(model.logits(&hidden.narrow(1, c1 - c0 - 1, 1)?.squeeze(1)?)?.to_dtype(DType::F32)?.to_vec2::<f32>()?);
        }
    }
    let prompt_logits = last_logits.expect("the prompt has at least one chunk");

    let mut rows: Vec<Row> = requests
        .iter()
        .zip(&row_prompt)
        .map(|(r, &p)| Row {
            params: r.params.clone(),
            rng: ChaCha8Rng::seed_from_u64(r.params.seed),
            pad: pads[p],
            prompt_len: r.prompt.len(),
            out: Generation { tokens: Vec::new(), logprobs: Vec::new(), text: String::new(), finish: Finish::Length },
            done: false,
        })
        .collect();
    // Rows still sampling, and the cache row of each.
    let mut active: Vec<usize> = (0..rows.len()).collect();
    let mut cache = cache.select_rows(&row_prompt.iter().map(|&p| p as u32).collect::<Vec<_>>())?;
    let mut logits: Vec<Vec<f32>> = row_prompt.iter().map(|&p| prompt_logits[p].clone()).collect();
    loop {
        // Sample one token for every active row.
        for (slot, &r) in active.iter().enumerate() {
            let row = &mut rows[r];
            let (token, logprob) = sample_token(&logits[slot], &row.params, &mut row.rng);
            row.out.tokens.push(token);
            row.out.logprobs.push(logprob);
            step_row(row, token, tokenizer, context)?;
        }
        let still: Vec<usize> = (0..active.len()).filter(|&s| !rows[active[s]].done).collect();
        if still.is_empty() {
            break;
        }
        if still.len() < active.len() {
            cache = cache.select_rows(&still.iter().map(|&s| s as u32).collect::<Vec<_>>())?;
            active = still.iter().map(|&s| active[s]).collect();
        }
        // One decoding step for the rows still going.
        let cached = cache.len();
        let tokens: Vec<u32> = active.iter().map(|&r| *rows[r].out.tokens.last().expect("sampled")).collect();
        let positions: Vec<u32> = active.iter().map(|&r| (rows[r].prompt_len + rows[r].out.tokens.len() - 1) as u32).collect();
        let pads: Vec<usize> = active.iter().map(|&r| rows[r].pad).collect();
        let b = active.len();
        let hidden = model.hidden(
            &Tensor::from_vec(tokens, (b, 1), device)?,
            &Tensor::from_vec(positions, (b, 1), device)?,
            &causal_mask(&pads, 1, cached, device)?,
            &mut cache,
            Pass::SAMPLE,
        )?;
        logits = model.logits(&hidden.squeeze(1)?)?.to_dtype(DType::F32)?.to_vec2::<f32>()?;
    }
    Ok(rows.into_iter().map(|r| r.out).collect())
}

/// After a token is appended: finish the row on end-of-sequence, a stop string,
/// max_tokens or the context length; keep its text current.
fn step_row(row: &mut Row, token: u32, tokenizer: &Tokenizer, context: usize) -> Result<()> {
    if tokenizer.eos_ids.contains(&token) {
        row.out.text = tokenizer.decode(&row.out.tokens[..row.out.tokens.len() - 1])?;
        row.out.finish = Finish::Stop;
        row.done = true;
        return Ok(());
    }
    let full = row.out.tokens.len() >= row.params.max_tokens || row.prompt_len + row.out.tokens.len() >= context;
    if !row.params.stop.is_empty() || full {
        row.out.text = tokenizer.decode(&row.out.tokens)?;
    }
    if let Some(cut) = row.params.stop.iter().filter_map(|s| row.out.text.find(s.as_str())).min() {
        row.out.text.truncate(cut);
        row.out.finish = Finish::Stop;
        row.done = true;
    } else if full {
        row.out.finish = Finish::Length;
        row.done = true;
    }
    Ok(())
}

/// Where models run: the first CUDA GPU when built with `--features cuda` and
/// one is present, else the CPU.
pub fn default_device() -> Device {
    #[cfg(feature = "cuda")]
    if let Ok(d) = Device::new_cuda(0) {
        return d;
    }
    Device::Cpu
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_p_keeps_the_nucleus_and_renormalises() {
        // p = [0.5, 0.3, 0.2]: top_p 0.7 keeps the first two.
        let logits: Vec<f32> = [0.5f32, 0.3, 0.2].iter().map(|p| p.ln()).collect();
        let params = SamplingParams { top_p: 0.7, ..Default::default() };
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut seen = [0usize; 3];
        for _ in 0..2000 {
            let (t, lp) = sample_token(&logits, &params, &mut rng);
            seen[t as usize] += 1;
            let expected = [0.5 / 0.8, 0.3 / 0.8, 0.0][t as usize];
            assert!((lp as f64 - f64::ln(expected)).abs() < 1e-6);
        }
        assert_eq!(seen[2], 0);
        assert!((seen[0] as f64 / 2000.0 - 0.625).abs() < 0.04, "{seen:?}");
    }

    #[test]
    fn greedy_takes_the_argmax() {
        let params = SamplingParams { temperature: 0.0, ..Default::default() };
        let (t, lp) = sample_token(&[0.0, 2.0, 1.0], &params, &mut ChaCha8Rng::seed_from_u64(0));
        assert_eq!(t, 1);
        assert!(lp < 0.0);
    }
}
