//! The HTTP server: the submission API with its abuse limits, the JSON API
//! and the HTML pages, every response with strict security headers.
//!
//! A submission is committed to the database before `202 Accepted` is sent;
//! scoring happens later, in a worker (this process's or another machine's).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use tracing::Instrument;

use discover_rollout::judge::{Accepts, Submission};

use crate::db::{Db, Inserted, ProblemRow, QueueCaps, User};
use crate::{pages, Scorer};

/// The abuse limits (each one a documented answer).
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest request body, bytes (413 above).
    pub body_bytes: usize,
    /// Submissions a user may make per minute (429 with Retry-After above).
    pub per_minute: u32,
    /// A user's queued or running submissions at once (429 above).
    pub user_queue: i64,
    /// Queued submissions at once, everyone's (503 with Retry-After above).
    pub queue: i64,
    /// The connections themselves: slow and abusive clients.
    pub http: HttpLimits,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { body_bytes: 256 << 10, per_minute: 30, user_queue: 20, queue: 1000, http: HttpLimits::default() }
    }
}

/// What a connection may hold: every limit a stranger could otherwise stretch.
#[derive(Clone, Debug)]
pub struct HttpLimits {
    /// A request's head must arrive within this, from the connection's start
    /// or the end of the previous response (so it is also the idle timeout of
    /// a kept-alive connection): the connection is closed after it.
    pub header_read: Duration,
    /// The body may pause this long between two reads (408 after).
    pub body_read: Duration,
    /// A request, body read and handler together (408 after).
    pub request: Duration,
    /// Connections at once, everyone's: past it the board stops accepting
    /// until one closes (the kernel's backlog holds the rest).
    pub max_connections: usize,
    /// Connections at once from one IP address: past it a new one is closed
    /// as soon as it is accepted. Behind a reverse proxy every client has the
    /// proxy's address: raise it there.
    pub max_connections_per_address: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            header_read: Duration::from_secs(10),
            body_read: Duration::from_secs(10),
            request: Duration::from_secs(30),
            max_connections: 1024,
            max_connections_per_address: 64,
        }
    }
}

/// What every handler sees.
pub struct App {
    pub db: Db,
    pub scorer: Arc<dyn Scorer>,
    pub limits: Limits,
    buckets: Mutex<HashMap<i64, Bucket>>,
}

impl App {
    pub fn new(db: Db, scorer: Arc<dyn Scorer>, limits: Limits) -> App {
        App { db, scorer, limits, buckets: Mutex::new(HashMap::new()) }
    }

    /// Take one token from the user's bucket, or say how long to wait.
    fn rate(&self, user: i64) -> Result<(), u64> {
        let capacity = self.limits.per_minute.max(1) as f64;
        let refill = capacity / 60.0;
        let mut buckets = self.buckets.lock().unwrap();
        let now = Instant::now();
        let b = buckets.entry(user).or_insert(Bucket { tokens: capacity, at: now });
        b.tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * refill).min(capacity);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - b.tokens) / refill).ceil().max(1.0) as u64)
        }
    }
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// An API error: a status and a one-line reason, as JSON.
pub struct ApiError {
    status: StatusCode,
    message: String,
    retry_after: Option<u64>,
}

fn err(status: StatusCode, message: impl Into<String>) -> ApiError {
    ApiError { status, message: message.into(), retry_after: None }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(json!({ "error": self.message }))).into_response();
        if let Some(s) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        response
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> ApiError {
        tracing::error!(error = format!("{e:#}"), "request failed");
        err(StatusCode::INTERNAL_SERVER_ERROR, "internal error (logged on the server)")
    }
}

/// Pages answer errors as HTML.
pub struct PageError(StatusCode, String);

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        (self.0, Html(pages::not_found(&self.1, None))).into_response()
    }
}

impl From<anyhow::Error> for PageError {
    fn from(e: anyhow::Error) -> PageError {
        tracing::error!(error = format!("{e:#}"), "page failed");
        PageError(StatusCode::INTERNAL_SERVER_ERROR, "internal error (logged on the server)".into())
    }
}

pub fn router(app: Arc<App>) -> Router {
    let limit = app.limits.body_bytes;
    let request_timeout = app.limits.http.request;
    Router::new()
        .route("/", get(index))
        .route("/problems/{id}", get(problem_page))
        .route("/problems/{id}/best.svg", get(best_svg))
        .route("/problems/{id}/history.svg", get(history_svg))
        .route("/submissions/{id}", get(submission_page))
        .route("/submissions/{id}/picture.svg", get(submission_svg))
        .route("/users/{id}", get(user_page))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/static/board.css", get(css))
        .route("/healthz", get(healthz))
        .route("/api/v1/problems", get(api_problems))
        .route("/api/v1/problems/{id}", get(api_problem))
        .route("/api/v1/problems/{id}/submissions", post(submit))
        .route("/api/v1/submissions/{id}", get(api_submission))
        .route("/api/v1/users/{id}", get(api_user))
        .fallback(fallback)
        .layer(DefaultBodyLimit::max(limit))
        // The handler with its body read: a request that takes longer is
        // answered 408 and its future dropped.
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, request_timeout))
        .layer(middleware::from_fn(headers_and_span))
        .with_state(app)
}

