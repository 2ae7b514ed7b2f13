//! Native candidates in bubblewrap: hostile programs each get a typed outcome,
//! see nothing of the host, and leave nothing running behind them.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use discover::candidate::native::{self, Isolation, NativeJob, NativeLimits, NativeOutcome, NativeReport};
use discover::contract::failure::ProgramFailure;

/// A writer the test can read afterwards.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// Run `source` as `/job/<name>` under Python with `limits`, in bubblewrap.
fn python(name: &str, source: &str, args: &[&str], limits: NativeLimits) -> (NativeReport, String) {
    python_in(Isolation::Bubblewrap, name, source, args, limits)
}

fn python_in(isolation: Isolation, name: &str, source: &str, args: &[&str], limits: NativeLimits) -> (NativeReport, String) {
    let mut argv = vec!["/usr/bin/python3".to_string(), format!("/job/{name}")];
    argv.extend(args.iter().map(|a| a.to_string()));
    let job = NativeJob { argv, files: BTreeMap::from([(name.to_string(), source.to_string())]), limits, ..Default::default() };
    let out = Captured::default();
    let report = native::run(&job, isolation, Stdio::null(), Box::new(out.clone())).expect("the launcher works");
    (report, out.text())
}

fn limits(wall_seconds: f64) -> NativeLimits {
    NativeLimits { wall_seconds, cpu_seconds: 30, memory_mib: 512, processes: 64, ..NativeLimits::default() }
}

/// Processes on this machine whose command line mentions `marker`.
fn survivors(marker: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if cmdline.contains(marker) {
                found.push(format!("{}: {cmdline}", entry.file_name().to_string_lossy()));
            }
        }
    }
    found
}

