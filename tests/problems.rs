//! The built-in problems, through their Wasm components: every fixture reproduces,
//! every kind of bad solution is rejected with a reason that names the culprit.

mod common;

use common::{fixture, sandbox, solution};
use discover::problem::{read_solution_file, ContestProblem, Loaded, Problem};

// The record constructions, each file with the score stored in it.
use xtask::RECORD_FIXTURES as FIXTURES;

#[test]
fn fixtures_reproduce_to_1e_12_relative() {
    let sandbox = sandbox();
    for (id, file) in FIXTURES {
        let problem = Problem::load(&sandbox, id).unwrap();
        let path = fixture(file);
        let text = std::fs::read_to_string(&path).unwrap();
        let stored: f64 = serde_json::from_str::<serde_json::Value>(&text).unwrap()["score"]
            .as_f64()
            .unwrap();
        let verdict = problem.evaluate(&read_solution_file(&path).unwrap()).unwrap();
        assert!(verdict.valid, "{file}: {:?}", verdict.reason);
        let score = verdict.score.unwrap();
        let rel = ((score - stored) / stored).abs();
        assert!(rel <= 1e-12, "{file}: score {score} vs stored {stored} (relative {rel:e})");
    }
}

/// Every fixture file the repository ships is one the test above checks, so a
/// record cannot be added (or renamed) without being reproduced.
#[test]
fn every_fixture_file_is_checked() {
    let dir = fixture("");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{} must exist: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    let mut checked: Vec<String> = FIXTURES.iter().map(|(_, f)| f.to_string()).collect();
    checked.sort();
    assert_eq!(files, checked);
}

fn reason(problem: &Problem, values: Vec<f64>) -> String {
    let verdict = problem.evaluate(&solution(values)).unwrap();
    assert!(!verdict.valid, "expected an invalid verdict");
    assert_eq!(verdict.score, None);
    verdict.reason.unwrap()
}

/// 26 points of radius 0 on the line x = 0.5, then circle `i` replaced.
fn packing_with(changes: &[(usize, [f64; 3])]) -> Vec<f64> {
    let mut v: Vec<f64> = (0..26).flat_map(|i| [0.5, (i as f64 + 0.5) / 26.0, 0.0]).collect();
    for (i, c) in changes {
        v[3 * i..3 * i + 3].copy_from_slice(c);
    }
    v
}

#[test]
fn circle_packing_rejections_name_the_culprit() {
    let sandbox = sandbox();
    let p = Problem::load(&sandbox, "circle-packing-26").unwrap();
    let ok = p.evaluate(&solution(packing_with(&[(0, [0.2, 0.5, 0.2])]))).unwrap();
    assert!(ok.valid);
    assert_eq!(ok.score, Some(0.2));

    let mut nan = packing_with(&[]);
    nan[4] = f64::NAN;
    assert_eq!(reason(&p, nan), "value 4 (y of circle 1) is NaN, not a finite number");
    let mut inf = packing_with(&[]);
    inf[9] = f64::INFINITY;
    assert_eq!(reason(&p, inf), "value 9 (x of circle 3) is inf, not a finite number");

    assert_eq!(
        reason(&p, packing_with(&[(5, [0.2, 0.5, -0.01])])),
        "circle 5 has a negative radius r = -0.01"
    );
    // Outside the square by 1e-15, on the left and on the top.
    let r = reason(&p, packing_with(&[(2, [0.2, 0.5, 0.2 + 1e-15])]));
    assert!(r.starts_with("circle 2 sticks out of the square: x - r = -"), "{r}");
    let r = reason(&p, packing_with(&[(2, [0.25, 0.8, 0.2 + 1e-15])]));
    assert!(r.starts_with("circle 2 sticks out of the square: y + r exceeds 1 by"), "{r}");
    // Two circles overlapping by 1e-15.
    let r = reason(&p, packing_with(&[(3, [0.25, 0.25, 0.25]), (17, [0.25, 0.75 - 1e-15, 0.25])]));
    assert_eq!(r, "circles 3 and 17 overlap by 9.99e-16");
    // ... and touching exactly is fine (dyadic numbers: no rounding anywhere).
    let touching = packing_with(&[(3, [0.25, 0.25, 0.25]), (17, [0.25, 0.75, 0.25])]);
    assert!(p.evaluate(&solution(touching)).unwrap().valid);

    assert_eq!(reason(&p, vec![0.1; 77]), "expected exactly 78 values, got 77");
    assert_eq!(reason(&p, vec![]), "expected exactly 78 values, got 0");
}

