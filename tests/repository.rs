//! The repository stands alone: nothing cites a path outside it, and every
//! repository path a document or a comment names in backticks exists.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

/// Source and documentation files: what people read.
fn readable_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if path.is_dir() {
            if !name.starts_with('.') && name != "target" && name != "runs" {
                readable_files(&path, out);
            }
        } else if [".rs", ".md", ".toml", ".py", ".wit"].iter().any(|e| name.ends_with(e)) || name == "run" {
            out.push(path);
        }
    }
}

fn files() -> Vec<(String, String)> {
    let root = root();
    let mut paths = Vec::new();
    readable_files(&root, &mut paths);
    paths.push(root.join(".ci/run"));
    paths
        .into_iter()
        .filter_map(|p| {
            let text = std::fs::read_to_string(&p).ok()?;
            Some((p.strip_prefix(&root).unwrap().display().to_string(), text))
        })
        .collect()
}

#[test]
fn nothing_cites_a_path_outside_the_repository() {
    // Spelled in two pieces so that this file does not cite it either.
    let outside = ["../", "shared"].concat();
    let hits: Vec<String> = files()
        .iter()
        .flat_map(|(name, text)| {
            text.lines().enumerate().filter(|(_, l)| l.contains(&outside)).map(move |(i, _)| format!("{name}:{}", i + 1))
        })
        .collect();
    assert!(hits.is_empty(), "paths outside the repository cited at: {hits:?}");
}

#[test]
fn every_repository_path_named_in_backticks_exists() {
    let root = root();
    let tops = ["docs/", "crates/", "tests/", "problems/", "guest-sdk/", "xtask/", "wit/", ".ci/"];
    let mut missing = Vec::new();
    let mut checked = 0;
    for (name, text) in files() {
        for (i, piece) in text.split('`').enumerate() {
            // Odd pieces are inside backticks.
            if i % 2 == 0 || piece.contains(char::is_whitespace) || !tops.iter().any(|t| piece.starts_with(t)) {
                continue;
            }
            // Placeholders (`crates/foo/*.rs`, `step-NNNNNN`) name patterns, not files.
            if piece.contains(['*', '<', '{']) || piece.contains("NNN") {
                continue;
            }
            let path = piece.split(':').next().unwrap().trim_end_matches(['.', ',', ')']);
            checked += 1;
            if !root.join(path).exists() {
                missing.push(format!("{name}: `{piece}`"));
            }
        }
    }
    assert!(checked > 20, "the scan found only {checked} paths: it is not looking");
    assert!(missing.is_empty(), "named but absent:\n{}", missing.join("\n"));
}
