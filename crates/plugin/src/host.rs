//! Supervised plugin processes.
//!
//! A [`Plugin`] keeps up to `workers` processes of one plugin command, each
//! serving one call at a time. Every call has a deadline. A process that
//! crashes, hangs past the deadline, or writes something that is not a
//! JSON-RPC response is killed (with its process group) and its call fails
//! with a typed [`PluginError`]; the next call starts a fresh process, so a
//! run goes on. Processes die with the host (`PR_SET_PDEATHSIG`, and EOF on
//! their stdin), and [`Plugin`]'s drop asks each to `shutdown` before killing it.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use discover_contract::failure::ProblemFailure;

use crate::protocol::*;

/// Longest line a plugin may write (a verdict with its output tail is small).
pub const MAX_LINE_BYTES: usize = 16 << 20;

/// Lines of a plugin's stderr kept for error messages.
const STDERR_TAIL_LINES: usize = 20;

/// How to start and talk to a plugin.
#[derive(Clone, Debug)]
pub struct PluginConfig {
    /// The problem id it serves.
    pub problem: String,
    /// The program and its arguments.
    pub command: Vec<String>,
    pub cwd: PathBuf,
    /// Added to the host's environment.
    pub env: Vec<(String, String)>,
    /// Where its stderr goes (appended); `None`: kept in memory only.
    pub log: Option<PathBuf>,
    /// Processes at most (each serves one call at a time).
    pub workers: usize,
    /// Start + `initialize`.
    pub start_timeout: Duration,
    /// `spec` and `initial`.
    pub call_timeout: Duration,
    /// What `initialize` tells the plugin about running candidates.
    pub isolate: Vec<String>,
    pub unsafe_native: bool,
    /// A folder for the processes' files (candidates' jobs and outputs),
    /// created at the first start and removed when the `Plugin` is dropped.
    pub scratch: PathBuf,
}

/// Why a call to a plugin produced no answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PluginError {
    #[error("plugin {problem} could not be started: {message}")]
    Start { problem: String, message: String },
    #[error("plugin {problem} speaks protocol version {theirs}; this host speaks {ours}")]
    Version { problem: String, theirs: u32, ours: u32 },
    #[error("plugin {problem} exited during `{method}`{stderr}")]
    Crashed { problem: String, method: String, stderr: String },
    #[error("plugin {problem} did not answer `{method}` within {seconds} s and was killed{stderr}")]
    Hung { problem: String, method: String, seconds: f64, stderr: String },
    #[error("plugin {problem} broke the protocol during `{method}`: {message}")]
    Protocol { problem: String, method: String, message: String },
    #[error("plugin {problem} answered `{method}` with an error: {message}")]
    Remote { problem: String, method: String, message: String },
}

impl PluginError {
    /// The failure kind a run records for it.
    pub fn failure(&self) -> ProblemFailure {
        match self {
            PluginError::Start { .. } | PluginError::Version { .. } => ProblemFailure::Load,
            PluginError::Crashed { .. } => ProblemFailure::PluginCrashed,
            PluginError::Hung { .. } => ProblemFailure::Deadline,
            PluginError::Protocol { .. } => ProblemFailure::PluginProtocol,
            PluginError::Remote { .. } => ProblemFailure::Refused,
        }
    }
}

/// Process groups of the running plugins, for [`kill_all`] (a signal handler
/// cannot take locks). 0 marks a free entry.
static GROUPS: [std::sync::atomic::AtomicI32; 64] = [const { std::sync::atomic::AtomicI32::new(0) }; 64];

fn register(pgid: i32) {
    for g in &GROUPS {
        if g.compare_exchange(0, pgid, Ordering::SeqCst, Ordering::SeqCst).is_ok() {
            return;
        }
    }
}

fn unregister(pgid: i32) {
    for g in &GROUPS {
        let _ = g.compare_exchange(pgid, 0, Ordering::SeqCst, Ordering::SeqCst);
    }
}

/// Kill every plugin process group this process started (and with them the
/// `discover isolate` launchers they run, whose sandboxes die with them).
/// Async-signal-safe: what a Ctrl-C handler calls before the host exits.
pub fn kill_all() {
    for g in &GROUPS {
        let pgid = g.load(Ordering::SeqCst);
        if pgid > 0 {
            // SAFETY: kill is async-signal-safe and has no memory effects.
            unsafe { libc::kill(-pgid, libc::SIGKILL) };
        }
    }
}

