//! `tokenizer.json` (Hugging Face tokenizers) and the chat template of
//! `tokenizer_config.json` (or `chat_template.jinja`), rendered with minijinja
//! the way transformers' `apply_chat_template` renders it.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One chat message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub role: String,
    pub content: String,
}

impl Message {
    pub fn new(role: &str, content: impl Into<String>) -> Message {
        Message { role: role.into(), content: content.into() }
    }
}

pub struct Tokenizer {
    inner: tokenizers::Tokenizer,
    template: Option<String>,
    bos_token: Option<String>,
    eos_token: Option<String>,
    /// Tokens that end a completion.
    pub eos_ids: BTreeSet<u32>,
}

/// `"<s>"` or `{"content": "<s>", ...}` in tokenizer_config.json.
fn token_text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o.get("content").and_then(Value::as_str).map(str::to_string),
        _ => None,
    }
}

impl Tokenizer {
    /// `tokenizer.json` and, where present, `tokenizer_config.json`,
    /// `chat_template.jinja` and `generation_config.json` of `dir`; `eos_ids`
    /// are added to those the files name.
    pub fn load(dir: &Path, eos_ids: &[u32]) -> Result<Tokenizer> {
        let path = dir.join("tokenizer.json");
        if !path.exists() {
            bail!("{} is missing: a model directory needs tokenizer.json", path.display());
        }
        let inner = tokenizers::Tokenizer::from_file(&path).map_err(|e| anyhow!("reading {}: {e}", path.display()))?;
        let config: Value = match std::fs::read_to_string(dir.join("tokenizer_config.json")) {
            Ok(text) => serde_json::from_str(&text).context("tokenizer_config.json is not JSON")?,
            Err(_) => Value::Null,
        };
        let template = match std::fs::read_to_string(dir.join("chat_template.jinja")) {
            Ok(t) => Some(t),
            Err(_) => match config.get("chat_template") {
                Some(Value::String(s)) => Some(s.clone()),
                // A list of named templates: take "default".
                Some(Value::Array(list)) => list
                    .iter()
                    .find(|t| t.get("name").and_then(Value::as_str) == Some("default"))
                    .and_then(|t| t.get("template").and_then(Value::as_str))
                    .map(str::to_string),
                _ => None,
            },
        };
        let bos_token = token_text(config.get("bos_token"));
        let eos_token = token_text(config.get("eos_token"));
        let mut ids: BTreeSet<u32> = eos_ids.iter().copied().collect();
        if let Some(id) = eos_token.as_deref().and_then(|t| inner.token_to_id(t)) {
            ids.insert(id);
        }
        if let Ok(text) = std::fs::read_to_string(dir.join("generation_config.json")) {
            let g: Value = serde_json::from_str(&text).context("generation_config.json is not JSON")?;
            ids.extend(crate::config::token_ids(g.get("eos_token_id")));
        }
        if ids.is_empty() {
            bail!("{}: no end-of-sequence token is named (eos_token_id in config.json or generation_config.json, or eos_token in tokenizer_config.json)", dir.display());
        }
        Ok(Tokenizer { inner, template, bos_token, eos_token, eos_ids: ids })
    }

    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// Token ids of `text`; special tokens written in the text (`<|im_start|>`)
    /// become their ids, and nothing is added (the chat template adds BOS).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        Ok(self.inner.encode(text, false).map_err(|e| anyhow!("tokenizing: {e}"))?.get_ids().to_vec())
    }

    /// Text of `ids`, special tokens left out.
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        self.inner.decode(ids, true).map_err(|e| anyhow!("detokenizing: {e}"))
    }

    /// The text of one token as the vocabulary spells it once decoded (for
    /// the `token` field of OpenAI log-probs).
    pub fn token_text(&self, id: u32) -> String {
        self.inner.decode(&[id], false).unwrap_or_default()
    }

    /// The prompt for `messages`, ending where the assistant's answer begins.
    pub fn chat_prompt(&self, messages: &[Message]) -> Result<String> {
        let Some(template) = &self.template else {
            bail!("the model has no chat template (tokenizer_config.json `chat_template` or chat_template.jinja)");
        };
        render_chat(template, messages, self.bos_token.as_deref(), self.eos_token.as_deref())
    }
}

/// Render a Hugging Face chat template: the variables and helpers that
/// transformers provides (`messages`, `add_generation_prompt`, `bos_token`,
/// `eos_token`, `raise_exception`, `strftime_now`) and Python string methods.
pub fn render_chat(template: &str, messages: &[Message], bos: Option<&str>, eos: Option<&str>) -> Result<String> {
    let mut env = minijinja::Environment::new();
    minijinja_contrib::add_to_environment(&mut env);
    env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
    // transformers renders with trim_blocks and lstrip_blocks on.
    env.set_syntax(minijinja::syntax::SyntaxConfig::builder().trim_blocks(true).lstrip_blocks(true).build()?);
    env.add_function("raise_exception", |msg: String| -> Result<String, minijinja::Error> {
        Err(minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, msg))
    });
    env.add_function("strftime_now", |format: String| -> String {
        // Templates ask for today's date; a fixed one keeps prompts reproducible.
        format.replace("%d", "01").replace("%b", "Jan").replace("%B", "January").replace("%Y", "2026").replace("%m", "01")
    });
    env.add_template("chat", template).context("the chat template does not parse")?;
    let ctx = minijinja::context! {
        messages => messages.iter().map(|m| minijinja::Value::from_pairs([("role", m.role.as_str()), ("content", m.content.as_str())])).collect::<Vec<_>>(),
        add_generation_prompt => true,
        bos_token => bos.unwrap_or(""),
        eos_token => eos.unwrap_or(""),
        tools => minijinja::Value::UNDEFINED,
    };
    env.get_template("chat")?.render(ctx).context("rendering the chat template")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_a_qwen_style_template() {
        // Qwen2.5's template, shortened: namespace, loop.first, string methods.
        let t = "{%- if messages[0]['role'] == 'system' %}{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}\
            {%- else %}{{- '<|im_start|>system\\nYou are Qwen.<|im_end|>\\n' }}{%- endif %}\
            {%- for message in messages %}{%- if message.role != 'system' %}\
            {{- '<|im_start|>' + message.role + '\\n' + message.content.strip() + '<|im_end|>' + '\\n' }}{%- endif %}{%- endfor %}\
            {%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}";
        let out = render_chat(t, &[Message::new("user", " hi ")], None, None).unwrap();
        assert_eq!(out, "<|im_start|>system\nYou are Qwen.<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");
    }

    #[test]
    fn renders_a_llama_style_template() {
        let t = "{{- bos_token }}{%- for message in messages %}{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}{%- endfor %}\
            {%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}";
        let out = render_chat(t, &[Message::new("system", "s"), Message::new("user", "u")], Some("<|begin_of_text|>"), None).unwrap();
        assert!(out.starts_with("<|begin_of_text|><|start_header_id|>system"), "{out}");
        assert!(out.ends_with("assistant<|end_header_id|>\n\n"), "{out}");
    }

    #[test]
    fn raise_exception_is_an_error() {
        let e = render_chat("{{ raise_exception('no system role') }}", &[], None, None).unwrap_err();
        assert!(format!("{e:#}").contains("no system role"), "{e:#}");
    }
}
