//! The community leaderboard, end to end: the real `discover board serve`
//! (and `board worker`) processes on SQLite and on a PostgreSQL cluster the
//! tests start themselves, real HTTP, the real sandboxes scoring.
//!
//! - scoring, ranking (best per user, ties by time), idempotent retries,
//!   source visibility, escaping, security headers, a verifier upgrade and
//!   `rescore`;
//! - every abuse limit's documented answer;
//! - hostile programs (Python and C++) get typed failures while the board
//!   keeps serving;
//! - kill -9 of a SQLite board mid-scoring, and of one of two PostgreSQL
//!   workers mid-job: every submission reaches one final state, none twice;
//! - a load test: 200 clients, 1000 submissions (it prints throughput and
//!   latency; BENCHMARKS.md records them);
//! - pages in headless Chromium (tests/board_browser is in this file too).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

fn discover() -> Command {
    Command::new(env!("CARGO_BIN_EXE_discover"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A `discover board ...` admin command that must succeed; its stdout.
fn admin(db: &str, args: &[&str]) -> String {
    let out = discover().args(["board"]).args(args).args(["--db", db]).output().unwrap();
    assert!(out.status.success(), "board {args:?}: {}", text(&out.stderr));
    text(&out.stdout)
}

fn add_user(db: &str, name: &str) -> (i64, String) {
    let v: Value = serde_json::from_str(&admin(db, &["user", "add", name, "--json"])).unwrap();
    (v["id"].as_i64().unwrap(), v["token"].as_str().unwrap().to_string())
}

/// A running board server; killed when dropped.
struct Board {
    child: Child,
    url: String,
}

impl Board {
    fn start(db: &str, extra: &[&str]) -> Board {
        let mut child = discover()
            .args(["board", "serve", "--db", db, "--bind", "127.0.0.1:0"])
            .args(extra)
            .env("RUST_LOG", "discover_board=warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        assert!(line.starts_with("http://"), "the board printed {line:?}");
        Board { child, url: line.trim().to_string() }
    }

    fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Board {
    fn drop(&mut self) {
        self.kill9();
    }
}

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder().timeout(Duration::from_secs(60)).build().unwrap()
}

fn no_redirects() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder().timeout(Duration::from_secs(60)).redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// Sign in with the page's form; the session cookie (`name=value`).
fn sign_in(url: &str, token: &str) -> String {
    let r = no_redirects().post(format!("{url}/login")).form(&[("token", token)]).send().unwrap();
    assert_eq!(r.status(), 303, "sign-in failed");
    let cookie = r.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    cookie.split(';').next().unwrap().to_string()
}

/// POST a submission; (status, answer, Retry-After).
fn post(url: &str, problem: &str, token: Option<&str>, body: &str, key: Option<&str>) -> (u16, Value, Option<u64>) {
    let mut req = client()
        .post(format!("{url}/api/v1/problems/{problem}/submissions"))
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(k) = key {
        req = req.header("Idempotency-Key", k);
    }
    let r = req.send().unwrap();
    let status = r.status().as_u16();
    let retry = r.headers().get("retry-after").and_then(|v| v.to_str().ok()?.parse().ok());
    (status, r.json().unwrap_or(Value::Null), retry)
}

fn submit(url: &str, problem: &str, token: &str, body: &Value) -> i64 {
    let (status, v, _) = post(url, problem, Some(token), &body.to_string(), None);
    assert_eq!(status, 202, "{v}");
    v["id"].as_i64().unwrap()
}

fn get(url: &str, token: Option<&str>) -> Value {
    let send = || {
        let mut req = client().get(url);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send()
    };
    // One retry for a connection the kernel dropped under load; a board that
    // died fails both.
    let r = send().or_else(|e| {
        eprintln!("GET {url}: {e}; retrying once");
        std::thread::sleep(Duration::from_millis(200));
        send()
    }).unwrap();
    assert!(r.status().is_success(), "GET {url}: {}", r.status());
    r.json().unwrap()
}

const FINAL: [&str; 3] = ["scored", "invalid", "failed"];

/// Wait until every submission is final; their API records.
fn wait_final(url: &str, ids: &[i64], limit: Duration) -> BTreeMap<i64, Value> {
    let start = Instant::now();
    let mut done = BTreeMap::new();
    while done.len() < ids.len() {
        for &id in ids {
            if done.contains_key(&id) {
                continue;
            }
            let v = get(&format!("{url}/api/v1/submissions/{id}"), None);
            if FINAL.contains(&v["state"].as_str().unwrap()) {
                done.insert(id, v);
            }
        }
        assert!(start.elapsed() < limit, "still waiting after {limit:?}: {:?}", ids.iter().filter(|i| !done.contains_key(i)).collect::<Vec<_>>());
        std::thread::sleep(Duration::from_millis(100));
    }
    done
}

/// The circle-packing-26 record (valid), with every radius scaled by `f`
/// (still valid for f <= 1).
fn packing(f: f64) -> Value {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(root().join("tests/data/discovered/circle_packing_26.json")).unwrap()).unwrap();
    let values: Vec<f64> = v["values"].as_array().unwrap().iter().enumerate().map(|(i, x)| {
        let x = x.as_f64().unwrap();
        if i % 3 == 2 { x * f } else { x }
    }).collect();
    json!({ "values": values })
}

fn program(source: &str) -> Value {
    json!({ "language": "python", "source": source })
}

/// Each submission's number of transitions into a final state, from the audit trail.
fn final_transitions(record: &Value) -> usize {
    record["audit"].as_array().unwrap().iter().filter(|a| FINAL.contains(&a["to_state"].as_str().unwrap())).count()
}

// ---- PostgreSQL ----

/// A PostgreSQL cluster in a temporary directory, started for one test and
/// stopped when dropped (run as `nobody` when the tests run as root:
/// PostgreSQL refuses root).
struct Postgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
}

impl Postgres {
    fn start() -> Postgres {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()
            .and_then(|d| d.filter_map(Result::ok).map(|e| e.path().join("bin")).find(|b| b.join("initdb").exists()))
            .expect("PostgreSQL is not installed (apt-get install postgresql; .ci/run does)");
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        let root_user = unsafe { libc::geteuid() } == 0;
        if root_user {
            let _ = Command::new("chown").args(["-R", "nobody:nogroup"]).arg(dir.path()).status();
            let _ = Command::new("chmod").args(["755"]).arg(dir.path()).status();
        }
        let run = |args: &[&str]| {
            let mut cmd = if root_user {
                let mut c = Command::new("runuser");
                c.args(["-u", "nobody", "--"]);
                c
            } else {
                Command::new(args[0])
            };
            if root_user {
                cmd.arg(args[0]);
            }
            let out = cmd.args(&args[1..]).output().unwrap();
            assert!(out.status.success(), "{args:?}: {}{}", text(&out.stdout), text(&out.stderr));
        };
        let initdb = bin.join("initdb").display().to_string();
        let data_s = data.display().to_string();
        run(&[&initdb, "-D", &data_s, "-U", "board", "--auth=trust", "-E", "UTF8", "--no-sync"]);
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let pg_ctl = bin.join("pg_ctl").display().to_string();
        let log = dir.path().join("pg.log").display().to_string();
        let opts = format!("-p {port} -k {} -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off", dir.path().display());
        run(&[&pg_ctl, "-D", &data_s, "-l", &log, "-o", &opts, "-w", "start"]);
        Postgres { dir, bin, port }
    }

    fn url(&self) -> String {
        format!("postgres://board@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // Keep the server's log for a failed test's reader.
        let _ = std::fs::copy(self.dir.path().join("pg.log"), Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("postgres-{}.log", self.port)));
        let data = self.dir.path().join("data");
        let pg_ctl = self.bin.join("pg_ctl");
        let mut cmd = if unsafe { libc::geteuid() } == 0 {
            let mut c = Command::new("runuser");
            c.args(["-u", "nobody", "--"]).arg(&pg_ctl);
            c
        } else {
            Command::new(&pg_ctl)
        };
        let _ = cmd.arg("-D").arg(&data).args(["-m", "immediate", "stop"]).output();
    }
}

// ---- the scenario both backends run ----

fn scoring_and_ranking(db: &str) {
    let (alice_id, alice) = add_user(db, "<script>alert(1)</script>");
    let (_, bob) = add_user(db, "bob");
    let (_, carol) = add_user(db, "carol");
    admin(db, &["problem", "enable", "circle-packing-26"]);
    let board = Board::start(db, &["--workers", "2", "--program-seconds", "20"]);
    let url = &board.url;

    let record = submit(url, "circle-packing-26", &alice, &packing(1.0));
    let alice_worse = submit(url, "circle-packing-26", &alice, &packing(0.99));
    let bob_best = submit(url, "circle-packing-26", &bob, &packing(0.995));
    std::thread::sleep(Duration::from_millis(20));
    let carol_tie = submit(url, "circle-packing-26", &carol, &packing(0.995));
    let bob_invalid = submit(url, "circle-packing-26", &bob, &json!({"values": [0.5, 0.5, 0.1]}));
    let hostile_text = "# </pre><img src=x onerror=alert(1)>\ndef solve(parent, x):\n    return [v * 0.9 if i % 3 == 2 else v for i, v in enumerate(parent)]\n";
    let bob_program = submit(url, "circle-packing-26", &bob, &program(hostile_text));

    // Idempotent retries: the same key and body is the same submission; the
    // same key with another body is refused.
    let body = packing(0.98).to_string();
    let (s1, a1, _) = post(url, "circle-packing-26", Some(&carol), &body, Some("retry-1"));
    let (s2, a2, _) = post(url, "circle-packing-26", Some(&carol), &body, Some("retry-1"));
    assert_eq!((s1, s2), (202, 202));
    assert_eq!(a1["id"], a2["id"]);
    let (s3, a3, _) = post(url, "circle-packing-26", Some(&carol), &packing(0.97).to_string(), Some("retry-1"));
    assert_eq!(s3, 409, "{a3}");

    let ids = [record, alice_worse, bob_best, carol_tie, bob_invalid, bob_program, a1["id"].as_i64().unwrap()];
    let done = wait_final(url, &ids, Duration::from_secs(120));
    assert_eq!(done[&record]["state"], "scored");
    assert_eq!(done[&bob_invalid]["state"], "invalid");
    assert!(done[&bob_invalid]["reason"].as_str().unwrap().contains("78 values"), "{}", done[&bob_invalid]);
    assert_eq!(done[&bob_program]["state"], "scored", "{}", done[&bob_program]);
    for (id, v) in &done {
        assert_eq!(final_transitions(v), 1, "submission {id}: {v}");
        assert_eq!(v["current_verifier"], true);
    }

    // The leaderboard: best valid per user; ties by submission time.
    let problem = get(&format!("{url}/api/v1/problems/circle-packing-26"), None);
    let board_ids: Vec<i64> = problem["leaderboard"].as_array().unwrap().iter().map(|s| s["submission_id"].as_i64().unwrap()).collect();
    assert_eq!(board_ids, vec![record, bob_best, carol_tie], "{problem}");
    assert_eq!(problem["leaderboard"][0]["user_name"], "<script>alert(1)</script>");

    // The source: to its author only (this problem keeps sources private).
    let path = format!("{url}/api/v1/submissions/{bob_program}");
    assert_eq!(get(&path, None)["source"], Value::Null);
    assert_eq!(get(&path, Some(&alice))["source"], Value::Null);
    assert_eq!(get(&path, Some(&bob))["source"], hostile_text);

    // Pages: names and programs are text, never markup; strict headers.
    let page = client().get(format!("{url}/users/{alice_id}")).send().unwrap();
    let csp = page.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert!(csp.contains("default-src 'none'") && !csp.contains("unsafe-inline"), "{csp}");
    let html = page.text().unwrap();
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;") && !html.contains("<script>alert"), "{html}");
    let session = sign_in(url, &bob);
    let page = client().get(format!("{url}/submissions/{bob_program}")).header("cookie", &session).send().unwrap();
    assert_eq!(page.headers()["cache-control"], "no-store, private");
    assert!(page.headers()["vary"].to_str().unwrap().contains("Cookie"));
    let html = page.text().unwrap();
    assert!(html.contains("&lt;/pre&gt;&lt;img src=x onerror=alert(1)&gt;") && !html.contains("<img src=x"), "{html}");
    // The cookie is a session, not the token: a cross-site form is refused,
    // and signing out ends the session.
    assert!(!session.contains(&bob), "the cookie holds the API token: {session}");
    let forged = client().post(format!("{url}/login")).header("origin", "https://evil.example").form(&[("token", bob.as_str())]).send().unwrap();
    assert_eq!(forged.status(), 403);
    assert!(forged.headers().get("set-cookie").is_none());
    let out = no_redirects().post(format!("{url}/logout")).header("cookie", &session).send().unwrap();
    assert_eq!(out.status(), 303);
    let html = client().get(format!("{url}/submissions/{bob_program}")).header("cookie", &session).send().unwrap().text().unwrap();
    assert!(html.contains("shown to its author only"), "the session outlived sign-out: {html}");
    let html = client().get(format!("{url}/problems/circle-packing-26")).send().unwrap().text().unwrap();
    assert!(html.contains(r#"src="/problems/circle-packing-26/best.svg""#), "{html}");
    let svg = client().get(format!("{url}/problems/circle-packing-26/best.svg")).send().unwrap();
    assert_eq!(svg.headers()["content-type"], "image/svg+xml");
    assert!(svg.text().unwrap().contains("<circle"));
}

#[test]
fn a_sqlite_board_scores_ranks_escapes_and_rescores_after_a_verifier_upgrade() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("board.db").display().to_string();
    scoring_and_ranking(&db);

    // A verifier upgrade: a component problem from a pack whose bytes change.
    let pack = tmp.path().join("points");
    let out = discover().args(["pack", "new", "points", "--kind", "component"]).arg("--dir").arg(&pack).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let pack_s = pack.display().to_string();
    let out = discover().args(["board", "problem", "enable", "spread-points", "--db", &db, "--pack", &pack_s]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (_, dana) = add_user(&db, "dana");
    let board = Board::start(&db, &["--pack", &pack_s]);
    let initial: Value = {
        let out = discover().args(["problems", "show", "spread-points", "--json", "--pack", &pack_s]).output().unwrap();
        serde_json::from_slice(&out.stdout).unwrap()
    };
    assert!(initial["id"] == "spread-points");
    let solution: Vec<f64> = (0..16).map(|i| (i as f64 * 0.37).fract()).collect();
    let id = submit(&board.url, "spread-points", &dana, &json!({ "values": solution }));
    let first = wait_final(&board.url, &[id], Duration::from_secs(60));
    assert_eq!(first[&id]["state"], "scored", "{}", first[&id]);
    let old_hash = first[&id]["verifier_hash"].as_str().unwrap().to_string();
    drop(board);

    // Append a custom section: the same verifier, other bytes, another hash.
    let manifest = std::fs::read_to_string(pack.join("pack.toml")).unwrap();
    let wasm = manifest.lines().find_map(|l| l.trim().strip_prefix("path = \"")).unwrap().trim_end_matches('"').to_string();
    let mut bytes = std::fs::read(pack.join(&wasm)).unwrap();
    bytes.extend_from_slice(&[0, 8, 7]);
    bytes.extend_from_slice(b"upgrade");
    std::fs::write(pack.join(&wasm), bytes).unwrap();
    let board = Board::start(&db, &["--pack", &pack_s]);
    let stale = get(&format!("{}/api/v1/problems/spread-points", board.url), None);
    assert_ne!(stale["verifier_hash"], old_hash.as_str());
    assert_eq!(stale["leaderboard"].as_array().unwrap().len(), 0, "scores of the old verifier are not shown: {stale}");
    admin(&db, &["rescore", "spread-points"]);
    let again = wait_final(&board.url, &[id], Duration::from_secs(60));
    assert_eq!(again[&id]["verifier_hash"], stale["verifier_hash"]);
    let fresh = get(&format!("{}/api/v1/problems/spread-points", board.url), None);
    assert_eq!(fresh["leaderboard"][0]["submission_id"], id);
    // Scored once per verifier: the audit shows the rescore between them.
    let audit: Vec<&str> = again[&id]["audit"].as_array().unwrap().iter().map(|a| a["to_state"].as_str().unwrap()).collect();
    assert_eq!(audit, ["queued", "running", "scored", "queued", "running", "scored"]);
}

#[test]
fn a_postgres_board_scores_ranks_and_escapes_the_same_way() {
    let pg = Postgres::start();
    scoring_and_ranking(&pg.url());
}

#[test]
fn abuse_limits_get_their_documented_answers_and_the_board_keeps_serving() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("board.db").display().to_string();
    let (_, alice) = add_user(&db, "alice");
    let (_, bob) = add_user(&db, "bob");
    let (_, carol) = add_user(&db, "carol");
    let (_, dave) = add_user(&db, "dave");
    admin(&db, &["problem", "enable", "circle-packing-26"]);
    admin(&db, &["problem", "enable", "ahc039"]);
    // No workers: submissions stay queued, so the queue limits can be reached.
    let board = Board::start(&db, &["--workers", "0", "--rate", "4", "--user-queue", "3", "--queue", "5", "--max-body-kib", "4"]);
    let url = &board.url;
    let ok = packing(0.9).to_string();

    let (s, v, _) = post(url, "circle-packing-26", None, &ok, None);
    assert_eq!((s, v["error"].as_str().unwrap()), (401, "missing API token: send `Authorization: Bearer TOKEN`"));
    let (s, v, _) = post(url, "circle-packing-26", Some("wrong"), &ok, None);
    assert_eq!((s, v["error"].as_str().unwrap()), (401, "unknown API token"));
    let (s, v, _) = post(url, "no-such-problem", Some(&dave), &ok, None);
    assert_eq!(s, 404, "{v}");
    let (s, v, _) = post(url, "circle-packing-26", Some(&dave), "{\"values\": [1, 2", None);
    assert_eq!(s, 400);
    let reason = v["error"].as_str().unwrap();
    assert!(reason.starts_with("the body is not JSON") && !reason.contains('\n'), "{reason}");
    let (s, v, _) = post(url, "ahc039", Some(&bob), &ok, None);
    assert_eq!((s, v["error"].as_str().unwrap()), (422, "ahc039 takes programs (cpp, python), not solutions"));
    let big = json!({"language": "cpp", "source": "x".repeat(8 << 10)}).to_string();
    let (s, v, _) = post(url, "ahc039", Some(&bob), &big, None);
    assert_eq!(s, 413, "{v}");
    assert!(v["error"].as_str().unwrap().contains("4096 bytes"), "{v}");

    // Alice: 3 queued fill her queue; the 4th is refused (429).
    for f in [0.9, 0.91, 0.92] {
        assert_eq!(post(url, "circle-packing-26", Some(&alice), &packing(f).to_string(), None).0, 202);
    }
    let (s, v, retry) = post(url, "circle-packing-26", Some(&alice), &packing(0.93).to_string(), None);
    assert_eq!(s, 429, "{v}");
    assert!(v["error"].as_str().unwrap().contains("waiting to be scored") && retry.is_some());
    // Bob already spent 2 of his 4 a minute; 2 more are queued (the queue
    // reaches 5); the next is over his rate (429 with Retry-After).
    assert_eq!(post(url, "circle-packing-26", Some(&bob), &packing(0.8).to_string(), None).0, 202);
    assert_eq!(post(url, "circle-packing-26", Some(&bob), &packing(0.81).to_string(), None).0, 202);
    let (s, v, retry) = post(url, "circle-packing-26", Some(&bob), &packing(0.82).to_string(), None);
    assert_eq!(s, 429, "{v}");
    assert!(v["error"].as_str().unwrap().starts_with("rate limit") && retry.unwrap() >= 1, "{v}");
    // Carol meets the full queue (503 with Retry-After).
    let (s, v, retry) = post(url, "circle-packing-26", Some(&carol), &packing(0.7).to_string(), None);
    assert_eq!(s, 503, "{v}");
    assert!(retry.is_some());
    // And the board still serves everyone's reads.
    let list = get(&format!("{url}/api/v1/problems"), None);
    assert_eq!(list.as_array().unwrap().len(), 2);
    let health = get(&format!("{url}/healthz"), None);
    assert_eq!(health["submissions"]["queued"], 5);
}

#[test]
fn hostile_programs_get_typed_failures_while_others_are_scored() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("board.db").display().to_string();
    let (_, mallory) = add_user(&db, "mallory");
    let (_, alice) = add_user(&db, "alice");
    admin(&db, &["problem", "enable", "circle-packing-26"]);
    admin(&db, &["problem", "enable", "ahc039"]);
    let board = Board::start(&db, &["--workers", "2", "--program-seconds", "4", "--rate", "100", "--user-queue", "50"]);
    let url = &board.url;
    let cases: Vec<(&str, Value, &str)> = vec![
        ("infinite loop", program("def solve(parent, x):\n    while True:\n        pass\n"), "timeout"),
        ("8 GiB", program("import numpy\ndef solve(parent, x):\n    return numpy.ones(2**30)\n"), "out-of-memory"),
        ("1 GiB of output", program("import sys\ndef solve(parent, x):\n    chunk = 'x' * 2**20\n    for _ in range(1024):\n        sys.stdout.write(chunk)\n    return x\n"), "output-too-large"),
        ("/etc/passwd", program("def solve(parent, x):\n    return open('/etc/passwd').read()\n"), "exception"),
        ("a socket", program("import socket\ndef solve(parent, x):\n    socket.socket().connect(('1.1.1.1', 80))\n    return x\n"), "exception"),
        ("syntax", program("def solve(parent, x)\n    return x\n"), "syntax-error"),
        ("not C++", json!({"language": "cpp", "source": "int main( { this is not C++"}), "compile-error"),
        ("a crash on every case", json!({"language": "cpp", "source": "#include <cstdlib>\nint main() { std::abort(); }\n"}), "runtime-error"),
    ];
    let ids: Vec<(i64, &str, &str)> = cases
        .iter()
        .map(|(name, body, kind)| {
            let problem = if body["language"] == "cpp" { "ahc039" } else { "circle-packing-26" };
            (submit(url, problem, &mallory, body), *name, *kind)
        })
        .collect();
    // A good submission behind them, and reads served meanwhile.
    let good = submit(url, "circle-packing-26", &alice, &packing(0.95));
    let t = Instant::now();
    get(&format!("{url}/api/v1/problems"), None);
    assert!(t.elapsed() < Duration::from_secs(2), "a read waited {:?} behind scoring", t.elapsed());
    let all: Vec<i64> = ids.iter().map(|i| i.0).chain([good]).collect();
    let done = wait_final(url, &all, Duration::from_secs(240));
    for (id, name, kind) in &ids {
        let v = &done[id];
        assert_eq!(v["state"], "invalid", "{name}: {v}");
        assert_eq!(v["failure"], *kind, "{name}: {v}");
        if *kind == "runtime-error" {
            // The board stops at the first failing case (at most one per
            // worker was already running beside it).
            let skipped = v["metrics"].as_array().unwrap().iter().find(|m| m[0] == "cases_skipped").unwrap()[1].as_f64().unwrap();
            assert!(skipped >= 140.0, "{name}: only {skipped} of 150 cases were skipped: {v}");
        }
    }
    assert_eq!(done[&good]["state"], "scored");
}

/// Four programs that take `seconds` each and four solutions between them,
/// for circle-packing-26; their ids.
fn slow_and_quick(url: &str, token: &str, seconds: f64) -> Vec<i64> {
    let slow = program(&format!(
        "import time\ndef solve(parent, x):\n    t = time.time()\n    while time.time() - t < {seconds}:\n        pass\n    return [v * 0.9 if i % 3 == 2 else v for i, v in enumerate(parent)]\n"
    ));
    let mut ids = Vec::new();
    for k in 0..4 {
        ids.push(submit(url, "circle-packing-26", token, &slow));
        ids.push(submit(url, "circle-packing-26", token, &packing(0.9 + k as f64 / 100.0)));
    }
    ids
}

#[test]
fn killing_a_sqlite_board_mid_scoring_loses_nothing_and_scores_nothing_twice() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("board.db").display().to_string();
    let (_, alice) = add_user(&db, "alice");
    admin(&db, &["problem", "enable", "circle-packing-26"]);
    let mut board = Board::start(&db, &["--workers", "1", "--program-seconds", "30"]);
    let ids = slow_and_quick(&board.url, &alice, 1.5);
    // Kill -9 while a program is being scored.
    let start = Instant::now();
    loop {
        let running = ids.iter().any(|id| get(&format!("{}/api/v1/submissions/{id}", board.url), None)["state"] == "running");
        if running {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "nothing ran");
        std::thread::sleep(Duration::from_millis(20));
    }
    board.kill9();
    let board = Board::start(&db, &["--workers", "1", "--program-seconds", "30"]);
    let done = wait_final(&board.url, &ids, Duration::from_secs(120));
    let mut requeued = 0;
    for (id, v) in &done {
        assert_eq!(v["state"], "scored", "{id}: {v}");
        assert_eq!(final_transitions(v), 1, "{id} was finished more than once: {v}");
        requeued += v["audit"].as_array().unwrap().iter().filter(|a| a["detail"] == "the board restarted").count();
    }
    assert!(requeued >= 1, "the running submission was queued again at restart");
}

#[test]
fn postgres_workers_share_the_queue_and_a_killed_worker_loses_nothing() {
    let pg = Postgres::start();
    let db = pg.url();
    let (_, alice) = add_user(&db, "alice");
    admin(&db, &["problem", "enable", "circle-packing-26"]);
    let board = Board::start(&db, &["--workers", "0"]);
    let worker = || {
        discover()
            .args(["board", "worker", "--db", &db, "--lease-seconds", "3", "--program-seconds", "30"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let (mut a, mut b) = (worker(), worker());
    let ids = slow_and_quick(&board.url, &alice, 2.0);
    // Kill worker a while it holds a job.
    let marker = format!(":{}:", a.id());
    let start = Instant::now();
    'wait: loop {
        for id in &ids {
            let v = get(&format!("{}/api/v1/submissions/{id}", board.url), None);
            let holds = v["state"] == "running"
                && v["audit"].as_array().unwrap().last().unwrap()["actor"].as_str().unwrap().contains(&marker);
            if holds {
                break 'wait;
            }
        }
        assert!(start.elapsed() < Duration::from_secs(60), "worker a never took a job");
        std::thread::sleep(Duration::from_millis(20));
    }
    a.kill().unwrap();
    a.wait().unwrap();
    let done = wait_final(&board.url, &ids, Duration::from_secs(120));
    b.kill().unwrap();
    b.wait().unwrap();
    let mut expired = 0;
    let mut scorers = BTreeSet::new();
    for (id, v) in &done {
        assert_eq!(v["state"], "scored", "{id}: {v}");
        assert_eq!(final_transitions(v), 1, "{id} was finished more than once: {v}");
        expired += v["audit"].as_array().unwrap().iter().filter(|a| a["detail"] == "the worker's lease expired").count();
        let last = v["audit"].as_array().unwrap().last().unwrap()["actor"].as_str().unwrap().to_string();
        scorers.insert(last.split(':').nth(2).unwrap().to_string());
    }
    assert_eq!(expired, 1, "the killed worker's job went back to the queue once ({expired} expiries)");
    assert!(scorers.len() >= 1);
}

/// 200 clients, 1000 submissions (valid, invalid and hostile, mixed); then
/// every accepted submission is final exactly once and the leaderboard is
/// the best valid score per user recomputed from the stored submissions.
fn load(db: &str, label: &str) {
    const CLIENTS: usize = 200;
    const PER_CLIENT: usize = 5;
    let mut tokens = Vec::new();
    for i in 0..CLIENTS {
        tokens.push(add_user(db, &format!("user-{i:03}")).1);
    }
    admin(db, &["problem", "enable", "circle-packing-26"]);
    // 200 clients on one address: the per-address cap is raised.
    let board = Board::start(
        db,
        &["--workers", "2", "--program-seconds", "3", "--rate", "60", "--user-queue", "10", "--queue", "2000", "--max-connections-per-address", "1000"],
    );
    let url = board.url.clone();
    let start = Instant::now();
    let results: Vec<(i64, u16, f64)> = std::thread::scope(|s| {
        let handles: Vec<_> = tokens
            .iter()
            .enumerate()
            .map(|(c, token)| {
                let url = url.clone();
                s.spawn(move || {
                    let mut out = Vec::new();
                    for k in 0..PER_CLIENT {
                        let n = c * PER_CLIENT + k;
                        // 1 in 40 spins to its deadline, 1 in 40 raises, a quarter
                        // are malformed solutions, the rest valid packings.
                        let body = match n % 40 {
                            0 => program("def solve(parent, x):\n    while True:\n        pass\n"),
                            1 => program("def solve(parent, x):\n    raise ValueError('no')\n"),
                            2..=11 => json!({"values": vec![n as f64; 5]}),
                            _ => packing(0.5 + (n % 97) as f64 / 200.0),
                        };
                        let t = Instant::now();
                        let (status, v, _) = post(&url, "circle-packing-26", Some(token), &body.to_string(), Some(&format!("k{n}")));
                        out.push((v["id"].as_i64().unwrap_or(-1), status, t.elapsed().as_secs_f64()));
                    }
                    out
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    let submit_seconds = start.elapsed().as_secs_f64();
    let accepted: Vec<i64> = results.iter().filter(|r| r.1 == 202).map(|r| r.0).collect();
    let refused: Vec<u16> = results.iter().filter(|r| r.1 != 202).map(|r| r.1).collect();
    assert!(refused.iter().all(|s| [429, 503].contains(s)), "only documented limits refuse: {refused:?}");
    assert_eq!(accepted.len(), CLIENTS * PER_CLIENT, "nothing was refused at these limits: {refused:?}");
    let distinct: BTreeSet<i64> = accepted.iter().copied().collect();
    assert_eq!(distinct.len(), accepted.len());
    let done = wait_final(&url, &accepted, Duration::from_secs(600));
    let total_seconds = start.elapsed().as_secs_f64();
    for (id, v) in &done {
        assert_eq!(final_transitions(v), 1, "{id}: {v}");
        // No worker died here: every job was finished by the worker that
        // claimed it, on its first attempt (a failed write would show as an
        // expired lease and a second attempt).
        assert_eq!(v["attempts"], 1, "{id}: {v}");
    }
    // The leaderboard against the stored submissions.
    let mut best: BTreeMap<String, f64> = BTreeMap::new();
    for v in done.values().filter(|v| v["state"] == "scored") {
        let e = best.entry(v["user"]["name"].as_str().unwrap().to_string()).or_insert(f64::NEG_INFINITY);
        *e = e.max(v["score"].as_f64().unwrap());
    }
    // Paged through with the API's cursor, 64 lines at a time.
    let mut shown: BTreeMap<String, f64> = BTreeMap::new();
    let mut page = get(&format!("{url}/api/v1/problems/circle-packing-26?limit=64"), None);
    let mut last_rank = 0;
    loop {
        for s in page["leaderboard"].as_array().unwrap() {
            assert_eq!(s["rank"].as_u64().unwrap(), last_rank + 1, "ranks run on across pages");
            last_rank += 1;
            shown.insert(s["user_name"].as_str().unwrap().to_string(), s["score"].as_f64().unwrap());
        }
        let Some(cursor) = page["next_cursor"].as_str() else { break };
        page = get(&format!("{url}/api/v1/problems/circle-packing-26?limit=64&cursor={cursor}"), None);
    }
    assert_eq!(shown, best);
    assert_eq!(page["leaderboard_users"].as_u64().unwrap() as usize, best.len());
    let mut latencies: Vec<f64> = results.iter().map(|r| r.2).collect();
    latencies.sort_by(f64::total_cmp);
    let q = |p: f64| latencies[((latencies.len() - 1) as f64 * p).round() as usize] * 1000.0;
    let states = done.values().fold(BTreeMap::<String, usize>::new(), |mut m, v| {
        *m.entry(v["state"].as_str().unwrap().to_string()).or_default() += 1;
        m
    });
    println!(
        "LOAD {label}: {} submissions from {CLIENTS} clients accepted in {submit_seconds:.2} s ({:.0}/s); submit latency p50 {:.1} ms, p99 {:.1} ms; all final after {total_seconds:.1} s ({:.1} scored submissions/s); states {states:?}",
        accepted.len(),
        accepted.len() as f64 / submit_seconds,
        q(0.5),
        q(0.99),
        accepted.len() as f64 / total_seconds,
    );
}

#[test]
fn load_sqlite_200_clients_1000_submissions() {
    let tmp = tempfile::tempdir().unwrap();
    load(&tmp.path().join("board.db").display().to_string(), "sqlite");
}

#[test]
fn load_postgres_200_clients_1000_submissions() {
    let pg = Postgres::start();
    load(&pg.url(), "postgres");
}

// ---- in a real browser ----

/// Headless Chromium (Debian's `chromium`; .ci/run installs it).
fn chromium() -> PathBuf {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .expect("Chromium is not installed (apt-get install chromium; .ci/run does)")
}

/// Load `url` in headless Chromium: the DOM after load, a screenshot, and
/// every URL the page requested (from Chromium's network log).
fn browse(url: &str, shot: &Path, profile: &Path) -> (String, Vec<String>) {
    let netlog = profile.join(format!("{}.netlog.json", shot.file_stem().unwrap().to_string_lossy()));
    let base = |c: &mut Command| {
        c.args(["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions", "--hide-scrollbars"])
            .args(["--disable-background-networking", "--disable-sync", "--disable-component-update"])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("--window-size=1200,1400");
    };
    let mut dump = Command::new(chromium());
    base(&mut dump);
    let out = dump.arg(format!("--log-net-log={}", netlog.display())).arg("--dump-dom").arg(url).output().unwrap();
    assert!(out.status.success(), "chromium: {}", text(&out.stderr));
    let dom = text(&out.stdout);
    let mut cmd = Command::new(chromium());
    base(&mut cmd);
    let out = cmd.arg(format!("--screenshot={}", shot.display())).arg(url).output().unwrap();
    assert!(out.status.success() && shot.is_file(), "chromium screenshot: {}", text(&out.stderr));
    // The requests the page made: net-log events whose initiator is a page
    // (Chromium's own background traffic, updates and the like, has none).
    let log = std::fs::read_to_string(&netlog).unwrap();
    let log: Value = serde_json::from_str(&log).unwrap_or_else(|_| serde_json::from_str(&format!("{}]}}", log.trim_end().trim_end_matches(','))).unwrap());
    let urls: BTreeSet<String> = log["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| {
            let p = &e["params"];
            let initiator = p["initiator"].as_str()?;
            (initiator != "not an origin").then(|| p["url"].as_str().map(str::to_string)).flatten()
        })
        .collect();
    (dom, urls.into_iter().collect())
}

#[test]
fn pages_in_headless_chromium_show_text_not_markup_and_load_nothing_from_elsewhere() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("board.db").display().to_string();
    let (alice_id, alice) = add_user(&db, "<script>alert(1)</script>");
    admin(&db, &["problem", "enable", "circle-packing-26", "--show-source"]);
    let board = Board::start(&db, &["--workers", "1", "--program-seconds", "20"]);
    let url = &board.url;
    let best = submit(url, "circle-packing-26", &alice, &packing(1.0));
    let hostile = "# </pre><img src=x onerror=document.title='pwned'>\ndef solve(parent, x):\n    return [v * 0.9 if i % 3 == 2 else v for i, v in enumerate(parent)]\n";
    let prog = submit(url, "circle-packing-26", &alice, &program(hostile));
    wait_final(url, &[best, prog], Duration::from_secs(60));

    let artifacts = Path::new(env!("CARGO_TARGET_TMPDIR")).join("board-screenshots");
    std::fs::create_dir_all(&artifacts).unwrap();
    let profile = tmp.path().join("chromium");
    let pages = [
        ("problems", format!("{url}/")),
        ("problem", format!("{url}/problems/circle-packing-26")),
        ("submission", format!("{url}/submissions/{prog}")),
        ("user", format!("{url}/users/{alice_id}")),
    ];
    let origin = url.trim_end_matches('/').to_string();
    for (name, page) in &pages {
        let shot = artifacts.join(format!("{name}.png"));
        let (dom, requested) = browse(page, &shot, &profile);
        let foreign: Vec<&String> = requested.iter().filter(|u| u.starts_with("http") && !u.starts_with(&origin)).collect();
        assert!(foreign.is_empty(), "{name} requested {foreign:?}");
        // Nothing in the document points elsewhere either.
        for attribute in ["src=\"", "href=\""] {
            for value in dom.split(attribute).skip(1).filter_map(|v| v.split('"').next()) {
                assert!(value.starts_with('/') || value.starts_with(&origin), "{name}: {attribute}{value}");
            }
        }
        assert!(!dom.contains("<script>alert(1)") && !dom.contains("onerror=\"") && !dom.contains("<img src=\"x\""), "{name}: markup got through:\n{dom}");
        assert!(!dom.contains("<title>pwned"), "{name}: a handler ran");
        match *name {
            "problems" | "user" | "problem" => {
                assert!(dom.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{name}: the name is shown as text:\n{dom}")
            }
            _ => assert!(dom.contains("&lt;/pre&gt;&lt;img src=x onerror=document.title='pwned'&gt;"), "{name}:\n{dom}"),
        }
        if *name == "problem" {
            // The leaderboard and the picture, which the browser fetched from this origin.
            assert!(dom.contains("class=\"board\"") && dom.contains("best.svg"), "{dom}");
            assert!(requested.iter().any(|u| u.ends_with("/problems/circle-packing-26/best.svg")), "{requested:?}");
        }
        assert!(std::fs::metadata(&shot).unwrap().len() > 5_000, "{name}: an empty screenshot");
    }
    println!("screenshots: {}", artifacts.display());
}

#[test]
fn a_run_submits_its_best_state_at_the_end() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("board.db").display().to_string();
    let (_, alice) = add_user(&db, "alice");
    admin(&db, &["problem", "enable", "circle-packing-26"]);
    let board = Board::start(&db, &[]);
    let dir = tmp.path().join("run");
    let out = discover()
        .args(["run", "circle-packing-26", "--steps", "2", "--json", "--submit", &board.url, "--out"])
        .arg(&dir)
        .env("DISCOVER_BOARD_TOKEN", &alice)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let summary: Value = serde_json::from_str(text(&out.stdout).trim()).unwrap();
    let page = summary["submission"].as_str().unwrap();
    let id: i64 = page.rsplit('/').next().unwrap().parse().unwrap();
    let done = wait_final(&board.url, &[id], Duration::from_secs(60));
    assert_eq!(done[&id]["state"], "scored");
    assert_eq!(done[&id]["score"].as_f64().unwrap(), summary["best_score"].as_f64().unwrap());
    // Without a token the run still finishes and says what is missing.
    let out = discover()
        .args(["run", "circle-packing-26", "--steps", "1", "--submit", &board.url, "--out"])
        .arg(tmp.path().join("run2"))
        .env_remove("DISCOVER_BOARD_TOKEN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("set DISCOVER_BOARD_TOKEN"), "{}", text(&out.stderr));
    assert!(tmp.path().join("run2/best/solution.json").is_file());
}

// ---- a public board under attack (each case failed on the board before) ----

/// 100 requests at once against a user cap of 3: exactly 3 are accepted,
/// because the count and the insert are one transaction.
fn parallel_requests_cannot_pass_the_queue_cap(db: &str) {
    let (_, token) = add_user(db, "racer");
    admin(db, &["problem", "enable", "circle-packing-26"]);
    // 100 connections from one address: the per-address cap is raised.
    let board = Board::start(db, &["--workers", "0", "--rate", "1000", "--user-queue", "3", "--queue", "1000", "--max-connections-per-address", "1000"]);
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..100)
            .map(|i| {
                let (url, token) = (&board.url, &token);
                scope.spawn(move || post(url, "circle-packing-26", Some(token), &packing(0.9 + i as f64 * 1e-4).to_string(), None).0)
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let accepted = statuses.iter().filter(|&&s| s == 202).count();
    let refused = statuses.iter().filter(|&&s| s == 429).count();
    assert_eq!((accepted, refused), (3, 97), "{statuses:?}");
    assert_eq!(get(&format!("{}/healthz", board.url), None)["submissions"]["queued"], 3);
}

#[test]
fn parallel_submissions_cannot_pass_the_queue_cap_on_sqlite() {
    let tmp = tempfile::tempdir().unwrap();
    parallel_requests_cannot_pass_the_queue_cap(&tmp.path().join("board.db").display().to_string());
}

#[test]
fn parallel_submissions_cannot_pass_the_queue_cap_on_postgres() {
    let pg = Postgres::start();
    parallel_requests_cannot_pass_the_queue_cap(&pg.url());
}

/// Milliseconds of each of `n` GETs of `path`.
fn latencies(url: &str, n: usize) -> Vec<f64> {
    let c = client();
    let mut ms: Vec<f64> = (0..n)
        .map(|_| {
            let t = Instant::now();
            let r = c.get(url).send().unwrap();
            assert!(r.status().is_success());
            r.bytes().unwrap();
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    ms
}

#[test]
fn half_open_connections_by_the_thousand_neither_stay_nor_slow_other_clients() {
    use std::io::{Read, Write};
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("board.db").display().to_string();
    admin(&db, &["problem", "enable", "circle-packing-26"]);
    let board = Board::start(&db, &["--workers", "0", "--header-timeout", "2", "--max-connections-per-address", "32"]);
    let addr: std::net::SocketAddr = board.url.trim_start_matches("http://").parse().unwrap();
    let read_url = format!("{}/api/v1/problems", board.url);
    let before = latencies(&read_url, 20);

    // 2,000 connections from another loopback address, each with half a
    // request's head, held open.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let attack_start = Instant::now();
    let held: Vec<std::net::TcpStream> = rt.block_on(async {
        let mut held = Vec::new();
        for _ in 0..2000 {
            let socket = tokio::net::TcpSocket::new_v4().unwrap();
            socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
            let Ok(stream) = socket.connect(addr).await else { continue };
            let stream = stream.into_std().unwrap();
            stream.set_nonblocking(false).unwrap();
            held.push(stream);
        }
        held
    });
    for mut s in &held {
        let _ = s.write_all(b"GET / HTTP/1.1\r\nHost: board\r\nX-Slow: ");
    }
    assert!(held.len() >= 1900, "only {} connections were made", held.len());
    let during = latencies(&read_url, 20);
    let median = |v: &[f64]| v[v.len() / 2];
    eprintln!("GET latency ms, median/max: before {:.2}/{:.2}, under 2,000 half-open connections {:.2}/{:.2}", median(&before), before[19], median(&during), during[19]);
    assert!(median(&during) < 3.0 * median(&before) + 20.0 && during[19] < 1_000.0, "before {before:?}, during {during:?}");

    // Every one of them is closed by the server: past the per-address cap at
    // once, the others when their header timeout (2 s) runs out.
    let (mut closed, mut refused) = (0, 0);
    for mut s in &held {
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut buf = [0u8; 1024];
        match s.read(&mut buf) {
            Ok(0) | Err(_) => closed += 1,
            // Past the cap: a 503 that says why, then the close. (hyper may
            // answer a timed-out head too.)
            Ok(n) => {
                refused += text(&buf[..n]).starts_with("HTTP/1.1 503") as usize;
                closed += matches!(s.read(&mut buf), Ok(0) | Err(_)) as usize;
            }
        }
    }
    let took = attack_start.elapsed();
    assert_eq!(closed, held.len(), "connections left open after {took:?}");
    // (A client whose head arrives after the 503's close gets a reset instead.)
    assert!(refused >= held.len() / 2, "only {refused} of the connections past the cap were answered 503");
    assert!(took < Duration::from_secs(15), "closing them took {took:?}");
    // And the board serves as before.
    assert!(median(&latencies(&read_url, 10)) < 3.0 * median(&before) + 20.0);
}

#[test]
fn keys_are_scoped_to_their_problem_names_cannot_be_faked_and_workers_need_postgres() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("board.db").display().to_string();
    let (_, alice) = add_user(&db, "alice");
    add_user(&db, "scope");
    admin(&db, &["problem", "enable", "circle-packing-26"]);
    admin(&db, &["problem", "enable", "circle-packing-32"]);
    // Confusable, invisible and bidi names are refused, with the reason.
    for (name, why) in [
        ("alice\u{200b}", "U+200B"),
        ("ali\u{202e}ecila", "U+202E"),
        ("p\u{430}ypal", "one script"),
        ("\u{430}l\u{456}c\u{435}", "one script"),
        ("ALICE", "looks like the existing user \"alice\""),
        ("a1ice", "looks like the existing user \"alice\""),
        // All Cyrillic: one script, and the same skeleton as `scope`.
        ("\u{455}\u{441}\u{43e}\u{440}\u{435}", "looks like the existing user \"scope\""),
    ] {
        let out = discover().args(["board", "user", "add", name, "--db", &db]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{name:?} was accepted");
        assert!(text(&out.stderr).contains(why), "{name:?}: {}", text(&out.stderr));
    }
    let (_, full_width) = add_user(&db, "\u{ff42}\u{ff4f}\u{ff42}");
    let board = Board::start(&db, &["--workers", "0"]);
    let url = &board.url;
    let user = get(&format!("{url}/api/v1/submissions/{}", submit(url, "circle-packing-26", &full_width, &packing(0.9))), None);
    assert_eq!(user["user"]["name"], "bob", "the name is stored in NFKC");
    // One key, one body, two problems: two submissions.
    let body = packing(0.9).to_string();
    let (s1, a, _) = post(url, "circle-packing-26", Some(&alice), &body, Some("k1"));
    let (s2, b, _) = post(url, "circle-packing-32", Some(&alice), &body, Some("k1"));
    let (s3, c, _) = post(url, "circle-packing-26", Some(&alice), &body, Some("k1"));
    assert_eq!((s1, s2, s3), (202, 202, 202));
    assert_ne!(a["id"], b["id"], "the key of one problem answered another's submission");
    assert_eq!(a["id"], c["id"]);
    assert_eq!(get(&format!("{url}/api/v1/submissions/{}", b["id"]), None)["problem"], "circle-packing-32");
    // Visibility is fixed when a program is submitted: enabling the problem
    // again with --show-source publishes later programs, not earlier ones.
    let secret = program("# SECRET_EARLIER\ndef solve(parent, x):\n    return x\n");
    let earlier = submit(url, "circle-packing-26", &alice, &secret);
    admin(&db, &["problem", "enable", "circle-packing-26", "--show-source"]);
    let later = submit(url, "circle-packing-26", &alice, &program("# PUBLIC_LATER\ndef solve(parent, x):\n    return x\n"));
    assert_eq!(get(&format!("{url}/api/v1/submissions/{earlier}"), None)["source"], Value::Null);
    assert!(get(&format!("{url}/api/v1/submissions/{later}"), None)["source"].as_str().unwrap().contains("PUBLIC_LATER"));
    // Slices of long lists: a malformed one is a 400 that says why.
    for (query, why) in [("limit=0", "limit is 1 to 1000"), ("cursor=zzz", "not one this board gave"), ("page=0", "page is 1 or more")] {
        let r = client().get(format!("{url}/api/v1/problems/circle-packing-26?{query}")).send().unwrap();
        assert_eq!(r.status(), 400, "{query}");
        assert!(r.text().unwrap().contains(why), "{query}");
        let page = client().get(format!("{url}/problems/circle-packing-26?{query}")).send().unwrap();
        assert_eq!(page.status(), 400, "{query}");
    }
    // A worker beside a SQLite board is refused before it touches it.
    let out = discover().args(["board", "worker", "--db", &db]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("needs a PostgreSQL board"), "{}", text(&out.stderr));
}

#[test]
fn sleepers_end_at_their_deadline_private_failures_stay_private_and_claims_rotate() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("board.db").display().to_string();
    let (mallory_id, mallory) = add_user(&db, "mallory");
    let (_, alice) = add_user(&db, "alice");
    admin(&db, &["problem", "enable", "circle-packing-26"]);
    admin(&db, &["problem", "enable", "ahc039"]);
    let board = Board::start(&db, &["--workers", "1", "--program-seconds", "2", "--rate", "100"]);
    let url = &board.url;
    let sleeper = program("import time\ndef solve(parent, x):\n    time.sleep(10**6)\n    return x\n");
    let sleepers: Vec<i64> = (0..3).map(|_| submit(url, "circle-packing-26", &mallory, &sleeper)).collect();
    let secret_cpp = json!({"language": "cpp", "source": "int main() { return SECRET_CPP_7731; }\n"});
    let compile_error = submit(url, "ahc039", &mallory, &secret_cpp);
    let raises = program("def solve(parent, x):\n    secret = 'SECRET_PY_4410'\n    raise ValueError(secret)\n");
    let traceback = submit(url, "circle-packing-26", &mallory, &raises);
    // A solution of another user behind them all.
    let quick = submit(url, "circle-packing-26", &alice, &packing(0.95));
    // A 131,062-value solution: it fits in 256 KiB and is invalid.
    let huge = submit(url, "circle-packing-26", &alice, &json!({"values": vec![0; 131_062]}));
    let ids = [sleepers.clone(), vec![compile_error, traceback, quick, huge]].concat();
    let done = wait_final(url, &ids, Duration::from_secs(120));

    // Each sleeper ended at its deadline (2 s of program time, 3 s of wall),
    // as the program's failure, in one attempt.
    for id in &sleepers {
        let v = &done[id];
        assert_eq!((v["state"].as_str(), v["failure"].as_str(), v["attempts"].as_i64()), (Some("invalid"), Some("timeout"), Some(1)), "{v}");
        let audit = v["audit"].as_array().unwrap();
        let ran = audit.last().unwrap()["at_ms"].as_i64().unwrap() - audit[audit.len() - 2]["at_ms"].as_i64().unwrap();
        assert!(ran < 6_000, "a sleeper held the worker {ran} ms: {v}");
    }
    // Claims rotate: alice's solution waited for one of mallory's jobs at most.
    let claimed = |v: &Value| v["audit"].as_array().unwrap().iter().find(|a| a["to_state"] == "running").unwrap()["at_ms"].as_i64().unwrap();
    let finished = |v: &Value| v["audit"].as_array().unwrap().last().unwrap()["at_ms"].as_i64().unwrap();
    let alice_claimed = claimed(&done[&quick]);
    let before: Vec<i64> = [sleepers.clone(), vec![compile_error, traceback]].concat().into_iter().filter(|id| finished(&done[id]) <= alice_claimed).collect();
    assert!(before.len() <= 1, "alice's solution waited for {} of mallory's jobs: {before:?}", before.len());
    assert_eq!(done[&quick]["state"], "scored");

    // A compile error and a traceback quote the source: public views show
    // the failure kind and the line, the author sees everything.
    for (id, secret, kind) in [(compile_error, "SECRET_CPP_7731", "compile-error"), (traceback, "SECRET_PY_4410", "exception")] {
        let public = get(&format!("{url}/api/v1/submissions/{id}"), None);
        assert_eq!(public["failure"], kind, "{public}");
        assert!(!public.to_string().contains(secret), "the anonymous view leaks the source: {public}");
        let page = client().get(format!("{url}/submissions/{id}")).send().unwrap().text().unwrap();
        assert!(!page.contains(secret), "the page leaks the source: {page}");
        let other = get(&format!("{url}/api/v1/submissions/{id}"), Some(&alice));
        assert!(!other.to_string().contains(secret), "another user sees the source: {other}");
        let author = get(&format!("{url}/api/v1/submissions/{id}"), Some(&mallory));
        assert!(author.to_string().contains(secret), "the author sees it: {author}");
        assert!(public["reason"].as_str().unwrap().contains("line"), "{public}");
    }
    let user_page = client().get(format!("{url}/users/{mallory_id}")).send().unwrap().text().unwrap();
    assert!(!user_page.contains("SECRET"), "{user_page}");

    // The huge invalid solution's page comes from stored data: no verifier
    // run per view, no error.
    assert_eq!(done[&huge]["state"], "invalid");
    let c = client();
    for _ in 0..10 {
        let t = Instant::now();
        let r = c.get(format!("{url}/submissions/{huge}")).send().unwrap();
        assert_eq!(r.status(), 200);
        r.bytes().unwrap();
        assert!(t.elapsed() < Duration::from_millis(500), "the page took {:?}", t.elapsed());
    }
    assert_eq!(c.get(format!("{url}/submissions/{huge}/picture.svg")).send().unwrap().status(), 404);
}
