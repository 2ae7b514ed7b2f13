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
//!
//! Every projection may carry a LoRA adapter ([`crate::lora`]). A [`Pass`] says
//! whether a forward pass uses the adapters (off: the base model) and whether
//! it must be differentiable (training: composed candle ops with gradients,
//! instead of the fused kernels that have none).

use std::path::Path;

use anyhow::{bail, Context, Result};
use candle_core::{DType, Device, Tensor, Var, D};
use candle_nn::VarBuilder;

use crate::config::Config;
use crate::lora::{self, Lora, LoraConfig};

/// How a forward pass runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pass {
    /// Add the LoRA adapters' terms (false: the base model).
    pub adapters: bool,
    /// Build a graph that `backward` can differentiate (slower, more memory).
    pub grad: bool,
}

impl Pass {
    /// Sampling: adapters on, fused kernels.
    pub const SAMPLE: Pass = Pass { adapters: true, grad: false };
    /// The base model: adapters off.
    pub const BASE: Pass = Pass { adapters: false, grad: false };
    /// Training: adapters on, differentiable.
    pub const TRAIN: Pass = Pass { adapters: true, grad: true };
}

/// Keys and values seen so far, per layer: `[batch, kv_heads, time, head_dim]`.
///
/// While sampling, each layer's keys and values live in a buffer with room to
/// spare, written in place as tokens come (doubling when full), so a decode
/// step copies one position, not the whole history. A differentiable pass
/// concatenates instead (in-place writes have no gradient).
#[derive(Debug, Default)]
pub struct Cache {
    layers: Vec<Option<LayerCache>>,
}

#[derive(Debug)]
struct LayerCache {
    /// [batch, kv_heads, capacity, head_dim]; positions `len..` are unused.
    k: Tensor,
    v: Tensor,
    len: usize,
}

impl LayerCache {
    /// Append `k`, `v` ([b, kv, s, d]) and return every cached position.
    fn append(slot: &mut Option<LayerCache>, k: Tensor, v: Tensor, grad: bool) -> Result<(Tensor, Tensor)> {
        let s = k.dim(2)?;
        let Some(c) = slot else {
            // The first chunk: its tensors become the cache as they are (a
            // graph node while training); room is made on the first append.
            *slot = Some(LayerCache { k: k.clone(), v: v.clone(), len: s });
            return Ok((k, v));
        };
        if grad {
            let (ck, cv) = (c.k.narrow(2, 0, c.len)?, c.v.narrow(2, 0, c.len)?);
            let (nk, nv) = (Tensor::cat(&[&ck, &k], 2)?, Tensor::cat(&[&cv, &v], 2)?);
            *c = LayerCache { k: nk.clone(), v: nv.clone(), len: c.len + s };
            return Ok((nk, nv));
        }
        let capacity = c.k.dim(2)?;
        if c.len + s > capacity {
            let (b, kv, _, d) = c.k.dims4()?;
            let room = (2 * capacity).max(c.len + s).max(64);
            let grow = |old: &Tensor| -> Result<Tensor> {
                let new = Tensor::zeros((b, kv, room, d), old.dtype(), old.device())?;
                new.slice_set(&old.narrow(2, 0, c.len)?.contiguous()?, 2, 0)?;
                Ok(new)
            };
            c.k = grow(&c.k)?;
            c.v = grow(&c.v)?;
        }
        c.k.slice_set(&k.contiguous()?, 2, c.len)?;
        c.v.slice_set(&v.contiguous()?, 2, c.len)?;
        c.len += s;
        Ok((c.k.narrow(2, 0, c.len)?, c.v.narrow(2, 0, c.len)?))
    }
}

impl Cache {
    pub fn new(layers: usize) -> Cache {
        Cache { layers: (0..layers).map(|_| None).collect() }
    }

