//! `--executor slurm`: a step's rollouts evaluated as SLURM job steps.
//!
//! SLURM does the placing, launching, accounting and cancelling; this module
//! only writes files and calls `srun` (inside an allocation) or `sbatch
//! --wait` (outside one). A step's batch is a folder under the run directory,
//! which every node must see:
//!
//! ```text
//! batches/step-000007/batch.json          the rollouts (start state, action), written atomically
//! batches/step-000007/results/000012.json one outcome per rollout, written atomically by the worker
//! batches/step-000007/part-0.log          the job step's output
//! ```
//!
//! The worker is `discover evaluate-batch DIR --part K --parts N`: it builds
//! the run's environment from `config.toml` exactly as the run does and
//! evaluates the rollouts `i` with `i % N == K` that have no result yet. The
//! engine gets the outcomes in rollout order, so a SLURM run's buffer equals a
//! local run's with the same seed. A part whose job step failed, timed out or
//! lost its node is launched again for its missing results (`--retries`);
//! what is still missing then is the host's failure (kind `sandbox`: not the
//! program's fault) with reward 0.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::ValueEnum;
use serde::{Deserialize, Serialize};

use crate::engine::rundir::write_atomic;
use crate::engine::{Action, Environment, Evaluated, Executor, Failure, RolloutFailure, State};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum ExecutorKind {
    /// Threads of this process.
    #[default]
    Local,
    /// SLURM job steps (srun inside an allocation, sbatch --wait outside).
    Slurm,
}

/// The `[executor]` table of config.toml: SLURM's own options, kept for `resume`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ExecutorConfig {
    pub kind: ExecutorKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// A job's time limit, in SLURM's format (`10:00`, `1-00:00:00`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    /// CPUs per batch (`--cpus-per-task`).
    pub cpus: u32,
    /// GPUs per batch (`--gpus-per-task`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpus: Option<u32>,
    /// Generic resources per batch (`--gres`, e.g. `gpu:a100:1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gres: Option<String>,
    /// Other options passed to srun/sbatch as they are.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra: Vec<String>,
    /// Job steps per training step (the rollouts are dealt round-robin).
    pub batches: usize,
    /// Launches of a part beyond the first, for its missing results.
    pub retries: u32,
}

/// What `batch.json` holds.
#[derive(Debug, Serialize, Deserialize)]
pub struct BatchFile {
    pub run_dir: PathBuf,
    pub step: u32,
    pub rollouts: Vec<BatchRollout>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct BatchRollout {
    pub index: usize,
    pub start: State,
    pub action: Action,
}

/// What a result file holds.
#[derive(Debug, Serialize, Deserialize)]
pub struct BatchResult {
    pub outcome: Result<Evaluated, Failure>,
    pub seconds: f64,
    /// The node that evaluated it (`$SLURMD_NODENAME`).
    #[serde(default)]
    pub node: Option<String>,
}

pub fn result_path(batch: &Path, index: usize) -> PathBuf {
    batch.join("results").join(format!("{index:06}.json"))
}

pub struct SlurmExecutor {
    /// Every job of this run carries this name (`discover-` and a digest of
    /// the run directory), so `scancel --name` and `squeue --name` find them.
    job_name: String,
    run_dir: PathBuf,
    exe: PathBuf,
    config: ExecutorConfig,
    /// Inside an allocation (`$SLURM_JOB_ID`): job steps with srun.
    in_allocation: bool,
    cache_dir: Option<PathBuf>,
}

impl SlurmExecutor {
    /// An executor for the run in `run_dir`; checks that a job step can read
    /// the run directory (it must be on a file system every node sees).
    pub fn new(run_dir: &Path, config: &ExecutorConfig, cache_dir: Option<&Path>) -> Result<SlurmExecutor> {
        let exe = std::env::current_exe().context("cannot find the discover executable")?;
        let run_dir = run_dir.canonicalize()?;
        let job_name = {
            use sha2::Digest;
            let d = sha2::Sha256::digest(run_dir.display().to_string().as_bytes());
            format!("discover-{}", d[..6].iter().map(|b| format!("{b:02x}")).collect::<String>())
        };
        let executor = SlurmExecutor {
            job_name,
            run_dir,
            exe,
            config: config.clone(),
            in_allocation: std::env::var_os("SLURM_JOB_ID").is_some(),
            cache_dir: cache_dir.map(Path::to_path_buf),
        };
        executor.probe()?;
        cancel_on_signal(&executor.job_name);
        Ok(executor)
    }

