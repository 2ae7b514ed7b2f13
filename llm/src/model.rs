//! The decoder shared by Llama, Qwen2 and Qwen3:
//!
//! ```text
//! h = embed(tokens)
//! for each layer:  h = h + o(attn(rope(q(norm1 h)), rope(k(norm1 h)), v(norm1 h)))
//!                  h = h + down(silu(gate(norm2 h)) * up(norm2 h))
//! logits = lm_head(norm h)
//! ```
//! Attention is causal with grouped KV heads; each row of a batch carries its
//! own positions (prompts are left-padded) and a key-value cache grows along the
//! time axis as tokens are generated.

use std::path::Path;

use anyhow::{bail, Context, Result};
use candle_core::{DType, Device, Module, Tensor, D};
use candle_nn::{Linear, VarBuilder};

use crate::config::Config;

/// Keys and values seen so far, per layer: `[batch, kv_heads, time, head_dim]`.
#[derive(Clone, Debug, Default)]
pub struct Cache {
    layers: Vec<Option<(Tensor, Tensor)>>,
}

impl Cache {
    pub fn new(layers: usize) -> Cache {
        Cache { layers: vec![None; layers] }
    }

    /// Time steps cached.
    pub fn len(&self) -> usize {
        self.layers.first().and_then(|l| l.as_ref()).map_or(0, |(k, _)| k.dim(2).unwrap_or(0))
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Keep (or repeat) batch rows: row `i` of the result is row `rows[i]` of this cache.
    pub fn select_rows(&self, rows: &[u32]) -> Result<Cache> {
        let Some(device) = self.layers.iter().flatten().next().map(|(k, _)| k.device().clone()) else {
            return Ok(self.clone());
        };
        let index = Tensor::new(rows, &device)?;
        let layers = self
            .layers
            .iter()
            .map(|l| match l {
                Some((k, v)) => Ok(Some((k.index_select(&index, 0)?, v.index_select(&index, 0)?))),
                None => Ok(None),
            })
            .collect::<Result<_>>()?;
        Ok(Cache { layers })
    }
}

/// RMSNorm: x / sqrt(mean(x^2) + eps) * weight.
#[derive(Clone, Debug)]
struct RmsNorm {
    weight: Tensor,
    eps: f32,
}

impl RmsNorm {
    fn load(vb: VarBuilder, size: usize, eps: f64) -> Result<RmsNorm> {
        Ok(RmsNorm { weight: vb.get(size, "weight")?, eps: eps as f32 })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(candle_nn::ops::rms_norm(&x.contiguous()?, &self.weight, self.eps)?)
    }
}

fn linear(vb: VarBuilder, input: usize, output: usize, bias: bool) -> Result<Linear> {
    let weight = vb.get((output, input), "weight")?;
    let bias = if bias { Some(vb.get(output, "bias")?) } else { None };
    Ok(Linear::new(weight, bias))
}

#[derive(Clone, Debug)]
struct Attention {
    q: Linear,
    k: Linear,
    v: Linear,
    o: Linear,
    q_norm: Option<RmsNorm>,
    k_norm: Option<RmsNorm>,
    heads: usize,
    kv_heads: usize,
    head_dim: usize,
}

impl Attention {
    fn load(vb: VarBuilder, c: &Config) -> Result<Attention> {
        let (h, d) = (c.hidden_size, c.head_dim);
        let (q, kv) = (c.num_attention_heads * d, c.num_key_value_heads * d);
        let norm = |name: &str| -> Result<Option<RmsNorm>> {
            c.qk_norm.then(|| RmsNorm::load(vb.pp(name), d, c.rms_norm_eps)).transpose()
        };
        Ok(Attention {
            q: linear(vb.pp("q_proj"), h, q, c.qkv_bias)?,
            k: linear(vb.pp("k_proj"), h, kv, c.qkv_bias)?,
            v: linear(vb.pp("v_proj"), h, kv, c.qkv_bias)?,
            o: linear(vb.pp("o_proj"), q, h, c.o_bias)?,
            q_norm: norm("q_norm")?,
            k_norm: norm("k_norm")?,
            heads: c.num_attention_heads,
            kv_heads: c.num_key_value_heads,
            head_dim: d,
        })
    }