#[test]
fn step_function_rejections() {
    let sandbox = sandbox();
    let ac1 = Problem::load(&sandbox, "autocorrelation-1").unwrap();
    let ac2 = Problem::load(&sandbox, "autocorrelation-2").unwrap();
    let erdos = Problem::load(&sandbox, "erdos-min-overlap").unwrap();
    for p in [&ac1, &ac2] {
        assert_eq!(reason(p, vec![1.0, 1000.0 + 1e-9]), "a[1] = 1000.000000001 is above 1000");
        assert_eq!(reason(p, vec![1.0, -1e-300]), "a[1] = -1e-300 is below 0");
        assert_eq!(reason(p, vec![1.0, f64::NAN]), "a[1] = NaN is not a finite number");
        assert_eq!(reason(p, vec![f64::NEG_INFINITY]), "a[0] = -inf is not a finite number");
        assert_eq!(reason(p, vec![]), "expected between 1 and 100000 values, got 0");
        assert!(reason(p, vec![0.001; 3]).contains("below the minimum 0.01"));
        assert!(p.evaluate(&solution(vec![1000.0, 0.0, 3.0])).unwrap().valid);
    }
    assert_eq!(reason(&erdos, vec![0.5, 1.5]), "h[1] = 1.5 is above 1");
    assert_eq!(reason(&erdos, vec![]), "expected between 2 and 10000 values, got 0");
    assert!(reason(&erdos, vec![1.0, 0.2, 0.2]).starts_with("after rescaling to sum n/2"));
    assert_eq!(reason(&erdos, vec![f64::NAN, 0.5]), "h[0] = NaN is not a finite number");
}

#[test]
fn initial_states_are_valid_repairs_fix_and_pictures_draw() {
    let sandbox = sandbox();
    for id in discover::problem::builtin::ids() {
        let Loaded::Construction(p) = Loaded::load(&sandbox, id).unwrap() else { continue };
        let start = p.initial(7).unwrap();
        assert_eq!(start, p.initial(7).unwrap(), "{id}: initial is deterministic");
        let verdict = p.evaluate(&start).unwrap();
        assert!(verdict.valid, "{id}: {:?}", verdict.reason);
        let broken: Vec<f64> = start.values.iter().map(|v| v * 3.0 - 1.0).collect();
        let repaired = p.repair(&solution(broken)).unwrap().expect("built-ins repair");
        assert!(p.evaluate(&repaired).unwrap().valid, "{id}: repair gives a valid solution");
        let svg = p.render_svg(&start).unwrap().expect("built-ins draw");
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"), "{id}");
        // refine, through the sandbox: valid, and never worse than its start.
        let refined = p.refine(&start, 50).unwrap().expect("built-ins refine");
        let after = p.evaluate(&refined).unwrap();
        assert!(after.valid, "{id}: refine gives a valid solution: {:?}", after.reason);
        let (before, after) = (verdict.score.unwrap(), after.score.unwrap());
        assert!(!p.spec().direction.better(before, after), "{id}: {before} -> {after}");
    }
}

