//! `discover board` (serve a community leaderboard, run scoring workers,
//! admin commands) and `discover submit` (post a solution or a program to
//! one). The board itself is the `discover-board` crate.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Subcommand};
use serde_json::{json, Value};

use discover_board::db::Db;
use discover_board::server::{HttpLimits, Limits};
use discover_board::worker::WorkerSettings;
use discover_board::{Scorer, ServeSettings};

use super::pack::Catalog;
use crate::rollout::judge::Judge;

/// The database a board command uses.
#[derive(Args, Debug, Clone)]
pub(crate) struct DbArg {
    /// A SQLite file (created if missing) or a postgres:// URL
    /// [env: DISCOVER_BOARD_DB; default: board.db in the current directory].
    #[arg(long, value_name = "PATH_OR_URL")]
    db: Option<String>,
}

impl DbArg {
    fn url(&self) -> String {
        self.db
            .clone()
            .or_else(|| std::env::var("DISCOVER_BOARD_DB").ok().filter(|v| !v.is_empty()))
            .unwrap_or_else(|| "board.db".to_string())
    }
}

#[derive(Args, Debug)]
pub(crate) struct ScoringArgs {
    /// Cap a construction problem's program time at S seconds (default: the
    /// problem's own candidate budget, 300 s for most).
    #[arg(long, value_name = "S", allow_negative_numbers = true)]
    program_seconds: Option<f64>,
}

impl ScoringArgs {
    fn scorer(&self, catalog: Catalog, cache_dir: Option<&Path>) -> Result<Arc<dyn Scorer>> {
        let mut judge = Judge::new(catalog, cache_dir);
        if let Some(s) = self.program_seconds {
            if !(s.is_finite() && s > 0.0) {
                bail!("--program-seconds must be a positive number of seconds");
            }
            judge.program_seconds = Some(s);
        }
        Ok(Arc::new(judge))
    }
}

#[derive(Args, Debug)]
pub(crate) struct LeaseArgs {
    /// A worker's claim on a submission lasts this long unless renewed (it is
    /// renewed every third of it while scoring); a dead worker's jobs go back
    /// to the queue after it.
    #[arg(long, value_name = "S", default_value_t = 60.0, allow_negative_numbers = true)]
    lease_seconds: f64,
}

impl LeaseArgs {
    fn settings(&self) -> Result<WorkerSettings> {
        if !(self.lease_seconds.is_finite() && self.lease_seconds >= 1.0) {
            bail!("--lease-seconds must be at least 1");
        }
        Ok(WorkerSettings { lease: Duration::from_secs_f64(self.lease_seconds), ..WorkerSettings::default() })
    }
}

#[derive(Subcommand, Debug)]
pub(crate) enum BoardAction {
    /// Serve the leaderboard (pages, the JSON API, submissions) and score submissions.
    #[command(after_help = "The first line on stdout is the board's URL. With SQLite (the default) the \
        board is one process: `--workers` scoring threads in it, and submissions that were running when \
        it was killed are queued again at start. With PostgreSQL, `--workers 0` serves only and \
        `discover board worker` processes on other machines score.\n\n\
        Examples:\n  \
        discover board user add alice\n  \
        discover board problem enable circle-packing-26\n  \
        discover board serve --bind 0.0.0.0:8080\n  \
        discover board serve --db postgres://board@db/board --workers 0 --pack packs/biology")]
    Serve(ServeArgs),
    /// Score submissions from a shared PostgreSQL board (on any machine).
    Worker(WorkerArgs),
    /// Manage users.
    User {
        #[command(subcommand)]
        action: UserAction,
    },
    /// Manage the problems on the board.
    Problem {
        #[command(subcommand)]
        action: ProblemAction,
    },
    /// Score every stored submission of a problem again (after a verifier upgrade).
    Rescore {
        problem: String,
        #[command(flatten)]
        db: DbArg,
    },
}

