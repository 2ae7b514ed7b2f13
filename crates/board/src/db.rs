//! The board's database: one set of queries over SQLite or PostgreSQL
//! (sqlx's `Any` driver, `$N` placeholders, which both accept).
//!
//! Every state change of a submission and its audit row are written in one
//! transaction. A job is held under a lease: a worker claims a queued
//! submission (PostgreSQL: `FOR UPDATE SKIP LOCKED`, so many workers never
//! claim the same one; SQLite: one writer at a time), renews the lease while
//! it scores, and finishes only if it still holds the lease, so a result is
//! written once even when a worker that was presumed dead comes back.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::any::{AnyPoolOptions, AnyRow};
// Every SQL string built with format! below joins constants of this file
// (column lists, the backend's claim clause), never request data.
use sqlx::migrate::Migrate;
use sqlx::{AnyPool, AssertSqlSafe, Row};

use discover_rollout::judge::{Judgement, Submission};

/// Which database a URL names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A submission's states: queued -> running -> scored | invalid | failed.
pub const FINAL_STATES: [&str; 3] = ["scored", "invalid", "failed"];

/// Attempts a submission gets when scoring fails on the host's side
/// (not the submission's): then it is `failed`.
pub const MAX_ATTEMPTS: i64 = 3;

pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// 256 random bits as hex: an API token or a session id.
fn random_token() -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness for a token: {e}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// SHA-256 of a token, as hex: what the users table keeps.
pub fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Clone)]
pub struct Db {
    pub pool: AnyPool,
    pub backend: Backend,
}

#[derive(Clone, Debug, Serialize)]
pub struct User {
    pub id: i64,
    pub name: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct ProblemRow {
    pub id: String,
    pub title: String,
    pub direction: String,
    pub statement: String,
    pub best_known: Option<f64>,
    pub best_known_source: Option<String>,
    /// JSON: `{"solutions": bool, "languages": [...]}`.
    pub accepts: String,
    pub verifier_hash: String,
    pub show_source: bool,
}

impl ProblemRow {
    pub fn maximize(&self) -> bool {
        self.direction == "maximize"
    }

    /// True if `a` ranks above `b` on this problem.
    pub fn better(&self, a: f64, b: f64) -> bool {
        if self.maximize() { a > b } else { a < b }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct SubmissionRow {
    pub id: i64,
    pub problem_id: String,
    pub user_id: i64,
    pub user_name: String,
    pub kind: String,
    pub language: Option<String>,
    pub body: String,
    pub state: String,
    pub score: Option<f64>,
    pub reason: Option<String>,
    pub failure: Option<String>,
    pub output: Option<String>,
    pub metrics: Option<String>,
    pub solution: Option<String>,
    pub verifier_hash: Option<String>,
    pub attempts: i64,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub scored_ms: Option<i64>,
    /// The source, and all that is derived from it, is public: fixed when it
    /// was submitted, from the problem's `show_source` then.
    pub source_public: bool,
    /// Whether a picture of the solution is stored; `None`: not drawn yet.
    pub has_picture: Option<bool>,
}

/// A submission as lists show it.
#[derive(Clone, Debug, Serialize)]
pub struct SubmissionLine {
    pub id: i64,
    pub problem_id: String,
    pub state: String,
    pub score: Option<f64>,
    pub created_ms: i64,
}

#[derive(Clone, Debug, Serialize)]
pub struct AuditRow {
    pub at_ms: i64,
    pub actor: String,
    pub from_state: Option<String>,
    pub to_state: String,
    pub detail: Option<String>,
}

/// A claimed job.
#[derive(Clone, Debug)]
pub struct Job {
    pub id: i64,
    pub problem_id: String,
    pub submission: Submission,
    pub attempts: i64,
}

/// What an insert did.
#[derive(Clone, Debug, PartialEq)]
pub enum Inserted {
    New(i64),
    /// The same Idempotency-Key and body as an earlier submission: that one.
    Existing(i64),
    /// The same key with another body.
    Conflict(i64),
    /// Refused: the user already has this many queued or running.
    UserQueueFull(i64),
    /// Refused: the board's queue holds this many.
    QueueFull(i64),
}

/// The queue caps an insert is decided under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueCaps {
    /// A user's queued or running submissions at once.
    pub user_queue: i64,
    /// Queued submissions at once, everyone's.
    pub queue: i64,
}

impl QueueCaps {
    /// No caps (admin tools and tests).
    pub const NONE: QueueCaps = QueueCaps { user_queue: i64::MAX, queue: i64::MAX };
}

/// The PostgreSQL advisory lock that serialises submission inserts.
const SUBMIT_LOCK: i64 = 0x6469_7363_6f76_6572; // "discover"

/// An idempotency key as stored: scoped to its problem. The length prefix
/// keeps it unambiguous whatever the id holds (PostgreSQL text takes no NUL).
fn scoped_key(problem: &str, key: &str) -> String {
    format!("{}:{problem}:{key}", problem.len())
}

/// One leaderboard line: a user's best valid submission.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Standing {
    pub rank: usize,
    pub user_id: i64,
    pub user_name: String,
    pub submission_id: i64,
    pub score: f64,
    pub scored_ms: i64,
    pub created_ms: i64,
}

const SUBMISSION_COLUMNS: &str = "s.id, s.problem_id, s.user_id, u.name AS user_name, s.kind, s.language, s.body, s.state, \
     s.score, s.reason, s.failure, s.output, s.metrics, s.solution, s.verifier_hash, s.attempts, s.created_ms, \
     s.updated_ms, s.scored_ms, s.source_public, s.has_picture";

fn submission_row(r: &AnyRow) -> Result<SubmissionRow> {
    Ok(SubmissionRow {
        id: r.try_get("id")?,
        problem_id: r.try_get("problem_id")?,
        user_id: r.try_get("user_id")?,
        user_name: r.try_get("user_name")?,
        kind: r.try_get("kind")?,
        language: r.try_get("language")?,
        body: r.try_get("body")?,
        state: r.try_get("state")?,
        score: r.try_get("score")?,
        reason: r.try_get("reason")?,
        failure: r.try_get("failure")?,
        output: r.try_get("output")?,
        metrics: r.try_get("metrics")?,
        solution: r.try_get("solution")?,
        verifier_hash: r.try_get("verifier_hash")?,
        attempts: r.try_get("attempts")?,
        created_ms: r.try_get("created_ms")?,
        updated_ms: r.try_get("updated_ms")?,
        scored_ms: r.try_get("scored_ms")?,
        source_public: r.try_get::<i64, _>("source_public")? != 0,
        has_picture: r.try_get::<Option<i64>, _>("has_picture")?.map(|v| v != 0),
    })
}

fn problem_row(r: &AnyRow) -> Result<ProblemRow> {
    Ok(ProblemRow {
        id: r.try_get("id")?,
        title: r.try_get("title")?,
        direction: r.try_get("direction")?,
        statement: r.try_get("statement")?,
        best_known: r.try_get("best_known")?,
        best_known_source: r.try_get("best_known_source")?,
        accepts: r.try_get("accepts")?,
        verifier_hash: r.try_get("verifier_hash")?,
        show_source: r.try_get::<i64, _>("show_source")? != 0,
    })
}

async fn audit(
    conn: &mut sqlx::AnyConnection,
    id: i64,
    actor: &str,
    from: Option<&str>,
    to: &str,
    detail: Option<&str>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO audit (submission_id, at_ms, actor, from_state, to_state, detail) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(now_ms())
    .bind(actor)
    .bind(from)
    .bind(to)
    .bind(detail)
    .execute(conn)
    .await?;
    Ok(())
}

/// A scored submission, as the standings need it.
struct Scored {
    problem_id: String,
    user_id: i64,
    submission_id: i64,
    score: f64,
    created_ms: i64,
    scored_ms: i64,
}

/// Keep the read tables current with one newly scored submission: an
/// improvement when it beats the problem's best, the user's standing when it
/// beats the user's best (ties keep the earlier). One upsert: two workers
/// finishing at once cannot both win.
async fn record_scored(conn: &mut sqlx::AnyConnection, s: &Scored, verifier_hash: &str) -> Result<()> {
    let direction: Option<String> = sqlx::query_scalar("SELECT direction FROM problems WHERE id = $1")
        .bind(&s.problem_id)
        .fetch_optional(&mut *conn)
        .await?;
    let maximize = direction.as_deref() == Some("maximize");
    let (order, beats) = if maximize { ("DESC", ">") } else { ("ASC", "<") };
    let best: Option<f64> = sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT score FROM standings WHERE problem_id = $1 AND verifier_hash = $2 ORDER BY score {order} LIMIT 1"
    )))
    .bind(&s.problem_id)
    .bind(verifier_hash)
    .fetch_optional(&mut *conn)
    .await?;
    if best.is_none_or(|b| if maximize { s.score > b } else { s.score < b }) {
        sqlx::query("INSERT INTO improvements (problem_id, verifier_hash, submission_id, score, scored_ms) VALUES ($1, $2, $3, $4, $5)")
            .bind(&s.problem_id)
            .bind(verifier_hash)
            .bind(s.submission_id)
            .bind(s.score)
            .bind(s.scored_ms)
            .execute(&mut *conn)
            .await?;
    }
    sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO standings (problem_id, verifier_hash, user_id, submission_id, score, created_ms, scored_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (problem_id, verifier_hash, user_id) DO UPDATE SET \
         submission_id = excluded.submission_id, score = excluded.score, created_ms = excluded.created_ms, \
         scored_ms = excluded.scored_ms WHERE excluded.score {beats} standings.score"
    )))
    .bind(&s.problem_id)
    .bind(verifier_hash)
    .bind(s.user_id)
    .bind(s.submission_id)
    .bind(s.score)
    .bind(s.created_ms)
    .bind(s.scored_ms)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Fill the read tables from the stored scored submissions, in the order
