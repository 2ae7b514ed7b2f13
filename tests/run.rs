//! `discover run`, `resume` and `report` end to end: the run directory, a run
//! killed with SIGKILL and resumed, and the errors of bad flags.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn discover_cmd(args: &[&str]) -> Command {
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-cache");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_discover"));
    cmd.args(args).env("DISCOVER_CACHE_DIR", cache).stdin(Stdio::null());
    cmd
}

fn discover(args: &[&str]) -> Output {
    discover_cmd(args).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

fn json_line(o: &Output) -> Value {
    assert!(o.status.success(), "stderr: {}", text(&o.stderr));
    serde_json::from_str(text(&o.stdout).trim()).unwrap()
}

fn events(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("events.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn checkpoint(dir: &Path) -> Option<Value> {
    std::fs::read(dir.join("buffer.json")).ok().and_then(|b| serde_json::from_slice(&b).ok())
}

/// A small run: 2 groups of 4 rollouts, cheap refines.
fn small_run(out: &Path, steps: u32, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = ["run", "circle-packing-26", "--groups", "2", "--group-size", "4", "--effort", "300"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.extend(["--steps".into(), steps.to_string(), "--seed".into(), "7".into(), "--workers".into(), "2".into()]);
    args.extend(["--out".into(), out.display().to_string()]);
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn a_run_leaves_a_complete_verifiable_run_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let summary = json_line(&discover(&strs(&small_run(&out, 3, &["--json"]))));
    assert_eq!(summary["steps"], 3);
    assert_eq!(summary["rollouts"], 24);
    let best = summary["best_score"].as_f64().unwrap();

    let ev = events(&out);
    let count = |t: &str| ev.iter().filter(|e| e["type"] == t).count();
    assert_eq!((count("initial"), count("rollout"), count("step")), (2, 24, 3));
    let initial_best = ev.iter().filter(|e| e["type"] == "initial").map(|e| e["score"].as_f64().unwrap()).fold(0.0, f64::max);
    assert!(best > initial_best + 0.3, "refined children beat the grid starts: {initial_best} -> {best}");
    let step = ev.iter().find(|e| e["type"] == "step").unwrap();
    for key in ["mean_reward", "beta_mean", "advantages", "buffer", "rollouts_per_second", "policy"] {
        assert!(!step[key].is_null(), "step event lacks {key}: {step}");
    }

    // best/ holds what `discover verify` accepts, with the same score.
    let verdict = json_line(&discover(&["verify", "circle-packing-26", out.join("best/solution.json").to_str().unwrap(), "--json"]));
    assert_eq!(verdict["valid"], true);
    assert_eq!(verdict["score"].as_f64().unwrap(), best);
    assert!(std::fs::read_to_string(out.join("best/picture.svg")).unwrap().starts_with("<svg"));
    assert!(out.join("config.toml").is_file() && out.join("best/verdict.json").is_file());

    // Plots, rebuilt by `report` from the files alone.
    std::fs::remove_file(out.join("plots/best.svg")).unwrap();
    let report = json_line(&discover(&["report", out.to_str().unwrap(), "--json"]));
    assert_eq!(report["steps"], 3);
    assert_eq!(report["best_score"].as_f64().unwrap(), best);
    assert_eq!(report["curves"]["best_score"].as_array().unwrap().len(), 3);
    let plot = std::fs::read_to_string(out.join("plots/best.svg")).unwrap();
    assert_eq!(plot.matches("<polyline").count(), 2, "best score and best known");

    // A finished run resumed does nothing more.
    let again = json_line(&discover(&["resume", out.to_str().unwrap(), "--json"]));
    assert_eq!((again["steps"].clone(), again["rollouts_this_session"].clone()), (3.into(), 0.into()));
}

/// Rollout events without their timings, which differ from run to run.
fn rollouts_without_timing(dir: &Path) -> Vec<Value> {
    events(dir)
        .into_iter()
        .filter(|e| e["type"] == "rollout" || e["type"] == "initial")
        .map(|mut e| {
            e.as_object_mut().unwrap().remove("seconds");
            e
        })
        .collect()
}

#[test]
fn a_run_killed_mid_step_resumes_to_the_same_buffer_and_best() {
    let tmp = tempfile::tempdir().unwrap();
    let (whole, killed) = (tmp.path().join("whole"), tmp.path().join("killed"));
    let steps = 12;

    let reference = json_line(&discover(&strs(&small_run(&whole, steps, &["--json"]))));

    // The same run, killed with SIGKILL after its third checkpoint, a little
    // into the next step.
    let mut child = discover_cmd(&strs(&small_run(&killed, steps, &["--json"]))).stdout(Stdio::null()).spawn().unwrap();
    let started = Instant::now();
    let step_seconds = loop {
        if let Some(c) = checkpoint(&killed).filter(|c| c["step"].as_u64().unwrap() >= 3) {
            break c["elapsed_seconds"].as_f64().unwrap() / c["step"].as_f64().unwrap();
        }
        assert!(started.elapsed() < Duration::from_secs(120), "the run never reached step 3");
        assert!(child.try_wait().unwrap().is_none(), "the run ended before it could be killed");
        std::thread::sleep(Duration::from_millis(2));
    };
    std::thread::sleep(Duration::from_secs_f64(step_seconds / 2.0));
    child.kill().unwrap(); // SIGKILL: no chance to clean up
    child.wait().unwrap();
    let at_kill = checkpoint(&killed).unwrap()["step"].as_u64().unwrap();
    assert!(at_kill < steps as u64, "killed before the end");

    let resumed = json_line(&discover(&["resume", killed.to_str().unwrap(), "--json"]));
    assert_eq!(resumed["steps"], steps);
    assert_eq!(resumed["best_score"], reference["best_score"]);
    let (a, b) = (checkpoint(&whole).unwrap(), checkpoint(&killed).unwrap());
    assert_eq!(a["buffer"], b["buffer"], "the resumed buffer equals the uninterrupted one");
    assert_eq!(a["policy"], b["policy"]);
    assert_eq!(rollouts_without_timing(&whole), rollouts_without_timing(&killed), "no event lost or doubled");
    assert_eq!(std::fs::read(whole.join("best/solution.json")).unwrap(), std::fs::read(killed.join("best/solution.json")).unwrap());
}

#[test]
fn ablation_switches_and_the_restarts_baseline_run() {
    let tmp = tempfile::tempdir().unwrap();
    for (i, extra) in [
        &["--objective", "mean", "--reuse", "none"][..],
        &["--objective", "entropic-fixed", "--beta", "3", "--reuse", "greedy"],
        &["--policy", "restarts"],
        &["--sigma-spread", "0"],
    ]
    .iter()
    .enumerate()
    {
        let out = tmp.path().join(format!("r{i}"));
        let mut args = small_run(&out, 2, extra);
        args.push("--json".into());
        let summary = json_line(&discover(&strs(&args)));
        assert_eq!(summary["rollouts"], 16, "{extra:?}");
        let config = std::fs::read_to_string(out.join("config.toml")).unwrap();
        assert!(config.contains(&format!("seed = 7")), "{config}");
    }
    let config = std::fs::read_to_string(tmp.path().join("r1/config.toml")).unwrap();
    assert!(config.contains("entropic-fixed") && config.contains("beta = 3.0") && config.contains("greedy"), "{config}");
    // The spread is kept for resume: the numeric policy's default (1) is
    // written; a run without one (turned off, or another policy) writes no
    // line, which is also how a config from before the spread reads back.
    let config = std::fs::read_to_string(tmp.path().join("r0/config.toml")).unwrap();
    assert!(config.contains("sigma_spread = 1.0"), "{config}");
    for off in ["r2", "r3"] {
        let config = std::fs::read_to_string(tmp.path().join(off).join("config.toml")).unwrap();
        assert!(!config.contains("sigma_spread"), "{off}: {config}");
    }
}

#[test]
fn bad_flags_and_bad_directories_give_one_line_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("x");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (small_run(&out, 2, &["--group-size", "1"]), "--group-size must be at least 2"),
        (small_run(&out, 2, &["--beta", "2"]), "--beta is only used with --objective entropic-fixed"),
        (small_run(&out, 2, &["--objective", "entropic-fixed", "--beta", "-1"]), "--beta must be a positive number"),
        (small_run(&out, 2, &["--policy", "restarts", "--reuse", "puct"]), "--policy restarts ignores start states"),
        (small_run(&out, 2, &["--sigma", "0"]), "--sigma must be in (0, 1]"),
        (small_run(&out, 2, &["--sigma-spread", "-1"]), "--sigma-spread must be in [0, 5], got -1"),
        (small_run(&out, 2, &["--policy", "restarts", "--reuse", "none", "--sigma-spread", "1"]), "--sigma-spread is a setting of the numeric policy"),
        (small_run(&out, 2, &["--groups", "0"]), "--groups must be at least 1"),
        (small_run(&out, 2, &["--time-limit", "-3"]), "--time-limit must be a positive number"),
        (vec!["run".into(), "no-such-problem".into()], "unknown problem `no-such-problem`"),
        (vec!["resume".into(), tmp.path().display().to_string()], "is not a run directory (no config.toml)"),
    ];
    for (args, expected) in cases {
        let o = discover(&strs(&args));
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(expected), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    }
    assert!(!out.exists(), "a refused run writes nothing");

    // An existing run is never overwritten.
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("config.toml"), "x").unwrap();
    let o = discover(&strs(&small_run(&out, 2, &[])));
    assert!(text(&o.stderr).contains("already exists and is not empty; resume it with `discover resume"));
    assert_eq!(std::fs::read_to_string(out.join("config.toml")).unwrap(), "x");
    // A damaged config or checkpoint is named.
    let o = discover(&["resume", out.to_str().unwrap()]);
    assert!(text(&o.stderr).contains("config.toml is damaged"), "{}", text(&o.stderr));
    let damaged: PathBuf = tmp.path().join("d");
    json_line(&discover(&strs(&small_run(&damaged, 1, &["--json"]))));
    std::fs::write(damaged.join("buffer.json"), "{\"version\": 1, \"step\": ").unwrap();
    let o = discover(&["resume", damaged.to_str().unwrap()]);
    assert!(text(&o.stderr).contains("buffer.json is damaged; the run cannot resume from it"), "{}", text(&o.stderr));
}

