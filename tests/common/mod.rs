//! Helpers shared by the end-to-end tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use discover::problem::{builtin, Problem, Solution};
use discover::sandbox::{ComponentCache, Sandbox};

/// A sandbox whose compile cache lives in cargo's per-target temp dir, shared by
/// all tests (entries are content-addressed, so sharing is safe).
pub fn sandbox() -> Sandbox {
    Sandbox::new(ComponentCache::at(cache_dir())).expect("sandbox")
}

pub fn cache_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("component-cache")
}

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/fixtures").join(name)
}

pub fn hostile_component() -> PathBuf {
    Path::new(builtin::TEST_COMPONENTS_DIR).join("hostile_problem.wasm")
}

pub fn hostile(sandbox: &Sandbox) -> Problem {
    Problem::from_file(sandbox, &hostile_component()).expect("hostile component loads")
}

pub fn solution(values: Vec<f64>) -> Solution {
    Solution::new(values)
}

/// An OpenAI-compatible server whose i-th choice of every request is
/// `answers[i % 3]`.
pub fn scripted_server(answers: [&'static str; 3]) -> (String, tokio::sync::oneshot::Sender<()>) {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        rt.block_on(async move {
            let app = axum::Router::new()
                .route("/v1/models", axum::routing::get(|| async { axum::Json(serde_json::json!({"data": [{"id": "scripted"}]})) }))
                .route(
                "/v1/chat/completions",
                axum::routing::post(move |axum::Json(body): axum::Json<serde_json::Value>| async move {
                    let n = body["n"].as_u64().unwrap_or(1) as usize;
                    let choices: Vec<serde_json::Value> = (0..n)
                        .map(|i| serde_json::json!({"index": i, "message": {"role": "assistant", "content": answers[i % 3]}, "finish_reason": "stop"}))
                        .collect();
                    axum::Json(serde_json::json!({"choices": choices, "usage": {"prompt_tokens": 100, "completion_tokens": 50 * n}}))
                }),
            );
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            addr_tx.send(listener.local_addr().unwrap()).unwrap();
            axum::serve(listener, app).with_graceful_shutdown(async { let _ = rx.await; }).await.unwrap();
        });
    });
    (format!("http://{}/v1", addr_rx.recv().unwrap()), tx)
}


/// Processes on this machine whose command line mentions `marker`.
pub fn running(marker: &str) -> usize {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| std::fs::read(e.path().join("cmdline")).is_ok_and(|c| String::from_utf8_lossy(&c).contains(marker)))
        .count()
}

/// The `rollout` events of a run directory's `events.jsonl`, and their failure kinds.
pub fn rollouts(run_dir: &Path) -> (Vec<serde_json::Value>, Vec<String>) {
    let text = std::fs::read_to_string(run_dir.join("events.jsonl")).unwrap();
    let events: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let rollouts: Vec<serde_json::Value> = events.into_iter().filter(|e| e["type"] == "rollout").collect();
    let kinds = rollouts.iter().filter_map(|r| r["failure"]["kind"].as_str().map(str::to_string)).collect();
    (rollouts, kinds)
}