/// One running plugin process.
struct Worker {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<Result<String, String>>,
    stderr: Arc<Mutex<VecDeque<String>>>,
    /// Disconnected once the stderr reader has seen end of file: every line
    /// the process wrote is then in `stderr`.
    stderr_done: Receiver<()>,
    next_id: u64,
}

impl Worker {
    fn kill(mut self) {
        // SAFETY: kill has no memory effects; the plugin leads its own group.
        unsafe { libc::kill(-(self.child.id() as libc::pid_t), libc::SIGKILL) };
        let _ = self.child.kill();
        let _ = self.child.wait();
        unregister(self.child.id() as i32);
    }

    fn stderr_tail(&self) -> String {
        tail_text(&self.stderr)
    }

    /// The stderr tail of a process that has died mid-call. Its last words
    /// may still be in the pipe when the host notices (a race that showed
    /// under load), so the group is killed (anything it left holding the pipe
    /// goes too) and the reader is given up to two seconds to reach end of file.
    fn last_words(&mut self) -> String {
        // SAFETY: kill has no memory effects; the plugin leads its own group.
        unsafe { libc::kill(-(self.child.id() as libc::pid_t), libc::SIGKILL) };
        let _ = wait_briefly(&mut self.child);
        let _ = self.stderr_done.recv_timeout(Duration::from_secs(2));
        self.stderr_tail()
    }
}

fn tail_text(lines: &Mutex<VecDeque<String>>) -> String {
    let lines = lines.lock().unwrap();
    if lines.is_empty() {
        return String::new();
    }
    format!("; its stderr ended with: {}", lines.iter().cloned().collect::<Vec<_>>().join(" | "))
}

/// A supervised plugin: up to `workers` processes, restarted when they fail.
pub struct Plugin {
    config: PluginConfig,
    /// Where every process's stderr goes (switchable: a run moves it into its
    /// run directory once that exists).
    log: Arc<Mutex<Option<File>>>,
    idle: Mutex<Slots>,
    freed: Condvar,
    restarts: AtomicU64,
}

struct Slots {
    /// Processes waiting for a call.
    ready: Vec<Worker>,
    /// Processes serving a call, plus free slots: `busy + ready.len() <= workers`.
    busy: usize,
}

impl Plugin {
    pub fn new(config: PluginConfig) -> Plugin {
        let log = config.log.as_ref().and_then(|p| File::options().create(true).append(true).open(p).ok());
        Plugin {
            config,
            log: Arc::new(Mutex::new(log)),
            idle: Mutex::new(Slots { ready: Vec::new(), busy: 0 }),
            freed: Condvar::new(),
            restarts: AtomicU64::new(0),
        }
    }

    /// Append the plugin's stderr (of every process, running or future) to `path`.
    pub fn log_to(&self, path: &std::path::Path) -> std::io::Result<()> {
        let file = File::options().create(true).append(true).open(path)?;
        *self.log.lock().unwrap() = Some(file);
        Ok(())
    }

    pub fn config(&self) -> &PluginConfig {
        &self.config
    }

    /// Processes started after a failure so far.
    pub fn restarts(&self) -> u64 {
        self.restarts.load(Ordering::Relaxed)
    }

    pub fn spec(&self) -> Result<PluginSpec, PluginError> {
        self.call("spec", Value::Null, self.config.call_timeout)
    }

    pub fn initial(&self, seed: u64) -> Result<Program, PluginError> {
        self.call("initial", json!({ "seed": seed }), self.config.call_timeout)
    }

    /// Judge a candidate program; `timeout` bounds the whole call.
    pub fn evaluate(&self, params: &EvaluateParams, timeout: Duration) -> Result<PluginVerdict, PluginError> {
        self.call("evaluate", serde_json::to_value(params).expect("plain data"), timeout)
    }