#[test]
fn a_hostile_problem_costs_rollouts_not_the_run() {
    // The hostile component misbehaves according to values[0]; with sigma 1
    // around its initial [0.0] the proposals hit several modes. Each failed
    // rollout is recorded with its kind and reward 0; the run completes.
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("hostile");
    let component = Path::new(discover::problem::builtin::TEST_COMPONENTS_DIR).join("hostile_problem.wasm");
    let summary = json_line(&discover(&[
        "run", component.to_str().unwrap(), "--steps", "2", "--groups", "1", "--group-size", "12",
        "--sigma", "1", "--sigma-spread", "0", "--seed", "4", "--out", out.to_str().unwrap(), "--json",
    ]));
    assert_eq!(summary["rollouts"], 24);
    let ev = events(&out);
    let kinds: std::collections::BTreeSet<String> = ev
        .iter()
        .filter_map(|e| e["failure"]["kind"].as_str().map(String::from))
        .collect();
    for e in ev.iter().filter(|e| e["failure"].is_object()) {
        assert_eq!(e["reward"], 0.0);
        assert!(!e["failure"]["message"].as_str().unwrap().is_empty());
    }
    // Seed 4 draws an infinite loop and a memory bomb (found by trying seeds
    // 1-12 with one sigma, hence `--sigma-spread 0`; the run is a function of
    // its seed and settings).
    assert!(kinds.contains("out-of-fuel") && kinds.contains("out-of-memory"), "{kinds:?}");
    assert!(ev.iter().any(|e| e["type"] == "rollout" && e["failure"].is_null()), "good rollouts still count");
}

