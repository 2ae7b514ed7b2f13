//! Sampling throughput of the local LLM runtime, on this machine, in one run.
//!
//! Run with `cargo xtask bench llm [--tokens N] [--prompt N] [--models LIST]` (or
//! `cargo bench -p discover --bench llm -- ...`; add `--features cuda` for a
//! GPU). Random-weight models are written to a temporary directory and loaded
//! like any model directory: `tiny` (the test model), `small` (a 24M-parameter
//! Qwen2 shape) and `0.5b` (Qwen2.5-0.5B's shape, 494M parameters with its
//! 151936-row embedding; 2 GB of f32 weights written first). `--models`
//! takes a comma-separated list; the default is `tiny,small`.
//!
//! Prints, per model: prefill tokens/s of one prompt, and decode tokens/s with
//! 1, 4 and 16 completions of that prompt sampled together, each as a ratio to
//! one completion alone (the baseline measured in the same run). Completions
//! never stop early: the end-of-sequence tokens are dropped from the tokenizer
//! config so that every row samples exactly N tokens.
//!
//! Then the 16 completions sampled again with LoRA adapters attached (rank 32
//! on every projection, the defaults of `discover run --policy local`), as a
//! ratio to the same sampling without them; and two training steps on them (the
//! first pays for fresh memory), each as
//! completion tokens trained per second and as a ratio to the time sampling
//! them took with the adapters attached (measured just before).

use std::time::Instant;

use discover_llm::tiny::{self, TinySpec};
use discover_llm::{default_device, Arch, LocalModel, LoraConfig, Request, SamplingParams, Sequence, TrainConfig, Trainer};

#[path = "flags.rs"]
mod flags;
use flags::flag;

fn main() {
    let tokens = flag("--tokens", 64);
    let prompt_len = flag("--prompt", 512);
    let device = default_device();
    println!("device: {device:?}; {prompt_len}-token prompt, {tokens} new tokens per completion");
    let models = models_flag();
    let shapes = [
        ("tiny", "tiny (test model)", TinySpec::default()),
        (
            "small",
            "small (Qwen2 shape)",
            TinySpec { arch: Arch::Qwen2, hidden_size: 512, layers: 8, heads: 8, kv_heads: 2, intermediate_size: 1536, ..TinySpec::default() },
        ),
        (
            "0.5b",
            "0.5b (Qwen2.5-0.5B shape)",
            TinySpec {
                arch: Arch::Qwen2,
                hidden_size: 896,
                layers: 24,
                heads: 14,
                kv_heads: 2,
                intermediate_size: 4864,
                vocab_size: Some(151936),
                ..TinySpec::default()
            },
        ),
    ];
    for name in &models {
        if !shapes.iter().any(|(n, _, _)| n == name) {
            panic!("--models: unknown model {name:?} (known: tiny, small, 0.5b)");
        }
    }
    for (_, label, spec) in shapes.into_iter().filter(|(n, _, _)| models.iter().any(|m| m == n)) {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let config = tiny::write(dir.path(), &spec).expect("writing the model");
        // No end-of-sequence: every completion runs to max_tokens.
        let gen_config = dir.path().join("generation_config.json");
        std::fs::write(&gen_config, "{\"eos_token_id\": []}").unwrap();
        let cfg_path = dir.path().join("config.json");
        let mut cfg: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&cfg_path).unwrap()).unwrap();
        cfg["eos_token_id"] = serde_json::json!(config.vocab_size + 1000); // never sampled
        std::fs::write(&cfg_path, cfg.to_string()).unwrap();
        let tc = dir.path().join("tokenizer_config.json");
        let text = std::fs::read_to_string(&tc).unwrap().replace("\"<|im_end|>\"", "null");
        std::fs::write(&tc, text).unwrap();
        let mut model = LocalModel::load(dir.path(), &device).expect("loading the model");
        let prompt: Vec<u32> = (0..prompt_len as u32).map(|i| (i * 7919) % 256).collect();
        let run = |rows: usize, max_tokens: usize| -> (f64, usize) {
            let requests: Vec<Request> = (0..rows)
                .map(|i| Request { prompt: prompt.clone(), params: SamplingParams { max_tokens, seed: i as u64, ..Default::default() } })
                .collect();
            let t = Instant::now();
            let out = model.generate(&requests).expect("sampling");
            (t.elapsed().as_secs_f64(), out.iter().map(|g| g.tokens.len()).sum())
        };
        run(1, 4); // warm-up
        // Prefill alone: one new token.
        let (prefill, _) = run(1, 1);
        println!("\n{label}: {} parameters", config.parameters());
        println!("  prefill            {:>10.0} tokens/s", prompt_len as f64 / prefill);
        let mut base = None;
        let mut without_adapters = 0.0;
        for rows in [1, 4, 16] {
            let (secs, n) = run(rows, tokens);
            without_adapters = secs; // the 16 rows sampled again below, with adapters
            assert_eq!(n, rows * tokens, "every row samples exactly --tokens tokens");
            // Decode rate: the completions' tokens over the time after the prefill.
            let rate = n as f64 / (secs - prefill).max(1e-9);
            let ratio = rate / *base.get_or_insert(rate);
            println!("  decode, {rows:>2} at once  {rate:>10.0} tokens/s  ({ratio:.2}x one alone)");
        }

        // One training step on 16 sampled completions, against sampling them.
        model.model.add_adapters(&LoraConfig::default(), 0).expect("adapters");
        let rows = 16;
        let requests: Vec<Request> = (0..rows)
            .map(|i| Request { prompt: prompt.clone(), params: SamplingParams { max_tokens: tokens, seed: i as u64, ..Default::default() } })
            .collect();
        let t = Instant::now();
        let samples = model.generate(&requests).expect("sampling");
        let sampling = t.elapsed().as_secs_f64();
        println!(
            "  sampling {rows} x {tokens} with LoRA r32 attached  {sampling:.2} s  ({:.2}x the same without adapters, {without_adapters:.2} s)",
            sampling / without_adapters
        );
        let batch: Vec<Sequence> = samples
            .iter()
            .enumerate()
            .map(|(i, g)| Sequence { prompt: &prompt, completion: &g.tokens, sampler_logprobs: &g.logprobs, advantage: if i % 2 == 0 { 1.0 } else { -1.0 } })
            .collect();
        let mut trainer = Trainer::new(&model.model, TrainConfig::default()).expect("trainer");
        let params: usize = model.model.adapter_vars().iter().map(|v| v.elem_count()).sum();
        // The first step also pays for fresh memory (page faults); the second is the steady state.
        for which in ["first", "second"] {
            let t = Instant::now();
            let stats = trainer.step(&model.model, &batch).expect("training");
            let training = t.elapsed().as_secs_f64();
            println!(
                "  train step, {which} ({rows} x {tokens}, LoRA r32, {params} params, {} micro-batch)  {:>6.0} tokens/s  {training:.2} s ({:.2}x the sampling time, {sampling:.2} s)",
                stats.micro_batches,
                stats.tokens as f64 / training,
                training / sampling
            );
        }
    }
}

/// The `--models a,b` list, else `tiny,small`.
fn models_flag() -> Vec<String> {
    let args: Vec<String> = std::env::args().collect();
    let list = args.iter().position(|a| a == "--models").and_then(|i| args.get(i + 1)).map_or("tiny,small", |s| s.as_str());
    list.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect()
}
