//! N candidates at once: worker threads (each with the interpreter's 64 MiB
//! stack) behind a bounded queue, an async interface, and a memory budget.
//!
//! A job reserves its memory limit from the budget before it starts and gives it
//! back when it ends, so the pool never commits more linear memory than the
//! budget however many workers it has. One candidate's failure is its own
//! report; a worker survives it.

use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use anyhow::{anyhow, bail, Result};
use tokio::sync::{mpsc, oneshot};

use super::{guest, Candidate, ProgramLimits, Report, Runtime};

/// How a pool is sized.
#[derive(Clone, Copy, Debug)]
pub struct PoolConfig {
    /// Candidates running at once (at most).
    pub workers: usize,
    /// Jobs waiting beyond those running; `run` waits for room past it.
    pub queue: usize,
    /// Linear memory the running candidates may hold together, in bytes.
    pub memory_budget_bytes: u64,
}

impl Default for PoolConfig {
    /// One worker per core, a queue of two per worker, half the machine's memory.
    fn default() -> PoolConfig {
        let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
        PoolConfig { workers, queue: 2 * workers, memory_budget_bytes: physical_memory().map_or(8 << 30, |m| m / 2) }
    }
}

struct Job {
    candidate: Candidate,
    limits: ProgramLimits,
    /// The submitter's span (a rollout), so the program's span nests in it.
    span: tracing::Span,
    reply: oneshot::Sender<Result<Report>>,
}

pub struct Pool {
    queue: Option<mpsc::Sender<Job>>,
    workers: Vec<JoinHandle<()>>,
    config: PoolConfig,
}

impl Pool {
    pub fn new(runtime: Arc<Runtime>, config: PoolConfig) -> Result<Pool> {
        if config.workers == 0 || config.queue == 0 {
            bail!("a pool needs at least one worker and a queue of at least one");
        }
        let (sender, receiver) = mpsc::channel::<Job>(config.queue);
        let receiver = Arc::new(Mutex::new(receiver));
        let budget = Arc::new(Budget { free: Mutex::new(config.memory_budget_bytes), freed: Condvar::new() });
        let workers = (0..config.workers)
            .map(|i| {
                let (runtime, receiver, budget) = (runtime.clone(), receiver.clone(), budget.clone());
                std::thread::Builder::new()
                    .name(format!("discover-python-{i}"))
                    .stack_size(guest::THREAD_STACK)
                    .spawn(move || work(&runtime, &receiver, &budget, config.memory_budget_bytes))
                    .map_err(|e| anyhow!("cannot start a pool worker: {e}"))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Pool { queue: Some(sender), workers, config })
    }

    pub fn config(&self) -> &PoolConfig {
        &self.config
    }

    /// Run one candidate; waits (asynchronously) for room in the queue, then for
    /// the report.
    pub async fn run(&self, candidate: Candidate, limits: ProgramLimits) -> Result<Report> {
        let (reply, report) = oneshot::channel();
        self.sender()?
            .send(Job { candidate, limits, span: tracing::Span::current(), reply })
            .await
            .map_err(|_| anyhow!("the candidate pool has shut down"))?;
        report.await.map_err(|_| anyhow!("a pool worker stopped before reporting"))?
    }

    /// Queue one candidate from synchronous code; the receiver yields its report.
    /// Blocks while the queue is full. Must not be called inside an async task.
    pub fn submit(&self, candidate: Candidate, limits: ProgramLimits) -> Result<oneshot::Receiver<Result<Report>>> {
        let (reply, report) = oneshot::channel();
        self.sender()?
            .blocking_send(Job { candidate, limits, span: tracing::Span::current(), reply })
            .map_err(|_| anyhow!("the candidate pool has shut down"))?;
        Ok(report)
    }

    /// Run every candidate, at most `workers` at once; reports in input order.
    pub fn run_all(&self, jobs: Vec<(Candidate, ProgramLimits)>) -> Vec<Result<Report>> {
        // Submit from a helper thread so that a queue shorter than `jobs` cannot
        // block us before we start collecting.
        std::thread::scope(|scope| {
            let (tx, rx) = std::sync::mpsc::channel();
            scope.spawn(move || {
                for (candidate, limits) in jobs {
                    let _ = tx.send(self.submit(candidate, limits));
                }
            });
            rx.into_iter()
                .map(|submitted| {
                    submitted.and_then(|report| {
                        report.blocking_recv().map_err(|_| anyhow!("a pool worker stopped before reporting"))?
                    })
                })
                .collect()
        })
    }

    fn sender(&self) -> Result<&mpsc::Sender<Job>> {
        self.queue.as_ref().ok_or_else(|| anyhow!("the candidate pool has shut down"))
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.queue.take(); // workers see the queue close and exit after their job
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

/// Bytes of linear memory not reserved by a running candidate.
struct Budget {
    free: Mutex<u64>,
    freed: Condvar,
}

fn work(runtime: &Runtime, receiver: &Mutex<mpsc::Receiver<Job>>, budget: &Budget, total: u64) {
    loop {
        let job = match receiver.lock() {
            Ok(mut receiver) => receiver.blocking_recv(),
            Err(_) => return,
        };
        let Some(job) = job else { return };
        let need = job.limits.memory_bytes as u64;
        if need > total {
            let _ = job.reply.send(Err(anyhow!(
                "a candidate asks for {} MiB of memory, more than the pool's whole budget of {} MiB",
                need >> 20,
                total >> 20
            )));
            continue;
        }
        {
            let mut free = budget.free.lock().unwrap();
            while *free < need {
                free = budget.freed.wait(free).unwrap();
            }
            *free -= need;
        }
        let report = job.span.in_scope(|| runtime.run_here(&job.candidate, &job.limits));
        *budget.free.lock().unwrap() += need;
        budget.freed.notify_all();
        let _ = job.reply.send(report);
    }
}

/// Total RAM, from /proc/meminfo (Linux); `None` elsewhere.
fn physical_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib << 10)
}