#[derive(Args, Debug)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    db: DbArg,
    /// Where to listen.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    bind: SocketAddr,
    /// Scoring workers in this process.
    #[arg(long, value_name = "N", default_value_t = 1)]
    workers: usize,
    /// Submissions a user may make per minute (429 with Retry-After above).
    #[arg(long, value_name = "N", default_value_t = 30)]
    rate: u32,
    /// A user's submissions waiting to be scored at once (429 above).
    #[arg(long, value_name = "N", default_value_t = 20)]
    user_queue: i64,
    /// Submissions waiting at once, everyone's (503 with Retry-After above).
    #[arg(long, value_name = "N", default_value_t = 1000)]
    queue: i64,
    /// Largest request body, in KiB (413 above).
    #[arg(long, value_name = "KIB", default_value_t = 256)]
    max_body_kib: usize,
    /// Seconds a client has to send a request's headers (also how long an
    /// idle kept-alive connection stays open); the connection is closed after.
    #[arg(long, value_name = "S", default_value_t = 10.0)]
    header_timeout: f64,
    /// Seconds a request may take, body and answer together (408 after); a
    /// body that pauses this long between reads is cut off too.
    #[arg(long, value_name = "S", default_value_t = 30.0)]
    request_timeout: f64,
    /// Open connections at once, everyone's (the rest wait to be accepted).
    #[arg(long, value_name = "N", default_value_t = 1024)]
    max_connections: usize,
    /// Open connections at once from one IP address (more are closed at once).
    /// Behind a reverse proxy every client has its address: raise this there.
    #[arg(long, value_name = "N", default_value_t = 64)]
    max_connections_per_address: usize,
    #[command(flatten)]
    lease: LeaseArgs,
    #[command(flatten)]
    scoring: ScoringArgs,
}

#[derive(Args, Debug)]
pub(crate) struct WorkerArgs {
    #[command(flatten)]
    db: DbArg,
    /// Workers in this process.
    #[arg(long, value_name = "N", default_value_t = 1)]
    workers: usize,
    #[command(flatten)]
    lease: LeaseArgs,
    #[command(flatten)]
    scoring: ScoringArgs,
}

