//! Tiny random-weight models, written as complete Hugging Face directories
//! (config.json, generation_config.json, tokenizer.json with a byte-level BPE
//! built here, tokenizer_config.json with a ChatML template, model.safetensors),
//! so that every loading path is exercised without downloading weights.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{bail, Context, Result};
use candle_core::{Device, Tensor};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use serde_json::{json, Value};

use crate::config::{Arch, Config};

/// The shape of a tiny model.
#[derive(Clone, Debug)]
pub struct TinySpec {
    pub arch: Arch,
    pub hidden_size: usize,
    pub layers: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub intermediate_size: usize,
    pub max_position_embeddings: usize,
    /// Rows of the embedding (`vocab_size` in config.json): the tokenizer's
    /// size when `None`; larger pads it with unused rows, as released models
    /// do (Qwen2.5 has 151936 rows for 151665 tokens), so that a benchmark
    /// model pays for a real model's embedding and output projection.
    pub vocab_size: Option<usize>,
    /// Seed of the weights.
    pub seed: u64,
    /// Standard deviation of the random weights.
    pub init_std: f64,
}

impl Default for TinySpec {
    fn default() -> TinySpec {
        TinySpec {
            arch: Arch::Qwen2,
            hidden_size: 64,
            layers: 2,
            heads: 4,
            kv_heads: 2,
            intermediate_size: 128,
            max_position_embeddings: 8192,
            vocab_size: None,
            seed: 0,
            init_std: 0.02,
        }
    }
}

/// Special tokens of the ChatML template, after the byte-level vocabulary.
pub const SPECIAL_TOKENS: [&str; 3] = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"];

/// A few merges so that the BPE model does real work (code is full of these).
const MERGES: [(&str, &str); 16] = [
    ("Ġ", "Ġ"),
    ("ĠĠ", "ĠĠ"),
    ("d", "e"),
    ("de", "f"),
    ("r", "e"),
    ("re", "t"),
    ("ret", "u"),
    ("retu", "r"),
    ("retur", "n"),
    ("i", "n"),
    ("i", "m"),
    ("p", "o"),
    ("Ċ", "ĠĠĠĠ"),
    ("`", "`"),
    ("``", "`"),
    ("n", "p"),
];

/// GPT-2's byte-to-character table of byte-level BPE: printable bytes stand for
/// themselves, the others are moved to 256 and up.
fn byte_chars() -> Vec<char> {
    let printable = |b: u32| (33..=126).contains(&b) || (161..=172).contains(&b) || (174..=255).contains(&b);
    let mut extra = 0;
    (0..256u32)
        .map(|b| {
            if printable(b) {
                char::from_u32(b).expect("a byte is a char")
            } else {
                extra += 1;
                char::from_u32(255 + extra).expect("below the surrogates")
            }
        })
        .collect()
}

/// tokenizer.json of the tiny model: ids 0..256 are bytes, then merges, then
/// the special tokens. Returns the JSON and the vocabulary size.
pub fn tokenizer_json() -> (Value, usize) {
    let mut vocab: Vec<String> = byte_chars().into_iter().map(String::from).collect();
    for (a, b) in MERGES {
        vocab.push(format!("{a}{b}"));
    }
    let ids: HashMap<&str, usize> = vocab.iter().enumerate().map(|(i, t)| (t.as_str(), i)).collect();
    let added: Vec<Value> = SPECIAL_TOKENS
        .iter()
        .enumerate()
        .map(|(i, t)| json!({"id": vocab.len() + i, "content": t, "single_word": false, "lstrip": false,
            "rstrip": false, "normalized": false, "special": true}))
        .collect();
    let size = vocab.len() + SPECIAL_TOKENS.len();
    let byte_level = json!({"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true});
    let tokenizer = json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": added,
        "normalizer": null,
        "pre_tokenizer": byte_level,
        "post_processor": byte_level,
        "decoder": byte_level,
        "model": {
            "type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null,
            "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
            "vocab": ids,
            "merges": MERGES.iter().map(|(a, b)| format!("{a} {b}")).collect::<Vec<_>>(),
        },
    });
    (tokenizer, size)
}

