//! # discover-board
//!
//! A community leaderboard: anyone with a token submits a solution or a
//! program for a problem; it is stored, then scored in the same sandboxes a
//! discovery run uses, and ranked. No container runtime: the verifier runs in
//! Wasm, programs in the Python/C++ sandboxes or a pack's native plugin.
//!
//! - [`db`]: the schema and every query, over SQLite (the default, one file)
//!   or PostgreSQL (workers on many machines); leases make scoring
//!   crash-safe.
//! - [`worker`]: claim, score, renew, finish.
//! - [`server`]: the HTTP API (submissions with abuse limits, JSON reads),
//!   the HTML pages, security headers.
//! - [`pages`]: HTML rendering, escaped throughout.
//! - [`names`]: the rule for display names (NFKC, no invisible or bidi
//!   characters, one script, no confusable twins).
//!
//! Depends on the library crates (the rollout layer's `Judge` scores), never
//! on the CLI; the CLI's `discover board` calls [`serve`], [`run_workers`] and
//! the admin functions here.

pub mod db;
pub mod names;
pub mod pages;
pub mod server;
pub mod worker;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, Result};
use discover_rollout::judge::{Judge, Judgement, Submission};

use crate::db::{Backend, Db, ProblemRow};

/// What the board needs of a scorer; [`Judge`] is the real one.
pub trait Scorer: Send + Sync + 'static {
    fn judge(&self, problem: &str, submission: &Submission) -> Result<Judgement>;
    fn verifier_hash(&self, problem: &str) -> Result<String>;
    fn picture(&self, problem: &str, values: &[f64]) -> Result<Option<String>>;
    /// The problem as the board lists it (show_source false).
    fn describe(&self, problem: &str) -> Result<ProblemRow>;
}

impl Scorer for Judge {
    fn judge(&self, problem: &str, submission: &Submission) -> Result<Judgement> {
        Judge::judge(self, problem, submission)
    }

    fn verifier_hash(&self, problem: &str) -> Result<String> {
        Judge::verifier_hash(self, problem)
    }

    fn picture(&self, problem: &str, values: &[f64]) -> Result<Option<String>> {
        Judge::picture(self, problem, values)
    }

    fn describe(&self, problem: &str) -> Result<ProblemRow> {
        let resolved = self.problem(problem)?;
        let spec = resolved.spec();
        let accepts = self.accepts(problem)?;
        Ok(ProblemRow {
            id: spec.id.clone(),
            title: spec.title.clone(),
            direction: spec.direction.to_string(),
            statement: spec.statement.clone(),
            best_known: spec.best_known.as_ref().map(|b| b.value),
            best_known_source: spec.best_known.as_ref().map(|b| b.source.clone()),
            accepts: serde_json::to_string(&accepts)?,
            verifier_hash: self.verifier_hash(problem)?,
            show_source: false,
        })
    }
}

/// How `discover board serve` runs.
#[derive(Clone, Debug)]
pub struct ServeSettings {
    pub bind: SocketAddr,
    /// Scoring workers in this process (0: only remote `board worker`s score).
    pub workers: usize,
    pub limits: server::Limits,
    pub worker: worker::WorkerSettings,
}

/// Make sure every enabled problem's verifier hash is the one this machine
/// scores with; a changed verifier is recorded (old scores leave the board
/// until `rescore`).
pub async fn sync_verifiers(db: &Db, scorer: &Arc<dyn Scorer>) -> Result<()> {
    for p in db.problems().await? {
        let (s, id) = (scorer.clone(), p.id.clone());
        let hash = match tokio::task::spawn_blocking(move || s.verifier_hash(&id)).await? {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!(problem = %p.id, error = format!("{e:#}"), "cannot load an enabled problem; its submissions wait");
                continue;
            }
        };
        if hash != p.verifier_hash {
            tracing::warn!(
                problem = %p.id,
                "the verifier changed since the problem was enabled; scores of the old one leave the board: run `discover board rescore {}`",
                p.id
            );
            db.set_verifier_hash(&p.id, &hash).await?;
        }
    }
    Ok(())
}

/// Serve the board until `shutdown` resolves. `bound` learns the address.
pub async fn serve(
    db: Db,
    scorer: Arc<dyn Scorer>,
    settings: ServeSettings,
    bound: impl FnOnce(SocketAddr),
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    sync_verifiers(&db, &scorer).await?;
    if db.backend == Backend::Sqlite {
        // A SQLite board is one process: whatever was running belonged to
        // the process that died.
        let ids = db.requeue_all_running("board:restart").await?;
        if !ids.is_empty() {
            tracing::warn!(count = ids.len(), "queued again the submissions that were running when the board stopped");
        }
    }
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut workers = Vec::new();
    for i in 0..settings.workers {
        workers.push(tokio::spawn(worker::run(db.clone(), scorer.clone(), settings.worker.clone(), i, stop_rx.clone())));
    }
    let app = Arc::new(server::App::new(db, scorer, settings.limits.clone()));
    let served = server::serve(app, settings.bind, bound, shutdown).await;
    let _ = stop_tx.send(true);
    for w in workers {
        let _ = w.await;
    }
    served
}

/// `discover board worker`: `count` workers until `shutdown`.
pub async fn run_workers(
    db: Db,
    scorer: Arc<dyn Scorer>,
    count: usize,
    settings: worker::WorkerSettings,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let handles: Vec<_> =
        (0..count).map(|i| tokio::spawn(worker::run(db.clone(), scorer.clone(), settings.clone(), i, stop_rx.clone()))).collect();
    shutdown.await;
    let _ = stop_tx.send(true);
    for h in handles {
        h.await.context("a worker panicked")?;
    }
    Ok(())
}

/// Enable `problem` (its spec and verifier from `scorer`).
pub async fn enable_problem(db: &Db, scorer: Arc<dyn Scorer>, problem: &str, show_source: bool) -> Result<ProblemRow> {
    let id = problem.to_string();
    let mut row = tokio::task::spawn_blocking(move || scorer.describe(&id)).await??;
    row.show_source = show_source;
    db.put_problem(&row).await?;
    Ok(row)
}