#[test]
fn a_directory_named_like_a_problem_does_not_shadow_it() {
    // `--out circle-packing-26` is a natural choice; the next run of the problem
    // by id must still find the built-in, not try to load the directory.
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join("circle-packing-26")).unwrap();
    let out = tmp.path().join("circle-packing-26/run");
    let output = discover_cmd(&strs(&small_run(&out, 1, &["--json"]))).current_dir(tmp.path()).output().unwrap();
    assert_eq!(json_line(&output)["problem"], "circle-packing-26");
    let config = std::fs::read_to_string(out.join("config.toml")).unwrap();
    assert!(config.contains("problem = \"circle-packing-26\""), "{config}");
}

/// Copy the run directory of `tests/data/runs/NAME` (made by an earlier version
/// of discover) into `to`.
fn old_run(name: &str, to: &Path) -> PathBuf {
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/runs").join(name);
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(&from).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, to.join(path.file_name().unwrap())).unwrap();
    }
    to.to_path_buf()
}

#[test]
fn runs_made_before_typed_events_still_read_report_and_resume() {
    // tests/data/runs/v0-numeric: `discover run circle-packing-26 --steps 2
    // --groups 2 --group-size 4`, written by the version before events were typed.
    let tmp = tempfile::tempdir().unwrap();
    let dir = old_run("v0-numeric", &tmp.path().join("old"));
    let events = discover::engine::RunDir::open(&dir).unwrap().events().unwrap();
    use discover::engine::Event;
    let count = |f: fn(&Event) -> bool| events.iter().filter(|e| f(e)).count();
    assert_eq!(count(|e| matches!(e, Event::Initial(_))), 2);
    assert_eq!(count(|e| matches!(e, Event::Rollout(_))), 16);
    assert_eq!(count(|e| matches!(e, Event::Step(_))), 2);

    let report = json_line(&discover(&["report", dir.to_str().unwrap(), "--json"]));
    assert_eq!(report["steps"], 2);
    assert_eq!(report["curves"]["step"], serde_json::json!([1.0, 2.0]));
    assert!(dir.join("plots/best.svg").is_file());

    // Resumed for two more steps (the config's plan raised by hand, as a user
    // would): the new events append to the old ones and read back together.
    let config = std::fs::read_to_string(dir.join("config.toml")).unwrap().replace("steps = 2", "steps = 4");
    std::fs::write(dir.join("config.toml"), config).unwrap();
    let resumed = json_line(&discover(&["resume", dir.to_str().unwrap(), "--json"]));
    assert_eq!(resumed["steps"], 4);
    let events = discover::engine::RunDir::open(&dir).unwrap().events().unwrap();
    assert_eq!(events.iter().filter(|e| matches!(e, Event::Step(_))).map(Event::step).collect::<Vec<_>>(), [1, 2, 3, 4]);
}

