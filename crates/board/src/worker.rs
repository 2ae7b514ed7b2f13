//! Scoring workers: claim a queued submission under a lease, score it on a
//! blocking thread (the sandboxes are synchronous), renew the lease while it
//! runs, and write the judgement only while the lease is still held.
//!
//! A worker that dies loses nothing: its lease expires and another worker
//! (or the restarted board) puts the submission back in the queue.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use tokio::sync::watch;

use crate::db::Db;
use crate::Scorer;

/// How workers hold and look for jobs.
#[derive(Clone, Debug)]
pub struct WorkerSettings {
    /// A lease lasts this long without renewal.
    pub lease: Duration,
    /// How long an idle worker waits before looking again.
    pub poll: Duration,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        WorkerSettings { lease: Duration::from_secs(60), poll: Duration::from_millis(200) }
    }
}

/// A name for this worker's leases: host, process and index, so the audit
/// trail says who scored what.
pub fn owner_name(index: usize) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_string()).unwrap_or_else(|_| "host".into());
    format!("worker:{host}:{}:{index}", std::process::id())
}

/// Run one worker until `stop` turns true.
pub async fn run(db: Db, scorer: Arc<dyn Scorer>, settings: WorkerSettings, index: usize, mut stop: watch::Receiver<bool>) {
    let owner = owner_name(index);
    tracing::info!(owner, "worker started");
    loop {
        if *stop.borrow() {
            break;
        }
        match once(&db, &scorer, &settings, &owner).await {
            Ok(true) => continue,
            Ok(false) => {}
            Err(e) => tracing::warn!(owner, error = format!("{e:#}"), "worker step failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(settings.poll) => {}
            _ = stop.changed() => {}
        }
    }
    tracing::info!(owner, "worker stopped");
}

/// Requeue expired leases, then claim and score one job. True if a job was
/// taken (look again at once).
pub async fn once(db: &Db, scorer: &Arc<dyn Scorer>, settings: &WorkerSettings, owner: &str) -> Result<bool> {
    for id in db.requeue_expired(owner).await? {
        tracing::warn!(submission = id, "lease expired; queued again");
    }
    let Some(job) = db.claim(owner, settings.lease).await? else { return Ok(false) };
    let span = tracing::info_span!("score", submission = job.id, problem = %job.problem_id, attempt = job.attempts);
    let _entered = span.enter();
    // Renew the lease at a third of its length while the job runs.
    let (done_tx, mut done_rx) = watch::channel(false);
    let renewer = {
        let (db, owner, lease, id) = (db.clone(), owner.to_string(), settings.lease, job.id);
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(lease / 3) => {}
                    _ = done_rx.changed() => return,
                }
                match db.renew(id, &owner, lease).await {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::warn!(submission = id, "lost the lease while scoring");
                        return;
                    }
                    Err(e) => tracing::warn!(submission = id, error = format!("{e:#}"), "could not renew the lease"),
                }
            }
        })
    };
    let started = std::time::Instant::now();
    let result = {
        let (scorer, problem, submission) = (scorer.clone(), job.problem_id.clone(), job.submission.clone());
        tokio::task::spawn_blocking(move || {
            let hash = scorer.verifier_hash(&problem)?;
            let judgement = scorer.judge(&problem, &submission)?;
            let picture = draw(scorer.as_ref(), &problem, judgement.solution.as_deref());
            Ok::<_, anyhow::Error>((judgement, hash, picture))
        })
        .await
    };
    let _ = done_tx.send(true);
    let _ = renewer.await;
    let kept = match result {
        Ok(Ok((judgement, hash, picture))) => {
            tracing::info!(
                valid = judgement.valid,
                score = judgement.score,
                failure = judgement.failure.as_deref(),
                seconds = started.elapsed().as_secs_f64(),
                "scored"
            );
            db.finish(job.id, owner, &judgement, &hash, picture.as_deref()).await?
        }
        Ok(Err(e)) => {
            tracing::warn!(error = format!("{e:#}"), "scoring failed on the host's side");
            db.host_error(job.id, owner, job.attempts, &format!("{e:#}")).await?
        }
        Err(panic) => {
            tracing::error!(error = %panic, "the scorer panicked");
            db.host_error(job.id, owner, job.attempts, "the scorer panicked").await?
        }
    };
    if !kept {
        tracing::warn!(submission = job.id, "the lease was lost; this result was dropped (another worker scores it)");
    }
    Ok(true)
}

/// The picture of a judged solution, drawn once here so that no page view
/// runs the verifier. A solution that cannot be drawn (an invalid one may run
/// the verifier out of fuel) has none; that is not the submission's failure.
pub fn draw(scorer: &dyn Scorer, problem: &str, solution: Option<&[f64]>) -> Option<String> {
    let values = solution?;
    match scorer.picture(problem, values) {
        Ok(picture) => picture,
        Err(e) => {
            tracing::info!(problem, error = format!("{e:#}"), "the solution could not be drawn; stored without a picture");
            None
        }
    }
}
