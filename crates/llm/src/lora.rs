//! LoRA adapters (Hu et al., 2021) on the decoder's projections:
//!
//! ```text
//! y = x W^T + (alpha / r) * (x A^T) B^T        A: [r, in], B: [out, r]
//! ```
//! A starts random and B at zero, so an adapted model starts equal to its base
//! model; the base model is the same network with the adapters switched off
//! (see [`crate::model::Pass`]), never a second copy of the weights.
//!
//! Adapters are stored as PEFT stores them: `adapter_model.safetensors` with
//! `base_model.model.<module>.lora_A.weight` / `lora_B.weight`, and
//! `adapter_config.json` with `r`, `lora_alpha` and `target_modules`, so an
//! adapter trained here loads in PEFT and one from PEFT loads here.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{bail, Context, Result};
use candle_core::{DType, Device, Tensor, Var};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand::distr::{Distribution, Uniform};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// File names inside an adapter directory.
pub const ADAPTER_WEIGHTS: &str = "adapter_model.safetensors";
pub const ADAPTER_CONFIG: &str = "adapter_config.json";

/// The projections an adapter can target, by their names in the weights.
pub const TARGETS: [&str; 7] = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"];

/// Rank, scale and placement of the adapters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoraConfig {
    pub rank: usize,
    pub alpha: f64,
    /// Names from [`TARGETS`].
    pub targets: Vec<String>,
}

impl Default for LoraConfig {
    /// The paper's rank 32 on every attention and MLP projection; alpha = rank
    /// (scale 1).
    fn default() -> LoraConfig {
        LoraConfig { rank: 32, alpha: 32.0, targets: TARGETS.iter().map(|t| t.to_string()).collect() }
    }
}

impl LoraConfig {
    pub fn check(&self) -> Result<()> {
        if self.rank == 0 {
            bail!("the LoRA rank must be at least 1");
        }
        if !(self.alpha.is_finite() && self.alpha > 0.0) {
            bail!("the LoRA alpha must be a positive number, got {}", self.alpha);
        }
        if self.targets.is_empty() {
            bail!("LoRA needs at least one target module (of {})", TARGETS.join(", "));
        }
        for t in &self.targets {
            if !TARGETS.contains(&t.as_str()) {
                bail!("unknown LoRA target module {t:?}; the targets are {}", TARGETS.join(", "));
            }
        }
        Ok(())
    }

    /// alpha / r, the factor on the adapter's output.
    pub fn scale(&self) -> f64 {
        self.alpha / self.rank as f64
    }

    pub fn targets(&self, module: &str) -> bool {
        self.targets.iter().any(|t| t == module)
    }

    /// `adapter_config.json` as PEFT writes it (the fields PEFT needs to load it).
    pub fn peft_json(&self, base_model: &str) -> serde_json::Value {
        json!({
            "peft_type": "LORA",
            "task_type": "CAUSAL_LM",
            "base_model_name_or_path": base_model,
            "r": self.rank,
            "lora_alpha": self.alpha,
            "lora_dropout": 0.0,
            "bias": "none",
            "target_modules": self.targets,
            "fan_in_fan_out": false,
            "use_rslora": false,
            "inference_mode": false,
        })
    }

    /// Read `adapter_config.json`.
    pub fn read(dir: &Path) -> Result<LoraConfig> {
        let path = dir.join(ADAPTER_CONFIG);
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        let v: serde_json::Value = serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
        if let Some(kind) = v["peft_type"].as_str() {
            if kind != "LORA" {
                bail!("{}: peft_type {kind:?} is not supported (only LORA)", path.display());
            }
        }
        if v["use_rslora"].as_bool() == Some(true) {
            bail!("{}: rsLoRA scaling is not supported", path.display());
        }
        let rank = v["r"].as_u64().with_context(|| format!("{}: no integer `r`", path.display()))? as usize;
        let alpha = v["lora_alpha"].as_f64().unwrap_or(8.0); // PEFT's default
        let targets = match &v["target_modules"] {
            serde_json::Value::Array(a) => a.iter().filter_map(|t| t.as_str().map(String::from)).collect(),
            serde_json::Value::String(s) => vec![s.clone()],
            _ => bail!("{}: no `target_modules` list", path.display()),
        };
        let config = LoraConfig { rank, alpha, targets };
        config.check().with_context(|| format!("{}", path.display()))?;
        Ok(config)
    }
}