#[test]
fn wasm_scores_equal_native_scores() {
    // The same crates compiled natively: the component must agree to the bit.
    use discover_guest::Problem as _;
    let sandbox = sandbox();
    let p = Problem::load(&sandbox, "circle-packing-26").unwrap();
    for seed in 0..5 {
        let s = circle_packing::CirclePacking::<26>::initial(seed);
        let native = circle_packing::CirclePacking::<26>::evaluate(&s).unwrap();
        let wasm = p.evaluate(&solution(s.values)).unwrap();
        assert_eq!(wasm.score, native.score);
    }
    let ac1 = Problem::load(&sandbox, "autocorrelation-1").unwrap();
    let s = autocorrelation_1::Autocorrelation1::initial(3);
    let native = autocorrelation_1::Autocorrelation1::evaluate(&s).unwrap().score;
    let wasm = ac1.evaluate(&solution(s.values)).unwrap().score.unwrap();
    assert_eq!(Some(wasm), native);
}

#[test]
fn the_states_discover_found_stay_valid_and_beyond_the_stored_best() {
    // Found by numeric-policy runs with the default settings (BENCHMARKS.md:
    // the command, seed and time of each): exactly valid and beyond the best
    // known value the problem stores. A regression in the exact checks, or in
    // reading solution files bit for bit, would break one of the two.
    let found = [
        ("circle-packing-26", "circle_packing_26.json", 2.6359821683753495),
        ("circle-packing-26", "circle_packing_26_8min.json", 2.635982247806978),
        ("circle-packing-26", "circle_packing_26_spread.json", 2.6359821953771387),
        ("circle-packing-32", "circle_packing_32.json", 2.939572768773096),
    ];
    let sandbox = sandbox();
    for (id, file, score) in found {
        let p = Problem::load(&sandbox, id).unwrap();
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/discovered").join(file);
        let solution = discover::problem::read_solution_file(&path).unwrap();
        let verdict = p.evaluate(&solution).unwrap();
        assert!(verdict.valid, "{file}: {:?}", verdict.reason);
        assert_eq!(verdict.score, Some(score), "{file}");
        let known = p.spec().best_known.as_ref().unwrap().value;
        assert!(p.spec().direction.better(score, known), "{file}: {score} vs {known}");
    }
}

/// `crates/problem/prebuilt/` (what a machine without a wasm32 toolchain
/// embeds) was built from the sources as they are, and its components behave
/// like the ones this build embedded: same specs, same initial states, same
/// verdicts.
#[test]
fn the_prebuilt_components_are_current_and_agree_with_the_built_ones() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = xtask::prebuilt_status(&root).unwrap_or_else(|e| panic!("{e:#}"));
    let sandbox = sandbox();
    for id in xtask::BUILTIN_PROBLEMS {
        let bytes = std::fs::read(dir.join(format!("{}.wasm", id.replace('-', "_")))).unwrap();
        if let Loaded::Contest(embedded) = Loaded::load(&sandbox, id).unwrap() {
            let prebuilt = ContestProblem::from_bytes(&sandbox, &bytes).unwrap();
            assert_eq!(prebuilt.spec(), embedded.spec(), "{id}");
            for seed in 0..3 {
                let (a, b) = (prebuilt.generate(seed).unwrap(), embedded.generate(seed).unwrap());
                assert_eq!(a, b, "{id} generate({seed})");
                assert_eq!(prebuilt.score(&a, "4\n0 0\n9 0\n9 9\n0 9\n").unwrap(), embedded.score(&b, "4\n0 0\n9 0\n9 9\n0 9\n").unwrap());
            }
            continue;
        }
        let prebuilt = Problem::from_bytes(&sandbox, &bytes).unwrap();
        let embedded = Problem::load(&sandbox, id).unwrap();
        assert_eq!(prebuilt.spec(), embedded.spec(), "{id}");
        for seed in 0..3 {
            let (a, b) = (prebuilt.initial(seed).unwrap(), embedded.initial(seed).unwrap());
            assert_eq!(a, b, "{id} initial({seed})");
            assert_eq!(prebuilt.evaluate(&a).unwrap(), embedded.evaluate(&b).unwrap(), "{id} evaluate");
        }
    }
}
