//! `discover model new-tiny` and `discover serve-model`: local models.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use discover_llm::tiny::{self, TinySpec};
use discover_llm::{default_device, Arch, LocalModel};

#[derive(Subcommand, Debug)]
pub enum ModelAction {
    /// Write a tiny random-weight model directory (for tests and trying things out).
    #[command(after_help = "The directory is a complete Hugging Face style model: config.json, \
        generation_config.json, tokenizer.json (a byte-level BPE built in code), \
        tokenizer_config.json with a ChatML chat template, and model.safetensors. Its weights \
        are random, so it writes gibberish; every loader path accepts it.\n\n\
        Examples:\n  \
        discover model new-tiny models/tiny\n  \
        discover model new-tiny models/tiny-llama --arch llama --layers 4 --seed 1")]
    NewTiny(NewTinyArgs),
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ArchArg {
    Qwen2,
    Qwen3,
    Llama,
}

#[derive(Args, Debug)]
pub struct NewTinyArgs {
    /// Where to write the model (created; must be empty or missing).
    dir: PathBuf,
    /// The architecture family.
    #[arg(long, value_enum, default_value_t = ArchArg::Qwen2)]
    arch: ArchArg,
    #[arg(long, default_value_t = 64)]
    hidden_size: usize,
    #[arg(long, default_value_t = 2)]
    layers: usize,
    #[arg(long, default_value_t = 4)]
    heads: usize,
    #[arg(long, default_value_t = 2)]
    kv_heads: usize,
    #[arg(long, default_value_t = 128)]
    intermediate_size: usize,
    /// Seed of the random weights.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Overwrite a directory that already has files.
    #[arg(long)]
    force: bool,
}

pub fn model(action: ModelAction) -> Result<ExitCode> {
    match action {
        ModelAction::NewTiny(a) => {
            if !a.force && a.dir.read_dir().is_ok_and(|mut d| d.next().is_some()) {
                bail!("{} is not empty; pass --force to write the model there anyway", a.dir.display());
            }
            if a.heads == 0 || a.kv_heads == 0 || a.heads % a.kv_heads != 0 || a.hidden_size % a.heads != 0 || (a.hidden_size / a.heads) % 2 != 0 {
                bail!("--heads must divide --hidden-size into an even head size, and --kv-heads must divide --heads");
            }
            let spec = TinySpec {
                arch: match a.arch {
                    ArchArg::Qwen2 => Arch::Qwen2,
                    ArchArg::Qwen3 => Arch::Qwen3,
                    ArchArg::Llama => Arch::Llama,
                },
                hidden_size: a.hidden_size,
                layers: a.layers,
                heads: a.heads,
                kv_heads: a.kv_heads,
                intermediate_size: a.intermediate_size,
                seed: a.seed,
                ..TinySpec::default()
            };
            let config = tiny::write(&a.dir, &spec)?;
            println!("{} ({}, {} parameters) written to {}", config.arch.name(), a.layers, config.parameters(), a.dir.display());
            Ok(ExitCode::SUCCESS)
        }
    }
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// The model directory (config.json, tokenizer.json, *.safetensors).
    dir: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port to listen on; 0 picks a free one (printed on start).
    #[arg(long, default_value_t = 8000)]
    port: u16,
    /// Completions sampled together at most; requests waiting while the model
    /// is busy are batched up to this many.
    #[arg(long, default_value_t = 64)]
    max_batch: usize,
    /// max_tokens of requests that give none.
    #[arg(long, default_value_t = 1024)]
    max_tokens: usize,
    /// Serve the model with a LoRA adapter: a PEFT adapter directory
    /// (adapter_config.json + adapter_model.safetensors), such as a run's
    /// `checkpoints/step-NNNNNN`, or a run directory (its newest checkpoint).
    #[arg(long, value_name = "PATH")]
    adapter: Option<PathBuf>,
}

/// The adapter directory `path` names: itself, the folder of an
/// `adapter_model.safetensors`, or a run directory's newest checkpoint.
fn adapter_dir(path: &std::path::Path) -> Result<PathBuf> {
    if path.is_file() {
        return Ok(path.parent().map(PathBuf::from).unwrap_or_default());
    }
    if path.join(discover_llm::lora::ADAPTER_WEIGHTS).is_file() {
        return Ok(path.to_path_buf());
    }
    if path.join("buffer.json").is_file() {
        let dir = crate::engine::RunDir::open(path)?;
        let checkpoint = dir.load_checkpoint()?.context("the run has no checkpoint yet")?;
        let files = checkpoint.policy_files.with_context(|| format!("the run {} has saved no adapters (a frozen or non-LLM policy, or fewer steps than --checkpoint-every)", path.display()))?;
        return Ok(dir.path(&files));
    }
    bail!("{} is neither an adapter directory ({} + {}) nor a run directory", path.display(), discover_llm::lora::ADAPTER_CONFIG, discover_llm::lora::ADAPTER_WEIGHTS)
}

pub fn serve(args: ServeArgs) -> Result<ExitCode> {
    let mut model = LocalModel::load(&args.dir, &default_device())?;
    if let Some(path) = &args.adapter {
        let dir = adapter_dir(path)?;
        model.model.load_adapters(&dir).with_context(|| format!("loading the adapter {}", dir.display()))?;
        eprintln!("with the adapter {}", dir.display());
    }
    let name = model.name.clone();
    let options = discover_llm::serve::ServeOptions { max_batch_rows: args.max_batch, default_max_tokens: args.max_tokens, ..Default::default() };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the HTTP runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind((args.host.as_str(), args.port))
            .await
            .with_context(|| format!("cannot listen on {}:{}", args.host, args.port))?;
        let addr = listener.local_addr()?;
        // The first line of stdout is the base URL (scripts and tests read it).
        println!("http://{addr}/v1");
        let _ = std::io::stdout().flush();
        eprintln!("serving {name} at http://{addr}/v1 (ctrl-c stops)");
        discover_llm::serve::serve(listener, discover_llm::serve::router(model, options)).await
    })?;
    Ok(ExitCode::SUCCESS)
}
