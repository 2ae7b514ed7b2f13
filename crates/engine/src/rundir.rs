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

use super::{Buffer, Event};

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
    /// Run time when the best state was found (for `--stall-limit`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub best_at_seconds: Option<f64>,
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
    pub fn append_events(&self, events: &[Event]) -> Result<()> {
        let path = self.path("events.jsonl");
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        let text = events_text(events)?;
        file.write_all(text.as_bytes()).with_context(|| format!("cannot write {}", path.display()))?;
        file.sync_data().ok();
        Ok(())
    }

    /// The run's events, in order. A last line cut short by a kill is skipped;
    /// any other line that is not an event is an error naming its line (a
    /// damaged file, or a run from a version of `discover` whose events differ).
    pub fn events(&self) -> Result<Vec<Event>> {
        let path = self.path("events.jsonl");
        let Ok(file) = File::open(&path) else { return Ok(Vec::new()) };
        let lines: Vec<String> = BufReader::new(file)
            .lines()
            .collect::<std::io::Result<_>>()
            .with_context(|| format!("cannot read {}", path.display()))?;
        let mut events = Vec::with_capacity(lines.len());
        for (i, line) in lines.iter().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<Event>(line) {
                Ok(e) => events.push(e),
                // A kill mid-write leaves a partial last line: not an error.
                Err(e) if i + 1 == lines.len() && e.is_eof() => {}
                Err(e) => bail!(
                    "{} line {}: not an event of this version of discover ({e}); \
                     the run may be from an older format or damaged",
                    path.display(),
                    i + 1
                ),
            }
        }
        Ok(events)
    }

    /// Keep only the events of steps up to `step` (a partly written last line
    /// and the events of an interrupted step go).
    pub fn truncate_events(&self, step: u32) -> Result<()> {
        let kept: Vec<Event> = self.events()?.into_iter().filter(|e| e.step() <= step).collect();
        write_atomic(&self.path("events.jsonl"), events_text(&kept)?.as_bytes())
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

/// Write `bytes` to `path` via a temporary file and a rename, so readers (and a
/// resumed run) never see half a file: the contract crate's one atomic write.
pub use discover_contract::fs::write_atomic;

/// JSON lines of `events`.
fn events_text(events: &[Event]) -> Result<String> {
    let mut text = String::new();
    for e in events {
        text.push_str(&serde_json::to_string(e).context("serialising an event")?);
        text.push('\n');
    }
    Ok(text)
}
