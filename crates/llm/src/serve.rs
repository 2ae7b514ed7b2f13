//! An OpenAI-compatible HTTP API over a [`LocalModel`]: `GET /v1/models` and
//! `POST /v1/chat/completions` (n, temperature, top_p, max_tokens, logprobs,
//! stop, seed), and `GET /stats` (requests, batches and rows sampled so far).
//! Requests that arrive while the model is busy are batched
//! together into the next forward passes (up to `max_batch_rows` completions).
//!
//! One thread owns the model; HTTP handlers hand it jobs over a channel and
//! await the answer, so the server stays responsive while it samples.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Result;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use tokio::sync::oneshot;

use crate::api::{
    AssistantMessage, ChatRequest, ChatResponse, Choice, ChoiceLogprobs, Content, ErrorDetail, ErrorReply, ModelInfo,
    ModelList, Stop, TokenLogprob, Usage,
};
use crate::generate::{Generation, Request, SamplingParams};
use crate::tokenizer::Message;
use crate::LocalModel;

/// Limits of the server.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// Completions sampled together at most (requests are never split).
    pub max_batch_rows: usize,
    /// `max_tokens` when a request gives none.
    pub default_max_tokens: usize,
    /// The largest `n` a request may ask for.
    pub max_n: usize,
}

impl Default for ServeOptions {
    fn default() -> ServeOptions {
        ServeOptions { max_batch_rows: 64, default_max_tokens: 1024, max_n: 128 }
    }
}

/// Work for the model thread: the rows of one HTTP request.
struct Job {
    rows: Vec<Request>,
    reply: oneshot::Sender<Result<Vec<Generation>, String>>,
}

struct Shared {
    name: String,
    context: usize,
    options: ServeOptions,
    jobs: mpsc::Sender<Job>,
    /// For prompts and log-prob token texts (the model thread has its own use of the model).
    model: Arc<LocalModel>,
    counter: AtomicU64,
    stats: Arc<Stats>,
}

/// Counters for `GET /stats`: how requests were batched.
#[derive(Debug, Default)]
struct Stats {
    requests: AtomicU64,
    batches: AtomicU64,
    rows: AtomicU64,
}

/// Start the model thread and return the router. The thread ends when the
/// router (and every clone of it) is dropped.
pub fn router(model: LocalModel, options: ServeOptions) -> Router {
    let model = Arc::new(model);
    let (tx, rx) = mpsc::channel::<Job>();
    let worker = model.clone();
    let max_rows = options.max_batch_rows.max(1);
    let stats = Arc::new(Stats::default());
    let counters = stats.clone();
    std::thread::Builder::new()
        .name("model".into())
        .spawn(move || batch_loop(&worker, rx, max_rows, &counters))
        .expect("spawning the model thread");
    let shared = Arc::new(Shared {
        name: model.name.clone(),
        context: model.model.config.max_position_embeddings,
        options,
        jobs: tx,
        model,
        counter: AtomicU64::new(0),
        stats,
    });
    Router::new()
        .route("/v1/models", get(models))
        .route("/v1/chat/completions", post(chat_completions))
        .route("/health", get(|| async { "ok" }))
        .route("/stats", get(batching))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "no such endpoint: this server offers GET /v1/models and POST /v1/chat/completions") })
        .with_state(shared)
}

/// Serve until ctrl-c.
pub async fn serve(listener: tokio::net::TcpListener, app: Router) -> Result<()> {
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

/// Take a job, add whatever else is waiting (up to `max_rows` rows), sample
/// them all in one batch, answer each.
fn batch_loop(model: &LocalModel, jobs: mpsc::Receiver<Job>, max_rows: usize, stats: &Stats) {
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        let mut rows = batch[0].rows.len();
        while rows < max_rows {
            match jobs.try_recv() {
                Ok(job) => {
                    rows += job.rows.len();
                    batch.push(job);
                }
                Err(_) => break,
            }
        }
        let all: Vec<Request> = batch.iter().flat_map(|j| j.rows.iter().cloned()).collect();
        stats.requests.fetch_add(batch.len() as u64, Ordering::Relaxed);
        stats.batches.fetch_add(1, Ordering::Relaxed);
        stats.rows.fetch_add(all.len() as u64, Ordering::Relaxed);
        match model.generate(&all) {
            Ok(mut out) => {
                for job in batch {
                    let rest = out.split_off(job.rows.len());
                    let _ = job.reply.send(Ok(std::mem::replace(&mut out, rest)));
                }
            }
            Err(e) => {
                for job in batch {
                    let _ = job.reply.send(Err(format!("{e:#}")));
                }
            }
        }
    }
}

fn error(status: StatusCode, message: &str) -> Response {
    let kind = if status.is_client_error() { "invalid_request_error" } else { "server_error" };
    let reply = ErrorReply { error: ErrorDetail { message: message.into(), kind: Some(kind.into()), param: None, code: None } };
    (status, Json(reply)).into_response()
}

async fn batching(State(s): State<Arc<Shared>>) -> Json<Value> {
    let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
    Json(json!({"requests": get(&s.stats.requests), "batches": get(&s.stats.batches), "rows": get(&s.stats.rows)}))
}

