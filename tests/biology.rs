//! The biology pack's denoising problem: the metrics and the split against
//! hand-computed values (Python unit tests in the pack), the baselines on the
//! simulated data, hostile denoisers each with its typed outcome (the held-out
//! counts never reachable), and a short run against a scripted server.
//!
//! Needs the pack's packages: `discover pack install packs/biology`
//! (`.ci/run` does it).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn pack() -> String {
    root().join("packs/biology").display().to_string()
}

fn discover(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_discover"));
    // Hostile denoisers are stopped after 20 s and 1 GiB, not the spec's 120 s and 4 GiB.
    cmd.args(args).env("DISCOVER_DENOISING_SECONDS", "20").env("DISCOVER_DENOISING_MEMORY_MIB", "1024");
    cmd
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn exec(program: &Path) -> Value {
    exec_with(program, &[])
}

/// `discover exec` of `program` with the plugin's environment `env`.
fn exec_with(program: &Path, env: &[(&str, &str)]) -> Value {
    let out = exec_output(program, env);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}: {}", program.display(), text(&out.stderr));
    serde_json::from_str(&text(&out.stdout)).unwrap()
}

fn exec_output(program: &Path, env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = discover(&["exec", "denoising", program.to_str().unwrap(), "--pack", &pack(), "--json"]);
    cmd.envs(env.iter().copied());
    cmd.output().unwrap()
}

fn metric(verdict: &Value, name: &str) -> f64 {
    verdict["metrics"].as_array().unwrap().iter().find(|m| m["name"] == name).unwrap()["value"].as_f64().unwrap()
}

/// Where `discover pack install packs/biology` put numpy and scipy (as root).
fn runtime() -> PathBuf {
    let base = std::env::var_os("DISCOVER_PACK_RUNTIMES").map(PathBuf::from).unwrap_or_else(|| {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            PathBuf::from("/var/cache/discover/packs")
        } else {
            discover::cache_dir().unwrap().join("packs")
        }
    });
    base.join("biology-0.1.0/site-packages")
}

#[test]
fn the_metrics_split_and_loader_match_hand_computed_values() {
    let out = Command::new("/usr/bin/python3")
        .args(["-m", "unittest", "-v", "test_denoising"])
        .current_dir(root().join("packs/biology/denoising"))
        .env("PYTHONPATH", runtime())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("Ran 12 tests"), "{}", text(&out.stderr));
}

#[test]
fn the_baselines_score_in_a_measured_order_and_identity_fails_the_poisson_rule() {
    let dir = root().join("packs/biology/denoising");
    let identity = exec(&dir.join("identity.py"));
    assert_eq!(identity["valid"], false);
    assert!(identity["reason"].as_str().unwrap().contains("below 0.97"), "{identity}");
    assert_eq!(metric(&identity, "mse_normalised"), 0.0);
    let knn = exec(&dir.join("knn_smoothing.py"));
    let magic = exec(&dir.join("magic.py"));
    for v in [&knn, &magic] {
        assert_eq!(v["valid"], true, "{v}");
        assert!(metric(v, "poisson_normalised") >= 0.97);
    }
    // The expected order on the simulated data (BENCHMARKS.md: 0 < 0.018 < 0.143):
    // identity < kNN smoothing < MAGIC on the MSE, MAGIC clearly ahead.
    let (k, m) = (metric(&knn, "mse_normalised"), metric(&magic, "mse_normalised"));
    assert!(0.0 < k && k + 0.05 < m, "{knn} {magic}");
}