/// they were scored (the migration to version 3 of a board from before).
async fn rebuild_reads(conn: &mut sqlx::AnyConnection) -> Result<()> {
    let rows = sqlx::query(
        "SELECT id, problem_id, user_id, score, verifier_hash, created_ms, COALESCE(scored_ms, updated_ms) AS scored_ms \
         FROM submissions WHERE state = 'scored' AND score IS NOT NULL AND verifier_hash IS NOT NULL ORDER BY scored_ms, id",
    )
    .fetch_all(&mut *conn)
    .await?;
    for r in &rows {
        let scored = Scored {
            problem_id: r.try_get("problem_id")?,
            user_id: r.try_get("user_id")?,
            submission_id: r.try_get("id")?,
            score: r.try_get("score")?,
            created_ms: r.try_get("created_ms")?,
            scored_ms: r.try_get("scored_ms")?,
        };
        let hash: String = r.try_get("verifier_hash")?;
        record_scored(conn, &scored, &hash).await?;
    }
    Ok(())
}

/// The migrations of each backend, embedded at compile time.
static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// Record as applied, in sqlx's table, the versions a board recorded in its
/// own `board_migrations` table before sqlx kept them; then drop that table.
async fn adopt_legacy_migrations(conn: &mut sqlx::AnyConnection, migrator: &sqlx::migrate::Migrator) -> Result<()> {
    // A board without the old table has nothing to adopt.
    let Ok(legacy) = sqlx::query_scalar::<_, i64>("SELECT version FROM board_migrations").fetch_all(&mut *conn).await else {
        return Ok(());
    };
    let table = migrator.table_name.as_ref();
    let applied: Vec<i64> = conn.list_applied_migrations(table).await?.into_iter().map(|m| m.version).collect();
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    for version in legacy.into_iter().filter(|v| !applied.contains(v)) {
        let Some(m) = migrator.iter().find(|m| m.version == version) else {
            bail!("the database has schema version {version}, newer than this discover knows; upgrade discover");
        };
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO {table} (version, description, success, checksum, execution_time) VALUES ($1, $2, TRUE, $3, 0)"
        )))
        .bind(version)
        .bind(m.description.to_string())
        .bind(m.checksum.to_vec())
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query("DROP TABLE board_migrations").execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(())
}

/// Replace a submission's stored picture (a rescore draws it again).
async fn write_picture(conn: &mut sqlx::AnyConnection, id: i64, picture: Option<&str>) -> Result<()> {
    sqlx::query("DELETE FROM pictures WHERE submission_id = $1").bind(id).execute(&mut *conn).await?;
    if let Some(svg) = picture {
        sqlx::query("INSERT INTO pictures (submission_id, svg) VALUES ($1, $2)").bind(id).bind(svg).execute(&mut *conn).await?;
    }
    Ok(())
}

