//! A disk cache of compiled components.
//!
//! Compiling a component with Cranelift costs milliseconds to minutes; loading a
//! compiled one costs microseconds to milliseconds. Entries are keyed by the
//! SHA-256 of the component bytes and by the engine's compatibility hash (wasmtime
//! version plus every setting that changes machine code), so a stale entry is never
//! picked up; an unreadable entry is recompiled and replaced.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::Engine;

use super::SandboxError;

/// Where compiled components live; `None` compiles every time.
#[derive(Clone, Debug)]
pub struct ComponentCache {
    dir: Option<PathBuf>,
}

impl ComponentCache {
    /// Cache under `dir` (created on first write).
    pub fn at(dir: impl Into<PathBuf>) -> ComponentCache {
        ComponentCache { dir: Some(dir.into()) }
    }

    /// No caching.
    pub fn disabled() -> ComponentCache {
        ComponentCache { dir: None }
    }

    /// The user's cache: `$DISCOVER_CACHE_DIR/components`, else
    /// `$XDG_CACHE_HOME/discover/components`, else `~/.cache/discover/components`.
    pub fn user_default() -> ComponentCache {
        match crate::cache_dir() {
            Some(dir) => ComponentCache::at(dir.join("components")),
            None => ComponentCache::disabled(),
        }
    }

    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// The compiled form of `bytes`, from the cache when possible.
    pub fn load(&self, engine: &Engine, bytes: &[u8]) -> Result<Component, SandboxError> {
        let Some(dir) = &self.dir else {
            return compile(engine, bytes);
        };
        let path = dir.join(format!("{}.cwasm", key(engine, bytes)));
        if path.exists() {
            // SAFETY: the file was written by `Component::serialize` of this same
            // engine configuration (the key says so) into the user's own cache
            // directory; wasmtime still validates its header before use.
            match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(component) => return Ok(component),
                Err(_) => {
                    // Corrupt or truncated entry: fall through and replace it.
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        let component = compile(engine, bytes)?;
        // A cache that cannot be written is not an error, only slower.
        if let Ok(serialized) = component.serialize() {
            let _ = discover_contract::fs::write_atomic(&path, &serialized);
        }
        Ok(component)
    }
}

fn compile(engine: &Engine, bytes: &[u8]) -> Result<Component, SandboxError> {
    if bytes.len() >= 8 && bytes[..4] == *b"\0asm" && bytes[4..8] == [1, 0, 0, 0] {
        return Err(SandboxError::Load(
            "this is a core Wasm module, not a component; wrap it with \
             `wasm-tools component new` or build it with `cargo xtask build-problem`"
                .into(),
        ));
    }
    let text = bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'(');
    if !bytes.starts_with(b"\0asm") && !text {
        return Err(SandboxError::Load(
            "not a WebAssembly component (no \\0asm header, and not WAT text)".into(),
        ));
    }
    Component::new(engine, bytes).map_err(|e| SandboxError::Load(format!("{e:#}")))
}

fn key(engine: &Engine, bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("{hex}-{:016x}", hasher.finish())
}
