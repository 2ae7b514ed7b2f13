//! LLM policies: render each start state into a prompt, sample k completions
//! of it, and turn each into an action whose program is the last code block.
//!
//! Where the completions come from is a [`Sampler`]: an OpenAI-compatible
//! server ([`super::openai`]) or a model in this process ([`LocalSampler`]).
//! What learns from them is an optional [`Trainer`]: [`LocalTrainer`] trains
//! LoRA adapters on the very model the local sampler samples from (test-time
//! training); without one the policy is the frozen baseline, search with reuse.
//!
//! `Sampler` + `Trainer` is also the seam for users who outgrow one machine: a
//! hosted or multi-GPU trainer (one that samples from and trains a served
//! model, returning token ids and sampler log-probs) implements the same two
//! traits, and the engine does not change.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use serde_json::{json, Value};

use discover_contract::Spec;
use discover_engine::{Action, Policy, Program, Rng, RolloutId, State, Tokens};

use crate::prompt::{self, Language, Message};

/// What an LLM policy's update reports (the step event's `policy`): whether it
/// trained, and the trainer's own figures beside that flag (for the local
/// trainer, `discover_llm::StepStats`: loss, KL to the sampler and to the base
/// model, gradient norm, tokens, ...).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LlmUpdate {
    pub trained: bool,
    #[serde(flatten)]
    pub trainer: Value,
}

/// What training needs of one sampled completion, kept by the policy (keyed by
/// its rollout) and handed to the [`Trainer`] with its advantage.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Completion {
    /// The prompt's token ids (shared by the group).
    pub prompt_ids: Vec<u32>,
    /// The completion's token ids and the sampler's log-prob of each, where the
    /// sampler has them (a local model; `serve-model` returns them too).
    pub tokens: Vec<u32>,
    pub logprobs: Vec<f32>,
}

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
    /// The prompt's token ids, where the sampler has them (training needs them).
    pub prompt_ids: Vec<u32>,
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

/// What learns from the completions: one optimiser step per engine step.
pub trait Trainer: Send {
    /// One step on (completion, advantage) pairs; figures for the step event.
    fn update(&mut self, batch: &[(&Completion, f64)]) -> Result<Value>;

    /// Small state for the run's JSON checkpoint (counters).
    fn state(&self) -> Value {
        Value::Null
    }

    /// Write the trainable weights and optimiser state into the empty `dir`.
    fn save(&self, dir: &Path) -> Result<()>;

    /// Load what [`Trainer::save`] wrote.
    fn restore(&mut self, dir: &Path) -> Result<()>;
}

/// Renders a start state into the chat for its rollouts.
pub type PromptFn = Box<dyn Fn(&State) -> Vec<Message> + Send>;

/// An LLM policy over a [`Sampler`], trained by a [`Trainer`] if it has one.
pub struct LlmPolicy {
    name: &'static str,
    sampler: Box<dyn Sampler>,
    trainer: Option<Box<dyn Trainer>>,
    spec: Spec,
    language: Language,
    /// The current step's completions, for the trainer.
    completions: HashMap<RolloutId, Completion>,
    budget_seconds: f64,
    /// Replaces [`prompt::render`] (toy problems, prompt ablations).
    custom_prompt: Option<PromptFn>,
}

impl LlmPolicy {
    pub fn new(
        name: &'static str,
        sampler: Box<dyn Sampler>,
        spec: &Spec,
        language: Language,
        budget_seconds: f64,
    ) -> LlmPolicy {
        LlmPolicy {
            name,
            sampler,
            trainer: None,
            spec: spec.clone(),
            language,
            completions: HashMap::new(),
            budget_seconds,
            custom_prompt: None,
        }
    }

    /// Prompt with `render` instead of the problem's statement and contract.
    pub fn with_prompt(mut self, render: PromptFn) -> LlmPolicy {
        self.custom_prompt = Some(render);
        self
    }

    /// Train with `trainer` (test-time training); without it the policy samples only.
    pub fn with_trainer(mut self, trainer: Box<dyn Trainer>) -> LlmPolicy {
        self.trainer = Some(trainer);
        self
    }

    /// The prompt for rollouts from `start`.
    pub fn prompt(&self, start: &State) -> Vec<Message> {
        if let Some(render) = &self.custom_prompt {
            return render(start);
        }
        prompt::render(&self.spec, &self.language, start, self.budget_seconds)
    }
}

/// Actions of one answer; its prompt tokens are counted once, on the first.
impl LlmPolicy {
    /// The actions of one answer (group `group` of `step`), keeping what the
    /// trainer needs of each completion.
    fn programs(&mut self, step: u32, group: usize, answer: Answer) -> Vec<Action> {
        let language = &self.language.name;
        answer
            .samples
            .into_iter()
            .enumerate()
            .map(|(i, s)| {
                self.completions.insert(
                    RolloutId::new(step, group, i),
                    Completion { prompt_ids: answer.prompt_ids.clone(), tokens: s.tokens, logprobs: s.logprobs },
                );
                Action::Program(Box::new(Program {
                    language: language.clone(),
                    code: prompt::extract_code(&s.text, language),
                    text: s.text,
                    finish: s.finish,
                    // The group's prompt is counted once, on its first rollout.
                    tokens: Some(Tokens {
                        prompt: if i == 0 { answer.prompt_tokens } else { 0 },
                        completion: s.completion_tokens,
                    }),
                }))
            })
            .collect()
    }
}