/// Security headers on every response, and one span per request.
async fn headers_and_span(request: Request, next: Next) -> Response {
    let span = tracing::info_span!("request", method = %request.method(), path = %request.uri().path());
    let start = Instant::now();
    let mut response = next.run(request).instrument(span.clone()).await;
    let h = response.headers_mut();
    // Nothing but this origin's stylesheet and images; no scripts at all.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
        ),
    );
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    span.in_scope(|| tracing::info!(status = response.status().as_u16(), ms = start.elapsed().as_millis() as u64, "served"));
    response
}

async fn fallback() -> PageError {
    PageError(StatusCode::NOT_FOUND, "There is no page here.".into())
}

async fn healthz(State(app): State<Arc<App>>) -> Result<Json<Value>, ApiError> {
    let counts = app.db.state_counts().await?;
    Ok(Json(json!({ "ok": true, "submissions": counts.into_iter().collect::<HashMap<_, _>>() })))
}

async fn css() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], pages::CSS)
}

// ---- who is asking ----

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Bearer ").map(str::trim)
}

/// The sign-in cookie's name; it holds a session id, never the API token.
const SESSION_COOKIE: &str = "board_session";

/// How long a sign-in lasts.
const SESSION_TTL: std::time::Duration = std::time::Duration::from_secs(30 * 86_400);

fn cookie(headers: &HeaderMap) -> Option<String> {
    let raw = headers.get(header::COOKIE)?.to_str().ok()?;
    raw.split(';').find_map(|c| c.trim().strip_prefix(SESSION_COOKIE)?.strip_prefix('=').map(str::to_string))
}

/// The user of a bearer token or of the sign-in session, if any.
async fn viewer(app: &App, headers: &HeaderMap) -> anyhow::Result<Option<User>> {
    if let Some(t) = bearer(headers).filter(|t| !t.is_empty()) {
        return app.db.user_by_token(t).await;
    }
    match cookie(headers) {
        Some(t) if !t.is_empty() => app.db.user_by_session(&t).await,
        _ => Ok(None),
    }
}

/// A state-changing form must come from this site: a browser's `Origin`
/// (or `Sec-Fetch-Site`) naming another site is refused, beside the
/// cookie's `SameSite=Strict`.
fn same_origin(headers: &HeaderMap) -> bool {
    if headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()).is_some_and(|v| v == "cross-site" || v == "same-site") {
        return false;
    }
    let Some(origin) = headers.get(header::ORIGIN) else { return true };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let origin_host = origin.to_str().ok().and_then(|o| o.split_once("://")).map(|(_, rest)| rest.trim_end_matches('/'));
    matches!((origin_host, host), (Some(o), Some(h)) if o.eq_ignore_ascii_case(h))
}

fn cross_site() -> PageError {
    PageError(StatusCode::FORBIDDEN, "This form only works from the board's own pages.".into())
}

// ---- the submission API ----

