//! Embeds the built-in problem components (and the test-only hostile guest) in
//! this crate, so that the `discover` binary alone can run them. Where they
//! come from, in order:
//!
//! 1. `DISCOVER_PREBUILT_COMPONENTS=DIR`: components built elsewhere
//!    (`cargo xtask build-guests --out DIR`).
//! 2. A wasm32 toolchain on this machine (the rustup target, or Debian's
//!    rustc-web): built from `problems/` and `tests/guests/` here.
//! 3. Otherwise (or with `DISCOVER_USE_PREBUILT=1`): the prebuilt components in
//!    `crates/problem/prebuilt/`, if they were built from the sources as they
//!    are now (`SOURCES.sha256`; `cargo xtask prebuilt` refreshes them). A
//!    fresh machine with only rustup's default toolchain builds this way.

use std::path::{Path, PathBuf};

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let workspace = manifest_dir.parent().and_then(Path::parent).unwrap().to_path_buf();
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("components");

    println!("cargo:rerun-if-env-changed=DISCOVER_PREBUILT_COMPONENTS");
    println!("cargo:rerun-if-env-changed=DISCOVER_USE_PREBUILT");
    for watched in xtask::GUEST_SOURCES.iter().chain([&xtask::PREBUILT_DIR]) {
        println!("cargo:rerun-if-changed={}", workspace.join(watched).display());
    }
    let all: Vec<&str> =
        xtask::BUILTIN_PROBLEMS.iter().chain(xtask::TEST_GUESTS).chain([&xtask::TEMPLATE_GUEST]).copied().collect();
    let dir = if let Some(dir) = std::env::var_os("DISCOVER_PREBUILT_COMPONENTS") {
        PathBuf::from(dir)
    } else {
        let mut build = xtask::GuestBuild::for_workspace(&workspace);
        build.verbose = false;
        let forced = std::env::var_os("DISCOVER_USE_PREBUILT").is_some_and(|v| v == "1");
        match xtask::Toolchain::detect(&build.cargo) {
            Ok(_) if !forced => {
                for package in &all {
                    if let Err(e) = build.build(package, &out_dir) {
                        fail(&format!("{e:#}"));
                    }
                }
                out_dir.clone()
            }
            toolchain => match xtask::prebuilt_status(&workspace) {
                Ok(dir) => dir,
                Err(stale) => {
                    let why = match toolchain {
                        Err(none) => format!("{none:#}"),
                        Ok(_) => "DISCOVER_USE_PREBUILT=1 asks for the prebuilt components".into(),
                    };
                    fail(&format!("{why}\nand the prebuilt components cannot stand in: {stale:#}"));
                }
            },
        }
    };
    write_index(&dir, &out_dir);
}

/// One readable error rather than a build-script backtrace.
fn fail(message: &str) -> ! {
    eprintln!("error: {message}");
    std::process::exit(1);
}

/// `builtin.rs`: one `(id, bytes)` entry per built-in problem, plus the directory of
/// the test components.
fn write_index(components: &Path, out_dir: &Path) {
    let mut src = String::from("pub const BUILTIN: &[(&str, &[u8])] = &[\n");
    for id in xtask::BUILTIN_PROBLEMS {
        let file = components.join(format!("{}.wasm", id.replace('-', "_")));
        assert!(file.exists(), "missing component {}", file.display());
        src.push_str(&format!("    ({id:?}, include_bytes!({:?})),\n", file.display().to_string()));
    }
    src.push_str("];\n");
    // Contest problems ship the program a run starts from.
    src.push_str("pub const STARTERS: &[(&str, &str)] = &[\n");
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().and_then(Path::parent).unwrap();
    for id in xtask::BUILTIN_PROBLEMS {
        let starter = workspace.join("problems").join(id).join("starter.cpp");
        if starter.exists() {
            src.push_str(&format!("    ({id:?}, include_str!({:?})),\n", starter.display().to_string()));
        }
    }
    src.push_str("];\n");
    src.push_str(&format!(
        "pub const TEST_COMPONENTS_DIR: &str = {:?};\n",
        components.display().to_string()
    ));
    // The pack skeleton's component and its source (`discover pack new`).
    let template = components.join(format!("{}.wasm", xtask::TEMPLATE_GUEST.replace('-', "_")));
    assert!(template.exists(), "missing component {}", template.display());
    let source = workspace.join("problems").join(xtask::TEMPLATE_GUEST).join("src/lib.rs");
    src.push_str(&format!("pub const TEMPLATE: &[u8] = include_bytes!({:?});\n", template.display().to_string()));
    src.push_str(&format!("pub const TEMPLATE_SOURCE: &str = include_str!({:?});\n", source.display().to_string()));
    std::fs::create_dir_all(out_dir).unwrap();
    std::fs::write(out_dir.join("builtin.rs"), src).unwrap();
}
