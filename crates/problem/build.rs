//! Builds the built-in problem crates (and the test-only hostile guest) into Wasm
//! components and embeds them in this crate, so that the `discover` binary alone
//! can run them.
//!
//! Set `DISCOVER_PREBUILT_COMPONENTS=DIR` to embed components built elsewhere
//! (`cargo xtask build-guests --out DIR`) instead of building them here.

use std::path::{Path, PathBuf};

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let workspace = manifest_dir.parent().and_then(Path::parent).unwrap().to_path_buf();
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("components");

    println!("cargo:rerun-if-env-changed=DISCOVER_PREBUILT_COMPONENTS");
    let prebuilt = std::env::var_os("DISCOVER_PREBUILT_COMPONENTS").map(PathBuf::from);
    let all: Vec<&str> = xtask::BUILTIN_PROBLEMS.iter().chain(xtask::TEST_GUESTS).copied().collect();
    let dir = match prebuilt {
        Some(dir) => dir,
        None => {
            for watched in ["wit", "guest-sdk", "problems", "tests/guests", "xtask/src"] {
                println!("cargo:rerun-if-changed={}", workspace.join(watched).display());
            }
            let mut build = xtask::GuestBuild::for_workspace(&workspace);
            build.verbose = false;
            for package in &all {
                if let Err(e) = build.build(package, &out_dir) {
                    // One readable error rather than a build-script backtrace.
                    eprintln!("error: {e:#}");
                    std::process::exit(1);
                }
            }
            out_dir.clone()
        }
    };
    write_index(&dir, &out_dir);
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
    src.push_str(&format!(
        "pub const TEST_COMPONENTS_DIR: &str = {:?};\n",
        components.display().to_string()
    ));
    std::fs::create_dir_all(out_dir).unwrap();
    std::fs::write(out_dir.join("builtin.rs"), src).unwrap();
}