async fn submit(
    State(app): State<Arc<App>>,
    Path(problem_id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let Some(token) = bearer(&headers) else {
        return Err(err(StatusCode::UNAUTHORIZED, "missing API token: send `Authorization: Bearer TOKEN`"));
    };
    let Some(user) = app.db.user_by_token(token).await? else {
        return Err(err(StatusCode::UNAUTHORIZED, "unknown API token"));
    };
    if let Err(wait) = app.rate(user.id) {
        return Err(ApiError {
            retry_after: Some(wait),
            ..err(StatusCode::TOO_MANY_REQUESTS, format!("rate limit: {} submissions a minute; retry in {wait} s", app.limits.per_minute))
        });
    }
    let Some(problem) = app.db.problem(&problem_id).await? else {
        return Err(err(StatusCode::NOT_FOUND, format!("no problem {problem_id:?} on this board")));
    };
    let body = body.map_err(|e| match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => {
            err(StatusCode::PAYLOAD_TOO_LARGE, format!("the body is over the limit of {} bytes", app.limits.body_bytes))
        }
        status => err(status, e.body_text()),
    })?;
    let submission = parse_submission(&body).map_err(|m| err(StatusCode::BAD_REQUEST, m))?;
    let accepts: Accepts = serde_json::from_str(&problem.accepts).map_err(anyhow::Error::from)?;
    if let Some(why) = accepts.refusal(&problem.id, &submission) {
        return Err(err(StatusCode::UNPROCESSABLE_ENTITY, why));
    }
    let key = match headers.get("idempotency-key") {
        Some(v) => {
            let k = v.to_str().map_err(|_| err(StatusCode::BAD_REQUEST, "the Idempotency-Key header is not ASCII"))?;
            if k.is_empty() || k.len() > 200 {
                return Err(err(StatusCode::BAD_REQUEST, "an Idempotency-Key is 1 to 200 characters"));
            }
            Some(k.to_string())
        }
        None => None,
    };
    let caps = QueueCaps { user_queue: app.limits.user_queue, queue: app.limits.queue };
    let id = match app.db.insert_submission(&user, &problem, &submission, key.as_deref(), caps).await? {
        Inserted::New(id) | Inserted::Existing(id) => id,
        Inserted::Conflict(id) => {
            return Err(err(
                StatusCode::CONFLICT,
                format!("this Idempotency-Key was used for submission {id} with another body"),
            ))
        }
        Inserted::UserQueueFull(mine) => {
            return Err(ApiError {
                retry_after: Some(30),
                ..err(
                    StatusCode::TOO_MANY_REQUESTS,
                    format!("you have {mine} submissions waiting to be scored (the limit is {}); wait for them", app.limits.user_queue),
                )
            })
        }
        Inserted::QueueFull(queued) => {
            return Err(ApiError {
                retry_after: Some(60),
                ..err(StatusCode::SERVICE_UNAVAILABLE, format!("the board's queue is full ({queued} submissions); retry later"))
            })
        }
    };
    let status = StatusCode::ACCEPTED;
    let state = app.db.submission(id).await?.map(|s| s.state).unwrap_or_else(|| "queued".into());
    tracing::info!(submission = id, user = user.id, problem = %problem.id, "accepted");
    let url = format!("/api/v1/submissions/{id}");
    let mut response = (status, Json(json!({ "id": id, "state": state, "url": url, "page": format!("/submissions/{id}") }))).into_response();
    response.headers_mut().insert(header::LOCATION, HeaderValue::from_str(&url).expect("ascii"));
    Ok(response)
}

/// A body as a submission, or a one-line reason.
pub fn parse_submission(body: &[u8]) -> Result<Submission, String> {
    let value: Value = serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
    let Value::Object(map) = value else { return Err("the body must be a JSON object".into()) };
    match (map.get("values"), map.get("language"), map.get("source")) {
        (Some(values), None, None) => {
            let Value::Array(items) = values else { return Err("`values` must be an array of numbers".into()) };
            let mut out = Vec::with_capacity(items.len());
            for (i, v) in items.iter().enumerate() {
                match v.as_f64() {
                    Some(x) if x.is_finite() => out.push(x),
                    _ => return Err(format!("`values[{i}]` is not a finite number")),
                }
            }
            if let Some(extra) = map.keys().find(|k| *k != "values") {
                return Err(format!("unknown field `{extra}` (a solution is {{\"values\": [...]}})"));
            }
            Ok(Submission::Solution { values: out })
        }
        (None, Some(language), Some(source)) => {
            let (Some(language), Some(source)) = (language.as_str(), source.as_str()) else {
                return Err("`language` and `source` must be strings".into());
            };
            if let Some(extra) = map.keys().find(|k| *k != "language" && *k != "source") {
                return Err(format!("unknown field `{extra}` (a program is {{\"language\": ..., \"source\": ...}})"));
            }
            if source.trim().is_empty() {
                return Err("`source` is empty".into());
            }
            Ok(Submission::Program { language: language.to_string(), source: source.to_string() })
        }
        _ => Err("a submission is {\"values\": [numbers]} or {\"language\": \"python\"|\"cpp\", \"source\": \"...\"}".into()),
    }
}

/// `?page=P&limit=N` (pages) or `?limit=N&cursor=C` (the API): which slice
/// of a long list a response holds.
#[derive(Deserialize, Default)]
struct PageQuery {
    page: Option<i64>,
    limit: Option<i64>,
    cursor: Option<String>,
}

/// The default and the largest number of rows in one response.
const PAGE_ROWS: i64 = 100;
const MAX_PAGE_ROWS: i64 = 1000;

