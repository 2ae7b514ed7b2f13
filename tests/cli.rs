//! The `discover` binary as a user meets it: output, exit codes, one-line errors.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::{fixture, hostile_component};

fn discover(args: &[&str]) -> Output {
    discover_with_stdin(args, "")
}

fn discover_with_stdin(args: &[&str], stdin: &str) -> Output {
    use std::io::Write;
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-cache");
    let mut child = Command::new(env!("CARGO_BIN_EXE_discover"))
        .args(args)
        .env("DISCOVER_CACHE_DIR", cache)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn problems_lists_every_builtin() {
    let out = discover(&["problems"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.starts_with("ID "));
    for (id, dir, best) in [
        ("circle-packing-26", "maximize", "2.6359830849176067"),
        ("circle-packing-32", "maximize", "2.939572771206323"),
        ("erdos-min-overlap", "minimize", "0.3808590567142117"),
        ("autocorrelation-1", "minimize", "1.5028503020710078"),
        ("autocorrelation-2", "maximize", "0.9629011010961757"),
        ("autocorrelation-3", "minimize", "1.452304333183158"),
        ("ahc039", "maximize", "3780.41"),
        ("ahc058", "maximize", "5656094.85"),
    ] {
        let line = text.lines().find(|l| l.starts_with(id)).unwrap_or_else(|| panic!("{id} missing"));
        assert!(line.contains(dir) && line.contains(best), "{line}");
    }
    let json: serde_json::Value = serde_json::from_slice(&discover(&["problems", "--json"]).stdout).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 8);
    assert_eq!(json[0]["id"], "circle-packing-26");
}

#[test]
fn problems_show_prints_the_statement_and_contract() {
    let out = discover(&["problems", "show", "circle-packing-26"]);
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(text.contains("exactly 78 values, a multiple of 3"), "{text}");
    assert!(text.contains("Validity is checked exactly"));
    assert!(text.contains("def solve(parent, x):"), "the Python contract: {text}");
    let json: serde_json::Value =
        serde_json::from_slice(&discover(&["problems", "show", "erdos-min-overlap", "--json"]).stdout).unwrap();
    assert_eq!(json["direction"], "minimize");
    assert_eq!(json["shape"]["max_len"], 2097152);
    assert!(json["python_contract"].as_str().unwrap().contains("BUDGET_SECONDS"));

    let out = discover(&["problems", "show", "no-such-problem"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.starts_with("error: unknown problem `no-such-problem`; built-in problems: circle-packing-26"), "{err}");
    assert_eq!(err.lines().count(), 1);
}

#[test]
fn verify_a_valid_solution_exits_0() {
    let path = fixture("erdos_haugland_51.json");
    let out = discover(&["verify", "erdos-min-overlap", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.starts_with("erdos-min-overlap: valid\n"), "{text}");
    assert!(text.contains("score           0.38092685343308696  (best known 0.3808590567142117, minimize)"), "{text}");

    let out = discover(&["verify", "erdos-min-overlap", path.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    assert!(text.starts_with(r#"{"problem":"erdos-min-overlap","valid":true,"score":0.38092685343308696,"reason":null,"metrics":{"#), "{text}");
}

#[test]
fn verify_an_invalid_solution_exits_1_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    // Two circles overlapping (0 and 1 at the same centre), extra keys ignored.
    let mut values: Vec<String> = (0..26).map(|i| format!("{}, 0.5, 0.01", (i as f64 + 0.5) / 26.0)).collect();
    values[1] = values[0].clone();
    let file = write(dir.path(), "s.json", &format!("{{\"values\": [{}], \"note\": \"mine\"}}", values.join(", ")));
    let out = discover(&["verify", "circle-packing-26", &file]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "circle-packing-26: invalid: circles 0 and 1 overlap by 2.00e-2\n");
    let out = discover(&["verify", "circle-packing-26", &file, "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["valid"], false);
    assert_eq!(json["score"], serde_json::Value::Null);
    assert_eq!(json["reason"], "circles 0 and 1 overlap by 2.00e-2");

    // NaN as Python writes it is judged, not a parse error.
    let nan = write(dir.path(), "nan.json", r#"{"values": [NaN, 0.5, 0.5]}"#);
    let out = discover(&["verify", "erdos-min-overlap", &nan]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "erdos-min-overlap: invalid: h[0] = NaN is not a finite number\n");
}

#[test]
fn unreadable_input_exits_2_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let not_json = write(dir.path(), "bad.json", "this is not json");
    let wrong = write(dir.path(), "wrong.json", r#"{"values": [1, "two"]}"#);
    let good = fixture("erdos_haugland_51.json").to_str().unwrap().to_string();
    let cases = [
        (vec!["verify", "circle-packing-26", not_json.as_str()], "is not a solution file: not valid JSON"),
        (vec!["verify", "circle-packing-26", wrong.as_str()], "values[1] is \"two\", not a number"),
        (vec!["verify", "circle-packing-26", "/nonexistent/s.json"], "cannot read /nonexistent/s.json"),
        (vec!["verify", "/nonexistent/p.wasm", not_json.as_str()], "not a solution file"),
        (vec!["verify", "no-such-problem", good.as_str()], "unknown problem"),
        (vec!["verify", not_json.as_str(), good.as_str()], "cannot load the component: not a WebAssembly component"),
    ];
    for (args, expected) in cases {
        let out = discover(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = stderr(&out);
        assert!(err.contains(expected), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(stdout(&out).is_empty());
    }
    // Usage errors are exit 2 too (clap's convention).
    assert_eq!(discover(&["verify"]).status.code(), Some(2));
    assert_eq!(discover(&["frobnicate"]).status.code(), Some(2));
}

#[test]
fn out_of_range_options_are_refused_in_one_line_before_anything_is_made() {
    // The SLURM executor's and the leaderboard's options: each bad value stops
    // the command with exit 2 and one line naming the option; no run directory
    // is created and no server starts.
    let dir = tempfile::tempdir().unwrap();
    let (run, db) = (dir.path().join("run"), dir.path().join("board.db"));
    let (run, db) = (run.to_str().unwrap(), db.to_str().unwrap());
    let batch = dir.path().join("batches/step-000001");
    std::fs::create_dir_all(&batch).unwrap();
    let cases: [(Vec<&str>, &str); 10] = [
        (vec!["run", "circle-packing-26", "--out", run, "--slurm-partition", "gpu"], "the --slurm-* options need --executor slurm"),
        (vec!["run", "circle-packing-26", "--out", run, "--executor", "slurm", "--slurm-batches", "0"], "--slurm-batches and --slurm-cpus must be at least 1"),
        (vec!["run", "circle-packing-26", "--out", run, "--executor", "slurm", "--slurm-cpus", "0"], "--slurm-batches and --slurm-cpus must be at least 1"),
        (vec!["evaluate-batch", batch.to_str().unwrap(), "--part", "2", "--parts", "2"], "--part must be below --parts (2 of 2)"),
        (vec!["board", "serve", "--db", db, "--lease-seconds", "0.5"], "--lease-seconds must be at least 1"),
        (vec!["board", "worker", "--db", db, "--lease-seconds", "0"], "--lease-seconds must be at least 1"),
        (vec!["board", "serve", "--db", db, "--program-seconds", "0"], "--program-seconds must be a positive number of seconds"),
        (vec!["board", "serve", "--db", db, "--program-seconds", "-3"], "--program-seconds must be a positive number of seconds"),
        (vec!["board", "serve", "--db", db, "--max-body-kib", "0"], "--max-body-kib, --rate, --user-queue and --queue must be at least 1"),
        (vec!["board", "rescore", "no-such-problem", "--db", db], "no problem \"no-such-problem\" on this board"),
    ];
    for (args, expected) in cases {
        let out = discover(&args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(expected), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    }
    assert!(!Path::new(run).exists(), "a refused run made its directory");
}

#[test]
fn verify_says_beaten_only_for_a_state_exactly_better_than_the_best_known() {
    // The state that set the shipped Erdos value: equal is not beaten.
    let record = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/discovered/erdos_lnzwz_refined.json");
    let out = discover(&["verify", "erdos-min-overlap", record.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("0.3808590567142117  (best known 0.3808590567142117, minimize)"), "{text}");
    assert!(!text.contains("beaten"), "{text}");
    // EinsteinArena's record as submitted is refused, exactly.
    let raw = fixture("erdos_lnzwz_raw_512.json");
    let out = discover(&["verify", "erdos-min-overlap", raw.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(stdout(&out).contains("after rescaling to sum n/2 = 256 (factor 1 + 2.48"), "{}", stdout(&out));
}

#[test]
fn verify_reads_stdin_and_writes_pictures() {
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("p.svg");
    let out = discover_with_stdin(
        &["verify", "autocorrelation-1", "-", "--svg", svg.to_str().unwrap()],
        r#"{"values": [1, 1, 1, 1]}"#,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.lines().any(|l| l.split_whitespace().take(2).eq(["score", "2"])), "{text}");
    // The exact score's certified interval: a double, so both ends are it.
    assert!(text.lines().any(|l| l.split_whitespace().eq(["score_lower", "2"])), "{text}");
    let picture = std::fs::read_to_string(&svg).unwrap();
    assert!(picture.starts_with("<svg") && picture.contains("(AC1) step function: 4 steps"));
}

#[test]
fn third_party_components_load_from_a_path() {
    let dir = tempfile::tempdir().unwrap();
    let component = hostile_component();
    let component = component.to_str().unwrap();
    let good = write(dir.path(), "good.json", r#"{"values": [0, 1, 2, 3]}"#);
    let out = discover(&["verify", component, &good, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).starts_with(r#"{"problem":"hostile","valid":true,"score":4.0"#), "{}", stdout(&out));

    // A panicking problem is an error (exit 2) that says what happened.
    let panics = write(dir.path(), "panic.json", r#"{"values": [3]}"#);
    let out = discover(&["verify", component, &panics]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("hostile failed: guest panic: panicked at"), "{err}");
    assert!(err.contains("the hostile problem panics on purpose"), "{err}");
}

#[test]
fn refine_improves_a_state_in_rounds_and_keeps_the_best_on_disk() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("refined.json");
    // A rough 24-step Erdos state (0.5632): refine has plenty to do.
    let heights: Vec<String> = (0..24).map(|i| format!("{}", 0.5 + 0.2 * (((i * 7) % 5) as f64 - 2.0))).collect();
    let start = write(tmp.path(), "rough.json", &format!("{{\"values\": [{}]}}", heights.join(", ")));
    let o = discover(&["refine", "erdos-min-overlap", &start, "--effort", "300", "--rounds", "3", "--out", out.to_str().unwrap(), "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let summary: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    let (before, after) = (summary["start"].as_f64().unwrap(), summary["score"].as_f64().unwrap());
    assert!(after < before - 0.1, "refine did not improve the rough state: {before} -> {after}");
    assert!(summary["rounds"] == 3 && summary["improved"].as_u64().unwrap() >= 1, "{summary}");
    // What was written is what was reported, by the verifier's own reading.
    let v = discover(&["verify", "erdos-min-overlap", out.to_str().unwrap(), "--json"]);
    let verdict: serde_json::Value = serde_json::from_str(stdout(&v).trim()).unwrap();
    assert_eq!(verdict["valid"], true);
    assert_eq!(verdict["score"].as_f64().unwrap(), after);
    // Without --json: a line per round on stderr, the outcome on stdout.
    let o = discover(&["refine", "erdos-min-overlap", &start, "--effort", "50", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).starts_with("round 1/1: "), "{}", stderr(&o));
    assert!(stdout(&o).contains(" in 1 rounds of effort 50 ") && stdout(&o).contains("written to"), "{}", stdout(&o));

    // A published record that refine cannot improve: one round (the next would
    // repeat it), and the start itself is what gets written.
    let record = fixture("erdos_haugland_51.json");
    let kept = tmp.path().join("kept.json");
    let o = discover(&["refine", "erdos-min-overlap", record.to_str().unwrap(), "--rounds", "5", "--effort", "300", "--out", kept.to_str().unwrap(), "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let summary: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert!(summary["rounds"] == 1 && summary["improved"] == 0 && summary["score"] == summary["start"], "{summary}");
    let v = discover(&["verify", "erdos-min-overlap", kept.to_str().unwrap(), "--json"]);
    let verdict: serde_json::Value = serde_json::from_str(stdout(&v).trim()).unwrap();
    assert_eq!(verdict["score"], summary["start"]);

    // Refusals, in one line, and nothing written.
    let never = tmp.path().join("never.json");
    let sol = write(tmp.path(), "one.json", "{\"values\": [9.0, 1.0]}");
    for (args, expected) in [
        (vec!["refine", "erdos-min-overlap", &start, "--effort", "0", "--out", never.to_str().unwrap()], "--effort and --rounds must be at least 1"),
        (vec!["refine", hostile_component().to_str().unwrap(), &sol, "--out", never.to_str().unwrap()], "offers no refine"),
        (vec!["refine", "ahc039", &sol, "--out", never.to_str().unwrap()], "ahc039 is a contest problem"),
        (vec!["refine", "erdos-min-overlap", "/no/such/file.json", "--out", never.to_str().unwrap()], "cannot read /no/such/file.json"),
    ] {
        let o = discover(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(expected) && stderr(&o).lines().count() == 1, "{args:?}: {}", stderr(&o));
        assert!(!never.exists(), "{args:?} wrote {}", never.display());
    }
}
