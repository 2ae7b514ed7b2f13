//! Native candidates: a model-written program that cannot run in WebAssembly (a
//! GPU kernel, a PyTorch script) runs as a fresh process inside bubblewrap.
//!
//! What the process gets ([`run`]):
//! - new user, pid, ipc, uts, cgroup, mount and network namespaces (the network
//!   namespace has only a loopback with nothing listening); its own user,
//!   never root: when the host is root the launch drops to `nobody` first, so the
//!   kernel's per-user process limit applies;
//! - `/usr` read-only (the system's programs and libraries), the job's files
//!   read-only in `/job`, the paths the caller names read-only (a pack's Python
//!   packages), a private writable `/tmp` (also `HOME`), optionally a fresh
//!   writable `/out` for large results, a minimal `/dev` plus the device nodes
//!   the caller names (GPUs, then also `/sys` read-only), `/proc` of its own pid namespace; no
//!   `/etc`, no home, no caches, no run directory, no other candidate;
//! - a cleared environment (`PATH`, `HOME`, `TMPDIR` and what the caller sets);
//! - `prlimit` limits: CPU seconds, data segment (`RLIMIT_DATA`, which counts
//!   what a process writes to, not the huge `PROT_NONE` address ranges CUDA
//!   reserves, so it works where `RLIMIT_AS` breaks CUDA), processes, file size,
//!   open files, no core dumps;
//! - a wall deadline: past it the sandbox's init is killed, and with it the
//!   whole pid namespace, so nothing the program forked survives; the same
//!   happens when the program exits and leaves a daemon behind;
//! - stdout relayed with a byte cap (past it, killed: `output-too-large`),
//!   stderr's tail kept.
//!
//! The [`NativeReport`] is the launcher's own observation (exit status, wall
//! and CPU time from `wait4`), written where the program cannot reach; what the
//! program prints is only ever data for its caller to check.
//!
//! Where bubblewrap cannot create namespaces ([`probe`] says why), native
//! candidates are refused, unless the user asked for [`Isolation::Unsafe`]:
//! then the same limits apply through `prlimit` and a process group, without
//! namespaces (the program sees the machine as the user does).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use discover_contract::failure::ProgramFailure;
use serde::{Deserialize, Serialize};

use crate::output::Output;

/// The uid and gid a root host drops to before creating the sandbox.
const NOBODY: u32 = 65534;

/// How much of stderr the report keeps.
pub const STDERR_TAIL_BYTES: usize = 4096;

/// What a native candidate may use. Every limit is explicit.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NativeLimits {
    /// Wall-clock deadline for the whole process tree.
    pub wall_seconds: f64,
    /// CPU seconds per process (`RLIMIT_CPU`).
    pub cpu_seconds: u64,
    /// Writable private memory per process (`RLIMIT_DATA`), in MiB.
    pub memory_mib: u64,
    /// Processes and threads of the sandbox's user (`RLIMIT_NPROC`).
    pub processes: u64,
    /// Largest file it may write (`RLIMIT_FSIZE`), in MiB.
    pub file_mib: u64,
    /// Open file descriptors per process (`RLIMIT_NOFILE`).
    pub open_files: u64,
    /// Bytes of stdout relayed before the program is stopped.
    pub stdout_bytes: u64,
}

impl Default for NativeLimits {
    fn default() -> NativeLimits {
        NativeLimits {
            wall_seconds: 60.0,
            cpu_seconds: 60,
            memory_mib: 4096,
            processes: 256,
            file_mib: 64,
            open_files: 256,
            stdout_bytes: 64 << 20,
        }
    }
}

/// One native program to run.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NativeJob {
    /// The program and its arguments, as seen inside the sandbox.
    pub argv: Vec<String>,
    /// Files written to `/job` (read-only inside), by name.
    pub files: BTreeMap<String, String>,
    /// Host files copied to `/job`, by name (binary files).
    pub copy: BTreeMap<String, PathBuf>,
    /// Host paths visible read-only at the same place (a pack's packages).
    pub read_only: Vec<PathBuf>,
    /// Device nodes bound into `/dev` (GPU nodes).
    pub devices: Vec<PathBuf>,
    /// Environment variables (the rest is cleared).
    pub env: BTreeMap<String, String>,
    /// Held exclusively while the program runs: one candidate per GPU.
    pub lock: Option<PathBuf>,
    /// A host folder the program may write, seen as `/out` (for results too
    /// large for stdout: a kernel's output tensors). Fresh per job.
    pub output_dir: Option<PathBuf>,
    pub limits: NativeLimits,
}

