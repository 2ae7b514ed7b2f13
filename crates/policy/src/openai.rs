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
use serde_json::{json, Value};

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
    agent: ureq::Agent,
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
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs_f64(settings.timeout_seconds)))
            .build();
        let agent = ureq::Agent::new_with_config(config);
        let key = std::env::var(&settings.api_key_env).ok().filter(|k| !k.is_empty());
        let mut sampler = OpenAiSampler { model: String::new(), settings, key, agent, stats: Stats::default() };
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
        let mut req = self.agent.get(&url);
        if let Some(k) = &self.key {
            req = req.header("Authorization", &format!("Bearer {k}"));
        }
        let mut res = req.call().with_context(|| format!("asking {url} for its models (is the server running?)"))?;
        let status = res.status().as_u16();
        let body = res.body_mut().read_to_string().unwrap_or_default();
        if status != 200 {
            bail!("{url} answered {status}: {}", error_message(&body));
        }
        let list: ModelList = serde_json::from_str(&body).with_context(|| format!("{url} did not answer a model list"))?;
        list.data.into_iter().next().map(|m| m.id).ok_or_else(|| anyhow!("{url} lists no models; name one with --model"))
    }

    /// Figures for the step's event line: requests and retries since the last call.
    pub fn take_stats(&self) -> Value {
        json!({
            "requests": self.stats.requests.swap(0, Ordering::Relaxed),
            "retries": self.stats.retries.swap(0, Ordering::Relaxed),
            "last_error": self.stats.last_error.lock().expect("not poisoned").take(),
        })
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
        let mut req = self.agent.post(&url).header("Content-Type", "application/json");
        if let Some(k) = &self.key {
            req = req.header("Authorization", &format!("Bearer {k}"));
        }
        let mut res = req
            .send(body)
            .map_err(|e| Attempt { retry: true, wait: None, message: format!("{url}: {e}") })?;
        let status = res.status().as_u16();
        span.record("status", status);
        let wait = res.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<f64>().ok());
        let text = res
            .body_mut()
            .with_config()
            .limit(256 << 20)
            .read_to_string()
            .map_err(|e| Attempt { retry: true, wait: None, message: format!("{url}: reading the reply: {e}") })?;
        if status != 200 {
            let retry = matches!(status, 408 | 409 | 429) || status >= 500;
            return Err(Attempt { retry, wait, message: format!("{url} answered {status}: {}", error_message(&text)) });
        }
        parse_answer(&text, n).map_err(|e| Attempt { retry: true, wait: None, message: format!("{url}: malformed reply: {e:#}") })
    }
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
        self.take_stats()
    }
}
