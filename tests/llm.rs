//! LLM policies end to end: `discover serve-model` on a tiny random-weight model
//! answers the official `openai` Python client; `discover run --policy openai`
//! and `--policy local` complete (their gibberish fails with reward 0); programs
//! a server writes run in the Python sandbox and are scored; rate limits, server
//! errors, malformed replies and time-outs are retried, and a server that dies
//! stops the run cleanly so that `discover resume` finishes it.
//!
//! Runs that execute programs need the Python runtime of `discover setup`.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::{json, Value};

fn discover_cmd(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_discover"));
    cmd.args(args).stdin(Stdio::null());
    cmd
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn events(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("events.jsonl")).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// One tiny model directory shared by the tests.
fn tiny_model() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("llm-tiny-model");
        let _ = std::fs::remove_dir_all(&dir);
        let out = discover_cmd(&["model", "new-tiny", dir.to_str().unwrap()]).output().unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        dir
    })
    .clone()
}

/// `discover serve-model` on the tiny model; killed when dropped.
struct Served {
    child: Child,
    url: String,
}

impl Served {
    fn start(dir: &Path) -> Served {
        Served::start_with(dir, &[])
    }

    fn start_with(dir: &Path, extra: &[&str]) -> Served {
        let mut args = vec!["serve-model", dir.to_str().unwrap(), "--port", "0"];
        args.extend(extra);
        let mut child = discover_cmd(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        assert!(line.starts_with("http://"), "serve-model printed {line:?}");
        Served { child, url: line.trim().to_string() }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_official_openai_client_talks_to_serve_model() {
    let served = Served::start(&tiny_model());
    let script = r#"
import json, sys
from openai import OpenAI
client = OpenAI(base_url=sys.argv[1], api_key="unused")
models = [m.id for m in client.models.list()]
r = client.chat.completions.create(
    model=models[0], messages=[{"role": "user", "content": "Write a program."}],
    n=2, max_tokens=12, temperature=1.0, logprobs=True, seed=5)
print(json.dumps({
    "models": models,
    "choices": [{"text": c.message.content, "finish": c.finish_reason,
                 "logprobs": [t.logprob for t in c.logprobs.content]} for c in r.choices],
    "usage": [r.usage.prompt_tokens, r.usage.completion_tokens],
}))
"#;
    let out = Command::new("python3").arg("-c").arg(script).arg(&served.url).output().unwrap();
    assert!(out.status.success(), "the openai client failed (is it installed? .ci/run installs it): {}", text(&out.stderr));
    let v: Value = serde_json::from_str(text(&out.stdout).trim()).unwrap();
    assert_eq!(v["models"], json!(["llm-tiny-model"]));
    let choices = v["choices"].as_array().unwrap();
    assert_eq!(choices.len(), 2);
    let mut total = 0;
    for c in choices {
        let lps = c["logprobs"].as_array().unwrap();
        assert!(!lps.is_empty() && lps.len() <= 12);
        assert!(lps.iter().all(|l| l.as_f64().unwrap() < 0.0));
        total += lps.len();
    }
    assert_eq!(v["usage"][1].as_u64().unwrap() as usize, total);
    assert_ne!(choices[0]["logprobs"], choices[1]["logprobs"], "n = 2 gives two different samples");
}

#[test]
fn serve_model_batches_concurrent_requests_and_rejects_bad_ones() {
    let served = Served::start(&tiny_model());
    let post = |body: Value| -> (u16, Value) {
        let res = reqwest::blocking::Client::new().post(format!("{}/chat/completions", served.url)).json(&body).send().unwrap();
        (res.status().as_u16(), res.json().unwrap())
    };
    let chat = json!([{"role": "user", "content": "hello"}]);
    // Same seed, same samples.
    let a = post(json!({"messages": chat, "max_tokens": 10, "seed": 3}));
    let b = post(json!({"messages": chat, "max_tokens": 10, "seed": 3}));
    assert_eq!(a.0, 200);
    assert_eq!(a.1["choices"][0]["token_ids"], b.1["choices"][0]["token_ids"]);
    // Concurrent requests share batches.
    let before: Value = reqwest::blocking::get(format!("{}/stats", served.url.trim_end_matches("/v1"))).unwrap().json().unwrap();
    std::thread::scope(|s| {
        for i in 0..6 {
            let chat = chat.clone();
            let post = &post;
            s.spawn(move || assert_eq!(post(json!({"messages": chat, "max_tokens": 200, "seed": i})).0, 200));
        }
    });
    let after: Value = reqwest::blocking::get(format!("{}/stats", served.url.trim_end_matches("/v1"))).unwrap().json().unwrap();
    let requests = after["requests"].as_u64().unwrap() - before["requests"].as_u64().unwrap();
    let batches = after["batches"].as_u64().unwrap() - before["batches"].as_u64().unwrap();
    assert_eq!(requests, 6);
    assert!(batches < requests, "6 concurrent requests took {batches} batches");
    // Clear errors in OpenAI's shape.
    for (body, status, says) in [
        (json!({"messages": chat, "stream": true}), 400, "stream"),
        (json!({"messages": chat, "n": 0}), 400, "n must be"),
        (json!({"messages": chat, "temperature": -1}), 400, "temperature"),
        (json!({"messages": chat, "model": "gpt-5"}), 404, "not served here"),
        (json!({"messages": "hello"}), 400, "not a chat completion request"),
        (json!({"messages": []}), 400, "messages must not be empty"),
    ] {
        let (got, v) = post(body);
        assert_eq!(got, status, "{v}");
        assert!(v["error"]["message"].as_str().unwrap().contains(says), "{v}");
    }
}

/// A scripted OpenAI-compatible server: each POST takes the next fault from
/// the script (if any), else answers with completions of `program`.
#[derive(Clone, Debug)]
enum Fault {
    /// Answer normally.
    Ok,
    Status(u16, Option<&'static str>),
    NotJson,
    WrongChoices,
    Sleep(Duration),
}

struct Fake {
    url: String,
    posts: Arc<Mutex<usize>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// A completion with reasoning and a program that returns the parent unchanged
/// except for radii shrunk by 1e-9 (valid, slightly worse than the parent).
const ANSWER: &str = "The packing is tight; shrink radii a hair.\n\n```python\nimport numpy as np\n\ndef solve(parent, x):\n    x = x.reshape(-1, 3).copy()\n    x[:, 2] -= 1e-9\n    print('shrunk', len(x))\n    return x\n```\n";

impl Fake {
    fn start(script: Vec<Fault>, answer: &'static str) -> Fake {
        let script = Arc::new(Mutex::new(VecDeque::from(script)));
        let posts = Arc::new(Mutex::new(0usize));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (s2, p2) = (script.clone(), posts.clone());
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
            rt.block_on(async move {
                let app = axum::Router::new()
                    .route("/v1/models", axum::routing::get(|| async { axum::Json(json!({"data": [{"id": "fake"}]})) }))
                    .route(
                        "/v1/chat/completions",
                        axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
                            let (script, posts) = (s2.clone(), p2.clone());
                            async move {
                                *posts.lock().unwrap() += 1;
                                let fault = script.lock().unwrap().pop_front();
                                let n = body["n"].as_u64().unwrap_or(1) as usize;
                                let choices: Vec<Value> = (0..n)
                                    .map(|i| json!({"index": i, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}))
                                    .collect();
                                let ok = json!({"choices": choices, "usage": {"prompt_tokens": 100, "completion_tokens": 40 * n}});
                                match fault {
                                    None | Some(Fault::Ok) => axum::Json(ok).into_response(),
                                    Some(Fault::Status(code, retry_after)) => {
                                        let mut r = (StatusCode::from_u16(code).unwrap(), axum::Json(json!({"error": {"message": format!("scripted {code}")}}))).into_response();
                                        if let Some(v) = retry_after {
                                            r.headers_mut().insert("retry-after", v.parse().unwrap());
                                        }
                                        r
                                    }
                                    Some(Fault::NotJson) => "<html>gateway</html>".into_response(),
                                    Some(Fault::WrongChoices) => axum::Json(json!({"choices": []})).into_response(),
                                    Some(Fault::Sleep(d)) => {
                                        tokio::time::sleep(d).await;
                                        axum::Json(ok).into_response()
                                    }
                                }
                            }
                        }),
                    );
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                axum::serve(listener, app).with_graceful_shutdown(async { let _ = rx.await; }).await.unwrap();
            });
        });
        let addr = addr_rx.recv().unwrap();
        Fake { url: format!("http://{addr}/v1"), posts, shutdown: Some(tx), thread: Some(thread) }
    }

    fn posts(&self) -> usize {
        *self.posts.lock().unwrap()
    }

    /// Stop answering: the port closes.
    fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.stop();
    }
}