/// How the program ended, as the launcher saw it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum NativeOutcome {
    /// It exited by itself with this status.
    Exited { code: i32 },
    /// A signal ended it (not one of the limits below).
    Signaled { signal: i32 },
    /// It used its CPU seconds.
    CpuLimit { seconds: u64 },
    /// It ran past the wall deadline; the whole sandbox was killed.
    WallTimeout { seconds: f64 },
    /// An allocation failed at the memory limit.
    OutOfMemory { mib: u64 },
    /// It wrote more than the stdout cap; the whole sandbox was killed.
    OutputTooLarge { bytes: u64 },
    /// The process that started it went away; the sandbox was killed.
    Orphaned,
}

impl NativeOutcome {
    pub fn success(&self) -> bool {
        matches!(self, NativeOutcome::Exited { code: 0 })
    }

    /// The program failure a caller should record, `None` for a clean exit.
    pub fn failure(&self) -> Option<ProgramFailure> {
        Some(match self {
            NativeOutcome::Exited { code: 0 } => return None,
            NativeOutcome::CpuLimit { .. } => ProgramFailure::TimeLimit,
            NativeOutcome::WallTimeout { .. } => ProgramFailure::Timeout,
            NativeOutcome::OutOfMemory { .. } => ProgramFailure::OutOfMemory,
            NativeOutcome::OutputTooLarge { .. } => ProgramFailure::OutputTooLarge,
            NativeOutcome::Exited { .. } | NativeOutcome::Signaled { .. } | NativeOutcome::Orphaned => {
                ProgramFailure::RuntimeError
            }
        })
    }

    /// One line for people and prompts.
    pub fn summary(&self) -> String {
        match self {
            NativeOutcome::Exited { code } => format!("exited with status {code}"),
            NativeOutcome::Signaled { signal } => format!("killed by signal {signal}"),
            NativeOutcome::CpuLimit { seconds } => format!("used its {seconds} s of CPU time and was stopped"),
            NativeOutcome::WallTimeout { seconds } => format!("ran past its {seconds} s wall deadline and was stopped"),
            NativeOutcome::OutOfMemory { mib } => format!("ran out of its {mib} MiB of memory"),
            NativeOutcome::OutputTooLarge { bytes } => format!("wrote more than {bytes} bytes to stdout and was stopped"),
            NativeOutcome::Orphaned => "its caller went away; it was stopped".to_string(),
        }
    }
}

/// What the launcher observed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NativeReport {
    #[serde(flatten)]
    pub outcome: NativeOutcome,
    /// The outcome in words, and the failure kind to record (`None`: a clean
    /// exit), so callers in any language name them alike.
    pub summary: String,
    pub failure: Option<ProgramFailure>,
    pub wall_seconds: f64,
    /// User + system CPU time of the sandbox's processes (sampled every 20 ms).
    pub cpu_seconds: f64,
    /// Largest resident set of one of them (sampled every 20 ms).
    pub max_rss_mib: f64,
    pub stdout_bytes: u64,
    pub stderr_tail: String,
    /// `bubblewrap`, or `unsafe` (no namespaces: `--unsafe-native`).
    pub isolation: Isolation,
}

/// How native programs are isolated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Isolation {
    /// Namespaces and limits (the default; refused where unavailable).
    Bubblewrap,
    /// Limits and a process group only: what `--unsafe-native` asks for.
    Unsafe,
}

