//! Building problem crates into WebAssembly components.
//!
//! Used by `cargo xtask` and by the host's build script (which embeds the built-in
//! problems in the `discover` binary). Two toolchains are supported, chosen
//! automatically:
//!
//! - **rustup**: the `wasm32-unknown-unknown` target is installed for the active
//!   toolchain (`rustup target add wasm32-unknown-unknown`). The normal path.
//! - **debian**: no rustup target can be added (offline machines), but Debian's
//!   `rustc-web`, `rust-web-src` and `lld-19` are installed. Then std is rebuilt from
//!   source with `-Zbuild-std` using `/usr/bin/rustc` and `wasm-ld`.
//!
//! Either way the core module is turned into a component with `wit-component`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};

/// The record constructions in `tests/data/fixtures/` (sources in its
/// SOURCES.md and docs/problems.md), each with the problem that judges it:
/// valid as they are, checked by the tests, and the starts of `cargo xtask
/// bench records --init`.
pub const RECORD_FIXTURES: [(&str, &str); 12] = [
    ("erdos-min-overlap", "erdos_haugland_51.json"),
    ("erdos-min-overlap", "erdos_alphaevolve_95.json"),
    ("erdos-min-overlap", "erdos_hyra_1024.json"),
    ("autocorrelation-1", "ac1_prev_human_208.json"),
    ("autocorrelation-1", "ac1_alphaevolve_1319.json"),
    ("autocorrelation-1", "ac1_hyra_90000.json"),
    ("autocorrelation-2", "ac2_alphaevolve_50000.json"),
    ("autocorrelation-2", "ac2_hyra_524288.json"),
    ("autocorrelation-3", "ac3_alphaevolve_400.json"),
    ("autocorrelation-3", "ac3_organon_100000.json"),
    ("circle-packing-26", "cp26_alphaevolve_repaired.json"),
    ("circle-packing-32", "cp32_alphaevolve_repaired.json"),
];

/// Published constructions that exact verification refuses as published,
/// each with its problem: `discover refine` repairs them (the circle
/// packings' repairs are among [`RECORD_FIXTURES`]).
pub const UNREPAIRED_FIXTURES: [(&str, &str); 3] = [
    ("circle-packing-26", "cp26_alphaevolve_raw.json"),
    ("circle-packing-32", "cp32_alphaevolve_raw.json"),
    ("erdos-min-overlap", "erdos_lnzwz_raw_512.json"),
];

/// The built-in problems, embedded in the `discover` binary.
pub const BUILTIN_PROBLEMS: &[&str] = &[
    "circle-packing-26",
    "circle-packing-32",
    "erdos-min-overlap",
    "autocorrelation-1",
    "autocorrelation-2",
    "autocorrelation-3",
    "ahc039",
    "ahc058",
];

/// Components used only by tests (deliberately hostile problems).
pub const TEST_GUESTS: &[&str] = &["hostile-problem"];

/// The component `discover pack new --kind component` writes (with its
/// source): embedded in the binary, not a built-in problem.
pub const TEMPLATE_GUEST: &str = "pack-template";

/// Where the prebuilt components live, relative to the workspace: the
/// built-ins and test guests compiled by `cargo xtask prebuilt`, so that a
/// machine without a wasm32 toolchain still builds `discover`.
pub const PREBUILT_DIR: &str = "crates/problem/prebuilt";

/// The file in [`PREBUILT_DIR`] that records the digest of the sources the
/// prebuilt components were compiled from.
pub const PREBUILT_DIGEST: &str = "SOURCES.sha256";

/// Everything guest builds read, relative to the workspace: the WIT contract,
/// the contract's types, the SDK, the problems, the test guests and the build
/// settings (this file).
pub const GUEST_SOURCES: &[&str] =
    &["wit", "crates/contract", "guest-sdk", "problems", "tests/guests", "xtask/src/lib.rs"];

