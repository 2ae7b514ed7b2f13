//! `config.json` of a Hugging Face model directory, for the decoder families we
//! run: Llama, Qwen2 and Qwen3. They share one shape (RMSNorm, rotary attention
//! with grouped KV heads, a SwiGLU MLP) and differ in a few switches, kept here.

use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use serde_json::Value;

/// The architectures this runtime implements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arch {
    Llama,
    Qwen2,
    Qwen3,
}

impl Arch {
    pub const SUPPORTED: &'static str = "LlamaForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM";

    fn from_names(architectures: &[String], model_type: Option<&str>) -> Result<Arch> {
        let from = |name: &str| match name {
            "LlamaForCausalLM" | "llama" => Some(Arch::Llama),
            "Qwen2ForCausalLM" | "qwen2" => Some(Arch::Qwen2),
            "Qwen3ForCausalLM" | "qwen3" => Some(Arch::Qwen3),
            _ => None,
        };
        if let Some(arch) = architectures.iter().find_map(|a| from(a)).or_else(|| model_type.and_then(from)) {
            return Ok(arch);
        }
        let named = architectures.first().map(String::as_str).or(model_type).unwrap_or("(none given)");
        bail!("unsupported model architecture {named}: this runtime implements {}", Arch::SUPPORTED)
    }

    pub fn name(self) -> &'static str {
        match self {
            Arch::Llama => "LlamaForCausalLM",
            Arch::Qwen2 => "Qwen2ForCausalLM",
            Arch::Qwen3 => "Qwen3ForCausalLM",
        }
    }
}

/// `rope_scaling` of Llama 3.x: low frequencies are stretched by `factor`, high
/// ones kept, and the band between interpolated.
#[derive(Clone, Debug, PartialEq)]
pub struct Llama3Scaling {
    pub factor: f64,
    pub low_freq_factor: f64,
    pub high_freq_factor: f64,
    pub original_max_position_embeddings: usize,
}

/// The model's hyper-parameters, with every family's defaults filled in.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub arch: Arch,
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub num_key_value_heads: usize,
    pub head_dim: usize,
    pub rms_norm_eps: f64,
    pub rope_theta: f64,
    pub rope_scaling: Option<Llama3Scaling>,
    pub max_position_embeddings: usize,
    pub tie_word_embeddings: bool,
    /// Biases on the q, k, v projections (Qwen2; Llama's `attention_bias`, which
    /// also puts one on o).
    pub qkv_bias: bool,
    pub o_bias: bool,
    pub mlp_bias: bool,
    /// RMSNorm over each head of q and k before the rotation (Qwen3).
    pub qk_norm: bool,
    pub eos_token_ids: Vec<u32>,
    pub bos_token_id: Option<u32>,
    /// `torch_dtype` as written (bfloat16, float16, float32), for reports.
    pub dtype: Option<String>,
}

#[derive(Deserialize)]
struct Raw {
    #[serde(default)]
    architectures: Vec<String>,
    model_type: Option<String>,
    vocab_size: usize,
    hidden_size: usize,
    intermediate_size: usize,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    num_key_value_heads: Option<usize>,
    head_dim: Option<usize>,
    rms_norm_eps: f64,
    rope_theta: Option<f64>,
    rope_scaling: Option<Value>,
    max_position_embeddings: Option<usize>,
    tie_word_embeddings: Option<bool>,
    attention_bias: Option<bool>,
    mlp_bias: Option<bool>,
    eos_token_id: Option<Value>,
    bos_token_id: Option<Value>,
    torch_dtype: Option<String>,
    dtype: Option<String>,
}

/// Token ids given as a number or a list of numbers.
pub(crate) fn token_ids(v: Option<&Value>) -> Vec<u32> {
    match v {
        Some(Value::Number(n)) => n.as_u64().map(|n| vec![n as u32]).unwrap_or_default(),
        Some(Value::Array(a)) => a.iter().filter_map(|n| n.as_u64().map(|n| n as u32)).collect(),
        _ => Vec::new(),
    }
}