/// One adapter pair. Kept in f32 for f32 and half-precision models, so that
/// the optimiser's small steps are not rounded away in bf16 (f64 models, for
/// gradient checks, get f64 adapters).
#[derive(Clone, Debug)]
pub struct Lora {
    pub a: Var,
    pub b: Var,
    pub scale: f64,
}

impl Lora {
    /// A ~ U(-1/sqrt(in), 1/sqrt(in)) (PEFT's Kaiming-uniform bound), B = 0.
    pub fn new(input: usize, output: usize, config: &LoraConfig, rng: &mut ChaCha8Rng, device: &Device, dtype: DType) -> Result<Lora> {
        let bound = 1.0 / (input as f64).sqrt();
        let uniform = Uniform::new(-bound, bound).expect("a positive bound");
        let a: Vec<f32> = (0..config.rank * input).map(|_| uniform.sample(rng) as f32).collect();
        Ok(Lora {
            a: Var::from_tensor(&Tensor::from_vec(a, (config.rank, input), device)?.to_dtype(dtype)?)?,
            b: Var::zeros((output, config.rank), dtype, device)?,
            scale: config.scale(),
        })
    }

    /// The adapter's term for `x` [.., in]: scale * x A^T B^T, in x's dtype.
    /// Without `grad` the weights are used detached: candle records every
    /// operation on a variable for backprop, which while sampling would keep
    /// each step's activations (and KV cache) alive.
    pub fn forward(&self, x2: &Tensor, grad: bool) -> Result<Tensor> {
        let (a, b) = if grad {
            (self.a.as_tensor().clone(), self.b.as_tensor().clone())
        } else {
            (self.a.as_tensor().detach(), self.b.as_tensor().detach())
        };
        let low = x2.to_dtype(a.dtype())?.matmul(&a.t()?)?;
        Ok((low.matmul(&b.t()?)? * self.scale)?.to_dtype(x2.dtype())?)
    }
}

/// The adapters' dtype for a model in `model`.
pub fn dtype_for(model: DType) -> DType {
    if model == DType::F64 { DType::F64 } else { DType::F32 }
}

/// A seeded generator for adapter initialisation.
pub fn init_rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// PEFT's tensor names of the adapter on `module` (e.g. `model.layers.0.self_attn.q_proj`).
pub fn peft_names(module: &str) -> (String, String) {
    (format!("base_model.model.{module}.lora_A.weight"), format!("base_model.model.{module}.lora_B.weight"))
}

/// Write adapters (module name -> pair) and their config into `dir`.
pub fn save(dir: &Path, config: &LoraConfig, base_model: &str, adapters: &[(String, &Lora)]) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut tensors = HashMap::new();
    for (module, lora) in adapters {
        let (a, b) = peft_names(module);
        tensors.insert(a, lora.a.as_tensor().clone());
        tensors.insert(b, lora.b.as_tensor().clone());
    }
    let path = dir.join(ADAPTER_WEIGHTS);
    candle_core::safetensors::save(&tensors, &path).with_context(|| format!("writing {}", path.display()))?;
    let cfg = serde_json::to_string_pretty(&config.peft_json(base_model))?;
    std::fs::write(dir.join(ADAPTER_CONFIG), cfg).with_context(|| format!("writing {}", dir.join(ADAPTER_CONFIG).display()))?;
    Ok(())
}

/// The tensors of `dir`'s `adapter_model.safetensors`, on `device`.
pub fn load_tensors(dir: &Path, device: &Device) -> Result<HashMap<String, Tensor>> {
    let path = dir.join(ADAPTER_WEIGHTS);
    if !path.is_file() {
        bail!("{} is not an adapter directory (no {ADAPTER_WEIGHTS})", dir.display());
    }
    candle_core::safetensors::load(&path, device).with_context(|| format!("reading {}", path.display()))
}