    /// Call `method` on an idle process (starting one if there is room),
    /// waiting for a free slot when all `workers` are busy.
    pub fn call<T: DeserializeOwned>(&self, method: &str, params: Value, timeout: Duration) -> Result<T, PluginError> {
        let worker = {
            let mut slots = self.idle.lock().unwrap();
            loop {
                if let Some(w) = slots.ready.pop() {
                    slots.busy += 1;
                    break Some(w);
                }
                if slots.busy < self.config.workers.max(1) {
                    slots.busy += 1;
                    break None;
                }
                slots = self.freed.wait(slots).unwrap();
            }
        };
        let outcome = (|| {
            let mut worker = match worker {
                Some(w) => w,
                None => self.start()?,
            };
            match self.request(&mut worker, method, params, timeout) {
                Ok(v) => Ok((Some(worker), Ok(v))),
                // The plugin refused this call but is healthy: keep it.
                Err(e @ PluginError::Remote { .. }) => Ok((Some(worker), Err(e))),
                Err(e) => {
                    // Crashed, hung or garbled: this process is done for.
                    worker.kill();
                    self.restarts.fetch_add(1, Ordering::Relaxed);
                    Err(e)
                }
            }
        })();
        let (worker, result) = match outcome {
            Ok((worker, result)) => (worker, result),
            Err(e) => (None, Err(e)),
        };
        {
            let mut slots = self.idle.lock().unwrap();
            slots.busy -= 1;
            if let Some(w) = worker {
                slots.ready.push(w);
            }
        }
        self.freed.notify_one();
        let value = result?;
        serde_json::from_value(value).map_err(|e| PluginError::Protocol {
            problem: self.config.problem.clone(),
            method: method.to_string(),
            message: format!("the result does not fit: {e}"),
        })
    }

    fn start(&self) -> Result<Worker, PluginError> {
        let c = &self.config;
        let start_error = |message: String| PluginError::Start { problem: c.problem.clone(), message };
        let Some((program, args)) = c.command.split_first() else {
            return Err(start_error("its command is empty".into()));
        };
        std::fs::create_dir_all(&c.scratch).map_err(|e| start_error(format!("creating {}: {e}", c.scratch.display())))?;
        let mut cmd = Command::new(program);
        cmd.args(args)
            .current_dir(&c.cwd)
            .envs(c.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let mut child = cmd.spawn().map_err(|e| start_error(format!("cannot run {}: {e}", c.command.join(" "))))?;
        register(child.id() as i32);
        let stdin = child.stdin.take().expect("piped");
        let stdout = child.stdout.take().expect("piped");
        let stderr_pipe = child.stderr.take().expect("piped");

        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || read_lines(stdout, tx));
        let stderr = Arc::new(Mutex::new(VecDeque::new()));
        let (done, stderr_done) = mpsc::channel();
        {
            let (stderr, log) = (stderr.clone(), self.log.clone());
            std::thread::spawn(move || {
                copy_stderr(stderr_pipe, log, stderr);
                drop(done);
            });
        }
        let mut worker = Worker { child, stdin, lines, stderr, stderr_done, next_id: 1 };
        let params = InitializeParams {
            protocol: PROTOCOL_VERSION,
            host: format!("discover {}", env!("CARGO_PKG_VERSION")),
            problem: c.problem.clone(),
            isolate: c.isolate.clone(),
            unsafe_native: c.unsafe_native,
            scratch: c.scratch.display().to_string(),
        };
        let answer = self.request(&mut worker, "initialize", serde_json::to_value(params).unwrap(), c.start_timeout);
        let answer = answer.and_then(|v| {
            serde_json::from_value::<InitializeResult>(v).map_err(|e| PluginError::Protocol {
                problem: c.problem.clone(),
                method: "initialize".into(),
                message: format!("the result does not fit: {e}"),
            })
        });
        match answer {
            Ok(init) if init.protocol == PROTOCOL_VERSION => Ok(worker),
            Ok(init) => {
                worker.kill();
                Err(PluginError::Version { problem: c.problem.clone(), theirs: init.protocol, ours: PROTOCOL_VERSION })
            }
            Err(e) => {
                worker.kill();
                Err(e)
            }
        }
    }