/// Wait a moment for the kernel to finish tearing a namespace down.
fn assert_gone(marker: &str) {
    let end = Instant::now() + Duration::from_secs(3);
    while Instant::now() < end {
        if survivors(marker).is_empty() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("processes survived the sandbox: {:?}", survivors(marker));
}

#[test]
fn bubblewrap_is_available_here() {
    // Every other test here needs it; CI installs it (.ci/run).
    native::probe().expect("bubblewrap can create namespaces on this machine");
}

#[test]
fn a_well_behaved_program_exits_zero_with_its_output_relayed() {
    let (report, out) = python("hello.py", "import sys\nprint('hello', sys.argv[1])\n", &["world"], limits(20.0));
    assert_eq!(report.outcome, NativeOutcome::Exited { code: 0 }, "{}", report.stderr_tail);
    assert_eq!(out, "hello world\n");
    assert_eq!(report.stdout_bytes, 12);
    assert_eq!(report.isolation, Isolation::Bubblewrap);
    assert_eq!(report.failure, None);
}

#[test]
fn the_sandbox_runs_as_an_unprivileged_user_with_a_cleared_environment() {
    let source = "import os, json\nprint(json.dumps({'uid': os.getuid(), 'pid': os.getpid(), 'env': sorted(os.environ)}))\n";
    let (report, out) = python("who.py", source, &[], limits(20.0));
    assert!(report.outcome.success(), "{:?} {}", report.outcome, report.stderr_tail);
    let seen: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_ne!(seen["uid"], 0, "the candidate is root");
    // Its own pid namespace: bubblewrap's init is 1, the program is small.
    assert!(seen["pid"].as_u64().unwrap() < 10, "{seen}");
    let env: Vec<&str> = seen["env"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert!(!env.contains(&"CARGO_MANIFEST_DIR"), "the host's environment leaked: {env:?}");
}

#[test]
fn a_fork_bomb_hits_the_process_limit_and_dies_with_its_namespace() {
    let marker = format!("forkbomb_{}.py", std::process::id());
    let source = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n";
    let (report, _) = python(&marker, source, &[], NativeLimits { processes: 32, ..limits(3.0) });
    assert_eq!(report.outcome, NativeOutcome::WallTimeout { seconds: 3.0 });
    assert!(report.wall_seconds < 6.0, "{}", report.wall_seconds);
    assert_gone(&marker);
}

#[test]
fn an_infinite_loop_uses_its_cpu_seconds() {
    let (report, _) = python("spin.py", "while True:\n    pass\n", &[], NativeLimits { cpu_seconds: 2, ..limits(20.0) });
    assert_eq!(report.outcome, NativeOutcome::CpuLimit { seconds: 2 }, "{}", report.stderr_tail);
    // The launcher names the failure kind and says it in words, for plugins in any language.
    assert_eq!(report.failure, Some(ProgramFailure::TimeLimit));
    assert_eq!(report.summary, "used its 2 s of CPU time and was stopped");
    assert!(report.cpu_seconds >= 1.5, "{}", report.cpu_seconds);
}

#[test]
fn a_memory_bomb_runs_out_of_memory() {
    let source = "chunks = []\nwhile True:\n    chunks.append(bytearray(64 << 20))\n";
    let (report, _) = python("bomb.py", source, &[], NativeLimits { memory_mib: 256, ..limits(20.0) });
    assert_eq!(report.outcome, NativeOutcome::OutOfMemory { mib: 256 }, "{}", report.stderr_tail);
    assert!(report.max_rss_mib < 512.0, "{}", report.max_rss_mib);
}

#[test]
fn a_gigabyte_of_output_is_cut_at_the_cap() {
    let source = "import sys\nblock = b'x' * (1 << 20)\nfor _ in range(1024):\n    sys.stdout.buffer.write(block)\n";
    let (report, out) = python("flood.py", source, &[], NativeLimits { stdout_bytes: 4 << 20, ..limits(30.0) });
    assert_eq!(report.outcome, NativeOutcome::OutputTooLarge { bytes: 4 << 20 });
    assert_eq!(out.len(), 4 << 20, "exactly the cap is relayed");
    assert!(report.wall_seconds < 10.0, "{}", report.wall_seconds);
}

#[test]
fn host_files_are_invisible_the_shadow_file_the_run_directory_and_ssh_keys() {
    let run_dir = tempfile::tempdir().unwrap();
    let secret = run_dir.path().join("events.jsonl");
    std::fs::write(&secret, "secret").unwrap();
    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
    let ssh = Path::new(&home).join(".ssh");
    let source = r#"
import sys
for path in sys.argv[1:]:
    try:
        with open(path) as f:
            print("READ", path, f.read()[:20])
    except OSError as e:
        print("DENIED", path, type(e).__name__)
import os
for path in ["/etc", "/root", "/home"]:
    print("EXISTS" if os.path.exists(path) else "ABSENT", path)
"#;
    let (report, out) = python(
        "peek.py",
        source,
        &["/etc/shadow", secret.to_str().unwrap(), ssh.join("id_rsa").to_str().unwrap(), "/proc/1/environ"],
        limits(20.0),
    );
    assert!(report.outcome.success(), "{:?} {}", report.outcome, report.stderr_tail);
    assert!(!out.contains("READ /etc/shadow") && !out.contains("secret"), "{out}");
    assert!(out.contains("DENIED /etc/shadow") && out.contains(&format!("DENIED {}", secret.display())), "{out}");
    for dir in ["/etc", "/root", "/home"] {
        assert!(out.contains(&format!("ABSENT {dir}")), "{out}");
    }
}

#[test]
fn the_network_namespace_has_no_route_to_a_host_listener() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    let source = r#"
import socket, sys
s = socket.socket()
s.settimeout(3)
try:
    s.connect(("127.0.0.1", int(sys.argv[1])))
    print("CONNECTED")
except OSError as e:
    print("REFUSED", type(e).__name__)
"#;
    let (report, out) = python("connect.py", source, &[&port.to_string()], limits(20.0));
    assert!(report.outcome.success(), "{:?} {}", report.outcome, report.stderr_tail);
    assert!(out.starts_with("REFUSED"), "{out}");
    match listener.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("the listener saw a connection: {other:?}"),
    }
}

#[test]
fn killing_the_parent_or_everything_reaches_only_the_sandbox() {
    let source = "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\ntry:\n    os.kill(-1, signal.SIGKILL)\nexcept OSError:\n    pass\nprint('still here')\n";
    let (report, _) = python("patricide.py", source, &[], limits(20.0));
    // kill(-1) takes the program itself down; what matters is that this test
    // process (the host) is alive to read a typed report.
    assert!(
        matches!(report.outcome, NativeOutcome::Signaled { signal: 9 } | NativeOutcome::Exited { .. }),
        "{:?}",
        report.outcome
    );
}

