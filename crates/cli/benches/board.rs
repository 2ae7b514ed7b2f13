//! What the leaderboard's public reads cost on a large board.
//!
//! `cargo xtask bench board [--submissions N] [--large N] [--requests R] [--db URL]`
//! fills a fresh board (a SQLite file in a temporary folder, or the database
//! `--db` names, e.g. a scratch PostgreSQL) with N stored submissions
//! (default 100,000) of 1,000 users, L of them (default 1,000) 256 KiB
//! solutions, serves it on loopback, and prints p50 and p99 over R requests
//! (default 200) of every public page and API route. Beside them, the same
//! run times the leaderboard query the board made before its standings were
//! kept (every scored submission read with its body, then ranked) against
//! today's page of the kept standings: their ratio is the figure to quote.

#[path = "flags.rs"]
mod flags;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use discover_board::db::{self, Db, ProblemRow};
use discover_board::server::{App, Limits};
use discover_board::Scorer;
use discover::rollout::judge::{Judgement, Submission};

const USAGE: &str = "cargo xtask bench board [--submissions N] [--large N] [--requests R] [--db URL]";

/// Reads need no verifier: a scorer that refuses to score.
struct NoScorer;

impl Scorer for NoScorer {
    fn judge(&self, _: &str, _: &Submission) -> Result<Judgement> {
        bail!("the benchmark scores nothing")
    }
    fn verifier_hash(&self, _: &str) -> Result<String> {
        Ok("bench".into())
    }
    fn picture(&self, _: &str, _: &[f64]) -> Result<Option<String>> {
        Ok(None)
    }
    fn describe(&self, _: &str) -> Result<ProblemRow> {
        bail!("the benchmark enables its problem itself")
    }
}

fn problem() -> ProblemRow {
    ProblemRow {
        id: "circle-packing-26".into(),
        title: "26 circles in a unit square".into(),
        direction: "maximize".into(),
        statement: "Pack 26 disjoint circles in the unit square; maximise the sum of radii.".into(),
        best_known: Some(2.6359830849176067),
        best_known_source: Some("AlphaEvolve (repaired)".into()),
        accepts: r#"{"solutions":true,"languages":["python"]}"#.into(),
        verifier_hash: "bench".into(),
        show_source: false,
    }
}

/// Fill `db` with `n` submissions of 1,000 users, `large` of them 256 KiB.
async fn fill(db: &Db, n: usize, large: usize) -> Result<(i64, i64, i64)> {
    db.put_problem(&problem()).await?;
    let mut users = Vec::new();
    for i in 0..1000 {
        users.push(db.add_user(&format!("user{i:04}")).await?.0);
    }
    let small_body = serde_json::to_string(&Submission::Solution { values: vec![0.25; 78] })?;
    let large_body = serde_json::to_string(&Submission::Solution { values: vec![0.5; 65_000] })?;
    assert!(large_body.len() > 250 << 10 && large_body.len() <= 256 << 10, "{}", large_body.len());
    let t0 = db::now_ms() - 86_400_000;
    let mut state = 0x9e3779b97f4a7c15u64;
    let mut tx = db.pool.begin().await?;
    for k in 0..n {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let user = &users[(state >> 33) as usize % users.len()];
        let is_large = k % (n / large.max(1)).max(1) == 0 && k / (n / large.max(1)).max(1) < large;
        let body = if is_large { &large_body } else { &small_body };
        let scored = (state >> 20) % 10 != 0;
        let score = 2.0 + ((state >> 24) % 1_000_000) as f64 / 1e7;
        let at = t0 + k as i64 * 500;
        sqlx::query(
            "INSERT INTO submissions (problem_id, user_id, kind, body, state, score, reason, solution, verifier_hash, attempts, \
             created_ms, updated_ms, scored_ms, source_public, has_picture) VALUES ($1, $2, 'solution', $3, $4, \
             CASE WHEN $5 = 1 THEN CAST($6 AS DOUBLE PRECISION) ELSE NULL END, $7, $8, 'bench', 1, $9, $9, $9, 0, 0)",
        )
        .bind("circle-packing-26")
        .bind(user.id)
        .bind(body)
        .bind(if scored { "scored" } else { "invalid" })
        .bind(scored as i64)
        .bind(score)
        .bind(if scored { None } else { Some("circles 3 and 7 overlap") })
        .bind(if is_large { None } else { Some("[0.25]") })
        .bind(at)
        .execute(&mut *tx)
        .await?;
        if k % 2000 == 1999 {
            tx.commit().await?;
            tx = db.pool.begin().await?;
        }
    }
    tx.commit().await?;
    db.rebuild_read_tables().await?;
    let small: i64 = sqlx::query_scalar("SELECT MAX(id) FROM submissions WHERE LENGTH(body) < 10000").fetch_one(&db.pool).await?;
    let large: i64 = sqlx::query_scalar("SELECT MAX(id) FROM submissions WHERE LENGTH(body) > 10000").fetch_one(&db.pool).await?;
    Ok((users[0].id, small, large))
}

