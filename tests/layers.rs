//! The dependency rule of ARCHITECTURE.md, checked against `cargo metadata` so
//! that it cannot drift: each layer crate depends only on layers below it, the
//! engine pulls in no wasmtime, no LLM runtime and no HTTP stack, the sandbox
//! knows nothing of what runs in it, and nothing depends on the CLI.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use serde_json::Value;

/// The layers, bottom to top. A crate may depend (normal dependencies) only on
/// crates of a lower layer; crates of the same layer are independent.
const LAYERS: &[&[&str]] = &[
    &["discover-contract"],
    &["discover-sandbox", "discover-engine", "discover-llm"],
    &["discover-problem", "discover-candidate", "discover-plugin", "discover-report", "discover-policy"],
    &["discover-rollout"],
    &["discover-board"],
    &["discover"],
];

/// External crates that mark a heavy subsystem.
const WASMTIME: &[&str] = &["wasmtime", "cranelift-codegen", "wasmtime-wasi"];
const LLM: &[&str] = &["candle-core", "candle-nn", "tokenizers"];
const HTTP: &[&str] = &["ureq", "reqwest", "hyper", "axum", "h2"];

struct Graph {
    /// Package name -> names of its normal (non-dev, non-build) dependencies.
    deps: BTreeMap<String, BTreeSet<String>>,
    workspace: BTreeSet<String>,
}

impl Graph {
    /// The graph, read once per test binary (cargo metadata takes a lock).
    fn load() -> &'static Graph {
        static GRAPH: std::sync::OnceLock<Graph> = std::sync::OnceLock::new();
        GRAPH.get_or_init(Graph::read)
    }

    fn read() -> Graph {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let out = Command::new(cargo)
            .args(["metadata", "--format-version", "1", "--locked"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("running cargo metadata");
        assert!(out.status.success(), "cargo metadata failed: {}", String::from_utf8_lossy(&out.stderr));
        let meta: Value = serde_json::from_slice(&out.stdout).unwrap();
        let name_of: BTreeMap<String, String> = meta["packages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p["id"].as_str().unwrap().to_string(), p["name"].as_str().unwrap().to_string()))
            .collect();
        let workspace = meta["workspace_members"].as_array().unwrap().iter().map(|id| name_of[id.as_str().unwrap()].clone()).collect();
        let mut deps: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for node in meta["resolve"]["nodes"].as_array().unwrap() {
            let name = name_of[node["id"].as_str().unwrap()].clone();
            let normal = node["deps"].as_array().unwrap().iter().filter(|d| {
                d["dep_kinds"].as_array().unwrap().iter().any(|k| k["kind"].is_null())
            });
            deps.entry(name).or_default().extend(normal.map(|d| name_of[d["pkg"].as_str().unwrap()].clone()));
        }
        Graph { deps, workspace }
    }

    /// Every package `name` depends on, directly or not (normal dependencies).
    fn closure(&self, name: &str) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![name.to_string()];
        while let Some(n) = todo.pop() {
            for d in self.deps.get(&n).into_iter().flatten() {
                if seen.insert(d.clone()) {
                    todo.push(d.clone());
                }
            }
        }
        seen
    }
}

fn layer_of(name: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&name))
}

#[test]
fn every_layer_crate_depends_only_on_lower_layers() {
    let graph = Graph::load();
    for layer in LAYERS {
        for name in *layer {
            assert!(graph.workspace.contains(*name), "{name} is named in LAYERS but is not a workspace member");
        }
    }
    let mut broken = Vec::new();
    for (i, layer) in LAYERS.iter().enumerate() {
        for name in *layer {
            for dep in &graph.deps[*name] {
                if let Some(j) = layer_of(dep) {
                    if j >= i {
                        broken.push(format!("{name} (layer {i}) depends on {dep} (layer {j})"));
                    }
                }
            }
        }
    }
    assert!(broken.is_empty(), "the dependency rule is broken:\n{}", broken.join("\n"));
}

#[test]
fn the_engine_pulls_in_no_wasmtime_llm_or_http() {
    let graph = Graph::load();
    let engine = graph.closure("discover-engine");
    for heavy in WASMTIME.iter().chain(LLM).chain(HTTP) {
        assert!(!engine.contains(*heavy), "discover-engine depends on {heavy}");
    }
    // The contract is plainer still.
    let contract = graph.closure("discover-contract");
    for heavy in WASMTIME.iter().chain(LLM).chain(HTTP) {
        assert!(!contract.contains(*heavy), "discover-contract depends on {heavy}");
    }
    // The check itself can fail: the CLI does pull all three in.
    let cli = graph.closure("discover");
    assert!(cli.contains("wasmtime") && cli.contains("candle-core") && cli.contains("reqwest"));
}

#[test]
fn the_sandbox_knows_nothing_above_it() {
    let graph = Graph::load();
    let sandbox = graph.closure("discover-sandbox");
    // The contract's plain types are below it; nothing else of ours is.
    let workspace_deps: Vec<&String> =
        sandbox.iter().filter(|d| graph.workspace.contains(*d) && d.as_str() != "discover-contract").collect();
    assert!(workspace_deps.is_empty(), "discover-sandbox depends on {workspace_deps:?}");
    for heavy in LLM.iter().chain(HTTP) {
        assert!(!sandbox.contains(*heavy), "discover-sandbox depends on {heavy}");
    }
}

#[test]
fn nothing_depends_on_the_cli() {
    let graph = Graph::load();
    let dependents: Vec<&String> = graph.deps.iter().filter(|(_, d)| d.contains("discover")).map(|(n, _)| n).collect();
    assert!(dependents.is_empty(), "these depend on the CLI crate `discover`: {dependents:?}");
}

#[test]
fn every_workspace_crate_of_the_host_has_a_layer() {
    // Guests, xtask and test-only crates are not host layers; every other
    // workspace crate must be placed, so a new crate cannot dodge the rule.
    let graph = Graph::load();
    let unplaced: Vec<&String> = graph
        .workspace
        .iter()
        .filter(|n| n.starts_with("discover") && n.as_str() != "discover-guest" && layer_of(n).is_none())
        .collect();
    assert!(unplaced.is_empty(), "add these crates to LAYERS (and ARCHITECTURE.md): {unplaced:?}");
}