fn openai_run(out: &Path, url: &str, steps: u32, extra: &[&str]) -> Output {
    let steps = steps.to_string();
    let mut args = vec![
        "run", "circle-packing-26", "--policy", "openai", "--base-url", url, "--steps", &steps,
        "--groups", "2", "--group-size", "2", "--max-tokens", "48", "--program-seconds", "10",
        "--retry-backoff", "0.01", "--seed", "1", "--json", "--out", out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    discover_cmd(&args).output().unwrap()
}

fn steps_of(events: &[Value]) -> Vec<&Value> {
    events.iter().filter(|e| e["type"] == "step").collect()
}

#[test]
fn a_run_against_serve_model_records_failed_gibberish_as_reward_zero() {
    let served = Served::start(&tiny_model());
    let tmp = tempfile::tempdir().unwrap();
    let out = openai_run(&tmp.path().join("run"), &served.url, 2, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let summary: Value = serde_json::from_str(text(&out.stdout).trim()).unwrap();
    assert_eq!((summary["steps"].as_u64(), summary["policy"].as_str(), summary["trained"].as_bool()), (Some(2), Some("openai"), Some(false)));
    let ev = events(&tmp.path().join("run"));
    let rollouts: Vec<&Value> = ev.iter().filter(|e| e["type"] == "rollout").collect();
    assert_eq!(rollouts.len(), 8);
    for r in &rollouts {
        assert_eq!(r["reward"], 0.0);
        assert_eq!(r["failure"]["kind"], "no-code", "{r}");
        assert!(r["tokens"]["completion"].as_u64().unwrap() > 0);
    }
    for s in steps_of(&ev) {
        assert!(s["tokens"]["prompt"].as_u64().unwrap() > 1000, "{s}");
        assert_eq!(s["sampling"]["retries"], 0);
        assert_eq!(s["policy"], Value::Null, "all groups failed: nothing to train on");
    }
}

#[test]
fn programs_from_the_server_run_in_the_sandbox_through_retries() {
    // A 429 storm (one with Retry-After), a 502, a gateway page, too few choices
    // and a reply slower than the request time-out: all retried.
    let faults = vec![
        Fault::Status(429, Some("0")),
        Fault::Status(429, None),
        Fault::Status(429, None),
        Fault::Status(502, None),
        Fault::NotJson,
        Fault::WrongChoices,
        Fault::Sleep(Duration::from_secs(3)),
    ];
    let fake = Fake::start(faults, ANSWER);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let out = openai_run(&dir, &fake.url, 2, &["--request-timeout", "1", "--retries", "8", "--concurrency", "1"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let ev = events(&dir);
    let retries: u64 = steps_of(&ev).iter().map(|s| s["sampling"]["retries"].as_u64().unwrap()).sum();
    assert_eq!(retries, 7, "every fault was retried once");
    assert_eq!(fake.posts(), 4 + 7);
    // The programs ran: valid packings a hair worse than their parents.
    let rollouts: Vec<&Value> = ev.iter().filter(|e| e["type"] == "rollout").collect();
    assert_eq!(rollouts.len(), 8);
    for r in &rollouts {
        assert!(r["failure"].is_null(), "{r}");
        assert!(r["reward"].as_f64().unwrap() > 1.0, "{r}");
    }
    let checkpoint: Value = serde_json::from_slice(&std::fs::read(dir.join("buffer.json")).unwrap()).unwrap();
    let children: Vec<&Value> = checkpoint["buffer"]["states"].as_array().unwrap().iter().filter(|s| s["code"].is_string()).collect();
    assert!(!children.is_empty());
    assert!(children.iter().all(|c| c["stdout"].as_str().unwrap().contains("shrunk 26") && c["before"].is_number()), "{children:?}");
}

#[test]
fn client_errors_fail_at_once_with_the_servers_message() {
    let fake = Fake::start(vec![Fault::Status(401, None)], ANSWER);
    let tmp = tempfile::tempdir().unwrap();
    let out = openai_run(&tmp.path().join("run"), &fake.url, 1, &["--concurrency", "1", "--group-size", "2", "--groups", "1"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("401") && err.contains("scripted 401") && err.contains("discover resume"), "{err}");
    assert_eq!(fake.posts(), 1, "a 401 is not retried");
}

#[test]
fn a_server_that_fails_mid_run_stops_it_and_resume_finishes_it() {
    // Step 1's two requests are answered; then the server only says 503.
    let mut script = vec![Fault::Ok, Fault::Ok];
    script.extend(std::iter::repeat_n(Fault::Status(503, None), 40));
    let mut fake = Fake::start(script, ANSWER);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let out = openai_run(&dir, &fake.url, 3, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    let err = text(&out.stderr);
    assert!(err.contains("step 2 failed") && err.contains("gave up after 6 tries") && err.contains("discover resume"), "{err}");
    let ev = events(&dir);
    assert_eq!(ev.last().unwrap()["type"], "error");
    assert_eq!(steps_of(&ev).len(), 1, "nothing of the failed step was applied");
    // The server is gone altogether: resuming says so.
    fake.stop();
    let out = discover_cmd(&["resume", dir.to_str().unwrap(), "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("is the server running?"), "{}", text(&out.stderr));
    // A new server at a new address: resume finishes the run.
    let fake2 = Fake::start(Vec::new(), ANSWER);
    let out = discover_cmd(&["resume", dir.to_str().unwrap(), "--json", "--base-url", &fake2.url]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let summary: Value = serde_json::from_str(text(&out.stdout).trim()).unwrap();
    assert_eq!(summary["steps"], 3);
    let ev = events(&dir);
    assert_eq!(steps_of(&ev).iter().map(|s| s["step"].as_u64().unwrap()).collect::<Vec<_>>(), vec![1, 2, 3]);
    assert!(ev.iter().all(|e| e["type"] != "error"), "resume drops the failed step's lines");
}

#[test]
fn a_local_policy_run_trains_adapters_that_serve_model_serves() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model();
    let run = |name: &str, extra: &[&str]| -> (PathBuf, Value) {
        let dir = tmp.path().join(name);
        let mut args = vec![
            "run", "circle-packing-26", "--policy", "local", "--model", model.to_str().unwrap(), "--steps", "2",
            "--groups", "2", "--group-size", "2", "--max-tokens", "24", "--json", "--out", dir.to_str().unwrap(),
        ];
        args.extend(extra);
        let out = discover_cmd(&args).output().unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        (dir.clone(), serde_json::from_str(text(&out.stdout).trim()).unwrap())
    };
    // Trained by default: gibberish fails with reward 0, so every group is
    // dropped and no update runs, but the adapters are still checkpointed.
    let (dir, summary) = run("trained", &["--checkpoint-every", "1", "--lora-rank", "4"]);
    assert_eq!((summary["policy"].as_str(), summary["trained"].as_bool()), (Some("local"), Some(true)));
    assert_eq!(summary["policy_files"].as_str(), dir.join("checkpoints/step-000002").to_str());
    assert!(dir.join("checkpoints/step-000001/adapter_model.safetensors").is_file());
    let config = std::fs::read_to_string(dir.join("config.toml")).unwrap();
    assert!(config.contains("[train.lora]") && config.contains("rank = 4"), "{config}");
    let rollouts: Vec<Value> = events(&dir).into_iter().filter(|e| e["type"] == "rollout").collect();
    assert_eq!(rollouts.len(), 8);
    assert!(rollouts.iter().all(|r| r["reward"] == 0.0 && r["tokens"]["completion"].as_u64().unwrap() <= 24));

    // --no-train: the same sampler, frozen; nothing to checkpoint.
    let (frozen, summary) = run("frozen", &["--no-train"]);
    assert_eq!(summary["trained"].as_bool(), Some(false));
    assert!(!frozen.join("checkpoints").exists());

    // serve-model with the run's adapters (named by the run directory).
    let served = Served::start_with(&model, &["--adapter", dir.to_str().unwrap()]);
    let models: Value = reqwest::blocking::get(format!("{}/models", served.url)).unwrap().json().unwrap();
    let id = models["data"][0]["id"].as_str().unwrap().to_string();
    let reply: Value = reqwest::blocking::Client::new()
        .post(format!("{}/chat/completions", served.url))
        .json(&json!({"model": id, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert!(reply["choices"][0]["message"]["content"].is_string(), "{reply}");
    let bad = discover_cmd(&["serve-model", model.to_str().unwrap(), "--adapter", frozen.to_str().unwrap()]).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad.stderr).contains("has saved no adapters"), "{}", text(&bad.stderr));

    // Flags that do not fit the policy are refused.
    let bad = discover_cmd(&["run", "circle-packing-26", "--policy", "openai", "--steps", "1"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad.stderr).contains("--policy openai needs --base-url"), "{}", text(&bad.stderr));
    let bad = discover_cmd(&["run", "circle-packing-26", "--policy", "local", "--model", "/nonexistent/model", "--steps", "1"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad.stderr).contains("/nonexistent/model"), "{}", text(&bad.stderr));
    let m = model.to_str().unwrap();
    for (args, message) in [
        (vec!["--policy", "local", "--model", m, "--no-train", "--lora-rank", "8"], "--no-train samples only"),
        (vec!["--policy", "local", "--model", m, "--lora-targets", "q_proj,lm_head"], "unknown LoRA target module \"lm_head\""),
        (vec!["--policy", "local", "--model", m, "--clip", "1.5"], "the PPO clip must be in (0, 1)"),
        (vec!["--policy", "openai", "--base-url", "http://127.0.0.1:9/v1", "--no-train"], "--no-train is for --policy local"),
        (vec!["--policy", "numeric", "--lora-rank", "8"], "the LoRA and training flags are for --policy local"),
        (vec!["--policy", "local", "--model", m, "--no-train", "--lora-rank", "32"], "--no-train samples only"),
        (vec!["--policy", "local", "--model", m, "--checkpoint-every", "0"], "--checkpoint-every must be at least 1"),
        (vec!["--policy", "openai", "--base-url", "http://127.0.0.1:9/v1", "--lr", "1e-4"], "--lr has no effect with --policy openai"),
    ] {
        let mut all = vec!["run", "circle-packing-26", "--steps", "1"];
        all.extend(args);
        let bad = discover_cmd(&all).output().unwrap();
        assert_eq!(bad.status.code(), Some(2), "{all:?}");
        assert!(text(&bad.stderr).contains(message), "{all:?}: {}", text(&bad.stderr));
    }
}

/// A program that busy-waits a second and prints when it started and ended
/// (wall clock), then returns the parent with radii shrunk by a random hair, so
/// that no two children are duplicates and every child keeps its output.
const TIMED: &str = "Timing.\n\n```python\nimport time\nimport numpy as np\n\ndef solve(parent, x):\n    t0 = time.time()\n    while time.time() - t0 < 1.0:\n        pass\n    print('ran', repr(t0), repr(time.time()))\n    x = x.reshape(-1, 3).copy()\n    x[:, 2] -= 1e-9 * (1.0 + np.random.rand())\n    return x\n```\n";

/// The most intervals that overlap at one moment.
fn max_overlap(intervals: &[(f64, f64)]) -> usize {
    let mut edges: Vec<(f64, i32)> = intervals.iter().flat_map(|&(a, b)| [(a, 1), (b, -1)]).collect();
    // At equal times an end comes before a start: touching is not overlapping.
    edges.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
    let (mut now, mut most) = (0i32, 0i32);
    for (_, d) in edges {
        now += d;
        most = most.max(now);
    }
    most as usize
}

#[test]
fn discover_run_keeps_programs_within_the_memory_budget() {
    // Four rollout threads, 1 GiB programs, a 2 GiB budget: two at a time.
    let fake = Fake::start(Vec::new(), TIMED);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let out = discover_cmd(&[
        "run", "circle-packing-26", "--policy", "openai", "--base-url", &fake.url, "--steps", "1",
        "--groups", "4", "--group-size", "2", "--workers", "4", "--program-memory", "1024",
        "--program-memory-budget", "2048", "--program-seconds", "20", "--seed", "3", "--json",
        "--out", dir.to_str().unwrap(),
    ])
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let checkpoint: Value = serde_json::from_slice(&std::fs::read(dir.join("buffer.json")).unwrap()).unwrap();
    let intervals: Vec<(f64, f64)> = checkpoint["buffer"]["states"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["stdout"].as_str())
        .map(|o| {
            let f: Vec<f64> = o.split_whitespace().skip(1).map(|t| t.parse().unwrap()).collect();
            (f[0], f[1])
        })
        .collect();
    assert_eq!(intervals.len(), 8, "every program ran and its child was kept: {checkpoint}");
    assert_eq!(max_overlap(&intervals), 2, "{intervals:?}");

    // The budget refuses a program larger than itself before anything runs.
    let out = discover_cmd(&[
        "run", "circle-packing-26", "--policy", "openai", "--base-url", &fake.url, "--steps", "1",
        "--program-memory", "4096", "--program-memory-budget", "2048", "--out",
        tmp.path().join("refused").to_str().unwrap(),
    ])
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("more than the whole --program-memory-budget"), "{}", text(&out.stderr));
}

#[test]
fn max_overlap_counts_concurrent_intervals() {
    assert_eq!(max_overlap(&[(0.0, 1.0), (1.0, 2.0)]), 1);
    assert_eq!(max_overlap(&[(0.0, 2.0), (1.0, 3.0), (1.5, 1.6)]), 3);
}