impl PageQuery {
    /// (offset, limit), or why the query is refused.
    fn slice(&self) -> Result<(i64, i64), String> {
        let limit = self.limit.unwrap_or(PAGE_ROWS);
        if !(1..=MAX_PAGE_ROWS).contains(&limit) {
            return Err(format!("limit is 1 to {MAX_PAGE_ROWS}"));
        }
        let offset = match (&self.cursor, self.page) {
            (Some(_), Some(_)) => return Err("give page or cursor, not both".into()),
            (Some(c), None) => c.strip_prefix('o').and_then(|o| o.parse::<i64>().ok()).filter(|o| *o >= 0).ok_or("the cursor is not one this board gave")?,
            (None, Some(p)) if (1..=1_000_000).contains(&p) => (p - 1) * limit,
            (None, Some(_)) => return Err("page is 1 or more".into()),
            (None, None) => 0,
        };
        Ok((offset, limit))
    }
}

/// The cursor of the slice after `offset..offset + shown`, when there is one.
fn next_cursor(offset: i64, shown: usize, limit: i64, total: i64) -> Option<String> {
    let next = offset + shown as i64;
    (shown as i64 == limit && next < total).then(|| format!("o{next}"))
}

async fn api_problems(State(app): State<Arc<App>>) -> Result<Json<Value>, ApiError> {
    let mut out = Vec::new();
    for p in app.db.problems().await? {
        let board = app.db.leaderboard(&p, 0, 1).await?;
        out.push(problem_json(&p, board.first()));
    }
    Ok(Json(Value::Array(out)))
}

fn problem_json(p: &ProblemRow, leader: Option<&crate::db::Standing>) -> Value {
    json!({
        "id": p.id, "title": p.title, "direction": p.direction,
        "best_known": p.best_known, "best_known_source": p.best_known_source,
        "accepts": serde_json::from_str::<Value>(&p.accepts).unwrap_or(Value::Null),
        "verifier_hash": p.verifier_hash,
        "leader": leader,
    })
}

async fn api_problem(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    Query(query): Query<PageQuery>,
) -> Result<Json<Value>, ApiError> {
    let (offset, limit) = query.slice().map_err(|m| err(StatusCode::BAD_REQUEST, m))?;
    let Some(p) = app.db.problem(&id).await? else { return Err(err(StatusCode::NOT_FOUND, format!("no problem {id:?} on this board"))) };
    let board = app.db.leaderboard(&p, offset, limit).await?;
    let leader = leader(&app, &p, offset, &board).await?;
    let (users, scored) = (app.db.board_users(&p).await?, app.db.scored_count(&p).await?);
    let mut v = problem_json(&p, leader.as_ref());
    v["statement"] = p.statement.clone().into();
    v["leaderboard"] = serde_json::to_value(&board).map_err(anyhow::Error::from)?;
    v["leaderboard_users"] = users.into();
    v["scored_submissions"] = scored.into();
    v["next_cursor"] = next_cursor(offset, board.len(), limit, users).into();
    Ok(Json(v))
}

/// Whether `viewer` may see what a submission's source holds: its author
/// always; anyone else where the submission was made public when it was
/// submitted (the problem's `show_source` then, not now).
fn sees_private(s: &crate::db::SubmissionRow, viewer: Option<&User>) -> bool {
    s.source_public || viewer.is_some_and(|v| v.id == s.user_id)
}

/// A submission's source, for those who [`sees_private`].
fn visible_source(s: &crate::db::SubmissionRow, viewer: Option<&User>) -> Option<String> {
    if !sees_private(s, viewer) {
        return None;
    }
    match serde_json::from_str::<Submission>(&s.body).ok()? {
        Submission::Program { source, .. } => Some(source),
        Submission::Solution { .. } => None,
    }
}

/// A program's submission as someone who may not see its source sees it:
/// compiler messages, tracebacks and output quote the source, so the reason
/// is cut to the failure kind and the line it names, and the output is gone.
fn redact_private(s: &mut crate::db::SubmissionRow, viewer: Option<&User>) -> bool {
    if s.kind != "program" || sees_private(s, viewer) {
        return false;
    }
    s.reason = s.reason.as_deref().map(|r| public_reason(s.failure.as_deref(), r, s.output.as_deref().unwrap_or("")));
    s.output = None;
    true
}

/// The public form of a private program's reason: its failure kind and the
/// line it failed at: the first line the reason names (`main.cpp:3:5:`,
/// `line 3`), else the innermost frame of a traceback in its output.
pub fn public_reason(failure: Option<&str>, reason: &str, output: &str) -> String {
    let Some(kind) = failure else { return "the details are shown to the author".into() };
    match line_numbers(reason).first().or(line_numbers(output).last()) {
        Some(line) => format!("{kind} at line {line} (the details are shown to the author)"),
        None => format!("{kind} (the details are shown to the author)"),
    }
}