async fn models(State(s): State<Arc<Shared>>) -> Json<ModelList> {
    Json(ModelList {
        object: "list".into(),
        data: vec![ModelInfo { id: s.name.clone(), object: "model".into(), created: 0, owned_by: "discover".into() }],
    })
}

async fn chat_completions(State(s): State<Arc<Shared>>, body: Bytes) -> Response {
    let span = tracing::debug_span!("http_request", method = "POST", path = "/v1/chat/completions", status = tracing::field::Empty);
    let req: ChatRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            span.record("status", 400);
            return error(StatusCode::BAD_REQUEST, &format!("the request body is not a chat completion request: {e}"));
        }
    };
    let result = tracing::Instrument::instrument(answer(&s, req), span.clone()).await;
    match result {
        Ok(v) => {
            span.record("status", 200);
            Json(v).into_response()
        }
        Err((status, message)) => {
            span.record("status", status.as_u16());
            error(status, &message)
        }
    }
}

async fn answer(s: &Shared, req: ChatRequest) -> Result<ChatResponse, (StatusCode, String)> {
    let bad = |m: String| (StatusCode::BAD_REQUEST, m);
    if req.stream == Some(true) {
        return Err(bad("stream: true is not supported by this server; ask without streaming".into()));
    }
    if req.top_logprobs.unwrap_or(0) > 0 {
        return Err(bad("top_logprobs is not supported by this server (logprobs: true gives each sampled token's log-prob)".into()));
    }
    if let Some(m) = &req.model {
        if m != &s.name {
            return Err((StatusCode::NOT_FOUND, format!("model {m:?} is not served here; this server has {:?}", s.name)));
        }
    }
    let n = req.n.unwrap_or(1);
    if n == 0 || n > s.options.max_n {
        return Err(bad(format!("n must be in 1..={}, got {n}", s.options.max_n)));
    }
    let stop = req.stop.map(Stop::into_vec).unwrap_or_default();
    if stop.len() > 4 || stop.iter().any(String::is_empty) {
        return Err(bad("stop takes at most 4 non-empty strings".into()));
    }
    let messages: Vec<Message> = req
        .messages
        .into_iter()
        .map(|m| Message { content: m.content.as_ref().map(Content::text).unwrap_or_default(), role: m.role })
        .collect();
    if messages.is_empty() {
        return Err(bad("messages must not be empty".into()));
    }
    let prompt = s.model.chat_tokens(&messages).map_err(|e| bad(format!("{e:#}")))?;
    let room = s.context.saturating_sub(prompt.len());
    if room == 0 {
        return Err(bad(format!("the prompt has {} tokens; the model's context is {}", prompt.len(), s.context)));
    }
    let max_tokens = req.max_completion_tokens.or(req.max_tokens).unwrap_or(s.options.default_max_tokens).min(room);
    let id = s.counter.fetch_add(1, Ordering::Relaxed);
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    // Without a seed, each request still gets distinct streams.
    let base_seed = req.seed.unwrap_or_else(|| now.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ id.wrapping_mul(0xD1B5_4A32_D192_ED03));
    let params = SamplingParams {
        temperature: req.temperature.unwrap_or(1.0),
        top_p: req.top_p.unwrap_or(1.0),
        max_tokens,
        stop,
        seed: 0,
    };
    params.check().map_err(|e| bad(format!("{e:#}")))?;
    let rows: Vec<Request> = (0..n as u64)
        .map(|i| Request { prompt: prompt.clone(), params: SamplingParams { seed: base_seed.wrapping_add(i), ..params.clone() } })
        .collect();
    let (tx, rx) = oneshot::channel();
    s.jobs
        .send(Job { rows, reply: tx })
        .map_err(|_| (StatusCode::SERVICE_UNAVAILABLE, "the model thread has stopped".to_string()))?;
    let generations = rx
        .await
        .map_err(|_| (StatusCode::INTERNAL_SERVER_ERROR, "the model thread dropped the request".to_string()))?
        .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e))?;
    let want_logprobs = req.logprobs == Some(true);
    let completion_tokens: usize = generations.iter().map(|g| g.tokens.len()).sum();
    let choices: Vec<Choice> = generations
        .iter()
        .enumerate()
        .map(|(i, g)| {
            let logprobs = want_logprobs.then(|| {
                let content = g
                    .tokens
                    .iter()
                    .zip(&g.logprobs)
                    .map(|(&t, &lp)| {
                        let text = s.model.tokenizer.token_text(t);
                        TokenLogprob { bytes: Some(text.as_bytes().to_vec()), token: text, logprob: lp, top_logprobs: Vec::new() }
                    })
                    .collect();
                ChoiceLogprobs { content: Some(content) }
            });
            Choice {
                index: i,
                message: AssistantMessage { role: "assistant".into(), content: Some(g.text.clone()) },
                finish_reason: Some(g.finish.as_str().into()),
                logprobs,
                token_ids: Some(g.tokens.clone()),
            }
        })
        .collect();
    Ok(ChatResponse {
        id: format!("chatcmpl-{id:016x}"),
        object: "chat.completion".into(),
        created: now,
        model: s.name.clone(),
        choices,
        usage: Some(Usage {
            prompt_tokens: prompt.len() as u64,
            completion_tokens: completion_tokens as u64,
            total_tokens: (prompt.len() + completion_tokens) as u64,
        }),
    })
}