/// Write `counts_expr` (a Python expression over numpy `np` and the pack's
/// `data` module) as an .h5ad with anndata.
fn write_h5ad(path: &Path, counts_expr: &str) {
    let script = format!(
        "import sys; sys.path.insert(0, {:?})\nimport numpy as np, anndata, data\nanndata.AnnData(X={counts_expr}).write_h5ad({:?})\n",
        root().join("packs/biology/denoising").display().to_string(),
        path.display().to_string()
    );
    let out = Command::new("/usr/bin/python3").arg("-c").arg(script).env("PYTHONPATH", runtime()).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn an_h5ad_of_the_simulated_counts_scores_exactly_like_them_and_bad_files_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let h5ad = tmp.path().join("simulated.h5ad");
    write_h5ad(&h5ad, "data.simulate()");
    let magic = root().join("packs/biology/denoising/magic.py");
    let from_memory = exec(&magic);
    let out = discover(&["exec", "denoising", magic.to_str().unwrap(), "--pack", &pack(), "--json"])
        .env("DISCOVER_DENOISING_DATA", &h5ad)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let from_file: Value = serde_json::from_str(&text(&out.stdout)).unwrap();
    assert_eq!(from_file["score"], from_memory["score"]);
    assert_eq!(metric(&from_file, "poisson"), metric(&from_memory, "poisson"));

    let bad = tmp.path().join("normalised.h5ad");
    write_h5ad(&bad, "np.log1p(data.simulate(cells=5, genes=7))");
    let out = discover(&["exec", "denoising", magic.to_str().unwrap(), "--pack", &pack()])
        .env("DISCOVER_DENOISING_DATA", &bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("the counts are not integers"), "{}", text(&out.stderr));
}

#[test]
fn hostile_denoisers_get_typed_outcomes_and_never_reach_the_held_out_counts() {
    let dir = root().join("tests/data/denoisers");
    let cases = [
        ("memory_bomb.py", "out-of-memory"),
        ("infinite_loop.py", "timeout"),
        ("write_input.py", "exception"),
        ("nan.py", "invalid-result"),
        ("wrong_shape.py", "invalid-result"),
        ("negative.py", "invalid-result"),
        ("forged_answer.py", "invalid-result"),
    ];
    // Three at a time: the memory bomb must meet its limit before its deadline.
    let verdicts: Vec<Value> = cases
        .chunks(3)
        .flat_map(|chunk| {
            std::thread::scope(|s| {
                let handles: Vec<_> = chunk
                    .iter()
                    .map(|(file, _)| {
                        let path = dir.join(file);
                        s.spawn(move || exec(&path))
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect::<Vec<_>>()
            })
        })
        .collect();
    for ((file, failure), verdict) in cases.iter().zip(&verdicts) {
        assert_eq!(verdict["valid"], false, "{file}: {verdict}");
        assert_eq!(verdict["failure"], *failure, "{file}: {verdict}");
    }
    assert!(verdicts[2]["reason"].as_str().unwrap().contains("Read-only file system"), "{}", verdicts[2]);
    // The input file is intact for the next candidate.
    assert_eq!(exec(&root().join("packs/biology/denoising/magic.py"))["valid"], true);

    let leak = exec(&dir.join("read_test.py"));
    assert_eq!(leak["valid"], true, "{leak}");
    assert!(leak["output"].as_str().unwrap().contains("found: []"), "{leak}");
}

#[test]
fn a_short_run_against_a_scripted_server_keeps_the_best_valid_denoiser() {
    let magic = std::fs::read_to_string(root().join("packs/biology/denoising/magic.py")).unwrap();
    let smoother = magic.replace("k, alpha, t = 5, 40.0, 3", "k, alpha, t = 5, 40.0, 4");
    let good: &'static str = Box::leak(format!("Diffuse one step more.\n\n```python\n{smoother}```\n").into_boxed_str());
    let nan: &'static str = Box::leak(
        format!("NaN.\n\n```python\n{}```\n", std::fs::read_to_string(root().join("tests/data/denoisers/nan.py")).unwrap())
            .into_boxed_str(),
    );
    let (url, _stop) = common::scripted_server([good, nan, "No code today."]);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let out = discover(&[
        "run", "denoising", "--pack", &pack(), "--policy", "openai", "--base-url", &url, "--steps", "1", "--groups", "1",
        "--group-size", "3", "--retry-backoff", "0.01", "--json", "--out", dir.to_str().unwrap(),
    ])
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (rollouts, kinds) = common::rollouts(&dir);
    assert_eq!(rollouts.len(), 3);
    assert!(kinds.contains(&"invalid-result".to_string()) && kinds.contains(&"no-code".to_string()), "{kinds:?}");
    let verdict: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("best/verdict.json")).unwrap()).unwrap();
    assert_eq!(verdict["valid"], true);
    assert!(std::fs::read_to_string(dir.join("best/program.py")).unwrap().contains("def denoise"));
}

