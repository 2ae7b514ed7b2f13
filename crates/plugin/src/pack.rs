//! Problem packs: a folder with a `pack.toml` naming its problems.
//!
//! ```toml
//! name = "gpu-kernels"
//! version = "0.1.0"
//! description = "GPU kernels timed by an isolated harness"
//!
//! [[problems]]
//! id = "trimul"
//! kind = "plugin"            # a native plugin process
//! run = "trimul/plugin.py"   # a file in the pack; `.py` runs with python3
//! workers = 1
//! [problems.needs]
//! gpu = "optional"           # "none", "optional" (CPU mode without one) or "required"
//! python = ["torch>=2.4"]    # what the plugin and its candidates import
//! install = "python3 -m pip install torch"
//!
//! [[problems]]
//! id = "my-packing"
//! kind = "component"         # a Wasm component of either world
//! path = "my_packing.wasm"
//! starter = "my_packing.starter.cpp"   # contest world only, optional
//! ```
//!
//! Every file a manifest names is opened through a [`cap_std::fs::Dir`] of the
//! pack's folder: an absolute path, a `..` that leaves the folder, or a symlink
//! that points out of it cannot be opened, whatever the string looks like.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use cap_std::ambient_authority;
use cap_std::fs::Dir;
use serde::{Deserialize, Serialize};

/// The manifest's file name.
pub const MANIFEST: &str = "pack.toml";

/// Largest file a pack may hand the host (a component, a starter, the manifest).
pub const MAX_FILE_BYTES: u64 = 256 << 20;

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub name: String,
    pub version: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub problems: Vec<PackProblem>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(try_from = "RawProblem", into = "RawProblem")]
pub struct PackProblem {
    pub id: String,
    pub kind: ProblemKind,
}

/// A `[[problems]]` table as written: the id beside the kind's fields. (Serde
/// cannot refuse unknown fields through a flattened enum, so the table is read
/// whole and split.)
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
enum RawProblem {
    Component {
        id: String,
        path: String,
        #[serde(default)]
        starter: Option<String>,
    },
    Plugin {
        id: String,
        run: String,
        #[serde(default)]
        args: Vec<String>,
        #[serde(default = "one")]
        workers: usize,
        #[serde(default)]
        needs: Needs,
    },
}

impl TryFrom<RawProblem> for PackProblem {
    type Error = std::convert::Infallible;
    fn try_from(raw: RawProblem) -> Result<PackProblem, Self::Error> {
        Ok(match raw {
            RawProblem::Component { id, path, starter } => PackProblem { id, kind: ProblemKind::Component { path, starter } },
            RawProblem::Plugin { id, run, args, workers, needs } => {
                PackProblem { id, kind: ProblemKind::Plugin { run, args, workers, needs } }
            }
        })
    }
}

impl From<PackProblem> for RawProblem {
    fn from(p: PackProblem) -> RawProblem {
        match p.kind {
            ProblemKind::Component { path, starter } => RawProblem::Component { id: p.id, path, starter },
            ProblemKind::Plugin { run, args, workers, needs } => RawProblem::Plugin { id: p.id, run, args, workers, needs },
        }
    }
}

#[derive(Clone, Debug)]
pub enum ProblemKind {
    /// A Wasm component (construction or contest world).
    Component {
        path: String,
        starter: Option<String>,
    },
    /// A native plugin process.
    Plugin {
        /// The file the host runs: `.py` files with `python3`, others directly.
        run: String,
        args: Vec<String>,
        /// Processes at most.
        workers: usize,
        needs: Needs,
    },
}

fn one() -> usize {
    1
}

/// What a plugin needs from the machine.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Needs {
    #[serde(default)]
    pub gpu: Gpu,
    /// Python packages (pip requirement strings).
    #[serde(default)]
    pub python: Vec<String>,
    /// How to install them, in words or a command, for error messages.
    #[serde(default)]
    pub install: Option<String>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Gpu {
    #[default]
    None,
    /// Uses an NVIDIA GPU when there is one; a documented CPU mode otherwise.
    Optional,
    /// Refuses to run without an NVIDIA GPU.
    Required,
}

/// An opened pack: its folder (as a capability) and its manifest.
pub struct Pack {
    root: PathBuf,
    dir: Dir,
    pub manifest: Manifest,
}

impl std::fmt::Debug for Pack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pack").field("root", &self.root).field("manifest", &self.manifest).finish()
    }
}