    fn request(&self, worker: &mut Worker, method: &str, params: Value, timeout: Duration) -> Result<Value, PluginError> {
        let problem = self.config.problem.clone();
        let id = worker.next_id;
        worker.next_id += 1;
        let mut line = serde_json::to_string(&Request { jsonrpc: "2.0", id, method, params }).expect("plain data");
        line.push('\n');
        let deadline = Instant::now() + timeout;
        if worker.stdin.write_all(line.as_bytes()).and_then(|_| worker.stdin.flush()).is_err() {
            // Its stdin is closed: it has exited.
            return Err(PluginError::Crashed { problem, method: method.into(), stderr: worker.last_words() });
        }
        let _span = tracing::debug_span!("plugin_call", problem = %self.config.problem, method).entered();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = match worker.lines.recv_timeout(left) {
                Ok(Ok(line)) => line,
                Ok(Err(message)) => return Err(PluginError::Protocol { problem, method: method.into(), message }),
                Err(RecvTimeoutError::Timeout) => {
                    return Err(PluginError::Hung {
                        problem,
                        method: method.into(),
                        seconds: timeout.as_secs_f64(),
                        stderr: worker.stderr_tail(),
                    })
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(PluginError::Crashed { problem, method: method.into(), stderr: worker.last_words() });
                }
            };
            if line.trim().is_empty() {
                continue;
            }
            let response: Response = serde_json::from_str(&line).map_err(|e| PluginError::Protocol {
                problem: problem.clone(),
                method: method.into(),
                message: format!("stdout carried a line that is not a JSON-RPC response ({e}): {}", excerpt(&line)),
            })?;
            if response.jsonrpc != "2.0" || response.id != Some(id) {
                return Err(PluginError::Protocol {
                    problem,
                    method: method.into(),
                    message: format!("expected the response to request {id}, got: {}", excerpt(&line)),
                });
            }
            return match (response.result, response.error) {
                (_, Some(error)) => Err(PluginError::Remote { problem, method: method.into(), message: error.message }),
                (Some(result), None) => Ok(result),
                (None, None) => Ok(Value::Null),
            };
        }
    }

    /// Ask every idle process to shut down; kill what does not within a second.
    pub fn shutdown(&self) {
        let workers: Vec<Worker> = std::mem::take(&mut self.idle.lock().unwrap().ready);
        for mut w in workers {
            let id = w.next_id;
            let line = serde_json::to_string(&Request { jsonrpc: "2.0", id, method: "shutdown", params: Value::Null }).unwrap();
            let _ = writeln!(w.stdin, "{line}").and_then(|_| w.stdin.flush());
            match wait_briefly(&mut w.child) {
                Some(_) => unregister(w.child.id() as i32),
                None => w.kill(),
            }
        }
    }
}

impl Drop for Plugin {
    fn drop(&mut self) {
        self.shutdown();
        // The processes are gone (or killed): their scratch goes with them.
        let _ = std::fs::remove_dir_all(&self.config.scratch);
    }
}

fn wait_briefly(child: &mut Child) -> Option<std::process::ExitStatus> {
    let end = Instant::now() + Duration::from_secs(1);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if Instant::now() >= end {
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn excerpt(line: &str) -> String {
    let line = line.trim();
    match line.char_indices().nth(200) {
        Some((i, _)) => format!("{}...", &line[..i]),
        None => line.to_string(),
    }
}

/// Lines of stdout to the channel; a line past the cap or not UTF-8 is a
/// protocol error (and the end of reading).
fn read_lines(stdout: impl Read, tx: mpsc::Sender<Result<String, String>>) {
    let mut reader = BufReader::new(stdout);
    loop {
        let mut buf = Vec::new();
        let n = match (&mut reader).take(MAX_LINE_BYTES as u64 + 1).read_until(b'\n', &mut buf) {
            Ok(n) => n,
            Err(_) => return,
        };
        if n == 0 {
            return;
        }
        if buf.len() > MAX_LINE_BYTES {
            let _ = tx.send(Err(format!("a line of stdout longer than {MAX_LINE_BYTES} bytes")));
            return;
        }
        let sent = match String::from_utf8(buf) {
            Ok(s) => tx.send(Ok(s)),
            Err(_) => tx.send(Err("stdout carried bytes that are not UTF-8".into())),
        };
        if sent.is_err() {
            return;
        }
    }
}

fn copy_stderr(stderr: impl Read, log: Arc<Mutex<Option<File>>>, tail: Arc<Mutex<VecDeque<String>>>) {
    let mut reader = BufReader::new(stderr);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match (&mut reader).take(64 << 10).read_until(b'\n', &mut buf) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        if let Some(f) = log.lock().unwrap().as_mut() {
            let _ = f.write_all(&buf);
        }
        let line = String::from_utf8_lossy(&buf).trim_end().to_string();
        if line.is_empty() {
            continue;
        }
        let mut tail = tail.lock().unwrap();
        tail.push_back(line.chars().take(300).collect());
        while tail.len() > STDERR_TAIL_LINES {
            tail.pop_front();
        }
    }
}