#[derive(Subcommand, Debug)]
pub(crate) enum UserAction {
    /// Add a user and print its API token (shown once; stored hashed).
    Add {
        /// The display name (shown escaped; 1 to 64 characters).
        name: String,
        #[command(flatten)]
        db: DbArg,
        /// Print {"id", "name", "token"} as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub(crate) enum ProblemAction {
    /// Put a problem on the board (a built-in id, or a pack's with --pack DIR).
    Enable {
        problem: String,
        /// Show every submission's source to everyone (default: to its author only).
        #[arg(long)]
        show_source: bool,
        #[command(flatten)]
        db: DbArg,
    },
    /// List the board's problems.
    List {
        #[command(flatten)]
        db: DbArg,
        #[arg(long)]
        json: bool,
    },
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")
}

fn scorer(catalog: Catalog, cache_dir: Option<&Path>) -> Arc<dyn Scorer> {
    Arc::new(Judge::new(catalog, cache_dir))
}

pub(crate) fn board(catalog: impl FnOnce() -> Result<Catalog>, cache_dir: Option<&Path>, action: BoardAction) -> Result<ExitCode> {
    let rt = runtime()?;
    match action {
        BoardAction::Serve(args) => {
            if args.max_body_kib == 0 || args.rate == 0 || args.user_queue < 1 || args.queue < 1 {
                bail!("--max-body-kib, --rate, --user-queue and --queue must be at least 1");
            }
            if args.max_connections == 0 || args.max_connections_per_address == 0 {
                bail!("--max-connections and --max-connections-per-address must be at least 1");
            }
            let seconds = |flag: &str, s: f64| -> Result<Duration> {
                if !(s.is_finite() && s > 0.0 && s <= 86_400.0) {
                    bail!("{flag} must be a number of seconds above 0 (at most a day)");
                }
                Ok(Duration::from_secs_f64(s))
            };
            let request = seconds("--request-timeout", args.request_timeout)?;
            let http = HttpLimits {
                header_read: seconds("--header-timeout", args.header_timeout)?,
                body_read: request,
                request,
                max_connections: args.max_connections,
                max_connections_per_address: args.max_connections_per_address,
            };
            let scorer = args.scoring.scorer(catalog()?, cache_dir)?;
            let worker = args.lease.settings()?;
            rt.block_on(async {
                let db = Db::open(&args.db.url(), 16).await?;
                let settings = ServeSettings {
                    bind: args.bind,
                    workers: args.workers,
                    limits: Limits {
                        body_bytes: args.max_body_kib << 10,
                        per_minute: args.rate,
                        user_queue: args.user_queue,
                        queue: args.queue,
                        http,
                    },
                    worker,
                };
                discover_board::serve(
                    db,
                    scorer,
                    settings,
                    |addr| {
                        use std::io::Write;
                        println!("http://{addr}");
                        let _ = std::io::stdout().flush();
                    },
                    std::future::pending(),
                )
                .await
            })?;
            Ok(ExitCode::SUCCESS)
        }
        BoardAction::Worker(args) => {
            if args.workers == 0 {
                bail!("--workers must be at least 1");
            }
            let scorer = args.scoring.scorer(catalog()?, cache_dir)?;
            let settings = args.lease.settings()?;
            let url = args.db.url();
            if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                bail!(
                    "`discover board worker` needs a PostgreSQL board (--db postgres://...): a SQLite board is one \
                     process, and `discover board serve` scores its submissions itself (--workers N); a worker beside \
                     it would have its jobs queued again each time the board restarts"
                );
            }
            rt.block_on(async {
                let db = Db::open(&url, (args.workers as u32 + 2).max(4)).await?;
                eprintln!("scoring submissions of {} with {} worker(s)", discover_board::db::redact(&args.db.url()), args.workers);
                discover_board::run_workers(db, scorer, args.workers, settings, std::future::pending()).await
            })?;
            Ok(ExitCode::SUCCESS)
        }
        BoardAction::User { action: UserAction::Add { name, db, json } } => rt.block_on(async {
            let db = Db::open(&db.url(), 2).await?;
            let (user, token) = db.add_user(&name).await?;
            if json {
                println!("{}", json!({"id": user.id, "name": user.name, "token": token}));
            } else {
                println!("{token}");
                eprintln!("user {} ({:?}) added; the token above is shown once: submit with DISCOVER_BOARD_TOKEN=<token>", user.id, user.name);
            }
            Ok(ExitCode::SUCCESS)
        }),
        BoardAction::Problem { action: ProblemAction::Enable { problem, show_source, db } } => {
            let scorer = scorer(catalog()?, cache_dir);
            rt.block_on(async {
                let db = Db::open(&db.url(), 2).await?;
                let row = discover_board::enable_problem(&db, scorer, &problem, show_source).await?;
                eprintln!(
                    "enabled {} ({}; verifier {}){}",
                    row.id,
                    row.title,
                    &row.verifier_hash[..12],
                    if show_source { "; sources are public" } else { "" }
                );
                Ok(ExitCode::SUCCESS)
            })
        }
        BoardAction::Problem { action: ProblemAction::List { db, json } } => rt.block_on(async {
            let db = Db::open(&db.url(), 2).await?;
            let problems = db.problems().await?;
            if json {
                println!("{}", serde_json::to_string(&problems)?);
            } else {
                for p in problems {
                    println!("{:<24} {:<9} verifier {}  {}", p.id, p.direction, &p.verifier_hash[..12], p.title);
                }
            }
            Ok(ExitCode::SUCCESS)
        }),
        BoardAction::Rescore { problem, db } => rt.block_on(async {
            let db = Db::open(&db.url(), 2).await?;
            if db.problem(&problem).await?.is_none() {
                bail!("no problem {problem:?} on this board (`discover board problem list`)");
            }
            let n = db.rescore(&problem, "admin:rescore").await?;
            eprintln!("queued {n} submission(s) of {problem} to be scored again");
            Ok(ExitCode::SUCCESS)
        }),
    }
}

#[derive(Args, Debug)]
pub(crate) struct SubmitArgs {
    /// The board's URL (http://host:port).
    url: String,
    /// The problem's id on the board.
    problem: String,
    /// A solution (`.json`: {"values": [...]}), or a program (`.py`, `.cpp`);
    /// - reads a solution from standard input.
    file: PathBuf,
    /// Wait until it is scored and print the result.
    #[arg(long)]
    wait: bool,
    /// Print the board's answers as JSON.
    #[arg(long)]
    json: bool,
}

/// The body of a submission file.
pub(crate) fn submission_body(file: &Path) -> Result<Value> {
    let text = if file.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin()).context("cannot read standard input")?
    } else {
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?
    };
    let language = match file.extension().and_then(|e| e.to_str()) {
        Some("py") => Some("python"),
        Some("cpp" | "cc" | "cxx" | "c++") => Some("cpp"),
        Some("json") | None => None,
        Some(other) => bail!("{}: a submission is a .json solution, a .py or a .cpp program, not .{other}", file.display()),
    };
    Ok(match language {
        Some(language) => json!({"language": language, "source": text}),
        None => {
            let solution = crate::problem::parse_solution_json(&text).with_context(|| format!("{} is not a solution", file.display()))?;
            json!({"values": solution.values})
        }
    })
}