/// ChatML, as Qwen models use it.
pub const CHAT_TEMPLATE: &str = "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/// The config.json of a tiny model of `spec`, whose tokenizer has
/// `tokenizer_size` tokens (the special tokens last).
pub fn config_json(spec: &TinySpec, tokenizer_size: usize) -> Value {
    let eos = (tokenizer_size - 1) as u32; // <|im_end|>
    let bos = (tokenizer_size - 3) as u32; // <|endoftext|>
    let vocab_size = spec.vocab_size.unwrap_or(tokenizer_size);
    let mut c = json!({
        "architectures": [spec.arch.name()],
        "model_type": match spec.arch { Arch::Llama => "llama", Arch::Qwen2 => "qwen2", Arch::Qwen3 => "qwen3" },
        "vocab_size": vocab_size,
        "hidden_size": spec.hidden_size,
        "intermediate_size": spec.intermediate_size,
        "num_hidden_layers": spec.layers,
        "num_attention_heads": spec.heads,
        "num_key_value_heads": spec.kv_heads,
        "rms_norm_eps": 1e-6,
        "rope_theta": 10000.0,
        "max_position_embeddings": spec.max_position_embeddings,
        "tie_word_embeddings": spec.arch == Arch::Qwen2,
        "bos_token_id": bos,
        "eos_token_id": eos,
        "torch_dtype": "float32",
    });
    if spec.arch == Arch::Qwen3 {
        c["head_dim"] = json!(spec.hidden_size / spec.heads);
    }
    c
}

/// Write a tiny model directory at `dir` (created if missing).
pub fn write(dir: &Path, spec: &TinySpec) -> Result<Config> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let (tokenizer, vocab_size) = tokenizer_json();
    if let Some(rows) = spec.vocab_size.filter(|&rows| rows < vocab_size) {
        bail!("vocab_size {rows} is smaller than the tokenizer's {vocab_size} tokens");
    }
    let config_value = config_json(spec, vocab_size);
    let config = Config::parse(&config_value.to_string())?;
    let write_json = |name: &str, v: &Value| -> Result<()> {
        let path = dir.join(name);
        std::fs::write(&path, serde_json::to_string_pretty(v)?).with_context(|| format!("writing {}", path.display()))
    };
    write_json("config.json", &config_value)?;
    write_json("tokenizer.json", &tokenizer)?;
    write_json(
        "tokenizer_config.json",
        &json!({"chat_template": CHAT_TEMPLATE, "eos_token": "<|im_end|>", "bos_token": null,
            "pad_token": "<|endoftext|>", "model_max_length": spec.max_position_embeddings}),
    )?;
    write_json("generation_config.json", &json!({"eos_token_id": [vocab_size - 1, vocab_size - 3]}))?;
    candle_core::safetensors::save(&weights(&config, spec)?, dir.join("model.safetensors"))
        .with_context(|| format!("writing {}", dir.join("model.safetensors").display()))?;
    Ok(config)
}

/// Random weights with the tensor names transformers uses.
fn weights(c: &Config, spec: &TinySpec) -> Result<HashMap<String, Tensor>> {
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let normal = Normal::new(0.0f32, spec.init_std as f32).context("init_std must be positive")?;
    let mut random = |shape: &[usize]| -> Result<Tensor> {
        let n = shape.iter().product();
        Ok(Tensor::from_vec((0..n).map(|_| normal.sample(&mut rng)).collect::<Vec<f32>>(), shape, &Device::Cpu)?)
    };
    let ones = |n: usize| Tensor::ones(n, candle_core::DType::F32, &Device::Cpu);
    let (h, i, d) = (c.hidden_size, c.intermediate_size, c.head_dim);
    let (q, kv) = (c.num_attention_heads * d, c.num_key_value_heads * d);
    let mut w = HashMap::new();
    w.insert("model.embed_tokens.weight".to_string(), random(&[c.vocab_size, h])?);
    for l in 0..c.num_hidden_layers {
        let p = format!("model.layers.{l}");
        for (name, out, inp) in [("q_proj", q, h), ("k_proj", kv, h), ("v_proj", kv, h), ("o_proj", h, q)] {
            w.insert(format!("{p}.self_attn.{name}.weight"), random(&[out, inp])?);
            let biased = if name == "o_proj" { c.o_bias } else { c.qkv_bias };
            if biased {
                w.insert(format!("{p}.self_attn.{name}.bias"), random(&[out])?);
            }
        }
        if c.qk_norm {
            w.insert(format!("{p}.self_attn.q_norm.weight"), ones(d)?);
            w.insert(format!("{p}.self_attn.k_norm.weight"), ones(d)?);
        }
        for (name, out, inp) in [("gate_proj", i, h), ("up_proj", i, h), ("down_proj", h, i)] {
            w.insert(format!("{p}.mlp.{name}.weight"), random(&[out, inp])?);
        }
        w.insert(format!("{p}.input_layernorm.weight"), ones(h)?);
        w.insert(format!("{p}.post_attention_layernorm.weight"), ones(h)?);
    }
    w.insert("model.norm.weight".to_string(), ones(h)?);
    if !c.tie_word_embeddings {
        w.insert("lm_head.weight".to_string(), random(&[c.vocab_size, h])?);
    }
    Ok(w)
}