#[test]
fn a_daemon_left_behind_is_gone_when_the_call_returns() {
    let marker = format!("daemon_{}.py", std::process::id());
    let source = r#"
import os, sys, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.closerange(0, 1024)
        while True:
            time.sleep(1)
    os._exit(0)
print("parent done")
"#;
    let start = Instant::now();
    let (report, out) = python(&marker, source, &[], limits(30.0));
    assert_eq!(report.outcome, NativeOutcome::Exited { code: 0 }, "{}", report.stderr_tail);
    assert_eq!(out, "parent done\n");
    assert!(start.elapsed() < Duration::from_secs(10), "the call waited for the daemon");
    assert_gone(&marker);
}

#[test]
fn a_forged_report_on_stdout_or_stderr_changes_nothing() {
    let forged = r#"{"outcome":"exited","code":0,"wall_seconds":0.001,"cpu_seconds":0,"max_rss_mib":1,"stdout_bytes":0,"stderr_tail":"","isolation":"bubblewrap"}"#;
    let source = format!("import sys\nprint({forged:?})\nprint({forged:?}, file=sys.stderr)\nsys.exit(3)\n");
    let (report, out) = python("forge.py", &source, &[], limits(20.0));
    // The report is the launcher's observation, not anything the program printed.
    assert_eq!(report.outcome, NativeOutcome::Exited { code: 3 });
    assert!(out.contains("\"code\":0"), "the forged line is ordinary output: {out}");
}

#[test]
fn a_wall_deadline_kills_a_sleeping_program_and_its_children() {
    let marker = format!("sleeper_{}.py", std::process::id());
    let source = "import os, time\nos.fork()\ntime.sleep(60)\n";
    let (report, _) = python(&marker, source, &[], limits(1.0));
    assert_eq!(report.outcome, NativeOutcome::WallTimeout { seconds: 1.0 });
    assert!(report.wall_seconds < 3.0, "{}", report.wall_seconds);
    assert_gone(&marker);
}

#[test]
fn unsafe_mode_applies_the_limits_without_namespaces() {
    let marker = format!("unsafe_{}.py", std::process::id());
    let (report, out) = python_in(Isolation::Unsafe, &marker, "import os, time\nprint(os.path.exists('/etc'), flush=True)\nos.fork()\ntime.sleep(60)\n", &[], limits(1.0));
    assert_eq!(report.outcome, NativeOutcome::WallTimeout { seconds: 1.0 });
    assert_eq!(report.isolation, Isolation::Unsafe);
    assert!(out.starts_with("True"), "unsafe mode sees the machine: {out}");
    assert_gone(&marker);
}

fn discover() -> Command {
    Command::new(env!("CARGO_BIN_EXE_discover"))
}

#[test]
fn discover_isolate_writes_the_report_to_a_file_and_refuses_without_bubblewrap() {
    let tmp = tempfile::tempdir().unwrap();
    let job = NativeJob {
        argv: vec!["/usr/bin/python3".into(), "/job/echo.py".into()],
        files: BTreeMap::from([("echo.py".to_string(), "import sys\nsys.stdout.write(sys.stdin.read().upper())\n".to_string())]),
        limits: limits(20.0),
        ..Default::default()
    };
    let job_path = tmp.path().join("job.json");
    std::fs::write(&job_path, serde_json::to_string(&job).unwrap()).unwrap();
    let report_path = tmp.path().join("report.json");
    let mut child = discover()
        .args(["isolate", "--job", job_path.to_str().unwrap(), "--report", report_path.to_str().unwrap()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"shout").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "SHOUT");
    let report: NativeReport = serde_json::from_str(&std::fs::read_to_string(&report_path).unwrap()).unwrap();
    assert_eq!(report.outcome, NativeOutcome::Exited { code: 0 });

    // Without bubblewrap on PATH: refused, and the message says what to do.
    let out = discover()
        .args(["isolate", "--job", job_path.to_str().unwrap()])
        .env("PATH", tmp.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bubblewrap") && err.contains("--unsafe-native"), "{err}");
}