impl Db {
    /// Open (creating a SQLite file if needed) and migrate. `url` is a
    /// `postgres://` URL, a `sqlite:` URL, or a file path (SQLite).
    pub async fn open(url: &str, max_connections: u32) -> Result<Db> {
        sqlx::any::install_default_drivers();
        let (url, backend) = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            (url.to_string(), Backend::Postgres)
        } else if url.starts_with("sqlite:") {
            (url.to_string(), Backend::Sqlite)
        } else {
            let path = std::path::Path::new(url);
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            }
            (format!("sqlite://{url}?mode=rwc"), Backend::Sqlite)
        };
        let pool = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { max_connections.min(8) } else { max_connections })
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL: readers never wait for the writer; a writer waits up
                        // to 10 s for another instead of failing at once.
                        sqlx::query("PRAGMA journal_mode = WAL").execute(&mut *conn).await?;
                        sqlx::query("PRAGMA busy_timeout = 10000").execute(&mut *conn).await?;
                        sqlx::query("PRAGMA foreign_keys = ON").execute(&mut *conn).await?;
                        sqlx::query("PRAGMA synchronous = FULL").execute(&mut *conn).await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await
            .with_context(|| format!("cannot open the database {}", redact(&url)))?;
        let db = Db { pool, backend };
        db.migrate().await?;
        Ok(db)
    }

    /// Apply the migrations this binary knows and the database has not seen
    /// (sqlx's migrator, one folder of SQL files per backend, recorded in
    /// `_sqlx_migrations`). A board made before sqlx kept them recorded its
    /// versions in `board_migrations`: those are adopted first.
    async fn migrate(&self) -> Result<()> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        let table = migrator.table_name.as_ref();
        let applied = {
            let mut conn = self.pool.acquire().await?;
            conn.ensure_migrations_table(table).await.context("creating the migrations table")?;
            adopt_legacy_migrations(&mut conn, migrator).await?;
            conn.list_applied_migrations(table).await?.into_iter().map(|m| m.version).collect::<Vec<i64>>()
        };
        let known = migrator.iter().map(|m| m.version).max().unwrap_or(0);
        migrator.run(&self.pool).await.map_err(|e| match e {
            sqlx::migrate::MigrateError::VersionMissing(v) => {
                anyhow::anyhow!("the database has schema version {v}, newer than this discover knows ({known}); upgrade discover")
            }
            e => anyhow::Error::new(e).context("migrating the board's database"),
        })?;
        if !applied.contains(&3) {
            // Version 3 keeps the read tables: a board from before gets them
            // from what it stored (nothing to do on a new board).
            self.rebuild_read_tables().await?;
        }
        Ok(())
    }

    /// Rebuild the standings and the improvements from the stored scored
    /// submissions (after a bulk load; the migration to version 3 does it).
    pub async fn rebuild_read_tables(&self) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM standings").execute(&mut *tx).await?;
        sqlx::query("DELETE FROM improvements").execute(&mut *tx).await?;
        rebuild_reads(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    // ---- users ----

    /// Add a user; returns it and its API token (shown once, stored hashed).
    pub async fn add_user(&self, name: &str) -> Result<(User, String)> {
        let name = crate::names::normalise(name).map_err(anyhow::Error::msg)?;
        let name = name.as_str();
        let skeleton = crate::names::skeleton(name);
        let existing: Vec<String> = sqlx::query_scalar("SELECT name FROM users").fetch_all(&self.pool).await?;
        if let Some(twin) = existing.iter().find(|e| crate::names::skeleton(e) == skeleton) {
            bail!("the name {name:?} looks like the existing user {twin:?}; choose another");
        }
        let token = random_token()?;
        let id: i64 = sqlx::query_scalar("INSERT INTO users (name, token_hash, created_ms) VALUES ($1, $2, $3) RETURNING id")
            .bind(name)
            .bind(token_hash(&token))
            .bind(now_ms())
            .fetch_one(&self.pool)
            .await
            .map_err(|e| match &e {
                sqlx::Error::Database(d) if d.is_unique_violation() => anyhow::anyhow!("a user named {name:?} exists already"),
                _ => anyhow::Error::new(e).context("adding a user"),
            })?;
        Ok((User { id, name: name.to_string() }, token))
    }

    pub async fn user_by_token(&self, token: &str) -> Result<Option<User>> {
        let row = sqlx::query("SELECT id, name FROM users WHERE token_hash = $1")
            .bind(token_hash(token))
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok(User { id: r.try_get("id")?, name: r.try_get("name")? })).transpose()
    }

    /// A sign-in session for `user`, valid for `ttl`: its random id (for the
    /// cookie; stored hashed). Separate from the API token, so a cookie that
    /// leaks is not the token, and signing out ends it.
    pub async fn create_session(&self, user: &User, ttl: Duration) -> Result<String> {
        let token = random_token()?;
        let now = now_ms();
        sqlx::query("INSERT INTO sessions (token_hash, user_id, created_ms, expires_ms) VALUES ($1, $2, $3, $4)")
            .bind(token_hash(&token))
            .bind(user.id)
            .bind(now)
            .bind(now + ttl.as_millis() as i64)
            .execute(&self.pool)
            .await?;
        Ok(token)
    }

    /// The user of a live session.
    pub async fn user_by_session(&self, token: &str) -> Result<Option<User>> {
        let row = sqlx::query(
            "SELECT u.id, u.name FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1 AND s.expires_ms > $2",
        )
        .bind(token_hash(token))
        .bind(now_ms())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| Ok(User { id: r.try_get("id")?, name: r.try_get("name")? })).transpose()
    }

    /// End a session (sign-out), and drop every expired one.
    pub async fn delete_session(&self, token: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1 OR expires_ms <= $2")
            .bind(token_hash(token))
            .bind(now_ms())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn user(&self, id: i64) -> Result<Option<User>> {
        let row = sqlx::query("SELECT id, name FROM users WHERE id = $1").bind(id).fetch_optional(&self.pool).await?;
        row.map(|r| Ok(User { id: r.try_get("id")?, name: r.try_get("name")? })).transpose()
    }

    // ---- problems ----

    /// Enable (or update) a problem.
    pub async fn put_problem(&self, p: &ProblemRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO problems (id, title, direction, statement, best_known, best_known_source, accepts, verifier_hash, \
             show_source, enabled, updated_ms) VALUES ($1, $2, $3, $4, CASE WHEN $11 = 1 THEN CAST($5 AS DOUBLE PRECISION) ELSE NULL END, \
             $6, $7, $8, $9, 1, $10) ON CONFLICT (id) DO UPDATE SET title = $2, direction = $3, statement = $4, \
             best_known = CASE WHEN $11 = 1 THEN CAST($5 AS DOUBLE PRECISION) ELSE NULL END, \
             best_known_source = $6, accepts = $7, verifier_hash = $8, show_source = $9, enabled = 1, updated_ms = $10",
        )
        .bind(&p.id)
        .bind(&p.title)
        .bind(&p.direction)
        .bind(&p.statement)
        .bind(p.best_known.unwrap_or(0.0))
        .bind(&p.best_known_source)
        .bind(&p.accepts)
        .bind(&p.verifier_hash)
        .bind(p.show_source as i64)
        .bind(now_ms())
        .bind(p.best_known.is_some() as i64)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn set_verifier_hash(&self, id: &str, hash: &str) -> Result<()> {
        sqlx::query("UPDATE problems SET verifier_hash = $1, updated_ms = $2 WHERE id = $3")
            .bind(hash)
            .bind(now_ms())
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn problem(&self, id: &str) -> Result<Option<ProblemRow>> {
        let row = sqlx::query("SELECT * FROM problems WHERE id = $1 AND enabled = 1").bind(id).fetch_optional(&self.pool).await?;
        row.as_ref().map(problem_row).transpose()
    }

    pub async fn problems(&self) -> Result<Vec<ProblemRow>> {
        let rows = sqlx::query("SELECT * FROM problems WHERE enabled = 1 ORDER BY id").fetch_all(&self.pool).await?;
        rows.iter().map(problem_row).collect()
    }

    // ---- submissions ----

    /// A write transaction that holds the submissions' insert lock from its
    /// first statement: SQLite's `BEGIN IMMEDIATE` takes the database's one
    /// write lock (a deferred transaction would count, then fail or race when
    /// it writes); PostgreSQL takes a transaction-scoped advisory lock. So a
    /// count and the insert it allows are one decision.
    async fn begin_insert(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => {
                let mut tx = self.pool.begin().await?;
                // In FROM, so the one column is an integer, not the function's void.
                sqlx::query("SELECT 1 FROM pg_advisory_xact_lock($1)").bind(SUBMIT_LOCK).execute(&mut *tx).await?;
                tx
            }
        })
    }

    /// Store a submission as `queued` (with its audit row) and commit before
    /// returning. In the same transaction, under one lock: an idempotency key
    /// (scoped to the user *and* the problem) answers a retry with the first
    /// submission, before the caps (a retry adds nothing to the queue); then
    /// the user's and the board's queue caps are checked, so parallel requests
    /// can never take more than the caps allow.
    pub async fn insert_submission(
        &self,
        user: &User,
        problem: &ProblemRow,
        submission: &Submission,
        idempotency_key: Option<&str>,
        caps: QueueCaps,
    ) -> Result<Inserted> {
        let body = serde_json::to_string(submission)?;
        // Stored with its problem (`scoped_key`): the table's UNIQUE
        // (user_id, idempotency_key) then holds per (user, problem, key).
        let key = idempotency_key.map(|k| scoped_key(&problem.id, k));
        let mut tx = self.begin_insert().await?;
        if let Some(key) = &key {
            if let Some(r) = sqlx::query("SELECT id, body FROM submissions WHERE user_id = $1 AND idempotency_key = $2")
                .bind(user.id)
                .bind(key)
                .fetch_optional(&mut *tx)
                .await?
            {
                let id: i64 = r.try_get("id")?;
                let same: String = r.try_get("body")?;
                return Ok(if same == body { Inserted::Existing(id) } else { Inserted::Conflict(id) });
            }
        }
        let mine: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM submissions WHERE user_id = $1 AND state IN ('queued', 'running')")
            .bind(user.id)
            .fetch_one(&mut *tx)
            .await?;
        if mine >= caps.user_queue {
            return Ok(Inserted::UserQueueFull(mine));
        }
        let queued: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM submissions WHERE state = 'queued'").fetch_one(&mut *tx).await?;
        if queued >= caps.queue {
            return Ok(Inserted::QueueFull(queued));
        }
        let language = match submission {
            Submission::Program { language, .. } => Some(language.as_str()),
            Submission::Solution { .. } => None,
        };
        let now = now_ms();
        let id = sqlx::query_scalar::<_, i64>(
            "INSERT INTO submissions (problem_id, user_id, kind, language, body, idempotency_key, state, created_ms, updated_ms, \
             source_public) VALUES ($1, $2, $3, $4, $5, $6, 'queued', $7, $7, $8) RETURNING id",
        )
        .bind(&problem.id)
        .bind(user.id)
        .bind(submission.kind())
        .bind(language)
        .bind(&body)
        .bind(key.as_deref())
        .bind(now)
        .bind(problem.show_source as i64)
        .fetch_one(&mut *tx)
        .await?;
        audit(&mut tx, id, &format!("user:{}", user.id), None, "queued", None).await?;
        tx.commit().await?;
        Ok(Inserted::New(id))
    }

    /// Put back every `running` submission whose lease has expired (its
    /// worker died), each with an audit row.
    pub async fn requeue_expired(&self, actor: &str) -> Result<Vec<i64>> {
        self.requeue_running(actor, Some(now_ms())).await
    }

    /// Put back every `running` submission: at the start of a SQLite board,
    /// whose scorers all lived in the process that died.
    pub async fn requeue_all_running(&self, actor: &str) -> Result<Vec<i64>> {
        self.requeue_running(actor, None).await
    }

    async fn requeue_running(&self, actor: &str, expired_before: Option<i64>) -> Result<Vec<i64>> {
        // A job whose scoring died MAX_ATTEMPTS times (it may be what kills
        // its workers) is `failed` instead of queued for ever.
        let mut tx = self.pool.begin().await?;
        let rows = sqlx::query(
            "UPDATE submissions SET state = CASE WHEN attempts >= $3 THEN 'failed' ELSE 'queued' END, \
             failure = CASE WHEN attempts >= $3 THEN 'host' ELSE failure END, \
             reason = CASE WHEN attempts >= $3 THEN 'its scoring was interrupted on every attempt' ELSE reason END, \
             lease_owner = NULL, lease_until_ms = NULL, updated_ms = $1 \
             WHERE state = 'running' AND (CAST($2 AS BIGINT) < 0 OR lease_until_ms < CAST($2 AS BIGINT)) RETURNING id, state",
        )
        .bind(now_ms())
        .bind(expired_before.unwrap_or(-1))
        .bind(MAX_ATTEMPTS)
        .fetch_all(&mut *tx)
        .await?;
        let mut ids = Vec::new();
        for r in rows {
            let id: i64 = r.try_get("id")?;
            let state: String = r.try_get("state")?;
            let detail = if expired_before.is_some() { "the worker's lease expired" } else { "the board restarted" };
            audit(&mut tx, id, actor, Some("running"), &state, Some(detail)).await?;
            ids.push(id);
        }
        tx.commit().await?;
        Ok(ids)
    }

    /// Claim a queued submission for `owner` until `lease`: the oldest one of
    /// the user whose last claim is the oldest (never-served users first), so
    /// claims rotate between users and one user's many or slow programs
    /// delay another's submission by at most one job per worker.
    pub async fn claim(&self, owner: &str, lease: Duration) -> Result<Option<Job>> {
        const FAIR: &str = "SELECT s.id FROM submissions s WHERE s.state = 'queued' ORDER BY \
             (SELECT COALESCE(MAX(c.claimed_ms), 0) FROM submissions c WHERE c.user_id = s.user_id), s.id LIMIT 1";
        let pick = match self.backend {
            Backend::Postgres => format!("{FAIR} FOR UPDATE SKIP LOCKED"),
            Backend::Sqlite => FAIR.to_string(),
        };
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(AssertSqlSafe(format!(
            "UPDATE submissions SET state = 'running', lease_owner = $1, lease_until_ms = $2, attempts = attempts + 1, \
             updated_ms = $3, claimed_ms = $3 WHERE id = ({pick}) AND state = 'queued' RETURNING id, problem_id, body, attempts"
        )))
        .bind(owner)
        .bind(now + lease.as_millis() as i64)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let id: i64 = row.try_get("id")?;
        let attempts: i64 = row.try_get("attempts")?;
        audit(&mut tx, id, owner, Some("queued"), "running", Some(&format!("attempt {attempts}"))).await?;
        tx.commit().await?;
        let body: String = row.try_get("body")?;
        let submission = serde_json::from_str(&body).with_context(|| format!("submission {id} has a malformed body"))?;
        Ok(Some(Job { id, problem_id: row.try_get("problem_id")?, submission, attempts }))
    }

    /// Extend a lease; false if `owner` no longer holds it.
    pub async fn renew(&self, id: i64, owner: &str, lease: Duration) -> Result<bool> {
        let done = sqlx::query("UPDATE submissions SET lease_until_ms = $1 WHERE id = $2 AND lease_owner = $3 AND state = 'running'")
            .bind(now_ms() + lease.as_millis() as i64)
            .bind(id)
            .bind(owner)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Record a judgement, if `owner` still holds the job; false if it does
    /// not (the result is dropped: someone else scores it).
    /// `picture`: the solution's picture, drawn by the worker once (`None`:
    /// the problem draws none, or the solution could not be drawn).
    pub async fn finish(&self, id: i64, owner: &str, judgement: &Judgement, verifier_hash: &str, picture: Option<&str>) -> Result<bool> {
        // A NULL bound for a number makes PostgreSQL prepare the statement
        // with another parameter type (and reject the next real number on
        // that connection): numbers are always bound, NULL chosen in SQL.
        let score = judgement.score.filter(|s| s.is_finite() && judgement.valid);
        let state = if score.is_some() { "scored" } else { "invalid" };
        let metrics = serde_json::to_string(&judgement.metrics)?;
        let solution = judgement.solution.as_ref().map(serde_json::to_string).transpose()?;
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE submissions SET state = $1, score = CASE WHEN $12 = 1 THEN CAST($2 AS DOUBLE PRECISION) ELSE NULL END, \
             reason = $3, failure = $4, output = $5, metrics = $6, solution = $7, verifier_hash = $8, lease_owner = NULL, \
             lease_until_ms = NULL, updated_ms = $9, scored_ms = $9, has_picture = $13 \
             WHERE id = $10 AND state = 'running' AND lease_owner = $11 RETURNING problem_id, user_id, created_ms",
        )
        .bind(state)
        .bind(score.unwrap_or(0.0))
        .bind(&judgement.reason)
        .bind(&judgement.failure)
        .bind(&judgement.output)
        .bind(metrics)
        .bind(solution)
        .bind(verifier_hash)
        .bind(now)
        .bind(id)
        .bind(owner)
        .bind(score.is_some() as i64)
        .bind(picture.is_some() as i64)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(done) = done else { return Ok(false) };
        write_picture(&mut tx, id, picture).await?;
        if let Some(score) = score {
            let scored = Scored {
                problem_id: done.try_get("problem_id")?,
                user_id: done.try_get("user_id")?,
                submission_id: id,
                score,
                created_ms: done.try_get("created_ms")?,
                scored_ms: now,
            };
            record_scored(&mut tx, &scored, verifier_hash).await?;
        }
        let detail = match (&judgement.score, &judgement.failure) {
            (Some(s), _) if judgement.valid => format!("score {s}"),
            (_, Some(f)) => f.clone(),
            _ => "invalid".into(),
        };
        audit(&mut tx, id, owner, Some("running"), state, Some(&detail)).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Scoring failed on the host's side: back to the queue, or `failed`
    /// after [`MAX_ATTEMPTS`].
    pub async fn host_error(&self, id: i64, owner: &str, attempts: i64, error: &str) -> Result<bool> {
        let state = if attempts >= MAX_ATTEMPTS { "failed" } else { "queued" };
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE submissions SET state = $1, reason = $2, failure = $3, lease_owner = NULL, lease_until_ms = NULL, \
             updated_ms = $4 WHERE id = $5 AND state = 'running' AND lease_owner = $6",
        )
        .bind(state)
        .bind(if state == "failed" { Some(error) } else { None })
        .bind(if state == "failed" { Some("host") } else { None })
        .bind(now_ms())
        .bind(id)
        .bind(owner)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        audit(&mut tx, id, owner, Some("running"), state, Some(error)).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Queue every finished submission of `problem` again (after a verifier
    /// upgrade); returns how many.
    pub async fn rescore(&self, problem: &str, actor: &str) -> Result<usize> {
        let mut tx = self.pool.begin().await?;
        let rows = sqlx::query(
            "UPDATE submissions SET state = 'queued', attempts = 0, updated_ms = $1 \
             WHERE problem_id = $2 AND state IN ('scored', 'invalid', 'failed') RETURNING id",
        )
        .bind(now_ms())
        .bind(problem)
        .fetch_all(&mut *tx)
        .await?;
        // Every score is recomputed: the standings and records of the
        // problem are rebuilt as the new scores come in.
        sqlx::query("DELETE FROM standings WHERE problem_id = $1").bind(problem).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM improvements WHERE problem_id = $1").bind(problem).execute(&mut *tx).await?;
        for r in &rows {
            audit(&mut tx, r.try_get("id")?, actor, None, "queued", Some("rescore")).await?;
        }
        tx.commit().await?;
        Ok(rows.len())
    }

    /// Whether a submission has a stored picture: `None` when the
    /// submission is unknown or was scored before pictures were stored.
    pub async fn picture_state(&self, id: i64) -> Result<Option<bool>> {
        let v: Option<Option<i64>> =
            sqlx::query_scalar("SELECT has_picture FROM submissions WHERE id = $1").bind(id).fetch_optional(&self.pool).await?;
        Ok(v.flatten().map(|v| v != 0))
    }

    /// The stored picture of a submission's solution.
    pub async fn picture(&self, id: i64) -> Result<Option<String>> {
        Ok(sqlx::query_scalar("SELECT svg FROM pictures WHERE submission_id = $1").bind(id).fetch_optional(&self.pool).await?)
    }

    /// Record a picture drawn after the fact (a submission scored before
    /// pictures were stored), once.
    pub async fn store_picture(&self, id: i64, picture: Option<&str>) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("UPDATE submissions SET has_picture = $1 WHERE id = $2 AND has_picture IS NULL")
            .bind(picture.is_some() as i64)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 1 {
            write_picture(&mut tx, id, picture).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn submission(&self, id: i64) -> Result<Option<SubmissionRow>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {SUBMISSION_COLUMNS} FROM submissions s JOIN users u ON u.id = s.user_id WHERE s.id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(submission_row).transpose()
    }

    /// A page of a user's submissions, newest first: what a list shows,
    /// never the bodies; and whether more follow (one row more is read).
    pub async fn user_submissions(&self, user_id: i64, offset: i64, limit: i64) -> Result<(Vec<SubmissionLine>, bool)> {
        let rows = sqlx::query(
            "SELECT id, problem_id, state, score, created_ms FROM submissions WHERE user_id = $1 ORDER BY id DESC LIMIT $2 OFFSET $3",
        )
        .bind(user_id)
        .bind(limit + 1)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        let more = rows.len() as i64 > limit;
        let lines = rows
            .iter()
            .take(limit as usize)
            .map(|r| {
                Ok(SubmissionLine {
                    id: r.try_get("id")?,
                    problem_id: r.try_get("problem_id")?,
                    state: r.try_get("state")?,
                    score: r.try_get("score")?,
                    created_ms: r.try_get("created_ms")?,
                })
            })
            .collect::<Result<_>>()?;
        Ok((lines, more))
    }

    pub async fn audit_of(&self, id: i64) -> Result<Vec<AuditRow>> {
        let rows = sqlx::query("SELECT at_ms, actor, from_state, to_state, detail FROM audit WHERE submission_id = $1 ORDER BY id")
            .bind(id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(AuditRow {
                    at_ms: r.try_get("at_ms")?,
                    actor: r.try_get("actor")?,
                    from_state: r.try_get("from_state")?,
                    to_state: r.try_get("to_state")?,
                    detail: r.try_get("detail")?,
                })
            })
            .collect()
    }

    /// A page of the leaderboard: each user's best valid submission from the
    /// current verifier (ties: the earlier submission), best first, from
    /// `offset`. Reads the standings table, never the submissions.
    pub async fn leaderboard(&self, problem: &ProblemRow, offset: i64, limit: i64) -> Result<Vec<Standing>> {
        let order = if problem.maximize() { "DESC" } else { "ASC" };
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT st.user_id, u.name AS user_name, st.submission_id, st.score, st.scored_ms, st.created_ms \
             FROM standings st JOIN users u ON u.id = st.user_id WHERE st.problem_id = $1 AND st.verifier_hash = $2 \
             ORDER BY st.score {order}, st.created_ms, st.submission_id LIMIT $3 OFFSET $4"
        )))
        .bind(&problem.id)
        .bind(&problem.verifier_hash)
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .enumerate()
            .map(|(i, r)| {
                Ok(Standing {
                    rank: offset as usize + i + 1,
                    user_id: r.try_get("user_id")?,
                    user_name: r.try_get("user_name")?,
                    submission_id: r.try_get("submission_id")?,
                    score: r.try_get("score")?,
                    scored_ms: r.try_get("scored_ms")?,
                    created_ms: r.try_get("created_ms")?,
                })
            })
            .collect()
    }

    /// How many users are on the leaderboard (the standings' rows).
    pub async fn board_users(&self, problem: &ProblemRow) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM standings WHERE problem_id = $1 AND verifier_hash = $2")
            .bind(&problem.id)
            .bind(&problem.verifier_hash)
            .fetch_one(&self.pool)
            .await?)
    }

    /// How many scored submissions of the current verifier there are (from
    /// an index, but it counts every one: only pages that show it ask).
    pub async fn scored_count(&self, problem: &ProblemRow) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM submissions WHERE problem_id = $1 AND state = 'scored' AND verifier_hash = $2")
            .bind(&problem.id)
            .bind(&problem.verifier_hash)
            .fetch_one(&self.pool)
            .await?)
    }

    /// The scores that beat the problem's best when they were scored, oldest
    /// first: (scored_ms, score).
    pub async fn improvements(&self, problem: &ProblemRow) -> Result<Vec<(i64, f64)>> {
        let rows = sqlx::query("SELECT scored_ms, score FROM improvements WHERE problem_id = $1 AND verifier_hash = $2 ORDER BY id")
            .bind(&problem.id)
            .bind(&problem.verifier_hash)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok((r.try_get("scored_ms")?, r.try_get("score")?))).collect()
    }

    /// Every scored submission of `problem` from its current verifier, oldest
    /// first: only for tests and tools that recompute the leaderboard.
    pub async fn scored(&self, problem: &ProblemRow) -> Result<Vec<SubmissionRow>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {SUBMISSION_COLUMNS} FROM submissions s JOIN users u ON u.id = s.user_id \
             WHERE s.problem_id = $1 AND s.state = 'scored' AND s.verifier_hash = $2 ORDER BY s.scored_ms, s.id"
        )))
        .bind(&problem.id)
        .bind(&problem.verifier_hash)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(submission_row).collect()
    }

    /// Counts of submissions by state.
    pub async fn state_counts(&self) -> Result<Vec<(String, i64)>> {
        let rows = sqlx::query("SELECT state, COUNT(*) AS n FROM submissions GROUP BY state ORDER BY state").fetch_all(&self.pool).await?;
        rows.iter().map(|r| Ok((r.try_get("state")?, r.try_get("n")?))).collect()
    }
}