    /// Time steps cached.
    pub fn len(&self) -> usize {
        self.layers.first().and_then(|l| l.as_ref()).map_or(0, |c| c.len)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Keep (or repeat) batch rows: row `i` of the result is row `rows[i]` of
    /// this cache (a copy; differentiable).
    pub fn select_rows(&self, rows: &[u32]) -> Result<Cache> {
        let Some(device) = self.layers.iter().flatten().next().map(|c| c.k.device().clone()) else {
            return Ok(Cache::new(self.layers.len()));
        };
        let index = Tensor::new(rows, &device)?;
        let layers = self
            .layers
            .iter()
            .map(|l| match l {
                // Whole buffers (index_select wants them contiguous); the
                // spare room comes along.
                Some(c) => Ok(Some(LayerCache {
                    k: c.k.contiguous()?.index_select(&index, 0)?,
                    v: c.v.contiguous()?.index_select(&index, 0)?,
                    len: c.len,
                })),
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

    fn forward(&self, x: &Tensor, pass: Pass) -> Result<Tensor> {
        // The fused kernel has neither a backward pass nor an f64 version.
        if pass.grad || x.dtype() == DType::F64 {
            return Ok(candle_nn::ops::rms_norm_slow(x, &self.weight, self.eps)?);
        }
        Ok(candle_nn::ops::rms_norm(&x.contiguous()?, &self.weight, self.eps)?)
    }
}

/// A projection x W^T (+ bias), with an optional LoRA adapter.
#[derive(Clone, Debug)]
struct Proj {
    weight: Tensor,
    bias: Option<Tensor>,
    lora: Option<Lora>,
}

impl Proj {
    /// `x`: [.., in] -> [.., out]. The leading dimensions are flattened into
    /// one matrix product, so a batch of rows reads the weights once.
    fn forward(&self, x: &Tensor, pass: Pass) -> Result<Tensor> {
        let dims = x.dims();
        let input = *dims.last().context("a projection needs at least one dimension")?;
        let rows = x.elem_count() / input.max(1);
        let x2 = x.reshape((rows, input))?;
        let mut y = x2.matmul(&self.weight.t()?)?;
        if let Some(b) = &self.bias {
            y = y.broadcast_add(b)?;
        }
        if let (true, Some(lora)) = (pass.adapters, &self.lora) {
            y = (y + lora.forward(&x2, pass.grad)?)?;
        }
        let mut out = dims.to_vec();
        *out.last_mut().expect("non-empty") = self.weight.dim(0)?;
        Ok(y.reshape(out)?)
    }

    fn out_features(&self) -> usize {
        self.weight.dim(0).unwrap_or(0)
    }

    fn in_features(&self) -> usize {
        self.weight.dim(1).unwrap_or(0)
    }
}

fn linear(vb: VarBuilder, input: usize, output: usize, bias: bool) -> Result<Proj> {
    let weight = vb.get((output, input), "weight")?;
    let bias = if bias { Some(vb.get(output, "bias")?) } else { None };
    Ok(Proj { weight, bias, lora: None })
}

/// The differentiable form of candle's fused `rope` (same formula): each half
/// of the head dimension rotated by the position's angles. `cos`/`sin`: [b, s, d/2].
fn rope_composed(x: &Tensor, cos: &Tensor, sin: &Tensor) -> Result<Tensor> {
    let d = x.dim(D::Minus1)?;
    let cos = Tensor::cat(&[cos, cos], D::Minus1)?.unsqueeze(1)?;
    let sin = Tensor::cat(&[sin, sin], D::Minus1)?.unsqueeze(1)?;
    let x1 = x.narrow(D::Minus1, 0, d / 2)?;
    let x2 = x.narrow(D::Minus1, d / 2, d - d / 2)?;
    let rotated = Tensor::cat(&[&x2.neg()?, &x1], D::Minus1)?;
    Ok((x.broadcast_mul(&cos)? + rotated.broadcast_mul(&sin)?)?)
}

#[derive(Clone, Debug)]
struct Attention {
    q: Proj,
    k: Proj,
    v: Proj,
    o: Proj,
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
        cache: &mut Option<LayerCache>,
        pass: Pass,
    ) -> Result<Tensor> {
        let (b, s, _) = x.dims3()?;
        let d = self.head_dim;
        let heads = |t: Tensor, n: usize| -> Result<Tensor> { Ok(t.reshape((b, s, n, d))?.transpose(1, 2)?.contiguous()?) };
        let mut q = heads(self.q.forward(x, pass)?, self.heads)?;
        let mut k = heads(self.k.forward(x, pass)?, self.kv_heads)?;
        let v = heads(self.v.forward(x, pass)?, self.kv_heads)?;
        if let (Some(qn), Some(kn)) = (&self.q_norm, &self.k_norm) {
            q = qn.forward(&q, pass)?;
            k = kn.forward(&k, pass)?;
        }
        let rope = |x: &Tensor| -> Result<Tensor> {
            if pass.grad { rope_composed(x, cos, sin) } else { Ok(candle_nn::rotary_emb::rope(x, cos, sin)?) }
        };
        let (q, k) = (rope(&q)?, rope(&k)?);
        let (k, v) = LayerCache::append(cache, k, v, pass.grad)?;
        // Grouped-query attention without copying K and V per query head: the
        // `rep` query heads that share a KV head (heads are KV-major) become
        // extra rows of one product with that KV head.
        let (kv, rep, t) = (self.kv_heads, self.heads / self.kv_heads, k.dim(2)?);
        let scale = 1.0 / (d as f64).sqrt();
        let q = q.reshape((b, kv, rep * s, d))?;
        let scores = (q.matmul(&k.t()?)? * scale)?.reshape((b, self.heads, s, t))?.broadcast_add(mask)?;
        // Softmax in f32 even for half-precision weights (f64 stays f64).
        let scores = if scores.dtype() == DType::F64 { scores } else { scores.to_dtype(DType::F32)? };
        let probs = if pass.grad {
            candle_nn::ops::softmax(&scores, D::Minus1)?
        } else {
            candle_nn::ops::softmax_last_dim(&scores)?
        };
        let probs = probs.to_dtype(v.dtype())?.reshape((b, kv, rep * s, t))?;
        let out = probs.matmul(&v)?.reshape((b, self.heads, s, d))?.transpose(1, 2)?.reshape((b, s, self.heads * d))?;
        self.o.forward(&out, pass)
    }
}

#[derive(Clone, Debug)]
struct Mlp {
    gate: Proj,
    up: Proj,
    down: Proj,
}

impl Mlp {
    fn forward(&self, x: &Tensor, pass: Pass) -> Result<Tensor> {
        let gated = (self.gate.forward(x, pass)?.silu()? * self.up.forward(x, pass)?)?;
        self.down.forward(&gated, pass)
    }
}

#[derive(Clone, Debug)]
struct Layer {
    norm1: RmsNorm,
    attn: Attention,
    norm2: RmsNorm,
    mlp: Mlp,
}

/// A layer's projections as its weights name them under `model.layers.N.`,
/// in the order of [`Layer::projections`] (the short names are `lora::TARGETS`).
const PROJECTIONS: [&str; 7] =
    ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"];

impl Layer {
    fn projections(&self) -> [&Proj; 7] {
        let (a, m) = (&self.attn, &self.mlp);
        [&a.q, &a.k, &a.v, &a.o, &m.gate, &m.up, &m.down]
    }

    fn projections_mut(&mut self) -> [&mut Proj; 7] {
        let (a, m) = (&mut self.attn, &mut self.mlp);
        [&mut a.q, &mut a.k, &mut a.v, &mut a.o, &mut m.gate, &mut m.up, &mut m.down]
    }
}

/// A decoder-only language model with its weights.
#[derive(Clone, Debug)]
pub struct Model {
    pub config: Config,
    embed: Tensor,
    layers: Vec<Layer>,
    norm: RmsNorm,
    lm_head: Proj,
    inv_freq: Tensor,
    /// The adapters' shape, once [`Model::add_adapters`] or [`Model::load_adapters`] ran.
    lora: Option<LoraConfig>,
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
            Proj { weight: embed.clone(), bias: None, lora: None }
        } else {
            linear(vb.pp("lm_head"), h, c.vocab_size, false)?
        };
        let device = vb.device().clone();
        let inv_freq = Tensor::new(c.inv_freq(), &device)?.reshape((1, 1, c.head_dim / 2))?;
        Ok(Model { embed, layers, norm, lm_head, inv_freq, lora: None, device, dtype: vb.dtype(), config: c })
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// Attach fresh adapters (A random from `seed`, B = 0: the model's outputs
    /// do not change).
    pub fn add_adapters(&mut self, config: &LoraConfig, seed: u64) -> Result<()> {
        config.check()?;
        if self.lora.is_some() {
            bail!("the model already has adapters");
        }
        let mut rng = lora::init_rng(seed);
        let (device, dtype) = (self.device.clone(), lora::dtype_for(self.dtype));
        for layer in &mut self.layers {
            for (name, proj) in PROJECTIONS.iter().zip(layer.projections_mut()) {
                let short = name.rsplit('.').next().unwrap_or(name);
                if config.targets(short) {
                    proj.lora = Some(Lora::new(proj.in_features(), proj.out_features(), config, &mut rng, &device, dtype)?);
                }
            }
        }
        self.lora = Some(config.clone());
        Ok(())
    }

    /// The adapters' configuration, if the model has adapters.
    pub fn lora_config(&self) -> Option<&LoraConfig> {
        self.lora.as_ref()
    }

    /// The adapters by module name, in a fixed order (layer, then q k v o gate up down).
    pub fn adapters(&self) -> Vec<(String, &Lora)> {
        let mut out = Vec::new();
        for (i, layer) in self.layers.iter().enumerate() {
            for (name, proj) in PROJECTIONS.iter().zip(layer.projections()) {
                if let Some(l) = &proj.lora {
                    out.push((format!("model.layers.{i}.{name}"), l));
                }
            }
        }
        out
    }

    /// Every trainable tensor (A then B of each adapter, in [`Model::adapters`] order).
    pub fn adapter_vars(&self) -> Vec<Var> {
        self.adapters().into_iter().flat_map(|(_, l)| [l.a.clone(), l.b.clone()]).collect()
    }

    /// Write the adapters as a PEFT adapter directory.
    pub fn save_adapters(&self, dir: &Path, base_model: &str) -> Result<()> {
        let config = self.lora.as_ref().context("the model has no adapters to save")?;
        lora::save(dir, config, base_model, &self.adapters())
    }

    /// Load a PEFT adapter directory: attach adapters of its shape if the
    /// model has none, then copy its weights in.
    pub fn load_adapters(&mut self, dir: &Path) -> Result<()> {
        if self.lora.is_none() {
            self.add_adapters(&LoraConfig::read(dir)?, 0)?;
        }
        self.set_adapters(dir)
    }

    /// Copy the weights of a PEFT adapter directory into the adapters the model
    /// has (same rank, alpha and targets). They change in place: a sampler
    /// sharing this network sees them at once.
    pub fn set_adapters(&self, dir: &Path) -> Result<()> {
        let config = LoraConfig::read(dir)?;
        let have = self.lora.as_ref().context("the model has no adapters to load weights into")?;
        if (have.rank, have.alpha, &have.targets) != (config.rank, config.alpha, &config.targets) {
            bail!(
                "{}: rank {}, alpha {} on {:?} does not match this model's adapters (rank {}, alpha {} on {:?})",
                dir.display(),
                config.rank,
                config.alpha,
                config.targets,
                have.rank,
                have.alpha,
                have.targets
            );
        }
        let mut tensors = lora::load_tensors(dir, &self.device)?;
        for (module, l) in self.adapters() {
            let (a, b) = lora::peft_names(&module);
            for (name, var) in [(a, &l.a), (b, &l.b)] {
                let t = tensors.remove(&name).with_context(|| format!("{}: no tensor {name}", dir.display()))?;
                if t.dims() != var.dims() {
                    bail!("{}: {name} has shape {:?}, this model needs {:?}", dir.display(), t.dims(), var.dims());
                }
                var.set(&t.to_dtype(var.dtype())?)?;
            }
        }
        if let Some(extra) = tensors.keys().next() {
            bail!("{}: tensor {extra} matches no adapter of this model", dir.display());
        }
        Ok(())
    }

    pub fn new_cache(&self) -> Cache {
        Cache::new(self.layers.len())
    }

    /// Hidden states after the final norm: `tokens` and `positions` are
    /// [b, s]; `mask` is [b, 1, s, cached + s] (0 where attention is allowed,
    /// -inf where not). The cache grows by s.
    pub fn hidden(&self, tokens: &Tensor, positions: &Tensor, mask: &Tensor, cache: &mut Cache, pass: Pass) -> Result<Tensor> {
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
            let a = layer.attn.forward(&layer.norm1.forward(&h, pass)?, &cos, &sin, &mask, kv, pass)?;
            h = (h + a)?;
            let m = layer.mlp.forward(&layer.norm2.forward(&h, pass)?, pass)?;
            h = (h + m)?;
        }
        self.norm.forward(&h, pass)
    }

    /// Logits of hidden states [.., hidden]: f32, or f64 for an f64 model.
    pub fn logits(&self, hidden: &Tensor) -> Result<Tensor> {
        let logits = self.lm_head.forward(hidden, Pass::BASE)?;
        Ok(if self.dtype == DType::F64 { logits } else { logits.to_dtype(DType::F32)? })
    }

    /// Teacher forcing with the adapters (if any): the log-probability the
    /// model gives each token of `tokens[from..]` after the tokens before it.
    pub fn logprobs(&self, tokens: &[u32], from: usize) -> Result<Vec<f32>> {
        self.logprobs_with(tokens, from, Pass::SAMPLE)
    }

    /// [`Model::logprobs`] in a given pass (`Pass::BASE`: the base model).
    pub fn logprobs_with(&self, tokens: &[u32], from: usize, pass: Pass) -> Result<Vec<f32>> {
        if from == 0 || from > tokens.len() {
            bail!("logprobs: `from` must be in 1..={} (the first token has no context)", tokens.len());
        }
        let n = tokens.len();
        let input = Tensor::new(tokens, &self.device)?.unsqueeze(0)?;
        let positions = Tensor::arange(0u32, n as u32, &self.device)?.unsqueeze(0)?;
        let mask = causal_mask(&[0], n, 0, &self.device)?;
        let hidden = self.hidden(&input, &positions, &mask, &mut self.new_cache(), pass)?;
        let hidden = hidden.narrow(1, from - 1, n - from)?;
        let logp = candle_nn::ops::log_softmax(&self.logits(&hidden)?, D::Minus1)?.squeeze(0)?;
        let targets = Tensor::new(&tokens[from..], &self.device)?.unsqueeze(1)?;
        Ok(logp.gather(&targets, 1)?.squeeze(1)?.to_dtype(DType::F32)?.to_vec1()?)
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