    /// Wait until no job of this run is pending or running: after the host
    /// process died, `resume` collects what those jobs write instead of
    /// launching the same rollouts again.
    fn wait_for_orphans(&self) {
        let mut said = false;
        loop {
            let out = Command::new("squeue").args(["-h", "-o", "%i", "--name", &self.job_name]).output();
            let ids = match out {
                Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim().to_string(),
                _ => return,
            };
            if ids.is_empty() {
                return;
            }
            if !said {
                eprintln!("waiting for SLURM jobs {} left by an earlier process of this run", ids.split_whitespace().collect::<Vec<_>>().join(", "));
                said = true;
            }
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
    }

    /// A round trip through a job step: it reads a file we wrote in the run
    /// directory and writes one back.
    fn probe(&self) -> Result<()> {
        let dir = self.run_dir.join("batches");
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let probe = dir.join(format!("probe-{}", std::process::id()));
        let nonce = format!("{:x}", Instant::now().elapsed().as_nanos() ^ std::process::id() as u128);
        write_atomic(&probe, nonce.as_bytes())?;
        let log = dir.join("probe.log");
        let mut cmd = self.launcher(&self.job_name, &log);
        self.program(
            &mut cmd,
            vec![self.exe.display().to_string(), "evaluate-batch".into(), "--probe".into(), probe.display().to_string()],
        );
        let status = cmd.stdout(std::process::Stdio::null()).status().with_context(|| format!("running {}", self.launcher_name()))?;
        let answer = std::fs::read_to_string(probe.with_extension("ok")).unwrap_or_default();
        let _ = std::fs::remove_file(&probe);
        let _ = std::fs::remove_file(probe.with_extension("ok"));
        if !status.success() || answer != nonce {
            bail!(
                "a SLURM job step could not read and answer a file in the run directory {} ({}, its log: {}); \
                 --executor slurm needs the run directory (--out) on a file system every node mounts",
                self.run_dir.display(),
                status,
                log.display()
            );
        }
        Ok(())
    }

    fn launcher_name(&self) -> &'static str {
        if self.in_allocation { "srun" } else { "sbatch" }
    }

    /// srun (in an allocation) or sbatch --wait, with the run's options, up
    /// to the program to run (appended by the caller; sbatch gets it wrapped).
    fn launcher(&self, name: &str, log: &Path) -> Command {
        let c = &self.config;
        let mut cmd = Command::new(self.launcher_name());
        if self.in_allocation {
            cmd.args(["--exclusive", "-N1", "-n1", "--kill-on-bad-exit=1"]);
        } else {
            cmd.args(["--wait", "--parsable", "-N1", "-n1"]);
            if let Some(p) = &c.partition {
                cmd.arg(format!("--partition={p}"));
            }
            if let Some(a) = &c.account {
                cmd.arg(format!("--account={a}"));
            }
            if let Some(t) = &c.time {
                cmd.arg(format!("--time={t}"));
            }
        }
        cmd.arg(format!("--cpus-per-task={}", c.cpus.max(1)));
        cmd.arg(format!("--job-name={name}"));
        cmd.arg(format!("--output={}", log.display()));
        if let Some(g) = c.gpus {
            cmd.arg(format!("--gpus-per-task={g}"));
        }
        if let Some(g) = &c.gres {
            cmd.arg(format!("--gres={g}"));
        }
        cmd.args(&c.extra);
        if !self.in_allocation {
            // sbatch runs a script: the program comes through --wrap.
            cmd.arg("--wrap");
        }
        cmd
    }

    /// The program a launcher runs: srun takes its words, sbatch one shell line.
    fn program(&self, cmd: &mut Command, program: Vec<String>) {
        if self.in_allocation {
            cmd.args(&program);
        } else {
            cmd.arg(program.iter().map(|a| shell_quote(a)).collect::<Vec<_>>().join(" "));
        }
    }