/// The line numbers a compiler message or a traceback names, in order:
/// `file.cpp:12:` and `line 12`.
fn line_numbers(text: &str) -> Vec<u64> {
    let digits = |t: &str| -> Option<u64> {
        let end = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        t[..end].parse().ok()
    };
    let mut found: Vec<(usize, u64)> = Vec::new();
    for (i, _) in text.match_indices("line ") {
        found.extend(digits(&text[i + 5..]).map(|n| (i, n)));
    }
    for ext in [".cpp:", ".cc:", ".py:", ".c:"] {
        for (i, _) in text.match_indices(ext) {
            found.extend(digits(&text[i + ext.len()..]).map(|n| (i, n)));
        }
    }
    found.sort();
    found.into_iter().map(|(_, n)| n).collect()
}

/// Responses that depend on who asks: never kept by a shared cache, and
/// marked as varying with the credentials.
fn private_response(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store, private"));
    h.insert(header::VARY, HeaderValue::from_static("Cookie, Authorization"));
    response
}

async fn api_submission(State(app): State<Arc<App>>, Path(id): Path<i64>, headers: HeaderMap) -> Result<Response, ApiError> {
    let Some(mut s) = app.db.submission(id).await? else { return Err(err(StatusCode::NOT_FOUND, format!("no submission {id}"))) };
    let viewer = viewer(&app, &headers).await?;
    let problem = app.db.problem(&s.problem_id).await?;
    let source = visible_source(&s, viewer.as_ref());
    redact_private(&mut s, viewer.as_ref());
    let audit = app.db.audit_of(id).await?;
    Ok(private_response(Json(json!({
        "id": s.id, "problem": s.problem_id, "user": {"id": s.user_id, "name": s.user_name},
        "kind": s.kind, "language": s.language, "state": s.state, "score": s.score,
        "reason": s.reason, "failure": s.failure, "output": s.output,
        "metrics": s.metrics.as_deref().and_then(|m| serde_json::from_str::<Value>(m).ok()),
        "solution": if s.kind == "solution" { serde_json::from_str::<Value>(&s.body).ok().map(|b| b["values"].clone()) } else { None },
        "verifier_hash": s.verifier_hash, "current_verifier": problem.as_ref().is_some_and(|p| s.verifier_hash.as_deref() == Some(p.verifier_hash.as_str())),
        "attempts": s.attempts, "created_ms": s.created_ms, "scored_ms": s.scored_ms,
        "source": source, "audit": audit,
    })).into_response()))
}

async fn api_user(State(app): State<Arc<App>>, Path(id): Path<i64>, Query(query): Query<PageQuery>) -> Result<Json<Value>, ApiError> {
    let (offset, limit) = query.slice().map_err(|m| err(StatusCode::BAD_REQUEST, m))?;
    let Some(u) = app.db.user(id).await? else { return Err(err(StatusCode::NOT_FOUND, format!("no user {id}"))) };
    let (subs, more) = app.db.user_submissions(id, offset, limit).await?;
    let list: Vec<Value> = subs
        .iter()
        .map(|s| json!({"id": s.id, "problem": s.problem_id, "state": s.state, "score": s.score, "created_ms": s.created_ms}))
        .collect();
    let next = more.then(|| format!("o{}", offset + limit));
    Ok(Json(json!({ "id": u.id, "name": u.name, "submissions": list, "next_cursor": next })))
}

// ---- pages ----

async fn index(State(app): State<Arc<App>>, headers: HeaderMap) -> Result<Response, PageError> {
    let viewer = viewer(&app, &headers).await?;
    let mut list = Vec::new();
    for p in app.db.problems().await? {
        let leader = app.db.leaderboard(&p, 0, 1).await?.into_iter().next();
        let scored = app.db.scored_count(&p).await?;
        list.push((p, leader, scored));
    }
    Ok(viewer_page(pages::problems(&list, viewer.as_ref()), viewer.as_ref()))
}

/// The leaderboard's first line: the page's own first line on page one.
async fn leader(app: &App, p: &ProblemRow, offset: i64, page: &[crate::db::Standing]) -> anyhow::Result<Option<crate::db::Standing>> {
    if offset == 0 {
        return Ok(page.first().cloned());
    }
    Ok(app.db.leaderboard(p, 0, 1).await?.into_iter().next())
}

/// A page request's slice, or the page that says what is wrong with it.
fn page_slice(query: &PageQuery) -> Result<(i64, i64), PageError> {
    query.slice().map_err(|m| PageError(StatusCode::BAD_REQUEST, format!("That page does not exist: {m}.")))
}

