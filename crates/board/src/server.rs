//! The HTTP server: the submission API with its abuse limits, the JSON API
//! and the HTML pages, every response with strict security headers.
//!
//! A submission is committed to the database before `202 Accepted` is sent;
//! scoring happens later, in a worker (this process's or another machine's).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use tracing::Instrument;

use discover_rollout::judge::{Accepts, Submission};

use crate::db::{Db, Inserted, ProblemRow, User};
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
}

impl Default for Limits {
    fn default() -> Self {
        Limits { body_bytes: 256 << 10, per_minute: 30, user_queue: 20, queue: 1000 }
    }
}

/// What every handler sees.
pub struct App {
    pub db: Db,
    pub scorer: Arc<dyn Scorer>,
    pub limits: Limits,
    buckets: Mutex<HashMap<i64, Bucket>>,
    /// Whether a problem's verifier draws pictures, by (problem, verifier
    /// hash), learnt from the first solution drawn: pages link a picture
    /// without rendering it (the browser's request for the SVG renders it).
    draws: Mutex<HashMap<(String, String), bool>>,
}

impl App {
    pub fn new(db: Db, scorer: Arc<dyn Scorer>, limits: Limits) -> App {
        App { db, scorer, limits, buckets: Mutex::new(HashMap::new()), draws: Mutex::new(HashMap::new()) }
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

fn cookie(headers: &HeaderMap) -> Option<String> {
    let raw = headers.get(header::COOKIE)?.to_str().ok()?;
    raw.split(';').find_map(|c| c.trim().strip_prefix("board_token=").map(str::to_string))
}

/// The user of a bearer token or the sign-in cookie, if any.
async fn viewer(app: &App, headers: &HeaderMap) -> anyhow::Result<Option<User>> {
    let token = bearer(headers).map(str::to_string).or_else(|| cookie(headers));
    match token {
        Some(t) if !t.is_empty() => app.db.user_by_token(&t).await,
        _ => Ok(None),
    }
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
    // A retry of a stored submission is answered before the queue limits:
    // it adds nothing to the queue.
    let retry = match &key {
        Some(k) => app.db.by_key(user.id, k).await?.is_some(),
        None => false,
    };
    if !retry {
        let (queued, mine) = app.db.queue_counts(user.id).await?;
        if mine >= app.limits.user_queue {
            return Err(ApiError {
                retry_after: Some(30),
                ..err(
                    StatusCode::TOO_MANY_REQUESTS,
                    format!("you have {mine} submissions waiting to be scored (the limit is {}); wait for them", app.limits.user_queue),
                )
            });
        }
        if queued >= app.limits.queue {
            return Err(ApiError {
                retry_after: Some(60),
                ..err(StatusCode::SERVICE_UNAVAILABLE, format!("the board's queue is full ({queued} submissions); retry later"))
            });
        }
    }
    let (status, id) = match app.db.insert_submission(&user, &problem.id, &submission, key.as_deref()).await? {
        Inserted::New(id) => (StatusCode::ACCEPTED, id),
        Inserted::Existing(id) => (StatusCode::ACCEPTED, id),
        Inserted::Conflict(id) => {
            return Err(err(
                StatusCode::CONFLICT,
                format!("this Idempotency-Key was used for submission {id} with another body"),
            ))
        }
    };
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

async fn api_problems(State(app): State<Arc<App>>) -> Result<Json<Value>, ApiError> {
    let mut out = Vec::new();
    for p in app.db.problems().await? {
        let board = app.db.leaderboard(&p).await?;
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

async fn api_problem(State(app): State<Arc<App>>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let Some(p) = app.db.problem(&id).await? else { return Err(err(StatusCode::NOT_FOUND, format!("no problem {id:?} on this board"))) };
    let board = app.db.leaderboard(&p).await?;
    let mut v = problem_json(&p, board.first());
    v["statement"] = p.statement.clone().into();
    v["leaderboard"] = serde_json::to_value(&board).map_err(anyhow::Error::from)?;
    Ok(Json(v))
}

/// A submission's source, for its author, or for everyone where the problem says so.
fn visible_source(s: &crate::db::SubmissionRow, problem: Option<&ProblemRow>, viewer: Option<&User>) -> Option<String> {
    let allowed = viewer.is_some_and(|v| v.id == s.user_id) || problem.is_some_and(|p| p.show_source);
    if !allowed {
        return None;
    }
    match serde_json::from_str::<Submission>(&s.body).ok()? {
        Submission::Program { source, .. } => Some(source),
        Submission::Solution { .. } => None,
    }
}

async fn api_submission(State(app): State<Arc<App>>, Path(id): Path<i64>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    let Some(s) = app.db.submission(id).await? else { return Err(err(StatusCode::NOT_FOUND, format!("no submission {id}"))) };
    let viewer = viewer(&app, &headers).await?;
    let problem = app.db.problem(&s.problem_id).await?;
    let source = visible_source(&s, problem.as_ref(), viewer.as_ref());
    let audit = app.db.audit_of(id).await?;
    Ok(Json(json!({
        "id": s.id, "problem": s.problem_id, "user": {"id": s.user_id, "name": s.user_name},
        "kind": s.kind, "language": s.language, "state": s.state, "score": s.score,
        "reason": s.reason, "failure": s.failure, "output": s.output,
        "metrics": s.metrics.as_deref().and_then(|m| serde_json::from_str::<Value>(m).ok()),
        "solution": if s.kind == "solution" { serde_json::from_str::<Value>(&s.body).ok().map(|b| b["values"].clone()) } else { None },
        "verifier_hash": s.verifier_hash, "current_verifier": problem.as_ref().is_some_and(|p| s.verifier_hash.as_deref() == Some(p.verifier_hash.as_str())),
        "attempts": s.attempts, "created_ms": s.created_ms, "scored_ms": s.scored_ms,
        "source": source, "audit": audit,
    })))
}

async fn api_user(State(app): State<Arc<App>>, Path(id): Path<i64>) -> Result<Json<Value>, ApiError> {
    let Some(u) = app.db.user(id).await? else { return Err(err(StatusCode::NOT_FOUND, format!("no user {id}"))) };
    let subs = app.db.user_submissions(id, 200).await?;
    let list: Vec<Value> = subs
        .iter()
        .map(|s| json!({"id": s.id, "problem": s.problem_id, "state": s.state, "score": s.score, "created_ms": s.created_ms}))
        .collect();
    Ok(Json(json!({ "id": u.id, "name": u.name, "submissions": list })))
}

// ---- pages ----

async fn index(State(app): State<Arc<App>>, headers: HeaderMap) -> Result<Html<String>, PageError> {
    let viewer = viewer(&app, &headers).await?;
    let mut list = Vec::new();
    for p in app.db.problems().await? {
        let scored = app.db.scored(&p).await?;
        let leader = crate::db::standings(&p, &scored).into_iter().next();
        list.push((p, leader, scored.len() as i64));
    }
    Ok(Html(pages::problems(&list, viewer.as_ref())))
}

async fn problem_page(State(app): State<Arc<App>>, Path(id): Path<String>, headers: HeaderMap) -> Result<Html<String>, PageError> {
    let viewer = viewer(&app, &headers).await?;
    let Some(p) = app.db.problem(&id).await? else { return Err(PageError(StatusCode::NOT_FOUND, format!("No problem {id} on this board."))) };
    let board = app.db.leaderboard(&p).await?;
    let picture = match board.first() {
        Some(best) => draws_picture(&app, &p, best.submission_id).await?,
        None => false,
    };
    Ok(Html(pages::problem(&p, &board, picture, !board.is_empty(), viewer.as_ref())))
}

/// The picture of a submission's solution, where the problem draws one.
async fn best_picture(app: &Arc<App>, p: &ProblemRow, submission: i64) -> anyhow::Result<Option<String>> {
    let Some(s) = app.db.submission(submission).await? else { return Ok(None) };
    let Some(values) = s.solution.as_deref().and_then(|v| serde_json::from_str::<Vec<f64>>(v).ok()) else { return Ok(None) };
    let (scorer, id) = (app.scorer.clone(), p.id.clone());
    let picture = tokio::task::spawn_blocking(move || scorer.picture(&id, &values)).await??;
    app.draws.lock().unwrap().insert((p.id.clone(), p.verifier_hash.clone()), picture.is_some());
    Ok(picture)
}

/// Whether a page should show the picture of this submission: known from an
/// earlier drawing of this verifier, else found out by drawing it once.
async fn draws_picture(app: &Arc<App>, p: &ProblemRow, submission: i64) -> anyhow::Result<bool> {
    let known = app.draws.lock().unwrap().get(&(p.id.clone(), p.verifier_hash.clone())).copied();
    match known {
        Some(draws) => Ok(draws),
        None => Ok(best_picture(app, p, submission).await?.is_some()),
    }
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
    let board = app.db.leaderboard(&p).await?;
    let Some(best) = board.first() else { return Err(PageError(StatusCode::NOT_FOUND, "No valid submission yet.".into())) };
    match best_picture(&app, &p, best.submission_id).await? {
        Some(picture) => Ok(svg(picture)),
        None => Err(PageError(StatusCode::NOT_FOUND, format!("{id} draws no pictures."))),
    }
}

async fn history_svg(State(app): State<Arc<App>>, Path(id): Path<String>) -> Result<Response, PageError> {
    let Some(p) = app.db.problem(&id).await? else { return Err(PageError(StatusCode::NOT_FOUND, format!("No problem {id}."))) };
    let scored = app.db.scored(&p).await?;
    let Some(first) = scored.first() else { return Err(PageError(StatusCode::NOT_FOUND, "No valid submission yet.".into())) };
    let t0 = first.scored_ms.unwrap_or(first.updated_ms);
    let mut best: Option<f64> = None;
    let mut points = Vec::new();
    for s in &scored {
        let Some(v) = s.score else { continue };
        if best.is_none_or(|b| p.better(v, b)) {
            best = Some(v);
            points.push(((s.scored_ms.unwrap_or(s.updated_ms) - t0) as f64 / 3_600_000.0, v));
        }
    }
    let mut series = vec![("best on the board", points)];
    if let Some(known) = p.best_known {
        let end = series[0].1.last().map_or(1.0, |l| l.0.max(1e-3));
        series.push(("best known", vec![(0.0, known), (end, known)]));
    }
    Ok(svg(discover_report::line_chart(&format!("{}: best score over time", p.id), "hours since the first valid submission", &series)))
}

async fn submission_page(State(app): State<Arc<App>>, Path(id): Path<i64>, headers: HeaderMap) -> Result<Html<String>, PageError> {
    let viewer = viewer(&app, &headers).await?;
    let Some(s) = app.db.submission(id).await? else { return Err(PageError(StatusCode::NOT_FOUND, format!("No submission {id}."))) };
    let problem = app.db.problem(&s.problem_id).await?;
    let source = visible_source(&s, problem.as_ref(), viewer.as_ref());
    let audit = app.db.audit_of(id).await?;
    let picture = match &problem {
        // A scored solution draws like any other of its verifier; an invalid
        // one may not draw at all, so it is tried.
        Some(p) if s.solution.is_some() && s.score.is_some() => draws_picture(&app, p, s.id).await?,
        Some(p) if s.solution.is_some() => best_picture(&app, p, s.id).await?.is_some(),
        _ => false,
    };
    Ok(Html(pages::submission(&s, &audit, source.as_deref(), picture, viewer.as_ref())))
}

async fn submission_svg(State(app): State<Arc<App>>, Path(id): Path<i64>) -> Result<Response, PageError> {
    let Some(s) = app.db.submission(id).await? else { return Err(PageError(StatusCode::NOT_FOUND, format!("No submission {id}."))) };
    let Some(p) = app.db.problem(&s.problem_id).await? else { return Err(PageError(StatusCode::NOT_FOUND, "No such problem.".into())) };
    match best_picture(&app, &p, id).await? {
        Some(picture) => Ok(svg(picture)),
        None => Err(PageError(StatusCode::NOT_FOUND, "No picture for this submission.".into())),
    }
}

async fn user_page(State(app): State<Arc<App>>, Path(id): Path<i64>, headers: HeaderMap) -> Result<Html<String>, PageError> {
    let viewer = viewer(&app, &headers).await?;
    let Some(u) = app.db.user(id).await? else { return Err(PageError(StatusCode::NOT_FOUND, format!("No user {id}."))) };
    let subs = app.db.user_submissions(id, 200).await?;
    Ok(Html(pages::user(&u, &subs, viewer.as_ref())))
}

async fn login_page() -> Html<String> {
    Html(pages::login(None))
}

#[derive(Deserialize)]
struct LoginForm {
    token: String,
}

async fn login(State(app): State<Arc<App>>, Form(form): Form<LoginForm>) -> Result<Response, PageError> {
    let token = form.token.trim();
    match app.db.user_by_token(token).await? {
        Some(u) => {
            let mut r = Redirect::to(&format!("/users/{}", u.id)).into_response();
            let cookie = format!("board_token={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age=2592000");
            r.headers_mut().insert(header::SET_COOKIE, HeaderValue::from_str(&cookie).map_err(anyhow::Error::from)?);
            Ok(r)
        }
        None => Ok((StatusCode::UNAUTHORIZED, Html(pages::login(Some("That token is unknown.")))).into_response()),
    }
}

async fn logout() -> Response {
    let mut r = Redirect::to("/").into_response();
    r.headers_mut().insert(header::SET_COOKIE, HeaderValue::from_static("board_token=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"));
    r
}

/// Serve `app` on `addr` until `shutdown` resolves; returns the bound address
/// through `bound` first (port 0 picks a free one).
pub async fn serve(
    app: Arc<App>,
    addr: SocketAddr,
    bound: impl FnOnce(SocketAddr),
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
    bound(listener.local_addr()?);
    axum::serve(listener, router(app)).with_graceful_shutdown(shutdown).await?;
    Ok(())
}