    /// `x`: [b, s, hidden]; `cos`/`sin`: [b, s, head_dim/2]; `mask`: [b, 1, s, t]
    /// additive, where t = cached + s.
    fn forward(
        &self,
        x: &Tensor,
        cos: &Tensor,
        sin: &Tensor,
        mask: &Tensor,
        cache: &mut Option<(Tensor, Tensor)>,
    ) -> Result<Tensor> {
        let (b, s, _) = x.dims3()?;
        let d = self.head_dim;
        let heads = |t: Tensor, n: usize| -> Result<Tensor> { Ok(t.reshape((b, s, n, d))?.transpose(1, 2)?.contiguous()?) };
        let mut q = heads(self.q.forward(x)?, self.heads)?;
        let mut k = heads(self.k.forward(x)?, self.kv_heads)?;
        let v = heads(self.v.forward(x)?, self.kv_heads)?;
        if let (Some(qn), Some(kn)) = (&self.q_norm, &self.k_norm) {
            q = qn.forward(&q)?;
            k = kn.forward(&k)?;
        }
        let q = candle_nn::rotary_emb::rope(&q, cos, sin)?;
        let k = candle_nn::rotary_emb::rope(&k, cos, sin)?;
        let (k, v) = match cache.take() {
            Some((pk, pv)) => (Tensor::cat(&[&pk, &k], 2)?, Tensor::cat(&[&pv, &v], 2)?),
            None => (k, v),
        };
        *cache = Some((k.clone(), v.clone()));
        let rep = self.heads / self.kv_heads;
        let (k, v) = (repeat_kv(&k, rep)?, repeat_kv(&v, rep)?);
        let scale = 1.0 / (d as f64).sqrt();
        let scores = (q.matmul(&k.t()?)? * scale)?.broadcast_add(mask)?;
        // Softmax in f32 even for half-precision weights.
        let probs = candle_nn::ops::softmax_last_dim(&scores.to_dtype(DType::F32)?)?.to_dtype(v.dtype())?;
        let out = probs.matmul(&v)?.transpose(1, 2)?.reshape((b, s, self.heads * d))?;
        Ok(self.o.forward(&out)?)
    }
}

/// [b, kv, t, d] -> [b, kv * rep, t, d], each KV head shared by `rep` query heads.
fn repeat_kv(x: &Tensor, rep: usize) -> Result<Tensor> {
    if rep == 1 {
        return Ok(x.clone());
    }
    let (b, kv, t, d) = x.dims4()?;
    Ok(x.unsqueeze(2)?.expand((b, kv, rep, t, d))?.reshape((b, kv * rep, t, d))?)
}

#[derive(Clone, Debug)]
struct Mlp {
    gate: Linear,
    up: Linear,
    down: Linear,
}

impl Mlp {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let gated = (candle_nn::ops::silu(&self.gate.forward(x)?)? * self.up.forward(x)?)?;
        Ok(self.down.forward(&gated)?)
    }
}

#[derive(Clone, Debug)]
struct Layer {
    norm1: RmsNorm,
    attn: Attention,
    norm2: RmsNorm,
    mlp: Mlp,
}

/// A decoder-only language model with its weights.
#[derive(Clone, Debug)]
pub struct Model {
    pub config: Config,
    embed: Tensor,
    layers: Vec<Layer>,
    norm: RmsNorm,
    lm_head: Linear,
    inv_freq: Tensor,
    device: Device,
    dtype: DType,
}

