//! A [`Sampler`] over any OpenAI-compatible chat completions server (vLLM,
//! SGLang, llama.cpp, `discover serve-model`, hosted APIs).
//!
//! Requests run concurrently up to a limit. Rate limits (429), server errors
//! (5xx), time-outs, dropped connections and malformed replies are retried with
//! exponential backoff (a `Retry-After` header wins); other client errors (a
//! bad key, an unknown model) fail at once with the server's message. A request
//! that still fails after its retries fails the step, which stops the run with
//! its last checkpoint intact: `discover resume` goes on from there.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use discover_llm::api::{ChatMessage, ChatRequest, ChatResponse, Content, ErrorReply, ModelList};

use super::llm::{Answer, Chat, Sampled, Sampler};
use discover_engine::Rng;

/// How to reach and use the server. Stored in the run's config.toml (the key
/// itself never is: only the name of the variable holding it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OpenAiSettings {
    /// Up to and including `/v1`, e.g. `http://127.0.0.1:8000/v1`.
    pub base_url: String,
    /// The model id; `None`: the first model the server lists.
    pub model: Option<String>,
    /// The environment variable holding the API key (none sent if unset).
    pub api_key_env: String,
    pub temperature: f64,
    pub top_p: f64,
    pub max_tokens: u32,
    /// Completions asked for per request (`n`); 0: a group's k in one request.
    pub n_per_request: usize,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Retries of one request before the step fails.
    pub retries: u32,
    /// Per request, from connecting to the last byte.
    pub timeout_seconds: f64,
    /// The first retry waits this long; each next one twice as long (at most 60 s).
    pub backoff_seconds: f64,
}

impl Default for OpenAiSettings {
    fn default() -> OpenAiSettings {
        OpenAiSettings {
            base_url: "http://127.0.0.1:8000/v1".into(),
            model: None,
            api_key_env: "OPENAI_API_KEY".into(),
            temperature: 1.0,
            top_p: 1.0,
            max_tokens: 4096,
            n_per_request: 0,
            concurrency: 8,
            retries: 5,
            timeout_seconds: 600.0,
            backoff_seconds: 1.0,
        }
    }
}

/// What sampling from a server cost since the last step (the step event's
/// `sampling`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SamplingStats {
    pub requests: u64,
    pub retries: u64,
    /// The last error a request met, retried or not.
    pub last_error: Option<String>,
}

/// Counts since the last [`OpenAiSampler::take_stats`].
#[derive(Debug, Default)]
struct Stats {
    requests: AtomicU64,
    retries: AtomicU64,
    last_error: Mutex<Option<String>>,
}

pub struct OpenAiSampler {
    settings: OpenAiSettings,
    model: String,
    key: Option<String>,
    client: reqwest::blocking::Client,
    stats: Stats,
}

/// What went wrong with one attempt, and whether trying again can help.
struct Attempt {
    retry: bool,
    /// Seconds the server asked us to wait (Retry-After).
    wait: Option<f64>,
    message: String,
}

impl OpenAiSampler {
    /// Connect: check the settings, read the key, and find the model (asking
    /// the server when none is named, which also checks that it answers).
    pub fn new(settings: OpenAiSettings) -> Result<OpenAiSampler> {
        if !(settings.base_url.starts_with("http://") || settings.base_url.starts_with("https://")) {
            bail!("--base-url must start with http:// or https://, got {:?}", settings.base_url);
        }
        if settings.concurrency == 0 {
            bail!("--concurrency must be at least 1");
        }
        if !(settings.timeout_seconds.is_finite() && settings.timeout_seconds > 0.0) {
            bail!("--request-timeout must be a positive number of seconds");
        }
        if !(settings.backoff_seconds.is_finite() && settings.backoff_seconds >= 0.0) {
            bail!("--retry-backoff must be a number of seconds >= 0");
        }
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs_f64(settings.timeout_seconds))
            .build()
            .context("starting the HTTP client")?;
        let key = std::env::var(&settings.api_key_env).ok().filter(|k| !k.is_empty());
        let mut sampler = OpenAiSampler { model: String::new(), settings, key, client, stats: Stats::default() };
        sampler.model = match sampler.settings.model.clone() {
            Some(m) => m,
            None => sampler.first_model()?,
        };
        Ok(sampler)
    }

    pub fn model(&self) -> &str {
        &self.model
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.settings.base_url.trim_end_matches('/'))
    }

    fn first_model(&self) -> Result<String> {
        let url = self.url("models");
        let mut req = self.client.get(&url);
        if let Some(k) = &self.key {
            req = req.bearer_auth(k);
        }
        let res = req.send().with_context(|| format!("asking {url} for its models (is the server running?)"))?;
        let status = res.status().as_u16();
        let body = res.text().unwrap_or_default();
        if status != 200 {
            bail!("{url} answered {status}: {}", error_message(&body));
        }
        let list: ModelList = serde_json::from_str(&body).with_context(|| format!("{url} did not answer a model list"))?;
        list.data.into_iter().next().map(|m| m.id).ok_or_else(|| anyhow!("{url} lists no models; name one with --model"))
    }

    /// Figures for the step's event line: requests and retries since the last call.
    pub fn take_stats(&self) -> SamplingStats {
        SamplingStats {
            requests: self.stats.requests.swap(0, Ordering::Relaxed),
            retries: self.stats.retries.swap(0, Ordering::Relaxed),
            last_error: self.stats.last_error.lock().expect("not poisoned").take(),
        }
    }

    /// One request with its retries.
    fn request(&self, chat: &Chat, n: usize, seed: u64) -> Result<Answer> {
        let body = ChatRequest {
            model: Some(self.model.clone()),
            messages: chat
                .messages
                .iter()
                .map(|m| ChatMessage { role: m.role.clone(), content: Some(Content::Text(m.content.clone())) })
                .collect(),
            n: Some(n),
            temperature: Some(self.settings.temperature),
            max_tokens: Some(self.settings.max_tokens as usize),
            seed: Some(seed),
            top_p: (self.settings.top_p < 1.0).then_some(self.settings.top_p),
            ..ChatRequest::default()
        };
        let body = serde_json::to_vec(&body).context("serialising the request")?;
        let mut jitter = Rng::new(seed);
        let mut attempt = 0;
        loop {
            self.stats.requests.fetch_add(1, Ordering::Relaxed);
            let failure = match self.attempt(&body, n) {
                Ok(answer) => return Ok(answer),
                Err(f) => f,
            };
            *self.stats.last_error.lock().expect("not poisoned") = Some(failure.message.clone());
            if !failure.retry {
                bail!("{}", failure.message);
            }
            if attempt >= self.settings.retries {
                bail!("{} (gave up after {} tries)", failure.message, attempt + 1);
            }
            self.stats.retries.fetch_add(1, Ordering::Relaxed);
            let backoff = self.settings.backoff_seconds * 2f64.powi(attempt as i32) * (0.75 + 0.5 * jitter.next_f64());
            let wait = failure.wait.unwrap_or(backoff).min(60.0);
            std::thread::sleep(Duration::from_secs_f64(wait));
            attempt += 1;
        }
    }

    fn attempt(&self, body: &[u8], n: usize) -> Result<Answer, Attempt> {
        let url = self.url("chat/completions");
        let span = tracing::debug_span!("http_request", method = "POST", %url, n, status = tracing::field::Empty);
        let _entered = span.enter();
        let mut req = self.client.post(&url).header("Content-Type", "application/json").body(body.to_vec());
        if let Some(k) = &self.key {
            req = req.bearer_auth(k);
        }
        let res = req.send().map_err(|e| Attempt { retry: true, wait: None, message: format!("{url}: {}", chain(&e)) })?;
        let status = res.status().as_u16();
        span.record("status", status);
        let wait = res.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<f64>().ok());
        // A reply larger than any real answer is a broken server, not memory to spend.
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::Read::take(res, MAX_REPLY_BYTES), &mut text)
            .map_err(|e| Attempt { retry: true, wait: None, message: format!("{url}: reading the reply: {e}") })?;
        if status != 200 {
            let retry = matches!(status, 408 | 409 | 429) || status >= 500;
            return Err(Attempt { retry, wait, message: format!("{url} answered {status}: {}", error_message(&text)) });
        }
        parse_answer(&text, n).map_err(|e| Attempt { retry: true, wait: None, message: format!("{url}: malformed reply: {e:#}") })
    }
}

