//! A problem author's path, end to end: a crate outside this workspace, written
//! against discover-guest, built with `cargo xtask build-problem`'s code, loaded by
//! the host from its file.

mod common;

use std::path::Path;

use common::{sandbox, solution};
use discover::problem::{Direction, Problem};

const LIB_RS: &str = r#"
use discover_guest::{export_problem, Direction, Problem, Shape, Solution, Spec, Verdict};

pub struct SumInBox;

impl Problem for SumInBox {
    fn spec() -> Spec {
        Spec::new("sum-in-box", "Sum in a box", Direction::Maximize)
            .statement("Return 4 numbers in [0, 1]; the score is their sum.")
            .shape(Shape::exact(4))
            .best_known(4.0, "trivial: all ones")
    }

    fn initial(_seed: u64) -> Solution {
        Solution::new(vec![0.5; 4])
    }

    fn evaluate(solution: &Solution) -> Result<Verdict, String> {
        for (i, &v) in solution.values.iter().enumerate() {
            if !(0.0..=1.0).contains(&v) {
                return Ok(Verdict::invalid(format!("value {i} is {v:e}, outside [0, 1]")));
            }
        }
        Ok(Verdict::valid(solution.values.iter().sum()))
    }
}

export_problem!(SumInBox);
"#;

#[test]
fn a_third_party_crate_builds_into_a_loadable_component() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().and_then(Path::parent).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let krate = dir.path().join("sum-in-box");
    std::fs::create_dir_all(krate.join("src")).unwrap();
    std::fs::write(
        krate.join("Cargo.toml"),
        format!(
            "[package]\nname = \"sum-in-box\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n\
             [dependencies]\ndiscover-guest = {{ path = {:?} }}\n\n[workspace]\n",
            root.join("guest-sdk").to_str().unwrap()
        ),
    )
    .unwrap();
    std::fs::write(krate.join("src/lib.rs"), LIB_RS).unwrap();
    // The lock file pins what this workspace resolved, so the build reuses the
    // guest artifacts already built (and needs no new downloads).
    std::fs::copy(root.join("Cargo.lock"), krate.join("Cargo.lock")).unwrap();

    let mut build = xtask::GuestBuild::for_workspace(root);
    build.verbose = false;
    let component = build.build(krate.to_str().unwrap(), dir.path()).expect("the crate builds");
    assert_eq!(component, dir.path().join("sum_in_box.wasm"));

    let sandbox = sandbox();
    let problem = Problem::from_file(&sandbox, &component).unwrap();
    assert_eq!(problem.spec().id, "sum-in-box");
    assert_eq!(problem.spec().direction, Direction::Maximize);
    let v = problem.evaluate(&solution(vec![1.0, 0.5, 0.25, 0.0])).unwrap();
    assert_eq!(v.score, Some(1.75));
    let v = problem.evaluate(&solution(vec![1.0, 0.5, 2.0, 0.0])).unwrap();
    assert_eq!(v.reason.as_deref(), Some("value 2 is 2e0, outside [0, 1]"));
    let v = problem.evaluate(&solution(vec![1.0])).unwrap();
    assert_eq!(v.reason.as_deref(), Some("expected exactly 4 values, got 1"));
    // What the author did not implement is reported as absent, not as an error.
    assert_eq!(problem.repair(&solution(vec![0.0; 4])).unwrap(), None);
    assert_eq!(problem.render_svg(&solution(vec![0.0; 4])).unwrap(), None);
}