impl Model {
    /// The weights of every `*.safetensors` file in `dir`, in `dtype` on `device`.
    pub fn load(dir: &Path, config: Config, device: &Device, dtype: DType) -> Result<Model> {
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .with_context(|| format!("reading the model directory {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "safetensors"))
            .collect();
        files.sort();
        if files.is_empty() {
            bail!("{} has no *.safetensors weights", dir.display());
        }
        // SAFETY: the files are memory-mapped read-only; nothing here writes them.
        let vb = unsafe { VarBuilder::from_mmaped_safetensors(&files, dtype, device) }
            .with_context(|| format!("opening the weights in {}", dir.display()))?;
        Model::from_var_builder(vb, config)
            .with_context(|| format!("loading the weights of {} ({})", dir.display(), files.iter().map(|f| f.file_name().unwrap_or_default().to_string_lossy()).collect::<Vec<_>>().join(", ")))
    }

    pub fn from_var_builder(vb: VarBuilder, c: Config) -> Result<Model> {
        let (h, i) = (c.hidden_size, c.intermediate_size);
        let m = vb.pp("model");
        let embed = m.get((c.vocab_size, h), "embed_tokens.weight")?;
        let layers = (0..c.num_hidden_layers)
            .map(|n| {
                let l = m.pp(format!("layers.{n}"));
                let mlp = l.pp("mlp");
                Ok(Layer {
                    norm1: RmsNorm::load(l.pp("input_layernorm"), h, c.rms_norm_eps)?,
                    attn: Attention::load(l.pp("self_attn"), &c)?,
                    norm2: RmsNorm::load(l.pp("post_attention_layernorm"), h, c.rms_norm_eps)?,
                    mlp: Mlp {
                        gate: linear(mlp.pp("gate_proj"), h, i, c.mlp_bias)?,
                        up: linear(mlp.pp("up_proj"), h, i, c.mlp_bias)?,
                        down: linear(mlp.pp("down_proj"), i, h, c.mlp_bias)?,
                    },
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let norm = RmsNorm::load(m.pp("norm"), h, c.rms_norm_eps)?;
        let lm_head = if c.tie_word_embeddings && !vb.contains_tensor("lm_head.weight") {
            Linear::new(embed.clone(), None)
        } else {
            linear(vb.pp("lm_head"), h, c.vocab_size, false)?
        };
        let device = vb.device().clone();
        let inv_freq = Tensor::new(c.inv_freq(), &device)?.reshape((1, 1, c.head_dim / 2))?;
        Ok(Model { embed, layers, norm, lm_head, inv_freq, device, dtype: vb.dtype(), config: c })
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    pub fn dtype(&self) -> DType {
        self.dtype
    }

    pub fn new_cache(&self) -> Cache {
        Cache::new(self.layers.len())
    }

    /// Hidden states after the final norm: `tokens` and `positions` are
    /// [b, s]; `mask` is [b, 1, s, cached + s] (0 where attention is allowed,
    /// -inf where not). The cache grows by s.
    pub fn hidden(&self, tokens: &Tensor, positions: &Tensor, mask: &Tensor, cache: &mut Cache) -> Result<Tensor> {
        let (b, s) = tokens.dims2()?;
        let mut h = self.embed.index_select(&tokens.flatten_all()?, 0)?.reshape((b, s, self.config.hidden_size))?;
        let freqs = positions.to_dtype(DType::F32)?.unsqueeze(2)?.broadcast_mul(&self.inv_freq)?;
        let cos = freqs.cos()?.to_dtype(self.dtype)?.contiguous()?;
        let sin = freqs.sin()?.to_dtype(self.dtype)?.contiguous()?;
        let mask = mask.to_dtype(self.dtype)?;
        if cache.layers.len() != self.layers.len() {
            *cache = self.new_cache();
        }
        for (layer, kv) in self.layers.iter().zip(cache.layers.iter_mut()) {
            let a = layer.attn.forward(&layer.norm1.forward(&h)?, &cos, &sin, &mask, kv)?;
            h = (h + a)?;
            let m = layer.mlp.forward(&layer.norm2.forward(&h)?)?;
            h = (h + m)?;
        }
        self.norm.forward(&h)
    }

    /// Logits in f32 of hidden states [.., hidden].
    pub fn logits(&self, hidden: &Tensor) -> Result<Tensor> {
        Ok(self.lm_head.forward(hidden)?.to_dtype(DType::F32)?)
    }

    /// Teacher forcing: the log-probability the model gives each token of
    /// `tokens[from..]` after the tokens before it (one row, no cache).
    pub fn logprobs(&self, tokens: &[u32], from: usize) -> Result<Vec<f32>> {
        if from == 0 || from > tokens.len() {
            bail!("logprobs: `from` must be in 1..={} (the first token has no context)", tokens.len());
        }
        let n = tokens.len();
        let input = Tensor::new(tokens, &self.device)?.unsqueeze(0)?;
        let positions = Tensor::arange(0u32, n as u32, &self.device)?.unsqueeze(0)?;
        let mask = causal_mask(&[0], n, 0, &self.device)?;
        let hidden = self.hidden(&input, &positions, &mask, &mut self.new_cache())?;
        let hidden = hidden.narrow(1, from - 1, n - from)?;
        let logp = candle_nn::ops::log_softmax(&self.logits(&hidden)?, D::Minus1)?.squeeze(0)?;
        let targets = Tensor::new(&tokens[from..], &self.device)?.unsqueeze(1)?;
        Ok(logp.gather(&targets, 1)?.squeeze(1)?.to_vec1()?)
    }
}

/// The additive attention mask for `s` new queries after `cached` keys, rows
/// left-padded by `pad[row]`: query i (absolute position cached + i) sees key j
/// iff j <= cached + i and j is not padding. A padding query sees only itself,
/// so that its softmax stays finite (its output is never used).
pub fn causal_mask(pad: &[usize], s: usize, cached: usize, device: &Device) -> Result<Tensor> {
    let t = cached + s;
    let mut m = vec![0f32; pad.len() * s * t];
    for (r, &p) in pad.iter().enumerate() {
        for i in 0..s {
            let q = cached + i;
            for j in 0..t {
                let allowed = j == q || (j < q && j >= p);
                if !allowed {
                    m[(r * s + i) * t + j] = f32::NEG_INFINITY;
                }
            }
        }
    }
    Ok(Tensor::from_vec(m, (pad.len(), 1, s, t), device)?)
}