impl Config {
    pub fn parse(text: &str) -> Result<Config> {
        let raw: Raw = serde_json::from_str(text).context("config.json is not a model config")?;
        let arch = Arch::from_names(&raw.architectures, raw.model_type.as_deref())?;
        if raw.num_attention_heads == 0 || raw.hidden_size % raw.num_attention_heads != 0 && raw.head_dim.is_none() {
            bail!("config.json: hidden_size {} is not a multiple of num_attention_heads {}", raw.hidden_size, raw.num_attention_heads);
        }
        let kv_heads = raw.num_key_value_heads.unwrap_or(raw.num_attention_heads);
        if kv_heads == 0 || raw.num_attention_heads % kv_heads != 0 {
            bail!("config.json: num_attention_heads {} is not a multiple of num_key_value_heads {kv_heads}", raw.num_attention_heads);
        }
        let head_dim = raw.head_dim.unwrap_or(raw.hidden_size / raw.num_attention_heads);
        if head_dim % 2 != 0 {
            bail!("config.json: head_dim {head_dim} must be even for rotary embeddings");
        }
        let rope_scaling = match &raw.rope_scaling {
            None | Some(Value::Null) => None,
            Some(v) => {
                let kind = v.get("rope_type").or_else(|| v.get("type")).and_then(Value::as_str).unwrap_or("?");
                match kind {
                    "default" => None,
                    "llama3" => {
                        let f = |k: &str| v.get(k).and_then(Value::as_f64).with_context(|| format!("rope_scaling.{k} is missing"));
                        Some(Llama3Scaling {
                            factor: f("factor")?,
                            low_freq_factor: f("low_freq_factor")?,
                            high_freq_factor: f("high_freq_factor")?,
                            original_max_position_embeddings: f("original_max_position_embeddings")? as usize,
                        })
                    }
                    other => bail!("unsupported rope_scaling type {other:?}: this runtime implements default and llama3"),
                }
            }
        };
        let attention_bias = raw.attention_bias.unwrap_or(false);
        Ok(Config {
            arch,
            vocab_size: raw.vocab_size,
            hidden_size: raw.hidden_size,
            intermediate_size: raw.intermediate_size,
            num_hidden_layers: raw.num_hidden_layers,
            num_attention_heads: raw.num_attention_heads,
            num_key_value_heads: kv_heads,
            head_dim,
            rms_norm_eps: raw.rms_norm_eps,
            rope_theta: raw.rope_theta.unwrap_or(10_000.0),
            rope_scaling,
            max_position_embeddings: raw.max_position_embeddings.unwrap_or(4096),
            tie_word_embeddings: raw.tie_word_embeddings.unwrap_or(false),
            qkv_bias: arch == Arch::Qwen2 || attention_bias,
            o_bias: arch == Arch::Llama && attention_bias,
            mlp_bias: raw.mlp_bias.unwrap_or(false),
            qk_norm: arch == Arch::Qwen3,
            eos_token_ids: token_ids(raw.eos_token_id.as_ref()),
            bos_token_id: token_ids(raw.bos_token_id.as_ref()).first().copied(),
            dtype: raw.torch_dtype.or(raw.dtype),
        })
    }

