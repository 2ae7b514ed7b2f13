//! # discover-plugin
//!
//! Problem packs and native plugins: the problems that cannot run in Wasm (GPU
//! kernels, biology on large data) and the folders problem authors ship them in.
//!
//! - [`pack`]: a pack is a folder with `pack.toml`; every file it names is read
//!   through a capability of that folder (`cap-std`), so nothing outside it can
//!   be named.
//! - [`protocol`]: JSON-RPC 2.0 over a plugin's stdin/stdout (`initialize` with
//!   a version handshake, `spec`, `initial`, `evaluate`, `shutdown`).
//! - [`host`]: supervised plugin processes: per-call deadlines, a crashed, hung
//!   or garbled process is killed and the next call starts a fresh one.
//! - [`PYTHON_HELPER`]: the Python module (`discover_plugin`) plugin authors
//!   write against: a class with `spec`, `initial`, `evaluate`, and
//!   `ctx.run(...)` to run candidates through `discover isolate`.
//!
//! A plugin judges candidate programs but never runs them in its own process:
//! native candidates run in `discover_candidate::native` (bubblewrap), which
//! the plugin reaches through the `isolate` command the host hands it.
//!
//! Depends on `discover-contract` only; the rollout layer turns a
//! [`PluginProblem`] into an environment.

pub mod host;
pub mod pack;
pub mod protocol;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

pub use host::{Plugin, PluginConfig, PluginError};
pub use pack::{Gpu, Manifest, Needs, Pack, PackProblem, ProblemKind};
pub use protocol::{EvaluateParams, PluginSpec, PluginVerdict, Program, PROTOCOL_VERSION};

/// The `discover_plugin` Python module, shipped inside the binary.
pub const PYTHON_HELPER: &str = include_str!("../python/discover_plugin.py");

/// Write the helper module under `cache_dir` (once per content) and return
/// the folder to put on `PYTHONPATH`.
pub fn install_python_helper(cache_dir: &Path) -> Result<PathBuf> {
    let digest = Sha256::digest(PYTHON_HELPER.as_bytes());
    let key: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    let dir = cache_dir.join("plugin-python").join(key);
    let file = dir.join("discover_plugin.py");
    if std::fs::read_to_string(&file).ok().as_deref() != Some(PYTHON_HELPER) {
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        discover_contract::fs::write_atomic(&file, PYTHON_HELPER.as_bytes())?;
    }
    Ok(dir)
}

/// A plugin problem: the supervised processes and the spec they reported.
pub struct PluginProblem {
    pub plugin: Plugin,
    pub spec: PluginSpec,
    pub pack: String,
}

impl PluginProblem {
    /// Start the plugin (one process) and read its spec.
    pub fn start(config: PluginConfig, pack: &str) -> Result<PluginProblem> {
        let problem = config.problem.clone();
        let plugin = Plugin::new(config);
        let spec = plugin.spec()?;
        if spec.spec.id != problem {
            anyhow::bail!("plugin {problem} reports its id as {:?}; the pack names it {problem}", spec.spec.id);
        }
        Ok(PluginProblem { plugin, spec, pack: pack.to_string() })
    }

    /// The deadline of one `evaluate` call: the spec's evaluation budget.
    pub fn evaluate_timeout(&self) -> Duration {
        Duration::from_millis(self.spec.spec.budgets.evaluate_millis.max(1000) as u64)
    }

    /// Judge `program`; the verdict has passed the contract's checks.
    pub fn evaluate(&self, program: &Program, seed: u64) -> Result<(discover_contract::Verdict, PluginVerdict), PluginError> {
        let timeout = self.evaluate_timeout();
        let params = EvaluateParams {
            language: program.language.clone(),
            source: program.source.clone(),
            seed,
            timeout_seconds: timeout.as_secs_f64(),
        };
        // The plugin gets its budget; the host waits a little longer, so a
        // plugin that stops its candidate at the deadline can still answer.
        let answer = self.plugin.evaluate(&params, timeout + timeout / 10 + Duration::from_secs(2))?;
        let verdict = answer.clone().into_verdict().map_err(|message| PluginError::Protocol {
            problem: self.spec.spec.id.clone(),
            method: "evaluate".into(),
            message,
        })?;
        Ok((verdict, answer))
    }
}