/// SHA-256 over the guest sources: every file's path (relative, `/`-separated)
/// and bytes, in path order. Equal digests mean the same sources.
pub fn guest_sources_digest(workspace: &Path) -> Result<String> {
    let mut files = Vec::new();
    for source in GUEST_SOURCES {
        collect_files(&workspace.join(source), &mut files)?;
    }
    let mut named: Vec<(String, PathBuf)> = files
        .into_iter()
        .map(|f| {
            let rel = f.strip_prefix(workspace).unwrap_or(&f).components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
            (rel, f)
        })
        .collect();
    named.sort();
    let mut hasher = Sha256::new();
    for (rel, path) in named {
        let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        hasher.update((rel.len() as u64).to_le_bytes());
        hasher.update(rel.as_bytes());
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(&bytes);
    }
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

fn collect_files(path: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let meta = std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?;
    if meta.is_file() {
        out.push(path.to_path_buf());
        return Ok(());
    }
    for entry in std::fs::read_dir(path).with_context(|| format!("listing {}", path.display()))? {
        let entry = entry?;
        // Build output that may sit inside a guest crate is not a source.
        if entry.file_name() == "target" {
            continue;
        }
        collect_files(&entry.path(), out)?;
    }
    Ok(())
}

/// Whether the prebuilt components were compiled from the sources as they are
/// now; `Err` says what is missing or stale.
pub fn prebuilt_status(workspace: &Path) -> Result<PathBuf> {
    let dir = workspace.join(PREBUILT_DIR);
    let recorded = std::fs::read_to_string(dir.join(PREBUILT_DIGEST))
        .with_context(|| format!("no prebuilt components ({} is missing)", dir.join(PREBUILT_DIGEST).display()))?;
    let current = guest_sources_digest(workspace)?;
    if recorded.trim() != current {
        bail!(
            "the prebuilt components in {PREBUILT_DIR} are stale: the guest sources ({}) changed since \
             they were built; run `cargo xtask prebuilt` where a wasm32 toolchain is installed",
            GUEST_SOURCES.join(", ")
        );
    }
    for package in BUILTIN_PROBLEMS.iter().chain(TEST_GUESTS) {
        let file = dir.join(format!("{}.wasm", package.replace('-', "_")));
        if !file.is_file() {
            bail!("the prebuilt component {} is missing; run `cargo xtask prebuilt`", file.display());
        }
    }
    Ok(dir)
}

/// Build every built-in problem and test guest into [`PREBUILT_DIR`] and record
/// the digest of their sources.
pub fn write_prebuilt(workspace: &Path) -> Result<PathBuf> {
    let dir = workspace.join(PREBUILT_DIR);
    let build = GuestBuild::for_workspace(workspace);
    for package in BUILTIN_PROBLEMS.iter().chain(TEST_GUESTS).chain([&TEMPLATE_GUEST]) {
        build.build(package, &dir)?;
    }
    let digest = guest_sources_digest(workspace)?;
    std::fs::write(dir.join(PREBUILT_DIGEST), format!("{digest}\n"))?;
    Ok(dir)
}

const TARGET: &str = "wasm32-unknown-unknown";
const DEBIAN_RUSTC: &str = "/usr/bin/rustc";
const DEBIAN_STD_SRC: &str = "/usr/lib/rustlib/src/rust/library";
const DEBIAN_LINKER: &str = "/usr/lib/llvm-19/bin/wasm-ld";

/// How guests get compiled on this machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Toolchain {
    /// The active rustup toolchain has the wasm32 target installed.
    Rustup,
    /// Debian's rustc-web with std rebuilt from source.
    Debian,
}

impl Toolchain {
    /// Pick the toolchain, or explain how to get one.
    pub fn detect(cargo: &Path) -> Result<Toolchain> {
        if rustup_target_installed(cargo) {
            return Ok(Toolchain::Rustup);
        }
        let debian = [DEBIAN_RUSTC, DEBIAN_STD_SRC, DEBIAN_LINKER];
        if debian.iter().all(|p| Path::new(p).exists()) {
            return Ok(Toolchain::Debian);
        }
        bail!(
            "no toolchain can build wasm32 problem components.\n\
             Fix it with one of:\n  \
             rustup target add {TARGET}\n  \
             apt-get install rustc-web rust-web-src lld-19   (machines without rustup targets)"
        )
    }
}

/// Whether `rustc --print sysroot` (as cargo would run it) has the wasm32 std.
fn rustup_target_installed(cargo: &Path) -> bool {
    // Ask the rustc next to this cargo first, then the one on PATH.
    let rustc = cargo.with_file_name("rustc");
    let rustc = if rustc.exists() { rustc } else { PathBuf::from("rustc") };
    let Ok(out) = Command::new(rustc).args(["--print", "sysroot"]).output() else {
        return false;
    };
    let sysroot = String::from_utf8_lossy(&out.stdout).trim().to_string();
    Path::new(&sysroot).join("lib/rustlib").join(TARGET).join("lib").exists()
}

/// One guest build: which crates, where cargo builds them, where components go.
pub struct GuestBuild {
    /// The workspace root (holds `Cargo.toml`).
    pub workspace: PathBuf,
    /// Cargo's target directory for guests: kept apart from the host's so that the
    /// two builds never fight over a lock or over feature unification.
    pub target_dir: PathBuf,
    /// `cargo` to run.
    pub cargo: PathBuf,
    /// Print cargo's progress (false in build scripts: cargo shows it as noise).
    pub verbose: bool,
}

impl GuestBuild {
    pub fn for_workspace(workspace: &Path) -> GuestBuild {
        let cargo = std::env::var_os("CARGO").map(PathBuf::from).unwrap_or_else(|| "cargo".into());
        GuestBuild {
            workspace: workspace.to_path_buf(),
            target_dir: workspace.join("target").join("guests"),
            cargo,
            verbose: true,
        }
    }