    pub fn read(dir: &Path) -> Result<Config> {
        let path = dir.join("config.json");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("{} is missing or unreadable: a model directory needs config.json", path.display()))?;
        Config::parse(&text).with_context(|| format!("reading {}", path.display()))
    }

    /// Inverse frequencies of the rotary embedding, one per pair of head dims.
    pub fn inv_freq(&self) -> Vec<f32> {
        let d = self.head_dim;
        let base: Vec<f64> = (0..d / 2).map(|i| 1.0 / self.rope_theta.powf(2.0 * i as f64 / d as f64)).collect();
        let Some(s) = &self.rope_scaling else { return base.into_iter().map(|f| f as f32).collect() };
        // Llama 3's frequency-dependent interpolation (as in transformers).
        let low_wavelen = s.original_max_position_embeddings as f64 / s.low_freq_factor;
        let high_wavelen = s.original_max_position_embeddings as f64 / s.high_freq_factor;
        base.into_iter()
            .map(|f| {
                let wavelen = 2.0 * std::f64::consts::PI / f;
                let scaled = if wavelen < high_wavelen {
                    f
                } else if wavelen > low_wavelen {
                    f / s.factor
                } else {
                    let smooth = (s.original_max_position_embeddings as f64 / wavelen - s.low_freq_factor)
                        / (s.high_freq_factor - s.low_freq_factor);
                    (1.0 - smooth) * f / s.factor + smooth * f
                };
                scaled as f32
            })
            .collect()
    }

    /// Parameters, counted from the shapes (embeddings included once if tied).
    pub fn parameters(&self) -> usize {
        let (h, i, d) = (self.hidden_size, self.intermediate_size, self.head_dim);
        let q = self.num_attention_heads * d;
        let kv = self.num_key_value_heads * d;
        let attn = h * q + 2 * h * kv + q * h
            + if self.qkv_bias { q + 2 * kv } else { 0 }
            + if self.o_bias { h } else { 0 }
            + if self.qk_norm { 2 * d } else { 0 };
        let mlp = 3 * h * i + if self.mlp_bias { 2 * i + h } else { 0 };
        let layer = attn + mlp + 2 * h;
        let embed = self.vocab_size * h;
        embed + self.num_hidden_layers * layer + h + if self.tie_word_embeddings { 0 } else { embed }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_and_their_switches() {
        let qwen2 = Config::parse(r#"{"architectures":["Qwen2ForCausalLM"],"vocab_size":10,"hidden_size":8,"intermediate_size":16,
            "num_hidden_layers":1,"num_attention_heads":2,"num_key_value_heads":1,"rms_norm_eps":1e-6,"eos_token_id":[3,4]}"#).unwrap();
        assert_eq!((qwen2.arch, qwen2.qkv_bias, qwen2.o_bias, qwen2.qk_norm, qwen2.head_dim), (Arch::Qwen2, true, false, false, 4));
        assert_eq!(qwen2.eos_token_ids, vec![3, 4]);
        let qwen3 = Config::parse(r#"{"model_type":"qwen3","vocab_size":10,"hidden_size":8,"intermediate_size":16,
            "num_hidden_layers":1,"num_attention_heads":2,"head_dim":16,"rms_norm_eps":1e-6}"#).unwrap();
        assert_eq!((qwen3.arch, qwen3.qkv_bias, qwen3.qk_norm, qwen3.head_dim, qwen3.num_key_value_heads), (Arch::Qwen3, false, true, 16, 2));
    }

    #[test]
    fn unsupported_architecture_is_named() {
        let e = Config::parse(r#"{"architectures":["MistralForCausalLM"],"vocab_size":10,"hidden_size":8,"intermediate_size":16,
            "num_hidden_layers":1,"num_attention_heads":2,"rms_norm_eps":1e-6}"#).unwrap_err();
        let msg = format!("{e:#}");
        assert!(msg.contains("MistralForCausalLM") && msg.contains("Qwen2ForCausalLM"), "{msg}");
    }

    #[test]
    fn llama3_scaling_keeps_high_frequencies() {
        let c = Config::parse(r#"{"architectures":["LlamaForCausalLM"],"vocab_size":10,"hidden_size":64,"intermediate_size":16,
            "num_hidden_layers":1,"num_attention_heads":1,"rms_norm_eps":1e-5,"rope_theta":500000.0,
            "rope_scaling":{"rope_type":"llama3","factor":8.0,"low_freq_factor":1.0,"high_freq_factor":4.0,"original_max_position_embeddings":8192}}"#).unwrap();
        let f = c.inv_freq();
        assert_eq!(f[0], 1.0);
        let unscaled = 1.0 / 500000f64.powf(62.0 / 64.0);
        assert!((f[31] as f64 - unscaled / 8.0).abs() < 1e-12, "{} vs {}", f[31], unscaled / 8.0);
    }
}