    /// Launch part `part` of the batch in `dir` and wait for it.
    fn launch(&self, dir: &Path, part: usize, attempt: u32) -> Result<std::process::Child> {
        let log = dir.join(format!("part-{part}-attempt-{attempt}.log"));
        let mut cmd = self.launcher(&self.job_name, &log);
        let mut program = vec![self.exe.display().to_string()];
        if let Some(cache) = &self.cache_dir {
            program.push(format!("--cache-dir={}", cache.display()));
        }
        program.extend([
            "evaluate-batch".to_string(),
            dir.display().to_string(),
            format!("--part={part}"),
            format!("--parts={}", self.config.batches.max(1)),
        ]);
        self.program(&mut cmd, program);
        cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
        cmd.spawn().with_context(|| format!("running {}", self.launcher_name()))
    }
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

impl Executor for SlurmExecutor {
    fn execute(&self, _env: &dyn Environment, step: u32, rollouts: &[(&State, &Action)]) -> Vec<(Result<Evaluated, Failure>, f64)> {
        let dir = self.run_dir.join("batches").join(format!("step-{step:06}"));
        let parts = self.config.batches.max(1);
        let outcome = (|| -> Result<()> {
            std::fs::create_dir_all(dir.join("results"))?;
            let batch = BatchFile {
                run_dir: self.run_dir.clone(),
                step,
                rollouts: rollouts
                    .iter()
                    .enumerate()
                    .map(|(index, (start, action))| BatchRollout { index, start: (*start).clone(), action: (*action).clone() })
                    .collect(),
            };
            let text = serde_json::to_string(&batch)?;
            // A batch left by a run that died is collected, not rerun: the
            // same step of a resumed run proposes the same rollouts.
            let path = dir.join("batch.json");
            if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
                let _ = std::fs::remove_dir_all(dir.join("results"));
                std::fs::create_dir_all(dir.join("results"))?;
                write_atomic(&path, text.as_bytes())?;
            }
            self.wait_for_orphans();
            for attempt in 0..=self.config.retries {
                let missing: Vec<usize> = (0..parts)
                    .filter(|&p| (p..rollouts.len()).step_by(parts).any(|i| !result_path(&dir, i).exists()))
                    .collect();
                if missing.is_empty() {
                    break;
                }
                if attempt > 0 {
                    tracing::warn!(step, parts = ?missing, attempt, "job steps left rollouts unevaluated; launching them again");
                }
                let children: Vec<_> = missing.iter().map(|&p| (p, self.launch(&dir, p, attempt))).collect();
                let jobs = dir.join("jobs.txt");
                let log_line = |line: String| -> Result<()> {
                    let mut all = std::fs::read_to_string(&jobs).unwrap_or_default();
                    all.push_str(&line);
                    write_atomic(&jobs, all.as_bytes())
                };
                let mut waiting = Vec::new();
                for (p, child) in children {
                    match child {
                        Ok(mut c) => {
                            // sbatch --parsable prints the job id when the job is
                            // submitted, long before --wait returns: record it now,
                            // so a resumed run knows the job.
                            let id = if self.in_allocation {
                                "(job step)".to_string()
                            } else {
                                let mut line = String::new();
                                let _ = std::io::BufRead::read_line(&mut std::io::BufReader::new(c.stdout.take().unwrap()), &mut line);
                                line.trim().to_string()
                            };
                            log_line(format!("part {p} attempt {attempt}: submitted {id}\n"))?;
                            waiting.push((p, id, c));
                        }
                        Err(e) => log_line(format!("part {p} attempt {attempt}: not launched: {e:#}\n"))?,
                    }
                }
                for (p, id, c) in waiting {
                    let status = c.wait_with_output().map(|o| o.status.to_string()).unwrap_or_else(|e| e.to_string());
                    log_line(format!("part {p} attempt {attempt}: {id} ended: {status}\n"))?;
                }
            }
            Ok(())
        })();
        if let Err(e) = &outcome {
            tracing::error!(step, error = format!("{e:#}"), "the SLURM batch could not be run");
        }
        (0..rollouts.len())
            .map(|i| match std::fs::read(result_path(&dir, i)).ok().and_then(|b| serde_json::from_slice::<BatchResult>(&b).ok()) {
                Some(r) => (r.outcome, r.seconds),
                None => (
                    Err(Failure::new(
                        RolloutFailure::Host,
                        format!(
                            "no result from SLURM after {} launch(es) (see {})",
                            self.config.retries + 1,
                            dir.display()
                        ),
                    )),
                    0.0,
                ),
            })
            .collect()
    }
}

/// `discover evaluate-batch --probe FILE`: answer the executor's probe.
pub fn answer_probe(file: &Path) -> Result<()> {
    let nonce = std::fs::read(file).with_context(|| format!("cannot read {} from this node", file.display()))?;
    write_atomic(&file.with_extension("ok"), &nonce)
}

/// `scancel --name NAME --user ME`, prepared before any signal, for the
/// signal handler (which may only fork and exec).
static CANCEL: std::sync::OnceLock<Vec<std::ffi::CString>> = std::sync::OnceLock::new();

fn cancel_on_signal(job_name: &str) {
    let user = unsafe { libc::getuid() }.to_string();
    let argv = ["scancel", "--name", job_name, "--user", &user]
        .iter()
        .map(|a| std::ffi::CString::new(*a).expect("no NUL"))
        .collect();
    let _ = CANCEL.set(argv);
}

/// From the signal handler: cancel this run's SLURM jobs (sbatch jobs outlive
/// the process that waits on them). Only async-signal-safe calls.
pub fn cancel_jobs_from_signal_handler() {
    let Some(argv) = CANCEL.get() else { return };
    let mut ptrs: [*const libc::c_char; 6] = [std::ptr::null(); 6];
    for (i, a) in argv.iter().enumerate().take(5) {
        ptrs[i] = a.as_ptr();
    }
    // SAFETY: fork, execvp, _exit and waitpid are async-signal-safe; argv was
    // built before any signal and lives for the process.
    unsafe {
        let pid = libc::fork();
        if pid == 0 {
            libc::execvp(ptrs[0], ptrs.as_ptr());
            libc::_exit(127);
        } else if pid > 0 {
            let mut status = 0;
            libc::waitpid(pid, &mut status, 0);
        }
    }
}