async fn problem_page(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    Query(query): Query<PageQuery>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let (offset, limit) = page_slice(&query)?;
    let viewer = viewer(&app, &headers).await?;
    let Some(p) = app.db.problem(&id).await? else { return Err(PageError(StatusCode::NOT_FOUND, format!("No problem {id} on this board."))) };
    let board = app.db.leaderboard(&p, offset, limit).await?;
    let users = app.db.board_users(&p).await?;
    let picture = match leader(&app, &p, offset, &board).await? {
        Some(best) => match app.db.picture_state(best.submission_id).await? {
            Some(known) => known,
            None => match app.db.submission(best.submission_id).await? {
                Some(s) => has_picture(&app, &s).await?,
                None => false,
            },
        },
        None => false,
    };
    let paging = pages::Paging { page: offset / limit + 1, pages: ((users + limit - 1) / limit).max(1), limit, default_limit: limit == PAGE_ROWS };
    Ok(viewer_page(pages::problem(&p, &board, &paging, picture, users > 0, viewer.as_ref()), viewer.as_ref()))
}

/// A page for `viewer`: one that shows who is signed in varies with them.
fn viewer_page(html: String, viewer: Option<&User>) -> Response {
    let page = Html(html).into_response();
    if viewer.is_some() { private_response(page) } else { page }
}

/// The stored picture of a submission's solution. A submission scored
/// before pictures were stored is drawn once, here, and stored.
async fn stored_picture(app: &Arc<App>, s: &crate::db::SubmissionRow) -> anyhow::Result<Option<String>> {
    match s.has_picture {
        Some(false) => return Ok(None),
        Some(true) => return app.db.picture(s.id).await,
        None => {}
    }
    let Some(values) = s.solution.as_deref().and_then(|v| serde_json::from_str::<Vec<f64>>(v).ok()) else { return Ok(None) };
    let (scorer, id) = (app.scorer.clone(), s.problem_id.clone());
    let picture = tokio::task::spawn_blocking(move || crate::worker::draw(scorer.as_ref(), &id, Some(&values))).await?;
    app.db.store_picture(s.id, picture.as_deref()).await?;
    Ok(picture)
}

/// Whether a page should link a submission's picture (drawing it once if it
/// was scored before pictures were stored).
async fn has_picture(app: &Arc<App>, s: &crate::db::SubmissionRow) -> anyhow::Result<bool> {
    Ok(match s.has_picture {
        Some(known) => known,
        None => stored_picture(app, s).await?.is_some(),
    })
}

fn svg(body: String) -> Response {
    (
        [(header::CONTENT_TYPE, "image/svg+xml"), (header::CACHE_CONTROL, "no-cache")],
        body,
    )
        .into_response()
}

async fn best_svg(State(app): State<Arc<App>>, Path(id): Path<String>) -> Result<Response, PageError> {
    let Some(p) = app.db.problem(&id).await? else { return Err(PageError(StatusCode::NOT_FOUND, format!("No problem {id}."))) };
    let board = app.db.leaderboard(&p, 0, 1).await?;
    let Some(best) = board.first() else { return Err(PageError(StatusCode::NOT_FOUND, "No valid submission yet.".into())) };
    let Some(s) = app.db.submission(best.submission_id).await? else { return Err(PageError(StatusCode::NOT_FOUND, "No valid submission yet.".into())) };
    match stored_picture(&app, &s).await? {
        Some(picture) => Ok(svg(picture)),
        None => Err(PageError(StatusCode::NOT_FOUND, format!("{id} draws no pictures."))),
    }
}

async fn history_svg(State(app): State<Arc<App>>, Path(id): Path<String>) -> Result<Response, PageError> {
    let Some(p) = app.db.problem(&id).await? else { return Err(PageError(StatusCode::NOT_FOUND, format!("No problem {id}."))) };
    let improvements = app.db.improvements(&p).await?;
    let Some(&(t0, _)) = improvements.first() else { return Err(PageError(StatusCode::NOT_FOUND, "No valid submission yet.".into())) };
    let mut best: Option<f64> = None;
    let mut points = Vec::new();
    // Two workers finishing at once may both have recorded an improvement:
    // the plot keeps the best so far.
    for &(at, v) in &improvements {
        if best.is_none_or(|b| p.better(v, b)) {
            best = Some(v);
            points.push(((at - t0) as f64 / 3_600_000.0, v));
        }
    }
    let mut series = vec![("best on the board", points)];
    if let Some(known) = p.best_known {
        let end = series[0].1.last().map_or(1.0, |l| l.0.max(1e-3));
        series.push(("best known", vec![(0.0, known), (end, known)]));
    }
    Ok(svg(discover_report::line_chart(&format!("{}: best score over time", p.id), "hours since the first valid submission", &series)))
}

