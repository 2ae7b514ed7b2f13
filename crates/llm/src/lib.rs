//! # discover-llm
//!
//! A local LLM runtime for discover's `local` policy and `discover serve-model`:
//!
//! - [`config`]: `config.json` of the Llama, Qwen2 and Qwen3 families.
//! - [`model`]: their shared decoder on candle, with a key-value cache and
//!   teacher-forced log-probs.
//! - [`tokenizer`]: `tokenizer.json` and the chat template (minijinja).
//! - [`generate`]: batched sampling (temperature, top-p, stop strings) that
//!   returns token ids and the sampler's log-probs.
//! - [`lora`]: LoRA adapters on the projections, stored as PEFT stores them.
//! - [`train`]: the importance-sampling policy-gradient step on the adapters
//!   (entropic advantages come from the engine), KL shaping, Adam.
//! - [`tiny`]: random-weight model directories for tests and benchmarks.
//! - [`api`]: the OpenAI chat-completions protocol as typed structs, shared by
//!   the server and discover's client.
//! - `serve` (feature `serve`, on by default): an OpenAI-compatible HTTP server
//!   over a [`LocalModel`].
//!
//! Models run on the CPU by default and on an NVIDIA GPU with `--features cuda`.

pub mod api;
pub mod config;
pub mod generate;
pub mod lora;
pub mod model;
#[cfg(feature = "serve")]
pub mod serve;
pub mod tiny;
pub mod tokenizer;
pub mod train;

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

pub use candle_core::{DType, Device};
pub use config::{Arch, Config};
pub use generate::{default_device, generate, Finish, Generation, Request, SamplingParams};
pub use lora::LoraConfig;
pub use model::{Model, Pass};
pub use train::{Sequence, StepStats, TrainConfig, Trainer};
pub use tokenizer::{Message, Tokenizer};

/// A model directory loaded for sampling: weights, tokenizer, chat template.
pub struct LocalModel {
    /// The directory's name, used as the model id.
    pub name: String,
    pub dir: PathBuf,
    pub model: Model,
    pub tokenizer: Tokenizer,
}

impl LocalModel {
    /// Load `dir` on `device`: f32 on the CPU, bf16 on a GPU.
    pub fn load(dir: &Path, device: &Device) -> Result<LocalModel> {
        let dtype = if device.is_cpu() { DType::F32 } else { DType::BF16 };
        LocalModel::load_as(dir, device, dtype)
    }

    /// Load `dir` with its weights in `dtype` (f64 for gradient checks).
    pub fn load_as(dir: &Path, device: &Device, dtype: DType) -> Result<LocalModel> {
        if !dir.is_dir() {
            bail!("{} is not a model directory (expected config.json, tokenizer.json and *.safetensors)", dir.display());
        }
        let config = Config::read(dir)?;
        let tokenizer = Tokenizer::load(dir, &config.eos_token_ids)?;
        if tokenizer.vocab_size() > config.vocab_size {
            bail!(
                "{}: the tokenizer has {} tokens but the model only {} (config.json vocab_size)",
                dir.display(),
                tokenizer.vocab_size(),
                config.vocab_size
            );
        }
        let model = Model::load(dir, config, device, dtype)?;
        let name = std::fs::canonicalize(dir)
            .ok()
            .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "model".into());
        Ok(LocalModel { name, dir: dir.to_path_buf(), model, tokenizer })
    }

    /// Token ids of the chat prompt for `messages`.
    pub fn chat_tokens(&self, messages: &[Message]) -> Result<Vec<u32>> {
        let text = self.tokenizer.chat_prompt(messages)?;
        self.tokenizer.encode(&text).context("tokenizing the prompt")
    }

    /// Sample every request (see [`generate()`]).
    pub fn generate(&self, requests: &[Request]) -> Result<Vec<Generation>> {
        generate::generate(&self.model, &self.tokenizer, requests)
    }
}