fn quantiles(mut ms: Vec<f64>) -> (f64, f64) {
    ms.sort_by(f64::total_cmp);
    let q = |p: f64| ms[((ms.len() - 1) as f64 * p).round() as usize];
    (q(0.5), q(0.99))
}

fn main() -> Result<()> {
    let args = flags::Args::parse(USAGE, &["--submissions", "--large", "--requests", "--db"], &[]);
    let n: usize = args.value("--submissions").unwrap_or(100_000);
    let large: usize = args.value("--large").unwrap_or(1000);
    let requests: usize = args.value("--requests").unwrap_or(200);
    if n == 0 || requests == 0 || large > n {
        flags::refuse("--submissions and --requests must be at least 1, --large at most --submissions", USAGE);
    }
    let tmp = tempfile::tempdir()?;
    let url = args.value::<String>("--db").unwrap_or_else(|| tmp.path().join("board.db").display().to_string());
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let fill_start = Instant::now();
    let (db, (user, small, big)) = rt.block_on(async {
        let db = Db::open(&url, 16).await?;
        let ids = fill(&db, n, large).await?;
        Ok::<_, anyhow::Error>((db, ids))
    })?;
    println!("board: {} ({n} submissions, {large} of 256 KiB, 1000 users), filled in {:.1} s", db::redact(&url), fill_start.elapsed().as_secs_f64());

    // The leaderboard query of before (every scored row with its body, ranked
    // in the server) against a page of the kept standings, same database.
    let p = problem();
    let (old, new) = rt.block_on(async {
        let mut old = Vec::new();
        for _ in 0..5 {
            let t = Instant::now();
            let board = db::standings(&p, &db.scored(&p).await?);
            std::hint::black_box(board.len());
            old.push(t.elapsed().as_secs_f64() * 1e3);
        }
        let mut new = Vec::new();
        for _ in 0..requests {
            let t = Instant::now();
            std::hint::black_box(db.leaderboard(&p, 0, 100).await?.len());
            new.push(t.elapsed().as_secs_f64() * 1e3);
        }
        Ok::<_, anyhow::Error>((quantiles(old), quantiles(new)))
    })?;
    println!(
        "leaderboard query: before (all scored rows, ranked per request) p50 {:.1} ms; kept standings (a page of 100) p50 {:.2} ms; ratio {:.0}x",
        old.0,
        new.0,
        old.0 / new.0
    );

    let (tx, rx) = std::sync::mpsc::channel();
    let app = Arc::new(App::new(db.clone(), Arc::new(NoScorer), Limits::default()));
    let server = rt.spawn(discover_board::server::serve(app, "127.0.0.1:0".parse()?, move |a| tx.send(a).unwrap(), std::future::pending()));
    let addr = rx.recv_timeout(Duration::from_secs(10))?;
    let base = format!("http://{addr}");
    let routes = [
        "/".to_string(),
        "/api/v1/problems".into(),
        "/problems/circle-packing-26".into(),
        "/problems/circle-packing-26?page=5".into(),
        "/api/v1/problems/circle-packing-26".into(),
        "/api/v1/problems/circle-packing-26?limit=100&cursor=o500".into(),
        "/problems/circle-packing-26/history.svg".into(),
        format!("/submissions/{small}"),
        format!("/submissions/{big}"),
        format!("/api/v1/submissions/{small}"),
        format!("/api/v1/submissions/{big}"),
        format!("/users/{user}"),
        format!("/api/v1/users/{user}"),
        "/healthz".into(),
    ];
    let client = reqwest::blocking::Client::builder().timeout(Duration::from_secs(60)).build()?;
    println!("{:<58} {:>9} {:>9} {:>10}", "route", "p50 ms", "p99 ms", "bytes");
    let mut worst = 0.0f64;
    for route in &routes {
        let mut ms = Vec::with_capacity(requests);
        let mut bytes = 0;
        for _ in 0..requests {
            let t = Instant::now();
            let r = client.get(format!("{base}{route}")).send()?;
            if !r.status().is_success() {
                bail!("GET {route}: {}", r.status());
            }
            bytes = r.bytes()?.len();
            ms.push(t.elapsed().as_secs_f64() * 1e3);
        }
        let (p50, p99) = quantiles(ms);
        worst = worst.max(p99);
        println!("{route:<58} {p50:>9.2} {p99:>9.2} {bytes:>10}");
    }
    println!("worst p99 {worst:.1} ms (goal: under 50 ms for every public route)");
    server.abort();
    Ok(())
}
