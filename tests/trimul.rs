//! The gpu-kernels pack's TriMul problem, in CPU mode here (CI has no GPU):
//! the protocol, the isolation and the harness end to end. Honest kernels are
//! valid with per-shape times; every hostile kernel (tests/data/kernels) gets
//! its typed failure while the plugin and the host keep serving; a short run
//! against a scripted OpenAI-compatible server completes.
//!
//! Needs the pack's packages: `discover pack install packs/gpu-kernels`
//! (`.ci/run` does it).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn pack() -> String {
    root().join("packs/gpu-kernels").display().to_string()
}

fn kernel(name: &str) -> String {
    std::fs::read_to_string(root().join("tests/data/kernels").join(name)).unwrap()
}

/// What the hostile kernels build on: the starter's honest TriMul, kept as
/// `trimul` before a hostile file defines its own `custom_kernel`.
fn honest() -> String {
    let starter = std::fs::read_to_string(root().join("packs/gpu-kernels/trimul/starter.py")).unwrap();
    format!("{starter}\ntrimul = custom_kernel\n")
}

/// `discover` with the user's default cache, where `discover pack install` put
/// the pack's packages.
fn discover(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_discover"));
    cmd.args(args);
    cmd
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `discover exec trimul` on `source`: the JSON verdict.
fn exec(dir: &Path, name: &str, source: &str) -> Value {
    let path = dir.join(format!("{name}.py"));
    std::fs::write(&path, source).unwrap();
    let out = discover(&["exec", "trimul", path.to_str().unwrap(), "--pack", &pack(), "--json"]).output().unwrap();
    assert!(matches!(out.status.code(), Some(0 | 1)), "{name}: {}", text(&out.stderr));
    serde_json::from_str(&text(&out.stdout)).unwrap_or_else(|e| panic!("{name}: {e}: {}", text(&out.stdout)))
}

fn metric(verdict: &Value, name: &str) -> f64 {
    verdict["metrics"].as_array().unwrap().iter().find(|m| m["name"] == name).unwrap_or_else(|| panic!("no {name}: {verdict}"))["value"]
        .as_f64()
        .unwrap()
}

#[test]
fn the_pack_checks_and_shows_the_statement_with_real_masks_in_cpu_mode() {
    let out = discover(&["pack", "check", &pack()]).output().unwrap();
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
    let out = discover(&["problems", "show", "trimul", "--pack", &pack()]).output().unwrap();
    let shown = text(&out.stdout);
    assert!(shown.contains("native plugin (pack gpu-kernels)"), "{shown}");
    assert!(shown.contains("masks are real"), "{shown}");
    assert!(shown.contains("CPU mode"), "{shown}");
}

#[test]
fn honest_kernels_are_valid_with_per_shape_times() {
    let tmp = tempfile::tempdir().unwrap();
    for (name, source) in [
        ("starter", std::fs::read_to_string(root().join("packs/gpu-kernels/trimul/starter.py")).unwrap()),
        ("fused", kernel("fused.py")),
    ] {
        let verdict = exec(tmp.path(), name, &source);
        assert_eq!(verdict["valid"], true, "{name}: {verdict}");
        assert_eq!(metric(&verdict, "cpu_mode"), 1.0);
        assert!(metric(&verdict, "worst_error_ratio") <= 1.0);
        let geomean = metric(&verdict, "geomean_us");
        assert_eq!(verdict["score"].as_f64(), Some(geomean));
        // Three benchmark shapes in CPU mode, each a positive time, their
        // geometric mean the score.
        let shapes: Vec<f64> = verdict["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["name"].as_str().unwrap().starts_with('b'))
            .map(|m| m["value"].as_f64().unwrap())
            .collect();
        assert_eq!(shapes.len(), 3, "{verdict}");
        let expected = (shapes.iter().map(|t| t.ln()).sum::<f64>() / 3.0).exp();
        assert!((expected - geomean).abs() < 1e-6 * geomean, "{expected} vs {geomean}");
    }
}

#[test]
fn a_triton_kernel_is_valid_in_cpu_mode_through_the_interpreter() {
    // The GPU path's Triton kernel; in CPU mode the harness runs Triton in its
    // interpreter (TRITON_INTERPRET=1), slowly but exactly.
    let tmp = tempfile::tempdir().unwrap();
    let source = std::fs::read_to_string(root().join("packs/gpu-kernels/trimul/kernels/triton_fused.py")).unwrap();
    let verdict = exec(tmp.path(), "triton", &source);
    assert_eq!(verdict["valid"], true, "{verdict}");
    assert!(metric(&verdict, "worst_error_ratio") < 0.01, "{verdict}");
}


#[test]
fn every_hostile_kernel_gets_its_typed_failure() {
    let tmp = tempfile::tempdir().unwrap();
    let honest = honest();
    let cases: &[(&str, &str, &str)] = &[
        ("cached", "wrong-answer", "values are wrong"),
        ("placeholder", "wrong-answer", "values are wrong"),
        ("reference", "wrong-answer", "values are wrong"),
        ("mutate", "wrong-answer", "values are wrong"),
        ("timer", "invalid-result", "timing is inconsistent"),
        ("floor", "invalid-result", "b1_n48_c64"),
        ("shapes", "wrong-answer", "values are wrong"),
        ("half", "wrong-answer", "values are wrong"),
        ("nomask", "wrong-answer", "_mask_"),
        ("nonce", "", ""),
        ("malformed", "invalid-result", "a malformed answer"),
    ];
    // Two at a time: each is a plugin process and a sandboxed harness.
    let results: Vec<(String, Value)> = std::thread::scope(|s| {
        cases
            .chunks(2)
            .flat_map(|pair| {
                let handles: Vec<_> = pair
                    .iter()
                    .map(|(name, _, _)| {
                        let source = format!("{honest}\n{}", kernel(&format!("hostile_{name}.py")));
                        let dir = tmp.path();
                        s.spawn(move || (name.to_string(), exec(dir, name, &source)))
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect::<Vec<_>>()
            })
            .collect()
    });
    for ((name, verdict), (_, failure, reason)) in results.iter().zip(cases) {
        assert_eq!(verdict["valid"], false, "{name} passed: {verdict}");
        if !failure.is_empty() {
            assert_eq!(verdict["failure"], *failure, "{name}: {verdict}");
            assert!(verdict["reason"].as_str().unwrap().contains(reason), "{name}: {verdict}");
        }
    }

    // Forged answers without the nonce are ordinary output: the real times count.
    let verdict = exec(tmp.path(), "forged", &format!("{honest}\n{}", kernel("hostile_forged.py")));
    assert_eq!(verdict["valid"], true, "{verdict}");
    assert!(metric(&verdict, "geomean_us") > 100.0, "{verdict}");

    // A thread and a process left behind: the work is right, and nothing survives.
    let marker = format!("leftover-{}", std::process::id());
    let background = kernel("hostile_background.py").replace(
        "    while True:\n        time.sleep(1)",
        &format!("    os.execv('/usr/bin/python3', ['python3', '-c', 'import time; time.sleep(3600)', '{marker}'])"),
    );
    let verdict = exec(tmp.path(), "background", &format!("{honest}\n{background}"));
    assert_eq!(verdict["valid"], true, "{verdict}");
    assert_eq!(common::running(&marker), 0, "a process outlived the evaluation");
}

#[test]
fn a_short_run_against_a_scripted_server_keeps_a_valid_kernel() {
    let fused: &'static str = Box::leak(format!("Fuse the projections.\n\n```python\n{}```\n", kernel("fused.py")).into_boxed_str());
    let cached: &'static str = Box::leak(
        format!("Cache outputs.\n\n```python\n{}\n{}```\n", honest(), kernel("hostile_cached.py")).into_boxed_str(),
    );
    let (url, _stop) = common::scripted_server([fused, cached, "I would rather not write code."]);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let out = discover(&[
        "run", "trimul", "--pack", &pack(), "--policy", "openai", "--base-url", &url, "--steps", "1", "--groups", "1",
        "--group-size", "3", "--retry-backoff", "0.01", "--json", "--out", dir.to_str().unwrap(),
    ])
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (rollouts, kinds) = common::rollouts(&dir);
    let kinds: Vec<&str> = kinds.iter().map(String::as_str).collect();
    assert_eq!(rollouts.len(), 3);
    assert!(kinds.contains(&"wrong-answer") && kinds.contains(&"no-code"), "{kinds:?}");
    assert!(rollouts.iter().any(|r| r["failure"].is_null()), "the fused kernel scored");
    let best = std::fs::read_to_string(dir.join("best/program.py")).unwrap();
    assert!(best.contains("def custom_kernel"), "{best}");
    let verdict: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("best/verdict.json")).unwrap()).unwrap();
    assert_eq!(verdict["valid"], true);
    assert!(std::fs::read_to_string(dir.join("plugin.log")).unwrap().contains("trimul b"), "the plugin logged to the run");
}