/// The most bytes of a reply read.
const MAX_REPLY_BYTES: u64 = 256 << 20;

/// An error and its causes on one line (reqwest's own message names only the
/// outermost: "error sending request").
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}

/// The `error.message` of an OpenAI error body, else the start of the body.
fn error_message(body: &str) -> String {
    serde_json::from_str::<ErrorReply>(body).map_or_else(|_| body.chars().take(300).collect(), |e| e.error.message)
}

/// A chat completion reply with `n` choices.
fn parse_answer(text: &str, n: usize) -> Result<Answer> {
    let reply: ChatResponse = serde_json::from_str(text).context("not a chat completion")?;
    if reply.choices.len() != n {
        bail!("{} choices for n = {n} (a server that ignores n needs --n-per-request 1)", reply.choices.len());
    }
    let usage = reply.usage.unwrap_or_default();
    let samples = reply
        .choices
        .into_iter()
        .map(|c| {
            let logprobs: Vec<f32> =
                c.logprobs.and_then(|l| l.content).unwrap_or_default().iter().map(|t| t.logprob).collect();
            let tokens = c.token_ids.unwrap_or_default();
            let completion_tokens = if !tokens.is_empty() {
                tokens.len() as u64
            } else if !logprobs.is_empty() {
                logprobs.len() as u64
            } else {
                usage.completion_tokens / n as u64
            };
            Sampled {
                text: c.message.content.unwrap_or_default(),
                finish: c.finish_reason.unwrap_or_else(|| "unknown".into()),
                completion_tokens,
                tokens,
                logprobs,
            }
        })
        .collect();
    Ok(Answer { prompt_tokens: usage.prompt_tokens, prompt_ids: Vec::new(), samples })
}

impl Sampler for OpenAiSampler {
    fn complete(&self, chats: &[Chat]) -> Result<Vec<Answer>> {
        // Split each chat into requests of at most n_per_request completions.
        let mut requests: Vec<(usize, usize, u64)> = Vec::new(); // (chat, n, seed)
        for (c, chat) in chats.iter().enumerate() {
            let per = if self.settings.n_per_request == 0 { chat.n } else { self.settings.n_per_request };
            let mut left = chat.n;
            let mut part = 0u64;
            while left > 0 {
                let n = left.min(per.max(1));
                requests.push((c, n, chat.seed.wrapping_add(part.wrapping_mul(0x9E37_79B9))));
                left -= n;
                part += 1;
            }
        }
        let results = discover_engine::parallel::map_ordered(&requests, self.settings.concurrency, |_, &(c, n, seed)| {
            self.request(&chats[c], n, seed)
        });
        let mut answers: Vec<Answer> = chats.iter().map(|_| Answer::default()).collect();
        for ((c, _, _), result) in requests.iter().zip(results) {
            let part = result?;
            answers[*c].prompt_tokens += part.prompt_tokens;
            answers[*c].samples.extend(part.samples);
        }
        Ok(answers)
    }

    fn stats(&self) -> Value {
        serde_json::to_value(self.take_stats()).expect("stats serialise")
    }
}