#[test]
fn sparse_input_reaches_candidates_as_csr_and_scores_like_dense() {
    let tmp = tempfile::tempdir().unwrap();
    let csr_only = tmp.path().join("csr_only.py");
    std::fs::write(
        &csr_only,
        "import scipy.sparse\n\ndef denoise(X):\n    assert scipy.sparse.isspmatrix_csr(X), type(X)\n    X = X.toarray()\n    \
         t = X.sum(axis=1, keepdims=True)\n    t[t == 0] = 1\n    return X / t\n",
    )
    .unwrap();
    let sparse = [("DISCOVER_DENOISING_INPUT", "sparse")];
    let v = exec_with(&csr_only, &sparse);
    assert_eq!(v["valid"], true, "{v}");
    let dense = exec(&csr_only);
    assert_eq!(dense["failure"], "exception", "{dense}");
    assert!(dense["reason"].as_str().unwrap().contains("numpy.ndarray"), "{dense}");
    // The starting program takes either and gives the same Y.
    let magic = root().join("packs/biology/denoising/magic.py");
    let (a, b) = (exec_with(&magic, &sparse), exec(&magic));
    assert_eq!(metric(&a, "mse_normalised"), metric(&b, "mse_normalised"));
    let bad = exec_output(&magic, &[("DISCOVER_DENOISING_INPUT", "csc")]);
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad.stderr));
    assert!(text(&bad.stderr).contains("DISCOVER_DENOISING_INPUT is 'csc'; use dense or sparse"), "{}", text(&bad.stderr));
}

#[test]
fn the_named_celltypist_dataset_is_fetched_once_checked_and_scored() {
    // Downloads the celltypist wheel (7 MB) from the package registry once per
    // target directory; the CSV inside is checked against its sha256.
    let datasets = Path::new(env!("CARGO_TARGET_TMPDIR")).join("denoising-datasets");
    let datasets = datasets.to_str().unwrap();
    let env = [
        ("DISCOVER_DENOISING_DATA", "celltypist"),
        ("DISCOVER_DENOISING_DATASETS", datasets),
        // MAGIC takes 4 s here on an idle machine but 41 s while a build and
        // other tests share the 2 cores (it timed out at 20 s in a CI run):
        // the spec's own 120 s, not the 20 s the hostile tests use.
        ("DISCOVER_DENOISING_SECONDS", "120"),
    ];
    // All 559 cells x 32786 genes: MAGIC 0.228 normalised MSE (BENCHMARKS.md).
    let magic = exec_with(&root().join("packs/biology/denoising/magic.py"), &env);
    assert_eq!(magic["valid"], true, "{magic}");
    assert!(metric(&magic, "mse_normalised") > 0.2, "{magic}");
    let csv = Path::new(datasets).join("celltypist-1.7.1-sample_cell_by_gene.csv");
    assert_eq!(std::fs::metadata(&csv).unwrap().len(), 53_473_636);
    assert!(Path::new(&format!("{}.split-0-None-None.npz", csv.display())).is_file());
    // A name that is neither a dataset nor a file.
    let out = exec_output(&root().join("packs/biology/denoising/identity.py"), &[("DISCOVER_DENOISING_DATA", "pbmc")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("pbmc: no such file, and not a named dataset (named: celltypist)"), "{}", text(&out.stderr));
}

#[test]
fn a_local_policy_run_on_denoising_renders_the_plugin_prompt_and_keeps_the_starter() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("model");
    let out = discover(&["model", "new-tiny", model.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let dir = tmp.path().join("run");
    let out = discover(&[
        "run", "denoising", "--pack", &pack(), "--policy", "local", "--model", model.to_str().unwrap(), "--steps", "1",
        "--groups", "1", "--group-size", "2", "--max-tokens", "16", "--json", "--out", dir.to_str().unwrap(),
    ])
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    // A random model writes no program; the prompt (statement, metric, data
    // shape, the MAGIC program and its metrics) is long; a group's prompt is
    // counted once, on its first rollout.
    let (rollouts, kinds) = common::rollouts(&dir);
    assert_eq!(rollouts.len(), 2);
    assert!(kinds.iter().all(|k| k == "no-code"), "{kinds:?}");
    assert!(rollouts[0]["tokens"]["prompt"].as_u64().unwrap() > 1000, "{rollouts:?}");
    assert!(std::fs::read_to_string(dir.join("best/program.py")).unwrap().contains("MAGIC"));
}
