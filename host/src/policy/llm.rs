//! LLM policies: render each start state into a prompt, sample k completions
//! of it, and turn each into an action whose program is the last code block.
//!
//! Where the completions come from is a [`Sampler`]: an OpenAI-compatible
//! server ([`super::openai`]) or a model in this process ([`LocalSampler`]).
//! Both only sample here: `update` does not train (that is the LoRA trainer's
//! job), so a run with them is the frozen-policy baseline, search with reuse.

use anyhow::Result;
use serde_json::{json, Value};

use crate::engine::{Action, Completion, Rng, State};
use crate::problem::Spec;
use crate::prompt::{self, Message};

use super::Policy;

/// One prompt to complete `n` times.
#[derive(Clone, Debug)]
pub struct Chat {
    pub messages: Vec<Message>,
    pub n: usize,
    pub seed: u64,
}

/// One completion as a sampler returns it.
#[derive(Clone, Debug, Default)]
pub struct Sampled {
    pub text: String,
    pub finish: String,
    pub completion_tokens: u64,
    pub tokens: Vec<u32>,
    pub logprobs: Vec<f32>,
}

/// The completions of one chat, and what its prompt cost.
#[derive(Clone, Debug, Default)]
pub struct Answer {
    pub prompt_tokens: u64,
    pub samples: Vec<Sampled>,
}

/// Where completions come from.
pub trait Sampler: Send + Sync {
    /// `n` completions of each chat, in order. An error means the sampler
    /// could not answer (after its own retries).
    fn complete(&self, chats: &[Chat]) -> Result<Vec<Answer>>;

    /// Figures since the last call, for the step's event line.
    fn stats(&self) -> Value {
        Value::Null
    }
}

/// An LLM policy over a [`Sampler`].
pub struct LlmPolicy {
    name: &'static str,
    sampler: Box<dyn Sampler>,
    spec: Spec,
    contract: String,
    budget_seconds: f64,
}

impl LlmPolicy {
    pub fn new(name: &'static str, sampler: Box<dyn Sampler>, spec: &Spec, budget_seconds: f64) -> LlmPolicy {
        LlmPolicy { name, sampler, spec: spec.clone(), contract: crate::python::contract(spec), budget_seconds }
    }

    /// The prompt for rollouts from `start`.
    pub fn prompt(&self, start: &State) -> Vec<Message> {
        prompt::render(&self.spec, &self.contract, start, self.budget_seconds)
    }
}

/// Actions of one answer; its prompt tokens are counted once, on the first.
fn actions(answer: Answer) -> Vec<Action> {
    answer
        .samples
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            Action::Completion(Box::new(Completion {
                code: prompt::extract_code(&s.text, prompt::LANGUAGE),
                text: s.text,
                finish: s.finish,
                prompt_tokens: if i == 0 { answer.prompt_tokens } else { 0 },
                completion_tokens: s.completion_tokens,
                tokens: s.tokens,
                logprobs: s.logprobs,
            }))
        })
        .collect()
}

impl Policy for LlmPolicy {
    fn name(&self) -> &'static str {
        self.name
    }

    fn sample(&mut self, start: &State, k: usize, rng: &mut Rng) -> Vec<Action> {
        match self.sample_groups(std::slice::from_ref(start), k, std::slice::from_mut(rng)) {
            Ok(mut groups) => groups.pop().unwrap_or_default(),
            // This entry point cannot fail: the group's rollouts fail instead.
            Err(e) => (0..k)
                .map(|_| {
                    Action::Completion(Box::new(Completion {
                        text: String::new(),
                        code: None,
                        finish: format!("error: {e:#}"),
                        prompt_tokens: 0,
                        completion_tokens: 0,
                        tokens: Vec::new(),
                        logprobs: Vec::new(),
                    }))
                })
                .collect(),
        }
    }

    fn sample_groups(&mut self, starts: &[State], k: usize, rngs: &mut [Rng]) -> Result<Vec<Vec<Action>>> {
        let chats: Vec<Chat> = starts
            .iter()
            .zip(rngs.iter_mut())
            .map(|(s, rng)| Chat { messages: self.prompt(s), n: k, seed: rng.next_u64() })
            .collect();
        let answers = self.sampler.complete(&chats)?;
        Ok(answers.into_iter().map(actions).collect())
    }

    fn trains(&self) -> bool {
        false
    }

    fn sample_stats(&mut self) -> Value {
        self.sampler.stats()
    }

    fn update(&mut self, _batch: &[(&Action, f64)]) -> Value {
        json!({"trained": false})
    }

    fn checkpoint(&self) -> Value {
        Value::Null
    }

    fn restore(&mut self, _saved: &Value) -> Result<()> {
        Ok(())
    }
}

/// A model in this process (the `local` policy, sampling only).
pub struct LocalSampler {
    pub model: discover_llm::LocalModel,
    pub temperature: f64,
    pub top_p: f64,
    pub max_tokens: usize,
}

impl Sampler for LocalSampler {
    fn complete(&self, chats: &[Chat]) -> Result<Vec<Answer>> {
        let mut requests = Vec::new();
        let mut prompt_tokens = Vec::new();
        for chat in chats {
            let prompt = self.model.chat_tokens(&chat.messages)?;
            let room = self.model.model.config.max_position_embeddings.saturating_sub(prompt.len());
            anyhow::ensure!(room > 0, "the prompt has {} tokens, more than the model's context", prompt.len());
            prompt_tokens.push(prompt.len() as u64);
            for i in 0..chat.n {
                requests.push(discover_llm::Request {
                    prompt: prompt.clone(),
                    params: discover_llm::SamplingParams {
                        temperature: self.temperature,
                        top_p: self.top_p,
                        max_tokens: self.max_tokens.min(room),
                        stop: Vec::new(),
                        seed: chat.seed.wrapping_add(i as u64),
                    },
                });
            }
        }
        // All groups in one batch: rows that share a prompt are prefilled once.
        let mut out = self.model.generate(&requests)?.into_iter();
        Ok(chats
            .iter()
            .zip(prompt_tokens)
            .map(|(chat, prompt_tokens)| Answer {
                prompt_tokens,
                samples: out
                    .by_ref()
                    .take(chat.n)
                    .map(|g| Sampled {
                        completion_tokens: g.tokens.len() as u64,
                        finish: match g.finish {
                            discover_llm::Finish::Stop => "stop".into(),
                            discover_llm::Finish::Length => "length".into(),
                        },
                        text: g.text,
                        tokens: g.tokens,
                        logprobs: g.logprobs,
                    })
                    .collect(),
            })
            .collect())
    }
}