/// Post `body` for `problem` to the board at `url` with `token`; retried on
/// connection errors, 429 and 503 (after Retry-After), safely: the
/// Idempotency-Key is the body's digest, so a retry never makes a second
/// submission. Returns the board's answer.
pub(crate) fn post_submission(url: &str, problem: &str, body: &Value, token: &str) -> Result<Value> {
    use sha2::Digest;
    let client = reqwest::blocking::Client::builder().timeout(Duration::from_secs(60)).build()?;
    let text = serde_json::to_string(body)?;
    let key: String = sha2::Sha256::digest(format!("{problem}\n{text}").as_bytes())[..16].iter().map(|b| format!("{b:02x}")).collect();
    let endpoint = format!("{}/api/v1/problems/{}/submissions", url.trim_end_matches('/'), problem);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let sent = client
            .post(&endpoint)
            .bearer_auth(token)
            .header("Idempotency-Key", &key)
            .header("Content-Type", "application/json")
            .body(text.clone())
            .send();
        let response = match sent {
            Ok(r) => r,
            Err(e) if attempt < 5 => {
                eprintln!("cannot reach {url} ({e}); retrying");
                std::thread::sleep(Duration::from_secs(attempt));
                continue;
            }
            Err(e) => return Err(anyhow!("cannot reach the board at {url}: {e}")),
        };
        let status = response.status();
        let retry = response.headers().get("retry-after").and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        let answer: Value = response.json().unwrap_or(Value::Null);
        if status.as_u16() == 202 {
            return Ok(answer);
        }
        let reason = answer["error"].as_str().unwrap_or("no reason given").to_string();
        match (status.as_u16(), retry) {
            (429 | 503, Some(wait)) if attempt < 5 && wait <= 120 => {
                eprintln!("the board says: {reason}; retrying in {wait} s");
                std::thread::sleep(Duration::from_secs(wait));
            }
            _ => bail!("the board refused the submission ({status}): {reason}"),
        }
    }
}

fn token() -> Result<String> {
    std::env::var("DISCOVER_BOARD_TOKEN")
        .ok()
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| anyhow!("set DISCOVER_BOARD_TOKEN to your API token (`discover board user add NAME` prints one)"))
}

/// Wait for a submission to reach a final state.
fn wait_for(url: &str, id: i64, token: &str) -> Result<Value> {
    let client = reqwest::blocking::Client::builder().timeout(Duration::from_secs(30)).build()?;
    let endpoint = format!("{}/api/v1/submissions/{id}", url.trim_end_matches('/'));
    let start = Instant::now();
    loop {
        let v: Value = client.get(&endpoint).bearer_auth(token).send()?.error_for_status()?.json()?;
        if discover_board::db::FINAL_STATES.contains(&v["state"].as_str().unwrap_or("")) {
            return Ok(v);
        }
        if start.elapsed() > Duration::from_secs(3600) {
            bail!("submission {id} is still {} after an hour", v["state"]);
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

pub(crate) fn submit(args: SubmitArgs) -> Result<ExitCode> {
    let token = token()?;
    let body = submission_body(&args.file)?;
    let answer = post_submission(&args.url, &args.problem, &body, &token)?;
    let id = answer["id"].as_i64().ok_or_else(|| anyhow!("the board answered without an id: {answer}"))?;
    let page = format!("{}/submissions/{id}", args.url.trim_end_matches('/'));
    if !args.wait {
        if args.json {
            println!("{answer}");
        } else {
            println!("submission {id} queued: {page}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let done = wait_for(&args.url, id, &token)?;
    if args.json {
        println!("{done}");
    } else {
        match done["state"].as_str() {
            Some("scored") => println!("submission {id} scored {}: {page}", done["score"]),
            Some(state) => println!(
                "submission {id} {state}{}: {}",
                done["failure"].as_str().map(|f| format!(" ({f})")).unwrap_or_default(),
                done["reason"].as_str().unwrap_or("no reason given")
            ),
            None => println!("{done}"),
        }
    }
    Ok(if done["state"] == "scored" { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// `discover run ... --submit URL`: post the run's best state (its
/// `best/solution.json` or `best/program.*`).
pub(crate) fn submit_best(url: &str, problem: &str, best_file: &Path) -> Result<i64> {
    let token = token()?;
    let answer = post_submission(url, problem, &submission_body(best_file)?, &token)?;
    answer["id"].as_i64().ok_or_else(|| anyhow!("the board answered without an id: {answer}"))
}
