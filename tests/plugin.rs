//! Native plugins: the protocol, supervision (a plugin that crashes, hangs,
//! garbles its output or speaks another protocol version), a discovery run
//! that goes on through all of it, and packs (manifests that try to leave
//! their folder; `discover pack new` output that checks and runs).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;

use discover::plugin::{install_python_helper, Pack, Plugin, PluginConfig, PluginError, Program};

fn packs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/packs")
}

fn discover(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_discover"));
    cmd.args(args).arg("--cache-dir").arg(common::cache_dir().parent().unwrap().join("plugin-cache"));
    cmd
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn flaky(dir: &Path, script: &str, workers: usize) -> Plugin {
    let helper = install_python_helper(dir).unwrap();
    Plugin::new(PluginConfig {
        problem: "flaky".into(),
        command: vec!["/usr/bin/python3".into(), packs().join("flaky").join(script).display().to_string()],
        cwd: packs().join("flaky"),
        env: vec![("PYTHONPATH".into(), helper.display().to_string())],
        log: Some(dir.join("plugin.log")),
        workers,
        start_timeout: Duration::from_secs(30),
        call_timeout: Duration::from_secs(30),
        isolate: vec![env!("CARGO_BIN_EXE_discover").into(), "isolate".into()],
        unsafe_native: false,
        scratch: dir.join("scratch"),
    })
}

fn evaluate(plugin: &Plugin, source: &str, timeout: Duration) -> Result<discover::plugin::PluginVerdict, PluginError> {
    let params = discover::plugin::EvaluateParams { language: "python".into(), source: source.into(), seed: 0, timeout_seconds: 3.0 };
    plugin.evaluate(&params, timeout)
}

const LONG: Duration = Duration::from_secs(30);

#[test]
fn the_protocol_carries_spec_initial_and_a_sandboxed_evaluation() {
    let tmp = tempfile::tempdir().unwrap();
    let plugin = flaky(tmp.path(), "flaky.py", 1);
    let spec = plugin.spec().unwrap();
    assert_eq!(spec.spec.id, "flaky");
    assert_eq!(spec.language, "python");
    let initial: Program = plugin.initial(0).unwrap();
    assert_eq!(initial.source, "print(100)\n");
    let verdict = evaluate(&plugin, "print(7.5)\n", LONG).unwrap();
    assert!(verdict.valid && verdict.score == Some(7.5), "{verdict:?}");
    // A candidate error is a verdict, not a plugin failure.
    let verdict = evaluate(&plugin, "raise SystemExit(4)\n", LONG).unwrap();
    assert!(!verdict.valid);
    assert_eq!(verdict.failure.as_deref(), Some("runtime-error"));
    assert_eq!(plugin.restarts(), 0);
    // Its processes wrote their jobs under the scratch folder; it goes with the plugin.
    assert!(tmp.path().join("scratch").is_dir());
    drop(plugin);
    assert!(!tmp.path().join("scratch").exists(), "the scratch folder outlived its plugin");
}

#[test]
fn a_plugin_that_crashes_mid_call_fails_that_call_and_is_restarted() {
    let tmp = tempfile::tempdir().unwrap();
    let plugin = flaky(tmp.path(), "flaky.py", 1);
    match evaluate(&plugin, "# crash\n", LONG) {
        Err(e @ PluginError::Crashed { .. }) => assert!(e.to_string().contains("crashing on purpose"), "{e}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(plugin.restarts(), 1);
    assert!(evaluate(&plugin, "print(1)\n", LONG).unwrap().valid);
    // Its stderr went to the log.
    assert!(std::fs::read_to_string(tmp.path().join("plugin.log")).unwrap().contains("crashing on purpose"));
}

#[test]
fn a_plugin_that_hangs_is_killed_at_the_deadline_and_restarted() {
    let tmp = tempfile::tempdir().unwrap();
    let plugin = flaky(tmp.path(), "flaky.py", 1);
    let start = Instant::now();
    match evaluate(&plugin, "# hang\n", Duration::from_millis(1500)) {
        Err(PluginError::Hung { seconds, .. }) => assert_eq!(seconds, 1.5),
        other => panic!("{other:?}"),
    }
    assert!(start.elapsed() < Duration::from_secs(5), "{:?}", start.elapsed());
    assert!(evaluate(&plugin, "print(2)\n", LONG).unwrap().valid);
    assert_eq!(plugin.restarts(), 1);
}

#[test]
fn a_plugin_that_writes_garbage_is_a_protocol_error_and_restarted() {
    let tmp = tempfile::tempdir().unwrap();
    let plugin = flaky(tmp.path(), "flaky.py", 1);
    match evaluate(&plugin, "# garbage\n", LONG) {
        Err(e @ PluginError::Protocol { .. }) => assert!(e.to_string().contains("this is not JSON-RPC"), "{e}"),
        other => panic!("{other:?}"),
    }
    assert!(evaluate(&plugin, "print(3)\n", LONG).unwrap().valid);
    assert_eq!(plugin.restarts(), 1);
}

#[test]
fn a_plugin_error_answer_keeps_the_process() {
    let tmp = tempfile::tempdir().unwrap();
    let plugin = flaky(tmp.path(), "flaky.py", 1);
    match evaluate(&plugin, "# raise\n", LONG) {
        Err(e @ PluginError::Remote { .. }) => assert!(e.to_string().contains("the plugin refuses this one"), "{e}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(plugin.restarts(), 0);
    assert!(evaluate(&plugin, "print(4)\n", LONG).unwrap().valid);
}

#[test]
fn a_plugin_with_another_protocol_version_is_refused_with_both_numbers() {
    let tmp = tempfile::tempdir().unwrap();
    let plugin = flaky(tmp.path(), "old_protocol.py", 1);
    let e = plugin.spec().unwrap_err();
    assert_eq!(e, PluginError::Version { problem: "flaky".into(), theirs: 99, ours: 1 });
    assert!(e.to_string().contains("99") && e.to_string().contains('1'));
}

#[test]
fn no_more_than_the_configured_workers_run_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let plugin = flaky(tmp.path(), "flaky.py", 2);
    let pids: Vec<f64> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..6).map(|_| s.spawn(|| evaluate(&plugin, "# pid\n", LONG).unwrap().score.unwrap())).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut distinct = pids.clone();
    distinct.sort_by(f64::total_cmp);
    distinct.dedup();
    assert!(distinct.len() <= 2, "{pids:?}");
}

// ------------------------------------------------------------- whole runs

/// A copy of the flaky pack in `dir`, so that its plugin processes can be
/// told apart from other tests' by path.
fn flaky_copy(dir: &Path) -> PathBuf {
    let to = dir.join("flaky-pack");
    std::fs::create_dir_all(&to).unwrap();
    for f in ["pack.toml", "flaky.py", "old_protocol.py"] {
        std::fs::copy(packs().join("flaky").join(f), to.join(f)).unwrap();
    }
    to
}


#[test]
fn a_run_goes_on_through_a_crash_and_a_hang_and_keeps_the_best_program() {
    let tmp = tempfile::tempdir().unwrap();
    let pack = flaky_copy(tmp.path());
    let (url, _stop) = common::scripted_server([
        "Print a small number.\n\n```python\nprint(5)\n```\n",
        "Crash it.\n\n```python\n# crash\nprint(1)\n```\n",
        "Hang it.\n\n```python\n# hang\nprint(1)\n```\n",
    ]);
    let dir = tmp.path().join("run");
    let out: Output = discover(&[
        "run", "flaky", "--pack", pack.to_str().unwrap(), "--policy", "openai", "--base-url", &url, "--steps", "1",
        "--groups", "1", "--group-size", "3", "--retry-backoff", "0.01", "--json", "--out", dir.to_str().unwrap(),
    ])
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (rollouts, kinds) = common::rollouts(&dir);
    let kinds: Vec<&str> = kinds.iter().map(String::as_str).collect();
    assert_eq!(rollouts.len(), 3);
    assert!(kinds.contains(&"plugin-crashed") && kinds.contains(&"deadline"), "{kinds:?}");
    assert_eq!(std::fs::read_to_string(dir.join("best/program.py")).unwrap(), "print(5)");
    let verdict: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("best/verdict.json")).unwrap()).unwrap();
    assert_eq!(verdict["score"], 5.0);
    assert!(std::fs::read_to_string(dir.join("plugin.log")).unwrap().contains("crashing on purpose"));
    let config = std::fs::read_to_string(dir.join("config.toml")).unwrap();
    assert!(config.contains("flaky-pack"), "the run records its pack: {config}");
    // Nothing of the plugin outlives the run.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(common::running(pack.to_str().unwrap()), 0);

    // `resume` finds the pack from config.toml alone (no --pack): the run is
    // complete, so it only reloads the plugin and reports.
    let out = discover(&["resume", dir.to_str().unwrap(), "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let summary: Value = serde_json::from_str(&text(&out.stdout)).unwrap();
    assert_eq!(summary["best_score"], 5.0);

    // The numeric policy refuses a plugin problem in one line.
    let out = discover(&["run", "flaky", "--pack", pack.to_str().unwrap(), "--steps", "1", "--out", tmp.path().join("n").to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("plugin problem whose solutions are programs"), "{}", text(&out.stderr));
}

#[test]
fn ctrl_c_during_a_run_leaves_no_plugin_or_candidate_behind() {
    let tmp = tempfile::tempdir().unwrap();
    let pack = flaky_copy(tmp.path());
    // Every program sleeps in the sandbox: the signal lands mid-evaluation.
    let slow = "Wait.\n\n```python\nimport time\ntime.sleep(4)\nprint(1)\n```\n";
    let (url, _stop) = common::scripted_server([slow, slow, slow]);
    let dir = tmp.path().join("run");
    let mut child = discover(&[
        "run", "flaky", "--pack", pack.to_str().unwrap(), "--policy", "openai", "--base-url", &url, "--steps", "20",
        "--groups", "1", "--group-size", "2", "--json", "--out", dir.to_str().unwrap(),
    ])
    .spawn()
    .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    assert!(common::running(pack.to_str().unwrap()) > 0, "the plugin is running");
    // SAFETY: kill has no memory effects.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    assert!(!status.success());
    let end = Instant::now() + Duration::from_secs(10);
    while common::running(pack.to_str().unwrap()) > 0 || common::running("time.sleep(4)") > 0 {
        assert!(Instant::now() < end, "processes outlived the run");
        std::thread::sleep(Duration::from_millis(50));
    }
}

// ------------------------------------------------------------------ packs

fn write_pack(dir: &Path, problems: &str) -> PathBuf {
    let root = dir.join("pack");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("pack.toml"), format!("name = \"evil\"\nversion = \"1\"\n\n{problems}")).unwrap();
    root
}

#[test]
fn a_manifest_cannot_name_files_outside_its_pack() {
    let tmp = tempfile::tempdir().unwrap();
    let cases = [
        ("[[problems]]\nid = \"x\"\nkind = \"component\"\npath = \"../../etc/passwd\"\n", "leaves the pack folder"),
        ("[[problems]]\nid = \"x\"\nkind = \"component\"\npath = \"/etc/passwd\"\n", "absolute path"),
        ("[[problems]]\nid = \"x\"\nkind = \"plugin\"\nrun = \"../run.py\"\n", "leaves the pack folder"),
        ("[[problems]]\nid = \"x\"\nkind = \"component\"\npath = \"link.wasm\"\n", "symlink out of the pack"),
        ("[[problems]]\nid = \"x\"\nkind = \"component\"\npath = \"sub/link.wasm\"\n", "symlink out of the pack"),
        ("[[problems]]\nid = \"x\"\nkind = \"component\"\npath = \"a.wasm\"\nsurprise = 1\n", "unknown field"),
        ("[[problems]]\nid = \"circle-packing-26\"\nkind = \"plugin\"\nrun = \"p.py\"\n", "is a built-in"),
    ];
    for (i, (problems, expected)) in cases.iter().enumerate() {
        let case = tmp.path().join(i.to_string());
        let root = write_pack(&case, problems);
        std::fs::write(root.join("p.py"), "").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", root.join("link.wasm")).unwrap();
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::os::unix::fs::symlink("../../outside.wasm", root.join("sub/link.wasm")).unwrap();
        std::fs::write(case.join("outside.wasm"), "not yours").unwrap();
        let out = discover(&["problems", "--pack", root.to_str().unwrap()]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "case {i}: {}", text(&out.stdout));
        let err = text(&out.stderr);
        assert!(err.contains(expected), "case {i}: expected {expected:?} in: {err}");
    }
    // The library refuses the same way (what a leaderboard would use).
    let root = write_pack(&tmp.path().join("lib"), cases[0].0);
    assert!(Pack::open(&root).unwrap_err().to_string().contains("pack.toml"));
}

#[test]
fn pack_new_writes_a_plugin_pack_that_checks_lists_and_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("points");
    let out = discover(&["pack", "new", "points", "--kind", "plugin", "--dir", dir.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = discover(&["pack", "check", dir.to_str().unwrap(), "--json"]).output().unwrap();
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
    let line: Value = serde_json::from_str(text(&out.stdout).lines().next().unwrap()).unwrap();
    assert_eq!(line["ok"], true);
    assert_eq!(line["kind"], "plugin");

    let out = discover(&["problems", "--pack", dir.to_str().unwrap(), "--json"]).output().unwrap();
    let list: Value = serde_json::from_str(&text(&out.stdout)).unwrap();
    let ids: Vec<&str> = list.as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert!(ids.contains(&"points") && ids.contains(&"circle-packing-26"), "{ids:?}");

    // exec: evenly spaced points beat the random start, and a hostile program is a typed failure.
    let even = tmp.path().join("even.py");
    std::fs::write(&even, "def solve(n):\n    return [i / (n - 1) for i in range(n)]\n").unwrap();
    let out = discover(&["exec", "points", even.to_str().unwrap(), "--pack", dir.to_str().unwrap(), "--json"]).output().unwrap();
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
    let verdict: Value = serde_json::from_str(&text(&out.stdout)).unwrap();
    assert!(verdict["score"].as_f64().unwrap() < 300.0, "{verdict}");
    let spin = tmp.path().join("spin.py");
    std::fs::write(&spin, "def solve(n):\n    while True:\n        pass\n").unwrap();
    let out = discover(&["exec", "points", spin.to_str().unwrap(), "--pack", dir.to_str().unwrap(), "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let verdict: Value = serde_json::from_str(&text(&out.stdout)).unwrap();
    assert!(matches!(verdict["failure"].as_str(), Some("time-limit" | "timeout")), "{verdict}");

    // verify points the user to exec.
    let solution = tmp.path().join("s.json");
    std::fs::write(&solution, "{\"values\": [0.5]}").unwrap();
    let out = discover(&["verify", "points", solution.to_str().unwrap(), "--pack", dir.to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("discover exec points"), "{}", text(&out.stderr));
}

#[test]
fn pack_new_writes_a_component_pack_that_checks_runs_and_rebuilds_from_its_source() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("spread");
    let out = discover(&["pack", "new", "spread", "--kind", "component", "--dir", dir.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = discover(&["pack", "check", dir.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
    assert!(text(&out.stdout).contains("spread-points  construction"), "{}", text(&out.stdout));

    // A short numeric run on the pack's problem, and verify of its best state.
    let run = tmp.path().join("run");
    let out = discover(&["run", "spread-points", "--pack", dir.to_str().unwrap(), "--steps", "3", "--json", "--out", run.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let best = run.join("best/solution.json");
    let out = discover(&["verify", "spread-points", best.to_str().unwrap(), "--pack", dir.to_str().unwrap(), "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    // The shipped source is the shipped component's: rebuilt, it checks the same.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    std::fs::copy(root.join("Cargo.lock"), dir.join("problem/Cargo.lock")).unwrap();
    let mut build = xtask::GuestBuild::for_workspace(&root.canonicalize().unwrap());
    build.verbose = false;
    let rebuilt = build.build(dir.join("problem").to_str().unwrap(), tmp.path()).expect("the skeleton's source builds");
    std::fs::copy(&rebuilt, dir.join("spread_points.wasm")).unwrap();
    let out = discover(&["pack", "check", dir.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));

    // A manifest id that is not the component's own is refused, naming both.
    let manifest = std::fs::read_to_string(dir.join("pack.toml")).unwrap().replace("id = \"spread-points\"", "id = \"spread\"");
    std::fs::write(dir.join("pack.toml"), manifest).unwrap();
    let out = discover(&["problems", "show", "spread", "--pack", dir.to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("says its id is \"spread-points\""), "{}", text(&out.stderr));
}
