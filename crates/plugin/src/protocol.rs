//! The plugin protocol: JSON-RPC 2.0, one JSON object per line, the host
//! writing requests to the plugin's stdin and reading responses from its
//! stdout. The plugin's stderr is its log.
//!
//! ```text
//! host -> {"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocol":1,...}}
//! host <- {"jsonrpc":"2.0","id":1,"result":{"protocol":1,"name":"trimul"}}
//! host -> {"jsonrpc":"2.0","id":2,"method":"spec"}                -> PluginSpec
//! host -> {"jsonrpc":"2.0","id":3,"method":"initial","params":{"seed":0}}  -> Program
//! host -> {"jsonrpc":"2.0","id":4,"method":"evaluate","params":EvaluateParams} -> PluginVerdict
//! host -> {"jsonrpc":"2.0","id":5,"method":"shutdown"}            -> null, then the plugin exits
//! ```
//!
//! A plugin answers one request at a time, in order. An error is the
//! JSON-RPC error object; `evaluate` reports what the *candidate* did in its
//! verdict (invalid, with a reason) and keeps errors for its own failures.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use discover_contract::{Spec, Verdict};

/// The protocol version this host speaks. A plugin that answers `initialize`
/// with another is refused with both numbers in the message.
pub const PROTOCOL_VERSION: u32 = 1;

#[derive(Clone, Debug, Serialize)]
pub struct Request<'a> {
    pub jsonrpc: &'static str,
    pub id: u64,
    pub method: &'a str,
    #[serde(skip_serializing_if = "Value::is_null")]
    pub params: Value,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Response {
    pub jsonrpc: String,
    pub id: Option<u64>,
    #[serde(default)]
    pub result: Option<Value>,
    #[serde(default)]
    pub error: Option<RpcError>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RpcError {
    pub code: i64,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

/// What the host tells a plugin when it starts it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct InitializeParams {
    pub protocol: u32,
    /// `discover <version>`.
    pub host: String,
    /// The problem this process serves (a pack can serve several from one script).
    pub problem: String,
    /// How to run a candidate natively: this argv plus `--job FILE --report FILE`
    /// (`discover isolate`); the plugin never runs candidate code itself.
    pub isolate: Vec<String>,
    /// Whether the user allowed native candidates without namespaces.
    pub unsafe_native: bool,
    /// A folder the plugin may use for scratch files (not shown to candidates).
    pub scratch: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct InitializeResult {
    pub protocol: u32,
    #[serde(default)]
    pub name: String,
}

/// A plugin problem's spec: the contract's spec, and the programs it takes.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PluginSpec {
    #[serde(flatten)]
    pub spec: Spec,
    /// The language candidates are written in (a Markdown fence name: `python`).
    pub language: String,
    /// What a candidate program must do, in words for a prompt.
    pub contract: String,
    /// Facts about where candidates run (the GPU's name and capability, or
    /// "CPU mode"), shown in prompts.
    #[serde(default)]
    pub environment: String,
}

/// A program: the starting one (`initial`) or a candidate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Program {
    pub language: String,
    pub source: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EvaluateParams {
    pub language: String,
    pub source: String,
    /// Seeds the inputs of this evaluation (fresh and secret on a leaderboard).
    pub seed: u64,
    /// The wall-clock seconds the plugin has for this call.
    pub timeout_seconds: f64,
}

/// The plugin's judgement of a candidate.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PluginVerdict {
    pub valid: bool,
    #[serde(default)]
    pub score: Option<f64>,
    #[serde(default)]
    pub reason: Option<String>,
    /// Named figures in order: `[["time_us", 12.5], ...]`.
    #[serde(default)]
    pub metrics: Vec<(String, f64)>,
    /// The tail of what the candidate printed (for the next prompt).
    #[serde(default)]
    pub output: String,
    /// The kind of failure, when invalid (`wrong-answer`, `timeout`, ...).
    #[serde(default)]
    pub failure: Option<String>,
}

impl PluginVerdict {
    /// The contract's verdict, after the same checks a Wasm verdict gets: a
    /// valid verdict has a finite score; metrics are finite.
    pub fn into_verdict(self) -> Result<Verdict, String> {
        if self.valid {
            match self.score {
                Some(s) if s.is_finite() => {}
                Some(s) => return Err(format!("a valid verdict with a non-finite score ({s})")),
                None => return Err("a valid verdict without a score".into()),
            }
        }
        if let Some((name, v)) = self.metrics.iter().find(|(_, v)| !v.is_finite()) {
            return Err(format!("metric {name} is not finite ({v})"));
        }
        Ok(Verdict {
            valid: self.valid,
            score: if self.valid { self.score } else { None },
            reason: self.reason,
            metrics: self.metrics,
        })
    }
}