/// The leaderboard of `scored` submissions: pure, so tests can recompute it.
pub fn standings(problem: &ProblemRow, scored: &[SubmissionRow]) -> Vec<Standing> {
    let mut best: std::collections::BTreeMap<i64, &SubmissionRow> = Default::default();
    for s in scored {
        let Some(score) = s.score else { continue };
        match best.get(&s.user_id) {
            Some(b) if !problem.better(score, b.score.unwrap()) => {}
            _ => {
                best.insert(s.user_id, s);
            }
        }
    }
    let mut lines: Vec<&SubmissionRow> = best.into_values().collect();
    lines.sort_by(|a, b| {
        let (x, y) = (a.score.unwrap(), b.score.unwrap());
        let order = if problem.maximize() { y.total_cmp(&x) } else { x.total_cmp(&y) };
        order.then(a.created_ms.cmp(&b.created_ms)).then(a.id.cmp(&b.id))
    });
    lines
        .into_iter()
        .enumerate()
        .map(|(i, s)| Standing {
            rank: i + 1,
            user_id: s.user_id,
            user_name: s.user_name.clone(),
            submission_id: s.id,
            score: s.score.unwrap(),
            scored_ms: s.scored_ms.unwrap_or(s.updated_ms),
            created_ms: s.created_ms,
        })
        .collect()
}