#[test]
fn a_damaged_events_file_is_an_error_that_names_the_line() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = old_run("v0-numeric", &tmp.path().join("damaged"));
    let text = std::fs::read_to_string(dir.join("events.jsonl")).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines[3] = r#"{"type":"rollout","step":"one"}"#;
    // A last line cut short by a kill is not damage: it is skipped.
    let cut = format!("{}\n{{\"type\":\"rollo", lines.join("\n"));
    std::fs::write(dir.join("events.jsonl"), &cut).unwrap();
    let out = discover(&["report", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = text_of(&out.stderr);
    assert!(err.contains("events.jsonl line 4") && err.contains("older format or damaged"), "{err}");

    lines[3] = r#"{"type":"initial","step":0,"seed":1,"score":1.0,"reward":1.0}"#;
    std::fs::write(dir.join("events.jsonl"), format!("{}\n{{\"type\":\"rollo", lines.join("\n"))).unwrap();
    let events = discover::engine::RunDir::open(&dir).unwrap().events().unwrap();
    assert_eq!(events.len(), lines.len());
}

fn text_of(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn rust_log_shows_spans_and_log_format_json_writes_one_object_per_line() {
    let tmp = tempfile::tempdir().unwrap();
    let args = small_run(&tmp.path().join("text"), 2, &[]);
    let out = discover_cmd(&strs(&args)).env("RUST_LOG", "debug").output().unwrap();
    assert!(out.status.success(), "{}", text_of(&out.stderr));
    let err = text_of(&out.stderr);
    for span in ["step{step=1", "step{step=2", "rollout{group=0 index=0}", "sandbox_call{problem=circle-packing-26 export=\"refine\""] {
        assert!(err.contains(span), "no {span} in:\n{}", &err[..err.len().min(2000)]);
    }

    let mut args = small_run(&tmp.path().join("json"), 2, &[]);
    args.extend(["--log-format".to_string(), "json".to_string()]);
    let out = discover_cmd(&strs(&args)).env("RUST_LOG", "debug").output().unwrap();
    assert!(out.status.success(), "{}", text_of(&out.stderr));
    let lines: Vec<Value> = text_of(&out.stderr)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(lines.iter().any(|l| l["span"]["name"] == "step"), "no step span");
    assert!(lines.iter().any(|l| l["span"]["name"] == "sandbox_call"), "no sandbox call span");

    // Without RUST_LOG: quiet.
    let args = small_run(&tmp.path().join("quiet"), 1, &[]);
    let out = discover(&strs(&args));
    assert!(out.status.success());
    assert_eq!(text_of(&out.stderr), "");
}

#[test]
fn init_seeds_the_buffer_with_a_record_and_bad_init_files_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let record = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/discovered/circle_packing_26.json");
    let record_s = record.to_str().unwrap();
    let dir = tmp.path().join("run");
    let out = discover(&["run", "circle-packing-26", "--steps", "1", "--init", record_s, "--json", "--out", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let summary: Value = serde_json::from_str(text(&out.stdout).trim()).unwrap();
    assert!(summary["best_score"].as_f64().unwrap() >= 2.6359821683753495, "{summary}");
    let initial: Vec<Value> = events(&dir).into_iter().filter(|e| e["type"] == "initial").collect();
    assert_eq!(initial.len(), 9, "8 initial states and the record");
    assert_eq!(initial[8]["source"].as_str().unwrap(), std::fs::canonicalize(&record).unwrap().to_str().unwrap());
    assert!(std::fs::read_to_string(dir.join("config.toml")).unwrap().contains("init = "));

    let bad = tmp.path().join("bad.json");
    std::fs::write(&bad, r#"{"values": [0.5, 0.5, 0.1]}"#).unwrap();
    let out = discover(&["run", "circle-packing-26", "--steps", "1", "--init", bad.to_str().unwrap(), "--out", tmp.path().join("bad").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("is not a valid solution of circle-packing-26: expected exactly 78 values"), "{}", text(&out.stderr));
    let out = discover(&["run", "circle-packing-26", "--init", "/nonexistent.json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--init /nonexistent.json"), "{}", text(&out.stderr));
}

#[test]
fn a_stall_limit_stops_a_run_that_stopped_improving_and_survives_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    // 1 ms without a new best: the first step that finds none ends the run.
    let out = discover(&["run", "circle-packing-26", "--steps", "500", "--stall-limit", "0.001", "--json", "--out", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let summary: Value = serde_json::from_str(text(&out.stdout).trim()).unwrap();
    let steps = summary["steps"].as_u64().unwrap();
    assert!(steps < 500, "{summary}");
    let last = events(&dir).into_iter().filter(|e| e["type"] == "step").last().unwrap();
    assert_eq!(last["new_best"], false, "{last}");
    assert!(last["seconds_since_best"].as_f64().unwrap() >= 0.001, "{last}");
    // Resumed, it is still stalled: nothing more runs.
    let out = discover(&["resume", dir.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let resumed: Value = serde_json::from_str(text(&out.stdout).trim()).unwrap();
    assert_eq!(resumed["steps"].as_u64().unwrap(), steps);
    let out = discover(&["run", "circle-packing-26", "--stall-limit", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--stall-limit must be a positive number of seconds"), "{}", text(&out.stderr));
}

#[test]
fn deepening_doubles_refine_effort_per_stalled_steps_and_is_a_numeric_setting() {
    let tmp = tempfile::tempdir().unwrap();
    let record = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/discovered/circle_packing_26.json");
    let dir = tmp.path().join("run");
    // Nothing a short run finds beats the record (found at step 0), so with
    // one step per doubling the effort doubles every step up to 8 times.
    let args = small_run(&dir, 5, &["--init", record.to_str().unwrap(), "--deepen", "1", "--json"]);
    let out = discover(&strs(&args));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let steps: Vec<Value> = events(&dir).into_iter().filter(|e| e["type"] == "step").collect();
    let deepest: Vec<u64> = steps.iter().map(|e| e["policy"]["deepest"].as_u64().unwrap_or_else(|| panic!("{e}"))).collect();
    assert!(steps.iter().all(|e| e["new_best"] == false), "a step beat the record: {deepest:?}");
    assert_eq!(deepest, vec![1, 2, 4, 8, 8]);
    assert!(std::fs::read_to_string(dir.join("config.toml")).unwrap().contains("deepen = 1"));
    // Off by default: no field in the policy's report.
    let plain = tmp.path().join("plain");
    let out = discover(&strs(&small_run(&plain, 1, &[])));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let step = events(&plain).into_iter().find(|e| e["type"] == "step").unwrap();
    assert!(step["policy"].get("deepest").is_none(), "{step}");
    let out = discover(&["run", "circle-packing-26", "--policy", "restarts", "--deepen", "4"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--deepen is a setting of the numeric policy"), "{}", text(&out.stderr));
}