async fn submission_page(State(app): State<Arc<App>>, Path(id): Path<i64>, headers: HeaderMap) -> Result<Response, PageError> {
    let viewer = viewer(&app, &headers).await?;
    let Some(mut s) = app.db.submission(id).await? else { return Err(PageError(StatusCode::NOT_FOUND, format!("No submission {id}."))) };
    let problem = app.db.problem(&s.problem_id).await?;
    let source = visible_source(&s, viewer.as_ref());
    redact_private(&mut s, viewer.as_ref());
    let audit = app.db.audit_of(id).await?;
    let picture = problem.is_some() && has_picture(&app, &s).await?;
    Ok(private_response(Html(pages::submission(&s, &audit, source.as_deref(), picture, viewer.as_ref())).into_response()))
}

async fn submission_svg(State(app): State<Arc<App>>, Path(id): Path<i64>) -> Result<Response, PageError> {
    let Some(s) = app.db.submission(id).await? else { return Err(PageError(StatusCode::NOT_FOUND, format!("No submission {id}."))) };
    if app.db.problem(&s.problem_id).await?.is_none() {
        return Err(PageError(StatusCode::NOT_FOUND, "No such problem.".into()));
    }
    match stored_picture(&app, &s).await? {
        Some(picture) => Ok(svg(picture)),
        None => Err(PageError(StatusCode::NOT_FOUND, "No picture for this submission.".into())),
    }
}

async fn user_page(
    State(app): State<Arc<App>>,
    Path(id): Path<i64>,
    Query(query): Query<PageQuery>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let (offset, limit) = page_slice(&query)?;
    let viewer = viewer(&app, &headers).await?;
    let Some(u) = app.db.user(id).await? else { return Err(PageError(StatusCode::NOT_FOUND, format!("No user {id}."))) };
    let (subs, more) = app.db.user_submissions(id, offset, limit).await?;
    let page = offset / limit + 1;
    let paging = pages::Paging { page, pages: if more { page + 1 } else { page }, limit, default_limit: limit == PAGE_ROWS };
    Ok(viewer_page(pages::user(&u, &subs, &paging, viewer.as_ref()), viewer.as_ref()))
}

async fn login_page() -> Html<String> {
    Html(pages::login(None))
}

#[derive(Deserialize)]
struct LoginForm {
    token: String,
}

async fn login(State(app): State<Arc<App>>, headers: HeaderMap, Form(form): Form<LoginForm>) -> Result<Response, PageError> {
    if !same_origin(&headers) {
        return Err(cross_site());
    }
    match app.db.user_by_token(form.token.trim()).await? {
        Some(u) => {
            let session = app.db.create_session(&u, SESSION_TTL).await?;
            let mut r = Redirect::to(&format!("/users/{}", u.id)).into_response();
            let cookie = format!("{SESSION_COOKIE}={session}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}", SESSION_TTL.as_secs());
            r.headers_mut().insert(header::SET_COOKIE, HeaderValue::from_str(&cookie).map_err(anyhow::Error::from)?);
            Ok(private_response(r))
        }
        None => Ok((StatusCode::UNAUTHORIZED, Html(pages::login(Some("That token is unknown.")))).into_response()),
    }
}

async fn logout(State(app): State<Arc<App>>, headers: HeaderMap) -> Result<Response, PageError> {
    if !same_origin(&headers) {
        return Err(cross_site());
    }
    if let Some(session) = cookie(&headers) {
        app.db.delete_session(&session).await?;
    }
    let mut r = Redirect::to("/").into_response();
    let clear = format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    r.headers_mut().insert(header::SET_COOKIE, HeaderValue::from_str(&clear).map_err(anyhow::Error::from)?);
    Ok(private_response(r))
}

/// Serve `app` on `addr` until `shutdown` resolves; returns the bound address
/// through `bound` first (port 0 picks a free one).
///
/// The accept loop is ours, the connections hyper's: HTTP/1 with hyper's timer
/// (the header-read timeout, [`HttpLimits::header_read`]), tower-http's
/// request-body timeout around the router, a cap on connections in all (a
/// semaphore taken before `accept`) and per address (counted here).
pub async fn serve(
    app: Arc<App>,
    addr: SocketAddr,
    bound: impl FnOnce(SocketAddr),
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tower::ServiceExt;

    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
    bound(listener.local_addr()?);
    let limits = app.limits.http.clone();
    let service = tower::ServiceBuilder::new()
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(limits.body_read))
        .service(router(app).map_request(|r: axum::http::Request<_>| r.map(axum::body::Body::new)));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.header_read).keep_alive(true);
    let connections = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    let per_address = Arc::new(Mutex::new(HashMap::<std::net::IpAddr, usize>::new()));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = connections.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of descriptors, or a connection reset before
                    // accept: wait a moment rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Some(slot) = AddressSlot::take(&per_address, peer.ip(), limits.max_connections_per_address) else {
            tracing::debug!(peer = %peer.ip(), "too many connections from this address; answered 503 and closed");
            // Bounded to 200 ms, so it holds no connection permit.
            drop(permit);
            tokio::spawn(refuse_connection(stream));
            continue;
        };
        let _ = stream.set_nodelay(true);
        let hyper_service = hyper_util::service::TowerToHyperService::new(service.clone());
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), hyper_service));
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop((permit, slot));
        });
    }
    drop(listener);
    // Requests in flight finish; idle connections close at once.
    if tokio::time::timeout(Duration::from_secs(10), graceful.shutdown()).await.is_err() {
        tracing::warn!("connections still open 10 s after shutdown; closing them");
    }
    Ok(())
}

