//! The run directory: everything needed to read a run afterwards and to resume it.
//!
//! ```text
//! config.toml    the run's settings (written once)
//! events.jsonl   one line per rollout and per step
//! buffer.json    the checkpoint: completed steps, buffer, policy (atomic, every step)
//! checkpoints/   step-NNNNNN/: a trained policy's files (LoRA adapters in PEFT's
//!                layout, optimiser state), every K steps and after the last
//! best/          the best solution, its verdict, its picture
//! plots/         reward curves (SVG)
//! ```
//! A checkpoint is replaced with write-to-temporary + rename, so a kill at any
//! moment leaves either the old or the new one. Events of a step that did not
//! reach its checkpoint are dropped on resume.

use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Buffer;

/// Bumped when the checkpoint format changes incompatibly.
pub const CHECKPOINT_VERSION: u32 = 1;

/// What `buffer.json` holds: the state after `step` completed steps.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Checkpoint {
    pub version: u32,
    pub step: u32,
    pub elapsed_seconds: f64,
    pub buffer: Buffer,
    pub policy: Value,
    /// The folder (relative to the run directory) with the policy's files as
    /// of the last time they were written, which may be a few steps older
    /// than `step` (see `Settings::checkpoint_every`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_files: Option<String>,
}

impl Checkpoint {
    /// The step after which `policy_files` were written (their folder's number,
    /// see [`RunDir::save_policy_files`]).
    pub fn policy_files_step(&self) -> Option<u32> {
        self.policy_files.as_deref()?.strip_prefix(POLICY_FILES_PREFIX)?.parse().ok()
    }
}

/// Where a policy's files go: `checkpoints/step-NNNNNN`.
const POLICY_FILES_PREFIX: &str = "checkpoints/step-";

/// A run directory on disk.
#[derive(Clone, Debug)]
pub struct RunDir {
    root: PathBuf,
}

impl RunDir {
    /// Create a new run directory; an existing non-empty one is refused (it may
    /// be a run to resume, not to overwrite).
    pub fn create(root: &Path) -> Result<RunDir> {
        if root.exists() && fs::read_dir(root).map(|mut d| d.next().is_some()).unwrap_or(true) {
            bail!(
                "{} already exists and is not empty; resume it with `discover resume {}` or choose another --out",
                root.display(),
                root.display()
            );
        }
        for sub in ["", "best", "plots"] {
            fs::create_dir_all(root.join(sub)).with_context(|| format!("cannot create {}", root.join(sub).display()))?;
        }
        Ok(RunDir { root: root.to_path_buf() })
    }

    /// Open an existing run directory.
    pub fn open(root: &Path) -> Result<RunDir> {
        if !root.join("config.toml").is_file() {
            bail!("{} is not a run directory (no config.toml)", root.display());
        }
        for sub in ["best", "plots"] {
            fs::create_dir_all(root.join(sub))?;
        }
        Ok(RunDir { root: root.to_path_buf() })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    pub fn read_config(&self) -> Result<String> {
        let path = self.path("config.toml");
        fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))
    }

    pub fn write_config(&self, text: &str) -> Result<()> {
        write_atomic(&self.path("config.toml"), text.as_bytes())
    }

    /// Append event lines and flush them to the file.
    pub fn append_events(&self, events: &[Value]) -> Result<()> {
        let path = self.path("events.jsonl");
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        let mut text = String::new();
        for e in events {
            text.push_str(&e.to_string());
            text.push('\n');
        }
        file.write_all(text.as_bytes()).with_context(|| format!("cannot write {}", path.display()))?;
        file.sync_data().ok();
        Ok(())
    }

    /// Every complete, parseable event line.
    pub fn events(&self) -> Result<Vec<Value>> {
        let path = self.path("events.jsonl");
        let Ok(file) = File::open(&path) else { return Ok(Vec::new()) };
        Ok(BufReader::new(file)
            .lines()
            .map_while(|l| l.ok())
            .filter_map(|l| serde_json::from_str(&l).ok())
            .collect())
    }

    /// Keep only the events of steps up to `step` (a partly written last line
    /// and the events of an interrupted step go).
    pub fn truncate_events(&self, step: u32) -> Result<()> {
        let kept: Vec<Value> = self
            .events()?
            .into_iter()
            .filter(|e| e.get("step").and_then(Value::as_u64).is_some_and(|s| s <= step as u64))
            .collect();
        let mut text = String::new();
        for e in &kept {
            text.push_str(&e.to_string());
            text.push('\n');
        }
        write_atomic(&self.path("events.jsonl"), text.as_bytes())
    }

    pub fn save_checkpoint(&self, checkpoint: &Checkpoint) -> Result<()> {
        let text = serde_json::to_vec(checkpoint).context("serialising the checkpoint")?;
        write_atomic(&self.path("buffer.json"), &text)
    }

    /// Let `write` fill `checkpoints/step-NNNNNN/` with the policy's files
    /// after `step`. The folder appears complete or not at all (written under
    /// a temporary name, then renamed); its relative path is returned, or
    /// `None` when `write` had nothing to save. Older folders are kept, so an
    /// adapter can be served from any checkpointed step.
    pub fn save_policy_files(&self, step: u32, write: impl FnOnce(&Path) -> Result<bool>) -> Result<Option<String>> {
        let rel = format!("{POLICY_FILES_PREFIX}{step:06}");
        let tmp = self.path(&format!("checkpoints/.step-{step:06}.partial"));
        if tmp.exists() {
            fs::remove_dir_all(&tmp).with_context(|| format!("removing {}", tmp.display()))?;
        }
        fs::create_dir_all(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        if !write(&tmp).with_context(|| format!("saving the policy into {}", tmp.display()))? {
            fs::remove_dir_all(&tmp)?;
            return Ok(None);
        }
        let target = self.path(&rel);
        if target.exists() {
            // A step that ran again after a resume.
            fs::remove_dir_all(&target).with_context(|| format!("replacing {}", target.display()))?;
        }
        fs::rename(&tmp, &target).with_context(|| format!("moving {} to {}", tmp.display(), target.display()))?;
        Ok(Some(rel))
    }

    /// The last checkpoint, or `None` if no step completed yet.
    pub fn load_checkpoint(&self) -> Result<Option<Checkpoint>> {
        let path = self.path("buffer.json");
        let Ok(text) = fs::read(&path) else { return Ok(None) };
        let checkpoint: Checkpoint = serde_json::from_slice(&text)
            .with_context(|| format!("{} is damaged; the run cannot resume from it", path.display()))?;
        if checkpoint.version != CHECKPOINT_VERSION {
            bail!(
                "{} has checkpoint version {}, this discover reads version {CHECKPOINT_VERSION}",
                path.display(),
                checkpoint.version
            );
        }
        Ok(Some(checkpoint))
    }
}

/// Write `bytes` to `path` via a temporary file in the same directory and a
/// rename, so readers (and a resumed run) never see half a file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(".{}.tmp", path.file_name().and_then(|n| n.to_str()).unwrap_or("file")));
    let mut file = File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    file.write_all(bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    file.sync_all().ok();
    fs::rename(&tmp, path).with_context(|| format!("cannot replace {}", path.display()))
}