/// A database URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: i64, user: i64, score: f64, created: i64) -> SubmissionRow {
        SubmissionRow {
            id,
            problem_id: "p".into(),
            user_id: user,
            user_name: format!("u{user}"),
            kind: "solution".into(),
            language: None,
            body: "{}".into(),
            state: "scored".into(),
            score: Some(score),
            reason: None,
            failure: None,
            output: None,
            metrics: None,
            solution: None,
            verifier_hash: Some("h".into()),
            attempts: 1,
            created_ms: created,
            updated_ms: created,
            scored_ms: Some(created),
            source_public: false,
            has_picture: None,
        }
    }

    fn problem(direction: &str) -> ProblemRow {
        ProblemRow {
            id: "p".into(),
            title: "P".into(),
            direction: direction.into(),
            statement: String::new(),
            best_known: None,
            best_known_source: None,
            accepts: r#"{"solutions":true,"languages":[]}"#.into(),
            verifier_hash: "h".into(),
            show_source: false,
        }
    }

    #[test]
    fn standings_keep_each_users_best_and_break_ties_by_time() {
        let subs = [row(1, 1, 2.0, 10), row(2, 1, 3.0, 11), row(3, 2, 3.0, 5), row(4, 3, 1.0, 1)];
        let max: Vec<(i64, i64)> = standings(&problem("maximize"), &subs).iter().map(|s| (s.user_id, s.submission_id)).collect();
        // Users 1 and 2 tie at 3.0; user 2 submitted first.
        assert_eq!(max, [(2, 3), (1, 2), (3, 4)]);
        let min: Vec<(i64, i64)> = standings(&problem("minimize"), &subs).iter().map(|s| (s.user_id, s.submission_id)).collect();
        assert_eq!(min, [(3, 4), (1, 1), (2, 3)]);
    }

    #[test]
    fn urls_lose_their_passwords() {
        assert_eq!(redact("postgres://board:secret@db:5432/b"), "postgres://board:***@db:5432/b");
        assert_eq!(redact("board.db"), "board.db");
    }

    /// The standings table, kept by `finish`, is what recomputing the
    /// leaderboard from every stored scored submission gives (ties included),
    /// on every page; a rescore empties it until the new scores come in.
    #[tokio::test]
    async fn kept_standings_equal_the_leaderboard_recomputed_from_every_submission() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("b.db").display().to_string(), 2).await.unwrap();
        for direction in ["maximize", "minimize"] {
            let mut p = problem(direction);
            p.id = direction.into();
            db.put_problem(&p).await.unwrap();
        }
        let mut users = Vec::new();
        for i in 0..7 {
            users.push(db.add_user(&format!("user {i}")).await.unwrap().0);
        }
        // Scores with ties, in an order that is not the submission order.
        let mut state = 12345u64;
        for k in 0..120 {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let user = &users[(state >> 33) as usize % users.len()];
            let score = ((state >> 40) % 9) as f64;
            let p = if k % 2 == 0 { problem("maximize") } else { problem("minimize") };
            let mut p = p;
            p.id = p.direction.clone();
            let sub = Submission::Solution { values: vec![score] };
            let Inserted::New(id) = db.insert_submission(user, &p, &sub, None, QueueCaps::NONE).await.unwrap() else { panic!() };
            let job = db.claim("w", Duration::from_secs(60)).await.unwrap().unwrap();
            assert_eq!(job.id, id);
            let judgement = Judgement { valid: score > 0.0, score: Some(score), ..Judgement::default() };
            assert!(db.finish(id, "w", &judgement, "h", None).await.unwrap());
            // Distinct scoring times: `scored` orders by them.
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        for direction in ["maximize", "minimize"] {
            let mut p = problem(direction);
            p.id = direction.into();
            let expected = standings(&p, &db.scored(&p).await.unwrap());
            let mut kept = Vec::new();
            for offset in (0..10).step_by(3) {
                kept.extend(db.leaderboard(&p, offset, 3).await.unwrap());
            }
            assert_eq!(kept, expected, "{direction}");
            assert_eq!(db.board_users(&p).await.unwrap(), expected.len() as i64);
            // The improvements are the best-so-far steps, in scoring order.
            let steps: Vec<f64> = db.improvements(&p).await.unwrap().into_iter().map(|i| i.1).collect();
            assert!(steps.windows(2).all(|w| p.better(w[1], w[0])), "{direction}: {steps:?}");
            assert_eq!(steps.last().copied(), expected.first().map(|s| s.score));
        }
        let p = { let mut p = problem("maximize"); p.id = "maximize".into(); p };
        db.rescore("maximize", "admin").await.unwrap();
        assert!(db.leaderboard(&p, 0, 10).await.unwrap().is_empty());
        assert!(db.improvements(&p).await.unwrap().is_empty());
    }

    /// A board made before sqlx kept its migrations (version 1, recorded in
    /// `board_migrations`) opens: its versions are adopted, the new ones
    /// applied, its scored submissions ranked; a database newer than this
    /// binary is refused with a clear error.
    #[tokio::test]
    async fn a_board_from_before_is_adopted_and_a_newer_one_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db").display().to_string();
        sqlx::any::install_default_drivers();
        let old = AnyPool::connect(&format!("sqlite://{path}?mode=rwc")).await.unwrap();
        let v1 = include_str!("../migrations/sqlite/0001_board.sql");
        sqlx::raw_sql(AssertSqlSafe(format!(
            "{v1}\nCREATE TABLE board_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_ms BIGINT NOT NULL);\n\
             INSERT INTO board_migrations VALUES (1, 'board', 0);\n\
             INSERT INTO users (name, token_hash, created_ms) VALUES ('old', 'h', 0);\n\
             INSERT INTO problems (id, title, direction, statement, accepts, verifier_hash, updated_ms) VALUES ('p', 'P', 'maximize', '', '{{}}', 'h', 0);\n\
             INSERT INTO submissions (problem_id, user_id, kind, body, state, score, verifier_hash, created_ms, updated_ms, scored_ms) \
             VALUES ('p', 1, 'solution', '{{}}', 'scored', 2.5, 'h', 1, 1, 1);"
        )))
        .execute(&old)
        .await
        .unwrap();
        old.close().await;
        let db = Db::open(&path, 2).await.unwrap();
        let board = db.leaderboard(&problem("maximize"), 0, 10).await.unwrap();
        assert_eq!(board.iter().map(|s| (s.user_name.as_str(), s.score)).collect::<Vec<_>>(), [("old", 2.5)]);
        let versions: Vec<i64> = sqlx::query_scalar("SELECT version FROM _sqlx_migrations ORDER BY version").fetch_all(&db.pool).await.unwrap();
        assert_eq!(versions, [1, 2, 3]);
        assert!(sqlx::query("SELECT 1 FROM board_migrations").fetch_all(&db.pool).await.is_err(), "the old table is gone");
        // Opening again changes nothing.
        drop(db);
        let db = Db::open(&path, 2).await.unwrap();
        sqlx::query("INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) VALUES (99, 'future', TRUE, x'00', 0)")
            .execute(&db.pool)
            .await
            .unwrap();
        drop(db);
        let e = Db::open(&path, 2).await.err().unwrap();
        assert!(format!("{e:#}").contains("schema version 99, newer than this discover knows (3)"), "{e:#}");
    }

    #[tokio::test]
    async fn claims_rotate_between_users() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("b.db").display().to_string(), 2).await.unwrap();
        let p = problem("maximize");
        db.put_problem(&p).await.unwrap();
        let (heavy, _) = db.add_user("heavy").await.unwrap();
        let (light, _) = db.add_user("light").await.unwrap();
        let sub = Submission::Solution { values: vec![1.0] };
        let mut heavy_ids = Vec::new();
        for _ in 0..4 {
            let Inserted::New(id) = db.insert_submission(&heavy, &p, &sub, None, QueueCaps::NONE).await.unwrap() else { panic!() };
            heavy_ids.push(id);
        }
        let Inserted::New(light_id) = db.insert_submission(&light, &p, &sub, None, QueueCaps::NONE).await.unwrap() else { panic!() };
        let mut order = Vec::new();
        while let Some(job) = db.claim("w", Duration::from_secs(60)).await.unwrap() {
            order.push(job.id);
            tokio::time::sleep(Duration::from_millis(3)).await;
        }
        // The heavy user's first job, then the light user's, then the rest.
        assert_eq!(order, [heavy_ids[0], light_id, heavy_ids[1], heavy_ids[2], heavy_ids[3]]);
    }

    #[tokio::test]
    async fn a_job_whose_scoring_keeps_dying_fails_after_its_attempts_and_stale_owners_write_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("b.db").display().to_string(), 2).await.unwrap();
        let (user, _) = db.add_user("u").await.unwrap();
        db.put_problem(&problem("maximize")).await.unwrap();
        let sub = Submission::Solution { values: vec![1.0] };
        let Inserted::New(id) = db.insert_submission(&user, &problem("maximize"), &sub, None, QueueCaps::NONE).await.unwrap() else { panic!() };
        let judgement = Judgement { valid: true, score: Some(1.0), ..Judgement::default() };
        for attempt in 1..=MAX_ATTEMPTS {
            let job = db.claim(&format!("w{attempt}"), Duration::from_millis(1)).await.unwrap().unwrap();
            assert_eq!((job.id, job.attempts), (id, attempt));
            tokio::time::sleep(Duration::from_millis(5)).await;
            assert_eq!(db.requeue_expired("sweeper").await.unwrap(), [id]);
            // The worker that lost its lease cannot write a result.
            assert!(!db.finish(id, &format!("w{attempt}"), &judgement, "h", None).await.unwrap());
        }
        let s = db.submission(id).await.unwrap().unwrap();
        assert_eq!((s.state.as_str(), s.failure.as_deref()), ("failed", Some("host")));
        assert!(db.claim("w9", Duration::from_secs(60)).await.unwrap().is_none());
        let trail: Vec<String> = db.audit_of(id).await.unwrap().into_iter().map(|a| a.to_state).collect();
        assert_eq!(trail, ["queued", "running", "queued", "running", "queued", "running", "failed"]);
    }
}
