//! Helpers shared by the end-to-end tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use discover::problem::{builtin, Problem, Solution};
use discover::sandbox::{ComponentCache, Sandbox};

/// A sandbox whose compile cache lives in cargo's per-target temp dir, shared by
/// all tests (entries are content-addressed, so sharing is safe).
pub fn sandbox() -> Sandbox {
    Sandbox::new(ComponentCache::at(cache_dir())).expect("sandbox")
}

pub fn cache_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("component-cache")
}

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/fixtures").join(name)
}

pub fn hostile_component() -> PathBuf {
    Path::new(builtin::TEST_COMPONENTS_DIR).join("hostile_problem.wasm")
}

pub fn hostile(sandbox: &Sandbox) -> Problem {
    Problem::from_file(sandbox, &hostile_component()).expect("hostile component loads")
}

pub fn solution(values: Vec<f64>) -> Solution {
    Solution::new(values)
}