impl Pack {
    /// Open the pack in `root` and check its manifest (names, ids, and that
    /// every file it names is inside the pack).
    pub fn open(root: &Path) -> Result<Pack> {
        let root = root.canonicalize().with_context(|| format!("no pack at {}", root.display()))?;
        let dir = Dir::open_ambient_dir(&root, ambient_authority())
            .with_context(|| format!("cannot open the pack folder {}", root.display()))?;
        // The manifest is read through the same checked opener as every other file.
        let mut pack = Pack { root, dir, manifest: Manifest::default() };
        let text = pack.read_text(MANIFEST).with_context(|| format!("{} has no readable {MANIFEST}", pack.root.display()))?;
        pack.manifest = toml::from_str(&text).map_err(|e| anyhow!("{}: {}", pack.root.join(MANIFEST).display(), e.message().trim()))?;
        pack.validate()?;
        Ok(pack)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn name(&self) -> &str {
        &self.manifest.name
    }

    pub fn problem(&self, id: &str) -> Option<&PackProblem> {
        self.manifest.problems.iter().find(|p| p.id == id)
    }

    fn validate(&self) -> Result<()> {
        let m = &self.manifest;
        let at = || self.root.join(MANIFEST).display().to_string();
        if !is_id(&m.name) {
            bail!("{}: the pack name {:?} must be lowercase letters, digits and dashes", at(), m.name);
        }
        if m.version.trim().is_empty() {
            bail!("{}: the pack has no version", at());
        }
        if m.problems.is_empty() {
            bail!("{}: the pack names no problems ([[problems]] tables)", at());
        }
        let mut seen = std::collections::HashSet::new();
        for p in &m.problems {
            if !is_id(&p.id) {
                bail!("{}: problem id {:?} must be lowercase letters, digits and dashes", at(), p.id);
            }
            if !seen.insert(p.id.as_str()) {
                bail!("{}: problem {} is named twice", at(), p.id);
            }
            let files: Vec<&str> = match &p.kind {
                ProblemKind::Component { path, starter } => std::iter::once(path.as_str()).chain(starter.as_deref()).collect(),
                ProblemKind::Plugin { run, workers, .. } => {
                    if *workers == 0 || *workers > 64 {
                        bail!("{}: problem {}: workers must be 1..=64, not {workers}", at(), p.id);
                    }
                    vec![run.as_str()]
                }
            };
            for file in files {
                self.open_file(file).with_context(|| format!("{}: problem {}", at(), p.id))?;
            }
        }
        Ok(())
    }

    /// Open `rel` inside the pack, refusing anything that would leave it.
    fn open_file(&self, rel: &str) -> Result<cap_std::fs::File> {
        let path = Path::new(rel);
        if path.is_absolute() {
            bail!("{rel:?} is an absolute path; a pack names its files relative to its folder");
        }
        if path.components().any(|c| matches!(c, Component::ParentDir)) {
            bail!("{rel:?} leaves the pack folder (`..`); a pack may only name files inside it");
        }
        let file = self.dir.open(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                anyhow!("{rel:?} does not exist in the pack")
            } else {
                // cap-std refuses symlinks out of the folder with PermissionDenied.
                anyhow!("{rel:?} cannot be opened inside the pack ({e}); a symlink out of the pack is refused")
            }
        })?;
        let meta = file.metadata().with_context(|| format!("reading {rel:?}"))?;
        if !meta.is_file() {
            bail!("{rel:?} is not a file");
        }
        if meta.len() > MAX_FILE_BYTES {
            bail!("{rel:?} is {} MiB; a pack file may be at most {} MiB", meta.len() >> 20, MAX_FILE_BYTES >> 20);
        }
        Ok(file)
    }

    /// The bytes of `rel`, read through the pack's capability.
    pub fn read(&self, rel: &str) -> Result<Vec<u8>> {
        let mut bytes = Vec::new();
        self.open_file(rel)?
            .take(MAX_FILE_BYTES)
            .read_to_end(&mut bytes)
            .with_context(|| format!("reading {rel:?} in pack {}", self.name()))?;
        Ok(bytes)
    }

    pub fn read_text(&self, rel: &str) -> Result<String> {
        String::from_utf8(self.read(rel)?).map_err(|_| anyhow!("{rel:?} is not UTF-8 text"))
    }

    /// The host path of `rel` after checking that it is a file inside the
    /// pack (for starting a plugin, which needs a path).
    pub fn path_of(&self, rel: &str) -> Result<PathBuf> {
        self.open_file(rel)?;
        Ok(self.root.join(rel))
    }
}

/// Ids and names: `[a-z0-9][a-z0-9-]*`, at most 64 characters.
pub fn is_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
}