    /// Build the package at `package` (a name in the workspace, or a path to a crate
    /// elsewhere) and write `<out_dir>/<crate_name>.wasm`, a component.
    pub fn build(&self, package: &str, out_dir: &Path) -> Result<PathBuf> {
        let toolchain = Toolchain::detect(&self.cargo)?;
        let mut cmd = self.cargo_command(&toolchain);
        let crate_name;
        // External crates share the workspace's guest target dir: std and the
        // SDK's dependencies are built once.
        let target_dir = &self.target_dir;
        if Path::new(package).join("Cargo.toml").exists() {
            // A crate outside this workspace: build it in its own workspace.
            let manifest = Path::new(package).join("Cargo.toml");
            crate_name = package_name(&manifest)?;
            cmd.arg("--manifest-path").arg(&manifest);
        } else {
            crate_name = package.to_string();
            cmd.current_dir(&self.workspace).args(["--package", package]);
        }
        cmd.arg("--target-dir").arg(target_dir);
        let status = cmd.status().with_context(|| format!("running {:?}", self.cargo))?;
        if !status.success() {
            bail!("building the guest crate `{crate_name}` for {TARGET} failed ({status})");
        }
        let file = crate_name.replace('-', "_");
        let core = target_dir.join(TARGET).join("guest").join(format!("{file}.wasm"));
        let module = std::fs::read(&core)
            .with_context(|| format!("reading the core module {}", core.display()))?;
        let component = componentize(&module)
            .with_context(|| format!("turning {} into a component", core.display()))?;
        std::fs::create_dir_all(out_dir)?;
        let out = out_dir.join(format!("{file}.wasm"));
        std::fs::write(&out, component).with_context(|| format!("writing {}", out.display()))?;
        Ok(out)
    }

    /// `cargo rustc ... --crate-type cdylib` for the guest target, with the
    /// environment of the detected toolchain and none of the caller's cargo state.
    fn cargo_command(&self, toolchain: &Toolchain) -> Command {
        let mut cmd = Command::new(&self.cargo);
        for (key, _) in std::env::vars_os() {
            if inherited_build_state(&key) {
                cmd.env_remove(&key);
            }
        }
        cmd.args(["rustc", "--lib", "--crate-type", "cdylib", "--profile", "guest"])
            .args(["--target", TARGET]);
        // The `guest` profile is defined here, not in a Cargo.toml, so that crates
        // outside this workspace build the same way.
        for setting in [
            "profile.guest.inherits=\"release\"",
            "profile.guest.opt-level=3",
            "profile.guest.debug=false",
            "profile.guest.strip=true",
            "profile.guest.lto=true",
            "profile.guest.codegen-units=1",
            "profile.guest.panic=\"abort\"",
        ] {
            cmd.args(["--config", setting]);
        }
        if !self.verbose {
            cmd.arg("--quiet");
        }
        // simd128: the convolution loops of the autocorrelation problems vectorise.
        let mut rustflags = String::from("-C target-feature=+simd128");
        if *toolchain == Toolchain::Debian {
            cmd.arg("-Zbuild-std=std,panic_abort")
                .env("RUSTC", DEBIAN_RUSTC)
                .env("RUSTC_BOOTSTRAP", "1")
                .env("CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER", DEBIAN_LINKER);
            rustflags.push_str(" -C panic=abort");
        }
        cmd.env("CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS", rustflags);
        cmd
    }
}

/// Variables a build script inherits from the outer cargo that would confuse the
/// nested one (target, flags, wrappers, jobserver, output dirs).
fn inherited_build_state(key: &OsString) -> bool {
    let Some(key) = key.to_str() else { return false };
    let keep = ["CARGO_HOME", "CARGO_NET_OFFLINE", "CARGO_HTTP_", "CARGO_REGISTRIES_", "CARGO_NET_"];
    if key.starts_with("CARGO_") {
        return !keep.iter().any(|k| key.starts_with(k));
    }
    matches!(
        key,
        "RUSTC"
            | "RUSTC_WRAPPER"
            | "RUSTC_WORKSPACE_WRAPPER"
            | "RUSTDOC"
            | "RUSTFLAGS"
            | "RUSTC_LINKER"
            | "TARGET"
            | "HOST"
            | "OUT_DIR"
            | "PROFILE"
            | "OPT_LEVEL"
            | "DEBUG"
            | "NUM_JOBS"
            | "RUSTC_BOOTSTRAP"
    )
}

/// Wrap a core module that carries wit-bindgen's component-type section.
pub fn componentize(module: &[u8]) -> Result<Vec<u8>> {
    wit_component::ComponentEncoder::default()
        .module(module)?
        .validate(true)
        .encode()
}

/// The `[package] name` of a manifest, read without a TOML parser (xtask stays lean).
fn package_name(manifest: &Path) -> Result<String> {
    let text = std::fs::read_to_string(manifest)
        .with_context(|| format!("reading {}", manifest.display()))?;
    let mut in_package = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_package = line == "[package]";
        } else if in_package && line.starts_with("name") {
            if let Some((_, value)) = line.split_once('=') {
                return Ok(value.trim().trim_matches('"').to_string());
            }
        }
    }
    bail!("{} has no [package] name", manifest.display())
}