/// A connection over its address's cap: a documented answer (503 with
/// `Retry-After`) instead of a bare reset, written without reading the
/// request, then closed; a second at most, whatever the client does.
async fn refuse_connection(stream: tokio::net::TcpStream) {
    const BODY: &str = r#"{"error":"too many connections from your address; retry later"}"#;
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{BODY}",
        BODY.len()
    );
    let bytes = answer.as_bytes();
    let answer = async {
        let mut written = 0;
        while written < bytes.len() {
            stream.writable().await?;
            match stream.try_write(&bytes[written..]) {
                Ok(n) => written += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(e),
            }
        }
        // Read what the client sent, so closing is a FIN its reader sees
        // after the answer, not a reset that discards it.
        let mut buf = [0u8; 4096];
        loop {
            stream.readable().await?;
            match stream.try_read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(e),
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_millis(200), answer).await;
}

/// One connection counted against its address; uncounted when dropped.
struct AddressSlot {
    counts: Arc<Mutex<HashMap<std::net::IpAddr, usize>>>,
    ip: std::net::IpAddr,
}

impl AddressSlot {
    fn take(counts: &Arc<Mutex<HashMap<std::net::IpAddr, usize>>>, ip: std::net::IpAddr, max: usize) -> Option<AddressSlot> {
        let mut map = counts.lock().unwrap();
        let n = map.entry(ip).or_insert(0);
        if *n >= max.max(1) {
            return None;
        }
        *n += 1;
        Some(AddressSlot { counts: counts.clone(), ip })
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut map = self.counts.lock().unwrap();
        if let Some(n) = map.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_reasons_keep_the_failure_kind_and_line_and_nothing_of_the_source() {
        let clang = "The program did not compile:\nmain.cpp:4:21: error: use of undeclared identifier 'SECRET'\n    4 | int main() { return SECRET; }";
        assert_eq!(public_reason(Some("compile-error"), clang, clang), "compile-error at line 4 (the details are shown to the author)");
        let traceback = "Traceback (most recent call last):\n  File \"/usr/local/lib/harness.py\", line 80, in run\n  File \"<candidate>\", line 3, in solve\n    raise ValueError(secret)\nValueError: SECRET";
        assert_eq!(public_reason(Some("exception"), "exception: ValueError: SECRET", traceback), "exception at line 3 (the details are shown to the author)");
        assert_eq!(public_reason(Some("timeout"), "timeout: still running after 3.0 s", ""), "timeout (the details are shown to the author)");
        assert_eq!(public_reason(None, "149 of 150 cases valid; its stderr ended with SECRET", ""), "the details are shown to the author");
    }

    #[test]
    fn only_same_origin_forms_pass() {
        let mut h = HeaderMap::new();
        assert!(same_origin(&h), "no Origin: not a browser's cross-site form");
        h.insert(header::HOST, HeaderValue::from_static("board.example:8080"));
        h.insert(header::ORIGIN, HeaderValue::from_static("http://board.example:8080"));
        assert!(same_origin(&h));
        h.insert(header::ORIGIN, HeaderValue::from_static("https://evil.example"));
        assert!(!same_origin(&h));
        h.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert!(!same_origin(&h));
        let mut h = HeaderMap::new();
        h.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        assert!(!same_origin(&h));
    }

    #[test]
    fn address_slots_cap_each_address_and_free_on_drop() {
        let counts = Arc::new(Mutex::new(HashMap::new()));
        let ip: std::net::IpAddr = "127.0.0.2".parse().unwrap();
        let slots: Vec<_> = (0..3).map(|_| AddressSlot::take(&counts, ip, 3).unwrap()).collect();
        assert!(AddressSlot::take(&counts, ip, 3).is_none());
        assert!(AddressSlot::take(&counts, "127.0.0.1".parse().unwrap(), 3).is_some());
        drop(slots);
        assert!(AddressSlot::take(&counts, ip, 3).is_some());
        assert!(counts.lock().unwrap().is_empty());
    }
}