/// Can bubblewrap create the sandbox here? `Err` says why not (once per process).
pub fn probe() -> Result<(), String> {
    static PROBE: OnceLock<Result<(), String>> = OnceLock::new();
    PROBE
        .get_or_init(|| {
            let Some(bwrap) = crate::cpp::which("bwrap") else {
                return Err("bubblewrap (`bwrap`) is not installed; install it with `apt-get install bubblewrap`".into());
            };
            if crate::cpp::which("prlimit").is_none() {
                return Err("`prlimit` (util-linux) is not installed".into());
            }
            let mut cmd = Command::new(bwrap);
            if is_root() {
                drop_to_nobody(&mut cmd);
            }
            cmd.args(sandbox_args(Path::new("/nonexistent"), &NativeJob::default(), false))
                .args(["--", "/usr/bin/true"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped());
            match cmd.output() {
                Ok(out) if out.status.success() => Ok(()),
                Ok(out) => Err(format!(
                    "bubblewrap cannot create namespaces here: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                )),
                Err(e) => Err(format!("cannot start bubblewrap: {e}")),
            }
        })
        .clone()
}

/// The message a refused native candidate gets.
pub fn refusal(why: &str) -> String {
    format!(
        "native candidates run only inside bubblewrap, and {why}; \
         pass --unsafe-native to run them with resource limits but without isolation (only for programs you trust)"
    )
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Root is exempt from the process limit, and a sandbox should never hold
/// root's files: a root host creates it as `nobody` (bubblewrap then needs
/// unprivileged user namespaces, which [`probe`] checks).
fn drop_to_nobody(cmd: &mut Command) {
    // std clears the supplementary groups when root sets a uid.
    cmd.uid(NOBODY).gid(NOBODY);
}

/// bubblewrap's arguments for `job` with its files in `job_dir` (without the
/// trailing `--` and command). Every path is resolved by bubblewrap as the
/// sandbox's user (`nobody` on a root host), so it must be reachable by that
/// user: a pack's packages under root's private home are not (the host puts
/// them elsewhere when it is root).
fn sandbox_args(job_dir: &Path, job: &NativeJob, bind_job: bool) -> Vec<String> {
    let mut args: Vec<String> = [
        "--unshare-all",
        "--die-with-parent",
        "--new-session",
        "--clearenv",
        "--uid",
        "65534",
        "--gid",
        "65534",
        "--ro-bind",
        "/usr",
        "/usr",
        "--symlink",
        "usr/lib",
        "/lib",
        "--symlink",
        "usr/lib64",
        "/lib64",
        "--symlink",
        "usr/bin",
        "/bin",
        "--symlink",
        "usr/sbin",
        "/sbin",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--tmpfs",
        "/tmp",
        "--chdir",
        "/tmp",
        "--setenv",
        "PATH",
        "/usr/local/bin:/usr/bin:/bin",
        "--setenv",
        "HOME",
        "/tmp",
        "--setenv",
        "TMPDIR",
        "/tmp",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if bind_job {
        args.extend(["--ro-bind".into(), job_dir.display().to_string(), "/job".into()]);
        args.extend(["--setenv".into(), "DISCOVER_JOB_DIR".into(), "/job".into()]);
    }
    for path in &job.read_only {
        args.extend(["--ro-bind".into(), path.display().to_string(), path.display().to_string()]);
    }
    if let Some(out) = &job.output_dir {
        args.extend(["--bind".into(), out.display().to_string(), "/out".into()]);
        args.extend(["--setenv".into(), "DISCOVER_OUT_DIR".into(), "/out".into()]);
    }
    if !job.devices.is_empty() {
        // GPU drivers read their topology from /sys.
        args.extend(["--ro-bind".into(), "/sys".into(), "/sys".into()]);
    }
    for dev in &job.devices {
        args.extend(["--dev-bind".into(), dev.display().to_string(), dev.display().to_string()]);
    }
    for (k, v) in &job.env {
        args.extend(["--setenv".into(), k.clone(), v.clone()]);
    }
    args
}

fn prlimit_args(limits: &NativeLimits) -> Vec<String> {
    vec![
        format!("--cpu={}", limits.cpu_seconds),
        format!("--data={}", limits.memory_mib << 20),
        format!("--nproc={}", limits.processes),
        format!("--fsize={}", limits.file_mib << 20),
        format!("--nofile={}", limits.open_files),
        "--core=0".to_string(),
        "--".to_string(),
    ]
}

/// A private folder for the job's files, removed when dropped.
struct JobDir(PathBuf);

impl JobDir {
    fn create(job: &NativeJob) -> Result<JobDir> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "discover-native-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let dir = JobDir(dir);
        use std::os::unix::fs::PermissionsExt;
        // Readable by the sandbox's user (nobody), writable by no one inside.
        std::fs::set_permissions(&dir.0, std::fs::Permissions::from_mode(0o755))?;
        let names = job.files.keys().chain(job.copy.keys());
        for name in names {
            if name.is_empty() || name.contains('/') || name.starts_with('.') {
                bail!("job file name {name:?} must be a plain file name");
            }
        }
        for (name, text) in &job.files {
            std::fs::write(dir.0.join(name), text).with_context(|| format!("writing job file {name}"))?;
        }
        for (name, from) in &job.copy {
            std::fs::copy(from, dir.0.join(name)).with_context(|| format!("copying {} to the job", from.display()))?;
        }
        for name in job.files.keys().chain(job.copy.keys()) {
            std::fs::set_permissions(dir.0.join(name), std::fs::Permissions::from_mode(0o644))?;
        }
        Ok(dir)
    }
}

impl Drop for JobDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Run `job` with `stdin`, relaying its stdout to `stdout` (up to the cap).
/// `Err` is the host's failure (no sandbox, a spawn error); whatever the
/// program does is in the report. With [`Isolation::Bubblewrap`] the sandbox
/// must be available ([`probe`]).
pub fn run(job: &NativeJob, isolation: Isolation, stdin: Stdio, stdout: Box<dyn Write + Send>) -> Result<NativeReport> {
    if job.argv.is_empty() {
        bail!("a native job needs a program to run (argv is empty)");
    }
    let limits = job.limits;
    if !(limits.wall_seconds > 0.0 && limits.wall_seconds.is_finite()) {
        bail!("the wall limit must be a positive number of seconds, not {}", limits.wall_seconds);
    }
    let prlimit = crate::cpp::which("prlimit").ok_or_else(|| anyhow!("`prlimit` (util-linux) is not installed"))?;
    // One candidate per GPU: the lock is held until the report is written.
    let _lock = match &job.lock {
        Some(path) => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(path)
                .with_context(|| format!("opening the lock {}", path.display()))?;
            file.lock().with_context(|| format!("locking {}", path.display()))?;
            Some(file)
        }
        None => None,
    };
    let dir = JobDir::create(job)?;
    let mut cmd = match isolation {
        Isolation::Bubblewrap => {
            probe().map_err(|why| anyhow!(refusal(&why)))?;
            let mut cmd = Command::new(crate::cpp::which("bwrap").expect("probed"));
            if is_root() {
                drop_to_nobody(&mut cmd);
            }
            cmd.args(sandbox_args(&dir.0, job, true)).arg("--").arg(&prlimit);
            cmd
        }
        Isolation::Unsafe => {
            // No namespaces: the job's files are in its folder, which is the
            // working directory; a process group stands in for the pid namespace.
            let mut cmd = Command::new(&prlimit);
            cmd.env_clear()
                .env("PATH", "/usr/local/bin:/usr/bin:/bin")
                .env("HOME", &dir.0)
                .env("TMPDIR", &dir.0)
                .env("DISCOVER_JOB_DIR", &dir.0)
                .envs(job.output_dir.as_ref().map(|d| ("DISCOVER_OUT_DIR", d)))
                .envs(&job.env)
                .current_dir(&dir.0)
                .process_group(0);
            cmd
        }
    };
    cmd.args(prlimit_args(&limits));
    let argv: Vec<String> = match isolation {
        Isolation::Bubblewrap => job.argv.clone(),
        // `/job/x` names the job's folder inside the sandbox; map it here.
        Isolation::Unsafe => job
            .argv
            .iter()
            .map(|a| a.strip_prefix("/job/").map_or(a.clone(), |rest| dir.0.join(rest).display().to_string()))
            .collect(),
    };
    cmd.args(&argv).stdin(stdin).stdout(Stdio::piped()).stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd.spawn().with_context(|| format!("cannot start the sandbox for {}", job.argv[0]))?;
    let pid = child.id() as libc::pid_t;

    // stdout: relayed up to the cap; past it, flagged (the wait loop kills).
    let too_much = Arc::new(AtomicBool::new(false));
    let relayed = Arc::new(AtomicU64::new(0));
    let relay = {
        let mut from = child.stdout.take().expect("piped");
        let (too_much, relayed) = (too_much.clone(), relayed.clone());
        let mut to = stdout;
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 64 << 10];
            let mut sink_ok = true;
            loop {
                let n = match from.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                let before = relayed.fetch_add(n as u64, Ordering::Relaxed);
                let room = limits.stdout_bytes.saturating_sub(before) as usize;
                if sink_ok && room > 0 {
                    sink_ok = to.write_all(&buf[..n.min(room)]).and_then(|_| to.flush()).is_ok();
                }
                if before + n as u64 > limits.stdout_bytes {
                    too_much.store(true, Ordering::Relaxed);
                }
            }
        })
    };
    let tail = {
        let mut from = child.stderr.take().expect("piped");
        std::thread::spawn(move || {
            let kept = Output::new(STDERR_TAIL_BYTES, u64::MAX);
            let mut buf = vec![0u8; 16 << 10];
            while let Ok(n @ 1..) = from.read(&mut buf) {
                kept.push(&buf[..n]);
            }
            kept.text()
        })
    };

    let deadline = start + Duration::from_secs_f64(limits.wall_seconds);
    let parent = std::os::unix::process::parent_id();
    let mut stopped: Option<NativeOutcome> = None;
    let mut usage = TreeUsage::default();
    let mut polls = 0u64;
    let status = loop {
        if let Some(status) = try_wait(pid)? {
            break status;
        }
        // bubblewrap exits without reaping its init, so wait4's rusage misses
        // the program: measure the process tree from /proc instead.
        if polls % 4 == 0 {
            usage.sample(pid);
        }
        polls += 1;
        if stopped.is_none() {
            if too_much.load(Ordering::Relaxed) {
                stopped = Some(NativeOutcome::OutputTooLarge { bytes: limits.stdout_bytes });
            } else if Instant::now() >= deadline {
                stopped = Some(NativeOutcome::WallTimeout { seconds: limits.wall_seconds });
            } else if std::os::unix::process::parent_id() != parent {
                stopped = Some(NativeOutcome::Orphaned);
            }
            if stopped.is_some() {
                kill_tree(pid, isolation);
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    // Whatever the program left running dies with its namespace (or group).
    if isolation == Isolation::Unsafe {
        kill_tree(pid, isolation);
    }
    drop(child);
    let wall_seconds = start.elapsed().as_secs_f64();
    // The namespace is gone, so the pipes close; a stray holder (unsafe mode)
    // cannot keep us waiting past a short grace.
    let stderr_tail = join_within(tail, Duration::from_secs(2)).unwrap_or_default();
    let _ = join_within(relay, Duration::from_secs(2));
    let cpu_seconds = usage.cpu_seconds;
    let max_rss_mib = usage.max_rss_mib;
    let outcome = match stopped {
        Some(o) => o,
        None => classify(status, cpu_seconds, &stderr_tail, &limits, isolation),
    };
    Ok(NativeReport {
        summary: outcome.summary(),
        failure: outcome.failure(),
        outcome,
        wall_seconds,
        cpu_seconds,
        max_rss_mib,
        stdout_bytes: relayed.load(Ordering::Relaxed),
        stderr_tail,
        isolation,
    })
}

fn join_within<T: Send + 'static>(handle: std::thread::JoinHandle<T>, grace: Duration) -> Option<T> {
    let end = Instant::now() + grace;
    while !handle.is_finished() {
        if Instant::now() >= end {
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    handle.join().ok()
}

/// The wait status of `pid` if it has ended.
fn try_wait(pid: libc::pid_t) -> Result<Option<i32>> {
    let mut status = 0;
    // SAFETY: waitpid writes only the status.
    let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
    if r < 0 {
        let e = std::io::Error::last_os_error();
        if e.kind() == std::io::ErrorKind::Interrupted {
            return Ok(None);
        }
        return Err(e).context("waiting for the sandbox");
    }
    Ok((r != 0).then_some(status))
}

/// CPU time and peak memory of a process tree, sampled from `/proc`.
///
/// At any instant, every process that ever ran in the tree is counted once
/// in the sum over the live tree of (own + reaped children's) CPU time: a
/// reaped process lives on in its reaper's `cutime`. The largest such sum
/// seen is the CPU time (stale by at most one sampling interval, 20 ms).
#[derive(Default)]
struct TreeUsage {
    cpu_seconds: f64,
    max_rss_mib: f64,
}

impl TreeUsage {
    fn sample(&mut self, root: libc::pid_t) {
        // (pid, ppid, cpu ticks incl. reaped children, rss pages)
        let mut procs: Vec<(i32, i32, u64, u64)> = Vec::new();
        let Ok(entries) = std::fs::read_dir("/proc") else { return };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(pid) = name.to_str().and_then(|n| n.parse::<i32>().ok()) else { continue };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
            // The command name may hold spaces and parentheses: fields start after the last ')'.
            let Some(rest) = stat.rfind(')').map(|i| &stat[i + 2..]) else { continue };
            let f: Vec<&str> = rest.split(' ').collect();
            let num = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
            // Fields after the name: state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14) ... rss(21)
            let ppid = f.get(1).and_then(|v| v.parse::<i32>().ok()).unwrap_or(0);
            procs.push((pid, ppid, num(11) + num(12) + num(13) + num(14), num(21)));
        }
        let mut tree = vec![root];
        let mut i = 0;
        while i < tree.len() {
            let parent = tree[i];
            tree.extend(procs.iter().filter(|p| p.1 == parent).map(|p| p.0));
            i += 1;
        }
        // SAFETY: sysconf has no preconditions.
        let (ticks, page) = unsafe { (libc::sysconf(libc::_SC_CLK_TCK).max(1) as f64, libc::sysconf(libc::_SC_PAGESIZE).max(1) as f64) };
        let mut cpu = 0u64;
        for p in procs.iter().filter(|p| tree.contains(&p.0)) {
            cpu += p.2;
            self.max_rss_mib = self.max_rss_mib.max(p.3 as f64 * page / (1 << 20) as f64);
        }
        self.cpu_seconds = self.cpu_seconds.max(cpu as f64 / ticks);
    }
}

fn kill_tree(pid: libc::pid_t, isolation: Isolation) {
    // SAFETY: kill has no memory effects. bubblewrap's init dies with its
    // parent (--die-with-parent), and the kernel then kills its pid namespace.
    unsafe {
        match isolation {
            Isolation::Bubblewrap => libc::kill(pid, libc::SIGKILL),
            Isolation::Unsafe => libc::kill(-pid, libc::SIGKILL),
        };
    }
}

/// Name the end of a process from its wait status. bubblewrap reports a child
/// killed by signal N as exit status 128 + N.
fn classify(status: i32, cpu_seconds: f64, stderr: &str, limits: &NativeLimits, isolation: Isolation) -> NativeOutcome {
    let signal = if libc::WIFSIGNALED(status) {
        Some(libc::WTERMSIG(status))
    } else {
        let code = libc::WEXITSTATUS(status);
        match isolation {
            Isolation::Bubblewrap if code > 128 && code < 128 + 65 => Some(code - 128),
            _ => None,
        }
    };
    let out_of_memory = ["MemoryError", "std::bad_alloc", "Cannot allocate memory", "out of memory", "DefaultCPUAllocator: can't allocate"]
        .iter()
        .any(|m| stderr.contains(m));
    match signal {
        Some(libc::SIGXCPU) => NativeOutcome::CpuLimit { seconds: limits.cpu_seconds },
        // RLIMIT_CPU with soft = hard sends SIGKILL at the limit; the sampled
        // time may be one interval short of it.
        Some(libc::SIGKILL) if cpu_seconds + 0.25 >= limits.cpu_seconds as f64 => NativeOutcome::CpuLimit { seconds: limits.cpu_seconds },
        Some(_) if out_of_memory => NativeOutcome::OutOfMemory { mib: limits.memory_mib },
        Some(signal) => NativeOutcome::Signaled { signal },
        None => {
            let code = libc::WEXITSTATUS(status);
            if code != 0 && out_of_memory {
                NativeOutcome::OutOfMemory { mib: limits.memory_mib }
            } else {
                NativeOutcome::Exited { code }
            }
        }
    }
}