impl Policy for LlmPolicy {
    fn name(&self) -> &'static str {
        self.name
    }

    fn sample(&mut self, step: u32, group: usize, start: &State, k: usize, rng: &mut Rng) -> Result<Vec<Action>> {
        let chat = Chat { messages: self.prompt(start), n: k, seed: rng.next_u64() };
        let answer = self.sampler.complete(std::slice::from_ref(&chat))?.pop().context("the sampler returned no answer")?;
        self.completions.retain(|id, _| id.step == step);
        Ok(self.programs(step, group, answer))
    }

    fn sample_groups(&mut self, step: u32, starts: &[State], k: usize, rngs: &mut [Rng]) -> Result<Vec<Vec<Action>>> {
        let chats: Vec<Chat> = starts
            .iter()
            .zip(rngs.iter_mut())
            .map(|(s, rng)| Chat { messages: self.prompt(s), n: k, seed: rng.next_u64() })
            .collect();
        let answers = self.sampler.complete(&chats)?;
        anyhow::ensure!(answers.len() == chats.len(), "the sampler answered {} of {} prompts", answers.len(), chats.len());
        self.completions.clear();
        Ok(answers.into_iter().enumerate().map(|(g, a)| self.programs(step, g, a)).collect())
    }

    fn trains(&self) -> bool {
        self.trainer.is_some()
    }

    fn sample_stats(&mut self) -> Value {
        self.sampler.stats()
    }

    fn update(&mut self, batch: &[(RolloutId, f64)]) -> Result<Value> {
        let Some(trainer) = &mut self.trainer else {
            return Ok(serde_json::to_value(LlmUpdate { trained: false, trainer: Value::Null })?);
        };
        let completions: Vec<(&Completion, f64)> =
            batch.iter().filter_map(|(id, adv)| self.completions.get(id).map(|c| (c, *adv))).collect();
        let stats = trainer.update(&completions)?;
        Ok(serde_json::to_value(LlmUpdate { trained: true, trainer: stats })?)
    }

    fn checkpoint(&self) -> Value {
        self.trainer.as_ref().map_or(Value::Null, |t| t.state())
    }

    fn restore(&mut self, _saved: &Value) -> Result<()> {
        Ok(())
    }

    fn save_files(&self, dir: &Path) -> Result<bool> {
        match &self.trainer {
            Some(t) => t.save(dir).map(|()| true),
            None => Ok(false),
        }
    }

    fn restore_files(&mut self, dir: &Path) -> Result<()> {
        match &mut self.trainer {
            Some(t) => t.restore(dir),
            // A frozen policy resuming a trained run's directory: nothing to load.
            None => Ok(()),
        }
    }
}

/// A model in this process (the `local` policy); shared with its
/// [`LocalTrainer`], whose updates it samples from at once.
pub struct LocalSampler {
    pub model: Arc<discover_llm::LocalModel>,
    pub temperature: f64,
    pub top_p: f64,
    pub max_tokens: usize,
}

impl Sampler for LocalSampler {
    fn complete(&self, chats: &[Chat]) -> Result<Vec<Answer>> {
        let mut requests = Vec::new();
        let mut prompt_ids = Vec::new();
        for chat in chats {
            let prompt = self.model.chat_tokens(&chat.messages)?;
            let room = self.model.model.config.max_position_embeddings.saturating_sub(prompt.len());
            anyhow::ensure!(room > 0, "the prompt has {} tokens, more than the model's context", prompt.len());
            prompt_ids.push(prompt.clone());
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
            .zip(prompt_ids)
            .map(|(chat, prompt_ids)| Answer {
                prompt_tokens: prompt_ids.len() as u64,
                prompt_ids,
                samples: out
                    .by_ref()
                    .take(chat.n)
                    .map(|g| Sampled {
                        completion_tokens: g.tokens.len() as u64,
                        finish: g.finish.as_str().into(),
                        text: g.text,
                        tokens: g.tokens,
                        logprobs: g.logprobs,
                    })
                    .collect(),
            })
            .collect())
    }
}

/// Test-time training of LoRA adapters on the local model (`docs/algorithm.md`,
/// "Policy loss"): the importance-sampling policy gradient with the engine's
/// advantages, one Adam step per engine step.
pub struct LocalTrainer {
    model: Arc<discover_llm::LocalModel>,
    trainer: discover_llm::Trainer,
}

impl LocalTrainer {
    /// A trainer for `model`, which must already carry its adapters.
    pub fn new(model: Arc<discover_llm::LocalModel>, config: discover_llm::TrainConfig) -> Result<LocalTrainer> {
        let trainer = discover_llm::Trainer::new(&model.model, config)?;
        Ok(LocalTrainer { model, trainer })
    }
}

impl Trainer for LocalTrainer {
    fn update(&mut self, batch: &[(&Completion, f64)]) -> Result<Value> {
        // Completions without tokens (a sampling error) carry nothing to learn from.
        let sequences: Vec<discover_llm::Sequence> = batch
            .iter()
            .filter(|(c, _)| !c.tokens.is_empty() && !c.prompt_ids.is_empty())
            .map(|(c, advantage)| discover_llm::Sequence {
                prompt: &c.prompt_ids,
                completion: &c.tokens,
                sampler_logprobs: &c.logprobs,
                advantage: *advantage,
            })
            .collect();
        if sequences.is_empty() {
            return Ok(json!({"skipped": "no completion tokens"}));
        }
        let stats = self.trainer.step(&self.model.model, &sequences).context("the LoRA training step")?;
        Ok(serde_json::to_value(stats)?)
    }

    fn state(&self) -> Value {
        json!({"optimizer_steps": self.trainer.adam.steps})
    }

    fn save(&self, dir: &Path) -> Result<()> {
        self.trainer.save(&self.model.model, dir, &self.model.dir.display().to_string())
    }

    fn restore(&mut self, dir: &Path) -> Result<()> {
        // Into the shared network's adapters, which the run's config shaped.
        self.trainer.restore(&self.model.model, dir)
    }
}
